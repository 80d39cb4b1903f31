//! Two nodes over 127.0.0.1: connect, HELLO both ways, GET_STATUS, headers and bodies served and
//! decoded, PING round trip; and a static peer that restarts is dialed again.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hobbits_actors::node::{start_node, NodeParts};
use hobbits_actors::{RpcRequest, RpcResponse, SendRpcRequest};
use hobbits_chain::rpc::{GetBlockBodies, GetBlockHeaders, GetStatus};
use hobbits_chain::{Root, Slot};
use hobbits_codec::PeerUri;
use support::*;

#[actix_rt::test]
async fn two_nodes_handshake_and_serve_rpc() {
    init_tracing();
    let a = start_node(config(), NodeParts::default())
        .await
        .expect("node a");
    seed_blocks(&a, 6).await;
    let mut cb = config();
    cb.peers = vec![PeerUri::from_socket_addr(a.listen_addr)];
    let b = start_node(cb, NodeParts::default()).await.expect("node b");
    assert_eq!(a.genesis_root, b.genesis_root, "same config, same genesis");

    // HELLO both ways: each side sees one handshaked peer, with the other's node id and head.
    let on_b = wait_for("b handshaked with a", DEADLINE, || async {
        let peers = b.peers().await;
        peers.into_iter().find(|p| p.handshaked)
    })
    .await;
    let on_a = wait_for("a handshaked with b", DEADLINE, || async {
        a.peers().await.into_iter().find(|p| p.handshaked)
    })
    .await;
    assert_eq!(on_b.node_id, Some(a.node_id));
    assert_eq!(on_a.node_id, Some(b.node_id));
    assert_eq!(on_b.hello.as_ref().map(|h| h.best_slot), Some(Slot(6)));
    assert_eq!(on_a.hello.as_ref().map(|h| h.best_slot), Some(Slot(0)));

    // GET_STATUS through the manager.
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let status = b
        .manager
        .send(SendRpcRequest {
            peer: on_b.peer,
            request: RpcRequest::Status(GetStatus::new("test", before)),
        })
        .await
        .expect("mailbox")
        .expect("status");
    let RpcResponse::Status(status) = status else {
        panic!("wrong response {status:?}")
    };
    assert!(status
        .user_agent_lossy()
        .contains(env!("CARGO_PKG_VERSION")));
    assert!(status.timestamp >= before && status.timestamp < before + 60_000);

    // Headers (ascending from slot 2, 3 of them) and bodies through the session handle.
    let headers = on_b
        .session
        .request(RpcRequest::BlockHeaders(GetBlockHeaders {
            start_root: Root::ZERO,
            start_slot: Slot(2),
            max: 3,
            skip: 0,
            direction: 1,
        }))
        .await
        .expect("headers");
    let RpcResponse::BlockHeaders(headers) = headers else {
        panic!("wrong response")
    };
    let slots: Vec<u64> = headers.headers.iter().map(|h| h.slot.0).collect();
    assert_eq!(slots, vec![2, 3, 4]);
    let bodies = on_b
        .session
        .request(RpcRequest::BlockBodies(GetBlockBodies {
            start_root: Root::ZERO,
            start_slot: Slot(1),
            max: 10,
            skip: 0,
            direction: 1,
        }))
        .await
        .expect("bodies");
    let RpcResponse::BlockBodies(bodies) = bodies else {
        panic!("wrong response")
    };
    assert_eq!(bodies.bodies.len(), 6);
    assert_eq!(bodies.bodies[5].slot, Slot(6));

    // Pipelined requests come back matched by id.
    let futs: Vec<_> = (0..20)
        .map(|i| {
            on_b.session
                .request(RpcRequest::Status(GetStatus::new("pipelined", i)))
        })
        .collect();
    for f in futs {
        assert!(matches!(f.await, Ok(RpcResponse::Status(_))));
    }

    // PING round trip on a raw connection (no HELLO needed).
    let mut raw = RawClient::connect(a.listen_addr).await.expect("connect");
    let body: Vec<u8> = (0u8..32).collect();
    assert_eq!(raw.ping(&body).await.as_deref(), Some(&body[..]));

    drop(raw);
    assert_eq!(b.shutdown(Duration::from_secs(5)).await, 0);
    wait_for("a sees b leave", DEADLINE, || async {
        a.peers()
            .await
            .iter()
            .all(|p| p.node_id != Some(b.node_id))
            .then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn static_peer_that_restarts_is_dialed_again() {
    init_tracing();
    let b1 = start_node(config(), NodeParts::default())
        .await
        .expect("b1");
    let b_addr = b1.listen_addr;
    let mut ca = config();
    ca.peers = vec![PeerUri::from_socket_addr(b_addr)];
    let a = start_node(ca, NodeParts::default()).await.expect("a");
    wait_for("a connected to b1", DEADLINE, || async {
        a.peers()
            .await
            .into_iter()
            .find(|p| p.handshaked && p.node_id == Some(b1.node_id))
    })
    .await;

    // b goes away: a notices.
    b1.shutdown(Duration::from_secs(5)).await;
    wait_for("a lost b1", DEADLINE, || async {
        a.peers().await.is_empty().then_some(())
    })
    .await;

    // b comes back on the same port with a new identity: a dials it again.
    let mut cb2 = config();
    cb2.listen = b_addr;
    let b2 = wait_for("port free again", DEADLINE, || {
        let cb2 = cb2.clone();
        async move { start_node(cb2, NodeParts::default()).await.ok() }
    })
    .await;
    wait_for("a redialed b2", DEADLINE, || async {
        a.peers()
            .await
            .into_iter()
            .find(|p| p.handshaked && p.node_id == Some(b2.node_id))
    })
    .await;
}

#[actix_rt::test]
async fn simultaneous_dial_ends_with_one_connection() {
    init_tracing();
    let a = start_node(config(), NodeParts::default()).await.expect("a");
    let b = start_node(config(), NodeParts::default()).await.expect("b");
    a.manager.do_send(hobbits_actors::DialPeer {
        uri: PeerUri::from_socket_addr(b.listen_addr),
    });
    b.manager.do_send(hobbits_actors::DialPeer {
        uri: PeerUri::from_socket_addr(a.listen_addr),
    });
    // Both ends settle on exactly one handshaked connection, and it is the same TCP connection.
    let (pa, pb) = wait_for("one connection each", DEADLINE, || async {
        let (pa, pb) = (a.peers().await, b.peers().await);
        (pa.len() == 1 && pb.len() == 1 && pa[0].handshaked && pb[0].handshaked)
            .then(|| (pa[0].clone(), pb[0].clone()))
    })
    .await;
    assert_eq!(
        pa.direction == hobbits_actors::Direction::Outbound,
        pb.direction == hobbits_actors::Direction::Inbound
    );
    // The kept connection stays (no redial storm: the static slot follows the kept link). The
    // invariant is checked continuously over several reconnect periods.
    let end = std::time::Instant::now() + Duration::from_millis(300);
    while std::time::Instant::now() < end {
        let (now_a, now_b) = (a.peers().await, b.peers().await);
        assert_eq!(
            now_a.iter().map(|p| p.peer).collect::<Vec<_>>(),
            vec![pa.peer]
        );
        assert_eq!(
            now_b.iter().map(|p| p.peer).collect::<Vec<_>>(),
            vec![pb.peer]
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
