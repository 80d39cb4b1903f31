//! Hostile peers against one node over 127.0.0.1: slowloris (half frames, silent
//! connections) closed after the documented timeouts without slowing a good peer's PING; a
//! connection flood held to the pending cap (`max_pending`); a gossip flood from one peer (bounded dedup cache, nothing
//! invalid relayed, the peer scored down, banned and refused on reconnection); an RPC flood held by
//! the per-peer rate limit while another peer is served; the loopback ban policy; a request sent
//! the moment the HELLO reply arrives.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::join_all;
use hobbits_actors::gossip::{GetGossipStats, GossipConfig};
use hobbits_actors::node::{start_node, NodeParts};
use hobbits_actors::peer_manager::GetManagerStats;
use hobbits_actors::NodeHandle;
use hobbits_chain::rpc::{GetBlockHeaders, GetStatus, Goodbye};
use hobbits_chain::{Attestation, Root, Slot};
use hobbits_codec::rpc::{RequestId, RpcEnvelope, RpcMethod, RpcPayload};
use hobbits_codec::{Frame, GossipEnvelope, PingFrame, Protocol, Topic};
use ssz::Encode;
use support::*;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn ping_rtts(raw: &mut RawClient, n: usize) -> Vec<Duration> {
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let body = (i as u64).to_be_bytes();
        let t = Instant::now();
        assert_eq!(raw.ping(&body).await.as_deref(), Some(&body[..]));
        v.push(t.elapsed());
    }
    v
}

#[actix_rt::test]
async fn slowloris_peers_are_closed_after_the_timeouts_and_do_not_slow_a_good_peer() {
    init_tracing();
    const HALF_FRAME: usize = 250;
    const SILENT: usize = 250;
    let mut cfg = config();
    cfg.limits.max_peers = HALF_FRAME + SILENT + 10;
    cfg.limits.max_pending = HALF_FRAME + SILENT + 10;
    // Timers well above the time it takes to open 500 connections on a loaded 2-core machine
    // (seen: 2.8 s while other builds ran), so every attacker is still there while we measure.
    cfg.timeouts.frame = Duration::from_millis(4000);
    cfg.timeouts.handshake = Duration::from_millis(5000);
    let node = start_node(cfg, NodeParts::default()).await.expect("node");
    let mut good = RawClient::connect(node.listen_addr).await.expect("good");
    hello_as(&mut good, &node, 1).await.expect("hello");
    let baseline = median(ping_rtts(&mut good, 200).await);

    // Half a PING frame (12 of its bytes) after a completed HELLO: only the frame timer applies.
    let ping = encode_all([PingFrame::ping(vec![1u8; 32]).to_frame()]);
    let started = Instant::now();
    let mut stalled = Vec::new();
    for i in 0..HALF_FRAME {
        let mut raw = RawClient::connect(node.listen_addr).await.expect("connect");
        hello_as(&mut raw, &node, 1000 + i as i64)
            .await
            .expect("hello");
        raw.send_raw(&ping[..12]).await.expect("half frame");
        stalled.push(raw);
    }
    // Connected, never a byte: the handshake timer applies.
    let mut silent = Vec::new();
    for _ in 0..SILENT {
        silent.push(RawClient::connect(node.listen_addr).await.expect("connect"));
    }
    let attack_ready = started.elapsed();
    let loaded = median(ping_rtts(&mut good, 200).await);
    assert_eq!(
        node.peers().await.len(),
        HALF_FRAME + SILENT + 1,
        "all attackers were still connected while measuring (set up in {attack_ready:?})"
    );
    eprintln!("PING median RTT: {baseline:?} alone, {loaded:?} with 500 stalled peers");
    // 2× plus 100 µs for timer granularity on a shared 2-core machine.
    assert!(
        loaded <= baseline * 2 + Duration::from_micros(100),
        "median RTT {loaded:?} vs {baseline:?} without the attackers"
    );

    let closes = join_all(
        stalled
            .iter_mut()
            .chain(silent.iter_mut())
            .map(|r| r.closed_within(Duration::from_secs(10))),
    )
    .await;
    assert!(closes.iter().all(|c| *c), "every stalled peer is closed");
    assert!(
        started.elapsed() >= Duration::from_millis(4000),
        "not closed before the frame timeout"
    );
    wait_for("attackers gone", DEADLINE, || async {
        (node.peers().await.len() == 1).then_some(())
    })
    .await;
    assert!(good.status(2).await.is_some(), "good peer still served");
}

