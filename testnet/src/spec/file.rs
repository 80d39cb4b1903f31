//! The TOML shape of a testnet file (unknown keys refused) and its conversion to a
//! [`TestnetSpec`]: defaults for missing keys, topology tables and `[[event]]` tables checked field
//! by field. Handles no messages.

use std::time::Duration;

use serde::Deserialize;

use super::{Action, GossipOverlay, ScenarioEvent, SpecError, TestnetSpec, Topology};
use crate::network::{mbit, Loss, NetworkFile, NetworkSpec};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    nodes: Option<usize>,
    seed: Option<u64>,
    producers: Option<Vec<usize>>,
    dialect: Option<String>,
    #[serde(default)]
    node: Vec<NodeFile>,
    slot_ms: Option<u64>,
    slots: Option<u64>,
    settle_ms: Option<u64>,
    topology: Option<TopologyFile>,
    #[serde(default)]
    event: Vec<EventFile>,
    #[serde(default)]
    persistent: Vec<usize>,
    engine: Option<String>,
    network: Option<NetworkFile>,
    gossip_overlay: Option<GossipOverlayFile>,
    attest: Option<bool>,
}

/// `gossip_overlay = true` or `[gossip_overlay]` with `default`, `overlay`, `flood`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum GossipOverlayFile {
    All(bool),
    Nodes(GossipOverlayTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GossipOverlayTable {
    default: Option<bool>,
    #[serde(default)]
    overlay: Vec<usize>,
    #[serde(default)]
    flood: Vec<usize>,
}

/// A `[[node]]` table: keys of one node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeFile {
    index: usize,
    dialect: Option<String>,
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
    groups: Option<std::collections::BTreeMap<String, Vec<usize>>>,
    loss: Option<f64>,
    up_mbit: Option<f64>,
    down_mbit: Option<f64>,
    skew_ms: Option<i64>,
}

pub(super) fn parse_file(text: &str) -> Result<TestnetSpec, SpecError> {
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
    spec.dialects = dialects_from_file(parsed.dialect, parsed.node)?;
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
    spec.persistent = parsed.persistent;
    spec.engine = parsed.engine.map(|e| e.parse()).transpose()?;
    if let Some(n) = parsed.network {
        spec.network = NetworkSpec::from_file(n)?;
    }
    spec.gossip_overlay = match parsed.gossip_overlay {
        None => GossipOverlay::default(),
        Some(GossipOverlayFile::All(on)) => GossipOverlay::all(on),
        Some(GossipOverlayFile::Nodes(t)) => GossipOverlay {
            default: t.default.unwrap_or(false),
            overlay: t.overlay.into_iter().collect(),
            flood: t.flood.into_iter().collect(),
        },
    };
    spec.attest = parsed.attest;
    for (index, e) in parsed.event.into_iter().enumerate() {
        spec.events.push(event_from_file(index, e)?);
    }
    Ok(spec)
}

fn dialects_from_file(
    default: Option<String>,
    nodes: Vec<NodeFile>,
) -> Result<super::Dialects, SpecError> {
    let parse = |key: String, text: &str| {
        text.parse::<super::Dialect>()
            .map_err(|reason| SpecError::Dialect {
                reason: format!("{key}: {reason}"),
            })
    };
    let mut dialects = super::Dialects::default();
    if let Some(d) = default {
        dialects.default = parse("`dialect`".into(), &d)?;
    }
    for n in nodes {
        let key = format!("`[[node]]` index {} `dialect`", n.index);
        if let Some(d) = n.dialect {
            let d = parse(key.clone(), &d)?;
            if dialects.per_node.insert(n.index, d).is_some() {
                return Err(SpecError::Dialect {
                    reason: format!("{key}: node {} has two `[[node]]` tables", n.index),
                });
            }
        }
    }
    Ok(dialects)
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
        other if t.degree.is_none() && t.edges.is_none() => Ok(other.parse()?),
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
        "freeze" => Action::Freeze { node: node()? },
        "thaw" => Action::Thaw { node: node()? },
        "partition" => Action::Partition {
            groups: e
                .groups
                .clone()
                .ok_or_else(|| fail("needs `groups = { name = [nodes], ... }`"))?
                .into_iter()
                .collect(),
        },
        "heal_partition" => Action::HealPartition,
        "loss" => {
            let (a, b) = link()?;
            let fraction = e.loss.ok_or_else(|| fail("needs `loss` (a fraction)"))?;
            let loss = Loss::from_fraction("loss", fraction).map_err(|err| fail(&err.reason))?;
            Action::SetLoss { a, b, loss }
        }
        "bandwidth" => {
            let rate = |v: Option<f64>, key: &str| {
                v.map(|v| mbit(key, v))
                    .transpose()
                    .map_err(|err| fail(&err.to_string()))
            };
            Action::SetBandwidth {
                node: node()?,
                up_bps: rate(e.up_mbit, "up_mbit")?,
                down_bps: rate(e.down_mbit, "down_mbit")?,
            }
        }
        "clock_skew" => Action::ClockSkew {
            node: node()?,
            skew_ms: e
                .skew_ms
                .ok_or_else(|| fail("needs `skew_ms` (negative: behind)"))?,
        },
        _ => {
            return Err(fail(
                "unknown action (join, kill, restart, cut, heal, snapshot_join, freeze, thaw, \
                 partition, heal_partition, loss, bandwidth, clock_skew)",
            ))
        }
    };
    Ok(ScenarioEvent {
        at_slot: e.at_slot,
        action,
    })
}
