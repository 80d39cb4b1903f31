//! Chain events: [`BlockProduced`] (the producer, after the local import → gossip publishes it),
//! [`BlockImported`] (sync and gossip → their subscribers: embedders, testnets), and
//! [`OrphanBlockReceived`] (gossip → sync, which looks up the parents). [`SubscribeChainEvents`]
//! is handled by the sync and gossip actors; [`ChainEventSubscribers`] is the list each keeps.
//! Plain data and a recipient list; handles nothing.

use actix::prelude::*;
use hobbits_chain::store::{Head, ImportOutcome};
use hobbits_chain::BeaconBlock;

use super::penalty::PeerPenalized;
use crate::peer_table::PeerId;

/// The local producer made a block and the local store imported it.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct BlockProduced {
    /// The block.
    pub block: BeaconBlock,
    /// What the import did (roots, head).
    pub outcome: ImportOutcome,
}

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

/// A block from gossip whose parent the store does not know (gossip → sync).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct OrphanBlockReceived {
    /// Who sent it.
    pub peer: PeerId,
    /// The block.
    pub block: BeaconBlock,
}

/// Command: receive chain events (every field optional; delivered with try_send). Handled by the
/// sync and gossip actors.
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
