//! Two of our nodes talking through the relay on 127.0.0.1: the handshake and the RPC a syncing
//! node uses (GET_STATUS, headers, bodies) pass unchanged, give the same answers as a direct
//! connection, and the relay's log names each step with no deviation.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use hobbits_actors::node::{start_node, NodeParts};
use hobbits_actors::{NodeConfig, NodeHandle, PeerInfo, RpcRequest, RpcResponse};
use hobbits_chain::rpc::{GetBlockBodies, GetBlockHeaders, GetStatus};
use hobbits_chain::{Root, Slot};
use hobbits_codec::rpc::RpcMethod;
use hobbits_codec::PeerUri;
use hobbits_tools::relay::{
    FrameMessage, RelayDirection, RelayEvent, RelayHandle, RelayedFrame, RpcRole,
};
use support::{seed_blocks, start_relay, wait_for, DEADLINE};

async fn handshaked_peer(node: &NodeHandle, what: &str) -> PeerInfo {
    wait_for(what, DEADLINE, || async {
        node.peers().await.into_iter().find(|p| p.handshaked)
    })
    .await
}

/// What B learns from A over one connection: A's HELLO as B saw it, then the RPC answers.
#[derive(Debug, PartialEq)]
struct Learned {
    best_slot: Option<Slot>,
    header_slots: Vec<u64>,
    body_roots: Vec<Root>,
}

async fn learn_from(b: &NodeHandle, peer: &PeerInfo) -> Learned {
    let status = peer
        .session
        .request(RpcRequest::Status(GetStatus::new("through", 1)))
        .await
        .expect("status");
    assert!(matches!(status, RpcResponse::Status(_)));
    let RpcResponse::BlockHeaders(headers) = peer
        .session
        .request(RpcRequest::BlockHeaders(GetBlockHeaders {
            start_root: Root::ZERO,
            start_slot: Slot(1),
            max: 10,
            skip: 0,
            direction: 1,
        }))
        .await
        .expect("headers")
    else {
        panic!("wrong response to headers")
    };
    let RpcResponse::BlockBodies(bodies) = peer
        .session
        .request(RpcRequest::BlockBodies(GetBlockBodies {
            start_root: Root::ZERO,
            start_slot: Slot(1),
            max: 10,
            skip: 0,
            direction: 1,
        }))
        .await
        .expect("bodies")
    else {
        panic!("wrong response to bodies")
    };
    let _ = b;
    Learned {
        best_slot: peer.hello.as_ref().map(|h| h.best_slot),
        header_slots: headers.headers.iter().map(|h| h.slot.0).collect(),
        body_roots: bodies.bodies.iter().map(|b| b.signing_root()).collect(),
    }
}

async fn node_dialing(target: SocketAddr) -> NodeHandle {
    let mut config = NodeConfig::local_test();
    config.peers = vec![PeerUri::from_socket_addr(target)];
    start_node(config, NodeParts::default())
        .await
        .expect("node b")
}

/// Collects frame records until `done` holds for the frames so far (or fails at the deadline).
async fn frames_until(
    relay: &mut RelayHandle,
    log: &mut Vec<String>,
    mut done: impl FnMut(&[RelayedFrame]) -> bool,
) -> Vec<RelayedFrame> {
    let mut frames = Vec::new();
    let ok = tokio::time::timeout(DEADLINE, async {
        while let Some(event) = relay.next_event().await {
            log.push(event.to_string());
            if let RelayEvent::FrameRelayed(f) = event {
                frames.push(*f);
                if done(&frames) {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert!(
        matches!(ok, Ok(true)),
        "relay log so far:\n{}",
        log.join("\n")
    );
    frames
}

fn is(f: &RelayedFrame, dir: RelayDirection, method: RpcMethod, response: bool) -> bool {
    f.direction == dir
        && matches!(f.message, FrameMessage::Rpc { method: m, role, .. }
            if m == method && matches!(role, RpcRole::Response { .. }) == response)
}

#[actix_rt::test]
async fn two_nodes_through_the_relay_see_what_they_see_directly() {
    let a = start_node(NodeConfig::local_test(), NodeParts::default())
        .await
        .expect("node a");
    seed_blocks(&a, 5).await;

    // Baseline: B talks to A directly.
    let direct_b = node_dialing(a.listen_addr).await;
    let direct_peer = handshaked_peer(&direct_b, "direct handshake").await;
    let direct = learn_from(&direct_b, &direct_peer).await;
    assert_eq!(direct.header_slots, vec![1, 2, 3, 4, 5]);
    direct_b.shutdown(Duration::from_secs(2)).await;

    // Through the relay.
    let mut relay = start_relay(a.listen_addr, |_| {}).await;
    let b = node_dialing(relay.listen_addr()).await;
    let peer = handshaked_peer(&b, "handshake through the relay").await;
    let relayed = learn_from(&b, &peer).await;
    assert_eq!(relayed, direct, "the relay changed what B learned");
    assert_eq!(peer.node_id, Some(a.node_id));

    use RelayDirection::{ClientToServer as C2S, ServerToClient as S2C};
    let mut log = Vec::new();
    let frames = frames_until(&mut relay, &mut log, |fs| {
        fs.iter().any(|f| is(f, S2C, RpcMethod::BlockBodies, true))
    })
    .await;
    // The relay's log (shown with --nocapture) names each step.
    println!("{}", log.join("\n"));
    // Each step, in order, as requests from B and responses from A.
    let steps = [
        (C2S, RpcMethod::Hello, false),
        (S2C, RpcMethod::Hello, true),
        (C2S, RpcMethod::GetStatus, false),
        (S2C, RpcMethod::GetStatus, true),
        (C2S, RpcMethod::GetBlockHeaders, false),
        (S2C, RpcMethod::BlockHeaders, true),
        (C2S, RpcMethod::GetBlockBodies, false),
        (S2C, RpcMethod::BlockBodies, true),
    ];
    let mut at = 0;
    for (dir, method, response) in steps {
        let found = frames[at..]
            .iter()
            .position(|f| is(f, dir, method, response))
            .unwrap_or_else(|| panic!("no {dir} {method} in the relay log:\n{}", log.join("\n")));
        at += found + 1;
    }
    // Our nodes speak the spec: no deviation on any frame.
    for f in &frames {
        assert!(
            f.deviations.is_empty(),
            "deviation on {f}\nlog:\n{}",
            log.join("\n")
        );
    }
    let bodies_line = frames
        .iter()
        .find(|f| is(f, S2C, RpcMethod::BlockBodies, true))
        .map(|f| f.to_string())
        .unwrap_or_default();
    assert!(bodies_line.contains("count=5 slots=1..5"), "{bodies_line}");

    b.shutdown(Duration::from_secs(2)).await;
    let summary = relay.shutdown().await;
    assert_eq!(summary.connections_opened, 1);
    assert_eq!(summary.frame_count(C2S, "RPC", "HELLO(0)"), 1, "{summary}");
    assert_eq!(
        summary.frame_count(S2C, "RPC", "BLOCK_BODIES(13)"),
        1,
        "{summary}"
    );
    assert!(summary.deviations.is_empty(), "{summary}");
    assert_eq!(summary.unanswered, 0, "{summary}");
    a.shutdown(Duration::from_secs(2)).await;
}
