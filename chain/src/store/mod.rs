//! The chain store: the [`ChainRead`] (queries) and [`ChainStore`] (writes) traits an embedding
//! client can implement, [`ReadThrough`] for stores that wrap another, the in-memory
//! [`MemoryStore`], [`ObservedStore`] (a wrapper that reports imports), and the queries the RPC
//! methods need (block ranges with the skip_slots rule, roots by slot, bodies by roots, the
//! HELLO status). No messages are handled or sent here: the actors crate wraps a store in an
//! actor.
//!
//! Rules (documented in docs/PROTOCOL.md, "Chain store"):
//! - blocks are keyed by signing_root; a root given by a peer may be either the signing_root or the
//!   hash_tree_root (gossip announces the latter): [`ChainRead::resolve_root`] maps both;
//! - head: the highest-slot block descending from the finalized block, ties broken by the lower
//!   signing_root (byte order);
//! - finality: when the head enters epoch `E`, the epoch-boundary block of epoch
//!   `E - finality_depth` (the canonical block at or before that epoch's first slot) is finalized;
//!   finality only moves forward.

mod memory;
mod observed;
#[cfg(feature = "persistent")]
mod persistent;
mod range;

pub use memory::{MemoryStore, StoreConfig};
pub use observed::{BatchResult, ImportObserver, ObservedStore};
#[cfg(feature = "persistent")]
pub use persistent::{
    CommitDurability, PersistError, PersistentStore, CHAIN_DB_FILE, SCHEMA_VERSION,
};
pub use range::RangeRequest;

use crate::error::ChainError;
use crate::rpc::{
    AttestationResponse, BeaconStates, BlockBodies, BlockHeaders, GetAttestation, GetBeaconStates,
    GetBlockBodies, GetBlockHeaders, Hello,
};
use crate::types::{
    Attestation, BeaconBlock, BeaconBlockBody, BeaconBlockHeader, BeaconState, Checkpoint, Epoch,
    HashedBlock, Root, Slot,
};
use ssz_types::VariableList;

/// Most roots returned by [`ChainRead::block_roots`] (eth2 RPC: `count` ≤ 32768).
pub const MAX_ROOTS_PER_REQUEST: u64 = 32768;

/// The head of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Head {
    /// signing_root of the head block.
    pub root: Root,
    /// Slot of the head block.
    pub slot: Slot,
}

/// A block root with its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockRootSlot {
    /// signing_root of the block.
    pub root: Root,
    /// Slot of the block.
    pub slot: Slot,
}

/// What importing a block did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    /// signing_root of the imported block (its identity).
    pub root: Root,
    /// hash_tree_root of the imported block (its gossip hash).
    pub hash_tree_root: Root,
    /// Slot of the imported block.
    pub slot: Slot,
    /// True when the head changed (emit a "new head" event).
    pub head_changed: bool,
    /// True when the new head does not extend the previous head (a reorg).
    pub reorg: bool,
    /// The head after the import.
    pub head: Head,
    /// The new finalized checkpoint, when finality advanced.
    pub finalized: Option<Checkpoint>,
}

/// What importing an attestation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttestationImported {
    /// hash_tree_root of the attestation.
    pub hash: Root,
    /// False when it was already stored.
    pub is_new: bool,
}

/// Answer to "is this (root, epoch) in our canonical chain?" (the HELLO finality check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalizedCheck {
    /// The root is our epoch-boundary block of that epoch (or epoch 0 with a zero root).
    Matches,
    /// We have a different block at that epoch: the peer is on another chain.
    Conflicts,
    /// The epoch is beyond our head: we cannot tell yet (sync, don't disconnect).
    Unknown,
}

/// The read side of a chain store: the queries a store answers itself (required) and the RPC
/// answers and checks built on them (provided). Every [`ChainStore`] is one; a store that reads
/// through another implements [`ReadThrough`] instead of this trait.
pub trait ChainRead {
    /// The block with this root (signing_root or hash_tree_root).
    fn block(&self, root: &Root) -> Option<BeaconBlock>;

