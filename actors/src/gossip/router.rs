//! `GossipRouter`: the gossip decisions as a plain struct (no runtime, time passed in). What to do
//! with a received message (drop as invalid, drop as duplicate, import, fetch), what to relay to
//! whom after an import, what to publish, and when a slow peer must go. No messages handled or
//! sent: the `GossipActor` performs the verdicts.
//!
//! Rules (docs/PROTOCOL.md, "Sync and gossip"):
//! - a full message is checked BEFORE the seen-cache is consulted or touched: `message_hash` must
//!   be the SHA-256 of the body, the body must decode as the topic's object, `hash` must be that
//!   object's hash_tree_root; otherwise it is dropped, counted as invalid and its sender penalised,
//!   so a lying frame cannot make the honest message with that hash look like a duplicate;
//! - a valid message is a duplicate when its object `hash` was seen (bounded cache with a TTL; a
//!   valid message's `message_hash` names a body of that object, so it needs no key of its own)
//!   or the object is being imported or fetched; the senders of duplicates that arrive before the
//!   relay are remembered and not relayed to;
//! - an announcement (empty body) is deduplicated by `hash` only (the SHA-256 of an empty body is
//!   the same for every announcement) and an unknown one is fetched by RPC from its sender;
//! - after a successful import the object is relayed once, in full, to every peer it did not come
//!   from: the received frame as it was (extra headers kept), or, for a fetched object, a new full
//!   message.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hobbits_chain::{Attestation, BeaconBlock, HashTreeRoot, HashedBlock, Root};
use hobbits_codec::{GossipEnvelope, GossipHeader, GossipObject, MessageHash, Topic};
use ssz::{Decode, Encode};

use crate::events::Penalty;
use crate::gossip::cache::{SeenCache, SeenKey};
use crate::gossip::overlay::OverlayConfig;
use crate::peer_table::PeerId;

/// Why a gossip configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GossipError {
    /// A bound that must be positive is zero.
    #[error("gossip config `{field}` must be positive")]
    Zero {
        /// The field.
        field: &'static str,
    },
    /// The overlay's configuration is invalid.
    #[error(transparent)]
    Overlay(#[from] crate::gossip::overlay::OverlayError),
}

/// Tuning of gossip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossipConfig {
    /// Hashes remembered for deduplication. Default 65 536.
    pub seen_capacity: usize,
    /// How long a hash is remembered. Default 10 min.
    pub seen_ttl: Duration,
    /// Publish this node's own objects as announcements (empty body) instead of in full. Default
    /// false.
    pub announce_only: bool,
    /// Objects being imported or fetched at once; more are dropped (counted). Default 1024.
    pub max_in_progress: usize,
    /// Consecutive sends refused because a peer's queue is full before that peer is
    /// disconnected. Default 32.
    pub slow_peer_strikes: u32,
    /// The gossip overlay (docs/PROTOCOL.md, "Gossip overlay"). Default
    /// [`OverlayConfig::flood`]: plain flood, no control message, no `gossip_overlay` in HELLO;
    /// set `flood: false` to run the overlay.
    pub overlay: OverlayConfig,
}

impl Default for GossipConfig {
    fn default() -> Self {
        GossipConfig {
            seen_capacity: 65_536,
            seen_ttl: Duration::from_secs(600),
            announce_only: false,
            max_in_progress: 1024,
            slow_peer_strikes: 32,
            overlay: OverlayConfig::flood(),
        }
    }
}

impl GossipConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), GossipError> {
        let zero = |field| Err(GossipError::Zero { field });
        if self.seen_capacity == 0 {
            return zero("seen_capacity");
        }
        if self.seen_ttl.is_zero() {
            return zero("seen_ttl");
        }
        if self.max_in_progress == 0 {
            return zero("max_in_progress");
        }
        if self.slow_peer_strikes == 0 {
            return zero("slow_peer_strikes");
        }
        self.overlay.validate()?;
        Ok(())
    }
}

