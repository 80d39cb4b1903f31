//! `MemoryStore`: the in-memory [`ChainStore`]: blocks by signing_root, the hash_tree_root index,
//! the block tree (forks kept), the canonical chain (slot → root), attestations and states with
//! FIFO bounds, the head and finality rules. No messages are handled or sent here.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::error::ChainError;
use crate::genesis::{GenesisConfig, GenesisError};
use crate::store::{
    AttestationImported, BlockRootSlot, ChainRead, ChainStore, Head, ImportOutcome,
};
use crate::types::{
    Attestation, BeaconBlock, BeaconBlockHeader, BeaconState, Checkpoint, Epoch, HashedBlock, Root,
    Slot,
};

/// Configuration of a [`MemoryStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Slots per epoch (minimal preset: 8). Must be ≥ 1.
    pub slots_per_epoch: u64,
    /// How many epochs behind the head's epoch the finalized epoch-boundary block lies. Must be ≥ 1.
    pub finality_depth: u64,
    /// Most blocks kept; imports beyond it fail with [`ChainError::StoreFull`]. Must be ≥ 1.
    pub max_blocks: usize,
    /// Most attestations kept; the oldest is evicted first. Must be ≥ 1.
    pub max_attestations: usize,
    /// Most states kept; the oldest is evicted first. Must be ≥ 1.
    pub max_states: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            slots_per_epoch: 8,
            finality_depth: 2,
            max_blocks: 1 << 20,
            max_attestations: 1 << 16,
            max_states: 64,
        }
    }
}

