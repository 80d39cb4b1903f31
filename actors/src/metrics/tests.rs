//! Unit tests of the registry: every metric name and label in the text format, OpenMetrics,
//! `Accept` negotiation, per-peer bounds, RPC counts, config validation.

use super::*;

/// The value of the sample written exactly as `series` (name and labels) in `text`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn filled() -> Metrics {
    let m = Metrics::default();
    m.frame_in(Protocol::Rpc, 120);
    m.frame_out(Protocol::Gossip, 300);
    m.rpc_observed(
        RpcRole::Server,
        RpcMethod::GetBlockHeaders,
        Duration::from_millis(3),
        true,
    );
    m.ping_answered(
        "127.0.0.1:9000".parse().expect("addr"),
        Duration::from_micros(700),
    );
    m.set_node(NodeGauges {
        peers: 2,
        connections: 3,
        head_slot: 17,
        finalized_epoch: 1,
        finalized_slot: 8,
        blocks_stored: 18,
        gossip: Some(GossipGauges {
            received: 5,
            duplicate: 2,
            ..Default::default()
        }),
        sync: Some(SyncGauges {
            progress: 1.0,
            ..Default::default()
        }),
        slots: Some(SlotCounters {
            refused: vec![("accept_rate", 7)],
            evicted: vec![("pending", 4)],
        }),
        overlay: Some(ControlCounters {
            frames_sent: [1, 0, 6, 0],
            bytes_sent: [90, 0, 612, 0],
            pulls: 2,
            ..Default::default()
        }),
    });
    m
}

#[test]
fn text_format_keeps_every_name_and_label() {
    let text = filled().render();
    let v = |series: &str| value(&text, series).unwrap_or_else(|| panic!("{series} in\n{text}"));
    assert_eq!(v("hobbits_peers"), 2.0);
    assert_eq!(v("hobbits_connections"), 3.0);
    assert_eq!(v("hobbits_head_slot"), 17.0);
    assert_eq!(v("hobbits_finalized_epoch"), 1.0);
    assert_eq!(v("libp2p_peers"), 2.0);
    assert_eq!(
        v("hobbits_connections_refused_total{reason=\"accept_rate\"}"),
        7.0
    );
    assert_eq!(
        v("hobbits_connections_evicted_total{reason=\"pending\"}"),
        4.0
    );
    assert_eq!(v("beacon_head_slot"), 17.0);
    assert_eq!(v("beacon_finalized_epoch"), 1.0);
    assert_eq!(v("hobbits_finalized_slot"), 8.0);
    assert_eq!(v("hobbits_blocks_stored"), 18.0);
    assert_eq!(v("hobbits_frames_received_total{protocol=\"rpc\"}"), 1.0);
    assert_eq!(v("hobbits_bytes_received_total{protocol=\"rpc\"}"), 120.0);
    assert_eq!(v("hobbits_frames_received_total{protocol=\"ping\"}"), 0.0);
    assert_eq!(v("hobbits_bytes_sent_total{protocol=\"gossip\"}"), 300.0);
    assert_eq!(v("hobbits_frames_sent_total{protocol=\"gossip\"}"), 1.0);
    let served = "role=\"server\",method=\"GET_BLOCK_HEADERS\"";
    assert_eq!(v(&format!("hobbits_rpc_requests_total{{{served}}}")), 1.0);
    assert_eq!(v(&format!("hobbits_rpc_failures_total{{{served}}}")), 0.0);
    let bucket = |le: &str| {
        v(&format!(
            "hobbits_rpc_duration_seconds_bucket{{{served},le=\"{le}\"}}"
        ))
    };
    assert_eq!(bucket("0.0025"), 0.0);
    assert_eq!(bucket("0.005"), 1.0);
    assert_eq!(bucket("+Inf"), 1.0);
    assert_eq!(
        v(&format!("hobbits_rpc_duration_seconds_count{{{served}}}")),
        1.0
    );
    assert_eq!(v("hobbits_gossip_received_total"), 5.0);
    assert_eq!(v("hobbits_gossip_duplicate_total"), 2.0);
    assert_eq!(v("hobbits_gossip_announced_fetched_total"), 0.0);
    assert_eq!(v("hobbits_sync_progress_ratio"), 1.0);
    assert_eq!(v("hobbits_sync_syncing"), 0.0);
    assert_eq!(v("hobbits_sync_completed_total"), 0.0);
    assert_eq!(v("hobbits_pings_sent_total"), 0.0);
    assert_eq!(v("hobbits_ping_rtt_seconds_count"), 1.0);
    let rtt = v("hobbits_peer_ping_rtt_seconds{peer=\"127.0.0.1:9000\"}");
    assert!((rtt - 0.0007).abs() < 1e-9);
    assert!(text.contains("# TYPE hobbits_rpc_duration_seconds histogram\n"));
    assert!(
        !text.contains("# EOF"),
        "the 0.0.4 text format has no EOF marker"
    );
}

