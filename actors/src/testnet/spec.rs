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

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

/// Most nodes in one testnet (every node is a set of actors or a process on this machine).
pub const MAX_NODES: usize = 256;
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
    Read { path: String, reason: String },
    /// The file is not valid TOML or has unknown / mistyped keys.
    #[error("bad testnet file: {reason}")]
    Parse { reason: String },
    /// A number outside its range.
    #[error("`{field}` must be between {min} and {max}, got {value}")]
    OutOfRange {
        field: &'static str,
        min: u64,
        max: u64,
        value: u64,
    },
    /// A node index that does not exist.
    #[error("{what}: node {node} does not exist (the testnet has {nodes} nodes: 0..{nodes})")]
    NoSuchNode {
        what: String,
        node: usize,
        nodes: usize,
    },
    /// A topology that cannot be built or parsed.
    #[error("bad topology: {reason}")]
    BadTopology { reason: String },
    /// A scenario event that is malformed or impossible at its time.
    #[error("event {index} (at slot {at_slot}, {action}): {reason}")]
    BadEvent {
        index: usize,
        at_slot: u64,
        action: String,
        reason: String,
    },
}

/// How nodes are linked (an undirected graph over node indices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    /// 0 - 1 - 2 - ... - n-1.
    Line,
    /// A line closed into a ring.
    Ring,
    /// Node 0 linked to every other node.
    Star,
    /// A connected random graph where every node has at least `degree` links (seeded).
    Random {
        /// Links per node (at least; capped at n-1).
        degree: usize,
    },
    /// Exactly these links.
    Edges(Vec<(usize, usize)>),
}

impl std::fmt::Display for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Topology::Line => f.write_str("line"),
            Topology::Ring => f.write_str("ring"),
            Topology::Star => f.write_str("star"),
            Topology::Random { degree } => write!(f, "random:{degree}"),
            Topology::Edges(e) => {
                f.write_str("edges:")?;
                let parts: Vec<String> = e.iter().map(|(a, b)| format!("{a}-{b}")).collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

impl FromStr for Topology {
    type Err = SpecError;

    /// `line`, `ring`, `star`, `random` (degree 3), `random:K`, `edges:0-1,1-2,...`.
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let bad = |reason: String| SpecError::BadTopology { reason };
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (s, None),
        };
        match (kind, arg) {
            ("line", None) => Ok(Topology::Line),
            ("ring", None) => Ok(Topology::Ring),
            ("star", None) => Ok(Topology::Star),
            ("random", None) => Ok(Topology::Random { degree: 3 }),
            ("random", Some(k)) => k
                .parse()
                .map(|degree| Topology::Random { degree })
                .map_err(|_| bad(format!("`{k}` is not a degree (random:K)"))),
            ("edges", Some(list)) => {
                let mut edges = Vec::new();
                for pair in list.split(',').filter(|p| !p.is_empty()) {
                    let parsed = pair
                        .split_once('-')
                        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
                    edges.push(
                        parsed.ok_or_else(|| {
                            bad(format!("`{pair}` is not an edge (edges:A-B,C-D)"))
                        })?,
                    );
                }
                Ok(Topology::Edges(edges))
            }
            _ => Err(bad(format!(
                "`{s}`: expected line, ring, star, random[:K] or edges:A-B,..."
            ))),
        }
    }
}

