//! Persistent chain store benchmarks: import throughput of a 1,000-block chain into a redb-backed
//! `PersistentStore` with an fsynced commit per block, a commit per block without fsync, and
//! batches in one transaction, against the in-memory `MemoryStore` in the same run; and the time
//! to reopen (rebuild and check) a 10,000-block database.
//!
//! Run: `cargo bench -p hobbits-chain --bench persist -- --warm-up-time 1 --measurement-time 5`

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hobbits_chain::{
    BeaconBlock, BlockProducer, ChainRead, ChainStore, CommitDurability, Genesis, GenesisConfig,
    MemoryStore, PersistentStore, Slot, StoreConfig,
};

const IMPORT_LEN: u64 = 1_000;
const REOPEN_LEN: u64 = 10_000;

fn genesis() -> Genesis {
    GenesisConfig::new(7, 1, Duration::from_secs(1_565_000_000), None)
        .expect("valid genesis")
        .build()
        .expect("genesis")
}

/// `len` blocks, one per slot on top of genesis.
fn chain(genesis: &Genesis, len: u64) -> Vec<BeaconBlock> {
    let producer = BlockProducer::new("bench", 0);
    let mut parent = genesis.block.header();
    let mut out = Vec::with_capacity(len as usize);
    for slot in 1..=len {
        let block = producer.produce_block(&parent, Slot(slot)).expect("child");
        parent = block.header();
        out.push(block);
    }
    out
}

fn bench_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("persist-bench");
    fs::create_dir_all(&dir).expect("bench dir");
    dir
}

/// A new, empty persistent store at `path`.
fn fresh_store(path: &Path, genesis: &Genesis, durability: CommitDurability) -> PersistentStore {
    let _ = fs::remove_file(path);
    let mut store = PersistentStore::open(path, genesis, StoreConfig::default()).expect("open");
    store.set_durability(durability);
    store
}

fn import(c: &mut Criterion) {
    let genesis = genesis();
    let blocks = chain(&genesis, IMPORT_LEN);
    let path = bench_dir().join("import.redb");
    let mut group = c.benchmark_group("persist_import_1k_blocks");
    group.sample_size(10);
    group.throughput(Throughput::Elements(IMPORT_LEN));

    group.bench_function("baseline_memory_store", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut store =
                    MemoryStore::new(genesis.block.clone(), StoreConfig::default()).expect("new");
                let blocks = blocks.clone();
                let start = Instant::now();
                for block in blocks {
                    store.import_block(block).expect("import");
                }
                total += start.elapsed();
            }
            total
        })
    });

    let per_block = |durability: CommitDurability| {
        let (genesis, blocks, path) = (&genesis, &blocks, &path);
        move |b: &mut criterion::Bencher<'_>| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut store = fresh_store(path, genesis, durability);
                    let blocks = blocks.clone();
                    let start = Instant::now();
                    for block in blocks {
                        store.import_block(block).expect("import");
                    }
                    store.flush().expect("flush");
                    total += start.elapsed();
                }
                total
            })
        }
    };
    group.bench_function(
        "commit_per_block_fsync",
        per_block(CommitDurability::Immediate),
    );
    group.bench_function(
        "commit_per_block_no_fsync",
        per_block(CommitDurability::Deferred),
    );

    for batch in [64usize, 1_000] {
        group.bench_function(format!("batch_{batch}_fsync"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut store = fresh_store(&path, &genesis, CommitDurability::Immediate);
                    let blocks = blocks.clone();
                    let start = Instant::now();
                    for chunk in blocks.chunks(batch) {
                        let results = store.import_blocks(chunk.to_vec()).expect("batch");
                        assert!(results.iter().all(Result::is_ok));
                    }
                    total += start.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

fn reopen(c: &mut Criterion) {
    let genesis = genesis();
    let path = bench_dir().join("reopen.redb");
    {
        let mut store = fresh_store(&path, &genesis, CommitDurability::Immediate);
        for chunk in chain(&genesis, REOPEN_LEN).chunks(1_000) {
            store.import_blocks(chunk.to_vec()).expect("batch");
        }
    }
    let mut group = c.benchmark_group("persist_reopen_10k_blocks");
    group.sample_size(10);
    group.throughput(Throughput::Elements(REOPEN_LEN));
    group.bench_function("open_rebuild_and_check", |b| {
        b.iter(|| {
            let store =
                PersistentStore::open(&path, &genesis, StoreConfig::default()).expect("reopen");
            assert_eq!(store.block_count() as u64, REOPEN_LEN + 1);
        })
    });
    group.finish();
}

criterion_group!(benches, import, reopen);
criterion_main!(benches);
