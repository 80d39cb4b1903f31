//! Store operations sync and gossip run as one turn of the `ChainStoreActor` (through its
//! `WithStore` command and a oneshot reply): importing a chain of blocks in order, importing an
//! attestation, asking whether an object is known. Sends `WithStore`; handles nothing.

use actix::Addr;
use hobbits_chain::store::ImportOutcome;
use hobbits_chain::{
    Attestation, AttestationImported, BeaconBlock, ChainError, ChainStore, HashedBlock, Root,
};
use tokio::sync::oneshot;

use crate::chain_store::{ChainStoreActor, WithStore};
use crate::sync::machine::ImportResult;

/// Runs `f` on the store; `None` when the store actor is gone.
pub async fn with_store<R: Send + 'static>(
    store: &Addr<ChainStoreActor>,
    f: impl FnOnce(&mut dyn ChainStore) -> R + Send + 'static,
) -> Option<R> {
    let (tx, rx) = oneshot::channel();
    let msg = WithStore {
        f: Box::new(move |s| {
            let _ = tx.send(f(s));
        }),
    };
    store.send(msg).await.ok()?;
    rx.await.ok()
}

/// What importing a chain of blocks did: the summary for sync and the outcome of every block
/// newly imported (for `BlockImported` events).
#[derive(Debug, Clone)]
pub struct ChainImport {
    /// Summary.
    pub result: ImportResult,
    /// Blocks newly imported, in order.
    pub imported: Vec<ImportOutcome>,
}

/// Imports `blocks` in order in one store turn, as ONE [`ChainStore::import_blocks`] call (one
/// database transaction with the persistent store, so a crash leaves the whole batch stored or
/// none of it). Blocks already known count as imported; the first other refusal ends the import
/// (`MissingParent` when it is the first block's parent, `Failed` otherwise): later blocks of a
/// linked chain descend from the refused one, so the store refuses them too. A failed transaction
/// (`Err` from the store) is `Failed` with nothing imported.
pub fn import_chain(store: &mut dyn ChainStore, blocks: Vec<BeaconBlock>) -> ChainImport {
    let results = match store.import_blocks(blocks) {
        Ok(results) => results,
        Err(e) => {
            return ChainImport {
                result: ImportResult::Failed {
                    reason: e.to_string(),
                },
                imported: Vec::new(),
            }
        }
    };
    let mut imported = Vec::new();
    let mut refusal = None;
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(outcome) => imported.push(outcome),
            Err(ChainError::AlreadyKnown { .. }) => {}
            Err(e) if refusal.is_none() => refusal = Some((i, e)),
            Err(_) => {}
        }
    }
    let result = match refusal {
        None => ImportResult::Imported {
            head_slot: store.head().slot,
        },
        Some((0, ChainError::UnknownParent { parent_root, .. })) => {
            ImportResult::MissingParent { parent_root }
        }
        Some((_, e)) => ImportResult::Failed {
            reason: e.to_string(),
        },
    };
    ChainImport { result, imported }
}

/// Imports a chain through the store actor.
pub async fn import_blocks(store: Addr<ChainStoreActor>, blocks: Vec<BeaconBlock>) -> ChainImport {
    with_store(&store, move |s| import_chain(s, blocks))
        .await
        .unwrap_or(ChainImport {
            result: ImportResult::Failed {
                reason: "chain store actor gone".to_string(),
            },
            imported: Vec::new(),
        })
}

/// Imports one block through the store actor.
pub async fn import_block(
    store: &Addr<ChainStoreActor>,
    block: BeaconBlock,
) -> Result<ImportOutcome, ChainError> {
    with_store(store, move |s| s.import_block(block))
        .await
        .unwrap_or(Err(ChainError::InvalidConfig {
            reason: "chain store actor gone".to_string(),
        }))
}

/// Imports one block whose body was already hashed (gossip checked its root) through the store
/// actor, without hashing the body again.
pub async fn import_hashed_block(
    store: &Addr<ChainStoreActor>,
    block: HashedBlock,
) -> Result<ImportOutcome, ChainError> {
    with_store(store, move |s| s.import_hashed_block(block))
        .await
        .unwrap_or(Err(ChainError::InvalidConfig {
            reason: "chain store actor gone".to_string(),
        }))
}

