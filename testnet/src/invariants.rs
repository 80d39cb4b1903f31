//! Invariants of a run, checked from the nodes' event logs (Jepsen-style: each result carries
//! its evidence, lines a reader can find in the logs). Plain, so every engine (in-process,
//! processes, namespaces, Shadow) and a re-check of saved logs share it:
//! - `converged`: the nodes live at the end report one head and one finalized checkpoint;
//! - `finalized_monotonic`: no node's finalized checkpoint moves backwards (a lower epoch, or
//!   another root at the same epoch), across restarts too;
//! - `finalized_agreement`: no two nodes finalize different roots at the same epoch;
//! - `restart_consistent`: a node restarted from its store reopens with at least the finality
//!   it had before it was killed, and catches up (reaches the head another live node has);
//! - `fault_recovery`: after each fault ends (thaw, heal, restart...), the live nodes agree on a
//!   head again; the time it took is the fault's recovery time.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::eventlog::{NodeEvent, NodeLog};

/// A span in which a node is not live (killed, frozen, not yet started).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outage {
    /// The node.
    pub node: usize,
    /// From (microseconds since the Unix epoch).
    pub from_us: u64,
    /// None: until the end.
    pub until_us: Option<u64>,
}

/// A fault of the scenario: recovery is measured from `end_us`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// `freeze node 3`, `partition a|b`, ...
    pub label: String,
    /// When it began (microseconds since the Unix epoch).
    pub start_us: u64,
    /// When it ended.
    pub end_us: u64,
}

/// What the checker needs.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    /// Each node's log (index = node).
    pub logs: Vec<NodeLog>,
    /// When nodes were down.
    pub outages: Vec<Outage>,
    /// The faults played.
    pub faults: Vec<Fault>,
    /// The end of the run.
    pub end_us: u64,
}

/// One invariant's verdict.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InvariantResult {
    /// Its name (above).
    pub name: &'static str,
    /// Held?
    pub ok: bool,
    /// Lines of evidence (the violation, or what shows it held).
    pub evidence: Vec<String>,
    /// Measured times (recovery, catch-up), ms, with their label.
    pub times_ms: Vec<(String, f64)>,
}

/// `faults.json` of a saved record.
#[derive(Debug, Serialize, Deserialize)]
struct Timeline {
    nodes: usize,
    outages: Vec<Outage>,
    faults: Vec<Fault>,
    end_us: u64,
}

