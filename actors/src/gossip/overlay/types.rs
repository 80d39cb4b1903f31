//! The vocabulary of the gossip overlay router: its configuration ([`OverlayConfig`], validated
//! into [`OverlayError`]), what it is told about a peer ([`PeerKind`]), what it answers
//! ([`Action`], [`Arrival`], [`OverlayPenalty`]) and its counters ([`OverlayStats`]). Plain data:
//! no messages handled or sent.

use std::time::Duration;

use hobbits_codec::{ControlError, ControlMessage, GossipHeader, MessageHash, Origin};

/// Why an overlay configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverlayError {
    /// A bound or duration that must be positive is zero.
    #[error("overlay config `{field}` must be positive")]
    Zero {
        /// The field.
        field: &'static str,
    },
    /// Two fields contradict each other.
    #[error("overlay config `{field}`: {reason}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
}

/// Tuning of the overlay (docs/PROTOCOL.md, "Gossip overlay", gives the reasons for the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayConfig {
    /// Plain flood, the 2019 behaviour: every object to every peer but its senders, no control
    /// message sent, control messages received ignored. Default false.
    pub flood: bool,
    /// One push tree per publisher (the GOSSIP header `origin`) rather than one tree for all
    /// objects; objects without an origin share one tree either way. Default true.
    pub tree_per_origin: bool,
    /// Objects without an `origin` (published by 2019 flood nodes) are pushed to every peer,
    /// as flood does, rather than on one tree shared by all of them. Default true.
    pub flood_without_origin: bool,
    /// How long an object announced by IHAVE may stay missing before it is asked for (IWANT and
    /// GRAFT to the first announcer). Longer than one link latency, so that the pushed copy, when
    /// it is only late, wins. Default 150 ms.
    pub graft_timeout: Duration,
    /// An object announced (IHAVE) at least this long before its parent pushed it moves its
    /// tree to the announcer (GRAFT): the announcer is closer to the origin. Default 5 ms.
    pub graft_margin: Duration,
    /// How long an asked peer has to send the object before the next announcer is asked (IWANT)
    /// and the first one is penalised for a broken promise. Default 400 ms.
    pub request_timeout: Duration,
    /// Announcers remembered per missing object. Default 8.
    pub max_announcers: usize,
    /// Missing objects tracked at once; announcements beyond are ignored. Default 4096.
    pub max_missing: usize,
    /// Objects remembered (for duplicates, trees and answers to IWANT). Default 8192.
    pub message_capacity: usize,
    /// How long an object is remembered. Default 60 s.
    pub message_ttl: Duration,
    /// Push trees kept (one per origin); the least recently used is forgotten. Default 1024.
    pub max_trees: usize,
    /// Hashes waiting per peer for the next IHAVE; the oldest are dropped beyond. Default 2048.
    pub max_pending_ihave: usize,
    /// Lazy peers an object is announced to (IHAVE), at most: a different subset for each
    /// object (rotating by its hash), so that every peer still hears of most objects from
    /// several neighbours. Default 4 (docs/BENCHMARKS.md, "Gossip overlay at 100 nodes": on a
    /// mesh of degree 8 announcing to every lazy peer put the control bytes at 24% of the bytes
    /// saved; 4 keeps repair and delivery and brings them under 20%).
    pub max_ihave_peers: usize,
    /// Objects asked from one peer (GRAFT / IWANT) and not yet received. Default 64.
    pub max_outstanding_per_peer: usize,
    /// The window of the per-peer control limits below. Default 1 s.
    pub control_window: Duration,
    /// Control frames accepted from one peer per window; one more is dropped and penalised.
    /// Default 200 (an honest peer sends at most four per tick, ten ticks a second).
    pub max_control_frames: u32,
    /// IHAVE hashes taken from one peer per window; more are ignored. Default 8192.
    pub max_ihave_hashes: u32,
    /// Objects sent to one peer per window in answer to IWANT; more are not sent.
    /// Default 512.
    pub max_served: u32,
    /// Times one peer may ask for the same object. Default 3.
    pub max_asks_per_object: u8,
}

impl Default for OverlayConfig {
    fn default() -> Self {
        OverlayConfig {
            flood: false,
            tree_per_origin: true,
            flood_without_origin: true,
            graft_timeout: Duration::from_millis(150),
            graft_margin: Duration::from_millis(5),
            request_timeout: Duration::from_millis(400),
            max_announcers: 8,
            max_missing: 4096,
            message_capacity: 8192,
            message_ttl: Duration::from_secs(60),
            max_trees: 1024,
            max_pending_ihave: 2048,
            max_ihave_peers: 4,
            max_outstanding_per_peer: 64,
            control_window: Duration::from_secs(1),
            max_control_frames: 200,
            max_ihave_hashes: 8192,
            max_served: 512,
            max_asks_per_object: 3,
        }
    }
}