    /// The header of the block with this root (signing_root or hash_tree_root).
    fn header(&self, root: &Root) -> Option<BeaconBlockHeader>;

    /// The signing_root of the block a root names: itself if it is a known signing_root, the block
    /// whose hash_tree_root it is otherwise, `None` if unknown.
    fn resolve_root(&self, root: &Root) -> Option<Root>;

    /// The current head.
    fn head(&self) -> Head;

    /// signing_root of the genesis block.
    fn genesis_root(&self) -> Root;

    /// The finalized checkpoint.
    fn finalized_checkpoint(&self) -> Checkpoint;

    /// Slots per epoch of this chain.
    fn slots_per_epoch(&self) -> u64;

    /// The canonical block at the highest slot ≤ `slot`.
    fn canonical_at_or_before(&self, slot: Slot) -> Option<BlockRootSlot>;

    /// Canonical blocks with `start ≤ slot < end` in ascending slot order, at most `limit`.
    fn canonical_in_range(&self, start: Slot, end: Slot, limit: usize) -> Vec<BlockRootSlot>;

    /// The best block descending from `root` (itself included): highest slot, ties by lower root.
    fn best_descendant(&self, root: &Root) -> Option<Root>;

    /// Every block with slot ≤ `max_slot`, parents before children (ascending slot).
    fn blocks_in_slot_order(&self, max_slot: Slot) -> Vec<BeaconBlock>;

    /// Number of blocks stored.
    fn block_count(&self) -> usize;

    /// The attestation with this hash_tree_root.
    fn attestation(&self, hash: &Root) -> Option<Attestation>;

    /// The state with this hash_tree_root.
    fn state(&self, root: &Root) -> Option<BeaconState>;

    // ----- provided -----
    /// True if a block with this root (either kind) is stored.
    fn contains_block(&self, root: &Root) -> bool {
        self.resolve_root(root).is_some()
    }

    /// True if the block (either root) is on the canonical chain.
    fn is_canonical(&self, root: &Root) -> bool {
        let Some(signing_root) = self.resolve_root(root) else {
            return false;
        };
        let Some(header) = self.header(&signing_root) else {
            return false;
        };
        self.canonical_at_or_before(header.slot)
            .is_some_and(|b| b.root == signing_root)
    }

    /// Block signing_roots of a range query (see [`RangeRequest`] for the rules).
    fn range_roots(&self, request: &RangeRequest) -> Vec<Root> {
        range::select(self, request)
    }

    /// Answer to GET_BLOCK_HEADERS.
    fn block_headers(&self, request: &GetBlockHeaders) -> BlockHeaders {
        let roots = self.range_roots(&RangeRequest::from(request));
        let headers: Vec<BeaconBlockHeader> = roots.iter().filter_map(|r| self.header(r)).collect();
        BlockHeaders {
            headers: VariableList::new(headers).unwrap_or_default(),
        }
    }

    /// Answer to GET_BLOCK_BODIES (full blocks).
    fn block_bodies(&self, request: &GetBlockBodies) -> BlockBodies {
        let roots = self.range_roots(&RangeRequest::from(request));
        let blocks: Vec<BeaconBlock> = roots.iter().filter_map(|r| self.block(r)).collect();
        BlockBodies {
            bodies: VariableList::new(blocks).unwrap_or_default(),
        }
    }

    /// Canonical block roots with `start_slot ≤ slot < start_slot + count`, ascending;
    /// `count` is capped at [`MAX_ROOTS_PER_REQUEST`].
    fn block_roots(&self, start_slot: Slot, count: u64) -> Vec<BlockRootSlot> {
        let count = count.min(MAX_ROOTS_PER_REQUEST);
        let end = Slot(start_slot.0.saturating_add(count));
        self.canonical_in_range(start_slot, end, count as usize)
    }

