//! The gossip overlay's design figures (docs/PROTOCOL.md, "Gossip overlay"): the deterministic
//! simulation of `hobbits_actors::gossip::overlay::sim` on the issue's network — 100 nodes, random
//! links (at least 8 per node), 50 ms per link, 6 s slots, 4 producers and one attestation per node
//! per block, 20 slots — for plain flood, the overlay (Plumtree-style trees, one per origin, or
//! one for all) and a gossipsub-style mesh (D = 6 and D = 3), in four scenarios: steady, 10% of the
//! nodes killed at once mid-run, a partition that heals, and 20 flood (2019) nodes in the mix
//! (there also with the 2019 nodes' objects on one shared tree instead of flooded).
//! Every figure is compared with flood in the same network and scenario; then, slot by slot, the
//! overlay around each disruption. Runs in about 30 s (21 runs)
//! in release and ends by itself; same seed, same table.
//!
//! ```sh
//! cargo run --release --example overlay_sim            # seed 1
//! cargo run --release --example overlay_sim -- 2       # another seed
//! cargo run --release --example overlay_sim -- 1 250   # the testnet's 250 ms slots
//! ```
//!
//! Columns: `delivery` (objects delivered over expected; after the disruption when there is
//! one), `dup/n` duplicates per receiving node per object (every object), `dup/n*` the same after
//! the 2 warm-up slots, `ctl fr/o` and `ctl B/o` control frames and bytes per object (whole
//! network), `p50*` and `p99*` propagation (ms) after the warm-up, `p99/fl` that p99 over flood's,
//! `p99aft/fl` the p99 of the objects after the disruption over flood's, `ovh` control bytes over
//! the object bytes saved against flood, `repair` how many slots after the disruption's own were
//! still slowed (a slot's p99 above 1.25x flood's) or incomplete, `lastpull` how long after the
//! disruption an object still needed a pull.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use hobbits_actors::gossip::overlay::sim::mesh::MeshConfig;
use hobbits_actors::gossip::overlay::sim::report::{table, Comparison, SimReport};
use hobbits_actors::gossip::overlay::sim::{run, Design, Scenario, SimConfig};
use hobbits_actors::gossip::overlay::OverlayConfig;

fn main() -> ExitCode {
    let arg = |i: usize, default: u64| match std::env::args().nth(i).map(|s| s.parse::<u64>()) {
        None => Ok(default),
        Some(Ok(n)) if n > 0 => Ok(n),
        Some(_) => Err(()),
    };
    let (Ok(seed), Ok(slot_ms)) = (arg(1, 1), arg(2, 6000)) else {
        eprintln!("usage: overlay_sim [SEED [SLOT_MS]] (positive integers)");
        return ExitCode::from(2);
    };
    let base = SimConfig {
        seed,
        slot: Duration::from_millis(slot_ms),
        ..SimConfig::default()
    };
    let slot = base.slot;
    println!(
        "{} nodes, >= {} links each, {} ms links, {} ms slots x {}, {} producers, frames: block {} B, attestation {} B, seed {}",
        base.nodes,
        base.degree,
        base.link_latency.as_millis(),
        slot.as_millis(),
        base.slots,
        base.producers,
        base.block_frame_len,
        base.attestation_frame_len,
        seed
    );
    let scenarios = [
        ("steady", Scenario::Steady, 0),
        (
            "kill",
            Scenario::Kill {
                at: slot * 10 + slot / 2,
                percent: 10,
            },
            0,
        ),
        (
            "partition",
            Scenario::Partition {
                at: slot * 8 + slot / 2,
                heal: slot * 12 + slot / 2,
            },
            0,
        ),
        ("mixed", Scenario::Steady, 20),
    ];
    let designs = [
        Design::Overlay(OverlayConfig::default()),
        Design::Overlay(OverlayConfig {
            tree_per_origin: false,
            ..OverlayConfig::default()
        }),
        Design::Mesh(MeshConfig::gossipsub(6)),
        Design::Mesh(MeshConfig::gossipsub(3)),
    ];
    let started = Instant::now();
    let mut rows: Vec<(SimReport, Option<Comparison>)> = Vec::new();
    for (label, scenario, flood_nodes) in scenarios {
        let config = |design| SimConfig {
            design,
            scenario: scenario.clone(),
            flood_nodes,
            ..base.clone()
        };
        let flood = match run(config(Design::Flood)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{label}: {e}");
                return ExitCode::FAILURE;
            }
        };
        rows.push((flood.clone(), None));
        let mut designs = designs.to_vec();
        if flood_nodes > 0 {
            // Objects of the 2019 nodes (no origin) on one shared tree instead of flooded.
            designs.insert(
                1,
                Design::Overlay(OverlayConfig {
                    flood_without_origin: false,
                    ..OverlayConfig::default()
                }),
            );
        }
        for design in &designs {
            match run(config(design.clone())) {
                Ok(mut r) => {
                    let cmp = r.compare(&flood);
                    if flood_nodes > 0 {
                        r.scenario = format!("mixed {flood_nodes} flood");
                    }
                    rows.push((r, Some(cmp)));
                }
                Err(e) => {
                    eprintln!("{label}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    print!("{}", table(&rows));
    for (r, _) in rows.iter().filter(|(r, _)| r.at_flood_nodes.is_some()) {
        if let Some(s) = &r.at_flood_nodes {
            println!(
                "{:<26} at the flood nodes: delivery {:.4}, pulled {}, p99 {} ms",
                r.design,
                s.delivery_ratio(),
                s.pulled,
                s.p99.as_millis()
            );
        }
    }
    // Slot by slot around each disruption, for the overlay (the first design after flood).
    for pair in rows.windows(2) {
        let [(flood, None), (r, Some(_))] = pair else {
            continue;
        };
        let Some(first) = r.disruption_slot else {
            continue;
        };
        let from = first.saturating_sub(4) as usize;
        let line: Vec<String> = (from..r.slots.len())
            .map(|s| {
                let (mine, theirs) = (r.slots[s], flood.slots[s]);
                format!(
                    "{s}:{}/{}ms{}",
                    mine.p99.as_millis(),
                    theirs.p99.as_millis(),
                    if mine.pulled > 0 {
                        format!(" {}p", mine.pulled)
                    } else {
                        String::new()
                    }
                )
            })
            .collect();
        println!(
            "{} {} (disruption in slot {first}), slot:p99/flood p99, pulls: {}",
            r.design,
            r.scenario,
            line.join("  ")
        );
    }
    println!(
        "{} runs in {:.1} s",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