/// What happens at a scenario event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The node starts now (it is absent before): a late joiner that catches up by sync.
    Join { node: usize },
    /// The node is stopped (in `--processes` mode: killed).
    Kill { node: usize },
    /// A killed node starts again from genesis and catches up.
    Restart { node: usize },
    /// The link between two nodes is cut: open connections dropped, new ones refused.
    CutLink { a: usize, b: usize },
    /// A cut link carries traffic again.
    HealLink { a: usize, b: usize },
    /// The node starts now from a snapshot of `from`'s store.
    SnapshotJoin { node: usize, from: usize },
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
    /// Slot duration.
    pub slot: Duration,
    /// Slots produced before the run stops producing and judges convergence.
    pub slots: u64,
    /// Longest wait after the last slot for every node to reach the same head and finalized
    /// checkpoint.
    pub settle: Duration,
    /// The scenario, sorted by slot (stable: file order within a slot).
    pub events: Vec<ScenarioEvent>,
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
            slot: Duration::from_millis(250),
            slots,
            settle: Duration::from_secs(4),
            events,
        }
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
        self.validate()?;
        Ok(self)
    }

    /// The links of the topology (each once, smaller index first).
    pub fn edges(&self) -> Result<Vec<(usize, usize)>, SpecError> {
        crate::testnet::topology::build(&self.topology, self.nodes, self.seed)
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

    /// Checks ranges, node indices, the topology and that every event is possible when it
    /// happens (a join of an absent node, a kill of a running one, a heal of a cut link...).
    pub fn validate(&self) -> Result<(), SpecError> {
        range("nodes", self.nodes as u64, 1, MAX_NODES as u64)?;
        range("slots", self.slots, 1, MAX_SLOTS)?;
        range(
            "slot_ms",
            self.slot.as_millis().min(u128::from(u64::MAX)) as u64,
            MIN_SLOT_MS,
            60_000,
        )?;
        range(
            "settle_ms",
            self.settle.as_millis().min(u128::from(u64::MAX)) as u64,
            0,
            600_000,
        )?;
        range("events", self.events.len() as u64, 0, MAX_EVENTS as u64)?;
        if self.producers.is_empty() {
            return Err(SpecError::OutOfRange {
                field: "producers (count)",
                min: 1,
                max: self.nodes as u64,
                value: 0,
            });
        }
        for &p in &self.producers {
            self.check_node("producers", p)?;
        }
        let edges = self.edges()?;
        let edge_set: BTreeSet<(usize, usize)> = edges.iter().copied().collect();
        self.check_events(&edge_set)
    }

    fn check_node(&self, what: &str, node: usize) -> Result<(), SpecError> {
        if node >= self.nodes {
            return Err(SpecError::NoSuchNode {
                what: what.to_string(),
                node,
                nodes: self.nodes,
            });
        }
        Ok(())
    }

    fn check_events(&self, edges: &BTreeSet<(usize, usize)>) -> Result<(), SpecError> {
        let mut running: BTreeSet<usize> = self.initial_nodes().into_iter().collect();
        let mut started: BTreeSet<usize> = running.clone();
        let mut cut: BTreeSet<(usize, usize)> = BTreeSet::new();
        let mut last_slot = 0;
        for (index, e) in self.events.iter().enumerate() {
            let fail = |reason: String| SpecError::BadEvent {
                index,
                at_slot: e.at_slot,
                action: e.action.name().to_string(),
                reason,
            };
            if e.at_slot == 0 || e.at_slot > self.slots {
                return Err(fail(format!(
                    "at_slot must be between 1 and slots ({})",
                    self.slots
                )));
            }
            if e.at_slot < last_slot {
                return Err(fail("events must be in slot order".into()));
            }
            last_slot = e.at_slot;
            let node_ok = |n: usize| {
                if n >= self.nodes {
                    Err(fail(format!(
                        "node {n} does not exist ({} nodes)",
                        self.nodes
                    )))
                } else {
                    Ok(())
                }
            };
            match e.action {
                Action::Join { node } | Action::SnapshotJoin { node, .. } => {
                    node_ok(node)?;
                    if started.contains(&node) {
                        return Err(fail(format!(
                            "node {node} already started (use restart after a kill)"
                        )));
                    }
                    if let Action::SnapshotJoin { from, .. } = e.action {
                        node_ok(from)?;
                        if !running.contains(&from) {
                            return Err(fail(format!("node {from} is not running then")));
                        }
                    }
                    started.insert(node);
                    running.insert(node);
                }
                Action::Kill { node } => {
                    node_ok(node)?;
                    if !running.remove(&node) {
                        return Err(fail(format!("node {node} is not running then")));
                    }
                    if running.is_empty() {
                        return Err(fail("no node would be left running".into()));
                    }
                }
                Action::Restart { node } => {
                    node_ok(node)?;
                    if !started.contains(&node) || running.contains(&node) {
                        return Err(fail(format!(
                            "node {node} was not killed before (restart follows kill)"
                        )));
                    }
                    running.insert(node);
                }
                Action::CutLink { a, b } | Action::HealLink { a, b } => {
                    node_ok(a)?;
                    node_ok(b)?;
                    let key = (a.min(b), a.max(b));
                    if !edges.contains(&key) {
                        return Err(fail(format!("{a}-{b} is not a link of the topology")));
                    }
                    let is_cut = matches!(e.action, Action::CutLink { .. });
                    if is_cut && !cut.insert(key) {
                        return Err(fail(format!("link {a}-{b} is already cut")));
                    }
                    if !is_cut && !cut.remove(&key) {
                        return Err(fail(format!("link {a}-{b} is not cut")));
                    }
                }
            }
        }
        Ok(())
    }
}

