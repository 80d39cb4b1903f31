//! The Shadow configuration of a testnet: [`ShadowPlan`] turns a [`TestnetSpec`] into Shadow's
//! YAML (one host per node, each running `hobbits-node run` processes at its own `ip_addr`) and
//! its GML network graph (one graph node per testnet node, one edge per topology link with the
//! link model's latency and loss, a self-loop per node), and refuses (naming the key or event)
//! what Shadow cannot express. Plain text generation; handles and sends no messages.
//!
//! Timing, in simulated time: the initial nodes start at [`START`] (the nodes' genesis, so slot
//! `k` begins at `START + k * slot`); an event at slot `k` happens then; producers get SIGTERM
//! half a slot after the last slot (after their last block is out), everyone else runs until
//! `settle` after the last slot, when the simulation stops.

use std::fmt::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hobbits_actors::NodeId;

use crate::network::Feature;
use crate::spec::{Action, TestnetSpec};
use crate::TestnetError;

/// Shadow's simulated clock starts at 2000-01-01 00:00:00 UTC (seconds since the Unix epoch).
pub const SHADOW_EPOCH_S: u64 = 946_684_800;
/// When the initial nodes start, in simulated time (and their genesis).
pub const START: Duration = Duration::from_secs(1);
/// The port every node listens on (each host has its own address).
pub const PORT: u16 = 9000;
/// Each node's event log, in its host's directory (`shadow.data/hosts/<host>/`).
pub const EVENT_LOG: &str = "events.jsonl";
/// Bandwidth of a graph node (Shadow requires one; a node's own limit is set on its host).
const GRAPH_BANDWIDTH: &str = "10 Gbit";
/// Shadow refuses an edge with no latency: a link without one gets this.
pub const MIN_LATENCY: Duration = Duration::from_micros(1);

/// Host name of node `i` in the YAML.
pub fn host_name(i: usize) -> String {
    format!("node{i}")
}

/// Address of node `i`: 198.18.0.2 + i in 198.18.0.0/15 (RFC 2544's benchmarking range, as in
/// the netns engine).
pub fn node_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 2)) + i as u32)
}

/// How a process of a node ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessEnd {
    /// Runs until the simulation stops.
    Running,
    /// Killed (a `kill` event): SIGKILL at this time.
    Killed(Duration),
    /// A producer done producing: SIGTERM (GOODBYE to its peers, exit 0) at this time.
    Stopped(Duration),
}

/// One `hobbits-node run` process of a node (a restart is a second one on the same host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeProcess {
    /// When it starts (simulated time).
    pub start: Duration,
    /// How it ends.
    pub end: ProcessEnd,
}

/// Everything the YAML and GML say, plus the times the report needs.
#[derive(Debug, Clone)]
pub struct ShadowPlan {
    /// The node binary (absolute: Shadow runs it by path).
    pub program: PathBuf,
    /// Topology links.
    pub edges: Vec<(usize, usize)>,
    /// Processes of each node, in time order.
    pub processes: Vec<Vec<NodeProcess>>,
    /// Latency and loss of each link (low index first).
    pub links: Vec<((usize, usize), Duration, f64)>,
    /// Upload / download bits per second of each node.
    pub bandwidth: Vec<(Option<u64>, Option<u64>)>,
    /// When production ends (the last slot's start), simulated.
    pub production_end: Duration,
    /// When the simulation stops.
    pub stop: Duration,
    /// Shadow's seed.
    pub seed: u64,
    /// Each node's id (the driver's seeded ids, `run::node_ids`).
    pub node_ids: Vec<NodeId>,
    args: Vec<Vec<String>>,
}

fn refuse(what: String) -> TestnetError {
    TestnetError::Unsupported {
        what: format!("{what} with the shadow engine"),
    }
}

/// What Shadow cannot express, naming the key or event: jitter (its edges have one fixed
/// latency), and every event that changes the network or signals a process after its start
/// other than a kill (cut, heal, partition, freeze / thaw, loss, bandwidth, clock skew), and
/// starting from a snapshot.
pub fn check_supported(spec: &TestnetSpec) -> Result<(), TestnetError> {
    if let Some(key) = spec.network.features().get(&Feature::Jitter) {
        return Err(refuse(format!(
            "`{key}`: jitter (a Shadow graph edge has one fixed latency)"
        )));
    }
    for (i, e) in spec.events.iter().enumerate() {
        let key = format!("event {i} (`{}` at slot {})", e.action.name(), e.at_slot);
        let why = match e.action {
            Action::Join { .. } | Action::Kill { .. } | Action::Restart { .. } => continue,
            Action::SnapshotJoin { .. } => "a Shadow host runs `hobbits-node run`, which starts from genesis or its own store",
            Action::CutLink { .. }
            | Action::HealLink { .. }
            | Action::Partition { .. }
            | Action::HealPartition
            | Action::SetLoss { .. }
            | Action::SetBandwidth { .. } => "Shadow's network graph is fixed for the whole simulation",
            Action::Freeze { .. } | Action::Thaw { .. } => {
                "Shadow sends one signal per process, at its shutdown time (no SIGCONT after a SIGSTOP)"
            }
            Action::ClockSkew { .. } => "the nodes' clocks are Shadow's simulated clock, one for every host",
        };
        return Err(refuse(format!("{key}: {why}")));
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    // Shadow durations are integers with a unit.
    if d.subsec_nanos() % 1_000_000 == 0 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} us", d.as_micros().max(1))
    }
}

