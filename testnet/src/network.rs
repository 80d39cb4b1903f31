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

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

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

    /// Parses the TOML shape (already deserialized).
    pub fn from_file(file: NetworkFile) -> Result<NetworkSpec, NetworkError> {
        let mut spec = NetworkSpec {
            default: LinkParams {
                latency: ms("network.latency_ms", file.latency_ms)?,
                jitter: ms("network.jitter_ms", file.jitter_ms)?,
                loss: Loss::from_fraction("network.loss", file.loss.unwrap_or(0.0))?,
            },
            ..Default::default()
        };
        for (from, row) in file.locations {
            for (to, latency) in row {
                let key = format!("network.locations.{from}.{to}");
                let d = ms(&key, Some(latency))?;
                for (x, y) in [(&from, &to), (&to, &from)] {
                    let entry = spec.locations.entry(x.clone()).or_default();
                    if let Some(prev) = entry.insert(y.clone(), d) {
                        if prev != d {
                            return Err(bad(
                                key,
                                format!(
                                    "{x}-{y} is given twice ({} and {} ms)",
                                    prev.as_millis(),
                                    d.as_millis()
                                ),
                            ));
                        }
                    }
                }
            }
        }
        for (name, r) in file.reliabilities {
            let key = format!("network.reliabilities.{name}");
            spec.reliabilities
                .insert(name, shape(&key, r.up_mbit, r.down_mbit, r.loss)?);
        }
        for (i, c) in file.class.into_iter().enumerate() {
            let nodes = parse_nodes(&c.nodes)
                .map_err(|reason| bad(format!("network.class[{i}].nodes"), reason))?;
            spec.classes.push(NodeClass {
                nodes,
                location: c.location,
                reliability: c.reliability,
            });
        }
        for (i, l) in file.link.into_iter().enumerate() {
            let key = |k: &str| format!("network.link[{i}].{k}");
            let link = match l.link.as_slice() {
                [a, b] => (*a, *b),
                _ => return Err(bad(key("link"), "needs `link = [a, b]`")),
            };
            spec.links.push(LinkOverride {
                link,
                latency: l
                    .latency_ms
                    .map(|v| ms(&key("latency_ms"), Some(v)))
                    .transpose()?,
                jitter: l
                    .jitter_ms
                    .map(|v| ms(&key("jitter_ms"), Some(v)))
                    .transpose()?,
                loss: l
                    .loss
                    .map(|v| Loss::from_fraction(&key("loss"), v))
                    .transpose()?,
            });
        }
        for (i, n) in file.node.into_iter().enumerate() {
            let key = format!("network.node[{i}]");
            let s = shape(&key, n.up_mbit, n.down_mbit, n.loss)?;
            if spec.nodes.insert(n.node, s).is_some() {
                return Err(bad(key, format!("node {} is given twice", n.node)));
            }
        }
        Ok(spec)
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

fn ms(key: &str, value: Option<u64>) -> Result<Duration, NetworkError> {
    match value {
        Some(v) if v > MAX_LATENCY_MS => {
            Err(bad(key, format!("at most {MAX_LATENCY_MS} ms, got {v}")))
        }
        Some(v) => Ok(Duration::from_millis(v)),
        None => Ok(Duration::ZERO),
    }
}

/// Mbit/s to bits/s, in range.
pub fn mbit(key: &str, value: f64) -> Result<u64, NetworkError> {
    if !(MIN_MBIT..=MAX_MBIT).contains(&value) {
        return Err(bad(
            key,
            format!("bandwidth between {MIN_MBIT} and {MAX_MBIT} Mbit/s, got {value}"),
        ));
    }
    Ok((value * 1e6).round() as u64)
}

fn shape(
    key: &str,
    up: Option<f64>,
    down: Option<f64>,
    loss: Option<f64>,
) -> Result<NodeShape, NetworkError> {
    Ok(NodeShape {
        up_bps: up.map(|v| mbit(&format!("{key}.up_mbit"), v)).transpose()?,
        down_bps: down
            .map(|v| mbit(&format!("{key}.down_mbit"), v))
            .transpose()?,
        loss: Loss::from_fraction(&format!("{key}.loss"), loss.unwrap_or(0.0))?,
    })
}

/// `"0-9,12"` -> [0..=9, 12].
pub fn parse_nodes(text: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>(), b.trim().parse::<usize>()),
            None => (part.parse(), part.parse()),
        };
        match (lo, hi) {
            (Ok(lo), Ok(hi)) if lo <= hi && hi - lo < 100_000 => out.extend(lo..=hi),
            _ => return Err(format!("`{part}` is not a node or a range A-B")),
        }
    }
    if out.is_empty() {
        return Err("no nodes (expected e.g. \"0-9,12\")".into());
    }
    Ok(out)
}