fn range(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), SpecError> {
    if value < min || value > max {
        return Err(SpecError::OutOfRange {
            field,
            min,
            max,
            value,
        });
    }
    Ok(())
}

/// Command-line overrides of a testnet file (unset: keep the file's value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecOverrides {
    pub nodes: Option<usize>,
    pub topology: Option<Topology>,
    pub seed: Option<u64>,
    pub producers: Option<Vec<usize>>,
    pub slot_ms: Option<u64>,
    pub slots: Option<u64>,
    pub settle_ms: Option<u64>,
    /// Drop every scenario event.
    pub no_scenario: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    nodes: Option<usize>,
    seed: Option<u64>,
    producers: Option<Vec<usize>>,
    slot_ms: Option<u64>,
    slots: Option<u64>,
    settle_ms: Option<u64>,
    topology: Option<TopologyFile>,
    #[serde(default)]
    event: Vec<EventFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopologyFile {
    kind: String,
    degree: Option<usize>,
    edges: Option<Vec<Vec<usize>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventFile {
    at_slot: u64,
    action: String,
    node: Option<usize>,
    link: Option<Vec<usize>>,
    from: Option<usize>,
}

fn parse_file(text: &str) -> Result<TestnetSpec, SpecError> {
    let parsed: SpecFile = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| SpecError::Parse {
            reason: e.to_string(),
        })?;
    let nodes = parsed.nodes.unwrap_or(8);
    let mut spec = TestnetSpec::default_for(nodes);
    spec.events.clear();
    if let Some(s) = parsed.seed {
        spec.seed = s;
    }
    if let Some(p) = parsed.producers {
        spec.producers = p;
    }
    if let Some(ms) = parsed.slot_ms {
        spec.slot = Duration::from_millis(ms);
    }
    if let Some(s) = parsed.slots {
        spec.slots = s;
    }
    if let Some(ms) = parsed.settle_ms {
        spec.settle = Duration::from_millis(ms);
    }
    if let Some(t) = parsed.topology {
        spec.topology = topology_from_file(t)?;
    }
    for (index, e) in parsed.event.into_iter().enumerate() {
        spec.events.push(event_from_file(index, e)?);
    }
    Ok(spec)
}

