//! The gossip overlay: which peers get a gossiped object pushed, which only hear of it, and how a
//! node that misses one gets it — a plain state machine ([`Overlay`]), no runtime, no sockets,
//! time passed in. Design (docs/PROTOCOL.md, "Gossip overlay", chosen by the measurements of
//! [`sim`]): Plumtree-style push trees, one per publisher (the GOSSIP header `origin`), over the
//! peers that advertise the overlay, with lazy IHAVE to the other overlay peers. A duplicate
//! pushed by a peer other than the tree's parent gets that peer a PRUNE; an object announced but
//! not pushed in time is asked for (IWANT, with a GRAFT that repairs the tree, to the first
//! announcer; IWANT to the next ones); an announcement that beats the parent's push moves the
//! tree to its sender (GRAFT). Flood peers (2019 clients) get every object pushed and never a
//! control message. A switch ([`OverlayConfig::flood`]) makes the node a plain flood node.
//!
//! Inputs: [`Overlay::add_peer`], [`Overlay::remove_peer`], [`Overlay::on_object`] (a copy
//! arrived), [`Overlay::on_validated`] / [`Overlay::on_rejected`] (what validation said of a new
//! one), [`Overlay::publish`] (an object from this node), [`Overlay::on_control`] (PRUNE, GRAFT,
//! IHAVE, IWANT from a peer) and [`Overlay::on_tick`] (batches and timers; call it every ~100 ms).
//! Outputs: [`Action`]s — send an object to peers, send a control message to a peer, penalise a
//! peer. Uses only `hobbits_codec` types and the peer id and object handle it is given (generic
//! `P` and `O`), so it depends on no other actors module.
//!
//! - [`types`]: configuration, peer kinds, actions, penalties, counters;
//! - `tables`: the bounded state (objects seen, missing objects, per-peer state);
//! - `trees`: the push trees, one per origin;
//! - [`sim`]: the deterministic discrete-event simulation that measured the design.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::time::Instant;

use hobbits_codec::gossip_control::MAX_CONTROL_HASHES;
use hobbits_codec::{ControlMessage, ControlVerb, MessageHash, Origin};

pub mod sim;
mod tables;
mod trees;
pub mod types;

use tables::{
    Announced, Entry, MessageWindow, Missing, MissingEntry, ObjectState, PeerState, Route, TreeKey,
};
use trees::Trees;
pub use types::{
    Action, Arrival, ObjectMeta, OverlayConfig, OverlayError, OverlayPenalty, OverlayStats,
    PeerKind,
};

/// Hashes a peer's pending PRUNE, GRAFT or IWANT may hold before more are dropped.
const MAX_PENDING_CONTROL: usize = 4 * MAX_CONTROL_HASHES;

/// The overlay router of one node. `P` is the peer id, `O` the object handle it hands back in
/// [`Action::SendObject`] (the GOSSIP frame, in the node).
#[derive(Debug)]
pub struct Overlay<P, O> {
    config: OverlayConfig,
    peers: BTreeMap<P, PeerState>,
    messages: MessageWindow<P, O>,
    trees: Trees<P>,
    missing: Missing<P>,
    stats: OverlayStats,
}

/// The index of `verb` in the per-verb counters (method id order: PRUNE, GRAFT, IHAVE, IWANT).
fn verb_index(verb: ControlVerb) -> usize {
    usize::from(verb.method_id()).saturating_sub(1)
}

/// The length of `message`'s frame as the codec writes it (prefix, header, body); 0 for one it
/// would refuse to write.
pub fn control_frame_len(message: &ControlMessage) -> u64 {
    message.to_frame().map_or(0, |f| f.encoded_len() as u64)
}

