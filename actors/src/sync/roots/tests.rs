//! Tests of sync through roots: the checks of headers and bodies, the pieces of a round and
//! their assignment (plain functions, no runtime).

use super::*;
use hobbits_chain::{BlockProducer, ChainStore, GenesisConfig, Slot, StoreConfig};

fn blocks(n: u64) -> Vec<BeaconBlock> {
    let mut s = GenesisConfig::new(1, 1, Duration::from_secs(0), None)
        .and_then(|g| g.memory_store(StoreConfig::default()))
        .expect("genesis");
    let p = BlockProducer::new("roots", 1);
    (1..=n)
        .map(|slot| {
            let b = p.produce_on_head(&s, Slot(slot)).expect("produce");
            s.import_block(b.clone()).expect("import");
            b
        })
        .collect()
}

fn pairs(blocks: &[BeaconBlock]) -> Vec<BlockRootSlot> {
    blocks
        .iter()
        .map(|b| BlockRootSlot {
            block_root: b.signing_root(),
            slot: b.slot,
        })
        .collect()
}

#[test]
fn honest_headers_and_bodies_make_the_blocks() {
    let chain = blocks(5);
    let headers: Vec<_> = chain.iter().map(BeaconBlock::header).collect();
    check_headers(&pairs(&chain), &headers).expect("honest headers");
    let bodies = chain.iter().map(|b| b.body.clone()).collect();
    assert_eq!(assemble(&headers, bodies).expect("assembled"), chain);
}

#[test]
fn wrong_roots_broken_links_and_foreign_bodies_are_peer_faults() {
    let chain = blocks(4);
    let asked = pairs(&chain);
    let headers: Vec<_> = chain.iter().map(BeaconBlock::header).collect();
    // A header missing, or another block's header in its place.
    assert!(matches!(
        check_headers(&asked, &headers[..3]),
        Err(RootsSyncError::Peer(_))
    ));
    let mut swapped = headers.clone();
    swapped.swap(1, 2);
    assert!(matches!(
        check_headers(&asked, &swapped),
        Err(RootsSyncError::Peer(_))
    ));
    // Roots listed as the peer's canonical chain that do not link.
    let gap = [asked[0], asked[2]];
    assert!(matches!(
        check_headers(&gap, &[headers[0].clone(), headers[2].clone()]),
        Err(RootsSyncError::Peer(m)) if m.contains("link")
    ));
    // A zero body (what a peer sends for a root it lacks) or another block's body.
    let mut bodies: Vec<_> = chain.iter().map(|b| b.body.clone()).collect();
    bodies[1] = BeaconBlockBody::default();
    assert!(matches!(
        assemble(&headers, bodies),
        Err(RootsSyncError::Peer(m)) if m.contains("slot 2")
    ));
    let mut bodies: Vec<_> = chain.iter().map(|b| b.body.clone()).collect();
    bodies.swap(0, 3);
    assert!(assemble(&headers, bodies).is_err());
}

#[test]
fn a_round_is_cut_into_pieces_up_to_the_best_tip() {
    let config = RootsSyncConfig {
        range_slots: 32,
        pieces_per_peer: 2,
        ..RootsSyncConfig::default()
    };
    // Head 10, lookback from 0, best tip 300, three peers: at most six pieces, the first
    // from the lookback to 32 past the head.
    let pieces = plan_pieces(0, 10, 300, 3, &config);
    assert_eq!(pieces.len(), 6);
    assert_eq!(
        pieces[0],
        Piece {
            start: 0,
            count: 43
        }
    );
    assert_eq!(
        pieces[1],
        Piece {
            start: 43,
            count: 32
        }
    );
    assert!(pieces
        .windows(2)
        .all(|w| w[0].start + w[0].count == w[1].start));
    // Caught up: one piece, which also polls past our head.
    assert_eq!(
        plan_pieces(5, 100, 100, 3, &config),
        vec![Piece {
            start: 5,
            count: 128
        }]
    );
    // Counts stay within the spec's 32768.
    let wide = RootsSyncConfig {
        range_slots: u64::MAX,
        ..config
    };
    let p = plan_pieces(0, 0, u64::MAX, 1, &wide);
    assert!(p.iter().all(|p| p.count <= MAX_BLOCK_ROOTS_COUNT), "{p:?}");
}

#[test]
fn pieces_go_in_turn_to_the_peers_whose_tip_reaches_them() {
    let pieces: Vec<Piece> = (0..4)
        .map(|i| Piece {
            start: i * 10,
            count: 10,
        })
        .collect();
    // Peer 1 is behind (tip 15): of these, only the first piece (slots 0..10) is whole
    // on its chain; the others alternate between peers 0 and 2.
    let tips = [40, 15, 40];
    assert_eq!(assign(&pieces, &tips, 40, 0), vec![0, 2, 0, 2]);
    // Next round, the turn moves on: peer 1 gets the first piece.
    assert_eq!(assign(&pieces, &tips, 40, 1), vec![1, 0, 2, 0]);
    // Nobody reaches a piece: the best-tipped peer is asked.
    assert_eq!(assign(&pieces[3..], &[5, 7], 40, 0), vec![1]);
}
