//! Tests of the gossip figures on crafted event logs.

use super::*;
use crate::eventlog::LogLine;
use crate::report::{EventRecord, NodeReport};

fn line(t_us: u64, event: NodeEvent) -> LogLine {
    LogLine { t_us, event }
}

fn started(t: u64) -> LogLine {
    line(
        t,
        NodeEvent::Started {
            node_id: "1".into(),
            listen: "x".into(),
            genesis_root: "0xg".into(),
            head_slot: 0,
            head_root: "0xg".into(),
            finalized_epoch: 0,
            finalized_root: "0xg".into(),
            from_store: false,
        },
    )
}

fn traffic(t: u64, bytes_sent: u64, control_bytes: u64, repaired: u64) -> LogLine {
    line(
        t,
        NodeEvent::GossipTraffic(GossipTraffic {
            bytes_sent,
            control_frames_sent: [1, 0, 1, 0],
            control_bytes_sent: [control_bytes, 0, 0, 0],
            repaired,
            ..Default::default()
        }),
    )
}

fn produced(t: u64, hash: &str, slot: u64) -> LogLine {
    line(
        t,
        NodeEvent::Produced {
            root: format!("r{hash}"),
            hash: hash.into(),
            slot,
        },
    )
}

fn received(t: u64, hash: &str) -> LogLine {
    line(
        t,
        NodeEvent::BlockReceived {
            hash: hash.into(),
            from: "p".into(),
            duplicate: false,
        },
    )
}

fn log(lines: Vec<LogLine>) -> NodeLog {
    NodeLog { lines, skipped: 0 }
}

#[test]
fn a_nodes_traffic_sums_the_last_line_of_each_process() {
    let l = log(vec![
        started(0),
        traffic(1, 100, 10, 1),
        traffic(2, 300, 30, 2),
        // Restarted: counters from zero again.
        started(3),
        traffic(4, 50, 5, 1),
    ]);
    let t = node_traffic(&l).expect("has traffic");
    assert_eq!((t.bytes_sent, t.control_bytes(), t.repaired), (350, 35, 3));
    assert_eq!(t.control_frames(), 4);
    assert_eq!(node_traffic(&log(vec![started(0)])), None);
}

#[test]
fn blocks_by_slot_with_their_misses_and_pulls() {
    let logs = vec![
        log(vec![
            started(0),
            produced(1_000_000, "b1", 1),
            produced(2_000_000, "b2", 2),
        ]),
        log(vec![
            started(0),
            received(1_010_000, "b1"),
            traffic(1_500_000, 10, 0, 0),
            received(2_300_000, "b2"),
            // Two pulls counted in a line during slot 2.
            traffic(2_400_000, 20, 0, 2),
        ]),
        log(vec![started(0), received(1_030_000, "b1")]),
    ];
    let slots = block_slots(&logs, &[]);
    assert_eq!(slots.len(), 2);
    assert_eq!(
        (slots[0].slot, slots[0].received, slots[0].missed),
        (1, 2, 0)
    );
    assert_eq!((slots[0].p50_ms, slots[0].p99_ms), (Some(10.0), Some(30.0)));
    assert_eq!(slots[0].pulls, 0);
    assert_eq!(
        (slots[1].slot, slots[1].received, slots[1].missed),
        (2, 1, 1)
    );
    assert_eq!(slots[1].p99_ms, Some(300.0));
    assert_eq!(slots[1].pulls, 2);
}

