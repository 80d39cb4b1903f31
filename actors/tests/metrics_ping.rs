//! The metrics PING waits for the handshake: a raw client connects to a node that keeps metrics
//! (PING every 50 ms) and, before its HELLO, receives nothing but the pong to its own PING; once
//! its HELLO is accepted the node's periodic PING arrives.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hobbits_actors::metrics::{Metrics, MetricsConfig};
use hobbits_actors::node::{start_node, NodeParts};
use hobbits_codec::rpc::{RequestId, RpcEnvelope, RpcMethod, RpcPayload};
use hobbits_codec::{PingFrame, PingKind, Protocol};
use support::*;

const DEADLINE: Duration = Duration::from_secs(10);

#[actix_rt::test]
async fn metrics_ping_starts_only_after_the_peers_hello() {
    init_tracing();
    let metrics = Arc::new(
        Metrics::new(MetricsConfig {
            ping_interval: Duration::from_millis(50),
            ..Default::default()
        })
        .expect("metrics config"),
    );
    let node = start_node(
        config(),
        NodeParts {
            metrics: Some(metrics),
            ..NodeParts::default()
        },
    )
    .await
    .expect("node");
    let mut raw = RawClient::connect(node.listen_addr).await.expect("connect");

    // Before our HELLO: the old behaviour PINGed 100 ms after connect, then every 50 ms. Over
    // 400 ms (8 intervals) nothing may arrive; then our own PING gets a pong and nothing else.
    let quiet = raw.next(Duration::from_millis(400)).await;
    assert!(
        quiet.is_none(),
        "node wrote before our HELLO: {:?}",
        quiet.map(|f| f.protocol)
    );
    raw.send(PingFrame::ping(&b"first"[..]).to_frame()).await;
    let first = raw.next(DEADLINE).await.expect("a frame");
    let pong = PingFrame::from_frame(&first).expect("a PING-protocol frame");
    assert_eq!(pong.kind, PingKind::Pong, "the first frame is our pong");
    assert_eq!(&pong.body[..], b"first");

    // HELLO accepted: the node's periodic PING follows within a few intervals.
    let mut env = RpcEnvelope::new(
        RequestId(1),
        &RpcPayload::Hello(genesis_hello(1, node.genesis_root)),
    );
    env.header.extra.insert("node_id", bson::Bson::Int64(4242));
    raw.send(env.to_frame().expect("frame")).await;
    raw.next_rpc(RpcMethod::Hello, DEADLINE)
        .await
        .expect("HELLO reply");
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end
            .checked_duration_since(Instant::now())
            .expect("no PING from the node after the handshake");
        let frame = raw.next(left).await.expect("connection open");
        if frame.protocol == Protocol::Ping {
            let ping = PingFrame::from_frame(&frame).expect("ping");
            assert_eq!(ping.kind, PingKind::Ping);
            break;
        }
    }
}
