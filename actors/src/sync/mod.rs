//! Sync: catching up with peers that are ahead (range sync by GET_BLOCK_HEADERS then
//! GET_BLOCK_BODIES, in batches spread over peers) and resolving orphan blocks from gossip (parent
//! lookup by root, bounded in depth).
//!
//! - [`machine`]: the plain state machine ([`SyncMachine`]): events in, [`SyncAction`]s out; no
//!   runtime, tested by the rig in `tests/`. Its range sync is in `range.rs`, its parent lookups
//!   in `lookup.rs`, its public types in [`types`].
//! - [`actor`]: the [`SyncActor`] wrapper: feeds peer events and RPC results to the machine,
//!   performs its requests and imports.
//! - [`roots`]: sync through block roots for ETH dialect peers (roots, headers, bodies by root),
//!   a round per peer and poll.

pub mod actor;
mod lookup;
pub mod machine;
mod range;
pub mod roots;
#[cfg(test)]
mod tests;
pub mod types;

pub use actor::{GetSyncState, SyncActor, SyncLinks};
pub use machine::{
    BatchId, ImportResult, LocalStatus, LookupId, PeerStatus, SyncAction, SyncConfig, SyncError,
    SyncMachine, SyncRequestId, SyncState, SyncStats, SyncStatus,
};
