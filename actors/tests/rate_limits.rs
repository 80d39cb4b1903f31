//! Per-peer rate limits beyond the RPC bucket (docs/PROTOCOL.md, "Rate limits"): a GOSSIP flood
//! over the object limit, one over the byte limit, and a PING flood are dropped, scored and end
//! in a ban, while a peer within the limits is neither dropped nor scored and another peer is
//! served throughout.

mod support;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hobbits_actors::node::{start_node, NodeParts};
use hobbits_actors::peer_manager::GetManagerStats;
use hobbits_actors::NodeConfig;
use hobbits_chain::Root;
use hobbits_codec::{Frame, GossipEnvelope, PingFrame, Protocol, Topic};
use support::*;

/// Distinct gossip frames of `body_len` bytes (the gossip actor is not running: the frames only
/// have to pass the session).
fn gossip_frames(n: u64, body_len: usize) -> impl Iterator<Item = Frame> {
    (0..n).map(move |i| {
        let mut body = vec![0u8; body_len];
        body[..8].copy_from_slice(&i.to_be_bytes());
        GossipEnvelope::new(Topic::Attestation, Root([9; 32]), Bytes::from(body), 1)
            .to_frame()
            .expect("frame")
    })
}

/// Ten frames over a limit ban (10 points each, threshold 100).
fn strict() -> NodeConfig {
    let mut cfg = config();
    cfg.scoring.rate_limited = 10;
    cfg.limits.gossip_rate_per_sec = 50;
    cfg.limits.gossip_burst = 20;
    cfg.limits.ping_rate_per_sec = 20;
    cfg.limits.ping_burst = 20;
    cfg
}

async fn flood_ends_in_a_ban(cfg: NodeConfig, flood: BytesMut) {
    let node = start_node(cfg, NodeParts::default()).await.expect("node");
    let mut good = RawClient::connect(node.listen_addr).await.expect("good");
    hello_as(&mut good, &node, 1).await.expect("hello good");
    let mut flooder = RawClient::connect(node.listen_addr).await.expect("flooder");
    hello_as(&mut flooder, &node, 666)
        .await
        .expect("hello flooder");
    // The node may close the connection before the end of the write.
    let _ = flooder.send_raw(&flood).await;
    assert!(
        flooder.closed_within(DEADLINE).await,
        "the flooder is disconnected"
    );
    let stats = node.manager.send(GetManagerStats).await.expect("stats");
    assert_eq!(stats.bans, 1, "{stats:?}");
    assert!(stats.penalties >= 10, "{stats:?}");
    assert!(good.status(2).await.is_some(), "the other peer is served");
    assert!(good.ping(b"still").await.is_some());
}

#[actix_rt::test]
async fn a_gossip_flood_over_the_object_limit_is_dropped_scored_and_banned() {
    init_tracing();
    flood_ends_in_a_ban(strict(), encode_all(gossip_frames(2_000, 64))).await;
}

#[actix_rt::test]
async fn a_gossip_flood_over_the_byte_limit_is_dropped_scored_and_banned() {
    init_tracing();
    let mut cfg = strict();
    cfg.limits.gossip_rate_per_sec = 1_000_000;
    cfg.limits.gossip_burst = 1_000_000;
    cfg.limits.max_header_len = 4096;
    cfg.limits.max_body_len = 60_000;
    cfg.limits.gossip_bytes_per_sec = 100_000;
    cfg.limits.gossip_bytes_burst = 200_000;
    // 60 frames of 50 kB: 3 MB against a 200 kB burst and 100 kB/s.
    flood_ends_in_a_ban(cfg, encode_all(gossip_frames(60, 50_000))).await;
}

#[actix_rt::test]
async fn a_ping_flood_is_answered_up_to_the_limit_then_banned() {
    init_tracing();
    let pings =
        encode_all((0..500u32).map(|i| PingFrame::ping(i.to_be_bytes().to_vec()).to_frame()));
    let node = start_node(strict(), NodeParts::default())
        .await
        .expect("node");
    let mut flooder = RawClient::connect(node.listen_addr).await.expect("flooder");
    hello_as(&mut flooder, &node, 666).await.expect("hello");
    let _ = flooder.send_raw(&pings).await;
    let mut pongs = 0;
    while let Some(f) = flooder.next(Duration::from_secs(3)).await {
        if f.protocol == Protocol::Ping {
            pongs += 1;
        }
    }
    // The burst (20) and the refill while the flood is read, not the 500.
    assert!(pongs >= 20, "the burst is answered: {pongs}");
    assert!(pongs < 100, "the flood is not answered: {pongs}");
    let stats = node.manager.send(GetManagerStats).await.expect("stats");
    assert_eq!(stats.bans, 1, "{stats:?}");
}

#[actix_rt::test]
async fn a_peer_within_the_limits_is_not_scored() {
    init_tracing();
    let node = start_node(strict(), NodeParts::default())
        .await
        .expect("node");
    let mut peer = RawClient::connect(node.listen_addr).await.expect("peer");
    hello_as(&mut peer, &node, 7).await.expect("hello");
    // 20 gossip frames and 20 PINGs: exactly the bursts.
    peer.send_raw(&encode_all(gossip_frames(20, 64)))
        .await
        .expect("gossip");
    for i in 0..19u8 {
        assert!(peer.ping(&[i]).await.is_some(), "PING {i} answered");
    }
    let stats = node.manager.send(GetManagerStats).await.expect("stats");
    assert_eq!(stats.penalties, 0, "{stats:?}");
    assert!(peer.status(3).await.is_some());
}
