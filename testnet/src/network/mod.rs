//! The link model of a testnet (the `[network]` section of a testnet file): one-way latency with
//! jitter per link (a default, a latency matrix between node *locations*, per-link overrides),
//! loss per link, and bandwidth per node (up / down) — with node *classes* in the style of
//! ethshadow, so a 100-node file stays short: a class puts nodes at a location (which gives the
//! latency between them and other nodes) with a reliability (which gives bandwidth and loss).
//! Plain data, typed validation ([`NetworkError`] names the key), and [`NetworkSpec::resolve`]
//! into what an engine applies per link and node. Engines check [`NetworkSpec::features`] and
//! refuse (exit 2) a key they cannot apply.
//!
//! ```toml
//! [network]
//! latency_ms = 20            # every link, unless a location pair or an override says otherwise
//! jitter_ms = 2              # uniform in [-jitter, +jitter] around the latency
//! loss = 0.0                 # fraction of packets lost on every link, each direction
//!
//! [network.locations]        # one-way latency between locations, ms (symmetric: one side is enough)
//! europe = { europe = 10, america = 80, asia = 150 }
//! america = { america = 10, asia = 120 }
//! asia = { asia = 15 }
//!
//! [network.reliabilities]    # bandwidth (Mbit/s) and loss of the nodes of a class
//! bad = { up_mbit = 2, down_mbit = 2, loss = 0.02 }
//!
//! [[network.class]]
//! nodes = "0-9"              # ranges and single indices: "0-9,12"
//! location = "europe"
//! reliability = "bad"
//!
//! [[network.link]]           # one link, both directions
//! link = [0, 3]
//! latency_ms = 120
//!
//! [[network.node]]           # one node's bandwidth or loss
//! node = 4
//! up_mbit = 2
//! ```
//!
//! Resolution: a link's latency is its override, else the matrix entry of its two nodes'
//! locations, else the default; its jitter is its override, else the default. The loss of a
//! direction A->B combines the link's loss (override, else default) with the reliability loss
//! of A and of B: `1 - (1-link)(1-A)(1-B)`. A node's bandwidth is its `[[network.node]]` entry,
//! else its class's reliability, else unlimited.

mod file;

pub use file::{mbit, parse_nodes, NetworkFile};

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Largest latency or jitter accepted (ms).
pub const MAX_LATENCY_MS: u64 = 10_000;
/// Smallest bandwidth accepted (Mbit/s).
pub const MIN_MBIT: f64 = 0.01;
/// Largest bandwidth accepted (Mbit/s).
pub const MAX_MBIT: f64 = 100_000.0;

/// A refused `[network]` section: the key and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {reason}")]
pub struct NetworkError {
    /// The key, as in the file (`network.class[1].location`).
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

fn bad(key: impl Into<String>, reason: impl Into<String>) -> NetworkError {
    NetworkError {
        key: key.into(),
        reason: reason.into(),
    }
}

/// A loss probability in parts per million (so specs stay `Eq`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loss(u32);

impl Loss {
    /// Parts per million in one.
    pub const SCALE: u32 = 1_000_000;

    /// From a fraction in 0..=1.
    pub fn from_fraction(key: &str, fraction: f64) -> Result<Loss, NetworkError> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(bad(
                key,
                format!("loss is a fraction between 0 and 1, got {fraction}"),
            ));
        }
        Ok(Loss((fraction * f64::from(Self::SCALE)).round() as u32))
    }

    /// As a fraction.
    pub fn fraction(self) -> f64 {
        f64::from(self.0) / f64::from(Self::SCALE)
    }

    /// Whether nothing is lost.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Independent losses in a row: `1 - (1-a)(1-b)`.
    pub fn combine(self, other: Loss) -> Loss {
        let keep = (1.0 - self.fraction()) * (1.0 - other.fraction());
        Loss(((1.0 - keep) * f64::from(Self::SCALE)).round() as u32)
    }
}

/// Latency, jitter and loss of a link (or the defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkParams {
    /// One-way latency.
    pub latency: Duration,
    /// Half-width of the uniform jitter.
    pub jitter: Duration,
    /// Loss each direction.
    pub loss: Loss,
}

/// Bandwidth and loss of a node (a reliability, or a node's own entry).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeShape {
    /// Upload, bits per second (None: unlimited).
    pub up_bps: Option<u64>,
    /// Download, bits per second.
    pub down_bps: Option<u64>,
    /// Loss of everything the node sends and receives.
    pub loss: Loss,
}

/// A node class: which nodes, where, how reliable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeClass {
    /// The nodes of the class.
    pub nodes: Vec<usize>,
    /// A key of `locations`.
    pub location: Option<String>,
    /// A key of `reliabilities`.
    pub reliability: Option<String>,
}

