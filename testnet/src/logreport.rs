//! The report's numbers taken from node event logs, the same way for every engine: propagation
//! of blocks and attestations (from the origin's `produced` / `attested` line to each node's
//! first non-duplicate `*_received` line, on the nodes' own clocks), and per-node gossip
//! counters (received, duplicates, relayed, originated). Plain.

use std::collections::BTreeMap;

use crate::eventlog::{NodeEvent, NodeLog};
use crate::invariants::Outage;
use crate::report::{LatencySummary, Propagation};

/// Which gossip objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Blocks (`produced` -> `block_received`).
    Blocks,
    /// Attestations (`attested` -> `attestation_received`).
    Attestations,
}

/// Raw propagation samples of one topic, milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PropagationSamples {
    /// Distinct objects originated.
    pub objects: usize,
    /// Objects every node live at their origin received by gossip.
    pub reached_all: usize,
    /// Per object that reached all: time until the last node had it.
    pub to_all_nodes: Vec<f64>,
    /// Per (object, receiving node): time until that node first had it.
    pub per_node: Vec<f64>,
}

/// A node's gossip counters from its log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCounters {
    /// Gossip messages received (blocks and attestations).
    pub received: u64,
    /// ...for an object it already had.
    pub duplicates: u64,
    /// Objects relayed (one per `relayed` line).
    pub relayed: u64,
    /// Frames those relays took (the sum of `peers`).
    pub relayed_frames: u64,
    /// Objects it originated.
    pub originated: u64,
}

/// One object's propagation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectSamples {
    /// Its slot (the block's, or the attested one).
    pub slot: u64,
    /// When its origin made it (µs, the origin's clock).
    pub origin_us: u64,
    /// Per receiving node that had it: time until it first did, ms.
    pub per_node: Vec<f64>,
    /// Nodes live at its origin time that never received it by gossip.
    pub missed: usize,
}

/// Propagation of `topic` across `logs` (index = node), with `outages` telling who was live.
pub fn propagation(logs: &[NodeLog], outages: &[Outage], topic: Topic) -> PropagationSamples {
    let objects = per_object(logs, outages, topic);
    let mut out = PropagationSamples {
        objects: objects.len(),
        ..Default::default()
    };
    for o in objects {
        if o.missed == 0 {
            out.reached_all += 1;
            out.to_all_nodes
                .push(o.per_node.iter().copied().fold(0.0, f64::max));
        }
        out.per_node.extend(o.per_node);
    }
    out
}

/// Propagation of each object of `topic`, in the order of their hashes.
pub fn per_object(logs: &[NodeLog], outages: &[Outage], topic: Topic) -> Vec<ObjectSamples> {
    // Origin time, node and slot of each object (earliest origin line).
    let mut origin: BTreeMap<&str, (u64, usize, u64)> = BTreeMap::new();
    // First receipt per (object, node).
    let mut first: BTreeMap<(&str, usize), u64> = BTreeMap::new();
    let mut started: Vec<Option<u64>> = vec![None; logs.len()];
    for (node, log) in logs.iter().enumerate() {
        for line in &log.lines {
            let t = line.t_us;
            match (&line.event, topic) {
                (NodeEvent::Started { .. }, _) => {
                    started[node] = Some(started[node].map_or(t, |s| s.min(t)));
                }
                (
                    NodeEvent::Produced {
                        hash: root, slot, ..
                    },
                    Topic::Blocks,
                )
                | (
                    NodeEvent::Attested {
                        hash: root, slot, ..
                    },
                    Topic::Attestations,
                ) => {
                    let e = origin.entry(root.as_str()).or_insert((t, node, *slot));
                    if t < e.0 {
                        *e = (t, node, *slot);
                    }
                }
                (
                    NodeEvent::BlockReceived {
                        hash: root,
                        duplicate: false,
                        ..
                    },
                    Topic::Blocks,
                )
                | (
                    NodeEvent::AttestationReceived {
                        hash: root,
                        duplicate: false,
                        ..
                    },
                    Topic::Attestations,
                ) => {
                    first
                        .entry((root.as_str(), node))
                        .and_modify(|f| *f = (*f).min(t))
                        .or_insert(t);
                }
                _ => {}
            }
        }
    }
    let live = |node: usize, t: u64| {
        started[node].is_some_and(|s| s <= t)
            && !outages
                .iter()
                .any(|o| o.node == node && o.from_us <= t && o.until_us.is_none_or(|u| t < u))
    };
    let mut out = Vec::with_capacity(origin.len());
    for (object, (t0, from, slot)) in &origin {
        let mut o = ObjectSamples {
            slot: *slot,
            origin_us: *t0,
            ..Default::default()
        };
        for node in (0..logs.len()).filter(|n| n != from) {
            match first.get(&(*object, node)) {
                Some(t) if *t >= *t0 => o.per_node.push((*t - *t0) as f64 / 1000.0),
                // A receipt stamped before the origin: clocks of one machine do not do that,
                // count it as instant rather than drop it.
                Some(_) => o.per_node.push(0.0),
                None if live(node, *t0) => o.missed += 1,
                None => {}
            }
        }
        out.push(o);
    }
    out
}

