//! Gossip: publishing this node's blocks and attestations, validating, deduplicating, importing
//! and relaying what peers gossip, and fetching announced objects by RPC (the spec's Flow).
//!
//! - [`cache`]: the bounded seen-cache with a TTL;
//! - [`router`]: the plain decisions ([`GossipRouter`]), tested without a runtime;
//! - [`actor`]: the [`GossipActor`] wrapper;
//! - [`events`]: `BlockImported`, `PeerPenalized` and their subscription, shared with sync;
//! - [`wiring`]: starts a node with its sync and gossip actors attached.

pub mod actor;
pub mod cache;
pub mod events;
pub mod router;
pub mod wiring;

pub use actor::{
    GetGossipStats, GossipActor, GossipLinks, PublishAttestation, PublishBlock, GOODBYE_SLOW_PEER,
};
pub use events::{BlockImported, ImportSource, PeerPenalized, PenaltyReason, SubscribeChainEvents};
pub use router::{
    CheckedObject, GossipConfig, GossipError, GossipRouter, GossipStats, ImportVerdict, Verdict,
};
pub use wiring::{start_node_with_sync_gossip, SyncGossip, SyncGossipConfig, SyncGossipError};
