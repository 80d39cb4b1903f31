//! The persistent chain store: open / import / reopen keeps every block, the head, the finalized
//! checkpoint and forks; batches; a wrong genesis or configuration is refused; corrupt, truncated
//! and foreign files give typed errors, never a panic; a persistent store answers exactly like a
//! `MemoryStore` fed the same blocks.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use hobbits_chain::{
    BeaconBlock, BlockProducer, ChainError, ChainRead, ChainStore, CommitDurability, Genesis,
    GenesisConfig, MemoryStore, PersistError, PersistentStore, Root, Slot, StoreConfig,
};
mod support;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use support::assert_consistent;

fn genesis_config() -> GenesisConfig {
    GenesisConfig::new(7, 1, Duration::from_secs(1_565_000_000), None).expect("valid")
}

fn genesis() -> Genesis {
    genesis_config().build().expect("genesis")
}

/// A fresh, empty directory for one test (under cargo's per-target temp dir).
fn test_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("persist-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A seeded random block tree: mostly one block per slot on the head, sometimes a fork from a
/// recent canonical block, sometimes skipped slots.
fn random_blocks(seed: u64, count: usize) -> Vec<BeaconBlock> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut scratch = genesis_config()
        .memory_store(StoreConfig::default())
        .expect("store");
    let producers = [BlockProducer::new("a", 0), BlockProducer::new("b", 1)];
    let mut out = Vec::new();
    let mut slot = 0u64;
    while out.len() < count {
        slot += rng.gen_range(1..=2);
        let head = scratch.head();
        let parent_slot = if rng.gen_bool(0.15) {
            head.slot.0.saturating_sub(rng.gen_range(1..=4))
        } else {
            head.slot.0
        };
        let parent = scratch
            .canonical_at_or_before(Slot(parent_slot))
            .expect("canonical");
        let header = scratch.header(&parent.root).expect("header");
        let producer = &producers[rng.gen_range(0..2)];
        let block = producer.produce_block(&header, Slot(slot)).expect("block");
        if scratch.import_block(block.clone()).is_ok() {
            out.push(block);
        }
    }
    out
}

fn assert_same_chain(a: &impl ChainStore, b: &impl ChainStore) {
    assert_eq!(a.block_count(), b.block_count(), "block count");
    assert_eq!(a.head(), b.head(), "head");
    assert_eq!(
        a.finalized_checkpoint(),
        b.finalized_checkpoint(),
        "finality"
    );
    assert_eq!(a.genesis_root(), b.genesis_root(), "genesis");
    let end = Slot(a.head().slot.0 + 1);
    assert_eq!(
        a.canonical_in_range(Slot(0), end, usize::MAX),
        b.canonical_in_range(Slot(0), end, usize::MAX),
        "canonical chain"
    );
    let blocks = a.blocks_in_slot_order(a.head().slot);
    assert_eq!(blocks, b.blocks_in_slot_order(b.head().slot), "blocks");
    for block in &blocks {
        let htr = block.hash_tree_root();
        assert_eq!(
            a.resolve_root(&htr),
            b.resolve_root(&htr),
            "hash_tree_root index"
        );
    }
}

#[test]
fn reopen_keeps_blocks_head_finality_and_forks() {
    let dir = test_dir("reopen");
    let blocks = random_blocks(1, 300);
    let mut memory = genesis_config()
        .memory_store(StoreConfig::default())
        .expect("store");
    {
        let mut store =
            PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("open");
        for block in &blocks {
            let ours = store.import_block(block.clone());
            let reference = memory.import_block(block.clone());
            assert_eq!(ours, reference, "same outcome as MemoryStore");
        }
        assert_same_chain(&store, &memory);
        assert!(
            store.finalized_checkpoint().epoch.0 > 0,
            "finality advanced"
        );
        assert!(store.block_count() > store.head().slot.0 as usize / 2);
    }
    let store =
        PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("reopen");
    assert_same_chain(&store, &memory);
    // The genesis state is available again; attestations are memory-only.
    let state_root = genesis().state.hash_tree_root();
    assert!(store.state(&state_root).is_some());
    // Forks were kept: more blocks than canonical entries.
    let canonical = store.canonical_in_range(Slot(0), Slot(u64::MAX), usize::MAX);
    assert!(
        store.block_count() > canonical.len(),
        "forks survive a reopen"
    );
}

