//! End to end, as root (skipped with a note otherwise): `hobbits-node testnet --engine netns`
//! runs nodes in their own network namespaces with latency, jitter, loss, bandwidth and faults
//! (freeze, partition with two producers, kill -9 and restart of a persistent node, a producer's
//! clock skewed and set back), converges
//! with every invariant held, and leaves no namespace, link or process behind; SIGTERM removes a
//! running testnet; the namespaces of a testnet killed with SIGKILL are swept by the next one; a
//! conflicting finalized checkpoint written into a saved run is caught by `--check`; `run
//! --event-log --attest` logs what a node sees (on loopback, no root needed).

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::netns::{alive, namespaces_of, netns_ready, pids_in, root_links};
use support::{wait_for, BIN};

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("hobbits-cli-netns-{}-{name}", std::process::id()))
}

const FAULTS: &str = r#"
nodes = 5
producers = [0, 3]
slots = 28
slot_ms = 250
settle_ms = 8000
engine = "netns"
persistent = [4]

[topology]
kind = "ring"

[network]
latency_ms = 15
jitter_ms = 3

[[network.node]]
node = 2
up_mbit = 4
down_mbit = 4
loss = 0.02

[[event]]
at_slot = 3
action = "freeze"
node = 1

[[event]]
at_slot = 5
action = "thaw"
node = 1

[[event]]
at_slot = 7
action = "partition"
groups = { a = [0, 1, 2], b = [3, 4] }

[[event]]
at_slot = 10
action = "heal_partition"

[[event]]
at_slot = 12
action = "kill"
node = 4

[[event]]
at_slot = 16
action = "restart"
node = 4

[[event]]
at_slot = 18
action = "clock_skew"
node = 3
skew_ms = 500

[[event]]
at_slot = 21
action = "clock_skew"
node = 3
skew_ms = 0
"#;

#[test]
fn faults_on_a_real_network_converge_with_every_invariant_and_leave_nothing() {
    if !netns_ready() {
        return;
    }
    let file = tmp("faults.toml");
    std::fs::write(&file, FAULTS).expect("write the testnet file");
    let links_before = root_links();
    let child = Command::new(BIN)
        .arg("testnet")
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the testnet");
    let pid = child.id();
    // While it runs: its namespaces and the node processes in them.
    let names = wait_for("the run's namespaces", Duration::from_secs(30), || {
        let names = namespaces_of(pid);
        (names.len() == 6).then_some(names)
    });
    let nodes = wait_for("node processes", Duration::from_secs(30), || {
        let pids = pids_in(&names);
        (pids.len() >= 4).then_some(pids)
    });
    let out = child.wait_with_output().expect("the testnet ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("(netns)") && stdout.contains("CONVERGED"),
        "{stdout}"
    );
    for invariant in [
        "converged",
        "finalized_monotonic",
        "finalized_agreement",
        "restart_consistent",
        "fault_recovery",
    ] {
        assert!(
            stdout.contains(&format!("invariant {invariant}: held")),
            "{invariant}: {stdout}"
        );
    }
    assert!(
        stdout.contains("node 4 reopened"),
        "restart from the store: {stdout}"
    );
    assert!(
        stdout.contains("partition a [0, 1, 2] | b [3, 4]: ended")
            && stdout.contains("node 3 clock skew 500 ms: ended"),
        "{stdout}"
    );
    // The nodes' own event logs: blocks and attestations travelled, on their clocks.
    let gossiped = |what: &str| {
        stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{what}: "))?
                    .split(' ')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0)
    };
    assert!(
        gossiped("blocks") > 10 && gossiped("attestations") > 10,
        "{stdout}"
    );
    // The delayer's queue is visible: what it held and what the kernel dropped.
    assert!(
        stdout.contains("kernel drops: 0 (queue full), 0 (socket full)")
            && stdout.contains("latency by the NFQUEUE delayer (netem is"),
        "{stdout}"
    );
    // Nothing left: namespaces (with their links, qdiscs and nft tables), processes, owner file.
    assert_eq!(namespaces_of(pid), Vec::<String>::new());
    for p in nodes {
        assert!(!alive(p), "node process {p} left running");
    }
    assert_eq!(
        root_links(),
        links_before,
        "no interface added to the root namespace"
    );
    let owners = std::fs::read_dir("/run/hobbits-netns").map(|d| {
        d.flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{pid}-"))
            })
            .count()
    });
    assert_eq!(owners.unwrap_or(0), 0, "owner file removed");
    let _ = std::fs::remove_file(file);
}

