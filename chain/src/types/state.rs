//! `BeaconState` of spec v0.8.1 with the vector lengths of the **minimal** preset (SLOTS_PER_EPOCH 8,
//! SHARD_COUNT 8, 64-entry history vectors), enough to store and serve GET_BEACON_STATES. No state
//! transition reads it: the fields are carried as data. No messages are handled or sent here.

use ssz::BitVector;
use ssz_derive::{Decode, Encode};
use ssz_types::typenum::{U1024, U1099511627776, U16, U16777216, U4, U64, U8};
use ssz_types::{FixedVector, VariableList};
use tree_hash_derive::TreeHash;

use super::containers::{
    BeaconBlockHeader, Checkpoint, Crosslink, Eth1Data, Fork, Gwei, PendingAttestation, Shard,
    Validator,
};
use super::primitives::{Root, Slot};

/// SLOTS_PER_HISTORICAL_ROOT (minimal: 64).
pub type SlotsPerHistoricalRoot = U64;
/// HISTORICAL_ROOTS_LIMIT (2**24 in both presets).
pub type HistoricalRootsLimit = U16777216;
/// SLOTS_PER_ETH1_VOTING_PERIOD (minimal: 16).
pub type SlotsPerEth1VotingPeriod = U16;
/// VALIDATOR_REGISTRY_LIMIT (2**40 in both presets).
pub type ValidatorRegistryLimit = U1099511627776;
/// EPOCHS_PER_HISTORICAL_VECTOR (minimal: 64).
pub type EpochsPerHistoricalVector = U64;
/// EPOCHS_PER_SLASHINGS_VECTOR (minimal: 64).
pub type EpochsPerSlashingsVector = U64;
/// MAX_ATTESTATIONS * SLOTS_PER_EPOCH (minimal: 128 * 8).
pub type MaxPendingAttestations = U1024;
/// SHARD_COUNT (minimal: 8).
pub type ShardCount = U8;
/// JUSTIFICATION_BITS_LENGTH.
pub type JustificationBitsLength = U4;

/// The beacon state (minimal preset vector lengths).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct BeaconState {
    /// Genesis time, seconds since the Unix epoch.
    pub genesis_time: u64,
    /// Current slot.
    pub slot: Slot,
    /// Current fork.
    pub fork: Fork,
    /// Header of the latest block.
    pub latest_block_header: BeaconBlockHeader,
    /// Recent block roots (circular, one per slot).
    pub block_roots: FixedVector<Root, SlotsPerHistoricalRoot>,
    /// Recent state roots (circular, one per slot).
    pub state_roots: FixedVector<Root, SlotsPerHistoricalRoot>,
    /// Roots of past block/state root batches.
    pub historical_roots: VariableList<Root, HistoricalRootsLimit>,
    /// Current eth1 data.
    pub eth1_data: Eth1Data,
    /// Eth1 data votes of this voting period.
    pub eth1_data_votes: VariableList<Eth1Data, SlotsPerEth1VotingPeriod>,
    /// Index of the next deposit to process.
    pub eth1_deposit_index: u64,
    /// The validator registry.
    pub validators: VariableList<Validator, ValidatorRegistryLimit>,
    /// Balance of each validator (Gwei).
    pub balances: VariableList<Gwei, ValidatorRegistryLimit>,
    /// First shard of the current epoch's committees.
    pub start_shard: Shard,
    /// RANDAO mixes (circular, one per epoch).
    pub randao_mixes: FixedVector<Root, EpochsPerHistoricalVector>,
    /// Roots of active validator indices (circular, one per epoch).
    pub active_index_roots: FixedVector<Root, EpochsPerHistoricalVector>,
    /// Roots of compact committees (circular, one per epoch).
    pub compact_committees_roots: FixedVector<Root, EpochsPerHistoricalVector>,
    /// Slashed balances per epoch (circular).
    pub slashings: FixedVector<Gwei, EpochsPerSlashingsVector>,
    /// Attestations for the previous epoch.
    pub previous_epoch_attestations: VariableList<PendingAttestation, MaxPendingAttestations>,
    /// Attestations for the current epoch.
    pub current_epoch_attestations: VariableList<PendingAttestation, MaxPendingAttestations>,
    /// Crosslinks of the previous epoch, per shard.
    pub previous_crosslinks: FixedVector<Crosslink, ShardCount>,
    /// Crosslinks of the current epoch, per shard.
    pub current_crosslinks: FixedVector<Crosslink, ShardCount>,
    /// Justification of the last 4 epochs, one bit each.
    pub justification_bits: BitVector<JustificationBitsLength>,
    /// Previous justified checkpoint.
    pub previous_justified_checkpoint: Checkpoint,
    /// Current justified checkpoint.
    pub current_justified_checkpoint: Checkpoint,
    /// Finalized checkpoint.
    pub finalized_checkpoint: Checkpoint,
}

impl BeaconState {
    /// hash_tree_root of the state (what a block's `state_root` names).
    pub fn hash_tree_root(&self) -> Root {
        Root::from(tree_hash::TreeHash::tree_hash_root(self))
    }
}