impl StoreConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ChainError> {
        let bad = |reason: &str| {
            Err(ChainError::InvalidConfig {
                reason: reason.to_string(),
            })
        };
        if self.slots_per_epoch == 0 {
            return bad("slots_per_epoch must be at least 1");
        }
        if self.finality_depth == 0 {
            return bad("finality_depth must be at least 1");
        }
        if self.max_blocks == 0 || self.max_attestations == 0 || self.max_states == 0 {
            return bad("max_blocks, max_attestations and max_states must be at least 1");
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Entry {
    block: BeaconBlock,
    header: BeaconBlockHeader,
    children: Vec<Root>,
}

/// The in-memory chain store.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    config: StoreConfig,
    blocks: HashMap<Root, Entry>,
    by_hash_tree_root: HashMap<Root, Root>,
    canonical: BTreeMap<Slot, Root>,
    genesis: Root,
    head: Head,
    finalized: Checkpoint,
    attestations: HashMap<Root, Attestation>,
    attestation_order: VecDeque<Root>,
    states: HashMap<Root, BeaconState>,
    state_order: VecDeque<Root>,
    /// While true, imports do not advance finality (snapshot replay restores it afterwards).
    finality_frozen: bool,
}

impl GenesisConfig {
    /// A [`MemoryStore`] starting from this genesis (the genesis state stored too). Defined here,
    /// beside the store, so the genesis module does not depend on the stores built on it.
    pub fn memory_store(&self, store: StoreConfig) -> Result<MemoryStore, GenesisError> {
        let genesis = self.build()?;
        let mut s = MemoryStore::new(genesis.block, store)?;
        s.insert_state(genesis.state);
        Ok(s)
    }
}

impl MemoryStore {
    /// A store holding only `genesis` (head and finalized checkpoint at epoch 0).
    pub fn new(genesis: BeaconBlock, config: StoreConfig) -> Result<Self, ChainError> {
        config.validate()?;
        let roots = genesis.roots();
        let header = genesis.header();
        let slot = genesis.slot;
        let mut blocks = HashMap::new();
        blocks.insert(
            roots.signing_root,
            Entry {
                block: genesis,
                header,
                children: Vec::new(),
            },
        );
        let mut by_hash_tree_root = HashMap::new();
        by_hash_tree_root.insert(roots.hash_tree_root, roots.signing_root);
        let mut canonical = BTreeMap::new();
        canonical.insert(slot, roots.signing_root);
        Ok(MemoryStore {
            finalized: Checkpoint {
                epoch: slot.epoch(config.slots_per_epoch),
                root: roots.signing_root,
            },
            config,
            blocks,
            by_hash_tree_root,
            canonical,
            genesis: roots.signing_root,
            head: Head {
                root: roots.signing_root,
                slot,
            },
            attestations: HashMap::new(),
            attestation_order: VecDeque::new(),
            states: HashMap::new(),
            state_order: VecDeque::new(),
            finality_frozen: false,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Sets the finalized checkpoint (e.g. restored from a snapshot). The root must be a known
    /// block, the epoch not below the current one; the head becomes the best descendant of the
    /// finalized block and the canonical chain is rebuilt.
    pub fn set_finalized(&mut self, checkpoint: Checkpoint) -> Result<(), ChainError> {
        let refuse = |reason| ChainError::InvalidFinalized { checkpoint, reason };
        let root = self
            .resolve_root(&checkpoint.root)
            .ok_or_else(|| refuse("unknown block"))?;
        if checkpoint.epoch < self.finalized.epoch {
            return Err(refuse("epoch goes backwards"));
        }
        let best = self.best_descendant(&root).unwrap_or(root);
        let slot = self.blocks.get(&best).map_or(Slot(0), |e| e.header.slot);
        self.finalized = Checkpoint {
            epoch: checkpoint.epoch,
            root,
        };
        self.set_head(Head { root: best, slot });
        Ok(())
    }

    /// Stops (or resumes) the finality rule; used while replaying a snapshot so that every stored
    /// block, forks included, is accepted again before the recorded checkpoint is restored.
    pub(crate) fn freeze_finality(&mut self, frozen: bool) {
        self.finality_frozen = frozen;
    }

    /// Walks from `root` back to its first canonical ancestor; returns the non-canonical blocks
    /// passed (tip first) and the canonical ancestor.
    fn walk_to_canonical(&self, root: Root) -> (Vec<BlockRootSlot>, Option<BlockRootSlot>) {
        let mut segment = Vec::new();
        let mut cursor = root;
        while let Some(entry) = self.blocks.get(&cursor) {
            let here = BlockRootSlot {
                root: cursor,
                slot: entry.header.slot,
            };
            if self.canonical.get(&here.slot) == Some(&cursor) {
                return (segment, Some(here));
            }
            segment.push(here);
            cursor = entry.header.parent_root;
        }
        (segment, None)
    }

    /// Makes `head` the head and rewrites the canonical chain to its ancestry.
    fn set_head(&mut self, head: Head) {
        let (segment, ancestor) = self.walk_to_canonical(head.root);
        let keep_to = ancestor.map_or(Slot(0), |a| a.slot);
        // Drop canonical entries above the common ancestor, then add the new branch.
        let _ = self.canonical.split_off(&Slot(keep_to.0.saturating_add(1)));
        if ancestor.is_none() {
            self.canonical.clear();
        }
        for b in segment {
            self.canonical.insert(b.slot, b.root);
        }
        self.head = head;
    }

    /// Checks `block` and computes everything importing it would change, without changing
    /// anything: the persistent store writes this plan to disk before [`Self::apply_import`]
    /// applies the same plan in memory.
    pub(crate) fn plan_import(&self, block: &BeaconBlock) -> Result<ImportPlan, ChainError> {
        self.plan_import_with(block, block.header())
    }

    /// [`Self::plan_import`] with the block's header already computed (`header` must be
    /// `block.header()`: callers get it from a [`crate::HashedBlock`]).
    pub(crate) fn plan_import_with(
        &self,
        block: &BeaconBlock,
        header: BeaconBlockHeader,
    ) -> Result<ImportPlan, ChainError> {
        let root = header.signing_root();
        let slot = block.slot;
        if self.blocks.contains_key(&root) {
            return Err(ChainError::AlreadyKnown { root });
        }
        let Some(parent) = self.blocks.get(&block.parent_root) else {
            return Err(ChainError::UnknownParent {
                root,
                slot,
                parent_root: block.parent_root,
            });
        };
        let parent_slot = parent.header.slot;
        if slot <= parent_slot {
            return Err(ChainError::SlotNotAfterParent {
                root,
                slot,
                parent_slot,
            });
        }
        // Descends from finalized iff its first canonical ancestor is at or above the finalized
        // slot (the canonical chain runs through the finalized block).
        let finalized_slot = self
            .blocks
            .get(&self.finalized.root)
            .map_or(Slot(0), |e| e.header.slot);
        let (parent_segment, ancestor) = self.walk_to_canonical(block.parent_root);
        let ancestor = match ancestor {
            Some(a) if a.slot >= finalized_slot => a,
            _ => {
                return Err(ChainError::ConflictsWithFinality {
                    root,
                    slot,
                    finalized: self.finalized,
                })
            }
        };
        if self.blocks.len() >= self.config.max_blocks {
            return Err(ChainError::StoreFull {
                max: self.config.max_blocks,
            });
        }
        let hash_tree_root = header.hash_tree_root();
        let old = self.head;
        let better = slot > old.slot || (slot == old.slot && root < old.root);
        let head_change = better.then(|| {
            // The new canonical branch, tip first: the block, then its non-canonical ancestors.
            let mut branch = Vec::with_capacity(parent_segment.len() + 1);
            branch.push(BlockRootSlot { root, slot });
            branch.extend(parent_segment);
            let finalized = self.planned_finality(slot, ancestor.slot, &branch);
            HeadChange {
                head: Head { root, slot },
                reorg: block.parent_root != old.root,
                keep_to: ancestor.slot,
                branch,
                finalized,
            }
        });
        Ok(ImportPlan {
            root,
            hash_tree_root,
            header,
            head_change,
        })
    }

    /// Applies a plan made by [`Self::plan_import`] on this same, unchanged store; returns the
    /// outcome and what `Self::undo_import` needs to take it back.
    pub(crate) fn apply_import(
        &mut self,
        block: BeaconBlock,
        plan: ImportPlan,
    ) -> (ImportOutcome, ImportUndo) {
        let ImportPlan {
            root,
            hash_tree_root,
            header,
            head_change,
        } = plan;
        let slot = header.slot;
        let mut undo = ImportUndo {
            root,
            hash_tree_root,
            parent_root: block.parent_root,
            head: self.head,
            finalized: self.finalized,
            canonical_change: None,
        };
        if let Some(p) = self.blocks.get_mut(&block.parent_root) {
            p.children.push(root);
        }
        self.blocks.insert(
            root,
            Entry {
                block,
                header,
                children: Vec::new(),
            },
        );
        self.by_hash_tree_root.insert(hash_tree_root, root);
        let mut outcome = ImportOutcome {
            root,
            hash_tree_root,
            slot,
            head_changed: false,
            reorg: false,
            head: self.head,
            finalized: None,
        };
        if let Some(change) = head_change {
            let removed = self
                .canonical
                .split_off(&Slot(change.keep_to.0.saturating_add(1)));
            undo.canonical_change = Some((change.keep_to, removed));
            for b in &change.branch {
                self.canonical.insert(b.slot, b.root);
            }
            self.head = change.head;
            if let Some(f) = change.finalized {
                self.finalized = f;
            }
            outcome.head_changed = true;
            outcome.reorg = change.reorg;
            outcome.head = change.head;
            outcome.finalized = change.finalized;
        }
        (outcome, undo)
    }

    /// Takes back the last applied import (undo records are used newest first).
    #[cfg(feature = "persistent")]
    pub(crate) fn undo_import(&mut self, undo: ImportUndo) {
        self.blocks.remove(&undo.root);
        self.by_hash_tree_root.remove(&undo.hash_tree_root);
        if let Some(p) = self.blocks.get_mut(&undo.parent_root) {
            p.children.retain(|c| *c != undo.root);
        }
        if let Some((keep_to, mut removed)) = undo.canonical_change {
            let _ = self.canonical.split_off(&Slot(keep_to.0.saturating_add(1)));
            self.canonical.append(&mut removed);
        }
        self.head = undo.head;
        self.finalized = undo.finalized;
    }

    /// The finality rule for a head moving to `head_slot` with the canonical chain becoming the
    /// current one up to `keep_to` plus `branch` (tip first); the new checkpoint if it advances.
    fn planned_finality(
        &self,
        head_slot: Slot,
        keep_to: Slot,
        branch: &[BlockRootSlot],
    ) -> Option<Checkpoint> {
        if self.finality_frozen {
            return None;
        }
        let head_epoch = head_slot.epoch(self.config.slots_per_epoch);
        let target = Epoch(head_epoch.0.checked_sub(self.config.finality_depth)?);
        if target <= self.finalized.epoch {
            return None;
        }
        let start = target.start_slot(self.config.slots_per_epoch);
        // Every branch slot is above `keep_to`, so a branch block at or before `start` is the
        // closest; otherwise look in the kept part of the current chain.
        let boundary = branch
            .iter()
            .find(|b| b.slot <= start)
            .copied()
            .or_else(|| {
                self.canonical
                    .range(..=start.min(keep_to))
                    .next_back()
                    .map(|(s, r)| BlockRootSlot { root: *r, slot: *s })
            })?;
        Some(Checkpoint {
            epoch: target,
            root: boundary.root,
        })
    }

    /// Every (slot, root) of the canonical chain, ascending.
    #[cfg(feature = "persistent")]
    pub(crate) fn canonical_entries(&self) -> impl Iterator<Item = (Slot, Root)> + '_ {
        self.canonical.iter().map(|(s, r)| (*s, *r))
    }
}

/// What importing one block changes (see [`MemoryStore::plan_import`]).
#[derive(Debug, Clone)]
pub(crate) struct ImportPlan {
    /// signing_root of the block.
    pub(crate) root: Root,
    /// hash_tree_root of the block.
    pub(crate) hash_tree_root: Root,
    /// The block's header.
    pub(crate) header: BeaconBlockHeader,
    /// Present when the block becomes the head.
    pub(crate) head_change: Option<HeadChange>,
}

/// What taking back one applied import restores (see `MemoryStore::undo_import`).
#[derive(Debug, Clone)]
#[cfg_attr(
    not(feature = "persistent"),
    expect(
        dead_code,
        reason = "read by undo_import, which only the persistent store uses"
    )
)]
pub(crate) struct ImportUndo {
    root: Root,
    hash_tree_root: Root,
    parent_root: Root,
    head: Head,
    finalized: Checkpoint,
    /// The canonical entries removed above the kept slot, when the head changed.
    canonical_change: Option<(Slot, BTreeMap<Slot, Root>)>,
}

/// How the head, the canonical chain and finality change when a block becomes the head.
#[derive(Debug, Clone)]
pub(crate) struct HeadChange {
    /// The new head.
    pub(crate) head: Head,
    /// True when the new head does not extend the previous head.
    pub(crate) reorg: bool,
    /// Canonical entries above this slot are removed...
    pub(crate) keep_to: Slot,
    /// ...then these are added (tip first).
    pub(crate) branch: Vec<BlockRootSlot>,
    /// The new finalized checkpoint, when finality advances.
    pub(crate) finalized: Option<Checkpoint>,
}

impl ChainRead for MemoryStore {
    fn block(&self, root: &Root) -> Option<BeaconBlock> {
        let r = self.resolve_root(root)?;
        self.blocks.get(&r).map(|e| e.block.clone())
    }

