//! What the driver saw of each node, in the node event log's vocabulary ([`crate::eventlog`]):
//! every sample that shows a new head or finalized checkpoint becomes a `head_changed` /
//! `finalized_changed` line of that node's observed log, a (re)start a `started` line, and the
//! scenario's faults become the outages and fault windows of a [`RunRecord`], so the invariants
//! ([`crate::invariants`]) are checked the same way whether the lines come from the nodes' own
//! logs or from the driver's samples. Plain; handles no messages.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use hobbits_chain::rpc::Hello;

use crate::eventlog::{LogLine, NodeEvent, NodeLog};
use crate::invariants::{Fault, Outage, RunRecord};

/// Microseconds since the Unix epoch now.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn hex(root: &hobbits_chain::Root) -> String {
    format!("0x{}", hex::encode(root.0))
}

/// The observed logs and the fault timeline of a run.
#[derive(Debug, Default)]
pub struct Observations {
    logs: Vec<NodeLog>,
    /// Last (head root, finalized epoch, finalized root) seen per node.
    last: Vec<Option<(String, u64, String)>>,
    /// Set at a (re)start until the first sample: whether the node reopened a store.
    starting: Vec<Option<bool>>,
    outages: Vec<Outage>,
    /// Faults still going on, by key (`freeze 3`, `partition`, `cut 1-2`, `kill 4`).
    open: BTreeMap<String, (String, u64)>,
    faults: Vec<Fault>,
}

impl Observations {
    /// For `nodes` nodes.
    pub fn new(nodes: usize) -> Self {
        Observations {
            logs: vec![NodeLog::default(); nodes],
            last: vec![None; nodes],
            starting: vec![None; nodes],
            ..Default::default()
        }
    }

    /// A node (re)started; `from_store`: it reopened its data directory.
    pub fn started(&mut self, node: usize, from_store: bool) {
        self.starting[node] = Some(from_store);
        self.last[node] = None;
        self.back(node);
    }

    /// A node is down (killed or frozen) from now until [`Observations::started`] or
    /// [`Observations::back`].
    pub fn down(&mut self, node: usize) {
        self.outages.push(Outage {
            node,
            from_us: now_us(),
            until_us: None,
        });
    }

    /// A frozen (or restarted) node is live again.
    pub fn back(&mut self, node: usize) {
        let t = now_us();
        for o in self
            .outages
            .iter_mut()
            .filter(|o| o.node == node && o.until_us.is_none())
        {
            o.until_us = Some(t);
        }
    }

    /// A fault begins (`key` ends it later; `label` names it in the report).
    pub fn fault_began(&mut self, key: String, label: String) {
        self.open.insert(key, (label, now_us()));
    }

    /// A fault ends: recovery is measured from now.
    pub fn fault_ended(&mut self, key: &str) {
        if let Some((label, start_us)) = self.open.remove(key) {
            self.faults.push(Fault {
                label,
                start_us,
                end_us: now_us(),
            });
        }
    }

    /// A change that is its own end (loss or bandwidth change): recovery is measured from now.
    pub fn change(&mut self, label: String) {
        let t = now_us();
        self.faults.push(Fault {
            label,
            start_us: t,
            end_us: t,
        });
    }

    /// A sample of `node`'s HELLO.
    pub fn sampled(&mut self, node: usize, hello: &Hello) {
        let t = now_us();
        let now = (
            hex(&hello.best_root),
            hello.latest_finalized_epoch.0,
            hex(&hello.latest_finalized_root),
        );
        let log = &mut self.logs[node];
        if let Some(from_store) = self.starting[node].take() {
            log.lines.push(LogLine {
                t_us: t,
                event: NodeEvent::Started {
                    node_id: String::new(),
                    listen: String::new(),
                    genesis_root: String::new(),
                    head_slot: hello.best_slot.0,
                    head_root: now.0.clone(),
                    finalized_epoch: now.1,
                    finalized_root: now.2.clone(),
                    from_store,
                },
            });
            self.last[node] = Some(now);
            return;
        }
        let previous = self.last[node].replace(now.clone());
        if previous.as_ref().is_none_or(|p| p.0 != now.0) {
            log.lines.push(LogLine {
                t_us: t,
                event: NodeEvent::HeadChanged {
                    root: now.0,
                    slot: hello.best_slot.0,
                    reorg: false,
                },
            });
        }
        if previous
            .as_ref()
            .is_none_or(|p| (p.1, &p.2) != (now.1, &now.2))
        {
            log.lines.push(LogLine {
                t_us: t,
                event: NodeEvent::FinalizedChanged {
                    epoch: now.1,
                    root: now.2,
                },
            });
        }
    }

    /// The record the invariants are checked on; faults still open end now.
    pub fn record(&self) -> RunRecord {
        let end_us = now_us();
        let mut faults = self.faults.clone();
        faults.extend(self.open.values().map(|(label, start_us)| Fault {
            label: format!("{label} (never ended)"),
            start_us: *start_us,
            end_us,
        }));
        RunRecord {
            logs: self.logs.clone(),
            outages: self.outages.clone(),
            faults,
            end_us,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hobbits_chain::{Epoch, Root, Slot};

    fn hello(head: u8, slot: u64, epoch: u64) -> Hello {
        Hello {
            network_id: 1,
            chain_id: 1,
            latest_finalized_root: Root([epoch as u8; 32]),
            latest_finalized_epoch: Epoch(epoch),
            best_root: Root([head; 32]),
            best_slot: Slot(slot),
        }
    }

    #[test]
    fn samples_become_log_lines_only_on_change() {
        let mut o = Observations::new(2);
        o.started(0, false);
        o.sampled(0, &hello(1, 1, 0));
        o.sampled(0, &hello(1, 1, 0));
        o.sampled(0, &hello(2, 2, 0));
        o.sampled(0, &hello(2, 2, 1));
        let kinds: Vec<&str> = o.logs[0]
            .lines
            .iter()
            .map(|l| match l.event {
                NodeEvent::Started { .. } => "started",
                NodeEvent::HeadChanged { .. } => "head",
                NodeEvent::FinalizedChanged { .. } => "finalized",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["started", "head", "finalized"]);
    }

    #[test]
    fn faults_and_outages_make_the_record() {
        let mut o = Observations::new(2);
        o.fault_began("freeze 1".into(), "freeze node 1".into());
        o.down(1);
        o.back(1);
        o.fault_ended("freeze 1");
        o.fault_began("partition".into(), "partition".into());
        let r = o.record();
        assert_eq!(r.faults.len(), 2);
        assert_eq!(r.faults[0].label, "freeze node 1");
        assert!(r.faults[1].label.contains("never ended"));
        assert_eq!(r.outages.len(), 1);
        assert!(r.outages[0].until_us.is_some());
    }
}