impl RunRecord {
    /// Writes the record to `dir`: `node-<i>.jsonl` (each node's log) and `faults.json`.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (i, log) in self.logs.iter().enumerate() {
            let text: String = log.lines.iter().map(NodeLog::encode).collect();
            std::fs::write(dir.join(format!("node-{i}.jsonl")), text)?;
        }
        let timeline = Timeline {
            nodes: self.logs.len(),
            outages: self.outages.clone(),
            faults: self.faults.clone(),
            end_us: self.end_us,
        };
        let json = serde_json::to_string_pretty(&timeline).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("faults.json"), json)
    }

    /// Reads a record saved by [`RunRecord::save`] (or node logs written elsewhere, with a
    /// `faults.json` beside them).
    pub fn load(dir: &Path) -> std::io::Result<RunRecord> {
        let text = std::fs::read_to_string(dir.join("faults.json"))?;
        let timeline: Timeline = serde_json::from_str(&text).map_err(std::io::Error::other)?;
        let mut logs = Vec::with_capacity(timeline.nodes.min(crate::spec::MAX_NODES));
        for i in 0..timeline.nodes.min(crate::spec::MAX_NODES) {
            let file = std::fs::File::open(dir.join(format!("node-{i}.jsonl")))?;
            logs.push(NodeLog::read(std::io::BufReader::new(file))?);
        }
        Ok(RunRecord {
            logs,
            outages: timeline.outages,
            faults: timeline.faults,
            end_us: timeline.end_us,
        })
    }

    fn live(&self, node: usize, t: u64) -> bool {
        !self
            .outages
            .iter()
            .any(|o| o.node == node && o.from_us <= t && o.until_us.is_none_or(|u| t < u))
    }

    /// Every head change of every node in time order: (t, node, root, slot).
    fn heads(&self) -> Vec<(u64, usize, String, u64)> {
        let mut out = Vec::new();
        for (node, log) in self.logs.iter().enumerate() {
            for line in &log.lines {
                match &line.event {
                    NodeEvent::Started {
                        head_root,
                        head_slot,
                        ..
                    } => out.push((line.t_us, node, head_root.clone(), *head_slot)),
                    NodeEvent::HeadChanged { root, slot, .. } => {
                        out.push((line.t_us, node, root.clone(), *slot))
                    }
                    _ => {}
                }
            }
        }
        out.sort_by_key(|(t, node, _, _)| (*t, *node));
        out
    }

    /// Finalized checkpoints of each node in order: (t, epoch, root).
    fn finalized(&self, node: usize) -> Vec<(u64, u64, String)> {
        self.logs[node]
            .lines
            .iter()
            .filter_map(|l| match &l.event {
                NodeEvent::Started {
                    finalized_epoch,
                    finalized_root,
                    ..
                } => Some((l.t_us, *finalized_epoch, finalized_root.clone())),
                NodeEvent::FinalizedChanged { epoch, root } => Some((l.t_us, *epoch, root.clone())),
                _ => None,
            })
            .collect()
    }

    /// The first time at or after `from` when every live node that has a head has the same one
    /// (and at least two nodes are live), with that head.
    fn agreement_after(&self, from: u64) -> Option<(u64, String)> {
        let mut current: BTreeMap<usize, String> = BTreeMap::new();
        let heads = self.heads();
        let check = |t: u64, current: &BTreeMap<usize, String>| {
            let live: Vec<&String> = current
                .iter()
                .filter(|(n, _)| self.live(**n, t))
                .map(|(_, r)| r)
                .collect();
            (live.len() >= 2 && live.iter().all(|r| *r == live[0])).then(|| live[0].clone())
        };
        let mut i = 0;
        while i < heads.len() {
            let t = heads[i].0;
            while i < heads.len() && heads[i].0 == t {
                current.insert(heads[i].1, heads[i].2.clone());
                i += 1;
            }
            if t >= from {
                if let Some(root) = check(t, &current) {
                    return Some((t, root));
                }
            }
        }
        // Agreement may already hold at `from` with no change after it.
        check(from, &current)
            .map(|root| (from, root))
            .filter(|_| heads.last().is_some_and(|h| h.0 <= from))
    }

    /// Runs every check.
    pub fn check(&self) -> Vec<InvariantResult> {
        vec![
            self.converged(),
            self.finalized_monotonic(),
            self.finalized_agreement(),
            self.restart_consistent(),
            self.fault_recovery(),
        ]
    }

    fn converged(&self) -> InvariantResult {
        let mut ends = Vec::new();
        // Each node's last head, from one pass over the heads (not one per node: 10,000 nodes).
        let mut last_head = vec![None; self.logs.len()];
        for h in self.heads() {
            let node = h.1;
            last_head[node] = Some(h);
        }
        for (node, log) in self.logs.iter().enumerate() {
            if !self.live(node, self.end_us) || log.lines.is_empty() {
                continue;
            }
            let head = last_head[node].take();
            let fin = self.finalized(node).pop();
            ends.push((node, head, fin));
        }
        let first = ends.first().map(|(_, h, f)| {
            (
                h.as_ref().map(|h| h.2.clone()),
                f.as_ref().map(|f| (f.1, f.2.clone())),
            )
        });
        let ok = !ends.is_empty()
            && ends.iter().all(|(_, h, f)| {
                Some((
                    h.as_ref().map(|h| h.2.clone()),
                    f.as_ref().map(|f| (f.1, f.2.clone())),
                )) == first
            });
        let evidence = ends
            .iter()
            .map(|(node, h, f)| {
                format!(
                    "node {node}: head {} at slot {}, finalized epoch {} {}",
                    h.as_ref().map_or("?", |h| short(&h.2)),
                    h.as_ref().map_or(0, |h| h.3),
                    f.as_ref().map_or(0, |f| f.1),
                    f.as_ref().map_or("?", |f| short(&f.2)),
                )
            })
            .collect();
        InvariantResult {
            name: "converged",
            ok,
            evidence,
            times_ms: Vec::new(),
        }
    }

    fn finalized_monotonic(&self) -> InvariantResult {
        let mut evidence = Vec::new();
        let mut ok = true;
        for node in 0..self.logs.len() {
            let fin = self.finalized(node);
            for pair in fin.windows(2) {
                let ((t0, e0, r0), (t1, e1, r1)) = (&pair[0], &pair[1]);
                if e1 < e0 || (e1 == e0 && r1 != r0) {
                    ok = false;
                    evidence.push(format!(
                        "node {node}: finalized epoch {e0} {} at t={} then epoch {e1} {} at t={}",
                        short(r0),
                        fmt_t(*t0),
                        short(r1),
                        fmt_t(*t1)
                    ));
                }
            }
            if let Some(last) = fin.last() {
                if ok {
                    evidence.push(format!(
                        "node {node}: {} finalized checkpoints, last epoch {}",
                        fin.len(),
                        last.1
                    ));
                }
            }
        }
        InvariantResult {
            name: "finalized_monotonic",
            ok,
            evidence,
            times_ms: Vec::new(),
        }
    }

    fn finalized_agreement(&self) -> InvariantResult {
        let mut by_epoch: BTreeMap<u64, (String, usize, u64)> = BTreeMap::new();
        let mut evidence = Vec::new();
        for node in 0..self.logs.len() {
            for (t, epoch, root) in self.finalized(node) {
                match by_epoch.get(&epoch) {
                    Some((other, n, t0)) if *other != root => evidence.push(format!(
                        "epoch {epoch}: node {n} finalized {} at t={}, node {node} finalized {} at t={}",
                        short(other), fmt_t(*t0), short(&root), fmt_t(t)
                    )),
                    Some(_) => {}
                    None => {
                        by_epoch.insert(epoch, (root, node, t));
                    }
                }
            }
        }
        let ok = evidence.is_empty();
        if ok {
            evidence.push(format!(
                "{} finalized epochs, one root each",
                by_epoch.len()
            ));
        }
        InvariantResult {
            name: "finalized_agreement",
            ok,
            evidence,
            times_ms: Vec::new(),
        }
    }

    fn restart_consistent(&self) -> InvariantResult {
        let mut evidence = Vec::new();
        let mut times = Vec::new();
        let mut ok = true;
        for (node, log) in self.logs.iter().enumerate() {
            let mut best_before: Option<u64> = None;
            let mut started = 0;
            for line in &log.lines {
                match &line.event {
                    NodeEvent::Started {
                        from_store,
                        finalized_epoch,
                        head_slot,
                        ..
                    } => {
                        started += 1;
                        if started > 1 && *from_store {
                            let before = best_before.unwrap_or(0);
                            if *finalized_epoch < before {
                                ok = false;
                                evidence.push(format!(
                                    "node {node} reopened at t={} with finalized epoch {finalized_epoch} < {before} before the kill",
                                    fmt_t(line.t_us)
                                ));
                            }
                            match self.catch_up(node, line.t_us) {
                                Some(ms) => {
                                    evidence.push(format!(
                                        "node {node} reopened at t={} (head slot {head_slot}, finalized epoch {finalized_epoch} >= {before}), caught up in {ms:.0} ms",
                                        fmt_t(line.t_us)
                                    ));
                                    times.push((format!("node {node} catch-up"), ms));
                                }
                                None => {
                                    ok = false;
                                    evidence.push(format!(
                                        "node {node} reopened at t={} and never caught up",
                                        fmt_t(line.t_us)
                                    ));
                                }
                            }
                        }
                        best_before = Some(best_before.unwrap_or(0).max(*finalized_epoch));
                    }
                    NodeEvent::FinalizedChanged { epoch, .. } => {
                        best_before = Some(best_before.unwrap_or(0).max(*epoch))
                    }
                    _ => {}
                }
            }
        }
        InvariantResult {
            name: "restart_consistent",
            ok,
            evidence,
            times_ms: times,
        }
    }

    /// From `since`, the first time `node` has the head another live node has, in ms.
    fn catch_up(&self, node: usize, since: u64) -> Option<f64> {
        let mut current: BTreeMap<usize, String> = BTreeMap::new();
        for (t, n, root, _) in self.heads() {
            current.insert(n, root);
            if t < since {
                continue;
            }
            let mine = current.get(&node)?;
            if current
                .iter()
                .any(|(other, r)| *other != node && self.live(*other, t) && r == mine)
            {
                return Some((t - since) as f64 / 1000.0);
            }
        }
        None
    }

    fn fault_recovery(&self) -> InvariantResult {
        let mut evidence = Vec::new();
        let mut times = Vec::new();
        let mut ok = true;
        for fault in &self.faults {
            match self.agreement_after(fault.end_us) {
                Some((t, root)) => {
                    let ms = (t - fault.end_us) as f64 / 1000.0;
                    evidence.push(format!(
                        "{}: ended at t={}, live nodes agreed on {} after {ms:.0} ms",
                        fault.label,
                        fmt_t(fault.end_us),
                        short(&root)
                    ));
                    times.push((fault.label.clone(), ms));
                }
                None => {
                    ok = false;
                    evidence.push(format!(
                        "{}: ended at t={}, live nodes never agreed on a head again",
                        fault.label,
                        fmt_t(fault.end_us)
                    ));
                }
            }
        }
        InvariantResult {
            name: "fault_recovery",
            ok,
            evidence,
            times_ms: times,
        }
    }
}