impl OverlayConfig {
    /// The 2019 behaviour: plain flood, no control messages.
    pub fn flood() -> Self {
        OverlayConfig {
            flood: true,
            ..OverlayConfig::default()
        }
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), OverlayError> {
        let durations = [
            ("graft_timeout", self.graft_timeout),
            ("request_timeout", self.request_timeout),
            ("message_ttl", self.message_ttl),
            ("control_window", self.control_window),
        ];
        if let Some((field, _)) = durations.iter().find(|(_, d)| d.is_zero()) {
            return Err(OverlayError::Zero { field });
        }
        let bounds = [
            ("max_announcers", self.max_announcers as u64),
            ("max_missing", self.max_missing as u64),
            ("message_capacity", self.message_capacity as u64),
            ("max_trees", self.max_trees as u64),
            ("max_pending_ihave", self.max_pending_ihave as u64),
            ("max_ihave_peers", self.max_ihave_peers as u64),
            (
                "max_outstanding_per_peer",
                self.max_outstanding_per_peer as u64,
            ),
            ("max_control_frames", u64::from(self.max_control_frames)),
            ("max_ihave_hashes", u64::from(self.max_ihave_hashes)),
            ("max_served", u64::from(self.max_served)),
            ("max_asks_per_object", u64::from(self.max_asks_per_object)),
        ];
        if let Some((field, _)) = bounds.iter().find(|(_, n)| *n == 0) {
            return Err(OverlayError::Zero { field });
        }
        if self.message_ttl <= self.request_timeout {
            return Err(OverlayError::Invalid {
                field: "message_ttl",
                reason: "must be longer than request_timeout, or answers are forgotten first",
            });
        }
        Ok(())
    }
}

/// What the router reads of a gossiped object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectMeta {
    /// Its `message_hash`: the id control messages use.
    pub id: MessageHash,
    /// Its `origin` header: the tree it travels on (none from 2019 clients).
    pub origin: Option<Origin>,
    /// Its `timestamp` (ms, the publisher's clock): orders the objects of one origin, so that a
    /// late copy of an old object does not reshape the tree.
    pub timestamp_ms: u64,
}

impl ObjectMeta {
    /// Reads it from a GOSSIP header (an `origin` that is not an integer is an error).
    pub fn of_header(header: &GossipHeader) -> Result<Self, ControlError> {
        Ok(ObjectMeta {
            id: header.message_hash,
            origin: Origin::read(header)?,
            timestamp_ms: header.timestamp_ms,
        })
    }
}

/// What is known of a peer when it is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerKind {
    /// A 2019 flood peer (its HELLO does not advertise the overlay): every object is pushed to it,
    /// no control message is sent to it, and any it sends is ignored.
    Flood,
    /// Its HELLO advertised the overlay: objects travel to it on the push trees, and control
    /// messages are exchanged.
    Overlay,
    /// Not known yet: treated as a flood peer until it sends a valid control message, which makes
    /// it an overlay peer.
    Unknown,
}

/// Whether an object seen by [`Overlay::on_object`](super::Overlay::on_object) is new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arrival {
    /// First copy: validate it, then report with `on_validated` or `on_rejected`.
    New,
    /// Seen already: drop it (a PRUNE to its sender may follow at the next tick).
    Duplicate,
}

/// Why the overlay asks for a peer to be penalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverlayPenalty {
    /// More control frames within one window than `max_control_frames`.
    ControlFlood {
        /// Frames received within the window (the limit plus one).
        frames: u32,
        /// The window.
        window: Duration,
    },
    /// The peer announced an object (IHAVE), was asked for it and did not send it within
    /// `request_timeout`.
    BrokenPromise {
        /// The object.
        id: MessageHash,
    },
}

/// What the owner of the router must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action<P, O> {
    /// Send the object (its GOSSIP frame) to each of `to`.
    SendObject {
        /// The recipients, in order.
        to: Vec<P>,
        /// Its `message_hash`.
        id: MessageHash,
        /// The object handle given to the router.
        object: O,
    },
    /// Send a control message.
    SendControl {
        /// The recipient.
        to: P,
        /// The message (within the codec's caps).
        message: ControlMessage,
    },
    /// Penalise a peer.
    Penalize {
        /// The peer.
        peer: P,
        /// Why.
        reason: OverlayPenalty,
    },
}

/// Counters of one router.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OverlayStats {
    /// First copies of objects received from peers.
    pub received: u64,
    /// Copies received of objects already seen.
    pub duplicates: u64,
    /// Objects published (or injected) here.
    pub published: u64,
    /// Object sends pushed eagerly (one per recipient).
    pub pushed: u64,
    /// Object sends in answer to IWANT (one per recipient).
    pub served: u64,
    /// Asks not answered: the peer's per-window budget or per-object asks were spent.
    pub serve_refused: u64,
    /// Control frames sent, by verb: PRUNE, GRAFT, IHAVE, IWANT.
    pub control_sent: [u64; 4],
    /// Hashes carried by the control frames sent, by verb.
    pub hashes_sent: [u64; 4],
    /// Bytes of the control frames sent, by verb (each frame as the codec writes it: prefix,
    /// header and body).
    pub control_bytes_sent: [u64; 4],
    /// Control frames received and acted upon.
    pub control_received: u64,
    /// ...by verb: PRUNE, GRAFT, IHAVE, IWANT.
    pub control_received_by_verb: [u64; 4],
    /// Bytes of those frames, by verb (as the codec writes them: our peers write the same bytes;
    /// a frame in Artemis' header-hash shape is counted as we would write it).
    pub control_bytes_received: [u64; 4],
    /// Control frames ignored (from a flood peer, or received in flood mode, or over a limit).
    pub control_ignored: u64,
    /// Missing objects that arrived after being asked for.
    pub repaired: u64,
    /// Trees moved to a peer that announced an object sooner than the parent pushed it.
    pub moved: u64,
    /// Missing objects given up (every announcer asked, none sent it).
    pub gave_up: u64,
    /// Announcements or hashes dropped at a bound (missing table, pending IHAVE, window budget).
    pub dropped_at_bound: u64,
    /// Penalties asked for.
    pub penalties: u64,
    /// Objects remembered now (a gauge).
    pub messages: u64,
    /// Push trees kept now (a gauge).
    pub trees: u64,
    /// Missing objects tracked now (a gauge).
    pub missing: u64,
}
