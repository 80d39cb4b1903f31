//! Unit tests of the pieces the persistent store relies on inside the crate: a planned import
//! applied then taken back (the batch rollback) restores the memory store exactly, reorgs and
//! finality included.

use std::time::Duration;

use crate::genesis::GenesisConfig;
use crate::producer::BlockProducer;
use crate::store::{ChainRead, ChainStore, MemoryStore, StoreConfig};
use crate::types::{BeaconBlock, Slot};

fn fresh() -> MemoryStore {
    GenesisConfig::new(7, 1, Duration::from_secs(1_565_000_000), None)
        .expect("valid")
        .memory_store(StoreConfig::default())
        .expect("store")
}

/// A chain with a reorg every few blocks (a fork from two slots back).
fn blocks(count: u64) -> Vec<BeaconBlock> {
    let mut store = fresh();
    let producers = [BlockProducer::new("a", 0), BlockProducer::new("b", 1)];
    let mut out = Vec::new();
    for slot in 1..=count {
        let head = store.head();
        let parent_slot = if slot % 5 == 0 {
            head.slot.0.saturating_sub(2)
        } else {
            head.slot.0
        };
        let parent = store
            .canonical_at_or_before(Slot(parent_slot))
            .and_then(|b| store.header(&b.root))
            .expect("parent");
        let block = producers[(slot % 2) as usize]
            .produce_block(&parent, Slot(slot))
            .expect("block");
        store.import_block(block.clone()).expect("import");
        out.push(block);
    }
    out
}

fn same(a: &MemoryStore, b: &MemoryStore) {
    assert_eq!(a.block_count(), b.block_count());
    assert_eq!(a.head(), b.head());
    assert_eq!(a.finalized_checkpoint(), b.finalized_checkpoint());
    assert_eq!(
        a.canonical_entries().collect::<Vec<_>>(),
        b.canonical_entries().collect::<Vec<_>>()
    );
    for block in a.blocks_in_slot_order(Slot(u64::MAX)) {
        let root = block.signing_root();
        assert_eq!(b.resolve_root(&block.hash_tree_root()), Some(root));
        assert_eq!(a.best_descendant(&root), b.best_descendant(&root));
    }
}

#[test]
fn applied_imports_taken_back_restore_the_store() {
    let all = blocks(120);
    let (kept, batch) = all.split_at(70);
    let mut reference = fresh();
    for b in kept {
        reference.import_block(b.clone()).expect("import");
    }
    let mut store = reference.clone();
    let mut undo = Vec::new();
    let mut finality_moved = false;
    let mut reorgs = 0;
    for b in batch {
        let plan = store.plan_import(b).expect("plan");
        let (outcome, u) = store.apply_import(b.clone(), plan);
        finality_moved |= outcome.finalized.is_some();
        reorgs += usize::from(outcome.reorg);
        undo.push(u);
    }
    assert!(
        finality_moved && reorgs > 0,
        "the batch moves finality and reorgs"
    );
    while let Some(u) = undo.pop() {
        store.undo_import(u);
    }
    same(&store, &reference);
    same(&reference, &store);
    // The store still works after the rollback: the same batch imports again.
    for b in batch {
        store.import_block(b.clone()).expect("re-import");
    }
    assert_eq!(store.block_count(), all.len() + 1);
}

#[test]
fn a_plan_changes_nothing_until_applied() {
    let all = blocks(40);
    let mut store = fresh();
    for b in &all[..39] {
        store.import_block(b.clone()).expect("import");
    }
    let before = store.clone();
    let _plan = store.plan_import(&all[39]).expect("plan");
    same(&store, &before);
    assert!(!store.contains_block(&all[39].signing_root()));
}
