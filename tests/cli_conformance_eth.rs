//! Runs the built `hobbits-node conformance eth+tcp://…` against real peers on 127.0.0.1: a node
//! started with `run --eth-listen 127.0.0.1:0 --produce` passes every ETH check (exit 0, JSON with
//! version, seed and the ETH check ids, the target keeping its `eth+tcp://` scheme); the same
//! node's Hobbits port, which does not speak the dialect, fails them (exit 1); a closed port and
//! an `eth+tcp://` address with an identity are refused (exit 2).

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::{NodeProcess, BIN};

/// The ETH checks, in run order (every one passes against our own node).
const ETH_CHECKS: [&str; 14] = [
    "eth_hello",
    "eth_get_status",
    "eth_roots",
    "eth_roots_cap",
    "eth_headers",
    "eth_bodies",
    "eth_chain_state",
    "eth_pipelined",
    "eth_unknown_method",
    "eth_malformed_ssz",
    "eth_goodbye_wrong_network",
    "eth_goodbye_unknown_finalized",
    "eth_bad_prefix_closes",
    "eth_accepts_after_bad_prefix",
];

/// A producing node listening on both wires (killed on drop): (process, hob+tcp URI, eth+tcp URI).
fn start_node() -> (NodeProcess, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "run",
        "--listen",
        "127.0.0.1:0",
        "--eth-listen",
        "127.0.0.1:0",
        "--produce",
        "--slot-ms",
        "100",
        "--log",
        "warn",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut process = NodeProcess::spawn(&mut cmd, Duration::from_secs(20));
    let hob = process.listening_uri();
    let eth = process.stdout.find("eth listening on", |l| {
        l.strip_prefix("eth listening on ")
            .map(|a| a.trim().to_string())
    });
    (process, hob, eth)
}

fn conformance(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("conformance")
        .args(args)
        .output()
        .expect("run conformance");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn our_node_passes_every_eth_check_and_a_hobbits_port_fails_them() {
    let (_node, hob, eth) = start_node();
    assert!(eth.starts_with("eth+tcp://127.0.0.1:"), "{eth}");
    let (code, stdout, stderr) =
        conformance(&[&eth, "--json", "--seed", "1414", "--timeout", "3s"]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(v["overall"], "passed", "{v:#}");
    assert_eq!(v["target"], eth.as_str());
    assert_eq!(v["seed"], 1414);
    assert_eq!(v["version"], "3");
    let ids: Vec<&str> = v["check_ids"]
        .as_array()
        .expect("check_ids")
        .iter()
        .map(|c| c.as_str().expect("name"))
        .collect();
    assert_eq!(ids, ETH_CHECKS);
    let checks = v["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), ETH_CHECKS.len());
    for c in checks {
        assert_eq!(c["status"], "pass", "{c}");
        assert!(!c["evidence"].as_str().unwrap_or("").is_empty(), "{c}");
    }
    assert_eq!(v["peer_hello"]["shape"], "SpecSsz", "{v:#}");

    // The table form names the suite, the seed and every check.
    let (code, table, _) = conformance(&[&eth, "--seed", "1414", "--timeout", "3s"]);
    assert_eq!(code, 0, "{table}");
    assert!(table.contains("seed 1414"), "{table}");
    assert!(table.contains("14 checks: 14 passed, 0 failed"), "{table}");

    // The Hobbits port does not speak the ETH dialect: reachable, every check fails, exit 1.
    let hob_port = hob.rsplit(':').next().expect("port");
    let wrong = format!("eth+tcp://127.0.0.1:{hob_port}");
    let (code, stdout, stderr) =
        conformance(&[&wrong, "--json", "--timeout", "1s", "--quiet", "200ms"]);
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(v["overall"], "failed");
    assert_eq!(v["counts"]["pass"], 0, "{v:#}");
}

#[test]
fn unreachable_and_malformed_eth_targets_exit_2() {
    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let target = format!("eth+tcp://127.0.0.1:{port}");
    let (code, stdout, stderr) = conformance(&[&target, "--json", "--timeout", "1s"]);
    assert_eq!(code, 2, "stdout: {stdout}\nstderr: {stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON error");
    assert_eq!(v["target"], target.as_str());
    assert!(v["error"]
        .as_str()
        .expect("error")
        .contains("cannot connect"));
    let (code, _, stderr) = conformance(&["eth+tcp://someone@127.0.0.1:9000"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no identity"), "{stderr}");
}
