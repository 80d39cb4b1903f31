//! What a testnet is: [`TestnetSpec`] (nodes, [`Topology`], producers, slot time, duration, settle
//! time, seed) and its scenario of timed [`ScenarioEvent`]s; reading it from a TOML file, flag
//! overrides ([`SpecOverrides`]) and validation with a typed [`SpecError`]. Plain data, no I/O
//! beyond reading the file. Handles no messages.
//!
//! File keys (all optional, defaults as in [`TestnetSpec::default_for`]):
//! `nodes`, `seed`, `producers` (node indices), `slot_ms`, `slots`, `settle_ms`,
//! `[topology]` with `kind` = `line` | `ring` | `star` | `random` (with `degree`) | `edges` (with
//! `edges = [[0, 1], ...]`), and `[[event]]` tables with `at_slot`, `action` = `join` | `kill` |
//! `restart` | `cut` | `heal` | `snapshot_join`, and `node` (join, kill, restart, snapshot_join),
//! `link = [a, b]` (cut, heal), `from` (snapshot_join: the node whose store is snapshotted).
//! Faults for process engines: `freeze` / `thaw` (`node`: SIGSTOP / SIGCONT), `partition`
//! (`groups = { name = [nodes], ... }`: links between groups cut; unlisted nodes form one more
//! group) and `heal_partition`, `loss` (`link`, `loss` fraction, both directions), `bandwidth`
//! (`node`, `up_mbit`, `down_mbit`; absent = unlimited), `clock_skew` (`node`, `skew_ms`).
//! `gossip_overlay = true | false`, or `[gossip_overlay]` with `default`, `overlay = [nodes]`,
//! `flood = [nodes]` ([`GossipOverlay`]: which nodes run `--gossip-overlay`).
//! `attest = true | false`: whether the nodes attest (one attestation per head change; default:
//! on, except Shadow past 64 nodes, [`TestnetSpec::attests`]).
//! `engine = "in-process" | "processes" | "netns"`. `persistent = [nodes]`: those nodes keep their chain in a data directory, so a `restart`
//! after a `kill` reopens their store. `[network]`: the link model ([`crate::network`]).
//! `dialect` = `hobbits` | `eth` | `both` (every node's wire, default `hobbits`) and `[[node]]`
//! tables with `index` and `dialect` for the nodes that differ (`dialect.rs`).
//!
//! This file owns the types and overrides; `validate.rs` checks a spec against its own timeline,
//! `file.rs` reads the TOML shape.

mod dialect;
mod file;
#[cfg(test)]
mod tests;
mod validate;

pub use dialect::{link_wire, Dialect, Dialects, Wire};

use crate::network::{Loss, NetworkError, NetworkSpec};
use crate::topology::{Topology, TopologyError};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use file::parse_file;

/// Most nodes in one testnet file: the Shadow engine's reach (sites of simulated hosts); the
/// engines on this machine refuse more than `engine::MAX_LOCAL_NODES`.
pub const MAX_NODES: usize = 20_000;
/// Most slots in one run.
pub const MAX_SLOTS: u64 = 100_000;
/// Shortest slot accepted (the node's own floor is 10 ms).
pub const MIN_SLOT_MS: u64 = 10;
/// Most scenario events.
pub const MAX_EVENTS: usize = 10_000;

/// Why a testnet description was refused (bad file or flags: exit status 2 in the CLI).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// The file is not valid TOML or has unknown / mistyped keys.
    #[error("bad testnet file: {reason}")]
    Parse {
        /// What is wrong.
        reason: String,
    },
    /// A number outside its range.
    #[error("`{field}` must be between {min} and {max}, got {value}")]
    OutOfRange {
        /// The key.
        field: &'static str,
        /// Lowest accepted.
        min: u64,
        /// Highest accepted.
        max: u64,
        /// Given.
        value: u64,
    },
    /// A node index that does not exist.
    #[error("{what}: node {node} does not exist (the testnet has {nodes} nodes: 0..{nodes})")]
    NoSuchNode {
        /// Where it was named.
        what: String,
        /// The index given.
        node: usize,
        /// Nodes in the testnet.
        nodes: usize,
    },
    /// A topology that cannot be built or parsed.
    #[error("bad topology: {reason}")]
    BadTopology {
        /// What is wrong.
        reason: String,
    },
    /// A bad `[network]` section.
    #[error("bad network: {0}")]
    Network(#[from] NetworkError),
    /// Node dialects that cannot be linked as the topology asks.
    #[error("bad dialects: {reason}")]
    Dialect {
        /// What is wrong, naming the key.
        reason: String,
    },
    /// A scenario event that is malformed or impossible at its time.
    #[error("event {index} (at slot {at_slot}, {action}): {reason}")]
    BadEvent {
        /// Position of the event in the scenario.
        index: usize,
        /// Its slot.
        at_slot: u64,
        /// Its action.
        action: String,
        /// What is wrong.
        reason: String,
    },
}