fn bits(bps: u64) -> String {
    if bps % 1000 == 0 {
        format!("{} Kbit", bps / 1000)
    } else {
        format!("{bps} bit")
    }
}

impl ShadowPlan {
    /// The plan for `spec` (validated) with `program` as the node binary and `node_ids` (one per
    /// node: the driver's `run::node_ids`).
    pub fn for_spec(
        spec: &TestnetSpec,
        program: &Path,
        node_ids: &[NodeId],
    ) -> Result<ShadowPlan, TestnetError> {
        spec.validate()?;
        check_supported(spec)?;
        let edges = spec.edges()?;
        let network = spec.network.resolve(spec.nodes, &edges);
        let at = |slot: u64| START + spec.slot * slot as u32;
        let production_end = at(spec.slots);
        let producer_stop = production_end + spec.slot / 2;
        let stop = (production_end + spec.settle).max(producer_stop + spec.slot);
        let mut processes: Vec<Vec<NodeProcess>> = (0..spec.nodes)
            .map(|n| {
                let joins = spec.events.iter().any(|e| {
                    matches!(e.action, Action::Join { node } | Action::SnapshotJoin { node, .. } if node == n)
                });
                if joins {
                    Vec::new()
                } else {
                    vec![NodeProcess {
                        start: START,
                        end: ProcessEnd::Running,
                    }]
                }
            })
            .collect();
        for e in &spec.events {
            let t = at(e.at_slot);
            match e.action {
                Action::Join { node } | Action::Restart { node } => {
                    processes[node].push(NodeProcess {
                        start: t,
                        end: ProcessEnd::Running,
                    })
                }
                Action::Kill { node } => {
                    if let Some(p) = processes[node].last_mut() {
                        p.end = ProcessEnd::Killed(t);
                    }
                }
                _ => {}
            }
        }
        for &p in &spec.producers {
            if let Some(last) = processes[p].last_mut() {
                if last.end == ProcessEnd::Running {
                    last.end = ProcessEnd::Stopped(producer_stop);
                }
            }
        }
        if node_ids.len() != spec.nodes {
            return Err(TestnetError::Unsupported {
                what: format!("{} node ids for {} nodes", node_ids.len(), spec.nodes),
            });
        }
        let ids = node_ids;
        let genesis = (SHADOW_EPOCH_S + START.as_secs()).to_string();
        let args = (0..spec.nodes)
            .map(|n| {
                let mut a: Vec<String> = [
                    "run",
                    "--listen",
                    &format!("{}:{PORT}", node_addr(n)),
                    "--node-id",
                    &ids[n].0.to_string(),
                    "--genesis-time",
                    &genesis,
                    "--event-log",
                    EVENT_LOG,
                    "--attest",
                    "--log",
                    "warn",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                // Both ends of a link dial (the node keeps one connection per peer), as in netns.
                for &(x, y) in &edges {
                    let other = match (x == n, y == n) {
                        (true, _) => y,
                        (_, true) => x,
                        _ => continue,
                    };
                    a.push("--peer".into());
                    a.push(format!("hob+tcp://{}:{PORT}", node_addr(other)));
                }
                if spec.persistent.contains(&n) {
                    a.extend(["--data-dir".into(), "chain".into()]);
                }
                if spec.producers.contains(&n) {
                    a.extend([
                        "--produce".into(),
                        "--slot-ms".into(),
                        spec.slot.as_millis().to_string(),
                    ]);
                }
                a
            })
            .collect();
        let links = edges
            .iter()
            .map(|&(a, b)| {
                let key = (a.min(b), a.max(b));
                let latency = network
                    .delay
                    .get(&key)
                    .map_or(Duration::ZERO, |d| d.0)
                    .max(MIN_LATENCY);
                let loss = network.loss.get(&(a, b)).map_or(0.0, |l| l.fraction());
                (key, latency, loss)
            })
            .collect();
        Ok(ShadowPlan {
            program: program.to_path_buf(),
            edges,
            processes,
            links,
            bandwidth: network.bandwidth,
            production_end,
            stop,
            seed: spec.seed,
            node_ids: node_ids.to_vec(),
            args,
        })
    }

    /// Shadow's configuration (the graph in `network.gml` beside it).
    pub fn yaml(&self) -> String {
        let mut y = String::new();
        let _ = writeln!(y, "# Generated by `hobbits-node testnet --engine shadow`.");
        let _ = writeln!(y, "general:");
        let _ = writeln!(y, "  stop_time: {}", ms(self.stop));
        let _ = writeln!(y, "  seed: {}", (self.seed % u64::from(u32::MAX)) + 1);
        let _ = writeln!(y, "  log_level: warning");
        let _ = writeln!(y, "  heartbeat_interval: null");
        let _ = writeln!(y, "network:");
        let _ = writeln!(y, "  graph:");
        let _ = writeln!(y, "    type: gml");
        let _ = writeln!(y, "    file:");
        let _ = writeln!(y, "      path: network.gml");
        let _ = writeln!(y, "  use_shortest_path: true");
        let _ = writeln!(y, "hosts:");
        let program = json(&self.program.to_string_lossy());
        for (n, procs) in self.processes.iter().enumerate() {
            let _ = writeln!(y, "  {}:", host_name(n));
            let _ = writeln!(y, "    network_node_id: {n}");
            let _ = writeln!(y, "    ip_addr: {}", node_addr(n));
            let (up, down) = self.bandwidth.get(n).copied().unwrap_or_default();
            if let Some(up) = up {
                let _ = writeln!(y, "    bandwidth_up: {}", bits(up));
            }
            if let Some(down) = down {
                let _ = writeln!(y, "    bandwidth_down: {}", bits(down));
            }
            let _ = writeln!(y, "    processes:");
            let args: Vec<String> = self.args[n].iter().map(|a| json(a)).collect();
            for p in procs {
                let _ = writeln!(y, "    - path: {program}");
                let _ = writeln!(y, "      args: [{}]", args.join(", "));
                let _ = writeln!(y, "      start_time: {}", ms(p.start));
                match p.end {
                    ProcessEnd::Running => {
                        let _ = writeln!(y, "      expected_final_state: running");
                    }
                    ProcessEnd::Killed(t) => {
                        let _ = writeln!(y, "      shutdown_time: {}", ms(t));
                        let _ = writeln!(y, "      shutdown_signal: SIGKILL");
                        let _ = writeln!(y, "      expected_final_state: {{signaled: SIGKILL}}");
                    }
                    ProcessEnd::Stopped(t) => {
                        let _ = writeln!(y, "      shutdown_time: {}", ms(t));
                        let _ = writeln!(y, "      shutdown_signal: SIGTERM");
                        let _ = writeln!(y, "      expected_final_state: {{exited: 0}}");
                    }
                }
            }
            if procs.is_empty() {
                // Unreachable for a validated spec (every node starts); keep the YAML valid.
                let _ = writeln!(y, "    []");
            }
        }
        y
    }

    /// The network graph: one node per testnet node (with a self-loop, which Shadow requires),
    /// one edge per link. Attributes one per line.
    pub fn gml(&self) -> String {
        let mut g = String::from("graph [\n  directed 0\n");
        for n in 0..self.processes.len() {
            let _ = write!(
                g,
                "  node [\n    id {n}\n    host_bandwidth_up \"{GRAPH_BANDWIDTH}\"\n    host_bandwidth_down \"{GRAPH_BANDWIDTH}\"\n  ]\n"
            );
        }
        let mut edge = |a: usize, b: usize, latency: Duration, loss: f64| {
            let _ = write!(
                g,
                "  edge [\n    source {a}\n    target {b}\n    latency \"{}\"\n    packet_loss {loss:?}\n  ]\n",
                ms(latency)
            );
        };
        for n in 0..self.processes.len() {
            edge(n, n, MIN_LATENCY, 0.0);
        }
        for &((a, b), latency, loss) in &self.links {
            edge(a, b, latency, loss);
        }
        g.push_str("]\n");
        g
    }

    /// Writes `shadow.yaml` and `network.gml` into `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> Result<(), TestnetError> {
        let io = |what: &str, e: std::io::Error| TestnetError::Io {
            what: format!("{what} in {}", dir.display()),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io("creating the directory", e))?;
        std::fs::write(dir.join("shadow.yaml"), self.yaml())
            .map_err(|e| io("writing shadow.yaml", e))?;
        std::fs::write(dir.join("network.gml"), self.gml())
            .map_err(|e| io("writing network.gml", e))
    }
}

/// A YAML flow scalar: a JSON string is valid YAML.
fn json(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
