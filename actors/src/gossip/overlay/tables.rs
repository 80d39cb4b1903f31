//! The overlay router's bounded state besides its trees (`trees.rs`), each table with its own
//! bound: the window of objects seen ([`MessageWindow`], capacity and TTL), the objects announced
//! but missing ([`Missing`], capacity, announcers per object, timers) and what the router keeps
//! per peer ([`PeerState`]: kind, pending control hashes, asks outstanding, per-window counters).
//! Ordered maps wherever the router iterates, so that its output does not depend on hashing: the
//! simulation replays exactly from its seed. No messages handled or sent.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use hobbits_codec::{MessageHash, Origin};

use super::types::PeerKind;

/// Which push tree an object travels on: its origin's, or the one for objects without an origin.
pub(super) type TreeKey = Option<Origin>;

/// How an object travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// Pushed on a tree, announced to that tree's lazy peers.
    Tree(TreeKey),
    /// Pushed to every peer (flood mode, or an object without an origin).
    Flood,
}

/// Where an object stands.
#[derive(Debug)]
pub(super) enum ObjectState<O> {
    /// Received, being validated.
    Pending,
    /// Valid: pushed on, announced, and served on request.
    Valid(O),
    /// Refused by validation or import: neither pushed nor served.
    Rejected,
}

/// One object the router remembers.
#[derive(Debug)]
pub(super) struct Entry<P, O> {
    /// How it travels on.
    pub(super) route: Route,
    /// It was the newest of its tree when it arrived (see `trees::Trees::is_current`).
    pub(super) current: bool,
    /// Where it stands.
    pub(super) state: ObjectState<O>,
    /// Peers known to hold it: it came from them, or they announced it (IHAVE). Neither
    /// pushed to nor announced to (bounded by the peers connected).
    pub(super) sources: BTreeSet<P>,
    /// Peers asked for it: their copies are answers, never tree faults.
    pub(super) asked: BTreeSet<P>,
    /// How often each peer asked us for it.
    pub(super) asks: BTreeMap<P, u8>,
}

impl<P: Ord, O> Entry<P, O> {
    pub(super) fn new(route: Route, current: bool, state: ObjectState<O>) -> Self {
        Entry {
            route,
            current,
            state,
            sources: BTreeSet::new(),
            asked: BTreeSet::new(),
            asks: BTreeMap::new(),
        }
    }
}

/// The objects seen, oldest forgotten first (by capacity or TTL).
#[derive(Debug)]
pub(super) struct MessageWindow<P, O> {
    entries: HashMap<MessageHash, Entry<P, O>>,
    order: VecDeque<(MessageHash, Instant)>,
    capacity: usize,
    ttl: Duration,
}

