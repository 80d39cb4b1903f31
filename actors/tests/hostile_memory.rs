//! A 4 GiB length prefix is refused before anything is allocated for it: the node (running in
//! this test process) grows its resident memory by less than 1 MiB over many such connections.
//! Alone in its own test binary so no other test's allocations move the RSS measured here.

mod support;

use std::time::Duration;

use hobbits_actors::node::{start_node, NodeParts};
use hobbits_actors::peer_manager::GetManagerStats;
use support::*;

/// Resident set size of this process, from /proc/self/status (Linux); `None` elsewhere.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// An RPC frame prefix announcing a 4 GiB - 1 body, followed by a few real bytes.
fn four_gib_prefix() -> Vec<u8> {
    let mut v = b"EWP".to_vec();
    v.extend_from_slice(&3u32.to_be_bytes());
    v.push(0); // RPC
    v.extend_from_slice(&16u32.to_be_bytes());
    v.extend_from_slice(&u32::MAX.to_be_bytes());
    v.extend_from_slice(&[0u8; 64]);
    v
}

#[actix_rt::test]
async fn four_gib_length_prefix_is_refused_before_allocation() {
    init_tracing();
    let Some(_) = rss_bytes() else {
        eprintln!("no /proc/self/status: skipped");
        return;
    };
    let node = start_node(config(), NodeParts::default())
        .await
        .expect("node");
    // Warm up: one full connection life (session, codec buffers, logging) before measuring, so
    // lazily allocated state is not counted against the hostile frames.
    for _ in 0..3 {
        let mut warm = RawClient::connect(node.listen_addr).await.expect("warm");
        assert!(warm.ping(b"warm").await.is_some());
        warm.send_raw(&four_gib_prefix()).await.expect("write");
        assert!(warm.closed_within(DEADLINE).await);
    }
    let before = rss_bytes().expect("rss");
    const CONNECTIONS: usize = 20;
    for _ in 0..CONNECTIONS {
        let mut raw = RawClient::connect(node.listen_addr).await.expect("connect");
        raw.send_raw(&four_gib_prefix()).await.expect("write");
        assert!(
            raw.closed_within(DEADLINE).await,
            "a 4 GiB length closes the connection"
        );
    }
    // Every session has stopped (their memory is given back) before measuring.
    wait_for("sessions gone", DEADLINE, || async {
        node.peers().await.is_empty().then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after = rss_bytes().expect("rss");
    let grown = after.saturating_sub(before);
    eprintln!("RSS before {before} after {after}: grown {grown} bytes");
    // Bound: 1 MiB for 20 refused 4 GiB frames. Allocating even one such body would add 4 GiB
    // (or abort); the headroom absorbs allocator and logging noise (measured here: 16 KiB).
    assert!(
        grown < 1024 * 1024,
        "RSS grew by {grown} bytes (before {before}, after {after})"
    );
    let stats = node.manager.send(GetManagerStats).await.expect("stats");
    assert!(stats.penalties >= CONNECTIONS as u64, "{stats:?}");
    // The node still serves.
    let mut good = RawClient::connect(node.listen_addr).await.expect("good");
    assert!(good.ping(b"after").await.is_some());
}
