//! The Prometheus text exposition format (version 0.0.4) of a [`MetricsSnapshot`]: [`render`],
//! and [`parse_samples`], a reader of that format for tests and scripts. Plain functions, no
//! runtime. Handles and sends no messages.

use std::fmt::Write;

use super::{Histogram, MetricsSnapshot};

/// Escapes a label value (backslash, double quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.head(name, kind, help);
        self.sample(name, &[], value);
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let bucket = format!("{name}_bucket");
        for (bound, n) in h.cumulative() {
            let le = bound.map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            let mut l = labels.to_vec();
            l.push(("le", &le));
            self.sample(&bucket, &l, n);
        }
        self.sample(&format!("{name}_sum"), labels, h.sum);
        self.sample(&format!("{name}_count"), labels, h.count);
    }
}

/// The snapshot in the Prometheus text format. Every metric name starts with `hobbits_`.
pub fn render(s: &MetricsSnapshot) -> String {
    let mut o = Out(String::with_capacity(8 * 1024));
    let n = &s.node;
    o.single("hobbits_peers", "gauge", "Handshaked peers.", n.peers);
    o.single(
        "hobbits_connections",
        "gauge",
        "Open connections, handshaked or not.",
        n.connections,
    );
    o.single(
        "hobbits_head_slot",
        "gauge",
        "Slot of the head block.",
        n.head_slot,
    );
    o.single(
        "hobbits_finalized_epoch",
        "gauge",
        "Epoch of the finalized checkpoint.",
        n.finalized_epoch,
    );
    o.single(
        "hobbits_finalized_slot",
        "gauge",
        "First slot of the finalized epoch.",
        n.finalized_slot,
    );
    o.single(
        "hobbits_blocks_stored",
        "gauge",
        "Blocks in the chain store.",
        n.blocks_stored,
    );

    for (name, help, pick) in [
        (
            "hobbits_frames_received_total",
            "Frames read, by protocol.",
            0usize,
        ),
        (
            "hobbits_bytes_received_total",
            "Bytes read (whole frames), by protocol.",
            1,
        ),
        (
            "hobbits_frames_sent_total",
            "Frames written, by protocol.",
            2,
        ),
        (
            "hobbits_bytes_sent_total",
            "Bytes written (whole frames), by protocol.",
            3,
        ),
    ] {
        o.head(name, "counter", help);
        for t in &s.traffic {
            let v = [t.frames_in, t.bytes_in, t.frames_out, t.bytes_out][pick];
            o.sample(name, &[("protocol", t.protocol)], v);
        }
    }

    o.head(
        "hobbits_rpc_requests_total",
        "counter",
        "RPC requests, by role (server: served for a peer; client: sent by us) and method.",
    );
    for ((role, method), r) in &s.rpc {
        o.sample(
            "hobbits_rpc_requests_total",
            &[("role", role.label()), ("method", method)],
            r.requests,
        );
    }
    o.head(
        "hobbits_rpc_failures_total",
        "counter",
        "RPC requests we sent that ended without a response (timeout, bad response, disconnect).",
    );
    for ((role, method), r) in &s.rpc {
        o.sample(
            "hobbits_rpc_failures_total",
            &[("role", role.label()), ("method", method)],
            r.failures,
        );
    }
    o.head(
        "hobbits_rpc_duration_seconds",
        "histogram",
        "RPC latency: to the response (client) or to writing our response (server).",
    );
    for ((role, method), r) in &s.rpc {
        o.histogram(
            "hobbits_rpc_duration_seconds",
            &[("role", role.label()), ("method", method)],
            &r.latency,
        );
    }

    if let Some(c) = &n.slots {
        for (name, help, list) in [
            (
                "hobbits_connections_refused_total",
                "Connections refused by the slot policy, by reason.",
                &c.refused,
            ),
            (
                "hobbits_connections_evicted_total",
                "Connections closed to make room (pending cap, full peer slots), by reason.",
                &c.evicted,
            ),
        ] {
            o.head(name, "counter", help);
            for (reason, v) in list {
                o.sample(name, &[("reason", reason)], v);
            }
        }
    }

    if let Some(g) = &n.gossip {
        for (name, help, v) in [
            (
                "hobbits_gossip_received_total",
                "Gossip messages received.",
                g.received,
            ),
            (
                "hobbits_gossip_relayed_total",
                "Objects relayed to other peers (once each).",
                g.relayed,
            ),
            (
                "hobbits_gossip_duplicate_total",
                "Gossip messages dropped as duplicates.",
                g.duplicate,
            ),
            (
                "hobbits_gossip_invalid_total",
                "Gossip messages dropped as invalid (sender penalised).",
                g.invalid,
            ),
            (
                "hobbits_gossip_imported_total",
                "Gossiped objects new to the store.",
                g.imported,
            ),
            (
                "hobbits_gossip_published_total",
                "Objects published by this node.",
                g.published,
            ),
            (
                "hobbits_gossip_announced_fetched_total",
                "Announced objects fetched by RPC.",
                g.announced_fetched,
            ),
        ] {
            o.single(name, "counter", help, v);
        }
    }

    if let Some(y) = &n.sync {
        o.single(
            "hobbits_sync_syncing",
            "gauge",
            "1 while a range sync runs.",
            u8::from(y.syncing),
        );
        o.single(
            "hobbits_sync_target_slot",
            "gauge",
            "Slot the range sync aims for (the head when idle).",
            y.target_slot,
        );
        o.single(
            "hobbits_sync_imported_slot",
            "gauge",
            "Every slot below this is imported.",
            y.imported_slot,
        );
        o.single(
            "hobbits_sync_progress_ratio",
            "gauge",
            "Fraction of the current range sync done (1 when idle).",
            y.progress,
        );
        o.single(
            "hobbits_sync_blocks_imported_total",
            "counter",
            "Blocks imported by range sync.",
            y.blocks_imported,
        );
        o.single(
            "hobbits_sync_completed_total",
            "counter",
            "Range syncs that reached their target.",
            y.syncs_completed,
        );
    }

    o.single(
        "hobbits_pings_sent_total",
        "counter",
        "PINGs this node sent to measure round trips.",
        s.pings_sent,
    );
    o.single(
        "hobbits_pings_lost_total",
        "counter",
        "PINGs without a pong before the next one was due or the connection closed.",
        s.pings_lost,
    );
    o.head(
        "hobbits_ping_rtt_seconds",
        "histogram",
        "PING round trips, every peer.",
    );
    o.histogram("hobbits_ping_rtt_seconds", &[], &s.ping_rtt);
    o.head(
        "hobbits_peer_ping_rtt_seconds",
        "gauge",
        "Last PING round trip, by connected peer address.",
    );
    for (addr, p) in &s.peers {
        o.sample(
            "hobbits_peer_ping_rtt_seconds",
            &[("peer", &addr.to_string())],
            p.last.as_secs_f64(),
        );
    }
    o.0
}