    fn header(&self, root: &Root) -> Option<BeaconBlockHeader> {
        let r = self.resolve_root(root)?;
        self.blocks.get(&r).map(|e| e.header.clone())
    }

    fn resolve_root(&self, root: &Root) -> Option<Root> {
        if self.blocks.contains_key(root) {
            Some(*root)
        } else {
            self.by_hash_tree_root.get(root).copied()
        }
    }

    fn head(&self) -> Head {
        self.head
    }

    fn genesis_root(&self) -> Root {
        self.genesis
    }

    fn finalized_checkpoint(&self) -> Checkpoint {
        self.finalized
    }

    fn slots_per_epoch(&self) -> u64 {
        self.config.slots_per_epoch
    }

    fn canonical_at_or_before(&self, slot: Slot) -> Option<BlockRootSlot> {
        self.canonical
            .range(..=slot)
            .next_back()
            .map(|(s, r)| BlockRootSlot { root: *r, slot: *s })
    }

    fn canonical_in_range(&self, start: Slot, end: Slot, limit: usize) -> Vec<BlockRootSlot> {
        if start >= end {
            return Vec::new();
        }
        self.canonical
            .range(start..end)
            .take(limit)
            .map(|(s, r)| BlockRootSlot { root: *r, slot: *s })
            .collect()
    }

