//! The one penalty vocabulary of the node: [`Penalty`] names every offence a peer can be scored
//! for, whoever saw it (a session: framing, decoding, timeouts, rate limit; gossip: provably wrong
//! messages; sync: wrong responses), and [`PeerPenalized`] carries it to the `PeerManager`, whose
//! score book (`scoring.rs`) turns it into points and bans. Handles nothing.

use actix::prelude::*;

use crate::peer_table::PeerId;

/// An offence a peer is penalised for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Penalty {
    /// Bytes that do not frame (the connection is closed anyway).
    MalformedFrame {
        /// The codec's error.
        reason: String,
    },
    /// A whole frame whose message does not decode.
    BadMessage {
        /// What did not decode, and why.
        reason: String,
    },
    /// No HELLO within the handshake timeout, or a frame left incomplete too long.
    Timeout {
        /// Which timeout.
        reason: String,
    },
    /// An RPC request over the per-peer rate limit.
    RateLimited {
        /// The method refused.
        reason: String,
    },
    /// Gossip: `message_hash` is not the SHA-256 of the body.
    MessageHashMismatch,
    /// Gossip: the body does not decode as the topic's object.
    UndecodableBody {
        /// Decoder error.
        reason: String,
    },
    /// Gossip: `hash` is not the hash_tree_root of the object.
    HashMismatch,
    /// Gossip: an object the store refuses as invalid (not merely unknown parent or duplicate).
    InvalidObject {
        /// Store error.
        reason: String,
    },
    /// Sync: a response that breaks the rules (wrong blocks, broken links).
    BadSyncResponse {
        /// What was wrong.
        reason: String,
    },
}

/// A peer committed an offence (sessions, gossip and sync → the peer manager).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct PeerPenalized {
    /// The peer.
    pub peer: PeerId,
    /// What it did.
    pub penalty: Penalty,
}