#[test]
fn reopen_then_continue_and_refuse_known_blocks() {
    let dir = test_dir("continue");
    let blocks = random_blocks(2, 120);
    let (first, second) = blocks.split_at(60);
    {
        let mut store =
            PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("open");
        for b in first {
            store.import_block(b.clone()).expect("import");
        }
    }
    let mut store =
        PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("reopen");
    let known = first[10].clone();
    assert!(matches!(
        store.import_block(known),
        Err(ChainError::AlreadyKnown { .. })
    ));
    for b in second {
        store.import_block(b.clone()).expect("import after reopen");
    }
    drop(store);
    let mut reference = genesis_config()
        .memory_store(StoreConfig::default())
        .expect("store");
    for b in &blocks {
        reference.import_block(b.clone()).expect("reference");
    }
    let store =
        PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("reopen 2");
    assert_same_chain(&store, &reference);
}

#[test]
fn batch_import_matches_one_by_one_and_reports_each_block() {
    let dir = test_dir("batch");
    let blocks = random_blocks(3, 200);
    let mut store =
        PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("open");
    let mut reference = genesis_config()
        .memory_store(StoreConfig::default())
        .expect("store");
    // An orphan in the middle of a batch is refused alone; the others are imported.
    let orphan = BlockProducer::new("orphan", 9)
        .produce_block(&blocks[150].header(), Slot(100_000))
        .expect("orphan");
    let mut batch: Vec<BeaconBlock> = blocks[..100].to_vec();
    batch.push(orphan);
    batch.extend_from_slice(&blocks[100..140]);
    let results = store.import_blocks(batch.clone()).expect("batch");
    assert_eq!(results.len(), batch.len());
    for (block, result) in batch.iter().zip(&results) {
        assert_eq!(result, &reference.import_block(block.clone()));
    }
    assert!(matches!(
        results[100],
        Err(ChainError::UnknownParent { .. })
    ));
    let results = store
        .import_blocks(blocks[140..].to_vec())
        .expect("batch 2");
    assert!(results.iter().all(Result::is_ok));
    for b in &blocks[140..] {
        reference.import_block(b.clone()).expect("reference");
    }
    drop(store);
    let store =
        PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("reopen");
    assert_same_chain(&store, &reference);
}

#[test]
fn deferred_durability_then_flush_keeps_everything() {
    let dir = test_dir("deferred");
    let blocks = random_blocks(4, 50);
    {
        let mut store =
            PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("open");
        store.set_durability(CommitDurability::Deferred);
        for b in &blocks {
            store.import_block(b.clone()).expect("import");
        }
        store.flush().expect("flush");
    }
    let store =
        PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("reopen");
    assert_eq!(store.block_count(), blocks.len() + 1);
}

#[test]
fn another_genesis_or_slots_per_epoch_is_refused() {
    let dir = test_dir("genesis");
    drop(PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("open"));
    let other = GenesisConfig::new(7, 2, Duration::from_secs(1_565_000_000), None)
        .expect("valid")
        .build()
        .expect("genesis");
    match PersistentStore::open_in_dir(&dir, &other, StoreConfig::default()) {
        Err(PersistError::GenesisMismatch { expected, found }) => {
            assert_eq!(expected, other.root);
            assert_eq!(found, genesis().root);
        }
        other => panic!("expected GenesisMismatch, got {other:?}"),
    }
    let config = StoreConfig {
        slots_per_epoch: 32,
        ..StoreConfig::default()
    };
    assert!(matches!(
        PersistentStore::open_in_dir(&dir, &genesis(), config),
        Err(PersistError::SlotsPerEpochMismatch {
            stored: 8,
            configured: 32
        })
    ));
    let bad = StoreConfig {
        max_blocks: 0,
        ..StoreConfig::default()
    };
    assert!(matches!(
        PersistentStore::open_in_dir(&dir, &genesis(), bad),
        Err(PersistError::Chain(ChainError::InvalidConfig { .. }))
    ));
}

#[test]
fn a_second_open_of_the_same_file_is_refused() {
    let dir = test_dir("locked");
    let _first =
        PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("open");
    assert!(matches!(
        PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()),
        Err(PersistError::Open { .. })
    ));
}