    /// Bodies for the given roots (either kind), in request order; a zero-value body for an
    /// unknown root (eth2 RPC semantics).
    fn bodies_by_roots(&self, roots: &[Root]) -> Vec<BeaconBlockBody> {
        roots
            .iter()
            .map(|r| self.block(r).map(|b| b.body).unwrap_or_default())
            .collect()
    }

    /// The canonical epoch-boundary block of `epoch` (the block at or before its first slot),
    /// `None` when the epoch starts after our head.
    fn root_at_epoch_boundary(&self, epoch: Epoch) -> Option<Root> {
        let start = epoch.start_slot(self.slots_per_epoch());
        if start > self.head().slot {
            return None;
        }
        self.canonical_at_or_before(start).map(|b| b.root)
    }

    /// Is `(root, epoch)` — a peer's finalized checkpoint — in our canonical chain?
    fn check_finalized(&self, root: &Root, epoch: Epoch) -> FinalizedCheck {
        if epoch.0 == 0 && root.is_zero() {
            return FinalizedCheck::Matches;
        }
        match self.root_at_epoch_boundary(epoch) {
            None => FinalizedCheck::Unknown,
            Some(ours) if Some(ours) == self.resolve_root(root) => FinalizedCheck::Matches,
            Some(_) => FinalizedCheck::Conflicts,
        }
    }

    /// Our HELLO for the given network and chain ids.
    fn hello(&self, network_id: u8, chain_id: u8) -> Hello {
        let finalized = self.finalized_checkpoint();
        let head = self.head();
        Hello {
            network_id,
            chain_id,
            latest_finalized_root: finalized.root,
            latest_finalized_epoch: finalized.epoch,
            best_root: head.root,
            best_slot: head.slot,
        }
    }

    /// Answer to GET_ATTESTATION, if we have it.
    fn attestation_response(&self, request: &GetAttestation) -> Option<AttestationResponse> {
        self.attestation(&request.hash)
            .map(|attestation| AttestationResponse { attestation })
    }

    /// Answer to GET_BEACON_STATES: the states we have, in request order.
    fn beacon_states(&self, request: &GetBeaconStates) -> BeaconStates {
        let states: Vec<BeaconState> = request
            .hashes
            .iter()
            .filter_map(|h| self.state(h))
            .collect();
        BeaconStates {
            states: VariableList::new(states).unwrap_or_default(),
        }
    }
}

/// A chain store: the reads of [`ChainRead`] and the writes. [`MemoryStore`] is the provided
/// implementation; an embedding client can bring its own by implementing both traits (or
/// [`ReadThrough`] and this one, when it wraps another store).
pub trait ChainStore: ChainRead + Send {
    /// Imports a block after the checks: root not known, parent known, slot greater than the
    /// parent's, descends from the finalized block, room left.
    fn import_block(&mut self, block: BeaconBlock) -> Result<ImportOutcome, ChainError>;

    /// Stores an attestation under its hash_tree_root.
    fn import_attestation(
        &mut self,
        attestation: Attestation,
    ) -> Result<AttestationImported, ChainError>;

    /// Stores a state under its hash_tree_root and returns that root.
    fn insert_state(&mut self, state: BeaconState) -> Root;

    // ----- provided -----

    /// [`Self::import_block`] for a block whose body was already hashed (gossip checks the
    /// block's root first). A store may use the header to skip hashing the body again
    /// ([`MemoryStore`] and the `persistent` feature's `PersistentStore` do); this default
    /// imports the block.
    fn import_hashed_block(&mut self, block: HashedBlock) -> Result<ImportOutcome, ChainError> {
        self.import_block(block.into_parts().0)
    }

    /// Imports `blocks` in order, each with its own result, exactly as if imported one by one (a
    /// refused block does not stop the others). A store may do it in one transaction:
    /// `PersistentStore` does, and then `Err` means none of the batch was imported. This
    /// default imports one by one and never returns `Err`.
    fn import_blocks(
        &mut self,
        blocks: Vec<BeaconBlock>,
    ) -> Result<Vec<Result<ImportOutcome, ChainError>>, ChainError> {
        Ok(blocks.into_iter().map(|b| self.import_block(b)).collect())
    }
}