impl PropagationSamples {
    /// As the report shows it (nearest-rank percentiles).
    pub fn summary(&self) -> Propagation {
        Propagation {
            objects: self.objects,
            reached_all: self.reached_all,
            to_all_nodes: LatencySummary::of(&self.to_all_nodes),
            per_node: LatencySummary::of(&self.per_node),
        }
    }
}

/// Each node's counters.
pub fn counters(logs: &[NodeLog]) -> Vec<LogCounters> {
    logs.iter()
        .map(|log| {
            let mut c = LogCounters::default();
            for line in &log.lines {
                match &line.event {
                    NodeEvent::BlockReceived { duplicate, .. }
                    | NodeEvent::AttestationReceived { duplicate, .. } => {
                        c.received += 1;
                        c.duplicates += u64::from(*duplicate);
                    }
                    NodeEvent::Relayed { peers, .. } => {
                        c.relayed += 1;
                        c.relayed_frames += u64::from(*peers);
                    }
                    NodeEvent::Produced { .. } | NodeEvent::Attested { .. } => c.originated += 1,
                    _ => {}
                }
            }
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventlog::LogLine;

    fn line(t_us: u64, event: NodeEvent) -> LogLine {
        LogLine { t_us, event }
    }
    fn started(t: u64) -> LogLine {
        line(
            t,
            NodeEvent::Started {
                node_id: "0x1".into(),
                listen: "x".into(),
                genesis_root: "0xg".into(),
                head_slot: 0,
                head_root: "0xg".into(),
                finalized_epoch: 0,
                finalized_root: "0xg".into(),
                from_store: false,
            },
        )
    }
    fn received(t: u64, root: &str, duplicate: bool) -> LogLine {
        line(
            t,
            NodeEvent::BlockReceived {
                hash: root.into(),
                from: "p".into(),
                duplicate,
            },
        )
    }

    #[test]
    fn latency_from_origin_to_first_receipt_and_counters() {
        let logs = vec![
            NodeLog {
                lines: vec![
                    started(0),
                    line(
                        1_000_000,
                        NodeEvent::Produced {
                            root: "0xr1".into(),
                            hash: "0xb1".into(),
                            slot: 1,
                        },
                    ),
                    line(
                        1_000_100,
                        NodeEvent::Relayed {
                            kind: "block".into(),
                            hash: "0xb1".into(),
                            peers: 2,
                        },
                    ),
                ],
                skipped: 0,
            },
            NodeLog {
                lines: vec![
                    started(0),
                    received(1_002_000, "0xb1", false),
                    received(1_009_000, "0xb1", true),
                ],
                skipped: 0,
            },
            NodeLog {
                lines: vec![started(0), received(1_005_000, "0xb1", false)],
                skipped: 0,
            },
            // Node 3 starts after the block: not expected to have it.
            NodeLog {
                lines: vec![started(2_000_000)],
                skipped: 0,
            },
        ];
        let p = propagation(&logs, &[], Topic::Blocks);
        assert_eq!(p.objects, 1);
        assert_eq!(p.reached_all, 1);
        assert_eq!(p.per_node, vec![2.0, 5.0]);
        assert_eq!(p.to_all_nodes, vec![5.0]);
        let c = counters(&logs);
        assert_eq!(
            c[0],
            LogCounters {
                relayed: 1,
                relayed_frames: 2,
                originated: 1,
                ..Default::default()
            }
        );
        assert_eq!(
            c[1],
            LogCounters {
                received: 2,
                duplicates: 1,
                ..Default::default()
            }
        );
    }

    #[test]
    fn a_live_node_that_never_got_it_means_not_reached_all() {
        let logs = vec![
            NodeLog {
                lines: vec![
                    started(0),
                    line(
                        1_000,
                        NodeEvent::Produced {
                            root: "0xr1".into(),
                            hash: "0xb1".into(),
                            slot: 1,
                        },
                    ),
                ],
                skipped: 0,
            },
            NodeLog {
                lines: vec![started(0)],
                skipped: 0,
            },
        ];
        let p = propagation(&logs, &[], Topic::Blocks);
        assert_eq!((p.objects, p.reached_all), (1, 0));
        // ...unless it was down then.
        let down = [Outage {
            node: 1,
            from_us: 500,
            until_us: None,
        }];
        assert_eq!(propagation(&logs, &down, Topic::Blocks).reached_all, 1);
    }
}