/// The `[network]` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFile {
    latency_ms: Option<u64>,
    jitter_ms: Option<u64>,
    loss: Option<f64>,
    #[serde(default)]
    locations: BTreeMap<String, BTreeMap<String, u64>>,
    #[serde(default)]
    reliabilities: BTreeMap<String, ShapeFile>,
    #[serde(default)]
    class: Vec<ClassFile>,
    #[serde(default)]
    link: Vec<LinkFile>,
    #[serde(default)]
    node: Vec<NodeFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShapeFile {
    up_mbit: Option<f64>,
    down_mbit: Option<f64>,
    loss: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassFile {
    nodes: String,
    location: Option<String>,
    reliability: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkFile {
    link: Vec<usize>,
    latency_ms: Option<u64>,
    jitter_ms: Option<u64>,
    loss: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeFile {
    node: usize,
    up_mbit: Option<f64>,
    down_mbit: Option<f64>,
    loss: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Wrapper {
        network: NetworkFile,
    }

    fn parse(text: &str) -> Result<NetworkSpec, NetworkError> {
        let w: Wrapper = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| bad("network", e.to_string()))?;
        NetworkSpec::from_file(w.network)
    }

    const WORLD: &str = r#"
        [network]
        latency_ms = 20
        jitter_ms = 2
        [network.locations]
        europe = { europe = 10, america = 80, asia = 150 }
        america = { america = 10, asia = 120 }
        asia = { asia = 15 }
        [network.reliabilities]
        bad = { up_mbit = 2, down_mbit = 2, loss = 0.02 }
        [[network.class]]
        nodes = "0-1"
        location = "europe"
        [[network.class]]
        nodes = "2"
        location = "asia"
        reliability = "bad"
        [[network.link]]
        link = [1, 0]
        latency_ms = 3
        [[network.node]]
        node = 3
        down_mbit = 0.5
    "#;

    #[test]
    fn resolves_overrides_then_locations_then_defaults() {
        let spec = parse(WORLD).expect("parses");
        spec.validate(4).expect("valid");
        let ms = Duration::from_millis;
        assert_eq!(
            spec.link_params(0, 1).latency,
            ms(3),
            "override, either order"
        );
        assert_eq!(spec.link_params(0, 2).latency, ms(150), "europe-asia");
        assert_eq!(spec.link_params(2, 1).latency, ms(150), "symmetric");
        assert_eq!(
            spec.link_params(2, 3).latency,
            ms(20),
            "node 3 has no location: default"
        );
        assert_eq!(spec.link_params(0, 2).jitter, ms(2));
        let r = spec.resolve(4, &[(0, 1), (0, 2), (2, 3)]);
        assert_eq!(r.delay[&(0, 2)], (ms(150), ms(2)));
        assert_eq!(r.loss.get(&(0, 1)), None);
        assert_eq!(r.loss[&(0, 2)], Loss(20_000));
        assert_eq!(r.loss[&(2, 0)], Loss(20_000));
        assert_eq!(
            r.bandwidth,
            vec![
                (None, None),
                (None, None),
                (Some(2_000_000), Some(2_000_000)),
                (None, Some(500_000))
            ]
        );
        let features: Vec<Feature> = spec.features().into_keys().collect();
        assert_eq!(
            features,
            vec![
                Feature::Latency,
                Feature::Jitter,
                Feature::Loss,
                Feature::Bandwidth
            ]
        );
        assert_eq!(
            spec.features()[&Feature::Loss],
            "network.class[1].reliability"
        );
    }

    #[test]
    fn the_latency_floor_is_the_shortest_path() {
        let spec = parse(WORLD).expect("parses");
        // 0-1 3 ms (override), 0-2 150 ms, 1-2 150 ms, 2-3 20 ms (node 3 has no location).
        let edges = [(0, 1), (0, 2), (1, 2), (2, 3)];
        let r = spec.resolve(5, &edges);
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(
            r.latency_floor(5, &edges, 1),
            vec![ms(3), ms(0), ms(150), ms(170), None]
        );
    }

    #[test]
    fn losses_combine_independently() {
        let a = Loss::from_fraction("x", 0.1).expect("ok");
        let b = Loss::from_fraction("x", 0.2).expect("ok");
        assert_eq!(a.combine(b), Loss(280_000));
        assert_eq!(Loss::default().combine(a), a);
    }

    #[test]
    fn refusals_name_the_key() {
        let cases = [
            ("[network]\nloss = 1.5", "network.loss"),
            ("[network]\nlatency_ms = 20000", "network.latency_ms"),
            (
                "[network.reliabilities]\nx = { up_mbit = 0 }",
                "network.reliabilities.x.up_mbit",
            ),
            (
                "[[network.class]]\nnodes = \"0-x\"",
                "network.class[0].nodes",
            ),
            ("[[network.link]]\nlink = [1]", "network.link[0].link"),
            (
                "[network.locations]\na = { b = 1 }\nb = { a = 2 }",
                "network.locations.b.a",
            ),
            (
                "[[network.node]]\nnode = 1\n[[network.node]]\nnode = 1",
                "network.node[1]",
            ),
        ];
        for (text, key) in cases {
            let err = parse(text).expect_err(text);
            assert_eq!(err.key, key, "{text}: {err}");
        }
        let validate = [
            ("[[network.class]]\nnodes = \"0-5\"", "network.class[0].nodes"),
            ("[[network.class]]\nnodes = \"0\"\n[[network.class]]\nnodes = \"0\"", "network.class[1].nodes"),
            ("[[network.class]]\nnodes = \"0\"\nlocation = \"mars\"", "network.class[0].location"),
            ("[[network.class]]\nnodes = \"0\"\nreliability = \"x\"", "network.class[0].reliability"),
            ("[network.locations]\na = { a = 1 }\nb = { b = 1 }\n[[network.class]]\nnodes = \"0\"\nlocation = \"a\"\n[[network.class]]\nnodes = \"1\"\nlocation = \"b\"", "network.locations.a"),
            ("[[network.link]]\nlink = [1, 1]", "network.link[0].link"),
            ("[[network.node]]\nnode = 9", "network.node"),
        ];
        for (text, key) in validate {
            let err = parse(text).expect("parses").validate(4).expect_err(text);
            assert_eq!(err.key, key, "{text}: {err}");
        }
        let unknown = parse("[network]\nlatncy_ms = 3").expect_err("unknown key");
        assert!(unknown.reason.contains("latncy_ms"), "{unknown}");
    }

    #[test]
    fn empty_section_uses_no_feature() {
        let spec = parse("[network]\nlatency_ms = 0").expect("parses");
        assert!(spec.is_empty());
        assert_eq!(spec.resolve(2, &[(0, 1)]).delay.len(), 0);
    }

    #[test]
    fn node_lists() {
        assert_eq!(parse_nodes("0-2, 5").expect("ok"), vec![0, 1, 2, 5]);
        assert!(parse_nodes("3-1").is_err());
        assert!(parse_nodes("").is_err());
        assert!(parse_nodes("0-9999999").is_err());
    }
}
