//! The public vocabulary of sync: [`SyncConfig`] (validated, [`SyncError`]), the ids of requests,
//! batches and lookups, the peer and local statuses fed to the machine, the [`SyncAction`]s it
//! returns, [`ImportResult`] (the store's) reported back, and [`SyncState`] / [`SyncStats`] / [`SyncStatus`]
//! answered to `GetSyncState`. Plain data: no messages handled or sent here.

use std::fmt;

use hobbits_chain::rpc::Hello;
use hobbits_chain::{BeaconBlock, Epoch, Slot};

use crate::peer_table::PeerId;
use crate::rpc::RpcRequest;
pub use crate::store::ImportResult;

/// Why a sync configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// A count that must be positive is zero, or one above its ceiling.
    #[error("sync config `{field}` must be in {min}..={max}, got {value}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// Lowest accepted.
        min: u64,
        /// Highest accepted.
        max: u64,
        /// Given.
        value: u64,
    },
}

/// Tuning of sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    /// Slots per batch (one GET_BLOCK_HEADERS + one GET_BLOCK_BODIES). Default 32 (≤ the 64
    /// items a node serves per response by default). 1..=1024.
    pub batch_size: u64,
    /// Batches requested or waiting for import at once (the look-ahead window). Default 8.
    pub max_batches: usize,
    /// Requests one peer has outstanding for sync at once. Default 2.
    pub requests_per_peer: usize,
    /// Attempts of one batch before the range sync restarts from the last imported slot.
    /// Default 5.
    pub max_batch_attempts: u32,
    /// Parents fetched for one orphan before the lookup gives up. Default 32.
    pub max_lookup_depth: usize,
    /// Parent lookups running at once; more orphans are dropped (counted). Default 16.
    pub max_lookups: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            batch_size: 32,
            max_batches: 8,
            requests_per_peer: 2,
            max_batch_attempts: 5,
            max_lookup_depth: 32,
            max_lookups: 16,
        }
    }
}

impl SyncConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), SyncError> {
        let check = |field, value: u64, min, max| {
            if value < min || value > max {
                Err(SyncError::OutOfRange {
                    field,
                    min,
                    max,
                    value,
                })
            } else {
                Ok(())
            }
        };
        check("batch_size", self.batch_size, 1, 1024)?;
        check("max_batches", self.max_batches as u64, 1, 1024)?;
        check("requests_per_peer", self.requests_per_peer as u64, 1, 64)?;
        check(
            "max_batch_attempts",
            u64::from(self.max_batch_attempts),
            1,
            1000,
        )?;
        check("max_lookup_depth", self.max_lookup_depth as u64, 1, 1024)?;
        check("max_lookups", self.max_lookups as u64, 1, 1024)
    }
}

/// Id of a request sync sent (matches the result to the batch or lookup).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SyncRequestId(pub u64);

/// Id of a range batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchId(pub u64);

/// Id of a parent lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub u64);

/// What a peer told us about its chain (from its HELLO, raised by what it gossips).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerStatus {
    /// Its latest finalized epoch.
    pub finalized_epoch: Epoch,
    /// Its best slot.
    pub best_slot: Slot,
}

impl From<&Hello> for PeerStatus {
    fn from(h: &Hello) -> Self {
        PeerStatus {
            finalized_epoch: h.latest_finalized_epoch,
            best_slot: h.best_slot,
        }
    }
}

/// Our own chain, as the store reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalStatus {
    /// Our finalized epoch.
    pub finalized_epoch: Epoch,
    /// Our head slot.
    pub head_slot: Slot,
}

impl From<&Hello> for LocalStatus {
    fn from(h: &Hello) -> Self {
        LocalStatus {
            finalized_epoch: h.latest_finalized_epoch,
            head_slot: h.best_slot,
        }
    }
}

/// What the machine asks its driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncAction {
    /// Send `request` to `peer`; report the result with [`SyncMachine::on_response`](super::SyncMachine::on_response).
    SendRequest {
        /// Id to report back.
        id: SyncRequestId,
        /// The peer.
        peer: PeerId,
        /// The request.
        request: RpcRequest,
    },
    /// Import these blocks in order; report with [`SyncMachine::on_batch_imported`](super::SyncMachine::on_batch_imported).
    ImportBatch {
        /// The batch.
        batch: BatchId,
        /// Parents first.
        blocks: Vec<BeaconBlock>,
    },
    /// Import the chain a lookup fetched (oldest first, the orphan last); report with
    /// [`SyncMachine::on_lookup_imported`](super::SyncMachine::on_lookup_imported).
    ImportLookup {
        /// The lookup.
        lookup: LookupId,
        /// Parents first.
        blocks: Vec<BeaconBlock>,
    },
    /// The peer sent garbage.
    PenalizePeer {
        /// The peer.
        peer: PeerId,
        /// What it did.
        reason: String,
    },
}

/// Where sync stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncState {
    /// No peer is ahead of us.
    Idle,
    /// Range sync running.
    Syncing {
        /// The best peer (the one whose best slot is the target).
        peer: PeerId,
        /// Slot we sync up to.
        target_slot: Slot,
        /// Every slot below this is imported (progress).
        imported_slot: Slot,
        /// First slot of this sync.
        start_slot: Slot,
        /// Peers serving batches.
        peers: usize,
        /// Batches requested or waiting.
        batches: usize,
    },
}

impl fmt::Display for SyncState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncState::Idle => f.write_str("idle"),
            SyncState::Syncing {
                peer,
                target_slot,
                imported_slot,
                ..
            } => write!(
                f,
                "syncing from {peer} to slot {target_slot} (imported below {imported_slot})"
            ),
        }
    }
}

/// Counters of sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Range syncs started.
    pub syncs_started: u64,
    /// Range syncs that reached their target.
    pub syncs_completed: u64,
    /// Batches imported.
    pub batches_imported: u64,
    /// Blocks handed to the store by batches.
    pub blocks_imported: u64,
    /// Batches retried (failed request, garbage, or not linking).
    pub batches_retried: u64,
    /// Range syncs restarted after a batch failed too often.
    pub restarts: u64,
    /// Responses refused as garbage.
    pub garbage: u64,
    /// Parent lookups started.
    pub lookups_started: u64,
    /// Parent lookups that imported their orphan.
    pub lookups_completed: u64,
    /// Parent lookups given up (depth, failures) or refused (too many).
    pub lookups_failed: u64,
}

/// Answer to `GetSyncState`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// The state.
    pub state: SyncState,
    /// Parent lookups running.
    pub lookups: usize,
    /// Counters.
    pub stats: SyncStats,
}