#[actix_rt::test]
async fn a_connection_flood_is_held_to_the_pending_cap_apart_from_the_peers() {
    init_tracing();
    const MAX_PENDING: usize = 20;
    const FLOOD: usize = 100;
    let mut cfg = config();
    cfg.limits.max_peers = 4;
    cfg.limits.max_pending = MAX_PENDING;
    let node = start_node(cfg, NodeParts::default()).await.expect("node");
    let mut a = RawClient::connect(node.listen_addr).await.expect("a");
    hello_as(&mut a, &node, 1).await.expect("hello a");
    let mut b = RawClient::connect(node.listen_addr).await.expect("b");
    hello_as(&mut b, &node, 2).await.expect("hello b");
    let mut flood = Vec::new();
    for _ in 0..FLOOD {
        flood.push(RawClient::connect(node.listen_addr).await.expect("connect"));
    }
    // Each connection beyond the pending cap evicts the oldest pending one (all from one
    // address here); the survivors wait for the handshake timer (5 s).
    let closed = join_all(
        flood
            .iter_mut()
            .map(|r| r.closed_within(Duration::from_millis(1500))),
    )
    .await;
    let evicted = closed.iter().filter(|c| **c).count();
    assert_eq!(
        evicted,
        FLOOD - MAX_PENDING,
        "exactly the excess is evicted"
    );
    assert!(
        closed[..FLOOD - MAX_PENDING].iter().all(|c| *c),
        "the oldest went first"
    );
    let stats = node.manager.send(GetManagerStats).await.expect("stats");
    assert_eq!(stats.evicted_pending, evicted as u64);
    wait_for("evicted sessions gone", DEADLINE, || async {
        (node.peers().await.len() == 2 + MAX_PENDING).then_some(())
    })
    .await;
    // The peers are unaffected, and a newcomer still handshakes: pending slots are apart.
    assert!(a.ping(b"a").await.is_some());
    assert!(a.status(3).await.is_some());
    assert!(b.status(4).await.is_some());
    let mut c = RawClient::connect(node.listen_addr).await.expect("c");
    hello_as(&mut c, &node, 3).await.expect("hello c");
    assert!(c.status(5).await.is_some());
}

fn attestation_message(slot: u64) -> (Root, GossipEnvelope) {
    let mut att = Attestation::default();
    att.data.beacon_block_root = Root([slot as u8; 32]);
    let hash = att.hash_tree_root();
    let env = GossipEnvelope::new(Topic::Attestation, hash, Bytes::from(att.as_ssz_bytes()), 1);
    (hash, env)
}

#[actix_rt::test]
async fn a_gossip_flood_is_bounded_not_relayed_and_gets_the_peer_banned() {
    init_tracing();
    const DUPLICATES: usize = 100_000;
    const JUNK: usize = 100_000;
    let parts = NodeParts {
        gossip: Some(GossipConfig {
            seen_capacity: 1024,
            ..GossipConfig::default()
        }),
        ..NodeParts::full()
    };
    // This test is about the dedup cache and invalid gossip; the per-peer gossip limits (tested
    // in rate_limits.rs) are lifted so the flood reaches the gossip actor.
    let mut cfg = config();
    cfg.limits.gossip_rate_per_sec = 10_000_000;
    cfg.limits.gossip_burst = 10_000_000;
    cfg.limits.gossip_bytes_per_sec = u32::MAX;
    cfg.limits.gossip_bytes_burst = u32::MAX;
    let node = start_node(cfg, parts).await.expect("node");
    let mut watcher = RawClient::connect(node.listen_addr).await.expect("watcher");
    hello_as(&mut watcher, &node, 2).await.expect("hello");
    let mut flooder = RawClient::connect(node.listen_addr).await.expect("flooder");
    hello_as(&mut flooder, &node, 666).await.expect("hello");

    let (valid_hash, valid) = attestation_message(3);
    let dup_frame = valid.to_frame().expect("frame");
    let dups = encode_all(std::iter::repeat_n(dup_frame, DUPLICATES));
    // Distinct junk: correct message_hash of a body that is no attestation.
    let junk = encode_all((0..JUNK as u64).map(|i| {
        let body = Bytes::from(i.to_be_bytes().repeat(3));
        GossipEnvelope::new(Topic::Attestation, Root([7; 32]), body, 1)
            .to_frame()
            .expect("frame")
    }));
    let t = Instant::now();
    // Written in 1 MiB pieces; the node may close the connection before the end.
    for chunk in dups.chunks(1 << 20) {
        if flooder.send_raw(chunk).await.is_err() {
            break;
        }
    }
    eprintln!("duplicates written in {:?}", t.elapsed());
    for chunk in junk.chunks(1 << 20) {
        if flooder.send_raw(chunk).await.is_err() {
            break;
        }
    }
    eprintln!("junk written in {:?}", t.elapsed());
    assert!(
        flooder.closed_within(DEADLINE).await,
        "the flooder is disconnected"
    );
    eprintln!("flood written and flooder closed in {:?}", t.elapsed());

    let stats = node.manager.send(GetManagerStats).await.expect("stats");
    assert_eq!(stats.bans, 1, "banned once: {stats:?}");
    let gossip = node
        .gossip
        .as_ref()
        .expect("gossip runs")
        .send(GetGossipStats)
        .await
        .expect("gossip stats");
    eprintln!("{gossip:?}\n{stats:?}");
    assert!(gossip.seen_entries <= 1024, "{gossip:?}");
    assert!(gossip.invalid >= 1, "{gossip:?}");
    assert!(gossip.duplicate >= 1, "{gossip:?}");

    // The watcher saw at most the one valid attestation relayed, never junk.
    let mut relayed = 0;
    while let Some(f) = watcher.next(Duration::from_millis(300)).await {
        if f.protocol == Protocol::Gossip {
            let env = GossipEnvelope::from_frame(&f).expect("gossip");
            assert_eq!(env.header.hash, valid_hash, "only the valid message");
            relayed += 1;
        }
    }
    assert!(relayed <= 1, "relayed once at most, got {relayed}");
    assert!(watcher.ping(b"still here").await.is_some());

    // Reconnection with the banned node id is refused (GOODBYE 3, closed) while banned; on
    // loopback the IP itself is not banned, so the TCP connection is accepted first.
    let mut again = RawClient::connect(node.listen_addr)
        .await
        .expect("reconnect");
    hello_as(&mut again, &node, 666).await;
    let bye = again
        .next_rpc(RpcMethod::Goodbye, DEADLINE)
        .await
        .expect("GOODBYE to a banned node");
    assert!(matches!(
        bye.decode_payload().expect("goodbye").payload,
        RpcPayload::Goodbye(Goodbye { reason: 3 })
    ));
    assert!(again.closed_within(DEADLINE).await);
    let stats = node.manager.send(GetManagerStats).await.expect("stats");
    assert_eq!(stats.refused_banned_node, 1);
}