fn topology_from_file(t: TopologyFile) -> Result<Topology, SpecError> {
    let bad = |reason: String| SpecError::BadTopology { reason };
    match t.kind.as_str() {
        "random" => Ok(Topology::Random {
            degree: t.degree.unwrap_or(3),
        }),
        "edges" => {
            let list = t
                .edges
                .ok_or_else(|| bad("kind = \"edges\" needs `edges = [[a, b], ...]`".into()))?;
            list.into_iter()
                .map(|pair| match pair.as_slice() {
                    [a, b] => Ok((*a, *b)),
                    other => Err(bad(format!("edge {other:?} must be two node indices"))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Topology::Edges)
        }
        other if t.degree.is_none() && t.edges.is_none() => other.parse(),
        other => Err(bad(format!(
            "`degree` / `edges` do not apply to kind `{other}`"
        ))),
    }
}

fn event_from_file(index: usize, e: EventFile) -> Result<ScenarioEvent, SpecError> {
    let fail = |reason: &str| SpecError::BadEvent {
        index,
        at_slot: e.at_slot,
        action: e.action.clone(),
        reason: reason.to_string(),
    };
    let node = || e.node.ok_or_else(|| fail("needs `node`"));
    let link = || match e.link.as_deref() {
        Some([a, b]) => Ok((*a, *b)),
        _ => Err(fail("needs `link = [a, b]`")),
    };
    let action = match e.action.as_str() {
        "join" => Action::Join { node: node()? },
        "kill" => Action::Kill { node: node()? },
        "restart" => Action::Restart { node: node()? },
        "cut" => {
            let (a, b) = link()?;
            Action::CutLink { a, b }
        }
        "heal" => {
            let (a, b) = link()?;
            Action::HealLink { a, b }
        }
        "snapshot_join" => Action::SnapshotJoin {
            node: node()?,
            from: e
                .from
                .ok_or_else(|| fail("needs `from` (the node to snapshot)"))?,
        },
        _ => {
            return Err(fail(
                "unknown action (join, kill, restart, cut, heal, snapshot_join)",
            ))
        }
    };
    Ok(ScenarioEvent {
        at_slot: e.at_slot,
        action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
nodes = 6
seed = 42
producers = [0]
slot_ms = 100
slots = 30
settle_ms = 2000

[topology]
kind = "ring"

[[event]]
at_slot = 5
action = "join"
node = 5

[[event]]
at_slot = 8
action = "cut"
link = [0, 1]

[[event]]
at_slot = 10
action = "kill"
node = 2

[[event]]
at_slot = 14
action = "heal"
link = [1, 0]

[[event]]
at_slot = 16
action = "restart"
node = 2

[[event]]
at_slot = 20
action = "snapshot_join"
node = 4
from = 0
"#;

    #[test]
    fn a_full_file_parses_in_order() {
        let s = TestnetSpec::from_toml(FULL).expect("valid");
        assert_eq!(s.nodes, 6);
        assert_eq!(s.topology, Topology::Ring);
        assert_eq!(s.slot, Duration::from_millis(100));
        assert_eq!(s.settle, Duration::from_secs(2));
        assert_eq!(s.events.len(), 6);
        assert_eq!(s.events[0].action, Action::Join { node: 5 });
        assert_eq!(s.events[3].action, Action::HealLink { a: 1, b: 0 });
        assert_eq!(
            s.events[5].action,
            Action::SnapshotJoin { node: 4, from: 0 }
        );
        assert_eq!(s.initial_nodes(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn explicit_edges_and_random_degree_parse() {
        let s = TestnetSpec::from_toml(
            "nodes = 3\n[topology]\nkind = \"edges\"\nedges = [[0, 1], [1, 2]]\n",
        )
        .expect("edges");
        assert_eq!(s.topology, Topology::Edges(vec![(0, 1), (1, 2)]));
        let s = TestnetSpec::from_toml("[topology]\nkind = \"random\"\ndegree = 4\n").expect("r");
        assert_eq!(s.topology, Topology::Random { degree: 4 });
    }

    #[test]
    fn bad_files_name_the_problem() {
        let err = |t: &str| TestnetSpec::from_toml(t).expect_err(t);
        assert!(matches!(err("nodes = \"x\""), SpecError::Parse { .. }));
        assert!(matches!(err("colour = 3"), SpecError::Parse { .. }));
        assert!(matches!(
            err("nodes = 0"),
            SpecError::OutOfRange { field: "nodes", .. }
        ));
        assert!(matches!(
            err("nodes = 3\nproducers = [5]"),
            SpecError::NoSuchNode { node: 5, .. }
        ));
        assert!(matches!(
            err("[[event]]\nat_slot = 3\naction = \"explode\"\nnode = 1"),
            SpecError::BadEvent { index: 0, .. }
        ));
        assert!(matches!(
            err("[[event]]\nat_slot = 3\naction = \"restart\"\nnode = 1"),
            SpecError::BadEvent { .. }
        ));
        assert!(matches!(
            err("[topology]\nkind = \"line\"\n[[event]]\nat_slot = 3\naction = \"cut\"\nlink = [0, 5]"),
            SpecError::BadEvent { .. }
        ));
        assert!(matches!(
            err("[[event]]\nat_slot = 99\naction = \"kill\"\nnode = 1"),
            SpecError::BadEvent { .. }
        ));
        assert!(matches!(
            err("[topology]\nkind = \"hypercube\""),
            SpecError::BadTopology { .. }
        ));
    }

    #[test]
    fn overrides_replace_and_revalidate() {
        let s = TestnetSpec::from_toml(FULL).expect("valid");
        let o = SpecOverrides {
            slots: Some(50),
            seed: Some(9),
            topology: Some("random:2".parse().expect("topology")),
            ..Default::default()
        };
        let t = s.clone().with_overrides(&o).expect("overrides");
        assert_eq!((t.slots, t.seed), (50, 9));
        assert_eq!(t.topology, Topology::Random { degree: 2 });
        // Fewer nodes than the scenario needs is refused.
        let o = SpecOverrides {
            nodes: Some(3),
            ..Default::default()
        };
        assert!(s.with_overrides(&o).is_err());
    }

    #[test]
    fn topology_strings_round_trip() {
        for s in ["line", "ring", "star", "random:5", "edges:0-1,1-2"] {
            let t: Topology = s.parse().expect(s);
            assert_eq!(t.to_string(), s);
        }
        assert!("edges:0+1".parse::<Topology>().is_err());
        assert!("random:x".parse::<Topology>().is_err());
    }

    #[test]
    fn the_default_testnet_is_valid_for_any_size() {
        for n in 1..=16 {
            TestnetSpec::default_for(n).validate().expect("default");
        }
    }
}