/// One sample of the text format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name (with `_bucket`, `_sum`, `_count` suffixes as written).
    pub name: String,
    /// Labels in the order written.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the samples of a text exposition (comments skipped). `Err` names the first bad line.
pub fn parse_samples(text: &str) -> Result<Vec<Sample>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || format!("bad sample line: {line}");
        let (series, value) = line.rsplit_once(' ').ok_or_else(bad)?;
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse::<f64>().map_err(|_| bad())?,
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), Vec::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').ok_or_else(bad)?;
                (name.to_string(), parse_labels(body).ok_or_else(bad)?)
            }
        };
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    Ok(out)
}

fn parse_labels(mut body: &str) -> Option<Vec<(String, String)>> {
    let mut labels = Vec::new();
    while !body.is_empty() {
        let (key, rest) = body.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break i,
                c => value.push(c),
            }
        };
        labels.push((key.trim().to_string(), value));
        body = rest[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hobbits_codec::rpc::RpcMethod;
    use hobbits_codec::Protocol;

    use super::*;
    use crate::metrics::{GossipGauges, Metrics, NodeGauges, RpcRole, SlotCounters, SyncGauges};

    fn find<'a>(s: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
        s.iter()
            .find(|x| x.name == name && labels.iter().all(|(k, v)| x.label(k) == Some(*v)))
    }

    #[test]
    fn renders_every_family_and_parses_back() {
        let m = Metrics::default();
        m.frame_in(Protocol::Rpc, 120);
        m.frame_out(Protocol::Gossip, 300);
        m.rpc_observed(
            RpcRole::Server,
            RpcMethod::GetBlockHeaders,
            Duration::from_millis(3),
            true,
        );
        let peer = "127.0.0.1:9000".parse().expect("addr");
        m.ping_answered(peer, Duration::from_micros(700));
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
        });
        let text = m.render();
        let s = parse_samples(&text).expect("parses");
        let v = |name: &str, labels: &[(&str, &str)]| {
            find(&s, name, labels)
                .unwrap_or_else(|| panic!("{name} {labels:?} missing in\n{text}"))
                .value
        };
        assert_eq!(v("hobbits_peers", &[]), 2.0);
        assert_eq!(
            v(
                "hobbits_connections_refused_total",
                &[("reason", "accept_rate")]
            ),
            7.0
        );
        assert_eq!(
            v(
                "hobbits_connections_evicted_total",
                &[("reason", "pending")]
            ),
            4.0
        );
        assert_eq!(v("hobbits_head_slot", &[]), 17.0);
        assert_eq!(v("hobbits_finalized_slot", &[]), 8.0);
        assert_eq!(
            v("hobbits_frames_received_total", &[("protocol", "rpc")]),
            1.0
        );
        assert_eq!(
            v("hobbits_bytes_sent_total", &[("protocol", "gossip")]),
            300.0
        );
        assert_eq!(
            v("hobbits_frames_received_total", &[("protocol", "ping")]),
            0.0
        );
        let served = [("role", "server"), ("method", "GET_BLOCK_HEADERS")];
        assert_eq!(v("hobbits_rpc_requests_total", &served), 1.0);
        let mut le = served.to_vec();
        le.push(("le", "0.0025"));
        assert_eq!(v("hobbits_rpc_duration_seconds_bucket", &le), 0.0);
        le[2] = ("le", "0.005");
        assert_eq!(v("hobbits_rpc_duration_seconds_bucket", &le), 1.0);
        le[2] = ("le", "+Inf");
        assert_eq!(v("hobbits_rpc_duration_seconds_bucket", &le), 1.0);
        assert_eq!(v("hobbits_gossip_duplicate_total", &[]), 2.0);
        assert_eq!(v("hobbits_sync_progress_ratio", &[]), 1.0);
        let rtt = v(
            "hobbits_peer_ping_rtt_seconds",
            &[("peer", "127.0.0.1:9000")],
        );
        assert!((rtt - 0.0007).abs() < 1e-9);
        // One TYPE line per family, and every sample belongs to a declared family.
        let types: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        let mut unique = types.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), types.len(), "a family declared twice");
        for x in &s {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suf| x.name.strip_suffix(suf).filter(|f| types.contains(f)))
                .unwrap_or(&x.name);
            assert!(types.contains(&family), "{} has no TYPE", x.name);
        }
    }

    #[test]
    fn without_gossip_or_sync_their_families_are_absent() {
        let text = Metrics::default().render();
        assert!(!text.contains("hobbits_gossip_"));
        assert!(!text.contains("hobbits_sync_"));
        assert!(text.contains("hobbits_peers 0\n"));
    }

    #[test]
    fn label_values_are_escaped_and_read_back() {
        let mut o = Out(String::new());
        o.sample("x", &[("a", "q\"b\\n\nz"), ("b", "2")], 1);
        let s = parse_samples(&o.0).expect("parses");
        assert_eq!(s[0].label("a"), Some("q\"b\\n\nz"));
        assert_eq!(s[0].label("b"), Some("2"));
        assert!(parse_samples("no_value_here").is_err());
        assert!(parse_samples("x{a=\"1\" 2").is_err());
    }
}