/// Counters of gossip (answer to `GetGossipStats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GossipStats {
    /// Gossip messages received.
    pub received: u64,
    /// Objects imported (blocks and attestations, new to the store).
    pub imported: u64,
    /// Blocks imported.
    pub blocks_imported: u64,
    /// Attestations imported.
    pub attestations_imported: u64,
    /// Objects relayed (at most once each).
    pub relayed: u64,
    /// Messages dropped as duplicates.
    pub duplicate: u64,
    /// Messages dropped as invalid (sender penalised).
    pub invalid: u64,
    /// Announced objects fetched by RPC.
    pub announced_fetched: u64,
    /// Announced objects that could not be fetched.
    pub fetch_failed: u64,
    /// Objects published by this node.
    pub published: u64,
    /// Frames queued to peers.
    pub frames_sent: u64,
    /// Frames not queued because a peer's queue was full.
    pub queue_full: u64,
    /// Peers disconnected for staying slow.
    pub slow_peers_disconnected: u64,
    /// Blocks whose parent is unknown, handed to sync.
    pub orphans: u64,
    /// Objects already in the store (imported by sync meanwhile).
    pub already_known: u64,
    /// Messages dropped because too many objects were in progress.
    pub overloaded: u64,
    /// Hashes held in the seen-cache now (a gauge; at most `seen_capacity`).
    pub seen_entries: u64,
}

/// What to do with a received message.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per message, consumed at once"
)]
pub enum Verdict {
    /// Drop: provably wrong; penalise the sender.
    Invalid {
        /// Why.
        reason: Penalty,
    },
    /// Drop: seen already (or being handled).
    Duplicate,
    /// Drop: too much in progress.
    Overloaded,
    /// Import the object, then report with [`GossipRouter::on_imported`].
    Import {
        /// Object hash (hash_tree_root).
        hash: Root,
        /// The object, checked against `hash`.
        object: CheckedObject,
    },
    /// Fetch the announced object from the sender, then report with
    /// [`GossipRouter::on_fetched`].
    Fetch {
        /// Object hash.
        hash: Root,
        /// Its topic.
        topic: Topic,
        /// Who announced it.
        peer: PeerId,
    },
}

/// An object whose hash_tree_root was checked; a block keeps its header so the store does not
/// hash its body a second time (`ChainStore::import_hashed_block`).
#[derive(Debug, Clone, PartialEq)]
pub enum CheckedObject {
    /// A block and its header.
    Block(HashedBlock),
    /// An attestation.
    Attestation(Attestation),
}

impl CheckedObject {
    /// Hashes `object` (a block's body once) and returns it with its hash_tree_root.
    pub fn new(object: GossipObject) -> (Self, Root) {
        match object {
            GossipObject::Block(b) => {
                let b = HashedBlock::new(b);
                let root = b.hash_tree_root();
                (CheckedObject::Block(b), root)
            }
            GossipObject::Attestation(a) => {
                let root = HashTreeRoot::hash_tree_root(&a);
                (CheckedObject::Attestation(a), root)
            }
        }
    }

    /// Its SSZ.
    fn ssz(&self) -> Bytes {
        match self {
            CheckedObject::Block(b) => Bytes::from(b.block().as_ssz_bytes()),
            CheckedObject::Attestation(a) => Bytes::from(a.as_ssz_bytes()),
        }
    }

    /// Its topic.
    pub fn topic(&self) -> Topic {
        match self {
            CheckedObject::Block(_) => Topic::Block,
            CheckedObject::Attestation(_) => Topic::Attestation,
        }
    }
}

/// How importing an object ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportVerdict {
    /// New in the store.
    Imported,
    /// Already stored.
    AlreadyKnown,
    /// A block whose parent is unknown.
    Orphan,
    /// Refused as invalid (penalise the sender).
    Invalid {
        /// Store error.
        reason: String,
    },
    /// Refused for another reason (finality, full store): no penalty.
    Failed,
}

/// A frame to send to every peer except some.
#[derive(Debug, Clone, PartialEq)]
pub struct Relay {
    /// The message.
    pub envelope: GossipEnvelope,
    /// Peers not to send it to (those it came from).
    pub except: HashSet<PeerId>,
}

#[derive(Debug)]
struct InProgress {
    sources: HashSet<PeerId>,
    /// The full message to relay once imported (None while an announcement is being fetched).
    message: Option<GossipEnvelope>,
}

/// The router.
#[derive(Debug)]
pub struct GossipRouter {
    config: GossipConfig,
    seen: SeenCache,
    in_progress: HashMap<Root, InProgress>,
    strikes: HashMap<PeerId, u32>,
    stats: GossipStats,
}

fn object_hash(object: &GossipObject) -> Root {
    match object {
        GossipObject::Block(b) => b.hash_tree_root(),
        GossipObject::Attestation(a) => HashTreeRoot::hash_tree_root(a),
    }
}

/// The seen-cache key of a validated full message (`message_hash`, `hash`).
fn validated_key(message: MessageHash, hash: Root) -> SeenKey {
    SeenKey::Validated(message.0, hash.0)
}

