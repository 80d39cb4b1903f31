//! Mixed-dialect testnets end to end: `examples/testnets/mixed_dialects.toml` (Hobbits-only,
//! ETH-only and bridging nodes in a ring, an ETH-only late joiner and a kill / restart) converges
//! with one process per node on 127.0.0.1 and in-process (there with both ETH links of an ETH-only
//! node cut and healed on the way, so it comes back only by a redial), every node at the same
//! head, ETH-only ones included; in Shadow too when `shadow` runs here (skipped with a note
//! otherwise). Impossible dialects exit 2 naming the key; the Compose export passes the ETH flags and the Kubernetes export
//! refuses them.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::BIN;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/testnets/mixed_dialects.toml"
);

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "hobbits-cli-dialects-{}-{name}",
        std::process::id()
    ))
}

fn testnet(args: &[&str], env: Option<(&str, &Path)>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("testnet").args(args);
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    cmd.output().expect("run hobbits-node testnet")
}

/// Slot 9, after node 3's restart: both ETH links of ETH-only node 4 (3-4 and 4-5) are cut, so
/// it is alone until the heal at slot 10; it reaches the head only if one end of a healed link
/// redials it over the ETH wire.
const CUT_ETH_LINKS: &str = "
[[event]]
at_slot = 9
action = \"cut\"
link = [3, 4]

[[event]]
at_slot = 9
action = \"cut\"
link = [4, 5]

[[event]]
at_slot = 10
action = \"heal\"
link = [3, 4]

[[event]]
at_slot = 10
action = \"heal\"
link = [4, 5]
";

/// Runs the example with `engine` (with [`CUT_ETH_LINKS`] appended when `cut_eth_link`) and
/// checks the JSON report: converged, every node running at the network's head (the ETH-only
/// nodes 3 and 4 included).
fn converges(engine: &str, shadow: Option<&Path>, cut_eth_link: bool) {
    let json = tmp(&format!("{engine}.json"));
    let file = tmp(&format!("{engine}.toml"));
    let mut text = std::fs::read_to_string(EXAMPLE).expect("example");
    if cut_eth_link {
        text.push_str(CUT_ETH_LINKS);
    }
    std::fs::write(&file, text).expect("write testnet file");
    let out = testnet(
        &[
            file.to_str().expect("path"),
            "--engine",
            engine,
            "--json",
            json.to_str().expect("path"),
        ],
        shadow.map(|s| ("SHADOW", s)),
    );
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("CONVERGED"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written")).expect("json");
    let _ = std::fs::remove_file(&json);
    assert_eq!(report["converged"], true);
    let head = report["head_root"].clone();
    let nodes = report["node_reports"].as_array().expect("node reports");
    assert_eq!(nodes.len(), 6);
    for n in nodes {
        assert_eq!(n["running"], true, "{n}");
        assert_eq!(
            n["head_root"], head,
            "node {} not at the head: {n}",
            n["index"]
        );
    }
    assert!(report["head_slot"].as_u64().unwrap_or(0) >= 10, "{report}");
}

#[test]
fn a_mixed_dialect_testnet_converges_with_one_process_per_node() {
    converges("processes", None, true);
}

#[test]
fn a_mixed_dialect_testnet_converges_in_process() {
    converges("in-process", None, true);
}

#[test]
fn a_mixed_dialect_testnet_converges_in_shadow() {
    let found = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/tools/shadow/bin/shadow"))
        .find(|p| p.is_file());
    let runs = found.filter(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(shadow) = runs else {
        eprintln!("SKIPPED: no shadow that runs here (../shared/tools/shadow)");
        return;
    };
    converges("shadow", Some(&shadow), false);
}

#[test]
fn impossible_dialects_exit_2_and_exports_pass_or_refuse_them() {
    let bad = tmp("bad.toml");
    let text = std::fs::read_to_string(EXAMPLE).expect("example");
    // Node 3 on Hobbits only: its link to node 4 (eth only) has no wire.
    let impossible = text.replacen(
        "index = 3\ndialect = \"eth\"",
        "index = 3\ndialect = \"hobbits\"",
        1,
    );
    assert_ne!(impossible, text);
    std::fs::write(&bad, impossible).expect("write");
    let out = testnet(&[bad.to_str().expect("path")], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`dialect`") && stderr.contains("nodes 3 (hobbits) and 4 (eth)"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(&bad);

    let dir = tmp("compose");
    let out = testnet(
        &[EXAMPLE, "--export", "compose", dir.to_str().expect("path")],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = std::fs::read_to_string(dir.join("compose.yaml")).expect("compose.yaml");
    // Node 3 (eth, at 198.18.0.5) listens on ETH and dials its neighbours 2 and 4 over it only.
    let node3 = yaml
        .lines()
        .filter(|l| l.contains("command:"))
        .nth(3)
        .expect("node 3's command");
    assert!(
        node3.contains(
            "\"--eth-listen\", \"0.0.0.0:9001\", \"--peer\", \"eth+tcp://198.18.0.4:9001\", \
             \"--peer\", \"eth+tcp://198.18.0.6:9001\""
        ) && !node3.contains("hob+tcp"),
        "{node3}"
    );
    // Node 0 (hobbits) has no ETH listener.
    let node0 = yaml
        .lines()
        .find(|l| l.contains("command:"))
        .expect("node 0");
    assert!(!node0.contains("eth"), "{node0}");
    let _ = std::fs::remove_dir_all(&dir);

    let dir = tmp("k8s");
    let out = testnet(
        &[EXAMPLE, "--export", "k8s", dir.to_str().expect("path")],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`dialect`") && stderr.contains("k8s"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
