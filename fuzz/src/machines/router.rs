//! The gossip router harness: a `GossipRouter` driven the way the `GossipActor` drives it, with
//! full messages and announcements of real blocks and attestations, lying frames (wrong
//! `message_hash`, another object's `hash`, the wrong topic, a cut body), extra header keys,
//! imports and fetches ending every way and in any order, late results, publishing, sends refused
//! by full queues, disconnects and time passing. Handles and sends no messages.
//!
//! Invariants, after every event:
//! - a valid full message is never judged invalid and a lying one always is (but for a body and
//!   `hash` validated before, sent under the other topic: a duplicate, by the router's
//!   shortcut for copies); an announcement is fetched from its sender or dropped as a
//!   duplicate, never imported as is;
//! - the router's objects in progress are exactly those the harness started and did not finish;
//! - an import relays only when it imported, then exactly once: to every peer but those the
//!   object (or an announcement or duplicate of it) came from while in progress, as the frame
//!   received (extra headers kept) or, fetched, as a full message whose body is the object;
//! - a duplicate is never relayed twice: a second relay of one object needs its seen-cache entry
//!   to have expired (a TTL since it was marked) or been evicted (the cache full);
//! - `on_send` asks for a disconnect exactly at `slow_peer_strikes` consecutive refusals;
//! - bounded state: at most `max_in_progress` objects in progress, `seen_capacity` hashes seen.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use hobbits_actors::gossip::overlay::OverlayConfig;
use hobbits_actors::gossip::router::{
    CheckedObject, GossipConfig, GossipRouter, ImportVerdict, Verdict,
};
use hobbits_actors::PeerId;
use hobbits_chain::{HashTreeRoot, Root};
use hobbits_codec::{GossipEnvelope, GossipObject, MessageHash, Topic};
use ssz::Encode;

use super::fixtures;
use super::Peers;

/// The router scenario: its configuration and the events.
#[derive(Debug, Arbitrary)]
pub struct Script {
    config: Option<Config>,
    events: Vec<Event>,
}

/// A small configuration (the default when absent), so the bounds are reached.
#[derive(Debug, Arbitrary)]
struct Config {
    seen_capacity: u8,
    seen_ttl_s: u8,
    announce_only: bool,
    max_in_progress: u8,
    slow_peer_strikes: u8,
}

