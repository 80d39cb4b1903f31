//! [`ObservedStore`]: a [`ChainStore`] that hands every call to the store it wraps and tells an
//! [`ImportObserver`] what each block import returned. For embedding clients (and tests) that want
//! to log, count or index imports. No messages are handled or sent here.
//!
//! Reads go through [`ReadThrough`] (none is written out here); of the writes, the provided
//! `import_hashed_block` and `import_blocks` are handed on too, so the wrapped store keeps its own
//! fast paths (a `PersistentStore` batch stays one transaction).

use super::{AttestationImported, ChainStore, ImportOutcome, ReadThrough};
use crate::error::ChainError;
use crate::types::{Attestation, BeaconBlock, BeaconState, HashedBlock, Root};

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

impl<S: ChainStore, O> ReadThrough for ObservedStore<S, O> {
    type Reader = S;

    fn reader(&self) -> &S {
        &self.inner
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
    fn import_attestation(
        &mut self,
        attestation: Attestation,
    ) -> Result<AttestationImported, ChainError> {
        self.inner.import_attestation(attestation)
    }
    fn insert_state(&mut self, state: BeaconState) -> Root {
        self.inner.insert_state(state)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{BlockProducer, ChainRead, GenesisConfig, Slot, StoreConfig};

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