impl<P: Copy + Ord + Debug, O: Clone> Overlay<P, O> {
    /// A router with no peer (the configuration is validated).
    pub fn new(config: OverlayConfig) -> Result<Self, OverlayError> {
        config.validate()?;
        Ok(Overlay {
            messages: MessageWindow::new(config.message_capacity, config.message_ttl),
            trees: Trees::new(config.max_trees),
            missing: Missing::new(config.max_missing, config.max_announcers),
            peers: BTreeMap::new(),
            stats: OverlayStats::default(),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OverlayConfig {
        &self.config
    }

    /// The counters (gauges filled in).
    pub fn stats(&self) -> OverlayStats {
        OverlayStats {
            messages: self.messages.len() as u64,
            trees: self.trees.len() as u64,
            missing: self.missing.len() as u64,
            ..self.stats
        }
    }

    /// What is known of `peer` now (`Unknown` peers become `Overlay` by sending control).
    pub fn peer_kind(&self, peer: P) -> Option<PeerKind> {
        self.peers.get(&peer).map(|p| p.kind)
    }

    /// The peers an object from `origin` would be pushed to now (flood peers included).
    pub fn eager_peers(&self, origin: Option<Origin>) -> Vec<P> {
        let route = self.route(origin);
        self.peers
            .iter()
            .filter(|(p, s)| match route {
                Route::Flood => true,
                Route::Tree(key) => !s.is_overlay() || !self.trees.is_lazy(key, **p),
            })
            .map(|(p, _)| *p)
            .collect()
    }

    fn route(&self, origin: Option<Origin>) -> Route {
        if self.config.flood || (origin.is_none() && self.config.flood_without_origin) {
            return Route::Flood;
        }
        Route::Tree(origin.filter(|_| self.config.tree_per_origin))
    }

    /// Starts using `route`'s tree, if it has one (created pushing to everyone); true when an
    /// object stamped `timestamp_ms` is the newest on it.
    fn touch(&mut self, route: Route, timestamp_ms: u64) -> bool {
        match route {
            Route::Tree(key) => {
                self.trees.touch(key);
                self.trees.is_current(key, timestamp_ms)
            }
            Route::Flood => true,
        }
    }

    /// A peer connected (after its HELLO). It starts eager on every tree.
    pub fn add_peer(&mut self, peer: P, kind: PeerKind) {
        self.trees.forget(peer);
        self.peers.insert(peer, PeerState::new(kind));
    }

    /// A peer left: it is forgotten everywhere (asks outstanding to it time out as usual,
    /// without a penalty).
    pub fn remove_peer(&mut self, peer: P) {
        self.peers.remove(&peer);
        self.trees.forget(peer);
        self.missing.remove_announcer(peer);
    }

    /// A copy of an object (a GOSSIP message with a body, read as `meta`) arrived from `from`.
    /// `New`: validate it, then call [`Overlay::on_validated`] or [`Overlay::on_rejected`].
    /// `Duplicate`: drop it; when an overlay peer other than this tree's parent pushed it, that
    /// peer is asked to stop (PRUNE at the next tick).
    pub fn on_object(&mut self, now: Instant, from: P, meta: ObjectMeta) -> Arrival {
        let id = meta.id;
        let overlay_sender = self.peers.get(&from).is_some_and(PeerState::is_overlay);
        if let Some(entry) = self.messages.get_mut(&id) {
            self.stats.duplicates += 1;
            entry.sources.insert(from);
            let answer = entry.asked.contains(&from);
            let pruned = match entry.route {
                Route::Tree(key) if overlay_sender && !answer && entry.current => {
                    self.trees.prune(key, from)
                }
                _ => false,
            };
            if pruned {
                if let Some(p) = self.peers.get_mut(&from) {
                    if p.prune.len() < MAX_PENDING_CONTROL {
                        p.prune.push(id);
                    } else {
                        self.stats.dropped_at_bound += 1;
                    }
                }
            }
            return Arrival::Duplicate;
        }
        self.stats.received += 1;
        let route = self.route(meta.origin);
        let current = self.touch(route, meta.timestamp_ms);
        let mut entry = Entry::new(route, current, ObjectState::Pending);
        entry.sources.insert(from);
        let mut faster = None;
        let mut grafted = Vec::new();
        if let Some(m) = self.resolve_missing(&id) {
            grafted.clone_from(&m.grafted);
            entry.asked.extend(m.asked_before.iter().chain(&m.asked));
            // Its announcers hold it: neither pushed to nor announced to.
            entry
                .sources
                .extend(m.announcers.iter().chain(&m.asked_before).chain(&m.asked));
            // Announced before it was pushed here, by a margin: the announcer has a shorter
            // path from the origin.
            let early = now.saturating_duration_since(m.first_seen) >= self.config.graft_margin;
            faster = m
                .announcers
                .front()
                .copied()
                .filter(|_| m.asks == 0 && early);
        }
        let answer = entry.asked.contains(&from);
        self.stats.repaired += u64::from(answer);
        if let Route::Tree(key) = route {
            // The GRAFTs of the repair undid our PRUNEs: their next duplicates prune again.
            for p in grafted {
                self.trees.grafted(key, p);
            }
            if answer {
                self.trees.grafted(key, from);
            } else if overlay_sender && current {
                self.trees.set_parent(key, from);
                if let Some(q) = faster.filter(|q| *q != from) {
                    self.move_tree(key, q, id);
                }
            }
        }
        self.messages.insert(id, entry, now);
        Arrival::New
    }

    /// Stops tracking `id` as missing (it arrived), releasing the ask outstanding to the peer
    /// asked last.
    fn resolve_missing(&mut self, id: &MessageHash) -> Option<MissingEntry<P>> {
        let m = self.missing.resolve(id)?;
        if let Some(p) = m.asked.and_then(|a| self.peers.get_mut(&a)) {
            p.outstanding = p.outstanding.saturating_sub(1);
        }
        Some(m)
    }

    /// Asks `peer` (GRAFT at the next tick) to push `key`'s tree to this node: it announced
    /// `id` sooner than the parent pushed it. Its next push then wins, makes it the parent, and
    /// the old parent's duplicate is pruned.
    fn move_tree(&mut self, key: TreeKey, peer: P, id: MessageHash) {
        let Some(p) = self.peers.get_mut(&peer).filter(|p| p.is_overlay()) else {
            return;
        };
        if p.graft.len() < MAX_PENDING_CONTROL {
            p.graft.push(id);
            self.trees.grafted(key, peer);
            self.stats.moved += 1;
        }
    }

    /// Validation accepted a new object: push it on its tree (and to every flood peer), and queue
    /// IHAVE for the lazy overlay peers. Nothing for an object not pending.
    pub fn on_validated(&mut self, id: MessageHash, object: O) -> Vec<Action<P, O>> {
        let Some(entry) = self.messages.get_mut(&id) else {
            return Vec::new();
        };
        if !matches!(entry.state, ObjectState::Pending) {
            return Vec::new();
        }
        entry.state = ObjectState::Valid(object.clone());
        let (route, current, sources) = (entry.route, entry.current, entry.sources.clone());
        self.fan_out(id, object, route, current, &sources)
    }

    /// Validation (or import) refused a new object: it is neither pushed, announced nor served;
    /// later copies are duplicates.
    pub fn on_rejected(&mut self, id: MessageHash) {
        if let Some(entry) = self.messages.get_mut(&id) {
            entry.state = ObjectState::Rejected;
        }
    }

    /// This node injects an object: one it published (`origin` = its own node id) or one it
    /// obtained outside gossip. Pushed to every eager peer, announced to the lazy ones.
    pub fn publish(&mut self, now: Instant, meta: ObjectMeta, object: O) -> Vec<Action<P, O>> {
        let id = meta.id;
        if self.messages.contains(&id) {
            return self.on_validated(id, object);
        }
        self.stats.published += 1;
        let route = self.route(meta.origin);
        let current = self.touch(route, meta.timestamp_ms);
        self.resolve_missing(&id);
        let entry = Entry::new(route, current, ObjectState::Valid(object.clone()));
        self.messages.insert(id, entry, now);
        self.fan_out(id, object, route, current, &BTreeSet::new())
    }

    fn fan_out(
        &mut self,
        id: MessageHash,
        object: O,
        route: Route,
        current: bool,
        sources: &BTreeSet<P>,
    ) -> Vec<Action<P, O>> {
        let mut to = Vec::new();
        let mut lazy_peers = Vec::new();
        for (peer, state) in &self.peers {
            if sources.contains(peer) {
                continue;
            }
            let lazy = match route {
                Route::Flood => false,
                Route::Tree(key) => state.is_overlay() && self.trees.is_lazy(key, *peer),
            };
            if lazy {
                lazy_peers.push(*peer);
            } else {
                to.push(*peer);
            }
        }
        // At most `max_ihave_peers` of them, from an offset the object's hash picks.
        let cap = self.config.max_ihave_peers;
        if lazy_peers.len() > cap {
            let mut head = [0u8; 8];
            head.copy_from_slice(&id.0[..8]);
            let offset = (u64::from_le_bytes(head) % lazy_peers.len() as u64) as usize;
            lazy_peers.rotate_left(offset);
            lazy_peers.truncate(cap);
        }
        for peer in lazy_peers {
            let Some(state) = self.peers.get_mut(&peer) else {
                continue;
            };
            if state.ihave.len() >= self.config.max_pending_ihave {
                state.ihave.pop_front();
                self.stats.dropped_at_bound += 1;
            }
            state.ihave.push_back(id);
        }
        if let (Route::Tree(key), true) = (route, current) {
            self.trees.set_children(key, &to);
        }
        self.stats.pushed += to.len() as u64;
        if to.is_empty() {
            return Vec::new();
        }
        vec![Action::SendObject { to, id, object }]
    }

    /// A control message from `from`. Ignored from a flood peer or in flood mode; an `Unknown`
    /// peer becomes an overlay peer. Over `max_control_frames` in a window, the frame is dropped
    /// and (once per window) the peer penalised.
    pub fn on_control(
        &mut self,
        now: Instant,
        from: P,
        message: ControlMessage,
    ) -> Vec<Action<P, O>> {
        let config = &self.config;
        let Some(peer) = self.peers.get_mut(&from) else {
            return Vec::new();
        };
        if config.flood || peer.kind == PeerKind::Flood {
            self.stats.control_ignored += 1;
            return Vec::new();
        }
        peer.kind = PeerKind::Overlay;
        peer.window.roll(now, config.control_window);
        peer.window.frames = peer.window.frames.saturating_add(1);
        if peer.window.frames > config.max_control_frames {
            self.stats.control_ignored += 1;
            if peer.window.frames == config.max_control_frames + 1 {
                self.stats.penalties += 1;
                return vec![Action::Penalize {
                    peer: from,
                    reason: OverlayPenalty::ControlFlood {
                        frames: peer.window.frames,
                        window: config.control_window,
                    },
                }];
            }
            return Vec::new();
        }
        self.stats.control_received += 1;
        self.stats.control_received_by_verb[verb_index(message.verb)] += 1;
        self.stats.control_bytes_received[verb_index(message.verb)] += control_frame_len(&message);
        let mut actions = Vec::new();
        let ControlMessage { verb, hashes } = message;
        match verb {
            ControlVerb::Prune | ControlVerb::Graft if hashes.is_empty() => self
                .trees
                .set_lazy_everywhere(from, verb == ControlVerb::Prune),
            ControlVerb::Prune | ControlVerb::Graft => {
                let lazy = verb == ControlVerb::Prune;
                for id in &hashes {
                    if let Some(Route::Tree(key)) = self.messages.get(id).map(|e| e.route) {
                        self.trees.set_lazy(key, from, lazy);
                    }
                }
            }
            ControlVerb::IWant => {
                for id in &hashes {
                    self.serve(from, *id, &mut actions);
                }
            }
            ControlVerb::IHave => self.on_ihave(now, from, &hashes),
        }
        actions
    }

    fn on_ihave(&mut self, now: Instant, from: P, hashes: &[MessageHash]) {
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        let budget = self
            .config
            .max_ihave_hashes
            .saturating_sub(peer.window.ihave_hashes) as usize;
        let taken = hashes.len().min(budget);
        peer.window.ihave_hashes += taken as u32;
        self.stats.dropped_at_bound += (hashes.len() - taken) as u64;
        let deadline = now + self.config.graft_timeout;
        for id in &hashes[..taken] {
            if let Some(entry) = self.messages.get_mut(id) {
                // It holds it: our IHAVE to it, if still pending, would be wasted.
                entry.sources.insert(from);
                continue;
            }
            if self.missing.announce(*id, from, now, deadline) == Announced::Full {
                self.stats.dropped_at_bound += 1;
            }
        }
    }

    /// Sends `id` to `to` if we hold it valid and `to` has asks left.
    fn serve(&mut self, to: P, id: MessageHash, actions: &mut Vec<Action<P, O>>) {
        let (Some(peer), Some(entry)) = (self.peers.get_mut(&to), self.messages.get_mut(&id))
        else {
            return;
        };
        let ObjectState::Valid(object) = &entry.state else {
            return;
        };
        let asks = entry.asks.entry(to).or_insert(0);
        *asks = asks.saturating_add(1);
        if *asks > self.config.max_asks_per_object || peer.window.served >= self.config.max_served {
            self.stats.serve_refused += 1;
            return;
        }
        peer.window.served += 1;
        self.stats.served += 1;
        actions.push(Action::SendObject {
            to: vec![to],
            id,
            object: object.clone(),
        });
    }

    /// Periodic work (every ~100 ms): forget old objects, ask for missing objects whose timer is
    /// up (GRAFT and IWANT to the first announcer, then IWANT to the next; a peer that announced
    /// an object and did not send it when asked is penalised), and send the pending PRUNE, GRAFT,
    /// IWANT and IHAVE batches, one frame per verb and peer (more past 256 hashes).
    pub fn on_tick(&mut self, now: Instant) -> Vec<Action<P, O>> {
        self.messages.expire(now);
        let mut actions = Vec::new();
        for id in self.missing.due(now) {
            self.ask_next(now, id, &mut actions);
        }
        for (peer, state) in &mut self.peers {
            if !state.is_overlay() {
                continue;
            }
            let messages = &self.messages;
            // Asks and announcements of objects that meanwhile arrived, or that the peer sent
            // us, are moot.
            let prune = std::mem::take(&mut state.prune);
            let graft = std::mem::take(&mut state.graft);
            let iwant: Vec<_> = std::mem::take(&mut state.iwant)
                .into_iter()
                .filter(|id| !messages.contains(id))
                .collect();
            let ihave: Vec<_> = std::mem::take(&mut state.ihave)
                .into_iter()
                .filter(|id| messages.get(id).is_some_and(|e| !e.sources.contains(peer)))
                .collect();
            for (verb, hashes) in [
                (ControlVerb::Prune, prune),
                (ControlVerb::Graft, graft),
                (ControlVerb::IWant, iwant),
                (ControlVerb::IHave, ihave),
            ] {
                for chunk in hashes.chunks(MAX_CONTROL_HASHES) {
                    let message = ControlMessage {
                        verb,
                        hashes: chunk.to_vec(),
                    };
                    self.stats.control_sent[verb_index(verb)] += 1;
                    self.stats.hashes_sent[verb_index(verb)] += chunk.len() as u64;
                    self.stats.control_bytes_sent[verb_index(verb)] += control_frame_len(&message);
                    actions.push(Action::SendControl { to: *peer, message });
                }
            }
        }
        actions
    }

    /// The timer of missing object `id` is up: penalise the peer asked last (if still here), then
    /// ask the next announcer, or give up.
    fn ask_next(&mut self, now: Instant, id: MessageHash, actions: &mut Vec<Action<P, O>>) {
        let Some(m) = self.missing.get_mut(&id) else {
            return;
        };
        if let Some(asked) = m.asked.take() {
            m.asked_before.push(asked);
            if let Some(p) = self.peers.get_mut(&asked) {
                p.outstanding = p.outstanding.saturating_sub(1);
                self.stats.penalties += 1;
                actions.push(Action::Penalize {
                    peer: asked,
                    reason: OverlayPenalty::BrokenPromise { id },
                });
            }
        }
        let max = self.config.max_outstanding_per_peer;
        while let Some(a) = m.announcers.pop_front() {
            let Some(p) = self.peers.get_mut(&a) else {
                continue;
            };
            if p.outstanding >= max {
                self.stats.dropped_at_bound += 1;
                continue;
            }
            p.outstanding += 1;
            p.iwant.push(id);
            // The first ask also grafts: the tree is broken upstream. Every announcer known is
            // grafted, so that the next object comes pushed by each and the fastest path wins
            // (one announcer would be the first to announce, not the closest to the origin).
            if m.asks == 0 {
                for g in std::iter::once(a).chain(m.announcers.iter().copied()) {
                    if let Some(q) = self.peers.get_mut(&g).filter(|q| q.is_overlay()) {
                        if q.graft.len() < MAX_PENDING_CONTROL {
                            q.graft.push(id);
                            m.grafted.push(g);
                        }
                    }
                }
            }
            m.asks += 1;
            m.asked = Some(a);
            self.missing
                .reschedule(id, now + self.config.request_timeout);
            return;
        }
        self.missing.resolve(&id);
        self.stats.gave_up += 1;
    }
}

#[cfg(test)]
mod tests;