/// One link's overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkOverride {
    /// The link's two nodes.
    pub link: (usize, usize),
    /// Its latency.
    pub latency: Option<Duration>,
    /// Its jitter.
    pub jitter: Option<Duration>,
    /// Its loss, each direction.
    pub loss: Option<Loss>,
}

/// The `[network]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkSpec {
    /// Every link's parameters unless something more specific applies.
    pub default: LinkParams,
    /// Latency between locations (both orders present after parsing).
    pub locations: BTreeMap<String, BTreeMap<String, Duration>>,
    /// Named bandwidth + loss profiles.
    pub reliabilities: BTreeMap<String, NodeShape>,
    /// Node classes.
    pub classes: Vec<NodeClass>,
    /// Per-link overrides.
    pub links: Vec<LinkOverride>,
    /// Per-node bandwidth / loss.
    pub nodes: BTreeMap<usize, NodeShape>,
}

/// What a link model needs from an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Feature {
    /// A link latency.
    Latency,
    /// A jitter.
    Jitter,
    /// Packet loss.
    Loss,
    /// A bandwidth limit.
    Bandwidth,
}

/// What an engine applies: per link (unordered pair, low first) and per node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedNetwork {
    /// Latency and jitter of each link (both directions).
    pub delay: BTreeMap<(usize, usize), (Duration, Duration)>,
    /// Loss of each direction (only nonzero entries).
    pub loss: BTreeMap<(usize, usize), Loss>,
    /// Bandwidth of each node (index = node).
    pub bandwidth: Vec<(Option<u64>, Option<u64>)>,
}

impl NetworkSpec {
    /// Whether the section asks for nothing (every engine can run it).
    pub fn is_empty(&self) -> bool {
        self.features().is_empty()
    }

    /// The features used, each with the first key that uses it (for "cannot apply `key`").
    pub fn features(&self) -> BTreeMap<Feature, String> {
        let mut used = BTreeMap::new();
        let mut note = |f: Feature, key: String| {
            used.entry(f).or_insert(key);
        };
        if !self.default.latency.is_zero() {
            note(Feature::Latency, "network.latency_ms".into());
        }
        if !self.default.jitter.is_zero() {
            note(Feature::Jitter, "network.jitter_ms".into());
        }
        if !self.default.loss.is_zero() {
            note(Feature::Loss, "network.loss".into());
        }
        let used_locations = self.classes.iter().any(|c| c.location.is_some());
        if used_locations
            && self
                .locations
                .values()
                .flat_map(|m| m.values())
                .any(|d| !d.is_zero())
        {
            note(Feature::Latency, "network.locations".into());
        }
        for (i, class) in self.classes.iter().enumerate() {
            if let Some(shape) = class
                .reliability
                .as_ref()
                .and_then(|r| self.reliabilities.get(r))
            {
                if shape.up_bps.is_some() || shape.down_bps.is_some() {
                    note(
                        Feature::Bandwidth,
                        format!("network.class[{i}].reliability"),
                    );
                }
                if !shape.loss.is_zero() {
                    note(Feature::Loss, format!("network.class[{i}].reliability"));
                }
            }
        }
        for (i, o) in self.links.iter().enumerate() {
            if o.latency.is_some_and(|d| !d.is_zero()) {
                note(Feature::Latency, format!("network.link[{i}].latency_ms"));
            }
            if o.jitter.is_some_and(|d| !d.is_zero()) {
                note(Feature::Jitter, format!("network.link[{i}].jitter_ms"));
            }
            if o.loss.is_some_and(|l| !l.is_zero()) {
                note(Feature::Loss, format!("network.link[{i}].loss"));
            }
        }
        for (node, shape) in &self.nodes {
            if shape.up_bps.is_some() || shape.down_bps.is_some() {
                note(Feature::Bandwidth, format!("network.node (node {node})"));
            }
            if !shape.loss.is_zero() {
                note(Feature::Loss, format!("network.node (node {node}).loss"));
            }
        }
        used
    }

