//! `ChainError`: why the chain store refused a block, an attestation, a configuration or a state.
//! No messages are handled or sent here.

use crate::types::{Checkpoint, Root, Slot};

/// A refusal by the chain store. Never a panic: every bad input maps to one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The block's parent is unknown (an orphan): fetch `parent_root` and its ancestors, then retry.
    #[error("block {root} at slot {slot} has unknown parent {parent_root}")]
    UnknownParent {
        /// signing_root of the orphan.
        root: Root,
        /// Slot of the orphan.
        slot: Slot,
        /// The missing parent's root (what sync should request).
        parent_root: Root,
    },
    /// A block with this signing_root is already stored.
    #[error("block {root} is already known")]
    AlreadyKnown {
        /// signing_root of the block.
        root: Root,
    },
    /// The block's slot is not greater than its parent's.
    #[error("block {root} at slot {slot} is not after its parent's slot {parent_slot}")]
    SlotNotAfterParent {
        /// signing_root of the block.
        root: Root,
        /// Slot of the block.
        slot: Slot,
        /// Slot of the parent.
        parent_slot: Slot,
    },
    /// The block does not descend from the finalized block: it can never be part of our chain.
    #[error("block {root} at slot {slot} conflicts with finalized checkpoint {finalized:?}")]
    ConflictsWithFinality {
        /// signing_root of the block.
        root: Root,
        /// Slot of the block.
        slot: Slot,
        /// Our finalized checkpoint.
        finalized: Checkpoint,
    },
    /// The store holds its maximum number of blocks.
    #[error("chain store is full ({max} blocks)")]
    StoreFull {
        /// The configured maximum.
        max: usize,
    },
    /// A finalized checkpoint that is unknown or goes backwards.
    #[error("invalid finalized checkpoint {checkpoint:?}: {reason}")]
    InvalidFinalized {
        /// The checkpoint refused.
        checkpoint: Checkpoint,
        /// Why.
        reason: &'static str,
    },
    /// The persistent store could not write (the block was not imported; memory is unchanged).
    #[error("chain store storage failure: {reason}")]
    Storage {
        /// What failed.
        reason: String,
    },
    /// The store configuration is invalid.
    #[error("invalid chain store configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
}

impl ChainError {
    /// For an orphan, the missing parent to fetch.
    pub fn missing_parent(&self) -> Option<Root> {
        match self {
            ChainError::UnknownParent { parent_root, .. } => Some(*parent_root),
            _ => None,
        }
    }
}
