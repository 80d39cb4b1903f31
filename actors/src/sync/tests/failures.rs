//! Range sync failure scenarios on the rig: a peer disconnecting or timing out mid-batch, bodies or
//! headers that are garbage, a wrong response kind, a batch on another fork, stale responses.

use super::*;
use hobbits_chain::ChainRead;

#[test]
fn a_peer_disconnecting_mid_sync_hands_its_batch_to_another() {
    let remote = chain(40, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    let (_, p, _) = rig.expect_headers_request();
    assert_eq!(p, PeerId(1));
    rig.add_peer(2, &remote);
    let (id2, p2, _) = rig.expect_headers_request();
    assert_eq!(p2, PeerId(2));
    // Peer 2 answers its headers, then peer 1 leaves with its batch (slots 1..9) outstanding.
    rig.respond(
        id2,
        Ok(serve(
            &remote,
            &RpcRequest::BlockHeaders(GetBlockHeaders {
                start_slot: Slot(9),
                max: 8,
                direction: 1,
                ..Default::default()
            }),
        )),
    );
    let a = rig.machine.on_peer_disconnected(PeerId(1));
    rig.push(a);
    // The lost batch goes to peer 2 once it has room; run everything from peer 2.
    let r = remote.clone();
    rig.run(move |p| (p == PeerId(2)).then(|| r.clone()));
    assert_eq!(rig.local.head(), remote.head());
    rig.assert_imported_once_in_order(1, 40);
    assert!(rig.machine.status().stats.batches_retried >= 1);
}

#[test]
fn a_timeout_retries_the_batch_from_another_peer() {
    let remote = chain(8, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    let (id, _, _) = rig.expect_headers_request();
    rig.add_peer(2, &remote);
    rig.expect_no_action(); // one batch only, already assigned
    rig.respond(
        id,
        Err(RpcError::Timeout {
            after: std::time::Duration::from_secs(1),
        }),
    );
    let (_, p, req) = rig.expect_headers_request();
    assert_eq!((p, req.start_slot), (PeerId(2), Slot(1)));
    let r = remote.clone();
    rig.run(move |_| Some(r.clone()));
    rig.assert_imported_once_in_order(1, 8);
}

#[test]
fn bodies_not_matching_their_headers_are_garbage_and_retried_elsewhere() {
    let remote = chain(8, "a");
    let liar = chain(8, "b"); // same slots, other blocks
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    rig.add_peer(2, &remote);
    let (id, p, req) = rig.expect_headers_request();
    assert_eq!(p, PeerId(1));
    rig.respond(id, Ok(serve(&remote, &RpcRequest::BlockHeaders(req))));
    let (id, _, req) = rig.expect_bodies_request();
    rig.respond(id, Ok(serve(&liar, &RpcRequest::BlockBodies(req))));
    rig.expect_penalty(PeerId(1));
    let (_, p, _) = rig.expect_headers_request();
    assert_eq!(p, PeerId(2));
    let r = remote.clone();
    rig.run(move |_| Some(r.clone()));
    rig.assert_imported_once_in_order(1, 8);
    assert_eq!(rig.machine.status().stats.garbage, 1);
}

#[test]
fn headers_that_do_not_link_are_garbage() {
    let remote = chain(8, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    let (id, _, req) = rig.expect_headers_request();
    let RpcResponse::BlockHeaders(mut h) = serve(&remote, &RpcRequest::BlockHeaders(req)) else {
        unreachable!()
    };
    h.headers[3].parent_root = hobbits_chain::Root([9; 32]);
    rig.respond(id, Ok(RpcResponse::BlockHeaders(h)));
    rig.expect_penalty(PeerId(1));
    // Peer 1 is left out; nobody else can serve: sync stops until a peer comes.
    assert_eq!(rig.machine.state(), SyncState::Idle);
    rig.add_peer(2, &remote);
    let r = remote.clone();
    rig.run(move |_| Some(r.clone()));
    rig.assert_imported_once_in_order(1, 8);
}

#[test]
fn a_wrong_response_kind_is_garbage() {
    let remote = chain(8, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    let (id, _, _) = rig.expect_headers_request();
    rig.respond(id, Ok(RpcResponse::BlockBodies(BlockBodies::default())));
    rig.expect_penalty(PeerId(1));
}

#[test]
fn a_batch_not_linking_to_our_chain_is_retried_and_a_stubborn_failure_restarts() {
    let remote = chain(16, "a");
    let fork = chain(16, "b");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &fork);
    // The first batch comes from the fork peer, the second from the honest one: it does not link,
    // is retried elsewhere, and the result is one consistent chain.
    rig.add_peer(2, &remote);
    let honest = remote.clone();
    let other = fork.clone();
    rig.run(move |p| {
        Some(if p == PeerId(2) {
            honest.clone()
        } else {
            other.clone()
        })
    });
    // Whatever was mixed, the local chain is one consistent chain of 16 blocks.
    assert_eq!(rig.local.head().slot, Slot(16));
    let head = rig.local.head().root;
    assert!(head == remote.head().root || head == fork.head().root);
    assert_eq!(rig.machine.state(), SyncState::Idle);
}

#[test]
fn stale_responses_after_a_disconnect_are_ignored() {
    let remote = chain(8, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    let (id, _, req) = rig.expect_headers_request();
    let a = rig.machine.on_peer_disconnected(PeerId(1));
    rig.push(a);
    assert_eq!(rig.machine.state(), SyncState::Idle);
    rig.respond(id, Ok(serve(&remote, &RpcRequest::BlockHeaders(req))));
    rig.expect_no_action();
}

/// What the actor does when the machine asks a peer that has no session any more (it left while
/// the store answered our status, then its status arrived): reporting it disconnected ends the
/// matter at once, where failing the request with `UnknownPeer` has the machine ask the same peer
/// again, and again (the actor used to do that, recursively, towards a stack overflow).
#[test]
fn a_request_to_a_peer_already_gone_ends_when_the_peer_is_reported_disconnected() {
    let remote = chain(8, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    let (mut id, p, _) = rig.expect_headers_request();
    assert_eq!(p, PeerId(1));
    // Failing it: the machine keeps coming back to peer 1 (restarting the range at its limit).
    for _ in 0..100 {
        rig.respond(id, Err(RpcError::UnknownPeer));
        let (next, p, _) = rig.expect_headers_request();
        assert_eq!(p, PeerId(1));
        id = next;
    }
    // Reporting the peer gone: its request is dropped, nothing more is asked of anyone.
    let a = rig.machine.on_peer_disconnected(PeerId(1));
    rig.push(a);
    rig.expect_no_action();
    rig.respond(id, Err(RpcError::UnknownPeer));
    rig.expect_no_action();
}
