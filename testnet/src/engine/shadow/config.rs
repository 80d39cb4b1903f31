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

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hobbits_actors::NodeId;

use super::site::{SiteFile, SiteNode, MAX_SITE_NODES};
use crate::network::Feature;
use crate::spec::{Action, TestnetSpec, Wire};
use crate::TestnetError;

/// Shadow's simulated clock starts at 2000-01-01 00:00:00 UTC (seconds since the Unix epoch).
pub const SHADOW_EPOCH_S: u64 = 946_684_800;
/// When the initial nodes start, in simulated time (and their genesis).
pub const START: Duration = Duration::from_secs(1);
/// The port every node listens on (each host has its own address).
pub const PORT: u16 = 9000;
/// The port a node speaking the ETH dialect listens on for it (beside [`PORT`]).
pub const ETH_PORT: u16 = 9001;
/// Each node's event log, in its host's directory (`shadow.data/hosts/<host>/`).
pub const EVENT_LOG: &str = "events.jsonl";
/// Bandwidth of a graph node (Shadow requires one; a node's own limit is set on its host).
pub(super) const GRAPH_BANDWIDTH: &str = "10 Gbit";
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

/// A simulated host: one `run` node (its processes over time), or a site of several nodes in
/// one `site` process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// `node<i>` or `site<s>`.
    pub name: String,
    /// Its address.
    pub addr: Ipv4Addr,
    /// Its graph node.
    pub graph_node: usize,
    /// Upload / download bits per second.
    pub bandwidth: (Option<u64>, Option<u64>),
    /// The testnet nodes it runs (one, or a site's).
    pub nodes: Vec<usize>,
    /// Its processes in time order (a site: one, running to the end).
    pub processes: Vec<NodeProcess>,
    /// The arguments of every process.
    pub args: Vec<String>,
}

/// Everything the YAML and GML say, plus the times the report needs.
#[derive(Debug, Clone)]
pub struct ShadowPlan {
    /// The node binary (absolute: Shadow runs it by path).
    pub program: PathBuf,
    /// Topology links.
    pub edges: Vec<(usize, usize)>,
    /// Processes of each node, in time order (a site node: its site's).
    pub processes: Vec<Vec<NodeProcess>>,
    /// The hosts.
    pub hosts: Vec<Host>,
    /// Each node's host (index into `hosts`) and port.
    pub node_host: Vec<(usize, u16)>,
    /// Graph nodes, and edges with latency and loss (self-loops included).
    pub graph: (usize, Vec<(usize, usize, Duration, f64)>),
    /// The site files (name in the run directory, content).
    pub sites: Vec<(String, SiteFile)>,
    /// When production ends (the last slot's start), simulated.
    pub production_end: Duration,
    /// When the simulation stops.
    pub stop: Duration,
    /// Shadow's seed.
    pub seed: u64,
    /// Each node's id (the driver's seeded ids, `run::node_ids`).
    pub node_ids: Vec<NodeId>,
    /// Nodes attest (only up to [`ATTEST_MAX_NODES`]).
    pub attest: bool,
}

/// Most simulated hosts a plan uses by default.
pub const MAX_HOSTS: usize = 3000;
/// Open files a run may take by default: these machines cannot open more than 20,000 files in all,
/// Shadow holds about [`FILES_PER_HOST`] per managed process, and every node keeps its event log
/// open (measured: 2,502 hosts with 10,000 logs ran out of files).
pub const FILE_BUDGET: usize = 17_000;
/// Files Shadow holds per managed process.
pub const FILES_PER_HOST: usize = 5;
/// Nodes attest up to this many nodes: beyond, N attestations a slot each flooded to N nodes
/// dominate the simulation (100 nodes, 50 one-second slots: 40 s of wall time with attestations;
/// 10,000 nodes would be 10^8 messages a slot). Blocks propagate at every size.
pub const ATTEST_MAX_NODES: usize = 64;

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

