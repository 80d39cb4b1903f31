//! Events sync and gossip publish for embedders, testnets and metrics: [`BlockImported`] (with
//! the new head when it changed) and [`PeerPenalized`] (a peer sent something provably wrong; the
//! node may disconnect or ban it). Subscribe with `SubscribeChainEvents` on either actor.

use actix::prelude::*;
use hobbits_chain::store::{Head, ImportOutcome};

use crate::peer_table::PeerId;

/// How a block reached this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportSource {
    /// Produced here.
    Produced,
    /// Received by gossip (full body).
    Gossip,
    /// Announced by gossip and fetched by RPC.
    Announced,
    /// Range sync.
    RangeSync,
    /// Parent lookup of an orphan.
    ParentLookup,
}

/// A block entered the local store.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct BlockImported {
    /// Roots, slot, head after the import.
    pub outcome: ImportOutcome,
    /// How it came.
    pub source: ImportSource,
    /// The sender, when it came from a peer.
    pub from: Option<PeerId>,
}

impl BlockImported {
    /// The new head, when this import moved it.
    pub fn new_head(&self) -> Option<Head> {
        self.outcome.head_changed.then_some(self.outcome.head)
    }
}

/// Why a peer was penalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PenaltyReason {
    /// `message_hash` is not the SHA-256 of the body.
    MessageHashMismatch,
    /// The body does not decode as the topic's object.
    UndecodableBody {
        /// Decoder error.
        reason: String,
    },
    /// `hash` is not the hash_tree_root of the object.
    HashMismatch,
    /// An object the store refuses as invalid (not merely unknown parent or duplicate).
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

/// A peer sent something provably wrong.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct PeerPenalized {
    /// The peer.
    pub peer: PeerId,
    /// Why.
    pub reason: PenaltyReason,
}

/// Command: receive chain events (every field optional; delivered with try_send).
#[derive(Debug, Default, Message)]
#[rtype(result = "()")]
pub struct SubscribeChainEvents {
    /// Every block imported by this actor.
    pub imported: Option<Recipient<BlockImported>>,
    /// Every penalty this actor issues.
    pub penalized: Option<Recipient<PeerPenalized>>,
}

/// Recipients of chain events.
#[derive(Debug, Default, Clone)]
pub struct ChainEventSubscribers {
    imported: Vec<Recipient<BlockImported>>,
    penalized: Vec<Recipient<PeerPenalized>>,
    /// Events dropped on full mailboxes.
    pub dropped: u64,
}

impl ChainEventSubscribers {
    /// Adds the recipients of a subscription.
    pub fn add(&mut self, msg: SubscribeChainEvents) {
        self.imported.extend(msg.imported);
        self.penalized.extend(msg.penalized);
    }

    /// Publishes an import.
    pub fn imported(&mut self, event: &BlockImported) {
        for r in &self.imported {
            if r.try_send(event.clone()).is_err() {
                self.dropped += 1;
            }
        }
    }

    /// Publishes a penalty.
    pub fn penalized(&mut self, event: &PeerPenalized) {
        for r in &self.penalized {
            if r.try_send(event.clone()).is_err() {
                self.dropped += 1;
            }
        }
    }
}