#[test]
fn store_full_is_refused_on_reopen_with_a_smaller_bound() {
    let dir = test_dir("full");
    {
        let mut store =
            PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("open");
        for b in random_blocks(5, 20) {
            store.import_block(b).expect("import");
        }
    }
    let small = StoreConfig {
        max_blocks: 5,
        ..StoreConfig::default()
    };
    assert!(matches!(
        PersistentStore::open_in_dir(&dir, &genesis(), small),
        Err(PersistError::Chain(ChainError::StoreFull { max: 5 }))
    ));
}

/// Writes a database with some blocks and returns its file's bytes.
fn sample_db_bytes(dir: &std::path::Path) -> Vec<u8> {
    {
        let mut store =
            PersistentStore::open_in_dir(dir, &genesis(), StoreConfig::default()).expect("open");
        for b in random_blocks(6, 200) {
            store.import_block(b).expect("import");
        }
    }
    fs::read(dir.join(hobbits_chain::CHAIN_DB_FILE)).expect("read db")
}

#[test]
fn corrupt_truncated_and_foreign_files_are_typed_errors() {
    let dir = test_dir("corrupt");
    let good = sample_db_bytes(&dir);
    let path = dir.join("case.redb");
    let try_open = |bytes: &[u8]| -> Result<PersistentStore, PersistError> {
        fs::write(&path, bytes).expect("write case");
        PersistentStore::open(&path, &genesis(), StoreConfig::default())
    };
    // Sanity: the copy itself opens.
    assert_eq!(try_open(&good).expect("good copy").block_count(), 201);

    // Not a database at all.
    assert!(try_open(b"this is not a redb database, just some text").is_err());
    assert!(try_open(&[0xffu8; 4096]).is_err());

    // Truncations: every one either opens consistently (redb recovered a previous commit) or
    // fails with a typed error; none panics.
    let mut outcomes = (0, 0);
    for len in [
        1,
        100,
        511,
        512,
        4096,
        good.len() / 3,
        good.len() / 2,
        good.len() - 1,
    ] {
        match try_open(&good[..len.min(good.len())]) {
            Ok(store) => {
                assert_consistent(&store);
                outcomes.0 += 1;
            }
            Err(e) => {
                let _ = e.to_string();
                outcomes.1 += 1;
            }
        }
    }
    assert!(outcomes.1 > 0, "some truncations must be refused");

    // Flipped bytes across the file (seeded): typed error or a consistent store, never a panic
    // and never a store that disagrees with itself.
    let mut rng = SmallRng::seed_from_u64(7);
    for _ in 0..40 {
        let mut bytes = good.clone();
        let at = rng.gen_range(0..bytes.len());
        bytes[at] ^= 1 << rng.gen_range(0..8);
        if let Ok(store) = try_open(&bytes) {
            assert_consistent(&store);
        }
    }
}

#[test]
fn a_redb_file_of_another_application_is_refused() {
    let dir = test_dir("foreign");
    let path = dir.join("other.redb");
    {
        let db = redb::Database::create(&path).expect("create");
        let txn = db.begin_write().expect("write");
        {
            let table: redb::TableDefinition<'_, &str, u64> = redb::TableDefinition::new("x");
            txn.open_table(table)
                .expect("table")
                .insert("k", 1)
                .expect("insert");
        }
        txn.commit().expect("commit");
    }
    assert!(matches!(
        PersistentStore::open(&path, &genesis(), StoreConfig::default()),
        Err(PersistError::MissingMetadata { .. })
    ));
}

#[test]
fn persistent_and_memory_stores_answer_range_queries_alike() {
    let dir = test_dir("ranges");
    let blocks = random_blocks(8, 150);
    let mut store =
        PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("open");
    let mut memory: MemoryStore = genesis_config()
        .memory_store(StoreConfig::default())
        .expect("store");
    let results = store.import_blocks(blocks.clone()).expect("batch");
    assert!(results.iter().all(Result::is_ok));
    for b in blocks {
        memory.import_block(b).expect("import");
    }
    assert_consistent(&store);
    for (start, skip) in [(0u64, 0u64), (5, 2), (40, 0), (100, 7)] {
        let request = hobbits_chain::RangeRequest {
            start_root: Root::ZERO,
            start_slot: Slot(start),
            max: 64,
            skip,
            direction: hobbits_chain::rpc::Direction::Ascending,
        };
        assert_eq!(store.range_roots(&request), memory.range_roots(&request));
    }
}