/// A long 3-node run, once its 4 namespaces and 3 node processes are up: the child and the
/// node processes' pids.
fn start_long_run() -> (std::process::Child, Vec<u32>) {
    let child = Command::new(BIN)
        .args([
            "testnet",
            "--engine",
            "netns",
            "--nodes",
            "3",
            "--topology",
            "line",
            "--slots",
            "400",
        ])
        .args(["--slot-ms", "250", "--no-scenario"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the testnet");
    let pid = child.id();
    let names = wait_for("namespaces", Duration::from_secs(30), || {
        let n = namespaces_of(pid);
        (n.len() == 4).then_some(n)
    });
    let nodes = wait_for("node processes", Duration::from_secs(30), || {
        let p = pids_in(&names);
        (p.len() == 3).then_some(p)
    });
    (child, nodes)
}

#[test]
fn sigterm_removes_a_running_testnet() {
    if !netns_ready() {
        return;
    }
    let (mut child, nodes) = start_long_run();
    let pid = child.id();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    let status = child.wait().expect("it ends");
    assert_eq!(status.code(), Some(130));
    assert_eq!(namespaces_of(pid), Vec::<String>::new());
    for p in nodes {
        assert!(!alive(p), "node process {p} left running");
    }
}

#[test]
fn a_testnet_killed_with_sigkill_is_swept_by_the_next_one() {
    if !netns_ready() {
        return;
    }
    let (mut child, nodes) = start_long_run();
    let pid = child.id();
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert_eq!(namespaces_of(pid).len(), 4, "a killed run cannot clean up");
    let next = Command::new(BIN)
        .args([
            "testnet",
            "--engine",
            "netns",
            "--nodes",
            "2",
            "--slots",
            "4",
            "--slot-ms",
            "200",
            "--no-scenario",
        ])
        .output()
        .expect("the next run");
    assert_eq!(
        next.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&next.stdout)
    );
    assert_eq!(namespaces_of(pid), Vec::<String>::new(), "swept");
    for p in nodes {
        assert!(!alive(p), "node process {p} of the killed run left running");
    }
}

#[test]
fn a_conflicting_finalized_checkpoint_in_a_saved_run_is_caught() {
    if !netns_ready() {
        return;
    }
    let dir = tmp("saved");
    let _ = std::fs::remove_dir_all(&dir);
    let run = Command::new(BIN)
        .args([
            "testnet",
            "--engine",
            "netns",
            "--nodes",
            "3",
            "--topology",
            "line",
            "--slots",
            "12",
        ])
        .args(["--slot-ms", "200", "--no-scenario", "--keep-logs"])
        .arg(&dir)
        .output()
        .expect("run");
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let check = |dir: &PathBuf| {
        Command::new(BIN)
            .args(["testnet", "--check"])
            .arg(dir)
            .output()
            .expect("check")
    };
    let clean = check(&dir);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    // Node 1 "finalizes" another root at the epoch every node finalized (0: genesis).
    let log = dir.join("node-1.jsonl");
    let mut text = std::fs::read_to_string(&log).expect("node 1's log");
    let last_t: u64 = text
        .lines()
        .last()
        .and_then(|l| l.split(['"', ':', ',']).nth(3))
        .and_then(|t| t.parse().ok())
        .expect("a time");
    text.push_str(&format!(
        "{{\"t_us\":{},\"event\":\"finalized_changed\",\"epoch\":0,\"root\":\"0x{}\"}}\n",
        last_t + 1,
        "ee".repeat(32)
    ));
    std::fs::write(&log, text).expect("write");
    let caught = check(&dir);
    let stdout = String::from_utf8_lossy(&caught.stdout);
    assert_eq!(caught.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("invariant finalized_agreement: VIOLATED"),
        "{stdout}"
    );
    assert!(stdout.contains("node 1 finalized 0xeeeeeeee"), "{stdout}");
    assert!(
        stdout.contains("invariant finalized_monotonic: VIOLATED"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn loss_needs_the_netns_engine_and_the_netns_engine_needs_root() {
    let file = tmp("lossy.toml");
    std::fs::write(&file, "nodes = 3\nslots = 4\n[network]\nloss = 0.01\n").expect("write");
    let out = Command::new(BIN)
        .arg("testnet")
        .arg(&file)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`network.loss`") && stderr.contains("in-process"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(file);
    // As an unprivileged user: exit 2 naming root.
    if Command::new("setpriv").arg("--help").output().is_err() || !netns_ready() {
        return;
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args([
            "testnet", "--engine", "netns", "--nodes", "2", "--slots", "2",
        ])
        .output()
        .expect("setpriv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("needs root"), "{stderr}");
}

#[test]
fn run_writes_its_event_log_and_attests() {
    use support::NodeProcess;
    let dir = tmp("events");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (a_log, b_log) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    let deadline = Duration::from_secs(20);
    let mut a = NodeProcess::spawn(
        Command::new(BIN)
            .args([
                "run",
                "--listen",
                "127.0.0.1:0",
                "--produce",
                "--slot-ms",
                "200",
                "--attest",
            ])
            .arg("--event-log")
            .arg(&a_log)
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
        deadline,
    );
    let uri = a.listening_uri();
    let _b = NodeProcess::spawn(
        Command::new(BIN)
            .args(["run", "--listen", "127.0.0.1:0", "--attest", "--peer", &uri])
            .arg("--event-log")
            .arg(&b_log)
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
        deadline,
    );
    let kinds = |path: &PathBuf| -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                l.split("\"event\":\"")
                    .nth(1)?
                    .split('"')
                    .next()
                    .map(String::from)
            })
            .collect()
    };
    let wanted = [
        "started",
        "peer_connected",
        "block_received",
        "block_imported",
        "head_changed",
        "attestation_received",
        "attested",
    ];
    wait_for(
        "the follower's log to show gossip, imports, heads and attestations",
        deadline,
        || {
            let seen = kinds(&b_log);
            wanted
                .iter()
                .all(|w| seen.iter().any(|k| k == w))
                .then_some(())
        },
    );
    wait_for("the producer's log to show its blocks", deadline, || {
        let seen = kinds(&a_log);
        (seen.iter().any(|k| k == "produced") && seen.iter().any(|k| k == "attestation_received"))
            .then_some(())
    });
    let _ = std::fs::remove_dir_all(&dir);
}
