//! Builds a testnet from code instead of a file: six nodes in a ring with two chords, two
//! producers, a late joiner, a node killed and restarted, and a link cut and healed; runs it
//! in-process on 127.0.0.1 and prints the report (convergence, propagation latency, gossip
//! counters, catch-up times).
//!
//! ```sh
//! cargo run --example custom_testnet
//! ```

use std::time::Duration;

use hobbits_testnet::{run_testnet, Action, RunOptions, ScenarioEvent, TestnetSpec, Topology};

fn main() -> anyhow::Result<()> {
    let at = |at_slot, action| ScenarioEvent { at_slot, action };
    let spec = TestnetSpec {
        nodes: 6,
        topology: Topology::Edges(vec![
            (0, 1),
            (1, 2),
            (2, 3),
            (3, 4),
            (4, 5),
            (5, 0),
            (0, 3),
            (1, 4),
        ]),
        seed: 2019,
        producers: vec![0, 3],
        slot: Duration::from_millis(150),
        slots: 24,
        settle: Duration::from_secs(4),
        events: vec![
            at(4, Action::Join { node: 5 }),
            at(6, Action::CutLink { a: 0, b: 1 }),
            at(8, Action::Kill { node: 2 }),
            at(12, Action::HealLink { a: 0, b: 1 }),
            at(14, Action::Restart { node: 2 }),
        ],
        ..TestnetSpec::default_for(6)
    };
    // Validation errors name the problem (a bad node index, a heal of a link never cut...).
    spec.validate()?;
    let system = actix_rt::System::new();
    let report = system.block_on(run_testnet(&spec, &RunOptions::default()))?;
    print!("{}", report.render());
    if !report.converged {
        anyhow::bail!("the testnet did not converge");
    }
    Ok(())
}