    /// Checks node indices against `nodes` and names against the tables.
    pub fn validate(&self, nodes: usize) -> Result<(), NetworkError> {
        let mut classed = BTreeSet::new();
        for (i, class) in self.classes.iter().enumerate() {
            for &n in &class.nodes {
                if n >= nodes {
                    return Err(bad(
                        format!("network.class[{i}].nodes"),
                        format!("node {n} does not exist (0..{nodes})"),
                    ));
                }
                if !classed.insert(n) {
                    return Err(bad(
                        format!("network.class[{i}].nodes"),
                        format!("node {n} is in two classes"),
                    ));
                }
            }
            if let Some(loc) = &class.location {
                if !self.locations.contains_key(loc) {
                    return Err(bad(
                        format!("network.class[{i}].location"),
                        format!("no location `{loc}` in network.locations"),
                    ));
                }
            }
            if let Some(rel) = &class.reliability {
                if !self.reliabilities.contains_key(rel) {
                    return Err(bad(
                        format!("network.class[{i}].reliability"),
                        format!("no reliability `{rel}` in network.reliabilities"),
                    ));
                }
            }
        }
        // Every pair of locations in use needs a latency.
        let used: BTreeSet<&String> = self
            .classes
            .iter()
            .filter_map(|c| c.location.as_ref())
            .collect();
        for a in &used {
            for b in &used {
                if !self.locations.get(*a).is_some_and(|m| m.contains_key(*b)) {
                    return Err(bad(
                        format!("network.locations.{a}"),
                        format!("no latency to `{b}` (give it on either side)"),
                    ));
                }
            }
        }
        for (i, o) in self.links.iter().enumerate() {
            let (a, b) = o.link;
            if a >= nodes || b >= nodes || a == b {
                return Err(bad(
                    format!("network.link[{i}].link"),
                    format!("[{a}, {b}] is not a pair of distinct nodes of 0..{nodes}"),
                ));
            }
        }
        if let Some(n) = self.nodes.keys().find(|n| **n >= nodes) {
            return Err(bad(
                "network.node",
                format!("node {n} does not exist (0..{nodes})"),
            ));
        }
        Ok(())
    }

    fn class_of(&self, node: usize) -> Option<&NodeClass> {
        self.classes.iter().find(|c| c.nodes.contains(&node))
    }

    /// A node's shape: its own entry, else its class's reliability, else unlimited.
    pub fn node_shape(&self, node: usize) -> NodeShape {
        if let Some(shape) = self.nodes.get(&node) {
            return *shape;
        }
        self.class_of(node)
            .and_then(|c| c.reliability.as_ref())
            .and_then(|r| self.reliabilities.get(r))
            .copied()
            .unwrap_or_default()
    }

    /// A link's parameters before node reliabilities.
    pub fn link_params(&self, a: usize, b: usize) -> LinkParams {
        let (a, b) = (a.min(b), a.max(b));
        let over = self
            .links
            .iter()
            .rev()
            .find(|o| (o.link.0.min(o.link.1), o.link.0.max(o.link.1)) == (a, b));
        let located = match (
            self.class_of(a).and_then(|c| c.location.as_ref()),
            self.class_of(b).and_then(|c| c.location.as_ref()),
        ) {
            (Some(la), Some(lb)) => self.locations.get(la).and_then(|m| m.get(lb)).copied(),
            _ => None,
        };
        LinkParams {
            latency: over
                .and_then(|o| o.latency)
                .or(located)
                .unwrap_or(self.default.latency),
            jitter: over.and_then(|o| o.jitter).unwrap_or(self.default.jitter),
            loss: over.and_then(|o| o.loss).unwrap_or(self.default.loss),
        }
    }

    /// What to apply for `nodes` nodes linked by `edges`.
    pub fn resolve(&self, nodes: usize, edges: &[(usize, usize)]) -> ResolvedNetwork {
        let mut out = ResolvedNetwork::default();
        for &(a, b) in edges {
            let p = self.link_params(a, b);
            if !p.latency.is_zero() || !p.jitter.is_zero() {
                out.delay
                    .insert((a.min(b), a.max(b)), (p.latency, p.jitter));
            }
            let (sa, sb) = (self.node_shape(a), self.node_shape(b));
            let loss = p.loss.combine(sa.loss).combine(sb.loss);
            if !loss.is_zero() {
                out.loss.insert((a, b), loss);
                out.loss.insert((b, a), loss);
            }
        }
        out.bandwidth = (0..nodes)
            .map(|n| {
                let s = self.node_shape(n);
                (s.up_bps, s.down_bps)
            })
            .collect();
        out
    }
}

impl ResolvedNetwork {
    /// The least sum of link latencies (jitter left out) from `from` to every node over `edges`
    /// (`None`: unreachable): what the links alone would take, the floor of propagation.
    pub fn latency_floor(
        &self,
        nodes: usize,
        edges: &[(usize, usize)],
        from: usize,
    ) -> Vec<Option<Duration>> {
        let mut best: Vec<Option<Duration>> = vec![None; nodes];
        let mut queue = std::collections::BinaryHeap::new();
        if from < nodes {
            best[from] = Some(Duration::ZERO);
            queue.push(std::cmp::Reverse((Duration::ZERO, from)));
        }
        while let Some(std::cmp::Reverse((d, n))) = queue.pop() {
            if best[n].is_some_and(|b| b < d) {
                continue;
            }
            for &(a, b) in edges {
                let next = match (a == n, b == n) {
                    (true, _) => b,
                    (_, true) => a,
                    _ => continue,
                };
                let link = self
                    .delay
                    .get(&(a.min(b), a.max(b)))
                    .map_or(Duration::ZERO, |(l, _)| *l);
                let total = d + link;
                if next < nodes && best[next].is_none_or(|b| total < b) {
                    best[next] = Some(total);
                    queue.push(std::cmp::Reverse((total, next)));
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests;
