//! Unit tests of the store: import checks, head and finality rules, and the range queries (the
//! skip_slots examples of the eth2 RPC interface, descending order, forks, caps).

use super::*;
use crate::genesis::GenesisConfig;
use crate::producer::BlockProducer;
use crate::rpc::{Direction, MAX_BLOCKS_PER_RESPONSE};
use std::time::Duration;

fn genesis_config() -> GenesisConfig {
    GenesisConfig::new(7, 1, Duration::from_secs(1_565_000_000), None).expect("valid")
}

fn new_store(config: StoreConfig) -> MemoryStore {
    genesis_config().memory_store(config).expect("store")
}

fn store() -> MemoryStore {
    new_store(StoreConfig::default())
}

/// Extends the chain from `parent` with one block per slot in `slots`; returns their roots.
fn extend(
    store: &mut MemoryStore,
    producer: &BlockProducer,
    parent: Root,
    slots: &[u64],
) -> Vec<Root> {
    let mut parent = store.header(&parent).expect("parent known");
    let mut roots = Vec::new();
    for s in slots {
        let block = producer.produce_block(&parent, Slot(*s)).expect("child");
        parent = block.header();
        roots.push(store.import_block(block).expect("import").root);
    }
    roots
}

fn slots_of(store: &MemoryStore, roots: &[Root]) -> Vec<u64> {
    roots
        .iter()
        .map(|r| store.header(r).expect("known").slot.0)
        .collect()
}

fn query(
    store: &MemoryStore,
    start_slot: u64,
    skip: u64,
    direction: Direction,
    max: u64,
) -> Vec<u64> {
    let roots = store.range_roots(&RangeRequest {
        start_root: Root::ZERO,
        start_slot: Slot(start_slot),
        max,
        skip,
        direction,
    });
    slots_of(store, &roots)
}

fn chain_with_slots(slots: &[u64]) -> MemoryStore {
    let mut s = store();
    let g = s.genesis_root();
    extend(&mut s, &BlockProducer::new("alice", 0), g, slots);
    s
}

