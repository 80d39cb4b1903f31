//! [`ObservedStore`]: a [`ChainStore`] that forwards every call to the store it wraps and tells an
//! [`ImportObserver`] what each block import returned. For embedding clients (and tests) that want
//! to log, count or index imports without writing out the whole trait by hand. No messages are
//! handled or sent here.
//!
//! Every method of the trait is forwarded, including the provided `import_hashed_block` and
//! `import_blocks`, so the wrapped store keeps its own fast paths (a `PersistentStore`
//! batch stays one transaction).

use super::{AttestationImported, BlockRootSlot, ChainStore, Head, ImportOutcome};
use crate::error::ChainError;
use crate::types::{
    Attestation, BeaconBlock, BeaconBlockHeader, BeaconState, Checkpoint, HashedBlock, Root, Slot,
};

/// The result of a batch import, as [`ChainStore::import_blocks`] returns it.
pub type BatchResult = Result<Vec<Result<ImportOutcome, ChainError>>, ChainError>;

/// Hooks called by [`ObservedStore`] after the wrapped store has imported.
pub trait ImportObserver: Send {
    /// After a single block import (`import_block` or `import_hashed_block`).
    fn block_imported(&mut self, result: &Result<ImportOutcome, ChainError>);

    /// After a batch import (`import_blocks`). By default each block's result goes to
    /// [`Self::block_imported`] (nothing when the whole batch failed).
    fn blocks_imported(&mut self, results: &BatchResult) {
        if let Ok(results) = results {
            for result in results {
                self.block_imported(result);
            }
        }
    }
}

/// A store that forwards to `inner` and reports imports to `observer`.
#[derive(Debug)]
pub struct ObservedStore<S, O> {
    /// The store doing the work.
    pub inner: S,
    /// Told about every block import.
    pub observer: O,
}

impl<S, O> ObservedStore<S, O> {
    /// Wraps `inner`.
    pub fn new(inner: S, observer: O) -> Self {
        Self { inner, observer }
    }
}

impl<S: ChainStore, O: ImportObserver> ChainStore for ObservedStore<S, O> {
    fn import_block(&mut self, block: BeaconBlock) -> Result<ImportOutcome, ChainError> {
        let result = self.inner.import_block(block);
        self.observer.block_imported(&result);
        result
    }
    fn import_hashed_block(&mut self, block: HashedBlock) -> Result<ImportOutcome, ChainError> {
        let result = self.inner.import_hashed_block(block);
        self.observer.block_imported(&result);
        result
    }
    fn import_blocks(&mut self, blocks: Vec<BeaconBlock>) -> BatchResult {
        let results = self.inner.import_blocks(blocks);
        self.observer.blocks_imported(&results);
        results
    }
    fn block(&self, root: &Root) -> Option<BeaconBlock> {
        self.inner.block(root)
    }
    fn header(&self, root: &Root) -> Option<BeaconBlockHeader> {
        self.inner.header(root)
    }
    fn resolve_root(&self, root: &Root) -> Option<Root> {
        self.inner.resolve_root(root)
    }
    fn head(&self) -> Head {
        self.inner.head()
    }
    fn genesis_root(&self) -> Root {
        self.inner.genesis_root()
    }
    fn finalized_checkpoint(&self) -> Checkpoint {
        self.inner.finalized_checkpoint()
    }
    fn slots_per_epoch(&self) -> u64 {
        self.inner.slots_per_epoch()
    }
    fn canonical_at_or_before(&self, slot: Slot) -> Option<BlockRootSlot> {
        self.inner.canonical_at_or_before(slot)
    }
    fn canonical_in_range(&self, start: Slot, end: Slot, limit: usize) -> Vec<BlockRootSlot> {
        self.inner.canonical_in_range(start, end, limit)
    }
    fn best_descendant(&self, root: &Root) -> Option<Root> {
        self.inner.best_descendant(root)
    }
    fn blocks_in_slot_order(&self, max_slot: Slot) -> Vec<BeaconBlock> {
        self.inner.blocks_in_slot_order(max_slot)
    }
    fn block_count(&self) -> usize {
        self.inner.block_count()
    }
    fn import_attestation(
        &mut self,
        attestation: Attestation,
    ) -> Result<AttestationImported, ChainError> {
        self.inner.import_attestation(attestation)
    }
    fn attestation(&self, hash: &Root) -> Option<Attestation> {
        self.inner.attestation(hash)
    }
    fn insert_state(&mut self, state: BeaconState) -> Root {
        self.inner.insert_state(state)
    }
    fn state(&self, root: &Root) -> Option<BeaconState> {
        self.inner.state(root)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{BlockProducer, GenesisConfig, StoreConfig};

    /// Counts successes and failures one by one (the default batch hook).
    #[derive(Default)]
    struct Tally {
        ok: usize,
        refused: usize,
    }

    impl ImportObserver for Tally {
        fn block_imported(&mut self, result: &Result<ImportOutcome, ChainError>) {
            match result {
                Ok(_) => self.ok += 1,
                Err(_) => self.refused += 1,
            }
        }
    }

    #[test]
    fn single_and_batch_imports_reach_the_observer_and_the_store() {
        let genesis = GenesisConfig::new(1, 1, Duration::from_secs(0), None).expect("genesis");
        let empty = || genesis.memory_store(StoreConfig::default()).expect("store");
        // Blocks at slots 1..=4 built on a scratch store, then imported into the observed one.
        let mut scratch = empty();
        let producer = BlockProducer::new("observed", 1);
        let chain: Vec<BeaconBlock> = (1..=4)
            .map(|slot| {
                let b = producer
                    .produce_on_head(&scratch, Slot(slot))
                    .expect("produce");
                scratch.import_block(b.clone()).expect("import");
                b
            })
            .collect();
        let mut observed = ObservedStore::new(empty(), Tally::default());
        // Slot 2 before its parent: refused, and the observer hears it.
        assert!(observed.import_block(chain[1].clone()).is_err());
        observed.import_block(chain[0].clone()).expect("single");
        let batch = observed.import_blocks(chain[1..].to_vec()).expect("batch");
        assert_eq!(batch.len(), 3);
        assert_eq!((observed.observer.ok, observed.observer.refused), (4, 1));
        assert_eq!(observed.head().slot, Slot(4));
        assert_eq!(observed.block_count(), scratch.block_count());
    }
}