    fn best_descendant(&self, root: &Root) -> Option<Root> {
        let start = self.resolve_root(root)?;
        let mut best = (self.blocks.get(&start)?.header.slot, start);
        let mut stack = vec![start];
        while let Some(r) = stack.pop() {
            let Some(e) = self.blocks.get(&r) else {
                continue;
            };
            let s = e.header.slot;
            if s > best.0 || (s == best.0 && r < best.1) {
                best = (s, r);
            }
            stack.extend(e.children.iter().copied());
        }
        Some(best.1)
    }

    fn blocks_in_slot_order(&self, max_slot: Slot) -> Vec<BeaconBlock> {
        let mut entries: Vec<(&Slot, &Root, &Entry)> = self
            .blocks
            .iter()
            .filter(|(_, e)| e.header.slot <= max_slot)
            .map(|(r, e)| (&e.header.slot, r, e))
            .collect();
        entries.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        entries
            .into_iter()
            .map(|(_, _, e)| e.block.clone())
            .collect()
    }

    fn block_count(&self) -> usize {
        self.blocks.len()
    }

    fn attestation(&self, hash: &Root) -> Option<Attestation> {
        self.attestations.get(hash).cloned()
    }

    fn state(&self, root: &Root) -> Option<BeaconState> {
        self.states.get(root).cloned()
    }
}

impl ChainStore for MemoryStore {
    fn import_block(&mut self, block: BeaconBlock) -> Result<ImportOutcome, ChainError> {
        let plan = self.plan_import(&block)?;
        Ok(self.apply_import(block, plan).0)
    }

