//! End to end on loopback (issue 16): a mixed flood/overlay testnet of 8 `run` processes
//! (`gossip_overlay` table: two flood nodes) is split in two halves and healed. Both sides
//! converge after the heal, the overlay repairs (every later block reaches every node by gossip),
//! and the report's gossip figures are there: duplicates, delivery ratio, control frames and
//! bytes by verb, gossip bytes, per-node traffic (none of it control on the flood nodes).

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hobbits-node");

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("hobbits-cli-overlay-{}-{name}", std::process::id()))
}

const TESTNET: &str = r#"
nodes = 8
seed = 3
producers = [0]
slot_ms = 300
slots = 20
settle_ms = 8000

[topology]
kind = "random"
degree = 3

[gossip_overlay]
default = true
flood = [3, 6]

[[event]]
at_slot = 5
action = "partition"
groups = { west = [0, 1, 2, 3] }

[[event]]
at_slot = 9
action = "heal_partition"
"#;

#[test]
fn a_mixed_testnet_heals_a_partition_and_reports_its_gossip_figures() {
    let file = tmp("mixed.toml");
    let json = tmp("mixed.json");
    std::fs::write(&file, TESTNET).expect("write the testnet file");
    let out = Command::new(BIN)
        .arg("testnet")
        .arg(&file)
        .args(["--processes", "--quiet", "--json"])
        .arg(&json)
        .output()
        .expect("run hobbits-node testnet");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("CONVERGED"), "{stdout}");
    assert!(
        stdout.contains("gossip figures (6 overlay nodes)"),
        "{stdout}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written")).expect("json");
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&json);

    let g = &r["gossip"];
    assert_eq!(g["overlay_nodes"], 6, "{g}");
    assert!(g["duplicates_per_node_per_object"].is_number(), "{g}");
    assert!(g["delivery_ratio"].is_number(), "{g}");
    assert!(g["block_p99_ms"].is_number(), "{g}");
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let verbs: Vec<u64> = g["control_frames_by_verb"]
        .as_array()
        .expect("by verb")
        .iter()
        .map(n)
        .collect();
    assert!(verbs[0] > 0 && verbs[2] > 0, "PRUNE and IHAVE sent: {g}");
    assert!(n(&g["control_bytes"]) > 0, "{g}");
    assert!(n(&g["gossip_bytes"]) > n(&g["control_bytes"]), "{g}");
    assert_eq!(
        n(&g["object_bytes"]) + n(&g["control_bytes"]),
        n(&g["gossip_bytes"])
    );
    assert!(g["control_bytes_per_object"].as_f64().unwrap_or(0.0) > 0.0);

    // Flood nodes send no control frame; overlay nodes do; every node counted its bytes.
    for node in r["node_reports"].as_array().expect("nodes") {
        let i = n(&node["index"]);
        let t = &node["traffic"];
        assert!(n(&t["bytes_sent"]) > 0, "node {i}: {t}");
        let control: u64 = t["control_frames_sent"]
            .as_array()
            .expect("by verb")
            .iter()
            .map(n)
            .sum();
        if i == 3 || i == 6 {
            assert_eq!(control, 0, "flood node {i}: {t}");
        }
    }
    let overlay_control: u64 = r["node_reports"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|node| ![3, 6].contains(&n(&node["index"])))
        .map(|node| n(&node["traffic"]["control_frames_sent"][2]))
        .sum();
    assert!(overlay_control > 0, "overlay nodes announced");

    // The partition cut the east side off; after the heal every block reaches every node by
    // gossip again (the last four slots: the redials' backoff takes about a second).
    let slots = r["block_slots"].as_array().expect("block slots");
    let missed = |s: &serde_json::Value| n(&s["missed"]);
    assert!(
        slots
            .iter()
            .any(|s| (6..9).contains(&n(&s["slot"])) && missed(s) > 0),
        "the partition cut blocks off: {slots:?}"
    );
    let last: Vec<&serde_json::Value> = slots.iter().filter(|s| n(&s["slot"]) >= 17).collect();
    assert!(last.len() >= 3, "{slots:?}");
    for s in last {
        assert_eq!(missed(s), 0, "after the heal: {s}");
        assert_eq!(n(&s["received"]), 7, "after the heal: {s}");
    }
}
