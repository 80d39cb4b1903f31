//! The Grafana dashboard in `dashboards/` against a running node: every query of every panel
//! names at least one metric, and every metric it names is one that two real `hobbits-node run`
//! processes (a producer and a follower that syncs from it, both serving `--metrics`) export at
//! `/metrics`. The provisioning files and the Prometheus configuration parse.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{wait_for, NodeProcess, BIN};
use yaml_rust2::YamlLoader;

const DEADLINE: Duration = Duration::from_secs(30);
const DASHBOARDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/dashboards");

/// The metric namespaces the dashboard reads: the node's own and the interop set's.
const PREFIXES: [&str; 3] = ["hobbits_", "beacon_", "libp2p_"];

/// Metric names in a PromQL expression: identifiers in one of [`PREFIXES`], outside label
/// matchers' quoted values.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in expr.chars().chain([' ']) {
        if c == '"' {
            quoted = !quoted;
        }
        if !quoted && (c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            word.push(c);
            continue;
        }
        if PREFIXES.iter().any(|p| word.starts_with(p)) {
            names.insert(std::mem::take(&mut word));
        }
        word.clear();
    }
    names
}

/// Every query of the dashboards in `dashboards/grafana/`.
fn queries() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let dir = Path::new(DASHBOARDS).join("grafana");
    for entry in std::fs::read_dir(&dir).expect("dashboards/grafana") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let d: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
        let panels = d["panels"].as_array().expect("panels");
        let ids: BTreeSet<u64> = panels.iter().filter_map(|p| p["id"].as_u64()).collect();
        assert_eq!(ids.len(), panels.len(), "panel ids are unique");
        for p in panels {
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"].as_str().expect("expr").to_string();
                out.push((format!("{}: {}", path.display(), p["title"]), expr));
            }
        }
    }
    assert!(out.len() >= 20, "{} queries", out.len());
    out
}

/// The sample lines of `GET /metrics` (none when the endpoint does not answer).
fn samples(hostport: &str) -> Vec<String> {
    let Ok(mut s) = TcpStream::connect(hostport) else {
        return Vec::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The metric names with a sample.
fn scrape(hostport: &str) -> BTreeSet<String> {
    samples(hostport)
        .iter()
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

/// The value of an unlabelled sample.
fn value(hostport: &str, name: &str) -> Option<f64> {
    samples(hostport).iter().find_map(|l| {
        let (n, v) = l.split_once(' ')?;
        (n == name).then(|| v.parse().ok()).flatten()
    })
}

fn node(args: &[&str]) -> NodeProcess {
    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    NodeProcess::spawn(&mut cmd, DEADLINE)
}

fn line(p: &mut NodeProcess, prefix: &str) -> String {
    p.stdout
        .next_matching(prefix, |l| l.strip_prefix(prefix).map(str::to_string))
}

#[test]
fn metric_names_are_found_in_queries() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le) (rate(hobbits_rpc_duration_seconds_bucket{job=~"hobbits_x"}[1m]))) - libp2p_peers"#,
    );
    let want: BTreeSet<String> = ["hobbits_rpc_duration_seconds_bucket", "libp2p_peers"]
        .map(String::from)
        .into();
    assert_eq!(names, want);
}

#[test]
fn every_dashboard_query_names_a_metric_a_running_node_exports() {
    let queries = queries();
    let mut needed = BTreeSet::new();
    for (panel, expr) in &queries {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{panel}: `{expr}` names no metric");
        needed.extend(names);
    }
    let mut producer = node(&[
        "--listen",
        "127.0.0.1:0",
        "--produce",
        "--slot-ms",
        "100",
        "--node-id",
        "1",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let uri = line(&mut producer, "listening on ");
    let a = line(&mut producer, "metrics on ");
    let hostport = |url: &str| {
        url.trim()
            .trim_start_matches("http://")
            .trim_end_matches("/metrics")
            .to_string()
    };
    let a = hostport(&a);
    // Started once the producer has a chain, the follower syncs it by RPC (requests,
    // durations) and then follows by gossip.
    wait_for("the producer past slot 3", DEADLINE, || {
        value(&a, "hobbits_head_slot").filter(|s| *s >= 3.0)
    });
    let mut follower = node(&[
        "--listen",
        "127.0.0.1:0",
        "--node-id",
        "2",
        "--peer",
        &uri,
        "--metrics",
        "127.0.0.1:0",
        "--attest",
    ]);
    let b = hostport(&line(&mut follower, "metrics on "));
    let missing = |seen: &BTreeSet<String>| -> Vec<String> {
        needed
            .iter()
            .filter(|n| !seen.contains(*n))
            .cloned()
            .collect()
    };
    // Polled until every name is there or the deadline passes; then the missing ones are named.
    let end = std::time::Instant::now() + DEADLINE;
    let found = loop {
        let mut seen = scrape(&a);
        seen.extend(scrape(&b));
        let left = missing(&seen);
        if left.is_empty() {
            break seen;
        }
        assert!(
            std::time::Instant::now() < end,
            "queried by the dashboard, never exported: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // The check is not vacuous: a name no node exports is caught.
    assert!(!missing(&found).contains(&"hobbits_head_slot".to_string()));
    assert!(!found.contains("hobbits_no_such_metric"));
}

#[test]
fn provisioning_and_prometheus_configuration_parse() {
    let yaml = |rel: &str| {
        let text = std::fs::read_to_string(Path::new(DASHBOARDS).join(rel)).expect(rel);
        YamlLoader::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
            .remove(0)
    };
    let ds = yaml("grafana/provisioning/datasources/prometheus.yaml");
    assert_eq!(ds["datasources"][0]["type"].as_str(), Some("prometheus"));
    let dash = yaml("grafana/provisioning/dashboards/hobbits.yaml");
    assert_eq!(dash["providers"][0]["type"].as_str(), Some("file"));
    assert!(dash["providers"][0]["options"]["path"].as_str().is_some());
    let prom = yaml("prometheus/prometheus.yml");
    let job = &prom["scrape_configs"][0];
    assert_eq!(job["job_name"].as_str(), Some("hobbits"));
    assert_eq!(job["metrics_path"].as_str(), Some("/metrics"));
}
