//! The gossip overlay harness: an `Overlay` driven the way the `GossipActor` drives it — peers of
//! every kind connecting and leaving, objects arriving (first copies and duplicates, on trees of
//! several origins, in and out of timestamp order), validations and rejections in any order,
//! publishing, PRUNE / GRAFT / IHAVE / IWANT from peers (floods included) and ticks with time
//! passing. Peers are `u64` ids never reused; objects are `u32` handles. Handles and sends no
//! messages.
//!
//! Invariants, after every event:
//! - every action names connected peers only (objects, control messages, penalties);
//! - control messages go only to overlay peers, never in flood mode, within the codec's caps;
//!   per tick and peer at most `max_pending_ihave` IHAVE hashes, `4 * MAX_CONTROL_HASHES` PRUNE
//!   hashes, that plus `max_outstanding_per_peer` GRAFT hashes and `max_outstanding_per_peer`
//!   IWANT hashes;
//! - an object is sent only once valid (validated or published, never rejected or pending), as
//!   the handle it was validated with; pushed at most once (a duplicate is never relayed twice)
//!   and never back to a peer it came from; a copy of an object still remembered is a duplicate;
//! - a broken promise is blamed only on a peer that announced the object (IHAVE); a control flood
//!   only on a peer that sent more than `max_control_frames` control frames;
//! - bounded state: at most `message_capacity` objects, `max_trees` trees, `max_missing` missing.
//!
//! The checks that need the overlay to still remember an object are made while nothing can have
//! been forgotten (less time than `message_ttl` passed, fewer objects than `message_capacity`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use hobbits_actors::gossip::overlay::{
    Action, Arrival, ObjectMeta, Overlay, OverlayConfig, OverlayPenalty, PeerKind,
};
use hobbits_codec::gossip_control::MAX_CONTROL_HASHES;
use hobbits_codec::{ControlMessage, ControlVerb, MessageHash, Origin};

use super::Peers;

/// Distinct object ids the scenario uses.
const IDS: u8 = 48;

/// What the overlay may hold per peer for PRUNE and GRAFT (its private `MAX_PENDING_CONTROL`).
const PENDING_CONTROL: usize = 4 * MAX_CONTROL_HASHES;

/// The overlay scenario: a configuration (the default when absent) and the events.
#[derive(Debug, Arbitrary)]
pub struct Script {
    config: Option<Config>,
    events: Vec<Event>,
}

#[derive(Debug, Arbitrary)]
struct Config {
    flood: bool,
    tree_per_origin: bool,
    flood_without_origin: bool,
    graft_timeout_ms: u8,
    graft_margin_ms: u8,
    request_timeout_ms: u8,
    ttl_s: u8,
    bounds: [u8; 10],
    control_window_ms: u8,
}

