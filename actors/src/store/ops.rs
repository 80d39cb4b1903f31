//! The store's operations as plain functions on a `ChainStore` (tested without a runtime): what
//! the `ChainStoreActor` runs for its messages beyond single calls. Importing a chain of blocks in
//! one transaction ([`import_chain`] → [`ChainImport`], summarised as an [`ImportResult`]),
//! answering a peer's RPC request within the response cap ([`serve`]), and whether an object is
//! known ([`is_known`]). Handles and sends no messages.

use hobbits_chain::store::ImportOutcome;
use hobbits_chain::{BeaconBlock, ChainError, ChainStore, Root, Slot};

use crate::rpc::{RpcRequest, RpcResponse};

/// How an import of several blocks ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportResult {
    /// Every block is in the store now (imported, or already known).
    Imported {
        /// Our head slot afterwards.
        head_slot: Slot,
    },
    /// The first block's parent is unknown to the store.
    MissingParent {
        /// The missing root.
        parent_root: Root,
    },
    /// The store refused a block for another reason.
    Failed {
        /// Why.
        reason: String,
    },
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
    match store.import_blocks(blocks) {
        Ok(results) => summarize_import(store, results),
        Err(e) => failed_import(&e),
    }
}

/// The [`ChainImport`] of a failed transaction: nothing imported.
pub fn failed_import(e: &ChainError) -> ChainImport {
    ChainImport {
        result: ImportResult::Failed {
            reason: e.to_string(),
        },
        imported: Vec::new(),
    }
}

/// Summarises the per-block results of a committed [`ChainStore::import_blocks`] (see
/// [`import_chain`]).
pub fn summarize_import(
    store: &dyn ChainStore,
    results: Vec<Result<ImportOutcome, ChainError>>,
) -> ChainImport {
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

/// Answers a peer's RPC request from `store`; headers, bodies and states are capped at
/// `max_items` per response whatever the request asks.
pub fn serve(store: &dyn ChainStore, request: RpcRequest, max_items: u64) -> RpcResponse {
    match request {
        RpcRequest::Status(s) => RpcResponse::Status(s),
        RpcRequest::BlockHeaders(mut r) => {
            r.max = r.max.min(max_items);
            RpcResponse::BlockHeaders(store.block_headers(&r))
        }
        RpcRequest::BlockBodies(mut r) => {
            r.max = r.max.min(max_items);
            RpcResponse::BlockBodies(store.block_bodies(&r))
        }
        RpcRequest::Attestation(r) => match store.attestation_response(&r) {
            Some(a) => RpcResponse::Attestation(a),
            None => RpcResponse::Attestation(Default::default()),
        },
        RpcRequest::BeaconStates(r) => RpcResponse::BeaconStates(store.beacon_states(&r)),
    }
}

/// Is a block (either root) or an attestation (hash_tree_root) with this root stored?
pub fn is_known(store: &dyn ChainStore, root: &Root) -> bool {
    store.contains_block(root) || store.attestation(root).is_some()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hobbits_chain::store::{BatchResult, ImportObserver, ObservedStore};
    use hobbits_chain::{
        BlockProducer, ChainRead, GenesisConfig, MemoryStore, PersistentStore, StoreConfig,
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