impl From<TopologyError> for SpecError {
    fn from(e: TopologyError) -> Self {
        SpecError::BadTopology { reason: e.reason }
    }
}

/// What happens at a scenario event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The node starts now (it is absent before): a late joiner that catches up by sync.
    Join {
        /// The node.
        node: usize,
    },
    /// The node is stopped (in `--processes` mode: killed).
    Kill {
        /// The node.
        node: usize,
    },
    /// A killed node starts again from genesis and catches up.
    Restart {
        /// The node.
        node: usize,
    },
    /// The link between two nodes is cut: open connections dropped, new ones refused.
    CutLink {
        /// One end.
        a: usize,
        /// The other end.
        b: usize,
    },
    /// A cut link carries traffic again.
    HealLink {
        /// One end.
        a: usize,
        /// The other end.
        b: usize,
    },
    /// The node starts now from a snapshot of `from`'s store.
    SnapshotJoin {
        /// The node.
        node: usize,
        /// The node whose store is copied.
        from: usize,
    },
    /// The node's process is stopped (SIGSTOP): its connections stay open, it answers nothing.
    Freeze {
        /// The node.
        node: usize,
    },
    /// A frozen node goes on (SIGCONT).
    Thaw {
        /// The node.
        node: usize,
    },
    /// The network splits into named groups: every link between two groups is cut.
    Partition {
        /// Each group's name and nodes (unlisted nodes form one more group).
        groups: Vec<(String, Vec<usize>)>,
    },
    /// The partition ends (links cut one by one stay cut).
    HealPartition,
    /// A link loses this fraction of its packets from now on, each direction.
    SetLoss {
        /// One end.
        a: usize,
        /// The other end.
        b: usize,
        /// The fraction lost.
        loss: Loss,
    },
    /// A node's bandwidth from now on (`None`: unlimited), bits per second.
    SetBandwidth {
        /// The node.
        node: usize,
        /// Upload.
        up_bps: Option<u64>,
        /// Download.
        down_bps: Option<u64>,
    },
    /// A node's slot clock runs `skew_ms` ahead of the others (negative: behind) from now on.
    ClockSkew {
        /// The node.
        node: usize,
        /// The skew, milliseconds.
        skew_ms: i64,
    },
}

impl Action {
    /// The file's name of the action.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Join { .. } => "join",
            Action::Kill { .. } => "kill",
            Action::Restart { .. } => "restart",
            Action::CutLink { .. } => "cut",
            Action::HealLink { .. } => "heal",
            Action::SnapshotJoin { .. } => "snapshot_join",
            Action::Freeze { .. } => "freeze",
            Action::Thaw { .. } => "thaw",
            Action::Partition { .. } => "partition",
            Action::HealPartition => "heal_partition",
            Action::SetLoss { .. } => "loss",
            Action::SetBandwidth { .. } => "bandwidth",
            Action::ClockSkew { .. } => "clock_skew",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Join { node } => write!(f, "node {node} joins"),
            Action::Kill { node } => write!(f, "node {node} killed"),
            Action::Restart { node } => write!(f, "node {node} restarts"),
            Action::CutLink { a, b } => write!(f, "link {a}-{b} cut"),
            Action::HealLink { a, b } => write!(f, "link {a}-{b} healed"),
            Action::SnapshotJoin { node, from } => {
                write!(f, "node {node} joins from a snapshot of node {from}")
            }
            Action::Freeze { node } => write!(f, "node {node} frozen"),
            Action::Thaw { node } => write!(f, "node {node} thawed"),
            Action::Partition { groups } => {
                let parts: Vec<String> = groups
                    .iter()
                    .map(|(name, nodes)| format!("{name} {nodes:?}"))
                    .collect();
                write!(f, "partition {}", parts.join(" | "))
            }
            Action::HealPartition => write!(f, "partition healed"),
            Action::SetLoss { a, b, loss } => {
                write!(f, "link {a}-{b} loss {:.2}%", loss.fraction() * 100.0)
            }
            Action::SetBandwidth {
                node,
                up_bps,
                down_bps,
            } => {
                let rate = |r: &Option<u64>| {
                    r.map_or("unlimited".to_string(), |b| {
                        format!("{} Mbit/s", b as f64 / 1e6)
                    })
                };
                write!(
                    f,
                    "node {node} bandwidth up {} down {}",
                    rate(up_bps),
                    rate(down_bps)
                )
            }
            Action::ClockSkew { node, skew_ms } => write!(f, "node {node} clock skew {skew_ms} ms"),
        }
    }
}

