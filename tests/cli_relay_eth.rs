//! `hobbits-node relay --to eth+tcp://…` in front of a node's ETH listener: `status eth+tcp://`
//! through the relay gets the node's answers, and the relay (with `--once`) prints the hello,
//! get_status and goodbye as ETH messages, matched and without deviation, then its summary.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::{NodeProcess, BIN};

#[test]
fn relay_decodes_a_status_exchange_over_eth() {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "run",
        "--listen",
        "127.0.0.1:0",
        "--eth-listen",
        "127.0.0.1:0",
        "--log",
        "warn",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut node = NodeProcess::spawn(&mut cmd, Duration::from_secs(20));
    let eth = node.stdout.find("eth listening on", |l| {
        l.strip_prefix("eth listening on ")
            .map(|a| a.trim().to_string())
    });
    let mut cmd = Command::new(BIN);
    cmd.args(["relay", "--listen", "127.0.0.1:0", "--to", &eth, "--once"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut relay = NodeProcess::spawn(&mut cmd, Duration::from_secs(20));
    let at = relay.stderr().find("relay listening on", |l| {
        l.strip_prefix("relay listening on ")
            .and_then(|r| r.split_whitespace().next())
            .map(str::to_string)
    });
    let status = Command::new(BIN)
        .args(["status", &format!("eth+tcp://{at}")])
        .output()
        .expect("status");
    let printed = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{printed}");
    assert!(printed.contains("user_agent"), "{printed}");
    let mut lines = Vec::new();
    relay.stdout.next_matching("the summary's deviations", |l| {
        lines.push(l.to_string());
        l.starts_with("deviations:").then_some(())
    });
    relay
        .stdout
        .next_matching("the line after `deviations:`", |l| {
            lines.push(l.to_string());
            Some(())
        });
    let text = lines.join("\n");
    for want in [
        "c>s ETH hello(0) id=1 request",
        "s>c ETH hello(0) -> 0 id=1 response",
        "c>s ETH get_status(2)",
        "s>c ETH get_status(2) -> 0",
        "c>s ETH goodbye(1)",
        "relay summary: 1 connections (1 closed, 0 failed)",
    ] {
        assert!(text.contains(want), "`{want}` missing:\n{text}");
    }
    assert!(!text.contains(" ! "), "no deviation expected:\n{text}");
    assert!(text.ends_with("deviations:\n  (none)"), "{text}");
    let exit = relay.child.wait().expect("relay exits after --once");
    assert!(exit.success());
}