#[test]
fn openmetrics_has_units_and_the_eof_marker() {
    let text = filled().encode(ExpositionFormat::OpenMetrics);
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE hobbits_frames_received counter\n"));
    assert!(text.contains("# UNIT hobbits_ping_rtt_seconds seconds\n"));
    assert_eq!(
        value(&text, "hobbits_frames_received_total{protocol=\"rpc\"}"),
        Some(1.0)
    );
}

#[test]
fn without_gossip_or_sync_their_families_are_absent() {
    let text = Metrics::default().render();
    assert!(!text.contains("hobbits_gossip_"));
    assert!(!text.contains("hobbits_sync_"));
    assert_eq!(value(&text, "hobbits_peers"), Some(0.0));
}

#[test]
fn accept_header_picks_the_format() {
    use ExpositionFormat::{OpenMetrics, Text};
    assert_eq!(ExpositionFormat::negotiate(None), Text);
    assert_eq!(ExpositionFormat::negotiate(Some("*/*")), Text);
    assert_eq!(
        ExpositionFormat::negotiate(Some("application/openmetrics-text; version=1.0.0")),
        OpenMetrics
    );
    // What Prometheus sends.
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(ExpositionFormat::negotiate(Some(prometheus)), OpenMetrics);
    assert_eq!(
        ExpositionFormat::negotiate(Some("application/openmetrics-text;q=0.2, text/plain;q=0.9")),
        Text
    );
    assert!(OpenMetrics
        .content_type()
        .starts_with("application/openmetrics-text"));
    assert_eq!(
        Text.content_type(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
}

#[test]
fn per_peer_series_are_bounded_and_removed() {
    let m = Metrics::new(MetricsConfig {
        max_peer_series: 2,
        ..Default::default()
    })
    .expect("valid");
    let a: SocketAddr = "127.0.0.1:1".parse().expect("addr");
    let b: SocketAddr = "127.0.0.1:2".parse().expect("addr");
    let c: SocketAddr = "127.0.0.1:3".parse().expect("addr");
    for p in [a, b, c] {
        m.ping_answered(p, Duration::from_millis(1));
    }
    assert_eq!(m.peer_series(), 2);
    m.peer_removed(a);
    assert_eq!(m.peer_series(), 1);
    let text = m.render();
    assert!(!text.contains("peer=\"127.0.0.1:1\""));
    assert!(!text.contains("peer=\"127.0.0.1:3\""), "over the cap");
    assert_eq!(
        value(&text, "hobbits_ping_rtt_seconds_count"),
        Some(3.0),
        "the histogram keeps every observation"
    );
}

#[test]
fn rpc_counts() {
    let m = Metrics::default();
    m.rpc_observed(
        RpcRole::Client,
        RpcMethod::GetBlockBodies,
        Duration::from_millis(2),
        true,
    );
    m.rpc_observed(
        RpcRole::Client,
        RpcMethod::GetBlockBodies,
        Duration::ZERO,
        false,
    );
    assert_eq!(
        m.rpc_requests(RpcRole::Client, RpcMethod::GetBlockBodies),
        2
    );
    assert_eq!(
        m.rpc_requests(RpcRole::Server, RpcMethod::GetBlockBodies),
        0
    );
    let text = m.render();
    let series = "{role=\"client\",method=\"GET_BLOCK_BODIES\"}";
    assert_eq!(
        value(&text, &format!("hobbits_rpc_failures_total{series}")),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            &format!("hobbits_rpc_duration_seconds_count{series}")
        ),
        Some(1.0)
    );
}

#[test]
fn zero_bounds_are_refused() {
    let bad = MetricsConfig {
        ping_interval: Duration::ZERO,
        ..Default::default()
    };
    assert!(matches!(
        Metrics::new(bad),
        Err(MetricsError::Zero {
            field: "ping_interval"
        })
    ));
}

#[test]
fn traffic_reads_the_frame_and_byte_counters_of_one_protocol() {
    let m = filled();
    m.frame_in(Protocol::Gossip, 50);
    assert_eq!(
        m.traffic(Protocol::Gossip),
        Traffic {
            frames_received: 1,
            bytes_received: 50,
            frames_sent: 1,
            bytes_sent: 300,
        }
    );
    assert_eq!(m.traffic(Protocol::Ping), Traffic::default());
}

#[test]
fn overlay_control_traffic_is_exported_by_direction_and_verb() {
    let text = filled().render();
    let v = |series: &str| value(&text, series).unwrap_or_else(|| panic!("{series}: {text}"));
    assert_eq!(
        v("hobbits_gossip_control_frames_total{direction=\"sent\",verb=\"ihave\"}"),
        6.0
    );
    assert_eq!(
        v("hobbits_gossip_control_bytes_total{direction=\"sent\",verb=\"prune\"}"),
        90.0
    );
    assert_eq!(
        v("hobbits_gossip_control_frames_total{direction=\"received\",verb=\"iwant\"}"),
        0.0
    );
    assert_eq!(v("hobbits_gossip_pulls_total"), 2.0);
    // A flood node has no overlay: no family.
    let m = Metrics::default();
    m.set_node(NodeGauges::default());
    assert!(!m.render().contains("gossip_control"));
}