/// One timed event: `action` happens when the network reaches slot `at_slot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioEvent {
    /// Slot (counted from the start of the run, 1 = the first slot) at which it happens.
    pub at_slot: u64,
    /// What happens.
    pub action: Action,
}

/// A whole testnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestnetSpec {
    /// Number of nodes (indices 0..nodes).
    pub nodes: usize,
    /// How they are linked.
    pub topology: Topology,
    /// Seed of every random choice (topology, node ids).
    pub seed: u64,
    /// Nodes that produce a block every slot.
    pub producers: Vec<usize>,
    /// The wire each node speaks (`dialect`, `[[node]]`), hence the wire of each link.
    pub dialects: Dialects,
    /// Slot duration.
    pub slot: Duration,
    /// Slots produced before the run stops producing and judges convergence.
    pub slots: u64,
    /// Longest wait after the last slot for every node to reach the same head and finalized
    /// checkpoint.
    pub settle: Duration,
    /// The scenario, sorted by slot (stable: file order within a slot).
    pub events: Vec<ScenarioEvent>,
    /// Nodes that keep their chain in a data directory across a kill and restart.
    pub persistent: Vec<usize>,
    /// The link model.
    pub network: NetworkSpec,
    /// The engine the file asks for (the command line may override it).
    pub engine: Option<EngineName>,
    /// Which nodes run the gossip overlay (`run --gossip-overlay`); the others flood.
    pub gossip_overlay: GossipOverlay,
    /// Whether the nodes attest (file key `attest`, flag `--attest on|off`); `None`: the
    /// engine's default ([`TestnetSpec::attests`]).
    pub attest: Option<bool>,
}

/// Which nodes run the gossip overlay (docs/PROTOCOL.md, "Gossip overlay"): file key
/// `gossip_overlay = true | false` (every node), or a table `[gossip_overlay]` with `default`
/// (the nodes not listed; default false), `overlay = [nodes]` and `flood = [nodes]`, so a mixed
/// flood/overlay network can be described.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GossipOverlay {
    /// Whether a node not listed runs the overlay.
    pub default: bool,
    /// Nodes that run the overlay whatever the default.
    pub overlay: BTreeSet<usize>,
    /// Nodes that flood whatever the default.
    pub flood: BTreeSet<usize>,
}

impl GossipOverlay {
    /// Every node the same way.
    pub fn all(on: bool) -> Self {
        GossipOverlay {
            default: on,
            ..GossipOverlay::default()
        }
    }

    /// Whether `node` runs the overlay.
    pub fn on(&self, node: usize) -> bool {
        if self.overlay.contains(&node) {
            return true;
        }
        !self.flood.contains(&node) && self.default
    }

    /// Whether any of the first `nodes` nodes runs the overlay.
    pub fn any(&self, nodes: usize) -> bool {
        (0..nodes).any(|n| self.on(n))
    }
}

/// The engines a file or the command line can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineName {
    /// `in-process`: every node's actors in the testnet process.
    InProcess,
    /// `processes`: one `hobbits-node run` process per node on 127.0.0.1.
    Processes,
    /// `netns`: one process per node in its own network namespace (root).
    Netns,
    /// `shadow`: one simulated host per node in the Shadow simulator.
    Shadow,
}

impl std::str::FromStr for EngineName {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        match s {
            "in-process" => Ok(EngineName::InProcess),
            "processes" => Ok(EngineName::Processes),
            "netns" => Ok(EngineName::Netns),
            "shadow" => Ok(EngineName::Shadow),
            other => Err(SpecError::Parse {
                reason: format!(
                    "engine `{other}`: expected in-process, processes, netns or shadow"
                ),
            }),
        }
    }
}

