//! Deterministic genesis from configuration: every node with the same `GenesisConfig` builds the
//! same genesis block and state, hence the same genesis root. No messages are handled or sent here.
//!
//! The genesis block (our own format, documented in docs/PROTOCOL.md "Chain store"):
//! - `slot` 0, `parent_root` zero, `signature` zero;
//! - `state_root`: `genesis_state_root` when configured, else the hash_tree_root of the genesis
//!   state (a `BeaconState` with `genesis_time` set and everything else zero);
//! - `body.graffiti`: `"hobbits-genesis"` then zeros, with byte 30 = network_id, byte 31 = chain_id;
//! - `body.eth1_data.block_hash`: sha256("hobbits-genesis" ‖ network_id ‖ chain_id ‖
//!   genesis_time seconds as u64 big-endian ‖ state_root), so every field changes the root.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::ChainError;
use crate::types::{BeaconBlock, BeaconState, Root};

const GENESIS_TAG: &[u8] = b"hobbits-genesis";

/// Latest accepted genesis time: 2200-01-01 in Unix seconds (a larger value is most likely
/// milliseconds passed as seconds).
pub const MAX_GENESIS_TIME_SECS: u64 = 7_258_118_400;

/// Why a genesis configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// `genesis_time` is past 2200: probably milliseconds instead of seconds.
    #[error("genesis time {secs}s is after year 2200 (milliseconds given as seconds?)")]
    GenesisTimeTooLate {
        /// The time given, in seconds.
        secs: u64,
    },
    /// `genesis_time` has a fraction of a second: nodes rounding differently would disagree.
    #[error("genesis time must be whole seconds, got {nanos} extra nanoseconds")]
    FractionalGenesisTime {
        /// The sub-second part.
        nanos: u32,
    },
    /// An explicit genesis state root of zero (zero means "none" on the wire).
    #[error("genesis state root must not be zero (leave it unset to derive it)")]
    ZeroStateRoot,
    /// The store configuration was refused.
    #[error(transparent)]
    Store(#[from] ChainError),
}

/// What defines a chain's genesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesisConfig {
    /// Network id announced in HELLO and mixed into the genesis block.
    pub network_id: u8,
    /// Chain id announced in HELLO and mixed into the genesis block.
    pub chain_id: u8,
    /// Genesis time since the Unix epoch, whole seconds.
    pub genesis_time: Duration,
    /// The genesis state root; `None` derives it from the genesis state built from `genesis_time`.
    pub genesis_state_root: Option<Root>,
}

impl GenesisConfig {
    /// A validated configuration.
    pub fn new(
        network_id: u8,
        chain_id: u8,
        genesis_time: Duration,
        genesis_state_root: Option<Root>,
    ) -> Result<Self, GenesisError> {
        let config = GenesisConfig {
            network_id,
            chain_id,
            genesis_time,
            genesis_state_root,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), GenesisError> {
        let secs = self.genesis_time.as_secs();
        if secs > MAX_GENESIS_TIME_SECS {
            return Err(GenesisError::GenesisTimeTooLate { secs });
        }
        let nanos = self.genesis_time.subsec_nanos();
        if nanos != 0 {
            return Err(GenesisError::FractionalGenesisTime { nanos });
        }
        if self.genesis_state_root.is_some_and(|r| r.is_zero()) {
            return Err(GenesisError::ZeroStateRoot);
        }
        Ok(())
    }

    /// Builds the genesis block and state.
    pub fn build(&self) -> Result<Genesis, GenesisError> {
        self.validate()?;
        let secs = self.genesis_time.as_secs();
        let state = BeaconState {
            genesis_time: secs,
            ..BeaconState::default()
        };
        let state_root = self
            .genesis_state_root
            .unwrap_or_else(|| state.hash_tree_root());
        let mut block = BeaconBlock {
            state_root,
            ..BeaconBlock::default()
        };
        let mut graffiti = [0u8; 32];
        graffiti[..GENESIS_TAG.len()].copy_from_slice(GENESIS_TAG);
        graffiti[30] = self.network_id;
        graffiti[31] = self.chain_id;
        block.body.graffiti = graffiti;
        let mut h = Sha256::new();
        h.update(GENESIS_TAG);
        h.update([self.network_id, self.chain_id]);
        h.update(secs.to_be_bytes());
        h.update(state_root.0);
        block.body.eth1_data.block_hash = Root(h.finalize().into());
        let root = block.signing_root();
        Ok(Genesis { block, state, root })
    }
}

/// The genesis block and state of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genesis {
    /// The genesis block.
    pub block: BeaconBlock,
    /// The genesis state (its root is the block's `state_root` unless one was configured).
    pub state: BeaconState,
    /// signing_root of the genesis block: the chain's identity.
    pub root: Root,
}