/// What sites cannot express, naming the key: a link's or a node's own shape (a site's nodes
/// share one host and its graph node, so links are shaped per location pair).
fn check_sites(spec: &TestnetSpec) -> Result<(), TestnetError> {
    let net = &spec.network;
    let why = "with sites (several nodes per host: links are shaped per location pair, use --site-size 1)";
    if !net.links.is_empty() {
        return Err(refuse(format!(
            "`network.link[0]`: a link's own shape {why}"
        )));
    }
    if let Some(node) = net.nodes.keys().next() {
        return Err(refuse(format!(
            "`network.node` (node {node}): a node's own shape {why}"
        )));
    }
    if let Some((name, _)) = net.reliabilities.iter().find(|(_, r)| !r.loss.is_zero()) {
        return Err(refuse(format!(
            "`network.reliabilities.{name}`: a node's loss {why}"
        )));
    }
    Ok(())
}

pub(super) fn ms(d: Duration) -> String {
    // Shadow durations are integers with a unit.
    if d.subsec_nanos() % 1_000_000 == 0 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} us", d.as_micros().max(1))
    }
}

pub(super) fn bits(bps: u64) -> String {
    if bps % 1000 == 0 {
        format!("{} Kbit", bps / 1000)
    } else {
        format!("{bps} bit")
    }
}

