//! The report of a Shadow run, from the nodes' own event logs (simulated clock, one for every
//! host): [`record`] adds the scenario's outages and faults (kills until their restart) to the
//! logs for the invariants, and [`build`] takes heads, convergence, catch-up, the timeline,
//! propagation and gossip counters from them, with the same code as the other engines where
//! there is one ([`crate::logreport`], [`crate::invariants`]). Plain.

use std::collections::BTreeSet;
use std::time::Duration;

use super::config::{ProcessEnd, ShadowPlan, SHADOW_EPOCH_S, START};
use crate::eventlog::{NodeEvent, NodeLog};
use crate::invariants::{Fault, Outage, RunRecord};
use crate::logreport::{self, Topic};
use crate::report::{CatchUp, EventRecord, HeadSample, LatencySummary, NodeReport, TestnetReport};
use crate::spec::{Action, TestnetSpec};

/// Most timeline samples (as the driver's `run::MAX_TIMELINE_SAMPLES`).
const MAX_TIMELINE_SAMPLES: usize = 4096;

/// Simulated time `d` as microseconds since the Unix epoch (the logs' clock).
fn us(d: Duration) -> u64 {
    SHADOW_EPOCH_S * 1_000_000 + d.as_micros() as u64
}

/// Milliseconds from the run's start ([`START`]) to `t_us`.
fn rel_ms(t_us: u64) -> f64 {
    t_us.saturating_sub(us(START)) as f64 / 1000.0
}

/// The logs with the outages (each kill until the node's next start) and faults (each kill,
/// ended by its restart) of the plan.
pub fn record(plan: &ShadowPlan, logs: Vec<NodeLog>) -> RunRecord {
    let end_us = us(plan.stop);
    let mut outages = Vec::new();
    let mut faults = Vec::new();
    for (node, procs) in plan.processes.iter().enumerate() {
        for (i, p) in procs.iter().enumerate() {
            let ProcessEnd::Killed(t) = p.end else {
                continue;
            };
            let back = procs.get(i + 1).map(|next| us(next.start));
            outages.push(Outage {
                node,
                from_us: us(t),
                until_us: back,
            });
            faults.push(Fault {
                label: match back {
                    Some(_) => format!("kill -9 node {node}"),
                    None => format!("kill -9 node {node} (never ended)"),
                },
                start_us: us(t),
                end_us: back.unwrap_or(end_us),
            });
        }
    }
    RunRecord {
        logs,
        outages,
        faults,
        end_us,
    }
}

/// A node's head (slot, root) and finalized (epoch, root) after each line, with its time.
fn states(log: &NodeLog) -> Vec<(u64, u64, String)> {
    log.lines
        .iter()
        .filter_map(|l| match &l.event {
            NodeEvent::Started {
                head_slot,
                head_root,
                ..
            } => Some((l.t_us, *head_slot, head_root.clone())),
            NodeEvent::HeadChanged { root, slot, .. } => Some((l.t_us, *slot, root.clone())),
            _ => None,
        })
        .collect()
}

fn finalized(log: &NodeLog) -> Option<(u64, String)> {
    log.lines.iter().rev().find_map(|l| match &l.event {
        NodeEvent::Started {
            finalized_epoch,
            finalized_root,
            ..
        } => Some((*finalized_epoch, finalized_root.clone())),
        NodeEvent::FinalizedChanged { epoch, root } => Some((*epoch, root.clone())),
        _ => None,
    })
}

/// Whether some process of `node` runs at simulated `t`.
fn running_at(plan: &ShadowPlan, node: usize, t: Duration) -> bool {
    plan.processes[node].iter().any(|p| {
        p.start <= t
            && match p.end {
                ProcessEnd::Running => true,
                ProcessEnd::Killed(e) | ProcessEnd::Stopped(e) => t < e,
            }
    })
}

/// The head slot `node` had at `t_us` (None before its first line).
fn head_at(states: &[(u64, u64, String)], t_us: u64) -> Option<u64> {
    states.iter().rev().find(|s| s.0 <= t_us).map(|s| s.1)
}

/// Peers connected at the end of `log` (the last process's connections).
fn peers_at_end(log: &NodeLog) -> usize {
    let mut peers = BTreeSet::new();
    for l in &log.lines {
        match &l.event {
            NodeEvent::Started { .. } => peers.clear(),
            NodeEvent::PeerConnected { peer, .. } => {
                peers.insert(peer.as_str());
            }
            NodeEvent::PeerDisconnected { peer, .. } => {
                peers.remove(peer.as_str());
            }
            _ => {}
        }
    }
    peers.len()
}

