//! Runs the built `hobbits-node conformance` against real peers on 127.0.0.1: a node started with
//! `hobbits-node run --listen 127.0.0.1:0 --produce` (exit 0, JSON report "passed"), a TCP server
//! that never answers (exit 1, failures listed), an echo server (exit 1, `hello` and
//! `get_status` named an echo; `status` refuses to print our own HELLO as the peer's), and bad
//! arguments / an unreachable port (exit 2).

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{wait_for, NodeProcess, BIN};

/// Checks in the suite (every one passes against our own node).
const CHECKS: usize = 21;

/// A `hobbits-node run` child (killed on drop) and the address it listens on.
struct Node {
    _process: NodeProcess,
    uri: String,
}

fn start_node(extra: &[&str]) -> Node {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--listen", "127.0.0.1:0", "--log", "warn"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut process = NodeProcess::spawn(&mut cmd, Duration::from_secs(20));
    let uri = process.listening_uri();
    Node {
        _process: process,
        uri,
    }
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

/// Polls the node's HELLO until its best slot reaches `slot` (through the checker's JSON).
fn wait_for_slot(uri: &str, slot: u64) {
    wait_for(
        &format!("the node at slot {slot}"),
        Duration::from_secs(20),
        || {
            let (_, stdout, _) =
                conformance(&[uri, "--json", "--timeout", "2s", "--max-pages", "1"]);
            let best = serde_json::from_str::<serde_json::Value>(&stdout)
                .ok()
                .and_then(|v| v["peer_hello"]["best_slot"].as_u64());
            best.is_some_and(|b| b >= slot).then_some(())
        },
    );
}

#[test]
fn producing_node_passes_with_exit_0_and_json() {
    let node = start_node(&["--produce", "--slot-ms", "100"]);
    wait_for_slot(&node.uri, 5);
    let (code, stdout, stderr) = conformance(&[&node.uri, "--json", "--timeout", "3s"]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(v["overall"], "passed", "{v:#}");
    assert_eq!(v["target"], node.uri.as_str());
    let checks = v["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), CHECKS);
    for c in checks {
        assert_eq!(c["status"], "pass", "{c}");
        assert!(!c["evidence"].as_str().unwrap_or("").is_empty(), "{c}");
    }
    assert!(v["peer_hello"]["best_slot"].as_u64().expect("best_slot") >= 5);
    assert!(!v["version"].as_str().expect("suite version").is_empty());
    let ids: Vec<_> = checks.iter().map(|c| c["id"].clone()).collect();
    assert_eq!(v["check_ids"].as_array().expect("check ids"), &ids);
    assert!(v["seed"].as_u64().is_some(), "{v:#}");
    assert_eq!(v["peer_hello"]["shape"], "SpecSsz");

    // The table form says the same.
    let (code, table, _) = conformance(&[&node.uri]);
    assert_eq!(code, 0, "{table}");
    assert!(table.contains("PASS  ping_echo"), "{table}");
    assert!(
        table.contains(&format!("{CHECKS} passed, 0 failed, 0 skipped: passed")),
        "{table}"
    );
}

#[test]
fn silent_peer_exits_1_with_failures() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Accept and read forever, answering nothing.
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = stream;
                let mut buf = [0u8; 1024];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    let uri = format!("hob+tcp://{addr}");
    let (code, stdout, stderr) =
        conformance(&[&uri, "--json", "--timeout", "400ms", "--quiet", "100ms"]);
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(v["overall"], "failed");
    let status = |id: &str| {
        v["checks"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["id"] == id))
            .map(|c| c["status"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert_eq!(status("ping_echo"), "fail");
    assert_eq!(status("hello"), "fail");
    assert_eq!(status("headers_ascending"), "skipped");
    assert!(v["counts"]["fail"].as_u64().expect("fail count") >= 2);
}

/// A server writing every byte back (a Hobbits library's echo demo, at the byte level).
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = stream;
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = s.read(&mut buf) {
                    if s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("hob+tcp://{addr}")
}

#[test]
fn echo_server_fails_as_an_echo_and_status_says_so() {
    let uri = echo_server();
    let (code, stdout, stderr) =
        conformance(&[&uri, "--json", "--timeout", "500ms", "--quiet", "100ms"]);
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(v["counts"]["pass"], 0, "{v:#}");
    for id in ["ping_echo", "hello", "get_status"] {
        let c = v["checks"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["id"] == id))
            .expect("check");
        assert_eq!(c["status"], "fail", "{c}");
        assert!(c["evidence"].as_str().unwrap_or("").contains("echo"), "{c}");
    }
    let out = Command::new(BIN)
        .args(["status", &uri, "--timeout-ms", "2000"])
        .output()
        .expect("run status");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("echo"), "{stderr}");
    assert!(!stdout.contains("user_agent"), "{stdout}");
}

#[test]
fn bad_arguments_and_unreachable_peers_exit_2() {
    let (code, _, stderr) = conformance(&["http://127.0.0.1:1"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = conformance(&["hob+tcp://127.0.0.1:9000", "--timeout", "never"]);
    assert_eq!(code, 2, "{stderr}");
    let free = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    // The listener is dropped: nothing listens on that port now.
    let uri = format!("hob+tcp://{free}");
    let (code, stdout, stderr) = conformance(&[&uri, "--json", "--timeout", "1s"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON error");
    assert!(v["error"]
        .as_str()
        .expect("error")
        .contains("cannot connect"));
}

#[test]
fn fixture_mode_serves_a_seeded_chain_to_a_node_that_syncs() {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "conformance",
        "--serve-chain",
        "seeded",
        "--chain-blocks",
        "30",
        "--seed",
        "5",
        "--sync-timeout",
        "20s",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut fixture = NodeProcess::spawn(&mut cmd, Duration::from_secs(30));
    let uri = fixture.listening_uri();
    let head = fixture.stdout.find("fixture head", |l| {
        l.strip_prefix("fixture head ").map(str::to_string)
    });
    let _node = start_node(&["--peer", &uri]);
    let verdict = fixture.stdout.find("the verdict", |l| {
        l.starts_with("2 checks:").then(|| l.to_string())
    });
    assert!(verdict.ends_with("passed"), "{verdict}");
    let synced = fixture.stdout.find("fixture_synced", |l| {
        l.contains("fixture_synced").then(|| l.to_string())
    });
    assert!(synced.contains("PASS"), "{synced} (head {head})");
    let status = fixture.child.wait().expect("exit");
    assert_eq!(status.code(), Some(0));
}
