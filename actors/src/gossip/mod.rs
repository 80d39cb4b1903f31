//! Gossip: publishing this node's blocks and attestations, validating, deduplicating, importing
//! and relaying what peers gossip, and fetching announced objects by RPC (the spec's Flow).
//!
//! - [`events`]: `BlockImported`, `PeerPenalized` and their subscription, shared with sync.
pub mod events;