impl TestnetSpec {
    /// The default testnet for `nodes` nodes: a random topology of degree 3 (seed 1), node 0
    /// producing every 250 ms for 40 slots, 4 s of settle time, and (with 4 nodes or more) a late
    /// joiner (the last node, at a quarter of the run) and a kill / restart of the node before it.
    pub fn default_for(nodes: usize) -> Self {
        let slots = 40;
        let mut events = Vec::new();
        if nodes >= 4 {
            events.push(ScenarioEvent {
                at_slot: slots / 4,
                action: Action::Join { node: nodes - 1 },
            });
            events.push(ScenarioEvent {
                at_slot: slots * 35 / 100,
                action: Action::Kill { node: nodes - 2 },
            });
            events.push(ScenarioEvent {
                at_slot: slots * 55 / 100,
                action: Action::Restart { node: nodes - 2 },
            });
        }
        TestnetSpec {
            nodes,
            topology: Topology::Random { degree: 3 },
            seed: 1,
            producers: vec![0],
            dialects: Dialects::default(),
            slot: Duration::from_millis(250),
            slots,
            settle: Duration::from_secs(4),
            events,
            persistent: Vec::new(),
            network: NetworkSpec::default(),
            engine: None,
            gossip_overlay: GossipOverlay::default(),
            attest: None,
        }
    }

    /// Whether the nodes attest: as the file or flag says, else on, except on an engine that
    /// turns attestations off past `cap` nodes (Shadow: N attestations a slot, each flooded to
    /// N nodes, dominate a large simulation; docs/TESTNETS.md).
    pub fn attests(&self, cap: Option<usize>) -> bool {
        self.attest
            .unwrap_or_else(|| cap.is_none_or(|cap| self.nodes <= cap))
    }

    /// Reads and validates a TOML testnet file.
    pub fn from_file(path: &Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|e| SpecError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&text)
    }

    /// Parses and validates a TOML testnet description.
    pub fn from_toml(text: &str) -> Result<Self, SpecError> {
        let spec = parse_file(text)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Applies flag overrides and validates the result.
    pub fn with_overrides(mut self, o: &SpecOverrides) -> Result<Self, SpecError> {
        if let Some(n) = o.nodes {
            self.nodes = n;
        }
        if let Some(t) = &o.topology {
            self.topology = t.clone();
        }
        if let Some(s) = o.seed {
            self.seed = s;
        }
        if let Some(p) = &o.producers {
            self.producers = p.clone();
        }
        if let Some(ms) = o.slot_ms {
            self.slot = Duration::from_millis(ms);
        }
        if let Some(s) = o.slots {
            self.slots = s;
        }
        if let Some(ms) = o.settle_ms {
            self.settle = Duration::from_millis(ms);
        }
        if o.no_scenario {
            self.events.clear();
        }
        if let Some(on) = o.gossip_overlay {
            self.gossip_overlay = GossipOverlay::all(on);
        }
        if let Some(on) = o.attest {
            self.attest = Some(on);
        }
        self.validate()?;
        Ok(self)
    }

    /// The links of the topology (each once, smaller index first).
    pub fn edges(&self) -> Result<Vec<(usize, usize)>, SpecError> {
        Ok(crate::topology::build(
            &self.topology,
            self.nodes,
            self.seed,
        )?)
    }

    /// Nodes running at the start (those without a join event).
    pub fn initial_nodes(&self) -> Vec<usize> {
        let late: BTreeSet<usize> = self
            .events
            .iter()
            .filter_map(|e| match e.action {
                Action::Join { node } | Action::SnapshotJoin { node, .. } => Some(node),
                _ => None,
            })
            .collect();
        (0..self.nodes).filter(|n| !late.contains(n)).collect()
    }
}

/// Command-line overrides of a testnet file (unset: keep the file's value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecOverrides {
    /// Number of nodes.
    pub nodes: Option<usize>,
    /// The topology.
    pub topology: Option<Topology>,
    /// Seed of the random parts.
    pub seed: Option<u64>,
    /// The producing nodes.
    pub producers: Option<Vec<usize>>,
    /// Slot duration, milliseconds.
    pub slot_ms: Option<u64>,
    /// Slots to produce.
    pub slots: Option<u64>,
    /// Longest wait for convergence after the last slot, milliseconds.
    pub settle_ms: Option<u64>,
    /// Drop every scenario event.
    pub no_scenario: bool,
    /// Every node runs the gossip overlay (true) or floods (false), whatever the file says.
    pub gossip_overlay: Option<bool>,
    /// The nodes attest (true) or not (false), whatever the file says.
    pub attest: Option<bool>,
}