fn object_topic(object: &GossipObject) -> Topic {
    match object {
        GossipObject::Block(_) => Topic::Block,
        GossipObject::Attestation(_) => Topic::Attestation,
    }
}

fn object_ssz(object: &GossipObject) -> Bytes {
    match object {
        GossipObject::Block(b) => Bytes::from(b.as_ssz_bytes()),
        GossipObject::Attestation(a) => Bytes::from(a.as_ssz_bytes()),
    }
}

impl GossipRouter {
    /// A router (validate the config first).
    pub fn new(config: GossipConfig) -> Self {
        let seen = SeenCache::new(config.seen_capacity, config.seen_ttl);
        GossipRouter {
            config,
            seen,
            in_progress: HashMap::new(),
            strikes: HashMap::new(),
            stats: GossipStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> GossipStats {
        GossipStats {
            seen_entries: self.seen.len() as u64,
            ..self.stats
        }
    }

    /// Objects being imported or fetched.
    pub fn in_progress(&self) -> usize {
        self.in_progress.len()
    }

    /// Was the object `hash` seen? (A validated message's `message_hash` names its body, and the
    /// body decides the object, so a seen `message_hash` of a valid message is always a seen
    /// `hash` too: the object key alone answers, one lookup instead of two.)
    fn is_seen(&mut self, hash: Root, now: Instant) -> bool {
        self.seen.contains(&SeenKey::Object(hash.0), now)
    }

    fn mark_seen(&mut self, message: Option<MessageHash>, hash: Root, now: Instant) {
        if let Some(m) = message {
            self.seen.insert(validated_key(m, hash), now);
        }
        self.seen.insert(SeenKey::Object(hash.0), now);
    }

    fn invalid(&mut self, reason: Penalty) -> Verdict {
        self.stats.invalid += 1;
        Verdict::Invalid { reason }
    }

    fn duplicate(&mut self, peer: PeerId, hash: Root) -> Verdict {
        self.stats.duplicate += 1;
        if let Some(p) = self.in_progress.get_mut(&hash) {
            p.sources.insert(peer);
        }
        Verdict::Duplicate
    }

    /// A gossip message arrived from `peer`.
    pub fn on_gossip(
        &mut self,
        peer: PeerId,
        header: GossipHeader,
        body: Bytes,
        now: Instant,
    ) -> Verdict {
        self.stats.received += 1;
        let envelope = GossipEnvelope { header, body };
        let hash = envelope.header.hash;
        if envelope.is_announcement() {
            if self.in_progress.contains_key(&hash) || self.is_seen(hash, now) {
                return self.duplicate(peer, hash);
            }
            if self.in_progress.len() >= self.config.max_in_progress {
                self.stats.overloaded += 1;
                return Verdict::Overloaded;
            }
            self.in_progress.insert(
                hash,
                InProgress {
                    sources: HashSet::from([peer]),
                    message: None,
                },
            );
            return Verdict::Fetch {
                hash,
                topic: envelope.header.topic,
                peer,
            };
        }
        // Validate first: nothing below this block may touch the seen-cache for a lying frame.
        if !envelope.message_hash_matches() {
            return self.invalid(Penalty::MessageHashMismatch);
        }
        // A copy of a message already validated is a duplicate without decoding or hashing the
        // object again (a flood of copies costs one SHA-256 each): its body is byte-for-byte one
        // already validated (its SHA-256 is a validated `message_hash`) AND it names that body's
        // `hash` (keyed on the pair, so a seen body under another object's hash is still
        // checked and penalised). Read-only: a frame that fails here is fully validated below.
        let message = envelope.header.message_hash;
        if self.seen.contains(&validated_key(message, hash), now) {
            return self.duplicate(peer, hash);
        }
        let object = match envelope.decode_object() {
            Ok(Some(o)) => o,
            Ok(None) => return self.invalid(Penalty::HashMismatch),
            Err(e) => {
                return self.invalid(Penalty::UndecodableBody {
                    reason: e.to_string(),
                })
            }
        };
        let (object, root) = CheckedObject::new(object);
        if root != hash {
            return self.invalid(Penalty::HashMismatch);
        }
        let message = Some(message);
        if self.in_progress.contains_key(&hash) || self.is_seen(hash, now) {
            return self.duplicate(peer, hash);
        }
        if self.in_progress.len() >= self.config.max_in_progress {
            self.stats.overloaded += 1;
            return Verdict::Overloaded;
        }
        self.mark_seen(message, hash, now);
        self.in_progress.insert(
            hash,
            InProgress {
                sources: HashSet::from([peer]),
                message: Some(envelope),
            },
        );
        Verdict::Import { hash, object }
    }

    /// The block being imported under `hash`, decoded again from the full message kept for its
    /// relay (what sync needs of an orphan; `None` when nothing is in progress under `hash`).
    pub fn block_in_progress(&self, hash: &Root) -> Option<BeaconBlock> {
        let message = self.in_progress.get(hash)?.message.as_ref()?;
        (message.header.topic == Topic::Block)
            .then(|| BeaconBlock::from_ssz_bytes(&message.body).ok())
            .flatten()
    }

    /// The store already had an announced object: nothing to fetch.
    pub fn on_fetch_known(&mut self, hash: Root, now: Instant) {
        if self.in_progress.remove(&hash).is_some() {
            self.stats.already_known += 1;
            self.seen.insert(SeenKey::Object(hash.0), now);
        }
    }

    /// The fetch of an announced object ended: `Some` object when the peer served one. Returns
    /// the import to do, or `None` (not served, or not the object announced).
    pub fn on_fetched(
        &mut self,
        hash: Root,
        object: Option<GossipObject>,
        now_ms: u64,
        now: Instant,
    ) -> Option<Verdict> {
        let object = object
            .map(CheckedObject::new)
            .filter(|(_, root)| *root == hash)
            .map(|(o, _)| o);
        let Some(object) = object else {
            if self.in_progress.remove(&hash).is_some() {
                self.stats.fetch_failed += 1;
            }
            return None;
        };
        let entry = self.in_progress.get_mut(&hash)?;
        let envelope = GossipEnvelope::new(object.topic(), hash, object.ssz(), now_ms);
        let message = Some(envelope.header.message_hash);
        entry.message = Some(envelope);
        self.stats.announced_fetched += 1;
        self.mark_seen(message, hash, now);
        Some(Verdict::Import { hash, object })
    }

    /// An import finished: the relay to do, if any.
    pub fn on_imported(
        &mut self,
        hash: Root,
        topic: Topic,
        verdict: &ImportVerdict,
    ) -> Option<Relay> {
        let entry = self.in_progress.remove(&hash)?;
        match verdict {
            ImportVerdict::Imported => {
                self.stats.imported += 1;
                match topic {
                    Topic::Block => self.stats.blocks_imported += 1,
                    Topic::Attestation => self.stats.attestations_imported += 1,
                }
                let envelope = entry.message?;
                self.stats.relayed += 1;
                Some(Relay {
                    envelope,
                    except: entry.sources,
                })
            }
            ImportVerdict::AlreadyKnown => {
                self.stats.already_known += 1;
                None
            }
            ImportVerdict::Orphan => {
                self.stats.orphans += 1;
                None
            }
            ImportVerdict::Invalid { .. } => {
                self.stats.invalid += 1;
                None
            }
            ImportVerdict::Failed => None,
        }
    }

    /// This node publishes `object` (already in the local store): the message for every peer.
    pub fn publish(&mut self, object: &GossipObject, now_ms: u64, now: Instant) -> Relay {
        let hash = object_hash(object);
        let body = if self.config.announce_only {
            Bytes::new()
        } else {
            object_ssz(object)
        };
        let envelope = GossipEnvelope::new(object_topic(object), hash, body, now_ms);
        let message = (!envelope.is_announcement()).then_some(envelope.header.message_hash);
        self.mark_seen(message, hash, now);
        self.stats.published += 1;
        Relay {
            envelope,
            except: HashSet::new(),
        }
    }

    /// A frame was queued to `peer` (`true`) or refused for a full queue (`false`). Returns true
    /// when the peer stayed slow for too long and must be disconnected.
    pub fn on_send(&mut self, peer: PeerId, queued: bool) -> bool {
        if queued {
            self.stats.frames_sent += 1;
            self.strikes.remove(&peer);
            return false;
        }
        self.stats.queue_full += 1;
        let s = self.strikes.entry(peer).or_insert(0);
        *s += 1;
        if *s >= self.config.slow_peer_strikes {
            self.strikes.remove(&peer);
            self.stats.slow_peers_disconnected += 1;
            return true;
        }
        false
    }

    /// A peer left.
    pub fn on_peer_disconnected(&mut self, peer: PeerId) {
        self.strikes.remove(&peer);
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
