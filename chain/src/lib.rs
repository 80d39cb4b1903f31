//! hobbits-chain: the beacon chain v0.8.1 SSZ containers and their roots ([`types`]), the Hobbits
//! RPC payload containers ([`rpc`]), and the chain store: the [`ChainRead`] and [`ChainStore`]
//! traits, the in-memory [`MemoryStore`], [`ObservedStore`], range queries with the skip_slots
//! rule ([`store`]); a deterministic [`genesis`], a [`producer`] of blocks and attestations for
//! local chains, and [`snapshot`]s of a store. With the `persistent` feature, `PersistentStore`
//! keeps the chain in a redb database. No network, no actix, no runtime.

#![warn(missing_docs, unreachable_pub)]

pub mod rpc;
pub mod types;

pub use types::*;

pub mod error;
pub mod store;

pub use error::ChainError;
pub use store::{
    AttestationImported, BlockRootSlot, ChainRead, ChainStore, FinalizedCheck, Head,
    ImportObserver, ImportOutcome, MemoryStore, ObservedStore, RangeRequest, ReadThrough,
    StoreConfig,
};
#[cfg(feature = "persistent")]
pub use store::{CommitDurability, PersistError, PersistentStore, CHAIN_DB_FILE};
pub mod genesis;
pub mod producer;

pub use genesis::{Genesis, GenesisConfig, GenesisError};
pub use producer::BlockProducer;
pub mod snapshot;

pub use snapshot::{Snapshot, SnapshotError};
