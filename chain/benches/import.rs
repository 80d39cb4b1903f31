//! Chain store benchmarks: import throughput of a 10,000-block chain of empty-body blocks (SSZ
//! decode + roots + insert), against baselines in the same run (SSZ decode alone, decode + roots
//! without insert), and range-query latency on that chain.
//!
//! Run: `cargo bench -p hobbits-chain --bench import -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hobbits_chain::rpc::{GetBlockBodies, GetBlockHeaders};
use hobbits_chain::{
    BeaconBlock, BlockProducer, ChainRead, ChainStore, GenesisConfig, MemoryStore, Root, Slot,
    StoreConfig,
};
use ssz::{Decode, Encode};

const CHAIN_LEN: u64 = 10_000;

fn genesis() -> GenesisConfig {
    GenesisConfig::new(7, 1, Duration::from_secs(1_565_000_000), None).expect("valid genesis")
}

/// The genesis block and 10,000 SSZ-encoded descendants (one per slot).
fn chain() -> (BeaconBlock, Vec<Vec<u8>>) {
    let g = genesis().build().expect("genesis");
    let producer = BlockProducer::new("bench", 0);
    let mut parent = g.block.header();
    let mut encoded = Vec::with_capacity(CHAIN_LEN as usize);
    for slot in 1..=CHAIN_LEN {
        let block = producer.produce_block(&parent, Slot(slot)).expect("child");
        parent = block.header();
        encoded.push(block.as_ssz_bytes());
    }
    (g.block, encoded)
}

fn import(c: &mut Criterion) {
    let (genesis_block, encoded) = chain();
    let mut group = c.benchmark_group("import_10k_blocks");
    group.sample_size(10);
    group.throughput(Throughput::Elements(CHAIN_LEN));
    group.bench_function("baseline_ssz_decode", |b| {
        b.iter(|| {
            for bytes in &encoded {
                black_box(BeaconBlock::from_ssz_bytes(bytes).expect("decode"));
            }
        })
    });
    group.bench_function("baseline_decode_and_roots", |b| {
        b.iter(|| {
            for bytes in &encoded {
                let block = BeaconBlock::from_ssz_bytes(bytes).expect("decode");
                black_box(block.roots());
            }
        })
    });
    group.bench_function("decode_roots_insert", |b| {
        b.iter(|| {
            let mut store =
                MemoryStore::new(genesis_block.clone(), StoreConfig::default()).expect("store");
            for bytes in &encoded {
                let block = BeaconBlock::from_ssz_bytes(bytes).expect("decode");
                black_box(store.import_block(block).expect("import"));
            }
            store
        })
    });
    group.finish();
}

fn range_queries(c: &mut Criterion) {
    let (genesis_block, encoded) = chain();
    let mut store = MemoryStore::new(genesis_block, StoreConfig::default()).expect("store");
    let mut mid_htr = Root::ZERO;
    for bytes in &encoded {
        let block = BeaconBlock::from_ssz_bytes(bytes).expect("decode");
        let out = store.import_block(block).expect("import");
        if out.slot == Slot(5_000) {
            mid_htr = out.hash_tree_root;
        }
    }
    let mut group = c.benchmark_group("range_query_10k_chain");
    let headers = |start_slot, max, skip, direction| GetBlockHeaders {
        start_root: Root::ZERO,
        start_slot: Slot(start_slot),
        max,
        skip,
        direction,
    };
    for (name, req) in [
        ("headers_asc_1024_skip0", headers(5_000, 1024, 0, 1)),
        ("headers_desc_1024_skip7", headers(9_999, 1024, 7, 0)),
        ("headers_asc_64_skip0", headers(5_000, 64, 0, 1)),
    ] {
        group.bench_with_input(BenchmarkId::from_parameter(name), &req, |b, req| {
            b.iter(|| black_box(store.block_headers(req)))
        });
    }
    let bodies = GetBlockBodies {
        start_root: mid_htr,
        start_slot: Slot(0),
        max: 64,
        skip: 0,
        direction: 1,
    };
    group.bench_function("bodies_asc_64_from_hash_tree_root", |b| {
        b.iter(|| black_box(store.block_bodies(&bodies)))
    });
    group.bench_function("block_roots_32768", |b| {
        b.iter(|| black_box(store.block_roots(Slot(0), 32_768)))
    });
    group.finish();
}

criterion_group!(benches, import, range_queries);
criterion_main!(benches);
