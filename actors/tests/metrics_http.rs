//! Metrics over a real HTTP request on 127.0.0.1: a node pair syncs and gossips, then
//! `GET /metrics` on the node with the registry is parsed and the values that must have moved are
//! checked against the node's own state (peers, head slot, frames, RPC, gossip, sync, PING round
//! trip of the peer's address); the peer's series go when it disconnects; other paths get 404.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hobbits_actors::metrics::{parse_samples, Metrics, MetricsConfig, Sample};
use hobbits_actors::NodeParts;
use support::wait_for;
use support::{chain, node_config, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DEADLINE: Duration = Duration::from_secs(20);

/// One HTTP/1.1 request; returns (status line, headers, body).
async fn http(addr: SocketAddr, request: &[u8]) -> (String, String, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(DEADLINE, s.read_to_end(&mut buf))
        .await
        .expect("response in time")
        .expect("read");
    let text = String::from_utf8(buf).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_string(), headers.to_string(), body.to_string())
}

async fn scrape(addr: SocketAddr) -> Vec<Sample> {
    let (status, headers, body) = http(addr, b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(headers.contains("Content-Type: text/plain; version=0.0.4"));
    assert!(headers.contains("Connection: close"));
    assert!(headers.contains(&format!("Content-Length: {}", body.len())));
    parse_samples(&body).expect("valid text format")
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .map(|s| s.value)
}

fn must(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    value(samples, name, labels).unwrap_or_else(|| panic!("{name} {labels:?} missing"))
}

#[actix_rt::test]
async fn metrics_endpoint_reports_a_node_pair() {
    support::init_tracing();
    let metrics = Arc::new(
        Metrics::new(MetricsConfig {
            ping_interval: Duration::from_millis(100),
            ..Default::default()
        })
        .expect("config"),
    );
    // A keeps the metrics; B starts 4 blocks ahead (A range-syncs), then gossips 2 more.
    let config_a = node_config(1, &[]);
    let a = start(
        config_a.clone(),
        NodeParts {
            metrics: Some(metrics.clone()),
            metrics_addr: Some("127.0.0.1:0".parse().expect("addr")),
            ..NodeParts::full()
        },
        &[],
    )
    .await;
    let http_addr = a
        .node
        .metrics_server
        .as_ref()
        .expect("metrics served")
        .local_addr();

    let b = start(
        node_config(2, &[a.addr()]),
        NodeParts::full(),
        &chain(&config_a, 4),
    )
    .await;
    wait_for("A syncs B's 4 blocks", DEADLINE, || async {
        (a.head().await.slot.0 == 4).then_some(())
    })
    .await;
    for _ in 0..2 {
        b.produce_and_publish("metrics").await;
    }
    wait_for("A has B's head by gossip", DEADLINE, || async {
        (a.head().await == b.head().await).then_some(())
    })
    .await;
    let b_seen_from_a = a.node.peers().await[0].addr.to_string();
    wait_for("a PING round trip to B", DEADLINE, || async {
        (metrics.snapshot().peers.len() == 1).then_some(())
    })
    .await;

    let s = scrape(http_addr).await;
    assert_eq!(must(&s, "hobbits_peers", &[]), 1.0);
    assert_eq!(
        must(&s, "hobbits_head_slot", &[]),
        a.head().await.slot.0 as f64
    );
    assert_eq!(must(&s, "hobbits_head_slot", &[]), 6.0);
    assert_eq!(must(&s, "hobbits_blocks_stored", &[]), 7.0, "genesis + 6");
    for p in ["rpc", "gossip", "ping"] {
        let labels = [("protocol", p)];
        assert!(
            must(&s, "hobbits_frames_received_total", &labels) > 0.0,
            "{p} in"
        );
        assert!(
            must(&s, "hobbits_bytes_received_total", &labels) > 0.0,
            "{p} bytes in"
        );
    }
    assert!(must(&s, "hobbits_frames_sent_total", &[("protocol", "rpc")]) > 0.0);
    assert!(must(&s, "hobbits_frames_sent_total", &[("protocol", "ping")]) > 0.0);
    assert_eq!(must(&s, "hobbits_gossip_received_total", &[]), 2.0);
    assert_eq!(must(&s, "hobbits_gossip_invalid_total", &[]), 0.0);
    assert!(must(&s, "hobbits_sync_blocks_imported_total", &[]) > 0.0);
    assert_eq!(must(&s, "hobbits_sync_progress_ratio", &[]), 1.0);
    // A synced as a client: its header requests were answered and timed.
    let headers = [("role", "client"), ("method", "GET_BLOCK_HEADERS")];
    let sent = must(&s, "hobbits_rpc_requests_total", &headers);
    assert!(sent >= 1.0);
    let mut inf = headers.to_vec();
    inf.push(("le", "+Inf"));
    let answered = must(&s, "hobbits_rpc_duration_seconds_bucket", &inf);
    let failed = must(&s, "hobbits_rpc_failures_total", &headers);
    // Every request ends answered or failed (one may still be in flight at the scrape).
    assert!(
        answered >= 1.0 && answered + failed <= sent,
        "{answered} {failed} {sent}"
    );
    assert_eq!(
        must(&s, "hobbits_rpc_duration_seconds_count", &headers),
        answered
    );
    // B's round trip, labelled by its address as A sees it.
    let rtt = must(
        &s,
        "hobbits_peer_ping_rtt_seconds",
        &[("peer", &b_seen_from_a)],
    );
    assert!(rtt > 0.0 && rtt < 5.0, "rtt {rtt}");
    assert!(must(&s, "hobbits_ping_rtt_seconds_count", &[]) >= 1.0);

    // Other paths and garbage.
    let (status, _, _) = http(http_addr, b"GET / HTTP/1.1\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, _, _) = http(http_addr, b"\x16\x03\x01 hello\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 400 Bad Request");

    // B leaves: its per-peer series goes, peers drops to 0.
    b.stop().await;
    wait_for("A sees B gone", DEADLINE, || async {
        (a.node.peers().await.is_empty()).then_some(())
    })
    .await;
    let s = scrape(http_addr).await;
    assert_eq!(must(&s, "hobbits_peers", &[]), 0.0);
    assert_eq!(
        value(
            &s,
            "hobbits_peer_ping_rtt_seconds",
            &[("peer", &b_seen_from_a)]
        ),
        None
    );
    a.stop().await;
}
