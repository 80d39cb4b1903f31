//! hobbits-testnet: the network laboratory on top of the node. Many nodes linked in a chosen
//! topology, one or more producers, a scenario of timed events (late joins, kills and restarts,
//! cut and healed links, starts from a snapshot), and a report on convergence, propagation
//! latency, gossip counters and catch-up.
//! Used by `hobbits-node testnet`, the tests and `examples/custom_testnet.rs`.
//!
//! - [`spec`]: [`TestnetSpec`], [`Topology`], [`ScenarioEvent`], the TOML file and validation;
//! - [`network`]: the link model (latency, jitter, loss, bandwidth, node classes);
//! - [`topology`]: link generation (line, ring, star, seeded random, explicit) and connectivity;
//! - [`fabric`]: the links between nodes: proxies, or the kernel between namespaces;
//! - [`link`]: one TCP proxy per link (cut / heal, wire observation);
//! - [`shaper`]: the link model in user space, for proxied links;
//! - [`wire`]: what the proxies saw, turned into counters and latencies;
//! - [`attester`]: a vote per live head change, so attestations propagate too;
//! - [`engine`]: how nodes run: in-process ([`engine::in_process`]) or one OS process per node
//!   ([`engine::processes`]);
//! - [`run`]: the driver ([`run_testnet`]);
//! - [`export`]: the testnet as Kubernetes objects or a Compose file;
//! - [`report`] and [`svg`]: the report, its text, JSON (serde) and SVG forms;
//! - [`gossip_figures`]: the gossip overlay's figures from the event logs, and flood vs overlay.
//! - [`gossip_summary`]: the records of those figures the report carries (a run's, a block's).
//!
//! ```no_run
//! # async fn demo() -> Result<(), hobbits_testnet::TestnetError> {
//! use hobbits_testnet::{run_testnet, RunOptions, TestnetSpec};
//! let spec = TestnetSpec::default_for(5);
//! let report = run_testnet(&spec, &RunOptions::default()).await?;
//! println!("{}", report.render());
//! # Ok(()) }
//! ```

#![warn(missing_docs, unreachable_pub)]

pub mod attester;
pub mod engine;
pub mod eventlog;
pub mod export;
pub mod fabric;
pub mod gossip_figures;
pub mod gossip_summary;
pub mod invariants;
pub mod link;
pub mod link_codec;
pub mod logreport;
pub mod network;
pub mod node_log;
pub mod observe;
pub mod report;
pub mod run;
pub mod shaper;
pub mod spec;
pub mod svg;
pub mod topology;
pub mod wire;

pub use engine::Mode;
pub use report::{LatencySummary, Propagation, TestnetReport};
pub use run::{run_testnet, RunOptions};
pub use spec::{Action, EngineName, ScenarioEvent, SpecError, SpecOverrides, TestnetSpec};
pub use topology::{Topology, TopologyError};

/// Why a testnet could not run (a refused description is [`SpecError`]).
#[derive(Debug, thiserror::Error)]
pub enum TestnetError {
    /// The description is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A feature this mode cannot provide.
    #[error("not supported: {what}")]
    Unsupported {
        /// What was asked.
        what: String,
    },
    /// A node did not start.
    #[error("node {node} did not start: {reason}")]
    NodeStart {
        /// The node index.
        node: usize,
        /// Why.
        reason: String,
    },
    /// A local socket or file operation failed.
    #[error("{what}: {reason}")]
    Io {
        /// The operation.
        what: String,
        /// The error.
        reason: String,
    },
}
