//! In-process testnets over 127.0.0.1: five nodes with a late joiner and a kill / restart converge
//! on one head and finalized checkpoint, blocks and attestations reach every node by gossip, and
//! the catch-ups are measured; a cut link splits a line until it heals; a node started from a
//! snapshot catches up; the link proxies delay frames by the link model's latency. Each run is a
//! few seconds.

use std::time::Duration;

use hobbits_testnet::{run_testnet, Action, RunOptions, ScenarioEvent, TestnetSpec, Topology};

fn ev(at_slot: u64, action: Action) -> ScenarioEvent {
    ScenarioEvent { at_slot, action }
}

fn spec(nodes: usize, topology: Topology, slots: u64, events: Vec<ScenarioEvent>) -> TestnetSpec {
    TestnetSpec {
        nodes,
        topology,
        seed: 3,
        producers: vec![0],
        slot: Duration::from_millis(100),
        slots,
        settle: Duration::from_secs(5),
        events,
        ..TestnetSpec::default_for(nodes)
    }
}

#[actix_rt::test]
async fn five_nodes_with_a_late_joiner_and_a_restart_converge() -> anyhow::Result<()> {
    let s = spec(
        5,
        Topology::Random { degree: 2 },
        24,
        vec![
            ev(6, Action::Join { node: 4 }),
            ev(8, Action::Kill { node: 2 }),
            ev(14, Action::Restart { node: 2 }),
        ],
    );
    let r = run_testnet(&s, &RunOptions::default()).await?;
    println!("{}", r.render());
    assert!(r.converged, "{}", r.render());
    assert_eq!(r.exit_code(), 0);
    let head = r.head_slot.expect("common head");
    assert!(head >= 20, "head {head}");
    assert!(r
        .node_reports
        .iter()
        .all(|n| n.running && n.head_slot == Some(head)));
    // Every block produced while nobody was down reached all running nodes by gossip.
    assert!(r.blocks.objects >= 20 && r.blocks.reached_all >= r.blocks.objects / 2);
    assert!(r.blocks.to_all_nodes.p50_ms.is_some());
    assert!(r.attestations.objects > 0, "attestations gossiped");
    // The joiner and the restarted node caught up, and their catch-up was timed.
    assert_eq!(r.catch_ups.len(), 2);
    for c in &r.catch_ups {
        assert!(c.catch_up_ms.is_some(), "{c:?}");
    }
    assert!(r.events.iter().all(|e| e.error.is_none()), "{:?}", r.events);
    // Relays happened and duplicates were seen and dropped by the nodes themselves.
    let relayed: u64 = r.node_reports.iter().map(|n| n.gossip_relayed).sum();
    assert!(relayed > 0);
    let dedup: u64 = r
        .node_reports
        .iter()
        .filter_map(|n| n.node_stats.map(|s| s.duplicates))
        .sum();
    assert!(dedup > 0);
    Ok(())
}

#[actix_rt::test]
async fn a_cut_line_diverges_then_heals_and_a_snapshot_joiner_catches_up() -> anyhow::Result<()> {
    // 0 - 1 - 2 - 3: cutting 1-2 leaves 2 and 3 behind until it heals; node 4 (linked to 0 by
    // explicit edges) starts from a snapshot of node 0.
    let s = spec(
        5,
        Topology::Edges(vec![(0, 1), (1, 2), (2, 3), (0, 4)]),
        24,
        vec![
            ev(4, Action::CutLink { a: 1, b: 2 }),
            ev(10, Action::SnapshotJoin { node: 4, from: 0 }),
            ev(12, Action::HealLink { a: 2, b: 1 }),
        ],
    );
    let r = run_testnet(&s, &RunOptions::default()).await?;
    println!("{}", r.render());
    assert!(r.converged, "{}", r.render());
    // While cut, node 3 fell behind node 0 by several slots (seen in the timeline).
    let max_gap = r
        .timeline
        .iter()
        .filter_map(|h| Some(h.slots[0]?.saturating_sub(h.slots[3]?)))
        .max()
        .unwrap_or(0);
    assert!(max_gap >= 4, "gap while cut: {max_gap}");
    let snap = r
        .catch_ups
        .iter()
        .find(|c| c.node == 4)
        .expect("snapshot joiner");
    assert_eq!(snap.how, "snapshot_join");
    assert!(snap.catch_up_ms.is_some());
    Ok(())
}

#[actix_rt::test]
async fn proxies_apply_the_link_model_latency_in_user_space() -> anyhow::Result<()> {
    // A line of three with 40 ms links: the producer's neighbour gets each block one link later,
    // the far node two links later (plus the relaying node's work).
    let mut s = spec(3, Topology::Line, 16, vec![]);
    s.slot = Duration::from_millis(200);
    s.network =
        TestnetSpec::from_toml("nodes = 3\n[network]\nlatency_ms = 40\njitter_ms = 2")?.network;
    let report = run_testnet(&s, &RunOptions::default()).await?;
    assert!(report.converged, "{}", report.render());
    let p50 = report.blocks.per_node.p50_ms.unwrap_or(0.0);
    let max = report.blocks.per_node.max_ms.unwrap_or(0.0);
    assert!(
        (38.0..70.0).contains(&p50),
        "p50 {p50} ms: {}",
        report.render()
    );
    assert!(
        max >= 76.0,
        "the far node is two 40 ms links away: max {max} ms"
    );
    let floor = report.block_latency_floor.expect("a floor with latencies");
    assert_eq!((floor.p50_ms, floor.max_ms), (Some(40.0), Some(80.0)));
    Ok(())
}