fn short(root: &str) -> &str {
    root.get(..10).unwrap_or(root)
}

fn fmt_t(t_us: u64) -> String {
    format!("{}.{:06}", t_us / 1_000_000, t_us % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventlog::LogLine;

    fn started(
        t: u64,
        head: &str,
        slot: u64,
        fin: u64,
        fin_root: &str,
        from_store: bool,
    ) -> LogLine {
        LogLine {
            t_us: t,
            event: NodeEvent::Started {
                node_id: "0x1".into(),
                listen: "198.18.0.2:9000".into(),
                genesis_root: "0xg".into(),
                head_slot: slot,
                head_root: head.into(),
                finalized_epoch: fin,
                finalized_root: fin_root.into(),
                from_store,
            },
        }
    }
    fn head(t: u64, root: &str, slot: u64) -> LogLine {
        LogLine {
            t_us: t,
            event: NodeEvent::HeadChanged {
                root: root.into(),
                slot,
                reorg: false,
            },
        }
    }
    fn fin(t: u64, epoch: u64, root: &str) -> LogLine {
        LogLine {
            t_us: t,
            event: NodeEvent::FinalizedChanged {
                epoch,
                root: root.into(),
            },
        }
    }
    fn log(lines: Vec<LogLine>) -> NodeLog {
        NodeLog { lines, skipped: 0 }
    }

    /// Three nodes that follow one chain; node 2 is frozen from 1.5 s to 2.5 s.
    fn healthy() -> RunRecord {
        let mut logs = Vec::new();
        for node in 0..3u64 {
            let lag = node * 1000;
            let mut lines = vec![started(lag, "0xg", 0, 0, "0xg", false)];
            for slot in 1..=4u64 {
                let t = slot * 1_000_000 + lag + if node == 2 && slot == 2 { 1_000_000 } else { 0 };
                lines.push(head(t, &format!("0xb{slot}"), slot));
            }
            lines.push(fin(4_100_000 + lag, 1, "0xb2"));
            logs.push(log(lines));
        }
        RunRecord {
            logs,
            outages: vec![Outage {
                node: 2,
                from_us: 1_500_000,
                until_us: Some(2_500_000),
            }],
            faults: vec![Fault {
                label: "freeze node 2".into(),
                start_us: 1_500_000,
                end_us: 2_500_000,
            }],
            end_us: 5_000_000,
        }
    }

    fn result<'a>(results: &'a [InvariantResult], name: &str) -> &'a InvariantResult {
        results.iter().find(|r| r.name == name).expect("present")
    }

    #[test]
    fn a_healthy_run_holds_every_invariant_with_measured_recovery() {
        let results = healthy().check();
        for r in &results {
            assert!(r.ok, "{}: {:?}", r.name, r.evidence);
        }
        let rec = result(&results, "fault_recovery");
        // Node 2 got slot 2's head at 3.002 s: heads agree at 3.000002 s when node 2 takes slot 3.
        assert_eq!(rec.times_ms.len(), 1);
        assert!(
            rec.times_ms[0].1 > 400.0 && rec.times_ms[0].1 < 600.0,
            "{:?}",
            rec.times_ms
        );
    }

    #[test]
    fn a_conflicting_finalized_checkpoint_is_caught_with_evidence() {
        let mut run = healthy();
        run.logs[1].lines.push(fin(4_200_000, 1, "0xevil"));
        let results = run.check();
        let agreement = result(&results, "finalized_agreement");
        assert!(!agreement.ok);
        assert!(
            agreement.evidence[0].contains("epoch 1: node 0 finalized 0xb2"),
            "{:?}",
            agreement.evidence
        );
        assert!(
            agreement.evidence[0].contains("node 1 finalized 0xevil"),
            "{:?}",
            agreement.evidence
        );
        let mono = result(&results, "finalized_monotonic");
        assert!(!mono.ok, "node 1 changed its own epoch-1 root");
    }

    #[test]
    fn finality_moving_backwards_after_a_restart_is_caught() {
        let mut run = healthy();
        run.logs[0]
            .lines
            .push(started(4_500_000, "0xb1", 1, 0, "0xg", true));
        let results = run.check();
        assert!(!result(&results, "finalized_monotonic").ok);
        let restart = result(&results, "restart_consistent");
        assert!(!restart.ok);
        assert!(
            restart
                .evidence
                .iter()
                .any(|e| e.contains("finalized epoch 0 < 1")),
            "{:?}",
            restart.evidence
        );
    }

    #[test]
    fn diverged_heads_at_the_end_and_no_recovery_are_caught() {
        let mut run = healthy();
        run.logs[2].lines.push(head(4_900_000, "0xfork", 5));
        run.faults.push(Fault {
            label: "partition".into(),
            start_us: 4_000_000,
            end_us: 4_950_000,
        });
        let results = run.check();
        assert!(!result(&results, "converged").ok);
        let rec = result(&results, "fault_recovery");
        assert!(!rec.ok);
        assert!(
            rec.evidence
                .iter()
                .any(|e| e.contains("partition") && e.contains("never agreed")),
            "{:?}",
            rec.evidence
        );
    }
}