    fn import_hashed_block(&mut self, block: HashedBlock) -> Result<ImportOutcome, ChainError> {
        let (block, header) = block.into_parts();
        let plan = self.plan_import_with(&block, header)?;
        Ok(self.apply_import(block, plan).0)
    }

    fn import_attestation(
        &mut self,
        attestation: Attestation,
    ) -> Result<AttestationImported, ChainError> {
        let hash = attestation.hash_tree_root();
        if self.attestations.contains_key(&hash) {
            return Ok(AttestationImported {
                hash,
                is_new: false,
            });
        }
        while self.attestations.len() >= self.config.max_attestations {
            match self.attestation_order.pop_front() {
                Some(old) => {
                    self.attestations.remove(&old);
                }
                None => break,
            }
        }
        self.attestations.insert(hash, attestation);
        self.attestation_order.push_back(hash);
        Ok(AttestationImported { hash, is_new: true })
    }

    fn insert_state(&mut self, state: BeaconState) -> Root {
        let root = state.hash_tree_root();
        if self.states.contains_key(&root) {
            return root;
        }
        while self.states.len() >= self.config.max_states {
            match self.state_order.pop_front() {
                Some(old) => {
                    self.states.remove(&old);
                }
                None => break,
            }
        }
        self.states.insert(root, state);
        self.state_order.push_back(root);
        root
    }
}
