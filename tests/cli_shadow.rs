//! End to end in Shadow (skipped with a note when no `shadow` runs here: $SHADOW, PATH, or
//! `shared/tools/shadow/bin/shadow` beside the project, which needs libglib2.0-0):
//! `hobbits-node testnet examples/testnets/shadow_regions.toml` runs 12 real node processes on
//! simulated hosts in two regions, with a lossy node, a late joiner and a kill -9 / restart of a
//! persistent node, converges with every invariant held, and its block propagation is never
//! faster than the link model allows. Without Shadow: `--export shadow DIR` writes both files,
//! and what Shadow cannot express exits 2 naming the event.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::BIN;

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("hobbits-cli-shadow-{}-{name}", std::process::id()))
}

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/testnets/shadow_regions.toml"
);

/// The `shadow` binary, as the engine finds it, if it runs here.
fn shadow() -> Option<PathBuf> {
    let found = std::env::var_os("SHADOW").map(PathBuf::from).or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|a| a.join("shared/tools/shadow/bin/shadow"))
            .chain(
                std::env::var_os("PATH")
                    .map(|p| {
                        std::env::split_paths(&p)
                            .map(|d| d.join("shadow"))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default(),
            )
            .find(|p| p.is_file())
    });
    let Some(path) = found else {
        eprintln!("SKIPPED: no shadow binary ($SHADOW, PATH or ../shared/tools/shadow)");
        return None;
    };
    match Command::new(&path).arg("--version").output() {
        Ok(out) if out.status.success() => Some(path),
        Ok(out) => {
            eprintln!(
                "SKIPPED: {} does not run here (libglib2.0-0 missing?): {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
            None
        }
        Err(e) => {
            eprintln!("SKIPPED: cannot run {}: {e}", path.display());
            None
        }
    }
}

/// `hobbits-node testnet ARGS --json FILE` with `shadow`: asserts exit 0 and returns its stdout and
/// the JSON report (the report file is removed).
fn run_shadow(shadow: &Path, args: &[&str], json_name: &str) -> (String, serde_json::Value) {
    let json = tmp(json_name);
    let out = Command::new(BIN)
        .arg("testnet")
        .args(args)
        .arg("--json")
        .arg(&json)
        .env("SHADOW", shadow)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written")).expect("json");
    let _ = std::fs::remove_file(&json);
    (stdout, report)
}

#[test]
fn a_shadow_testnet_converges_with_every_invariant_and_the_link_model_applied() {
    let Some(shadow) = shadow() else { return };
    let (stdout, report) = run_shadow(&shadow, &[EXAMPLE], "report.json");
    assert!(stdout.contains("12 nodes (shadow)"), "{stdout}");
    assert_eq!(report["mode"], "shadow");
    assert_eq!(report["converged"], true);
    assert_eq!(report["head_slot"], 24, "{stdout}");
    for inv in report["invariants"].as_array().expect("invariants") {
        assert_eq!(inv["ok"], true, "{inv}");
    }
    // Every node ran the real binary and ended on the producer's chain.
    let nodes = report["node_reports"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 12);
    assert!(nodes.iter().all(|n| n["head_slot"] == 24), "{stdout}");
    // The restarted node reopened its store; the joiner caught up.
    let restart = &report["invariants"]
        .as_array()
        .expect("invariants")
        .iter()
        .find(|i| i["name"] == "restart_consistent")
        .expect("restart_consistent")["evidence"];
    assert!(restart.to_string().contains("node 6 reopened"), "{restart}");
    for c in report["catch_ups"].as_array().expect("catch-ups") {
        assert!(c["catch_up_ms"].as_f64().is_some(), "{c}");
    }
    // Simulated time: nothing beats the links. Blocks reach nodes no sooner than the
    // shortest-path latency from the producer (10 ms inside Europe, 80 ms to America).
    let per_node = &report["blocks"]["per_node"];
    let floor = &report["block_latency_floor"];
    assert!(
        per_node["count"].as_u64().expect("count") >= 200,
        "{stdout}"
    );
    let min = report["block_latency_samples_ms"]
        .as_array()
        .expect("samples")
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .fold(f64::INFINITY, f64::min);
    assert!(min >= 10.0, "fastest delivery {min} ms");
    let (p50, floor50) = (
        per_node["p50_ms"].as_f64().expect("p50"),
        floor["p50_ms"].as_f64().expect("floor"),
    );
    assert!(p50 >= floor50, "p50 {p50} ms below the floor {floor50} ms");
    assert!(floor["max_ms"].as_f64().expect("max") >= 80.0, "{floor}");
}

#[test]
fn export_writes_shadows_files_and_what_shadow_cannot_express_exits_2() {
    let dir = tmp("export");
    let out = Command::new(BIN)
        .args(["testnet", EXAMPLE, "--export", "shadow"])
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let yaml = std::fs::read_to_string(dir.join("shadow.yaml")).expect("shadow.yaml");
    let gml = std::fs::read_to_string(dir.join("network.gml")).expect("network.gml");
    assert!(yaml.contains("  node11:\n") && yaml.contains(BIN), "{yaml}");
    assert_eq!(gml.matches("  node [").count(), 12);
    std::fs::remove_dir_all(&dir).expect("removed");

    let file = tmp("cut.toml");
    std::fs::write(
        &file,
        "nodes = 3\n[topology]\nkind = \"line\"\n[[event]]\nat_slot = 2\naction = \"cut\"\nlink = [0, 1]\n",
    )
    .expect("written");
    let out = Command::new(BIN)
        .args(["testnet", "--export", "shadow"])
        .arg(tmp("never"))
        .arg(&file)
        .output()
        .expect("runs");
    let _ = std::fs::remove_file(&file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("event 0 (`cut` at slot 2)"), "{stderr}");
    assert!(!tmp("never").exists());
}

#[test]
fn sites_run_several_nodes_per_simulated_host_and_converge() {
    let Some(shadow) = shadow() else { return };
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/testnets/shadow_sites.toml"
    );
    let (stdout, report) = run_shadow(&shadow, &[file, "--site-size", "4"], "sites.json");
    assert_eq!(report["converged"], true, "{stdout}");
    let nodes = report["node_reports"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 40);
    assert!(nodes.iter().all(|n| n["head_slot"] == 16), "{stdout}");
    // Nodes sharing a site still see the link model: no block beats its shortest path.
    let p50 = report["blocks"]["per_node"]["p50_ms"]
        .as_f64()
        .expect("p50");
    let floor = report["block_latency_floor"]["p50_ms"]
        .as_f64()
        .expect("floor");
    assert!(p50 >= floor, "p50 {p50} ms below the floor {floor} ms");
    assert_eq!(report["blocks"]["objects"], report["blocks"]["reached_all"]);
}
