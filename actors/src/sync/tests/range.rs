//! Range sync scenarios on the rig: who is synced from, how batches are cut, spread over peers and
//! imported once each in slot order, and a server capping its answers.

use super::*;
use hobbits_chain::ChainRead;

#[test]
fn a_peer_ahead_is_synced_in_batches_and_each_block_imported_once() {
    let remote = chain(100, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    let (_, peer, req) = rig.expect_headers_request();
    assert_eq!(peer, PeerId(1));
    assert_eq!(
        (req.start_slot, req.max, req.skip, req.direction),
        (Slot(1), 8, 0, 1)
    );
    assert!(matches!(
        rig.machine.state(),
        SyncState::Syncing {
            target_slot: Slot(100),
            peer: PeerId(1),
            ..
        }
    ));
    let (id, _, req) = {
        let (id, p, r) = (rig_first_id(&rig), PeerId(1), req);
        (id, p, r)
    };
    rig.respond(id, Ok(serve(&remote, &RpcRequest::BlockHeaders(req))));
    let (id, _, req) = rig.expect_bodies_request();
    assert_eq!(req.max, 8);
    rig.respond(id, Ok(serve(&remote, &RpcRequest::BlockBodies(req))));
    let (batch, blocks) = rig.expect_import_batch();
    let slots: Vec<u64> = blocks.iter().map(|b| b.slot.0).collect();
    assert_eq!(slots, (1..=8).collect::<Vec<_>>());
    rig.import_batch(batch, &blocks);
    let r = remote.clone();
    rig.run(move |_| Some(r.clone()));
    assert_eq!(rig.local.head(), remote.head());
    rig.assert_imported_once_in_order(1, 100);
    assert_eq!(rig.machine.state(), SyncState::Idle);
    let st = rig.machine.status().stats;
    assert_eq!(
        (st.syncs_started, st.syncs_completed, st.batches_imported),
        (1, 1, 13)
    );
    assert_eq!(st.blocks_imported, 100);
}

#[test]
fn a_peer_behind_or_level_starts_nothing() {
    let local = chain(10, "a");
    let mut rig = Rig::small(local.clone());
    rig.add_peer(1, &chain(10, "a"));
    rig.add_peer(2, &chain(5, "a"));
    rig.expect_no_action();
    assert_eq!(rig.machine.state(), SyncState::Idle);
}

#[test]
fn a_higher_finalized_epoch_wins_over_best_slot() {
    let mut rig = Rig::small(genesis_store());
    let peer = PeerStatus {
        finalized_epoch: Epoch(1),
        best_slot: Slot(3),
    };
    let a = rig.machine.on_peer_status(PeerId(7), peer);
    rig.push(a);
    let (_, p, req) = rig.expect_headers_request();
    assert_eq!((p, req.start_slot, req.max), (PeerId(7), Slot(1), 3));
}

#[test]
fn batches_are_spread_over_peers_sharing_the_chain() {
    let remote = chain(64, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    rig.add_peer(2, &remote);
    rig.add_peer(3, &remote);
    let mut asked: Vec<PeerId> = (0..3).map(|_| rig.expect_headers_request().1).collect();
    asked.sort();
    assert_eq!(asked, vec![PeerId(1), PeerId(2), PeerId(3)]);
    let r = remote.clone();
    rig.run(move |_| Some(r.clone()));
    rig.assert_imported_once_in_order(1, 64);
}

#[test]
fn the_best_peer_sets_the_target() {
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &chain(20, "a"));
    rig.add_peer(2, &chain(50, "a"));
    assert!(matches!(
        rig.machine.state(),
        SyncState::Syncing {
            target_slot: Slot(50),
            peer: PeerId(2),
            ..
        }
    ));
}

#[test]
fn a_capped_answer_leaves_the_rest_of_the_range_to_a_new_batch() {
    let remote = chain(30, "a");
    let mut rig = Rig::new(
        SyncConfig {
            batch_size: 16,
            max_batches: 2,
            requests_per_peer: 2,
            ..SyncConfig::default()
        },
        genesis_store(),
    );
    rig.add_peer(1, &remote);
    // A server that answers at most 5 items.
    let r = remote.clone();
    let capped = move |_: PeerId| Some(r.clone());
    let mut steps = 0;
    while let Some(action) = rig.actions.pop_front() {
        steps += 1;
        assert!(steps < 10_000);
        match action {
            SyncAction::SendRequest { id, request, .. } => {
                let request = match request {
                    RpcRequest::BlockHeaders(mut r) => {
                        r.max = r.max.min(5);
                        RpcRequest::BlockHeaders(r)
                    }
                    other => other,
                };
                let s = capped(PeerId(1)).expect("remote");
                rig.respond(id, Ok(serve(&s, &request)));
            }
            SyncAction::ImportBatch { batch, blocks } => rig.import_batch(batch, &blocks),
            other => panic!("unexpected {other:?}"),
        }
    }
    rig.assert_imported_once_in_order(1, 30);
}
