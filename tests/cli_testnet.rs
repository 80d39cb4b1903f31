//! End to end: `hobbits-node testnet` (a shortened default: 6 nodes, 100 ms slots, with its late
//! joiner and restart) exits 0 with a converged report, writes a JSON report that parses and an
//! SVG plot; a testnet file from examples/testnets/ runs; `--attest off` runs without
//! attestations; bad files and flags exit with status 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_hobbits-node");

fn testnet(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("testnet")
        .args(args)
        .output()
        .expect("run hobbits-node testnet")
}

/// The JSON report a run wrote to `path` (`--json`).
fn read_report(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("json written")).expect("json")
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("hobbits-cli-testnet-{}-{name}", std::process::id()))
}

#[test]
fn the_default_testnet_converges_and_writes_json_and_svg() {
    let json = tmp("report.json");
    let svg = tmp("plot.svg");
    let out = testnet(&[
        "--nodes",
        "6",
        "--slots",
        "20",
        "--slot-ms",
        "100",
        "--json",
        json.to_str().expect("path"),
        "--plot",
        svg.to_str().expect("path"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("CONVERGED"), "{stdout}");
    assert!(stdout.contains("catch-up: node 5 (join)"), "{stdout}");
    let report = read_report(&json);
    assert_eq!(report["converged"], true);
    assert_eq!(report["nodes"], 6);
    assert_eq!(report["node_reports"].as_array().map(Vec::len), Some(6));
    assert!(report["blocks"]["to_all_nodes"]["p50_ms"].is_number());
    assert!(report["head_slot"].as_u64().unwrap_or(0) >= 15);
    assert!(report["attestations"]["objects"].as_u64().unwrap_or(0) > 0);
    let svg_text = std::fs::read_to_string(&svg).expect("svg written");
    assert!(svg_text.starts_with("<svg") && svg_text.contains("head slot"));
    let _ = std::fs::remove_file(json);
    let _ = std::fs::remove_file(svg);
}

#[test]
fn a_testnet_file_runs_with_flag_overrides() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/testnets/partition.toml"
    );
    let out = testnet(&[file, "--slot-ms", "100", "--quiet"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("slots of 100 ms"), "{stdout}");
}

#[test]
fn attest_off_runs_the_testnet_without_attestations() {
    let json = tmp("no-attest.json");
    let out = testnet(&[
        "--nodes",
        "4",
        "--slots",
        "8",
        "--slot-ms",
        "100",
        "--no-scenario",
        "--attest",
        "off",
        "--json",
        json.to_str().expect("path"),
        "--quiet",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let report = read_report(&json);
    assert_eq!(report["converged"], true);
    assert_eq!(report["attestations"]["objects"], 0);
    assert!(report["blocks"]["objects"].as_u64().unwrap_or(0) > 0);
    let _ = std::fs::remove_file(json);
}

#[test]
fn bad_files_and_flags_exit_2_with_a_message() {
    let bad = tmp("bad.toml");
    std::fs::write(
        &bad,
        "nodes = 3\n[[event]]\nat_slot = 2\naction = \"kill\"\nnode = 7\n",
    )
    .expect("write");
    for args in [
        vec!["--topology", "hypercube"],
        vec!["--nodes", "0"],
        vec!["--slot-ms", "1"],
        vec!["/nonexistent/testnet.toml"],
        vec![bad.to_str().expect("path")],
    ] {
        let out = testnet(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
    let _ = std::fs::remove_file(bad);
}

#[test]
fn one_process_per_node_converges_and_snapshot_joins_are_refused_there() {
    let json = tmp("processes.json");
    let out = testnet(&[
        "--processes",
        "--nodes",
        "4",
        "--slots",
        "12",
        "--slot-ms",
        "150",
        "--json",
        json.to_str().expect("path"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("(processes)") && stdout.contains("CONVERGED"),
        "{stdout}"
    );
    let report = read_report(&json);
    assert_eq!(report["mode"], "processes");
    assert!(report["blocks"]["reached_all"].as_u64().unwrap_or(0) > 0);
    let _ = std::fs::remove_file(json);

    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/testnets/partition.toml"
    );
    let out = testnet(&[file, "--processes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("snapshot_join"));
}