/// A store that answers every read from another [`ChainRead`] (its [`Self::reader`]): a wrapper
/// such as [`ObservedStore`] (reads from the store it wraps) or the persistent store (reads from
/// its in-memory index). Implementing it gives the wrapper all of [`ChainRead`], so it writes out
/// only [`ChainStore`]'s write core instead of forwarding every query by hand.
pub trait ReadThrough {
    /// Where the reads go.
    type Reader: ChainRead;

    /// The store the reads go to.
    fn reader(&self) -> &Self::Reader;
}

impl<T: ReadThrough> ChainRead for T {
    fn block(&self, root: &Root) -> Option<BeaconBlock> {
        self.reader().block(root)
    }
    fn header(&self, root: &Root) -> Option<BeaconBlockHeader> {
        self.reader().header(root)
    }
    fn resolve_root(&self, root: &Root) -> Option<Root> {
        self.reader().resolve_root(root)
    }
    fn head(&self) -> Head {
        self.reader().head()
    }
    fn genesis_root(&self) -> Root {
        self.reader().genesis_root()
    }
    fn finalized_checkpoint(&self) -> Checkpoint {
        self.reader().finalized_checkpoint()
    }
    fn slots_per_epoch(&self) -> u64 {
        self.reader().slots_per_epoch()
    }
    fn canonical_at_or_before(&self, slot: Slot) -> Option<BlockRootSlot> {
        self.reader().canonical_at_or_before(slot)
    }
    fn canonical_in_range(&self, start: Slot, end: Slot, limit: usize) -> Vec<BlockRootSlot> {
        self.reader().canonical_in_range(start, end, limit)
    }
    fn best_descendant(&self, root: &Root) -> Option<Root> {
        self.reader().best_descendant(root)
    }
    fn blocks_in_slot_order(&self, max_slot: Slot) -> Vec<BeaconBlock> {
        self.reader().blocks_in_slot_order(max_slot)
    }
    fn block_count(&self) -> usize {
        self.reader().block_count()
    }
    fn attestation(&self, hash: &Root) -> Option<Attestation> {
        self.reader().attestation(hash)
    }
    fn state(&self, root: &Root) -> Option<BeaconState> {
        self.reader().state(root)
    }
    fn contains_block(&self, root: &Root) -> bool {
        self.reader().contains_block(root)
    }
    fn is_canonical(&self, root: &Root) -> bool {
        self.reader().is_canonical(root)
    }
    fn range_roots(&self, request: &RangeRequest) -> Vec<Root> {
        self.reader().range_roots(request)
    }
    fn block_headers(&self, request: &GetBlockHeaders) -> BlockHeaders {
        self.reader().block_headers(request)
    }
    fn block_bodies(&self, request: &GetBlockBodies) -> BlockBodies {
        self.reader().block_bodies(request)
    }
    fn block_roots(&self, start_slot: Slot, count: u64) -> Vec<BlockRootSlot> {
        self.reader().block_roots(start_slot, count)
    }
    fn bodies_by_roots(&self, roots: &[Root]) -> Vec<BeaconBlockBody> {
        self.reader().bodies_by_roots(roots)
    }
    fn root_at_epoch_boundary(&self, epoch: Epoch) -> Option<Root> {
        self.reader().root_at_epoch_boundary(epoch)
    }
    fn check_finalized(&self, root: &Root, epoch: Epoch) -> FinalizedCheck {
        self.reader().check_finalized(root, epoch)
    }
    fn hello(&self, network_id: u8, chain_id: u8) -> Hello {
        self.reader().hello(network_id, chain_id)
    }
    fn attestation_response(&self, request: &GetAttestation) -> Option<AttestationResponse> {
        self.reader().attestation_response(request)
    }
    fn beacon_states(&self, request: &GetBeaconStates) -> BeaconStates {
        self.reader().beacon_states(request)
    }
}

#[cfg(test)]
mod tests;
