//! Validation of a [`TestnetSpec`]: ranges, node indices, the topology's links, and that every
//! scenario event is possible when it happens (joins of absent nodes, kills of running ones, heals
//! of cut links). Typed [`SpecError`]s name the field, node or event. Handles no messages.

use std::collections::BTreeSet;

use super::{Action, SpecError, TestnetSpec, MAX_EVENTS, MAX_NODES, MAX_SLOTS, MIN_SLOT_MS};

impl TestnetSpec {
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
        for &p in &self.persistent {
            self.check_node("persistent", p)?;
        }
        let overlay = &self.gossip_overlay;
        for &n in overlay.overlay.iter().chain(&overlay.flood) {
            self.check_node("gossip_overlay", n)?;
        }
        if let Some(&n) = overlay.overlay.intersection(&overlay.flood).next() {
            return Err(SpecError::Parse {
                reason: format!("gossip_overlay: node {n} is in both `overlay` and `flood`"),
            });
        }
        self.network.validate(self.nodes)?;
        let edges = self.edges()?;
        self.dialects.validate(self.nodes, &edges)?;
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
        let mut frozen: BTreeSet<usize> = BTreeSet::new();
        let mut partitioned = false;
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
            match &e.action {
                &Action::Join { node } | &Action::SnapshotJoin { node, .. } => {
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
                &Action::Kill { node } => {
                    node_ok(node)?;
                    frozen.remove(&node);
                    if !running.remove(&node) {
                        return Err(fail(format!("node {node} is not running then")));
                    }
                    if running.is_empty() {
                        return Err(fail("no node would be left running".into()));
                    }
                }
                &Action::Restart { node } => {
                    node_ok(node)?;
                    if !started.contains(&node) || running.contains(&node) {
                        return Err(fail(format!(
                            "node {node} was not killed before (restart follows kill)"
                        )));
                    }
                    running.insert(node);
                }
                &Action::CutLink { a, b } | &Action::HealLink { a, b } => {
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
                &Action::Freeze { node } => {
                    node_ok(node)?;
                    if !running.contains(&node) || !frozen.insert(node) {
                        return Err(fail(format!("node {node} is not running unfrozen then")));
                    }
                }
                &Action::Thaw { node } => {
                    node_ok(node)?;
                    if !frozen.remove(&node) {
                        return Err(fail(format!("node {node} is not frozen then")));
                    }
                }
                Action::Partition { groups } => {
                    if partitioned {
                        return Err(fail("already partitioned (heal_partition first)".into()));
                    }
                    let mut seen = BTreeSet::new();
                    for (name, nodes) in groups {
                        if nodes.is_empty() {
                            return Err(fail(format!("group `{name}` is empty")));
                        }
                        for &n in nodes {
                            node_ok(n)?;
                            if !seen.insert(n) {
                                return Err(fail(format!("node {n} is in two groups")));
                            }
                        }
                    }
                    let groups_with_rest = groups.len() + usize::from(seen.len() < self.nodes);
                    if groups_with_rest < 2 {
                        return Err(fail("a partition needs at least two groups".into()));
                    }
                    partitioned = true;
                }
                Action::HealPartition => {
                    if !partitioned {
                        return Err(fail("no partition to heal".into()));
                    }
                    partitioned = false;
                }
                &Action::SetLoss { a, b, .. } => {
                    node_ok(a)?;
                    node_ok(b)?;
                    if !edges.contains(&(a.min(b), a.max(b))) {
                        return Err(fail(format!("{a}-{b} is not a link of the topology")));
                    }
                }
                &Action::SetBandwidth { node, .. } => node_ok(node)?,
                &Action::ClockSkew { node, skew_ms } => {
                    node_ok(node)?;
                    if !self.producers.contains(&node) {
                        return Err(fail(format!(
                            "node {node} produces no blocks: only a producer has a slot clock"
                        )));
                    }
                    if skew_ms.unsigned_abs() > 3_600_000 {
                        return Err(fail(format!(
                            "skew_ms {skew_ms}: at most an hour either way"
                        )));
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