/// Each node's processes over time (joins, kills, restarts; producers stopped after the run).
fn node_processes(
    spec: &TestnetSpec,
    at: impl Fn(u64) -> Duration,
    producer_stop: Duration,
) -> Vec<Vec<NodeProcess>> {
    let mut processes: Vec<Vec<NodeProcess>> = (0..spec.nodes)
        .map(|n| {
            let joins = spec.events.iter().any(|e| {
                matches!(e.action, Action::Join { node } | Action::SnapshotJoin { node, .. } if node == n)
            });
            if joins {
                Vec::new()
            } else {
                vec![NodeProcess { start: START, end: ProcessEnd::Running }]
            }
        })
        .collect();
    for e in &spec.events {
        let t = at(e.at_slot);
        match e.action {
            Action::Join { node } | Action::Restart { node } => processes[node].push(NodeProcess {
                start: t,
                end: ProcessEnd::Running,
            }),
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
    processes
}

impl ShadowPlan {
    /// The plan for `spec` (validated) with `program` as the node binary and `node_ids` (one per
    /// node: the driver's `run::node_ids`): one host per node up to [`MAX_HOSTS`] nodes, sites
    /// beyond (or `site_size` nodes per site when given).
    pub fn for_spec(
        spec: &TestnetSpec,
        program: &Path,
        node_ids: &[NodeId],
    ) -> Result<ShadowPlan, TestnetError> {
        Self::with_sites(spec, program, node_ids, None)
    }

    /// [`ShadowPlan::for_spec`] with sites of at most `site_size` nodes (1: one host per node).
    pub fn with_sites(
        spec: &TestnetSpec,
        program: &Path,
        node_ids: &[NodeId],
        site_size: Option<usize>,
    ) -> Result<ShadowPlan, TestnetError> {
        spec.validate()?;
        check_supported(spec)?;
        if node_ids.len() != spec.nodes {
            return Err(TestnetError::Unsupported {
                what: format!("{} node ids for {} nodes", node_ids.len(), spec.nodes),
            });
        }
        let edges = spec.edges()?;
        let network = spec.network.resolve(spec.nodes, &edges);
        let at = |slot: u64| START + spec.slot * slot as u32;
        let production_end = at(spec.slots);
        let producer_stop = production_end + spec.slot / 2;
        let stop = (production_end + spec.settle).max(producer_stop + spec.slot);
        let processes = node_processes(spec, at, producer_stop);
        // Nodes with a role (producers, scenario events, a store) run alone; the rest may share.
        let role: Vec<bool> = (0..spec.nodes)
            .map(|n| {
                spec.producers.contains(&n)
                    || spec.persistent.contains(&n)
                    // A site runs Hobbits-only nodes (its nodes have no ETH listener).
                    || spec.dialects.of(n) != crate::spec::Dialect::Hobbits
                    || processes[n].len() != 1
                    || processes[n][0].start != START
                    || processes[n][0].end != ProcessEnd::Running
            })
            .collect();
        let packable = role.iter().filter(|r| !**r).count();
        let roles = spec.nodes - packable;
        // Hosts that fit: at most MAX_HOSTS, and the processes' files plus the nodes' logs
        // within the budget.
        let max_hosts = MAX_HOSTS.min(FILE_BUDGET.saturating_sub(spec.nodes) / FILES_PER_HOST);
        let site_size = site_size.unwrap_or_else(|| {
            if spec.nodes <= max_hosts {
                1
            } else {
                packable.div_ceil(max_hosts.saturating_sub(roles).max(1))
            }
        });
        if site_size == 0 || site_size > MAX_SITE_NODES {
            return Err(refuse(format!(
                "--site-size {site_size} (1..={MAX_SITE_NODES})"
            )));
        }
        let attest = spec.attests(Some(ATTEST_MAX_NODES));
        let genesis = SHADOW_EPOCH_S + START.as_secs();
        // Graph nodes: one per testnet node, or with sites one per location (plus one for nodes
        // of no location).
        let locations: Vec<&String> = spec.network.locations.keys().collect();
        // Each node's location (index into `locations`; `locations.len()`: none) and class.
        let mut class_of: Vec<Option<usize>> = vec![None; spec.nodes];
        for (i, c) in spec.network.classes.iter().enumerate().rev() {
            for &n in &c.nodes {
                if let Some(slot) = class_of.get_mut(n) {
                    *slot = Some(i);
                }
            }
        }
        let location_of = |n: usize| -> usize {
            class_of[n]
                .and_then(|i| spec.network.classes[i].location.as_ref())
                .and_then(|l| locations.iter().position(|x| *x == l))
                .unwrap_or(locations.len())
        };
        let mut hosts: Vec<Host> = Vec::new();
        let mut node_host = vec![(0usize, PORT); spec.nodes];
        let mut sites = Vec::new();
        let graph = if site_size == 1 {
            for n in 0..spec.nodes {
                node_host[n] = (hosts.len(), PORT);
                hosts.push(Host {
                    name: host_name(n),
                    addr: node_addr(hosts.len()),
                    graph_node: n,
                    bandwidth: network.bandwidth[n],
                    nodes: vec![n],
                    processes: processes[n].clone(),
                    args: Vec::new(),
                });
            }
            let mut g: Vec<(usize, usize, Duration, f64)> =
                (0..spec.nodes).map(|n| (n, n, MIN_LATENCY, 0.0)).collect();
            for &(a, b) in &edges {
                let key = (a.min(b), a.max(b));
                let latency = network.delay.get(&key).map_or(Duration::ZERO, |d| d.0);
                let loss = network.loss.get(&(a, b)).map_or(0.0, |l| l.fraction());
                g.push((key.0, key.1, latency.max(MIN_LATENCY), loss));
            }
            (spec.nodes, g)
        } else {
            check_sites(spec)?;
            let groups = locations.len() + 1;
            let mut by_group: std::collections::BTreeMap<(usize, Option<String>), Vec<usize>> =
                Default::default();
            for n in 0..spec.nodes {
                if role[n] {
                    node_host[n] = (hosts.len(), PORT);
                    hosts.push(Host {
                        name: host_name(n),
                        addr: node_addr(hosts.len()),
                        graph_node: location_of(n),
                        bandwidth: network.bandwidth[n],
                        nodes: vec![n],
                        processes: processes[n].clone(),
                        args: Vec::new(),
                    });
                } else {
                    let reliability =
                        class_of[n].and_then(|i| spec.network.classes[i].reliability.clone());
                    by_group
                        .entry((location_of(n), reliability))
                        .or_default()
                        .push(n);
                }
            }
            for ((group, _), members) in by_group {
                for chunk in members.chunks(site_size) {
                    let h = hosts.len();
                    let s = sites.len();
                    let (up, down) = network.bandwidth[chunk[0]];
                    let scale = |b: Option<u64>| b.map(|b| b * chunk.len() as u64);
                    for (slot, &n) in chunk.iter().enumerate() {
                        node_host[n] = (h, PORT + slot as u16);
                    }
                    hosts.push(Host {
                        name: format!("site{s}"),
                        addr: node_addr(h),
                        graph_node: group,
                        bandwidth: (scale(up), scale(down)),
                        nodes: chunk.to_vec(),
                        processes: vec![NodeProcess {
                            start: START,
                            end: ProcessEnd::Running,
                        }],
                        args: vec!["site".into(), format!("../../../site-{s}.json")],
                    });
                    sites.push((
                        format!("site-{s}.json"),
                        SiteFile {
                            genesis_time: genesis,
                            attest,
                            nodes: Vec::new(),
                        },
                    ));
                }
            }
            let latency = |a: usize, b: usize| -> Duration {
                let (la, lb) = (locations.get(a), locations.get(b));
                match (la, lb) {
                    (Some(x), Some(y)) => spec
                        .network
                        .locations
                        .get(*x)
                        .and_then(|m| m.get(*y))
                        .copied(),
                    _ => None,
                }
                .unwrap_or(spec.network.default.latency)
                .max(MIN_LATENCY)
            };
            let loss = spec.network.default.loss.fraction();
            let mut g = Vec::new();
            for a in 0..groups {
                for b in a..groups {
                    g.push((a, b, latency(a, b), loss));
                }
            }
            (groups, g)
        };
        let addrs: Vec<String> = node_host
            .iter()
            .map(|&(h, port)| format!("{}:{port}", hosts[h].addr))
            .collect();
        let addr = |n: usize| addrs[n].clone();
        let mut neighbours = vec![Vec::new(); spec.nodes];
        for (&(x, y), wire) in edges.iter().zip(spec.dialects.wires(&edges)) {
            neighbours[x].push((y, wire));
            neighbours[y].push((x, wire));
        }
        // A node speaking the ETH dialect listens for it on its host's address, port ETH_PORT
        // (it runs alone on its host).
        let eth_addrs: Vec<String> = node_host
            .iter()
            .map(|&(h, _)| format!("{}:{ETH_PORT}", hosts[h].addr))
            .collect();
        let eth_addr = |n: usize| eth_addrs[n].clone();
        // Both ends of a link dial (the node keeps one connection per peer), as in netns.
        let peers = |n: usize| -> Vec<String> {
            neighbours[n]
                .iter()
                .map(|&(o, wire)| match wire {
                    Wire::Hobbits => format!("hob+tcp://{}", addr(o)),
                    Wire::Eth => format!("eth+tcp://{}", eth_addr(o)),
                })
                .collect()
        };
        let eth_listen: Vec<Option<String>> = (0..spec.nodes)
            .map(|n| spec.dialects.of(n).speaks_eth().then(|| eth_addr(n)))
            .collect();
        let genesis_s = genesis.to_string();
        for host in &mut hosts {
            let nodes = host.nodes.clone();
            if host.args.is_empty() {
                let n = nodes[0];
                let mut a: Vec<String> = vec![
                    "run".into(),
                    "--listen".into(),
                    addr(n),
                    "--node-id".into(),
                    node_ids[n].0.to_string(),
                    "--genesis-time".into(),
                    genesis_s.clone(),
                    "--event-log".into(),
                    EVENT_LOG.into(),
                    "--log".into(),
                    "warn".into(),
                ];
                if attest {
                    a.push("--attest".into());
                }
                if let Some(eth) = &eth_listen[n] {
                    a.extend(["--eth-listen".into(), eth.clone()]);
                }
                if spec.gossip_overlay.on(n) {
                    a.push("--gossip-overlay".into());
                }
                for p in peers(n) {
                    a.push("--peer".into());
                    a.push(p);
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
                host.args = a;
            } else {
                let s: usize = host.name.trim_start_matches("site").parse().unwrap_or(0);
                sites[s].1.nodes = nodes
                    .iter()
                    .map(|&n| SiteNode {
                        listen: addr(n),
                        node_id: node_ids[n].0,
                        peers: peers(n),
                        event_log: Some(site_log(n)),
                        gossip_overlay: spec.gossip_overlay.on(n),
                    })
                    .collect();
            }
        }
        Ok(ShadowPlan {
            program: program.to_path_buf(),
            edges,
            processes: (0..spec.nodes)
                .map(|n| hosts[node_host[n].0].processes.clone())
                .collect(),
            hosts,
            node_host,
            graph,
            sites,
            production_end,
            stop,
            seed: spec.seed,
            node_ids: node_ids.to_vec(),
            attest,
        })
    }

    /// Where node `n`'s event log is, under `shadow.data/hosts/`.
    pub fn log_path(&self, n: usize) -> PathBuf {
        let host = &self.hosts[self.node_host[n].0];
        if host.nodes.len() == 1 && !host.name.starts_with("site") {
            PathBuf::from(&host.name).join(EVENT_LOG)
        } else {
            PathBuf::from(&host.name).join(site_log(n))
        }
    }
}

/// A site node's event log, in its site's directory.
fn site_log(n: usize) -> String {
    format!("events-{n}.jsonl")
}

/// A YAML flow scalar: a JSON string is valid YAML.
pub(super) fn json(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