#[derive(Debug, Arbitrary)]
enum Event {
    Add {
        kind: Kind,
    },
    Remove {
        peer: u8,
    },
    /// A copy of object `id` from `peer`.
    Object {
        peer: u8,
        id: u8,
        origin: Option<u8>,
        timestamp: u8,
    },
    /// A new object (picked among those pending) is validated.
    Validate {
        pick: u8,
    },
    /// A new object (picked among those pending) is rejected.
    Reject {
        pick: u8,
    },
    /// This node publishes object `id`.
    Publish {
        id: u8,
        origin: Option<u8>,
        timestamp: u8,
    },
    /// A control message from `peer`.
    Control {
        peer: u8,
        verb: Verb,
        ids: Vec<u8>,
    },
    /// Time passes (ms), then a tick.
    Tick {
        ms: u16,
    },
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Kind {
    Flood,
    Overlay,
    Unknown,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Verb {
    Prune,
    Graft,
    IHave,
    IWant,
}

#[derive(Debug, Default)]
struct IdState {
    /// The handle given when validated or published.
    handle: Option<u32>,
    rejected: bool,
    /// In the overlay's memory (a copy arrived or it was published).
    known: bool,
    sources: BTreeSet<u64>,
    pushed: bool,
}

struct Harness {
    overlay: Overlay<u64, u32>,
    config: OverlayConfig,
    peers: Peers,
    now: Duration,
    start: Instant,
    pending: Vec<MessageHash>,
    ids: HashMap<MessageHash, IdState>,
    announced: HashMap<MessageHash, HashSet<u64>>,
    controls: HashMap<u64, u64>,
    next_handle: u32,
}

fn id(n: u8) -> MessageHash {
    let mut h = [0x11; 32];
    h[0] = n % IDS;
    MessageHash(h)
}

fn config_of(c: Option<Config>) -> OverlayConfig {
    let Some(c) = c else {
        return OverlayConfig::default();
    };
    let b = |i: usize, m: u8| 1 + u64::from(c.bounds[i] % m);
    let request_timeout = Duration::from_millis(1 + u64::from(c.request_timeout_ms) * 4);
    OverlayConfig {
        flood: c.flood,
        tree_per_origin: c.tree_per_origin,
        flood_without_origin: c.flood_without_origin,
        graft_timeout: Duration::from_millis(1 + u64::from(c.graft_timeout_ms) * 2),
        graft_margin: Duration::from_millis(u64::from(c.graft_margin_ms % 50)),
        request_timeout,
        max_announcers: b(0, 4) as usize,
        max_missing: b(1, 8) as usize,
        message_capacity: b(2, 32) as usize,
        message_ttl: request_timeout + Duration::from_secs(1 + u64::from(c.ttl_s % 60)),
        max_trees: b(3, 4) as usize,
        max_pending_ihave: b(4, 16) as usize,
        max_outstanding_per_peer: b(5, 4) as usize,
        control_window: Duration::from_millis(1 + u64::from(c.control_window_ms) * 8),
        max_control_frames: b(6, 16) as u32,
        max_ihave_hashes: b(7, 64) as u32,
        // From the same byte's high bits, so the input layout (and the committed seeds) stay.
        max_ihave_peers: 1 + usize::from((c.bounds[7] >> 4) % 8),
        max_served: b(8, 8) as u32,
        max_asks_per_object: b(9, 3) as u8,
    }
}

/// Runs the scenario (panics on a broken invariant).
pub fn run(script: Script) {
    let mut h = Harness::new(script.config);
    for event in script.events {
        h.step(event);
        h.check();
    }
}

fn meta(n: u8, origin: Option<u8>, timestamp: u8) -> ObjectMeta {
    ObjectMeta {
        id: id(n),
        origin: origin.map(|o| Origin(u64::from(o % 4))),
        timestamp_ms: u64::from(timestamp),
    }
}

impl Harness {
    fn new(config: Option<Config>) -> Self {
        let config = config_of(config);
        Harness {
            overlay: Overlay::new(config.clone()).expect("harness config valid"),
            config,
            peers: Peers::default(),
            now: Duration::ZERO,
            start: Instant::now(),
            pending: Vec::new(),
            ids: HashMap::new(),
            announced: HashMap::new(),
            controls: HashMap::new(),
            next_handle: 0,
        }
    }

    fn at(&self) -> Instant {
        self.start + self.now
    }

    /// Nothing can have been forgotten yet (by age or by capacity).
    fn remembers(&self) -> bool {
        self.now < self.config.message_ttl
            && self.ids.values().filter(|s| s.known).count() < self.config.message_capacity
    }

    fn step(&mut self, event: Event) {
        match event {
            Event::Add { kind } => {
                if let Some(p) = self.peers.connect() {
                    let kind = match kind {
                        Kind::Flood => PeerKind::Flood,
                        Kind::Overlay => PeerKind::Overlay,
                        Kind::Unknown => PeerKind::Unknown,
                    };
                    self.overlay.add_peer(p, kind);
                }
            }
            Event::Remove { peer } => {
                if let Some(p) = self.peers.disconnect(peer) {
                    self.overlay.remove_peer(p);
                }
            }
            Event::Object {
                peer,
                id: n,
                origin,
                timestamp,
            } => {
                let Some(p) = self.peers.pick(peer) else {
                    return;
                };
                let m = meta(n, origin, timestamp);
                let remembers = self.remembers();
                let arrival = self.overlay.on_object(self.at(), p, m);
                let state = self.ids.entry(m.id).or_default();
                if arrival == Arrival::New {
                    assert!(
                        !(remembers && state.known),
                        "a copy of remembered object {n} taken as new"
                    );
                    *state = IdState {
                        known: true,
                        ..IdState::default()
                    };
                    self.pending.push(m.id);
                } else {
                    assert!(state.known || !remembers, "unknown object {n} a duplicate");
                }
                state.sources.insert(p);
            }
            Event::Validate { pick } | Event::Reject { pick } if self.pending.is_empty() => {
                let _ = pick;
            }
            Event::Validate { pick } => {
                let i = self.pending.remove(usize::from(pick) % self.pending.len());
                let handle = self.handle();
                let state = self.ids.entry(i).or_default();
                if !state.rejected && state.handle.is_none() {
                    state.handle = Some(handle);
                }
                let actions = self.overlay.on_validated(i, handle);
                self.apply(actions, Some(i));
            }
            Event::Reject { pick } => {
                let i = self.pending.remove(usize::from(pick) % self.pending.len());
                let state = self.ids.entry(i).or_default();
                if state.handle.is_none() {
                    state.rejected = true;
                }
                self.overlay.on_rejected(i);
            }
            Event::Publish {
                id: n,
                origin,
                timestamp,
            } => {
                let m = meta(n, origin, timestamp);
                let handle = self.handle();
                let state = self.ids.entry(m.id).or_default();
                if !state.known {
                    *state = IdState {
                        known: true,
                        ..IdState::default()
                    };
                }
                if !state.rejected && state.handle.is_none() {
                    state.handle = Some(handle);
                }
                self.pending.retain(|p| *p != m.id);
                let actions = self.overlay.publish(self.at(), m, handle);
                self.apply(actions, Some(m.id));
            }
            Event::Control { peer, verb, ids } => {
                let Some(p) = self.peers.pick(peer) else {
                    return;
                };
                let verb = match verb {
                    Verb::Prune => ControlVerb::Prune,
                    Verb::Graft => ControlVerb::Graft,
                    Verb::IHave => ControlVerb::IHave,
                    Verb::IWant => ControlVerb::IWant,
                };
                let hashes: Vec<MessageHash> = ids.iter().map(|n| id(*n)).collect();
                // Only what the codec reads reaches the overlay.
                let Ok(message) = ControlMessage::new(verb, hashes) else {
                    return;
                };
                if verb == ControlVerb::IHave {
                    for h in &message.hashes {
                        self.announced.entry(*h).or_default().insert(p);
                    }
                }
                *self.controls.entry(p).or_default() += 1;
                let actions = self.overlay.on_control(self.at(), p, message);
                self.apply(actions, None);
            }
            Event::Tick { ms } => {
                self.now += Duration::from_millis(u64::from(ms));
                let actions = self.overlay.on_tick(self.at());
                self.check_tick(&actions);
                self.apply(actions, None);
            }
        }
    }

    fn handle(&mut self) -> u32 {
        self.next_handle += 1;
        self.next_handle
    }

    /// Checks and records `actions`; `pushed` is the object a validation or publish pushes.
    fn apply(&mut self, actions: Vec<Action<u64, u32>>, pushed: Option<MessageHash>) {
        let remembers = self.remembers();
        for action in actions {
            match action {
                Action::SendObject { to, id, object } => {
                    let distinct: HashSet<u64> = to.iter().copied().collect();
                    assert_eq!(distinct.len(), to.len(), "an object sent twice to one peer");
                    for p in &to {
                        assert!(self.peers.contains(*p), "object sent to gone peer {p}");
                    }
                    let state = self.ids.entry(id).or_default();
                    if !remembers {
                        continue;
                    }
                    assert!(!state.rejected, "a rejected object sent");
                    assert_eq!(
                        state.handle,
                        Some(object),
                        "an object sent as another handle"
                    );
                    if pushed == Some(id) {
                        assert!(!state.pushed, "object {:?} pushed twice", id.0[0]);
                        state.pushed = true;
                        assert!(
                            to.iter().all(|p| !state.sources.contains(p)),
                            "an object pushed back to a peer it came from"
                        );
                    }
                }
                Action::SendControl { to, message } => {
                    assert!(self.peers.contains(to), "control sent to gone peer {to}");
                    assert!(!self.config.flood, "control sent in flood mode");
                    assert_eq!(
                        self.overlay.peer_kind(to),
                        Some(PeerKind::Overlay),
                        "control sent to a peer not in the overlay"
                    );
                    message.check().expect("control message within the caps");
                }
                Action::Penalize { peer, reason } => {
                    assert!(self.peers.contains(peer), "gone peer {peer} penalised");
                    match reason {
                        OverlayPenalty::BrokenPromise { id } => assert!(
                            self.announced.get(&id).is_some_and(|a| a.contains(&peer)),
                            "{peer} blamed for an object it never announced"
                        ),
                        OverlayPenalty::ControlFlood { .. } => assert!(
                            self.controls.get(&peer).copied().unwrap_or(0)
                                > u64::from(self.config.max_control_frames),
                            "{peer} blamed for a control flood it did not send"
                        ),
                    }
                }
            }
        }
    }

    /// The batches of one tick stay within their bounds.
    fn check_tick(&self, actions: &[Action<u64, u32>]) {
        let mut sums: HashMap<(u64, ControlVerb), usize> = HashMap::new();
        for a in actions {
            if let Action::SendControl { to, message } = a {
                *sums.entry((*to, message.verb)).or_default() += message.hashes.len();
            }
        }
        let out = self.config.max_outstanding_per_peer;
        for ((peer, verb), n) in sums {
            let max = match verb {
                ControlVerb::IHave => self.config.max_pending_ihave,
                ControlVerb::Prune => PENDING_CONTROL,
                ControlVerb::Graft => PENDING_CONTROL + out,
                ControlVerb::IWant => out,
            };
            assert!(
                n <= max,
                "{n} {verb} hashes to {peer} in one tick (max {max})"
            );
        }
    }

    fn check(&self) {
        let s = self.overlay.stats();
        let c = &self.config;
        assert!(s.messages as usize <= c.message_capacity, "{s:?}");
        assert!(s.trees as usize <= c.max_trees, "{s:?}");
        assert!(s.missing as usize <= c.max_missing, "{s:?}");
        for origin in [None, Some(Origin(0)), Some(Origin(3))] {
            for p in self.overlay.eager_peers(origin) {
                assert!(self.peers.contains(p), "gone peer {p} still eager");
            }
        }
        assert!(self.peers.len() <= super::MAX_PEERS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The harness is not vacuous: an object from peer 1 is pushed to the other peers once
    /// validated (never back to peer 1), served on IWANT, and a copy from peer 2 is a duplicate.
    #[test]
    fn an_object_is_pushed_once_and_served() {
        let mut h = Harness::new(None);
        for _ in 0..3 {
            h.step(Event::Add {
                kind: Kind::Overlay,
            });
        }
        let object = |peer| Event::Object {
            peer,
            id: 5,
            origin: Some(1),
            timestamp: 1,
        };
        h.step(object(0));
        h.step(Event::Validate { pick: 0 });
        h.step(object(1));
        h.step(Event::Control {
            peer: 2,
            verb: Verb::IWant,
            ids: vec![5],
        });
        h.step(Event::Tick { ms: 100 });
        h.check();
        let s = h.overlay.stats();
        assert_eq!((s.received, s.duplicates, s.pushed, s.served), (1, 1, 2, 1));
        assert!(h.ids[&id(5)].pushed);
    }
}