/// The report of a run whose logs and timeline are `record`.
pub fn build(spec: &TestnetSpec, plan: &ShadowPlan, record: &RunRecord) -> TestnetReport {
    let invariants = record.check();
    let converged = invariants
        .iter()
        .find(|i| i.name == "converged")
        .is_some_and(|i| i.ok);
    let logs = &record.logs;
    let heads: Vec<Vec<(u64, u64, String)>> = logs.iter().map(states).collect();
    let counters = logreport::counters(logs);
    let blocks = logreport::propagation(logs, &record.outages, Topic::Blocks);
    let attestations = logreport::propagation(logs, &record.outages, Topic::Attestations);
    let ids = &plan.node_ids;
    let live_at_end = |n: usize| {
        plan.processes[n]
            .last()
            .is_some_and(|p| !matches!(p.end, ProcessEnd::Killed(_)))
    };
    let node_reports: Vec<NodeReport> = (0..spec.nodes)
        .map(|n| {
            let head = heads[n].last().filter(|_| live_at_end(n));
            let fin = finalized(&logs[n]).filter(|_| live_at_end(n));
            let c = counters[n];
            NodeReport {
                index: n,
                node_id: ids[n].to_string(),
                running: live_at_end(n),
                producer: spec.producers.contains(&n),
                head_slot: head.map(|h| h.1),
                head_root: head.map(|h| h.2.clone()),
                finalized_epoch: fin.as_ref().map(|f| f.0),
                finalized_root: fin.map(|f| f.1),
                links_open: peers_at_end(&logs[n]),
                gossip_sent: c.relayed_frames + c.originated,
                gossip_relayed: c.relayed,
                gossip_originated: c.originated,
                gossip_received: c.received,
                gossip_duplicates: c.duplicates,
                node_stats: None,
                rss_kib: None,
                traffic: None,
            }
        })
        .collect();
    let settle_ms = converged.then(|| {
        let last = heads
            .iter()
            .filter_map(|h| h.last().map(|s| s.0))
            .max()
            .unwrap_or(0);
        last.saturating_sub(us(plan.production_end)) as f64 / 1000.0
    });
    let common = node_reports
        .iter()
        .find(|r| r.running && r.head_root.is_some())
        .filter(|_| converged);
    let at = |slot: u64| START + spec.slot * slot as u32;
    let events = spec
        .events
        .iter()
        .map(|e| EventRecord {
            t_ms: (at(e.at_slot) - START).as_secs_f64() * 1000.0,
            at_slot: e.at_slot,
            what: e.action.to_string(),
            error: None,
        })
        .collect();
    let catch_ups = spec
        .events
        .iter()
        .filter_map(|e| match e.action {
            Action::Join { node } | Action::Restart { node } => {
                Some((node, e.action.name(), at(e.at_slot)))
            }
            _ => None,
        })
        .map(|(node, how, t)| {
            let t_us = us(t);
            let target = (0..spec.nodes)
                .filter(|&o| o != node && running_at(plan, o, t))
                .filter_map(|o| head_at(&heads[o], t_us))
                .max()
                .unwrap_or(0);
            let reached = heads[node]
                .iter()
                .find(|s| s.0 >= t_us && s.1 >= target)
                .map(|s| (s.0 - t_us) as f64 / 1000.0);
            CatchUp {
                node,
                how: how.into(),
                started_at_ms: rel_ms(t_us),
                target_slot: target,
                catch_up_ms: reached,
            }
        })
        .collect();
    let mut report = TestnetReport {
        mode: "shadow".into(),
        nodes: spec.nodes,
        topology: spec.topology.to_string(),
        links: plan.edges.clone(),
        seed: spec.seed,
        slot_ms: spec.slot.as_millis() as u64,
        slots: spec.slots,
        converged,
        settle_ms,
        head_slot: common.and_then(|c| c.head_slot),
        head_root: common.and_then(|c| c.head_root.clone()),
        finalized_epoch: common.and_then(|c| c.finalized_epoch),
        finalized_root: common.and_then(|c| c.finalized_root.clone()),
        blocks: blocks.summary(),
        attestations: attestations.summary(),
        node_reports,
        catch_ups,
        events,
        timeline: timeline(spec, plan, &heads),
        block_latency_floor: latency_floor(spec, plan),
        block_latency_samples_ms: blocks.per_node,
        wall_ms: 0.0,
        invariants,
        delayer: None,
        gossip: None,
        block_slots: Vec::new(),
    };
    let overlay = (0..spec.nodes)
        .filter(|&n| spec.gossip_overlay.on(n))
        .count();
    crate::gossip_figures::fill(&mut report, logs, &record.outages, overlay);
    report
}

/// Every node's head slot from the start to the end of the simulation, a quarter slot apart (or
/// wider, to stay within [`MAX_TIMELINE_SAMPLES`]).
fn timeline(
    spec: &TestnetSpec,
    plan: &ShadowPlan,
    heads: &[Vec<(u64, u64, String)>],
) -> Vec<HeadSample> {
    let span = plan.stop.saturating_sub(START);
    let step = (spec.slot / 4)
        .max(span / MAX_TIMELINE_SAMPLES as u32)
        .max(Duration::from_millis(1));
    let mut out = Vec::new();
    let mut t = START;
    while t <= plan.stop && out.len() < MAX_TIMELINE_SAMPLES {
        out.push(HeadSample {
            t_ms: (t - START).as_secs_f64() * 1000.0,
            slots: (0..spec.nodes)
                .map(|n| {
                    running_at(plan, n, t)
                        .then(|| head_at(&heads[n], us(t)))
                        .flatten()
                })
                .collect(),
        });
        t += step;
    }
    out
}

/// Shortest-path link latency from the first producer to every other node.
fn latency_floor(spec: &TestnetSpec, plan: &ShadowPlan) -> Option<LatencySummary> {
    let network = spec.network.resolve(spec.nodes, &plan.edges);
    if network.delay.is_empty() {
        return None;
    }
    let from = *spec.producers.first()?;
    let floors: Vec<f64> = network
        .latency_floor(spec.nodes, &plan.edges, from)
        .into_iter()
        .enumerate()
        .filter(|(n, _)| *n != from)
        .filter_map(|(_, d)| d.map(|d| d.as_secs_f64() * 1000.0))
        .collect();
    Some(LatencySummary::of(&floors))
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
