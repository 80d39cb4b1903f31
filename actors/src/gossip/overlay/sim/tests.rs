//! The simulation at a small scale (30 nodes), checking what must hold whatever the figures:
//! determinism, full delivery in every scenario, repair within two slots after a kill, flood nodes
//! served by push alone, no penalty between honest nodes, fewer duplicates than flood.

use super::*;

fn small(design: Design, scenario: Scenario) -> SimConfig {
    SimConfig {
        seed: 7,
        nodes: 30,
        degree: 6,
        slots: 6,
        design,
        scenario,
        ..SimConfig::default()
    }
}

fn overlay() -> Design {
    Design::Overlay(OverlayConfig::default())
}

fn report(config: SimConfig) -> SimReport {
    run(config).expect("valid configuration")
}

#[test]
fn same_seed_same_figures() {
    let a = report(small(overlay(), Scenario::Steady));
    let b = report(small(overlay(), Scenario::Steady));
    assert_eq!(a, b);
    let c = report(SimConfig {
        seed: 8,
        ..small(overlay(), Scenario::Steady)
    });
    assert_ne!(a, c, "another seed, another network");
}

#[test]
fn the_overlay_delivers_everything_with_fewer_duplicates_than_flood() {
    let flood = report(small(Design::Flood, Scenario::Steady));
    let tree = report(small(overlay(), Scenario::Steady));
    assert_eq!(flood.all.delivery_ratio(), 1.0);
    assert_eq!(tree.all.delivery_ratio(), 1.0);
    assert_eq!(flood.control_frames_total(), 0);
    assert!(tree.steady.duplicates_per_node() < flood.steady.duplicates_per_node() / 4.0);
    assert!(tree.object_bytes < flood.object_bytes);
    assert_eq!(tree.penalties, 0);
}

#[test]
fn every_survivor_gets_every_later_object_after_a_kill() {
    let slot = SimConfig::default().slot;
    let at = slot * 3 + slot / 2;
    let r = report(small(overlay(), Scenario::Kill { at, percent: 10 }));
    let after = r.after.as_ref().expect("a disruption");
    assert!(after.objects > 0);
    assert_eq!(after.delivery_ratio(), 1.0);
    let repaired = r.repaired_within.expect("a disruption");
    assert!(repaired <= 2 * slot, "repaired within {repaired:?}");
}

#[test]
fn a_partition_heals() {
    let slot = SimConfig::default().slot;
    let scenario = Scenario::Partition {
        at: slot * 2 + slot / 2,
        heal: slot * 4 + slot / 2,
    };
    let r = report(small(overlay(), scenario));
    let after = r.after.as_ref().expect("a disruption");
    assert!(after.objects > 0);
    assert_eq!(after.delivery_ratio(), 1.0);
    assert_eq!(
        r.all.delivery_ratio(),
        1.0,
        "nothing expected across the cut while it lasted"
    );
    assert_eq!(r.penalties, 0);
}

#[test]
fn flood_nodes_in_the_mix_get_everything_pushed_and_are_relayed() {
    let r = report(SimConfig {
        flood_nodes: 10,
        ..small(overlay(), Scenario::Steady)
    });
    assert_eq!(r.all.delivery_ratio(), 1.0, "their objects reach everyone");
    let at_flood = r.at_flood_nodes.as_ref().expect("flood nodes");
    assert_eq!(at_flood.delivery_ratio(), 1.0);
    assert_eq!(at_flood.pulled, 0, "flood nodes never pull");
    assert_eq!(r.penalties, 0);
}

#[test]
fn the_mesh_model_delivers_too() {
    let r = report(small(
        Design::Mesh(mesh::MeshConfig::gossipsub(4)),
        Scenario::Steady,
    ));
    assert_eq!(r.steady.delivery_ratio(), 1.0);
    assert!(r.control_frames_total() > 0);
}
