//! The node as an RPC client against a scripted raw peer: responses matched by id when they come
//! out of order, a request nobody answers ends in `RpcError::Timeout`, the per-peer cap on
//! outstanding requests gives `TooManyOutstanding`, and a disconnect fails what is pending.

mod support;

use std::time::Duration;

use hobbits_actors::node::NodeHandle;
use hobbits_actors::{RpcError, RpcRequest, RpcResponse, SessionHandle};
use hobbits_chain::rpc::GetStatus;
use hobbits_codec::rpc::{RpcMethod, RpcPayload};
use support::*;

/// A node that dials a raw peer; the raw peer completes the handshake. Returns both ends.
async fn node_with_raw_peer(
    request_timeout: Duration,
    max_outstanding: usize,
) -> (NodeHandle, SessionHandle, RawClient) {
    let mut cfg = config();
    cfg.timeouts.request = request_timeout;
    cfg.limits.max_outstanding_requests = max_outstanding;
    let (node, mut raw) = start_node_dialing_raw_peer(cfg).await;
    let hello = raw
        .next_rpc(RpcMethod::Hello, DEADLINE)
        .await
        .expect("HELLO");
    raw.send(rpc_frame(
        hello.header.id.0,
        RpcPayload::Hello(genesis_hello(1, node.genesis_root)),
    ))
    .await;
    let session = wait_for("handshaked", DEADLINE, || async {
        node.peers()
            .await
            .into_iter()
            .find(|p| p.handshaked)
            .map(|p| p.session)
    })
    .await;
    (node, session, raw)
}

fn status(agent: &str) -> RpcRequest {
    RpcRequest::Status(GetStatus::new(agent, 1))
}

#[actix_rt::test]
async fn out_of_order_responses_reach_their_requests() {
    init_tracing();
    let (_node, session, mut raw) = node_with_raw_peer(Duration::from_secs(5), 8).await;
    let first = tokio::spawn(session.request(status("first")));
    let req1 = raw
        .next_rpc(RpcMethod::GetStatus, DEADLINE)
        .await
        .expect("req 1");
    let second = tokio::spawn(session.request(status("second")));
    let req2 = raw
        .next_rpc(RpcMethod::GetStatus, DEADLINE)
        .await
        .expect("req 2");
    assert_ne!(req1.header.id, req2.header.id, "ids unique per connection");
    // Answer the second first.
    for (req, agent) in [(&req2, "answer-2"), (&req1, "answer-1")] {
        raw.send(rpc_frame(
            req.header.id.0,
            RpcPayload::GetStatus(GetStatus::new(agent, 2)),
        ))
        .await;
    }
    let agent = |r: Result<RpcResponse, RpcError>| match r {
        Ok(RpcResponse::Status(s)) => s.user_agent_lossy(),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(agent(first.await.expect("join")), "answer-1");
    assert_eq!(agent(second.await.expect("join")), "answer-2");
}

#[actix_rt::test]
async fn unanswered_request_times_out_and_the_cap_is_enforced() {
    init_tracing();
    let (_node, session, mut raw) = node_with_raw_peer(Duration::from_millis(300), 2).await;
    let a = tokio::spawn(session.request(status("a")));
    let b = tokio::spawn(session.request(status("b")));
    // Both are on the wire before the third is tried.
    raw.next_rpc(RpcMethod::GetStatus, DEADLINE)
        .await
        .expect("a");
    raw.next_rpc(RpcMethod::GetStatus, DEADLINE)
        .await
        .expect("b");
    assert_eq!(
        session.request(status("c")).await,
        Err(RpcError::TooManyOutstanding { max: 2 })
    );
    assert_eq!(
        a.await.expect("join"),
        Err(RpcError::Timeout {
            after: Duration::from_millis(300)
        })
    );
    assert!(matches!(
        b.await.expect("join"),
        Err(RpcError::Timeout { .. })
    ));
    // Room again after the timeouts.
    let d = tokio::spawn(session.request(status("d")));
    let req = raw
        .next_rpc(RpcMethod::GetStatus, DEADLINE)
        .await
        .expect("d");
    raw.send(rpc_frame(
        req.header.id.0,
        RpcPayload::GetStatus(GetStatus::new("late-ok", 3)),
    ))
    .await;
    assert!(matches!(d.await.expect("join"), Ok(RpcResponse::Status(_))));
}

#[actix_rt::test]
async fn pending_requests_fail_with_disconnected_when_the_peer_leaves() {
    init_tracing();
    let (_node, session, mut raw) = node_with_raw_peer(Duration::from_secs(5), 8).await;
    let pending = tokio::spawn(session.request(status("x")));
    raw.next_rpc(RpcMethod::GetStatus, DEADLINE)
        .await
        .expect("req");
    drop(raw);
    assert_eq!(pending.await.expect("join"), Err(RpcError::Disconnected));
}