/// Imports an attestation through the store actor (`None`: the store is gone).
pub async fn import_attestation(
    store: &Addr<ChainStoreActor>,
    attestation: Attestation,
) -> Option<Result<AttestationImported, ChainError>> {
    with_store(store, move |s| s.import_attestation(attestation)).await
}

/// Is a block (either root) or an attestation (hash_tree_root) with this root stored?
pub async fn is_known(store: &Addr<ChainStoreActor>, root: Root) -> bool {
    with_store(store, move |s| {
        s.contains_block(&root) || s.attestation(&root).is_some()
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hobbits_chain::store::{BatchResult, ImportObserver, ObservedStore};
    use hobbits_chain::{
        BlockProducer, GenesisConfig, MemoryStore, PersistentStore, Slot, StoreConfig,
    };

    use super::*;

    /// Counts how blocks reach the store: single imports and batches.
    #[derive(Default)]
    struct Counting {
        batches: usize,
        singles: usize,
    }

    impl ImportObserver for Counting {
        fn block_imported(&mut self, _: &Result<ImportOutcome, ChainError>) {
            self.singles += 1;
        }
        fn blocks_imported(&mut self, _: &BatchResult) {
            self.batches += 1;
        }
    }

    fn genesis() -> GenesisConfig {
        GenesisConfig::new(1, 1, Duration::from_secs(0), None).expect("genesis")
    }

    fn empty() -> MemoryStore {
        genesis()
            .memory_store(StoreConfig::default())
            .expect("store")
    }

    /// Blocks at slots 1..=n of one producer's chain.
    fn blocks(n: u64) -> Vec<BeaconBlock> {
        let mut s = empty();
        let p = BlockProducer::new("store-ops", 1);
        (1..=n)
            .map(|slot| {
                let b = p.produce_on_head(&s, Slot(slot)).expect("produce");
                s.import_block(b.clone()).expect("import");
                b
            })
            .collect()
    }

    #[test]
    fn a_chain_goes_to_the_store_as_one_batch() {
        let mut store = ObservedStore::new(empty(), Counting::default());
        let chain = blocks(10);
        let done = import_chain(&mut store, chain[..4].to_vec());
        assert_eq!(done.imported.len(), 4);
        // Overlapping with what is stored: the known blocks count as imported.
        let done = import_chain(&mut store, chain[2..].to_vec());
        assert_eq!(
            done.result,
            ImportResult::Imported {
                head_slot: Slot(10)
            }
        );
        assert_eq!(done.imported.len(), 6, "only the new blocks are reported");
        assert_eq!((store.observer.batches, store.observer.singles), (2, 0));
    }

    #[test]
    fn missing_parent_and_refusals_are_reported_like_one_by_one() {
        let chain = blocks(6);
        let mut store = empty();
        let done = import_chain(&mut store, chain[3..].to_vec());
        assert_eq!(
            done.result,
            ImportResult::MissingParent {
                parent_root: chain[3].parent_root
            }
        );
        assert!(done.imported.is_empty());
        assert_eq!(store.block_count(), 1, "nothing but genesis");

        // A gap in the middle: the blocks before it are imported, the rest refused.
        let gapped: Vec<BeaconBlock> = chain
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 2)
            .map(|(_, b)| b.clone())
            .collect();
        let done = import_chain(&mut store, gapped);
        assert!(
            matches!(done.result, ImportResult::Failed { .. }),
            "{done:?}"
        );
        assert_eq!(done.imported.len(), 2);
        assert_eq!(store.head().slot, Slot(2));
    }

    #[test]
    fn a_batch_into_the_persistent_store_is_there_after_reopening() {
        let dir = std::env::temp_dir().join(format!("hobbits-store-ops-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let genesis = genesis().build().expect("build");
        let chain = blocks(40);
        {
            let mut store =
                PersistentStore::open_in_dir(&dir, &genesis, StoreConfig::default()).expect("open");
            let done = import_chain(&mut store, chain.clone());
            assert_eq!(done.imported.len(), 40);
        }
        let store =
            PersistentStore::open_in_dir(&dir, &genesis, StoreConfig::default()).expect("reopen");
        assert_eq!(store.block_count(), 41);
        assert_eq!(store.head().slot, Slot(40));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
