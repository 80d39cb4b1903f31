//! Metrics over a real HTTP request on 127.0.0.1: a node pair syncs and gossips, then
//! `GET /metrics` on the node with the registry is parsed and the values that must have moved are
//! checked against the node's own state (peers, head slot, frames, RPC, gossip, sync, PING round
//! trip of the peer's address); OpenMetrics when `Accept` prefers it; the peer's series go when it
//! disconnects; other paths get 404 with a JSON body.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hobbits_actors::metrics::{Metrics, MetricsConfig};
use hobbits_actors::test_support::http::get;
use hobbits_actors::test_support::prom::{parse_samples, Sample};
use hobbits_actors::NodeParts;
use support::wait_for;
use support::{chain, node_config, start};

const DEADLINE: Duration = Duration::from_secs(20);

async fn scrape(addr: SocketAddr) -> Vec<Sample> {
    let r = get(addr, "/metrics", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    parse_samples(&r.text()).expect("valid text format")
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
            http_addr: Some("127.0.0.1:0".parse().expect("addr")),
            ..NodeParts::full()
        },
        &[],
    )
    .await;
    let http_addr = a
        .node
        .http_server
        .as_ref()
        .expect("http served")
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
        (metrics.peer_series() == 1).then_some(())
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

    // OpenMetrics when the scraper prefers it (as Prometheus does), same names and values.
    let om = get(
        http_addr,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    )
    .await;
    assert_eq!(om.status, 200);
    assert!(om
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/openmetrics-text; version=1.0.0")));
    let text = om.text();
    assert!(text.ends_with("# EOF\n"));
    let om_samples = parse_samples(&text).expect("OpenMetrics samples parse");
    assert_eq!(must(&om_samples, "hobbits_peers", &[]), 1.0);

    // Other paths and garbage.
    let r = get(http_addr, "/", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], 404);
    let mut garbage = tokio::net::TcpStream::connect(http_addr)
        .await
        .expect("connect");
    tokio::io::AsyncWriteExt::write_all(&mut garbage, b"\x16\x03\x01 hello\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(
        DEADLINE,
        tokio::io::AsyncReadExt::read_to_end(&mut garbage, &mut answer),
    )
    .await
    .expect("closed in time")
    .expect("read");
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

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