#[derive(Debug, Arbitrary)]
enum Event {
    Connect,
    Disconnect {
        peer: u8,
    },
    /// `peer` gossips `object` in the given form.
    Gossip {
        peer: u8,
        object: u8,
        form: Form,
        timestamp: u8,
    },
    /// A pending import finishes.
    Imported {
        pick: u8,
        outcome: Outcome,
    },
    /// A pending fetch finishes.
    Fetched {
        pick: u8,
        served: Served,
    },
    /// An import result for an object not in progress (late, or never started).
    Stale {
        object: u8,
        outcome: Outcome,
    },
    /// This node publishes `object`.
    Publish {
        object: u8,
    },
    /// A frame to `peer` was queued or refused.
    Sent {
        peer: u8,
        queued: bool,
    },
    /// Time passes (tens of ms).
    Wait {
        tens_of_ms: u16,
    },
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Form {
    Full,
    /// Full, with an extra header key.
    Extra,
    Announce,
    /// An announcement naming no object of ours.
    AnnounceUnknown(u8),
    /// `message_hash` not the body's.
    BadMessageHash,
    /// Another object's `hash`.
    OtherHash(u8),
    /// The other topic.
    WrongTopic,
    /// The body cut short (with its own, matching, `message_hash`).
    Cut(u8),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Outcome {
    Imported,
    AlreadyKnown,
    Orphan,
    Invalid,
    Failed,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Served {
    /// The announced object.
    Right,
    /// Another object.
    Other(u8),
    Nothing,
    /// The store had it already.
    Known,
}

struct Obj {
    object: GossipObject,
    hash: Root,
    topic: Topic,
    ssz: Bytes,
}

fn objects() -> &'static [Obj] {
    static OBJECTS: OnceLock<Vec<Obj>> = OnceLock::new();
    OBJECTS.get_or_init(|| {
        let fx = fixtures::get();
        let blocks = fx.chains[1].blocks.iter().take(5);
        let blocks = blocks.chain(fx.chains[2].blocks.iter().take(2));
        let mut objects: Vec<GossipObject> = blocks.cloned().map(GossipObject::Block).collect();
        objects.extend(
            fx.attestations
                .iter()
                .cloned()
                .map(GossipObject::Attestation),
        );
        objects
            .into_iter()
            .map(|object| match &object {
                GossipObject::Block(b) => Obj {
                    hash: b.hash_tree_root(),
                    topic: Topic::Block,
                    ssz: Bytes::from(b.as_ssz_bytes()),
                    object,
                },
                GossipObject::Attestation(a) => Obj {
                    hash: HashTreeRoot::hash_tree_root(a),
                    topic: Topic::Attestation,
                    ssz: Bytes::from(a.as_ssz_bytes()),
                    object,
                },
            })
            .collect()
    })
}

/// An object in progress, as the harness saw it start.
struct Track {
    topic: Topic,
    sources: HashSet<PeerId>,
    /// The frame received (None while fetched).
    full: Option<GossipEnvelope>,
    marked: Option<Duration>,
}

struct Harness {
    router: GossipRouter,
    config: GossipConfig,
    peers: Peers,
    now: Duration,
    start: Instant,
    tracks: HashMap<Root, Track>,
    imports: Vec<Root>,
    fetches: Vec<(Root, usize)>,
    /// When the object of each relay was marked seen.
    relayed: HashMap<Root, Duration>,
    strikes: HashMap<PeerId, u32>,
    /// The seen-cache may have forgotten something by capacity.
    evicted: bool,
}

/// Runs the scenario (panics on a broken invariant).
pub fn run(script: Script) {
    let config = match script.config {
        None => GossipConfig::default(),
        Some(c) => GossipConfig {
            seen_capacity: 1 + usize::from(c.seen_capacity % 64),
            seen_ttl: Duration::from_secs(1 + u64::from(c.seen_ttl_s % 120)),
            announce_only: c.announce_only,
            max_in_progress: 1 + usize::from(c.max_in_progress % 8),
            slow_peer_strikes: 1 + u32::from(c.slow_peer_strikes % 8),
            overlay: OverlayConfig::flood(),
        },
    };
    let mut h = Harness::new(config);
    for event in script.events {
        // One event inserts at most three keys into the seen-cache.
        if h.router.stats().seen_entries as usize + 3 > h.config.seen_capacity {
            h.evicted = true;
        }
        h.step(event);
        h.check();
    }
}

fn import_verdict(o: Outcome) -> ImportVerdict {
    match o {
        Outcome::Imported => ImportVerdict::Imported,
        Outcome::AlreadyKnown => ImportVerdict::AlreadyKnown,
        Outcome::Orphan => ImportVerdict::Orphan,
        Outcome::Invalid => ImportVerdict::Invalid {
            reason: "state transition".into(),
        },
        Outcome::Failed => ImportVerdict::Failed,
    }
}

impl Harness {
    fn new(config: GossipConfig) -> Self {
        config.validate().expect("harness config valid");
        Harness {
            router: GossipRouter::new(config.clone()),
            config,
            peers: Peers::default(),
            now: Duration::ZERO,
            start: Instant::now(),
            tracks: HashMap::new(),
            imports: Vec::new(),
            fetches: Vec::new(),
            relayed: HashMap::new(),
            strikes: HashMap::new(),
            evicted: false,
        }
    }

    fn at(&self) -> Instant {
        self.start + self.now
    }

    fn step(&mut self, event: Event) {
        let objs = objects();
        match event {
            Event::Connect => {
                self.peers.connect();
            }
            Event::Disconnect { peer } => {
                if let Some(p) = self.peers.disconnect(peer) {
                    self.router.on_peer_disconnected(PeerId(p));
                    self.strikes.remove(&PeerId(p));
                }
            }
            Event::Gossip {
                peer,
                object,
                form,
                timestamp,
            } => {
                if let Some(p) = self.peers.pick(peer) {
                    let i = usize::from(object) % objs.len();
                    self.gossip(PeerId(p), i, form, u64::from(timestamp));
                }
            }
            Event::Imported { pick, outcome } => {
                if self.imports.is_empty() {
                    return;
                }
                let hash = self.imports.remove(usize::from(pick) % self.imports.len());
                self.imported(hash, outcome);
            }
            Event::Fetched { pick, served } => {
                if self.fetches.is_empty() {
                    return;
                }
                let (hash, i) = self.fetches.remove(usize::from(pick) % self.fetches.len());
                self.fetched(hash, i, served);
            }
            Event::Stale { object, outcome } => {
                let o = &objs[usize::from(object) % objs.len()];
                if !self.tracks.contains_key(&o.hash) {
                    let relay = self
                        .router
                        .on_imported(o.hash, o.topic, &import_verdict(outcome));
                    assert!(relay.is_none(), "relay of an object not in progress");
                }
            }
            Event::Publish { object } => {
                let o = &objs[usize::from(object) % objs.len()];
                let relay = self.router.publish(&o.object, 1, self.at());
                assert!(relay.except.is_empty(), "a publish excludes no peer");
                assert_eq!(relay.envelope.header.hash, o.hash);
                assert_eq!(relay.envelope.body.is_empty(), self.config.announce_only);
            }
            Event::Sent { peer, queued } => {
                let Some(p) = self.peers.pick(peer).map(PeerId) else {
                    return;
                };
                let s = self.strikes.entry(p).or_insert(0);
                *s = if queued { 0 } else { *s + 1 };
                let expect = *s >= self.config.slow_peer_strikes;
                if expect || queued {
                    self.strikes.remove(&p);
                }
                assert_eq!(self.router.on_send(p, queued), expect, "slow-peer strikes");
            }
            Event::Wait { tens_of_ms } => {
                self.now += Duration::from_millis(10 * u64::from(tens_of_ms));
            }
        }
    }

    fn gossip(&mut self, p: PeerId, i: usize, form: Form, timestamp: u64) {
        let objs = objects();
        let o = &objs[i];
        let mut env = GossipEnvelope::new(o.topic, o.hash, o.ssz.clone(), timestamp);
        let lying = match form {
            Form::Full => false,
            Form::Extra => {
                env.header.extra.insert("x-fuzz", i as i32);
                false
            }
            Form::Announce => {
                env.body = Bytes::new();
                env.header.message_hash = MessageHash::of_body(&env.body);
                false
            }
            Form::AnnounceUnknown(n) => {
                env.body = Bytes::new();
                env.header.message_hash = MessageHash::of_body(&env.body);
                let mut unknown = [0xa5; 32];
                unknown[0] = n;
                env.header.hash = Root(unknown);
                false
            }
            Form::BadMessageHash => {
                env.header.message_hash.0[0] ^= 1;
                true
            }
            Form::OtherHash(k) => {
                let k = (i + 1 + usize::from(k) % (objs.len() - 1)) % objs.len();
                env.header.hash = objs[k].hash;
                true
            }
            Form::WrongTopic => {
                env.header.topic = match o.topic {
                    Topic::Block => Topic::Attestation,
                    Topic::Attestation => Topic::Block,
                };
                true
            }
            Form::Cut(n) => {
                let len = env.body.len();
                let cut = 1 + usize::from(n) % (len - 1);
                env.body = env.body.slice(..len - cut);
                env.header.message_hash = MessageHash::of_body(&env.body);
                true
            }
        };
        let hash = env.header.hash;
        let verdict = self
            .router
            .on_gossip(p, env.header.clone(), env.body.clone(), self.at());
        match verdict {
            Verdict::Invalid { reason } => {
                assert!(lying, "a valid {form:?} message judged invalid: {reason:?}")
            }
            // The body and `hash` of a message validated before, under another topic: a copy,
            // recognised without decoding (the router's documented shortcut), so a duplicate.
            Verdict::Duplicate if !lying || matches!(form, Form::WrongTopic) => {
                if let Some(t) = self.tracks.get_mut(&hash) {
                    t.sources.insert(p);
                }
            }
            Verdict::Duplicate => panic!("a lying {form:?} message taken as a duplicate"),
            _ if lying => panic!("a lying {form:?} message not judged invalid: {verdict:?}"),
            Verdict::Overloaded => {}
            Verdict::Import { hash: h, object } => {
                assert!(!env.is_announcement(), "an announcement imported as is");
                assert_eq!(h, o.hash, "import of another hash");
                let same = match (&object, &o.object) {
                    (CheckedObject::Block(a), GossipObject::Block(b)) => a.block() == b,
                    (CheckedObject::Attestation(a), GossipObject::Attestation(b)) => a == b,
                    _ => false,
                };
                assert!(same, "import of another object");
                let track = Track {
                    topic: o.topic,
                    sources: HashSet::from([p]),
                    full: Some(env),
                    marked: Some(self.now),
                };
                assert!(
                    self.tracks.insert(h, track).is_none(),
                    "imported twice at once"
                );
                self.imports.push(h);
            }
            Verdict::Fetch {
                hash: h,
                topic,
                peer,
            } => {
                assert!(env.is_announcement(), "a full message fetched");
                assert_eq!((h, topic, peer), (hash, env.header.topic, p), "fetch");
                let track = Track {
                    topic,
                    sources: HashSet::from([p]),
                    full: None,
                    marked: None,
                };
                assert!(
                    self.tracks.insert(h, track).is_none(),
                    "fetched twice at once"
                );
                self.fetches.push((h, i));
            }
        }
    }

    fn fetched(&mut self, hash: Root, i: usize, served: Served) {
        let objs = objects();
        let object = match served {
            Served::Known => {
                self.router.on_fetch_known(hash, self.at());
                self.tracks.remove(&hash);
                return;
            }
            Served::Nothing => None,
            Served::Right => Some(i),
            Served::Other(k) => Some(usize::from(k) % objs.len()),
        };
        let right = object.is_some_and(|k| objs[k].hash == hash);
        let verdict =
            self.router
                .on_fetched(hash, object.map(|k| objs[k].object.clone()), 1, self.at());
        match verdict {
            Some(Verdict::Import { hash: h, .. }) => {
                assert!(right && h == hash, "import of an object not announced");
                let t = self.tracks.get_mut(&hash).expect("fetch tracked");
                t.marked = Some(self.now);
                self.imports.push(hash);
            }
            Some(v) => panic!("fetch ended with {v:?}"),
            None => {
                assert!(!right, "the announced object served and not imported");
                self.tracks.remove(&hash);
            }
        }
    }

    fn imported(&mut self, hash: Root, outcome: Outcome) {
        let track = self.tracks.remove(&hash).expect("import tracked");
        let relay = self
            .router
            .on_imported(hash, track.topic, &import_verdict(outcome));
        let Some(relay) = relay else {
            assert!(
                !matches!(outcome, Outcome::Imported),
                "an imported object not relayed"
            );
            return;
        };
        assert!(
            matches!(outcome, Outcome::Imported),
            "relay after {outcome:?}"
        );
        assert_eq!(relay.except, track.sources, "relay exceptions");
        match &track.full {
            Some(env) => assert_eq!(&relay.envelope, env, "relay not the frame received"),
            None => {
                let env = &relay.envelope;
                assert!(
                    env.message_hash_matches() && env.header.hash == hash,
                    "{env:?}"
                );
                let object = env.decode_object().expect("relayed body decodes");
                let root = match object.expect("relay in full") {
                    GossipObject::Block(b) => b.hash_tree_root(),
                    GossipObject::Attestation(a) => HashTreeRoot::hash_tree_root(&a),
                };
                assert_eq!(root, hash, "relayed body is another object");
            }
        }
        let marked = track.marked.expect("an import is marked seen");
        if let Some(before) = self.relayed.insert(hash, marked) {
            assert!(
                self.evicted || marked.saturating_sub(before) >= self.config.seen_ttl,
                "{hash:?} relayed twice within its seen TTL"
            );
        }
    }

    fn check(&self) {
        let s = self.router.stats();
        assert_eq!(
            self.router.in_progress(),
            self.tracks.len(),
            "objects in progress"
        );
        assert!(self.router.in_progress() <= self.config.max_in_progress);
        assert!(
            s.seen_entries as usize <= self.config.seen_capacity,
            "{s:?}"
        );
        assert!(s.relayed <= s.imported, "{s:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The harness is not vacuous: a block gossiped by one peer and copied by another is imported
    /// and relayed once (the harness checks the exceptions and the frame), later copies are
    /// duplicates, an announcement of it is fetched and imported without a second relay.
    #[test]
    fn a_block_is_relayed_once() {
        let gossip = |peer, form| Event::Gossip {
            peer,
            object: 0,
            form,
            timestamp: 1,
        };
        let imported = Event::Imported {
            pick: 0,
            outcome: Outcome::Imported,
        };
        let events = vec![
            Event::Connect,
            Event::Connect,
            Event::Connect,
            gossip(0, Form::Extra),
            gossip(1, Form::Full),
            gossip(2, Form::BadMessageHash),
            imported,
            gossip(2, Form::Full),
            gossip(2, Form::Announce),
        ];
        let script = Script {
            config: None,
            events,
        };
        run(script);
        let mut h = Harness::new(GossipConfig::default());
        h.step(Event::Connect);
        h.step(gossip(0, Form::Announce));
        h.step(Event::Fetched {
            pick: 0,
            served: Served::Right,
        });
        h.step(Event::Imported {
            pick: 0,
            outcome: Outcome::Imported,
        });
        h.check();
        let s = h.router.stats();
        assert_eq!((s.announced_fetched, s.relayed, s.invalid), (1, 1, 0));
    }
}
