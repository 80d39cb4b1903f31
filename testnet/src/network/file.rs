//! The `[network]` table as written in a testnet file (unknown keys refused) and its conversion
//! to a [`NetworkSpec`]: durations, bandwidths and losses checked, location pairs made symmetric,
//! node lists (`"0-9,12"`) expanded. Errors name the key. Handles no messages.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{bad, LinkOverride, LinkParams, Loss, NetworkError, NetworkSpec, NodeClass, NodeShape};
use super::{MAX_LATENCY_MS, MAX_MBIT, MIN_MBIT};

impl NetworkSpec {
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
