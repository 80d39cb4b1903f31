//! End to end: `hobbits-node run --metrics 127.0.0.1:0` (and `HOBBITS_METRICS`) serves the
//! Prometheus text format; two processes on 127.0.0.1, one producing, report one peer each and a
//! head slot that moves; a bad address exits with status 2. `run --http` serves the Beacon API,
//! which `status http://…` reads (the head moving); `--http` and `--metrics` naming different
//! addresses exit with status 2.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{wait_for, NodeProcess, BIN};

const DEADLINE: Duration = Duration::from_secs(20);

/// A `hobbits-node run` child, killed on drop.
struct Node {
    process: NodeProcess,
}

impl Node {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Node {
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Node {
            process: NodeProcess::spawn(&mut cmd, DEADLINE),
        }
    }

    /// The rest of the next stdout line starting with `prefix`.
    fn line(&mut self, prefix: &str) -> String {
        self.process
            .stdout
            .next_matching(prefix, |l| l.strip_prefix(prefix).map(str::to_string))
    }
}

/// `GET /metrics` on `http://host:port/metrics`: the body's `name value` lines.
fn scrape(url: &str) -> Vec<(String, f64)> {
    let hostport = url
        .strip_prefix("http://")
        .and_then(|u| u.strip_suffix("/metrics"))
        .expect("metrics url");
    let mut s = TcpStream::connect(hostport).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").expect("head");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(n, v)| Some((n.to_string(), v.parse().ok()?)))
        .collect()
}

fn get(samples: &[(String, f64)], name: &str) -> f64 {
    samples
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("{name} missing"))
}

fn wait_until(what: &str, url: &str, cond: impl Fn(&[(String, f64)]) -> bool) {
    wait_for(what, DEADLINE, || cond(&scrape(url)).then_some(()));
}

#[test]
fn two_processes_serve_metrics_from_flag_and_environment() {
    let mut a = Node::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--produce",
            "--slot-ms",
            "100",
            "--node-id",
            "1",
            "--metrics",
            "127.0.0.1:0",
        ],
        &[],
    );
    let a_uri = a.line("listening on ");
    let a_url = a.line("metrics on ");
    let mut b = Node::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--node-id",
            "2",
            "--peer",
            &a_uri,
        ],
        &[("HOBBITS_METRICS", "127.0.0.1:0")],
    );
    let b_url = b.line("metrics on ");
    wait_until("A: one peer and a head past slot 2", &a_url, |s| {
        get(s, "hobbits_peers") == 1.0 && get(s, "hobbits_head_slot") >= 3.0
    });
    wait_until("B: one peer, blocks from A", &b_url, |s| {
        get(s, "hobbits_peers") == 1.0
            && get(s, "hobbits_head_slot") >= 3.0
            && get(s, "hobbits_gossip_received_total") > 0.0
    });
}

#[test]
fn a_bad_metrics_address_exits_with_status_2() {
    let out = Command::new(BIN)
        .args(["run", "--listen", "127.0.0.1:0", "--metrics", "nowhere"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("metrics `nowhere`"));
}

fn status(url: &str) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .args(["status", url, "--timeout-ms", "3000"])
        .output()
        .expect("status");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value printed after `key` by `status`.
fn field(stdout: &str, key: &str) -> Option<String> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
}

#[test]
fn status_reads_a_node_through_its_http_api() {
    let mut a = Node::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--produce",
            "--slot-ms",
            "100",
            "--node-id",
            "5",
            "--http",
            "127.0.0.1:0",
        ],
        &[],
    );
    let listen = a.line("listening on ");
    let url = a.line("http on ");
    assert_eq!(a.line("metrics on "), format!("{url}/metrics"));
    let mut last = 0;
    wait_for("status shows the head moving", DEADLINE, || {
        let (code, out, err) = status(&url);
        assert_eq!(code, Some(0), "{out}{err}");
        assert_eq!(field(&out, "node_id").as_deref(), Some("0000000000000005"));
        assert_eq!(field(&out, "p2p_address"), Some(listen.clone()));
        assert!(field(&out, "version").is_some_and(|v| v.starts_with("hobbits-node/")));
        assert!(field(&out, "best_root").is_some_and(|r| r.len() == 66));
        let slot: u64 = field(&out, "best_slot")?.parse().ok()?;
        let moved = last > 0 && slot > last;
        last = last.max(slot);
        moved.then_some(())
    });
    // Nothing listening: a failure; not a URL: bad input.
    let (code, _, err) = status("http://127.0.0.1:1");
    assert_eq!(code, Some(1), "{err}");
    let (code, _, err) = status("http://nowhere");
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn http_and_metrics_naming_different_addresses_exit_with_status_2() {
    let out = Command::new(BIN)
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:5052",
            "--metrics",
            "127.0.0.1:9100",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("metrics is the old name of http"));
}