impl<P, O> MessageWindow<P, O> {
    pub(super) fn new(capacity: usize, ttl: Duration) -> Self {
        MessageWindow {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity,
            ttl,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn contains(&self, id: &MessageHash) -> bool {
        self.entries.contains_key(id)
    }

    pub(super) fn get(&self, id: &MessageHash) -> Option<&Entry<P, O>> {
        self.entries.get(id)
    }

    pub(super) fn get_mut(&mut self, id: &MessageHash) -> Option<&mut Entry<P, O>> {
        self.entries.get_mut(id)
    }

    /// Remembers a new object (the caller checked it is new), forgetting the oldest beyond the
    /// capacity.
    pub(super) fn insert(&mut self, id: MessageHash, entry: Entry<P, O>, now: Instant) {
        self.entries.insert(id, entry);
        self.order.push_back((id, now));
        while self.order.len() > self.capacity {
            if let Some((old, _)) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
    }

    /// Forgets the objects older than the TTL.
    pub(super) fn expire(&mut self, now: Instant) {
        while let Some(&(id, at)) = self.order.front() {
            if now.saturating_duration_since(at) < self.ttl {
                break;
            }
            self.order.pop_front();
            self.entries.remove(&id);
        }
    }
}

/// An object announced by IHAVE and not received.
#[derive(Debug)]
pub(super) struct MissingEntry<P> {
    /// Announcers not asked yet, first come first.
    pub(super) announcers: VecDeque<P>,
    /// The peer asked last, if its time is not up.
    pub(super) asked: Option<P>,
    /// The peers asked before it (their copies, however late, are answers).
    pub(super) asked_before: Vec<P>,
    /// Asks made so far (the first is a GRAFT and an IWANT, the others IWANT).
    pub(super) asks: u32,
    /// The announcers sent a GRAFT with the first ask (every one then known): the next object
    /// comes pushed by each, the fastest becomes the parent, the others' duplicates are pruned.
    pub(super) grafted: Vec<P>,
    /// When the first announcement arrived.
    pub(super) first_seen: Instant,
    timer: (Instant, u64),
}

/// What became of an announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Announced {
    /// Tracked (a new missing object, or a new announcer of one).
    Tracked,
    /// Already known from this peer, or the announcers of that object are at their bound.
    Ignored,
    /// The table is full: not tracked.
    Full,
}

/// The missing objects with their timers.
#[derive(Debug)]
pub(super) struct Missing<P> {
    entries: HashMap<MessageHash, MissingEntry<P>>,
    timers: BTreeMap<(Instant, u64), MessageHash>,
    seq: u64,
    capacity: usize,
    max_announcers: usize,
}

impl<P: Copy + Ord> Missing<P> {
    pub(super) fn new(capacity: usize, max_announcers: usize) -> Self {
        Missing {
            entries: HashMap::new(),
            timers: BTreeMap::new(),
            seq: 0,
            capacity,
            max_announcers,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    fn timer(&mut self, at: Instant, id: MessageHash) -> (Instant, u64) {
        self.seq += 1;
        let key = (at, self.seq);
        self.timers.insert(key, id);
        key
    }

    /// `peer` announced `id` at `now`; a new missing object is due at `deadline`.
    pub(super) fn announce(
        &mut self,
        id: MessageHash,
        peer: P,
        now: Instant,
        deadline: Instant,
    ) -> Announced {
        if let Some(m) = self.entries.get_mut(&id) {
            if m.announcers.len() >= self.max_announcers
                || m.asked == Some(peer)
                || m.asked_before.contains(&peer)
                || m.announcers.contains(&peer)
            {
                return Announced::Ignored;
            }
            m.announcers.push_back(peer);
            return Announced::Tracked;
        }
        if self.entries.len() >= self.capacity {
            return Announced::Full;
        }
        let timer = self.timer(deadline, id);
        self.entries.insert(
            id,
            MissingEntry {
                announcers: VecDeque::from([peer]),
                asked: None,
                asked_before: Vec::new(),
                asks: 0,
                grafted: Vec::new(),
                first_seen: now,
                timer,
            },
        );
        Announced::Tracked
    }

    /// `id` arrived (or is given up): stop tracking it.
    pub(super) fn resolve(&mut self, id: &MessageHash) -> Option<MissingEntry<P>> {
        let m = self.entries.remove(id)?;
        self.timers.remove(&m.timer);
        Some(m)
    }

    /// The objects whose timer is up, in deadline order (their timers are consumed: reschedule
    /// or resolve each).
    pub(super) fn due(&mut self, now: Instant) -> Vec<MessageHash> {
        let later = self.timers.split_off(&(now, u64::MAX));
        std::mem::replace(&mut self.timers, later)
            .into_values()
            .collect()
    }

    pub(super) fn get_mut(&mut self, id: &MessageHash) -> Option<&mut MissingEntry<P>> {
        self.entries.get_mut(id)
    }

    /// Sets `id`'s next deadline (after `due` consumed its timer).
    pub(super) fn reschedule(&mut self, id: MessageHash, deadline: Instant) {
        if self.entries.contains_key(&id) {
            let timer = self.timer(deadline, id);
            if let Some(m) = self.entries.get_mut(&id) {
                m.timer = timer;
            }
        }
    }

    /// Forgets `peer` as an announcer (it left).
    pub(super) fn remove_announcer(&mut self, peer: P) {
        for m in self.entries.values_mut() {
            m.announcers.retain(|p| *p != peer);
        }
    }
}

/// Per-peer counters over one control window.
#[derive(Debug, Default)]
pub(super) struct RateWindow {
    start: Option<Instant>,
    /// Control frames received.
    pub(super) frames: u32,
    /// IHAVE hashes taken.
    pub(super) ihave_hashes: u32,
    /// Objects served on request.
    pub(super) served: u32,
}

impl RateWindow {
    /// Starts a new window when the current one is over.
    pub(super) fn roll(&mut self, now: Instant, window: Duration) {
        let over = self
            .start
            .is_none_or(|s| now.saturating_duration_since(s) >= window);
        if over {
            *self = RateWindow {
                start: Some(now),
                ..RateWindow::default()
            };
        }
    }
}

/// What the router keeps about one peer.
#[derive(Debug)]
pub(super) struct PeerState {
    pub(super) kind: PeerKind,
    pub(super) window: RateWindow,
    /// Objects asked from it and not received.
    pub(super) outstanding: usize,
    /// Hashes for the next PRUNE, GRAFT, IWANT (bounded by the caller).
    pub(super) prune: Vec<MessageHash>,
    pub(super) graft: Vec<MessageHash>,
    pub(super) iwant: Vec<MessageHash>,
    /// Hashes for the next IHAVE, oldest first.
    pub(super) ihave: VecDeque<MessageHash>,
}

impl PeerState {
    pub(super) fn new(kind: PeerKind) -> Self {
        PeerState {
            kind,
            window: RateWindow::default(),
            outstanding: 0,
            prune: Vec::new(),
            graft: Vec::new(),
            iwant: Vec::new(),
            ihave: VecDeque::new(),
        }
    }

    /// True when objects travel to it on the trees and control messages are exchanged.
    pub(super) fn is_overlay(&self) -> bool {
        self.kind == PeerKind::Overlay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> MessageHash {
        MessageHash([n; 32])
    }

    #[test]
    fn the_window_forgets_by_capacity_and_by_age() {
        let t0 = Instant::now();
        let mut w: MessageWindow<u8, ()> = MessageWindow::new(2, Duration::from_secs(10));
        for n in 0..3 {
            w.insert(
                id(n),
                Entry::new(Route::Flood, true, ObjectState::Pending),
                t0,
            );
        }
        assert!(!w.contains(&id(0)) && w.contains(&id(1)) && w.contains(&id(2)));
        w.insert(
            id(3),
            Entry::new(Route::Flood, true, ObjectState::Pending),
            t0 + Duration::from_secs(5),
        );
        w.expire(t0 + Duration::from_secs(10));
        assert_eq!(w.len(), 1);
        assert!(w.contains(&id(3)));
    }

    #[test]
    fn missing_objects_are_bounded_and_due_in_deadline_order() {
        let t0 = Instant::now();
        let mut m: Missing<u8> = Missing::new(2, 2);
        assert_eq!(
            m.announce(id(1), 1, t0, t0 + Duration::from_millis(20)),
            Announced::Tracked
        );
        assert_eq!(
            m.announce(id(2), 1, t0, t0 + Duration::from_millis(10)),
            Announced::Tracked
        );
        assert_eq!(m.announce(id(3), 1, t0, t0), Announced::Full);
        assert_eq!(m.announce(id(1), 2, t0, t0), Announced::Tracked);
        assert_eq!(m.announce(id(1), 2, t0, t0), Announced::Ignored);
        assert_eq!(
            m.announce(id(1), 3, t0, t0),
            Announced::Ignored,
            "two announcers at most"
        );
        assert!(m.due(t0).is_empty());
        assert_eq!(m.due(t0 + Duration::from_millis(20)), vec![id(2), id(1)]);
        m.reschedule(id(1), t0 + Duration::from_millis(30));
        assert!(m.resolve(&id(2)).is_some());
        assert!(m.due(t0 + Duration::from_millis(29)).is_empty());
        m.remove_announcer(1);
        assert_eq!(m.get_mut(&id(1)).map(|e| e.announcers.len()), Some(1));
        assert_eq!(m.due(t0 + Duration::from_millis(30)), vec![id(1)]);
    }
}