fn headers_request(id: u64) -> Frame {
    rpc_frame(
        id,
        RpcPayload::GetBlockHeaders(GetBlockHeaders {
            start_root: Root::ZERO,
            start_slot: Slot(0),
            max: 10,
            skip: 0,
            direction: 1,
        }),
    )
}

async fn headers_rtt(raw: &mut RawClient, id: u64) -> Duration {
    let t = Instant::now();
    raw.send(headers_request(id)).await;
    let env = raw
        .next_rpc(RpcMethod::BlockHeaders, DEADLINE)
        .await
        .expect("headers answered");
    assert_eq!(env.header.id, RequestId(id));
    t.elapsed()
}

#[actix_rt::test]
async fn an_rpc_flood_is_rate_limited_and_does_not_starve_another_peer() {
    init_tracing();
    const RATE: u32 = 100;
    const BURST: u32 = 50;
    let mut cfg = config();
    cfg.limits.rpc_rate_per_sec = RATE;
    cfg.limits.rpc_burst = BURST;
    // Keep the greedy peer connected for the whole measurement (rate-limit hits are scored).
    cfg.scoring.ban_threshold = 1_000_000;
    let node = start_node(cfg, NodeParts::default()).await.expect("node");
    let mut polite = RawClient::connect(node.listen_addr).await.expect("polite");
    hello_as(&mut polite, &node, 1).await.expect("hello");
    // The polite peer asks 50 times a second, half the rate limit.
    let mut baseline = Vec::new();
    for i in 0..30 {
        baseline.push(headers_rtt(&mut polite, 100 + i).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let baseline = median(baseline);

    let mut greedy = RawClient::connect(node.listen_addr).await.expect("greedy");
    hello_as(&mut greedy, &node, 2).await.expect("hello");
    let (mut rd, mut wr) = greedy.framed.into_inner().into_split();
    let flood_start = Instant::now();
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let mut sent = 0u64;
        // Encoded once: the test's own thread must not be busy encoding while measuring.
        let batch = encode_all((0..500).map(headers_request));
        // Writes until 2 s have passed; once the node stops reading (the rate limit pauses its
        // reads) the socket buffers fill and a write waits: bounded by the same deadline.
        let end = tokio::time::Instant::from_std(flood_start + Duration::from_secs(2));
        while let Ok(Ok(())) = tokio::time::timeout_at(end, wr.write_all(&batch)).await {
            sent += 500;
        }
        sent
    });
    let reader = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut total = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        let end = Instant::now() + Duration::from_secs(3);
        while let Ok(Ok(n)) = tokio::time::timeout_at(end.into(), rd.read(&mut buf)).await {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut during = Vec::new();
    for i in 0..30 {
        during.push(headers_rtt(&mut polite, 1000 + i).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let during = median(during);
    let sent = writer.await.expect("writer");
    let answered_bytes = reader.await.expect("reader");
    let elapsed = flood_start.elapsed();
    eprintln!(
        "headers median RTT {baseline:?} alone, {during:?} during a flood of {sent} requests; \
         greedy got {answered_bytes} bytes of answers in {elapsed:?}"
    );
    // One answer is a BLOCK_HEADERS frame of one genesis header: measure its size once.
    let mut probe = RawClient::connect(node.listen_addr).await.expect("probe");
    hello_as(&mut probe, &node, 3).await.expect("hello");
    probe.send(headers_request(5)).await;
    let one = probe
        .next_rpc(RpcMethod::BlockHeaders, DEADLINE)
        .await
        .expect("answer")
        .to_frame()
        .expect("frame")
        .encoded_len();
    let answered = answered_bytes / one;
    let allowed = BURST as f64 + RATE as f64 * elapsed.as_secs_f64();
    assert!(sent > 10 * allowed as u64, "the flood exceeds the limit");
    assert!(
        answered as f64 <= allowed + 5.0,
        "greedy got {answered} answers, the bucket allows {allowed:.0}"
    );
    assert!(answered >= BURST as usize, "the burst is served");
    // Normal latency for the polite peer: within 3× its unloaded median plus 5 ms (the flood's
    // frames are still read and decoded on the node's thread before being dropped).
    assert!(
        during <= baseline * 3 + Duration::from_millis(5),
        "polite median {during:?} vs {baseline:?} unloaded"
    );
    let stats = node.manager.send(GetManagerStats).await.expect("stats");
    assert!(stats.penalties > 0, "rate-limit hits are scored");
}

async fn connect_and_hello(addr: SocketAddr, node: &NodeHandle, id: i64) -> RawClient {
    let mut raw = RawClient::connect(addr).await.expect("connect");
    hello_as(&mut raw, node, id).await.expect("hello");
    raw
}

#[actix_rt::test]
async fn on_loopback_a_bad_peer_is_banned_by_node_id_not_by_ip() {
    init_tracing();
    let node = start_node(config(), NodeParts::default())
        .await
        .expect("node");
    let mut bad = connect_and_hello(node.listen_addr, &node, 77).await;
    bad.send_raw(&vector("bad_preamble")).await.expect("write");
    assert!(bad.closed_within(DEADLINE).await, "offender closed");
    wait_for("ban recorded", DEADLINE, || async {
        let s = node.manager.send(GetManagerStats).await.ok()?;
        (s.bans == 1).then_some(())
    })
    .await;
    // Another local peer (same IP 127.0.0.1) is accepted and served.
    let mut other = connect_and_hello(node.listen_addr, &node, 78).await;
    assert!(other.status(2).await.is_some());
    // The offender's node id is refused at handshake.
    let mut back = RawClient::connect(node.listen_addr).await.expect("connect");
    hello_as(&mut back, &node, 77).await;
    assert!(back.closed_within(DEADLINE).await, "banned node refused");
    let stats = node.manager.send(GetManagerStats).await.expect("stats");
    assert_eq!(stats.refused_banned, 0, "no IP ban on loopback");
    assert_eq!(stats.refused_banned_node, 1);
}

#[actix_rt::test]
async fn a_request_sent_as_soon_as_the_hello_reply_arrives_is_served() {
    init_tracing();
    let node = start_node(config(), NodeParts::default())
        .await
        .expect("node");
    for i in 0..50 {
        let mut raw = RawClient::connect(node.listen_addr).await.expect("connect");
        // HELLO and GET_STATUS back to back: the status must not be taken as "before HELLO"
        // once the reply is on its way.
        let mut env = RpcEnvelope::new(
            RequestId(1),
            &RpcPayload::Hello(genesis_hello(1, node.genesis_root)),
        );
        env.header
            .extra
            .insert("node_id", bson::Bson::Int64(5000 + i));
        raw.send(env.to_frame().expect("frame")).await;
        raw.next_rpc(RpcMethod::Hello, DEADLINE)
            .await
            .expect("reply");
        raw.send(rpc_frame(2, RpcPayload::GetStatus(GetStatus::new("x", 1))))
            .await;
        let status = raw
            .next_rpc(RpcMethod::GetStatus, Duration::from_secs(2))
            .await;
        assert!(
            status.is_some(),
            "connection {i}: request right after the reply ignored"
        );
    }
}