/// A report of `nodes` running nodes with these per-slot blocks and total traffic.
fn run(
    dup: u64,
    object_bytes: u64,
    control_bytes: u64,
    p99: &[(u64, f64, usize)],
) -> TestnetReport {
    let node = |traffic| NodeReport {
        running: true,
        gossip_duplicates: dup,
        traffic: Some(traffic),
        ..Default::default()
    };
    let t = GossipTraffic {
        bytes_sent: object_bytes + control_bytes,
        control_bytes_sent: [control_bytes, 0, 0, 0],
        control_frames_sent: [2, 0, 0, 0],
        ..Default::default()
    };
    let mut r = TestnetReport {
        nodes: 2,
        seed: 5,
        slots: 10,
        node_reports: vec![node(t), node(GossipTraffic::default())],
        events: ["node 1 killed", "node 0 joins", "node 2 killed"]
            .iter()
            .map(|what| EventRecord {
                t_ms: 0.0,
                at_slot: 4,
                what: what.to_string(),
                error: None,
            })
            .collect(),
        block_slots: p99
            .iter()
            .map(|&(slot, ms, missed)| SlotPropagation {
                slot,
                received: 1,
                missed,
                p50_ms: Some(ms),
                p99_ms: Some(ms),
                pulls: u64::from(missed > 0 || ms > 200.0),
            })
            .collect(),
        ..Default::default()
    };
    r.blocks.objects = 4;
    r.blocks.reached_all = 4;
    r.blocks.per_node = crate::report::LatencySummary::of(&[100.0, p99[p99.len() - 1].1]);
    r.gossip = Some(GossipSummary::of(&r, 1));
    r
}

#[test]
fn the_comparison_gives_the_issues_ratios_and_the_repair_time() {
    let flood = run(
        12,
        10_000,
        0,
        &[(3, 150.0, 0), (4, 150.0, 0), (5, 150.0, 0), (6, 150.0, 0)],
    );
    let overlay = run(
        2,
        4_000,
        600,
        &[(3, 150.0, 0), (4, 400.0, 1), (5, 300.0, 0), (6, 160.0, 0)],
    );
    let g = overlay.gossip.as_ref().expect("figures");
    assert_eq!(
        (g.gossip_bytes, g.object_bytes, g.control_bytes),
        (4_600, 4_000, 600)
    );
    assert_eq!(g.control_frames_per_object, Some(0.5));
    assert_eq!(g.duplicates_per_node_per_object, Some(0.5));
    let c = GossipComparison::of(&flood, &overlay).expect("comparable");
    assert_eq!(c.duplicates_ratio, Some(2.0 / 12.0));
    assert_eq!(c.bytes_saved, 6_000);
    assert_eq!(c.control_overhead, Some(0.1));
    assert_eq!(c.p99_ratio, Some(160.0 / 150.0));
    assert!(c.mismatch.is_empty());
    // Slot 4 missed a node, slot 5 was 2x flood, slot 6 within 1.25x: repaired 2 slots after.
    assert_eq!(c.repairs.len(), 1, "two kills in one slot, one row");
    assert_eq!(c.repairs[0].event, "node 1 killed (and 1 more)");
    assert_eq!(c.repairs[0].slots, Some(2));
    assert_eq!(c.repairs[0].pulls, 2);
    let text = c.render().join("\n");
    assert!(
        text.contains("control overhead 10.0% of the 6000 object bytes saved"),
        "{text}"
    );
    assert!(text.contains("repaired 2 slot(s) later"), "{text}");
    // Never repaired within the run.
    let broken = run(2, 4_000, 600, &[(4, 400.0, 1), (5, 150.0, 1)]);
    let c = GossipComparison::of(&flood, &broken).expect("comparable");
    assert_eq!(c.repairs[0].slots, None);
}

#[test]
fn a_saved_report_reads_back_for_comparison() {
    let flood = run(12, 10_000, 0, &[(3, 150.0, 0)]);
    let json = serde_json::to_value(&flood).expect("serialises");
    let back = read_saved(&json).expect("reads");
    assert_eq!(back.gossip, flood.gossip);
    assert_eq!(back.block_slots, flood.block_slots);
    assert_eq!((back.nodes, back.seed, back.slots), (2, 5, 10));
    let mut other = flood.clone();
    other.seed = 6;
    let c = GossipComparison::of(&back, &other).expect("comparable");
    assert_eq!(c.mismatch, vec!["seed differ".to_string()]);
    assert!(read_saved(&serde_json::json!({"nodes": 2})).is_err());
}