#[test]
fn skip_slots_examples_of_the_eth2_rpc_interface() {
    let full = chain_with_slots(&[2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(
        query(&full, 2, 1, Direction::Ascending, 100),
        vec![2, 4, 6, 8, 10]
    );
    assert_eq!(
        query(&full, 2, 0, Direction::Ascending, 100),
        vec![2, 3, 4, 5, 6, 7, 8, 9, 10]
    );
    let no4 = chain_with_slots(&[2, 3, 5, 6, 7, 8, 9, 10]);
    assert_eq!(
        query(&no4, 2, 1, Direction::Ascending, 100),
        vec![2, 3, 6, 8, 10]
    );
    let no34 = chain_with_slots(&[2, 5, 6, 7, 8, 9, 10]);
    assert_eq!(
        query(&no34, 2, 1, Direction::Ascending, 100),
        vec![2, 6, 8, 10]
    );
    assert_eq!(
        query(&no34, 2, 0, Direction::Ascending, 100),
        vec![2, 5, 6, 7, 8, 9, 10]
    );
}

#[test]
fn ascending_bounds_max_and_start() {
    let full = chain_with_slots(&[2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(query(&full, 2, 1, Direction::Ascending, 3), vec![2, 4, 6]);
    assert_eq!(
        query(&full, 2, 1, Direction::Ascending, 0),
        Vec::<u64>::new()
    );
    // From genesis: slot 1 is empty, the closest previous block is genesis (collapsed).
    assert_eq!(
        query(&full, 0, 0, Direction::Ascending, 4),
        vec![0, 2, 3, 4]
    );
    assert_eq!(
        query(&full, 0, 2, Direction::Ascending, 100),
        vec![0, 3, 6, 9]
    );
    // Past the head: nothing.
    assert_eq!(
        query(&full, 11, 0, Direction::Ascending, 100),
        Vec::<u64>::new()
    );
    // A huge skip returns the start block only.
    assert_eq!(
        query(&full, 2, u64::MAX, Direction::Ascending, 100),
        vec![2]
    );
}

#[test]
fn descending_order() {
    let full = chain_with_slots(&[2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(
        query(&full, 10, 1, Direction::Descending, 100),
        vec![10, 8, 6, 4, 2, 0]
    );
    assert_eq!(
        query(&full, 10, 1, Direction::Descending, 3),
        vec![10, 8, 6]
    );
    assert_eq!(
        query(&full, 5, 0, Direction::Descending, 100),
        vec![5, 4, 3, 2, 0]
    );
    // A start beyond the head begins at the head (the closest previous block).
    assert_eq!(query(&full, 50, 0, Direction::Descending, 2), vec![10, 9]);
    let no4 = chain_with_slots(&[2, 3, 5, 6, 7, 8, 9, 10]);
    assert_eq!(
        query(&no4, 10, 1, Direction::Descending, 100),
        vec![10, 8, 6, 3, 2, 0]
    );
    let no34 = chain_with_slots(&[2, 5, 6, 7, 8, 9, 10]);
    assert_eq!(
        query(&no34, 10, 1, Direction::Descending, 100),
        vec![10, 8, 6, 2, 0]
    );
}

#[test]
fn start_root_by_signing_root_or_hash_tree_root() {
    let mut s = store();
    let g = s.genesis_root();
    let roots = extend(
        &mut s,
        &BlockProducer::new("alice", 0),
        g,
        &[1, 2, 3, 4, 5, 6],
    );
    let block3 = s.block(&roots[2]).expect("known");
    let htr = block3.hash_tree_root();
    assert_ne!(htr, roots[2]);
    assert_eq!(s.resolve_root(&htr), Some(roots[2]));
    for start_root in [roots[2], htr] {
        let got = s.range_roots(&RangeRequest {
            start_root,
            start_slot: Slot(0), // ignored: the root wins
            max: 10,
            skip: 0,
            direction: Direction::Ascending,
        });
        assert_eq!(slots_of(&s, &got), vec![3, 4, 5, 6]);
    }
    // An unknown root falls back to start_slot.
    let got = s.range_roots(&RangeRequest {
        start_root: Root([0xee; 32]),
        start_slot: Slot(5),
        max: 10,
        skip: 0,
        direction: Direction::Ascending,
    });
    assert_eq!(slots_of(&s, &got), vec![5, 6]);
}

#[test]
fn start_root_on_a_fork_walks_that_fork() {
    // canonical: 0 - 2 - 3 - 4 - 5 - 6 - 7 - 8 - 9 - 10; fork from 5: 7' - 8'
    let mut s = store();
    let g = s.genesis_root();
    let main = extend(
        &mut s,
        &BlockProducer::new("alice", 0),
        g,
        &[2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    let fork = extend(&mut s, &BlockProducer::new("bob", 1), main[3], &[7, 8]);
    assert!(!s.is_canonical(&fork[0]));
    assert_eq!(s.head().root, main[8]);
    let run = |start_root, direction, skip| {
        s.range_roots(&RangeRequest {
            start_root,
            start_slot: Slot(0),
            max: 100,
            skip,
            direction,
        })
    };
    // Descending from the fork tip: the fork's ancestry, then the common canonical ancestry.
    let desc = run(fork[1], Direction::Descending, 0);
    assert_eq!(desc[..2], [fork[1], fork[0]]);
    assert_eq!(desc[2], main[3]);
    assert_eq!(slots_of(&s, &desc), vec![8, 7, 5, 4, 3, 2, 0]);
    // With a skip: slot 6 is empty on the fork, so it yields block 5.
    assert_eq!(
        slots_of(&s, &run(fork[1], Direction::Descending, 1)),
        vec![8, 5, 4, 2, 0]
    );
    // Ascending from the fork's first block: that fork up to its best tip.
    assert_eq!(
        run(fork[0], Direction::Ascending, 0),
        vec![fork[0], fork[1]]
    );
    // Ascending from the common ancestor: the canonical chain.
    assert_eq!(
        slots_of(&s, &run(main[3], Direction::Ascending, 0)),
        vec![5, 6, 7, 8, 9, 10]
    );
    assert_eq!(run(main[3], Direction::Ascending, 0)[1], main[4]);
}

#[test]
fn node_wide_cap_and_huge_slot_gaps() {
    let mut s = store();
    let g = s.genesis_root();
    let slots: Vec<u64> = (1..=1500).collect();
    extend(&mut s, &BlockProducer::new("alice", 0), g, &slots);
    let got = query(&s, 0, 0, Direction::Ascending, u64::MAX);
    assert_eq!(got.len() as u64, MAX_BLOCKS_PER_RESPONSE);
    let headers = s.block_headers(&crate::rpc::GetBlockHeaders {
        start_root: Root::ZERO,
        start_slot: Slot(1),
        max: 5,
        skip: 0,
        direction: 1,
    });
    assert_eq!(
        headers.headers.iter().map(|h| h.slot.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    let bodies = s.block_bodies(&crate::rpc::GetBlockBodies {
        start_root: Root::ZERO,
        start_slot: Slot(1500),
        max: 2,
        skip: 0,
        direction: 0,
    });
    assert_eq!(
        bodies.bodies.iter().map(|b| b.slot.0).collect::<Vec<_>>(),
        vec![1500, 1499]
    );

    // A block 10^18 slots later: queries stay proportional to the results.
    let mut gap = store();
    let g = gap.genesis_root();
    extend(
        &mut gap,
        &BlockProducer::new("alice", 0),
        g,
        &[1, 1_000_000_000_000_000_000],
    );
    assert_eq!(
        query(&gap, 0, 0, Direction::Ascending, 100),
        vec![0, 1, 1_000_000_000_000_000_000]
    );
    assert_eq!(
        query(&gap, u64::MAX, 0, Direction::Descending, 100),
        vec![1_000_000_000_000_000_000, 1, 0]
    );
    // Step 4 from slot 1: no target lands at or after 10^18 without passing the tip.
    assert_eq!(query(&gap, 1, 3, Direction::Ascending, 100), vec![1]);
    assert_eq!(
        query(&gap, 0, 1, Direction::Ascending, 100),
        vec![0, 1, 1_000_000_000_000_000_000]
    );
}

#[test]
fn import_checks_are_typed_errors() {
    let mut s = store();
    let g = s.genesis_root();
    let alice = BlockProducer::new("alice", 0);
    let genesis_header = s.header(&g).expect("genesis");
    let b1 = alice
        .produce_block(&genesis_header, Slot(1))
        .expect("block");
    let r1 = s.import_block(b1.clone()).expect("import").root;
    assert_eq!(
        s.import_block(b1.clone()),
        Err(ChainError::AlreadyKnown { root: r1 })
    );
    // Orphan: the parent is unknown.
    let orphan_parent = alice.produce_block(&b1.header(), Slot(2)).expect("block");
    let orphan = alice
        .produce_block(&orphan_parent.header(), Slot(3))
        .expect("block");
    let err = s.import_block(orphan.clone()).expect_err("orphan");
    assert_eq!(err.missing_parent(), Some(orphan_parent.signing_root()));
    // Once the parent arrives the orphan imports.
    s.import_block(orphan_parent).expect("parent");
    s.import_block(orphan).expect("orphan now fits");
    // Slot not after the parent's.
    let mut bad = alice.produce_block(&b1.header(), Slot(2)).expect("block");
    bad.slot = Slot(1);
    assert!(matches!(
        s.import_block(bad),
        Err(ChainError::SlotNotAfterParent {
            slot: Slot(1),
            parent_slot: Slot(1),
            ..
        })
    ));
    // Full store.
    let mut tiny = new_store(StoreConfig {
        max_blocks: 2,
        ..StoreConfig::default()
    });
    let g = tiny.genesis_root();
    extend(&mut tiny, &alice, g, &[1]);
    let next = alice.produce_on_head(&tiny, Slot(2)).expect("block");
    assert_eq!(
        tiny.import_block(next),
        Err(ChainError::StoreFull { max: 2 })
    );
    assert_eq!(tiny.block_count(), 2);
}

#[test]
fn head_rule_ties_and_reorgs() {
    let mut s = store();
    let g = s.genesis_root();
    let a = BlockProducer::new("alice", 0)
        .produce_on_head(&s, Slot(1))
        .expect("a");
    let b = BlockProducer::new("bob", 1)
        .produce_on_head(&s, Slot(1))
        .expect("b");
    assert_ne!(a.signing_root(), b.signing_root());
    let (low, high) = if a.signing_root() < b.signing_root() {
        (a, b)
    } else {
        (b, a)
    };
    let out = s.import_block(high.clone()).expect("high");
    assert!(out.head_changed && !out.reorg);
    // Same slot, lower root: becomes head, and it does not extend the old head.
    let out = s.import_block(low.clone()).expect("low");
    assert!(out.head_changed && out.reorg);
    assert_eq!(s.head().root, low.signing_root());
    // A child of the higher-root block takes over by slot.
    let child = BlockProducer::new("carol", 2)
        .produce_block(&high.header(), Slot(2))
        .expect("child");
    let out = s.import_block(child.clone()).expect("child");
    assert!(out.head_changed && out.reorg);
    assert_eq!(
        s.canonical_at_or_before(Slot(1)).map(|b| b.root),
        Some(high.signing_root())
    );
    assert!(!s.is_canonical(&low.signing_root()));
    // A lower-slot fork block does not move the head.
    let late = BlockProducer::new("dave", 3)
        .produce_block(&low.header(), Slot(2))
        .expect("late");
    let late_root = late.signing_root();
    let out = s.import_block(late).expect("late");
    assert_eq!(out.head_changed, late_root < child.signing_root());
    assert_eq!(s.block_count(), 5);
    assert!(s.contains_block(&g));
}

#[test]
fn finality_follows_the_head_and_refuses_conflicts() {
    let mut s = store(); // 8 slots per epoch, depth 2
    let g = s.genesis_root();
    let alice = BlockProducer::new("alice", 0);
    // Slot 8 left empty: the epoch-1 boundary block is the one at slot 7.
    let slots: Vec<u64> = (1..=23).filter(|s| *s != 8).collect();
    let roots = extend(&mut s, &alice, g, &slots);
    assert_eq!(s.finalized_checkpoint().epoch, Epoch(0));
    let early_fork = BlockProducer::new("bob", 1)
        .produce_block(&s.header(&roots[1]).expect("slot 2"), Slot(3))
        .expect("fork");
    let b24 = alice.produce_on_head(&s, Slot(24)).expect("24");
    let out = s.import_block(b24).expect("24");
    let cp = out.finalized.expect("finality advanced");
    assert_eq!(cp.epoch, Epoch(1));
    assert_eq!(cp.root, roots[6]); // slot 7
    assert_eq!(s.finalized_checkpoint(), cp);
    // A fork branching below the finalized block is refused.
    assert!(matches!(
        s.import_block(early_fork),
        Err(ChainError::ConflictsWithFinality { .. })
    ));
    // Handshake lookups.
    assert_eq!(s.root_at_epoch_boundary(Epoch(1)), Some(roots[6]));
    assert_eq!(
        s.check_finalized(&roots[6], Epoch(1)),
        FinalizedCheck::Matches
    );
    assert_eq!(
        s.check_finalized(&roots[5], Epoch(1)),
        FinalizedCheck::Conflicts
    );
    assert_eq!(
        s.check_finalized(&Root([1; 32]), Epoch(9)),
        FinalizedCheck::Unknown
    );
    assert_eq!(
        s.check_finalized(&Root::ZERO, Epoch(0)),
        FinalizedCheck::Matches
    );
    assert_eq!(s.check_finalized(&g, Epoch(0)), FinalizedCheck::Matches);
    let hello = s.hello(7, 1);
    assert_eq!(
        (
            hello.latest_finalized_root,
            hello.latest_finalized_epoch,
            hello.best_slot
        ),
        (roots[6], Epoch(1), Slot(24))
    );
    assert_eq!(hello.best_root, s.head().root);
}

#[test]
fn set_finalized_moves_head_to_the_finalized_branch() {
    let mut s = store();
    let g = s.genesis_root();
    let main = extend(&mut s, &BlockProducer::new("alice", 0), g, &[1, 2, 3, 4]);
    let fork = extend(&mut s, &BlockProducer::new("bob", 1), g, &[2, 3]);
    assert_eq!(s.head().root, main[3]);
    s.set_finalized(Checkpoint {
        epoch: Epoch(0),
        root: fork[0],
    })
    .expect("known");
    assert_eq!(s.head().root, fork[1]);
    assert!(s.is_canonical(&fork[0]) && !s.is_canonical(&main[1]));
    assert_eq!(
        s.canonical_at_or_before(Slot(9)).map(|b| b.slot),
        Some(Slot(3))
    );
    assert!(s
        .set_finalized(Checkpoint {
            epoch: Epoch(0),
            root: Root([9; 32])
        })
        .is_err());
}

#[test]
fn roots_by_slot_and_bodies_by_roots() {
    let s = chain_with_slots(&[1, 2, 4, 5]);
    let roots = s.block_roots(Slot(1), 4);
    assert_eq!(
        roots.iter().map(|r| r.slot.0).collect::<Vec<_>>(),
        vec![1, 2, 4]
    );
    assert_eq!(s.block_roots(Slot(0), u64::MAX).len(), 5);
    assert!(s.block_roots(Slot(u64::MAX), u64::MAX).is_empty());
    let b2 = s.block(&roots[1].root).expect("known");
    let bodies = s.bodies_by_roots(&[roots[1].root, Root([0xee; 32]), b2.hash_tree_root()]);
    assert_eq!(bodies.len(), 3);
    assert_eq!(bodies[0], b2.body);
    assert_eq!(bodies[1], crate::types::BeaconBlockBody::default());
    assert_eq!(bodies[2], b2.body);
}

#[test]
fn attestations_are_kept_by_hash_with_a_bound() {
    let mut s = new_store(StoreConfig {
        max_attestations: 2,
        ..StoreConfig::default()
    });
    let head = s.head();
    let atts: Vec<_> = (0..3)
        .map(|i| BlockProducer::new("p", i).attest(&s, head))
        .collect();
    let first = s.import_attestation(atts[0].clone()).expect("ok");
    assert!(first.is_new);
    assert!(!s.import_attestation(atts[0].clone()).expect("ok").is_new);
    let resp = s
        .attestation_response(&crate::rpc::GetAttestation { hash: first.hash })
        .expect("stored");
    assert_eq!(resp.attestation, atts[0]);
    s.import_attestation(atts[1].clone()).expect("ok");
    s.import_attestation(atts[2].clone()).expect("ok");
    assert!(s.attestation(&first.hash).is_none(), "oldest evicted");
    assert!(s.attestation(&atts[2].hash_tree_root()).is_some());
}

#[test]
fn states_are_served_by_root() {
    let mut s = store();
    let genesis = genesis_config().build().expect("genesis");
    let root = genesis.state.hash_tree_root();
    assert_eq!(genesis.block.state_root, root);
    let mut hashes = ssz_types::VariableList::empty();
    hashes.push(Root([5; 32])).expect("room");
    hashes.push(root).expect("room");
    let got = s.beacon_states(&crate::rpc::GetBeaconStates { hashes });
    assert_eq!(got.states.len(), 1);
    assert_eq!(got.states[0], genesis.state);
    let mut other = genesis.state.clone();
    other.slot = Slot(3);
    let r = s.insert_state(other.clone());
    assert_eq!(s.state(&r), Some(other));
}

#[test]
fn config_validation() {
    for bad in [
        StoreConfig {
            slots_per_epoch: 0,
            ..StoreConfig::default()
        },
        StoreConfig {
            finality_depth: 0,
            ..StoreConfig::default()
        },
        StoreConfig {
            max_blocks: 0,
            ..StoreConfig::default()
        },
    ] {
        assert!(matches!(
            bad.validate(),
            Err(ChainError::InvalidConfig { .. })
        ));
    }
    assert!(StoreConfig::default().validate().is_ok());
}

#[test]
fn a_hashed_block_has_the_blocks_roots_and_imports_like_the_block() {
    let producer = BlockProducer::new("hashed", 1);
    let mut plain = store();
    let mut hashed = store();
    for slot in 1..=3 {
        let block = producer.produce_on_head(&plain, Slot(slot)).expect("block");
        let h = HashedBlock::new(block.clone());
        assert_eq!(h.hash_tree_root(), block.hash_tree_root());
        assert_eq!(h.header(), &block.header());
        assert_eq!(h.block(), &block);
        let a = plain.import_block(block).expect("import");
        let b = hashed
            .import_hashed_block(h.clone())
            .expect("import hashed");
        assert_eq!(a, b);
        assert!(matches!(
            hashed.import_hashed_block(h),
            Err(ChainError::AlreadyKnown { .. })
        ));
    }
    assert_eq!(plain.head(), hashed.head());
}
