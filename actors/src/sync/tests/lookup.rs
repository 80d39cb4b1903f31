//! Parent lookup scenarios on the rig: an orphan fetched by root, the depth bound, and an orphan far
//! ahead handed to range sync.

use super::*;
use hobbits_chain::ChainRead;

#[test]
fn an_orphan_triggers_a_parent_lookup_by_root() {
    let remote = chain(13, "a");
    let mut local = genesis_store();
    for slot in 1..=10 {
        let b = remote
            .block(
                &remote
                    .canonical_at_or_before(Slot(slot))
                    .expect("canonical")
                    .root,
            )
            .expect("block");
        local.import_block(b).expect("import");
    }
    let mut rig = Rig::small(local);
    rig.add_peer(1, &chain(10, "a")); // level with us
    rig.expect_no_action();
    let orphan = remote.block(&remote.head().root).expect("head");
    let a = rig.machine.on_orphan_block(PeerId(1), orphan);
    rig.push(a);
    let (id, p, req) = rig.expect_bodies_request();
    assert_eq!(p, PeerId(1));
    assert_eq!(req.max, 1);
    assert_eq!(
        Some(req.start_root),
        remote.canonical_at_or_before(Slot(12)).map(|b| b.root)
    );
    rig.respond(id, Ok(serve(&remote, &RpcRequest::BlockBodies(req))));
    // Slot 12 alone does not link (11 is missing too): one more parent, then the chain imports.
    let r = remote.clone();
    rig.run(move |_| Some(r.clone()));
    assert_eq!(rig.local.head(), remote.head());
    let st = rig.machine.status();
    assert_eq!(
        (
            st.stats.lookups_started,
            st.stats.lookups_completed,
            st.lookups
        ),
        (1, 1, 0)
    );
}

#[test]
fn a_parent_lookup_is_bounded_in_depth() {
    // Our chain: 10 blocks of "a". The orphan is on a fork "b" that left "a" at slot 2 and has
    // blocks at 3..=12: 9 ancestors missing, more than the depth bound of 4.
    let local = chain(10, "a");
    let mut fork = genesis_store();
    for slot in 1..=2 {
        let b = local
            .block(&local.canonical_at_or_before(Slot(slot)).expect("c").root)
            .expect("b");
        fork.import_block(b).expect("import");
    }
    extend(&mut fork, 12, "b");
    let mut rig = Rig::new(
        SyncConfig {
            max_lookup_depth: 4,
            ..SyncConfig::default()
        },
        local,
    );
    rig.add_peer(1, &chain(10, "a"));
    let orphan = fork.block(&fork.head().root).expect("head");
    let a = rig.machine.on_orphan_block(PeerId(1), orphan);
    rig.push(a);
    let mut fetched = 0;
    let f = fork.clone();
    while let Some(action) = rig.actions.pop_front() {
        match action {
            SyncAction::SendRequest { id, request, .. } => {
                if matches!(&request, RpcRequest::BlockBodies(r) if r.max == 1 && !r.start_root.is_zero())
                {
                    fetched += 1;
                }
                rig.respond(id, Ok(serve(&f, &request)));
            }
            SyncAction::ImportLookup { lookup, blocks } => {
                let result = import_all(&mut rig.local, &blocks);
                let a = rig.machine.on_lookup_imported(lookup, result);
                rig.push(a);
            }
            SyncAction::ImportBatch { batch, blocks } => rig.import_batch(batch, &blocks),
            SyncAction::PenalizePeer { .. } => {}
        }
    }
    assert_eq!(fetched, 4);
    let st = rig.machine.status();
    assert_eq!((st.lookups, st.stats.lookups_failed), (0, 1));
    // The failed lookup tried a range sync from the sender, whose blocks never link: it ends.
    assert_eq!(rig.machine.state(), SyncState::Idle);
    assert!(st.stats.restarts >= 1);
    assert!(rig.batch_slots.is_empty() || rig.local.head().slot == Slot(10));
}

#[test]
fn an_orphan_far_ahead_starts_a_range_sync_from_its_sender() {
    let remote = chain(80, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &genesis_store()); // level at handshake
    rig.expect_no_action();
    let orphan = remote.block(&remote.head().root).expect("head");
    let a = rig.machine.on_orphan_block(PeerId(1), orphan);
    rig.push(a);
    let (_, p, req) = rig.expect_headers_request();
    assert_eq!((p, req.start_slot), (PeerId(1), Slot(1)));
    let r = remote.clone();
    rig.run(move |_| Some(r.clone()));
    assert_eq!(rig.local.head(), remote.head());
}
