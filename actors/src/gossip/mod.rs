//! Gossip: publishing this node's blocks and attestations, validating, deduplicating, importing
//! and relaying what peers gossip, and fetching announced objects by RPC (the spec's Flow).
//!
//! - [`cache`]: the bounded seen-cache with a TTL;
//! - [`router`]: the plain decisions ([`GossipRouter`]), tested without a runtime;
//! - [`actor`]: the [`GossipActor`] wrapper.
//!
//! The events gossip receives and publishes (`GossipReceived`, `BlockImported`, `PeerPenalized`,
//! `OrphanBlockReceived`) are in `crate::events`, shared with the other actors.

pub mod actor;
pub mod cache;
pub mod overlay;
pub mod router;

pub use actor::{
    GetGossipStats, GetOverlayStats, GossipActor, GossipLinks, PublishAttestation, PublishBlock,
};
pub use router::{
    CheckedObject, GossipConfig, GossipError, GossipRouter, GossipStats, ImportVerdict, Verdict,
};
