//! The testnet report: convergence verdict, propagation latency summaries (nearest-rank
//! percentiles), per-node message counters, catch-up times, the head-slot timeline; serialisable
//! (serde) for `--json` and rendered as text for the terminal. Plain data, no messages.

use serde::Serialize;

use crate::eventlog::GossipTraffic;
use crate::gossip_summary::{GossipSummary, SlotPropagation};
use crate::invariants::InvariantResult;

/// Nearest-rank percentile `p` (0 < p ≤ 100) of `sorted` (ascending); `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Percentiles of a set of latencies, milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub p50_ms: Option<f64>,
    /// 90th percentile.
    pub p90_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Largest.
    pub max_ms: Option<f64>,
}

impl LatencySummary {
    /// Summarises `samples_ms` (any order).
    pub fn of(samples_ms: &[f64]) -> Self {
        let mut v: Vec<f64> = samples_ms
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .collect();
        v.sort_by(f64::total_cmp);
        LatencySummary {
            count: v.len(),
            p50_ms: percentile(&v, 50.0),
            p90_ms: percentile(&v, 90.0),
            p99_ms: percentile(&v, 99.0),
            max_ms: v.last().copied(),
        }
    }

    fn line(&self) -> String {
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
        format!(
            "n={:<5} p50 {:>7} ms  p90 {:>7} ms  p99 {:>7} ms  max {:>7} ms",
            self.count,
            f(self.p50_ms),
            f(self.p90_ms),
            f(self.p99_ms),
            f(self.max_ms)
        )
    }
}

/// Propagation of one gossip topic.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Propagation {
    /// Distinct objects first gossiped during the run.
    pub objects: usize,
    /// Objects that reached, by gossip, every node running when they were first sent.
    pub reached_all: usize,
    /// Per object: time from its first transmission until the last of those nodes had it.
    pub to_all_nodes: LatencySummary,
    /// Per (object, node): time from the first transmission until that node first received it.
    pub per_node: LatencySummary,
}

/// Final state and counters of one node.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NodeReport {
    /// Index in the testnet.
    pub index: usize,
    /// Node id (hex).
    pub node_id: String,
    /// Running at the end.
    pub running: bool,
    /// Produces blocks.
    pub producer: bool,
    /// Head slot at the end (when observed).
    pub head_slot: Option<u64>,
    /// Head root at the end (0x hex).
    pub head_root: Option<String>,
    /// Finalized checkpoint at the end: its epoch...
    pub finalized_epoch: Option<u64>,
    /// ...and its root (0x hex).
    pub finalized_root: Option<String>,
    /// Open connections at the end (seen by the link proxies).
    pub links_open: usize,
    /// GOSSIP frames this node sent.
    pub gossip_sent: u64,
    /// ...of which it first had from a peer (relayed).
    pub gossip_relayed: u64,
    /// ...of which it originated (its own blocks / attestations).
    pub gossip_originated: u64,
    /// GOSSIP frames this node received.
    pub gossip_received: u64,
    /// ...of which were for an object it already had by gossip (deduplicated).
    pub gossip_duplicates: u64,
    /// The node's own gossip counters (in-process only).
    pub node_stats: Option<NodeGossipStats>,
    /// Resident memory of the node's process at the end, KiB (process engines).
    pub rss_kib: Option<u64>,
    /// Its gossip traffic, bytes and overlay control (from its event log's `gossip_traffic`
    /// lines: process engines).
    pub traffic: Option<GossipTraffic>,
}

/// A node's own view of its gossip (from its gossip actor).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NodeGossipStats {
    /// Messages received.
    pub received: u64,
    /// Objects it published (its blocks and attestations).
    pub published: u64,
    /// Objects it relayed.
    pub relayed: u64,
    /// Messages it dropped as duplicates.
    pub duplicates: u64,
    /// Objects it imported from gossip.
    pub imported: u64,
    /// Frames it queued to peers.
    pub frames_sent: u64,
}

/// Catch-up of a node that started late (join, restart, snapshot join).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatchUp {
    /// The node.
    pub node: usize,
    /// `join`, `restart` or `snapshot_join`.
    pub how: String,
    /// Milliseconds since the start of the run when it started.
    pub started_at_ms: f64,
    /// Highest head slot among the other running nodes when it started.
    pub target_slot: u64,
    /// Time from its start until its head reached `target_slot`; `None` if it never did.
    pub catch_up_ms: Option<f64>,
}

/// Head slot of every node at one instant (`None`: not running or not answering).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeadSample {
    /// Milliseconds since the start of the run.
    pub t_ms: f64,
    /// Per node index.
    pub slots: Vec<Option<u64>>,
}

/// A scenario event as it happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    /// Milliseconds since the start of the run.
    pub t_ms: f64,
    /// The planned slot.
    pub at_slot: u64,
    /// What happened.
    pub what: String,
    /// Error, when it failed.
    pub error: Option<String>,
}

/// What the netns engine's packet delayer did (its queue made visible).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DelayerReport {
    /// Packets queued to it.
    pub received: u64,
    /// Packets held for their link's latency.
    pub delayed: u64,
    /// The most packets held at once.
    pub max_pending: usize,
    /// The kernel queue's length (`--queue-max-len`).
    pub queue_max_len: u32,
    /// Whether a full queue passed packets undelayed (`--fail-open`).
    pub fail_open: bool,
    /// Mean and largest lateness of a release after its due time, microseconds.
    pub mean_late_us: f64,
    /// The largest lateness, microseconds.
    pub max_late_us: f64,
    /// Packets the kernel dropped because the queue was full.
    pub kernel_queue_dropped: u64,
    /// Packets the kernel dropped because the delayer's socket buffer was full.
    pub kernel_user_dropped: u64,
    /// Whether the kernel has netem (the delayer is used either way).
    pub netem_available: bool,
}

/// Everything a run found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TestnetReport {
    /// `in-process` or `processes`.
    pub mode: String,
    /// Number of nodes.
    pub nodes: usize,
    /// The topology, as written in a testnet file.
    pub topology: String,
    /// Its links (smaller index first).
    pub links: Vec<(usize, usize)>,
    /// Seed of the random parts (topology, jitter).
    pub seed: u64,
    /// Slot duration, milliseconds.
    pub slot_ms: u64,
    /// Slots produced.
    pub slots: u64,
    /// Every running node has the same head and the same finalized checkpoint.
    pub converged: bool,
    /// Time after the last slot until convergence was seen.
    pub settle_ms: Option<f64>,
    /// The common head slot, when converged...
    pub head_slot: Option<u64>,
    /// ...and its root (0x hex).
    pub head_root: Option<String>,
    /// The common finalized epoch, when converged...
    pub finalized_epoch: Option<u64>,
    /// ...and its root (0x hex).
    pub finalized_root: Option<String>,
    /// Block propagation.
    pub blocks: Propagation,
    /// Attestation propagation.
    pub attestations: Propagation,
    /// Per node.
    pub node_reports: Vec<NodeReport>,
    /// Late starters.
    pub catch_ups: Vec<CatchUp>,
    /// Scenario events as executed.
    pub events: Vec<EventRecord>,
    /// Head slots over time.
    pub timeline: Vec<HeadSample>,
    /// What the link latencies alone would give: per node, the least sum of latencies from the
    /// first producer (when the link model has latencies).
    pub block_latency_floor: Option<LatencySummary>,
    /// Raw per-(block, node) propagation latencies, ms (for plots).
    pub block_latency_samples_ms: Vec<f64>,
    /// Wall time of the whole run, ms.
    pub wall_ms: f64,
    /// Invariants checked on the run, each with its evidence.
    pub invariants: Vec<InvariantResult>,
    /// The netns engine's packet delayer, when links had a latency.
    pub delayer: Option<DelayerReport>,
    /// The gossip figures (duplicates, control frames and bytes per object, bytes, p50/p99,
    /// delivery), when the nodes wrote `gossip_traffic` lines (process engines).
    pub gossip: Option<GossipSummary>,
    /// Each block's propagation, in slot order (from the event logs: process engines).
    pub block_slots: Vec<SlotPropagation>,
}

impl TestnetReport {
    /// Exit status of the CLI: 0 converged with every invariant held, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.converged || self.invariants.iter().any(|i| !i.ok))
    }

    /// Duplicate GOSSIP frames received (on the wire) per node per object gossiped, over the
    /// nodes running at the end: the figure the gossip overlay is judged by (issue 16; flood on a
    /// mesh of degree d gives about d - 1). `None` when nothing was gossiped.
    pub fn duplicates_per_node_per_object(&self) -> Option<f64> {
        let objects = self.blocks.objects + self.attestations.objects;
        let running: Vec<&NodeReport> = self.node_reports.iter().filter(|n| n.running).collect();
        if objects == 0 || running.is_empty() {
            return None;
        }
        let duplicates: u64 = running.iter().map(|n| n.gossip_duplicates).sum();
        Some(duplicates as f64 / (running.len() * objects) as f64)
    }

    /// Objects that reached every node running when first sent, over the objects gossiped.
    pub fn delivery_ratio(&self) -> Option<f64> {
        let objects = self.blocks.objects + self.attestations.objects;
        let reached = self.blocks.reached_all + self.attestations.reached_all;
        (objects > 0).then(|| reached as f64 / objects as f64)
    }

    /// A human-readable report.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let mut w = |line: String| {
            s.push_str(&line);
            s.push('\n');
        };
        w(format!(
            "testnet: {} nodes ({}), topology {} ({} links), seed {}, {} slots of {} ms, {:.1} s",
            self.nodes,
            self.mode,
            self.topology,
            self.links.len(),
            self.seed,
            self.slots,
            self.slot_ms,
            self.wall_ms / 1000.0
        ));
        if self.converged {
            w(format!(
                "CONVERGED: every running node at head slot {} {} finalized epoch {} {} (settled in {:.0} ms)",
                self.head_slot.unwrap_or(0),
                short(self.head_root.as_deref()),
                self.finalized_epoch.unwrap_or(0),
                short(self.finalized_root.as_deref()),
                self.settle_ms.unwrap_or(0.0)
            ));
        } else {
            w(
                "NOT CONVERGED: running nodes disagree on the head or the finalized checkpoint"
                    .into(),
            );
        }
        for (name, p) in [
            ("blocks", &self.blocks),
            ("attestations", &self.attestations),
        ] {
            w(format!(
                "{name}: {} gossiped, {} reached every node by gossip",
                p.objects, p.reached_all
            ));
            w(format!("  to all nodes  {}", p.to_all_nodes.line()));
            w(format!("  per node      {}", p.per_node.line()));
            if let ("blocks", Some(floor)) = (name, &self.block_latency_floor) {
                w(format!(
                    "  link floor    {}  (shortest paths from the producer)",
                    floor.line()
                ));
                if let (Some(m50), Some(f50), Some(m99), Some(f99)) = (
                    self.blocks.per_node.p50_ms,
                    floor.p50_ms,
                    self.blocks.per_node.p99_ms,
                    floor.p99_ms,
                ) {
                    if f50 > 0.0 && f99 > 0.0 {
                        w(format!(
                            "  per node / floor: p50 {:.2}x, p99 {:.2}x (the cost of the nodes themselves)",
                            m50 / f50,
                            m99 / f99
                        ));
                    }
                }
            }
        }
        if let (Some(dup), Some(delivery)) =
            (self.duplicates_per_node_per_object(), self.delivery_ratio())
        {
            w(format!(
                "gossip: {dup:.2} duplicates per node per object, delivery ratio {delivery:.4}"
            ));
        }
        for line in self.gossip.iter().flat_map(GossipSummary::render) {
            w(line);
        }
        w("gossip frames per node, on the wire (sent = relayed + orig; dup = received again) and as \
           the node counted them (relayed, dedup):"
            .into());
        w(format!(
            "{:>4}  {:<16}  {:<3}  {:>4}  {:>9}  {:>5}  {:>10}  {:>7}  {:>4}  {:>4}  {:>3}  {:>13}  {:>5}",
            "node", "id", "run", "head", "finalized", "links", "wire: sent", "relayed", "orig",
            "recv", "dup", "node: relayed", "dedup"
        ));
        for n in &self.node_reports {
            w(format!(
                "{:>4}  {:<16}  {:<3}  {:>4}  {:>9}  {:>5}  {:>10}  {:>7}  {:>4}  {:>4}  {:>3}  {:>13}  {:>5}{}",
                n.index,
                n.node_id,
                if n.running { "yes" } else { "no" },
                n.head_slot.map_or("-".into(), |v| v.to_string()),
                n.finalized_epoch.map_or("-".into(), |v| v.to_string()),
                n.links_open,
                n.gossip_sent,
                n.gossip_relayed,
                n.gossip_originated,
                n.gossip_received,
                n.gossip_duplicates,
                n.node_stats.map_or("-".into(), |s| s.relayed.to_string()),
                n.node_stats.map_or("-".into(), |s| s.duplicates.to_string()),
                if n.producer { "  (producer)" } else { "" }
            ));
        }
        if let Some(d) = &self.delayer {
            w(format!(
                "delayer: {} packets delayed of {} queued, backlog at most {} (queue {}{}), late by {:.0} us on average, {:.1} ms at most; kernel drops: {} (queue full), {} (socket full)",
                d.delayed,
                d.received,
                d.max_pending,
                d.queue_max_len,
                if d.fail_open { ", fail-open" } else { "" },
                d.mean_late_us,
                d.max_late_us / 1000.0,
                d.kernel_queue_dropped,
                d.kernel_user_dropped
            ));
            w(format!(
                "  latency by the NFQUEUE delayer ({})",
                if d.netem_available {
                    "netem is in this kernel too; the delayer gives each link its own delay"
                } else {
                    "netem is not in this kernel"
                }
            ));
            if d.kernel_queue_dropped + d.kernel_user_dropped > 0 {
                w("  WARNING: the delayer's queue overflowed: those packets were lost (raise --queue-max-len)".into());
            }
        }
        let mut rss: Vec<u64> = self.node_reports.iter().filter_map(|n| n.rss_kib).collect();
        rss.sort_unstable();
        if let (Some(min), Some(max)) = (rss.first(), rss.last()) {
            w(format!(
                "node processes: resident memory median {:.1} MiB, min {:.1}, max {:.1} ({} processes)",
                rss[rss.len() / 2] as f64 / 1024.0,
                *min as f64 / 1024.0,
                *max as f64 / 1024.0,
                rss.len()
            ));
        }
        for c in &self.catch_ups {
            w(format!(
                "catch-up: node {} ({}) at {:.1} s to slot {}: {}",
                c.node,
                c.how,
                c.started_at_ms / 1000.0,
                c.target_slot,
                c.catch_up_ms
                    .map_or("never".to_string(), |ms| format!("{ms:.0} ms"))
            ));
        }
        for inv in &self.invariants {
            w(format!(
                "invariant {}: {}",
                inv.name,
                if inv.ok { "held" } else { "VIOLATED" }
            ));
            for line in &inv.evidence {
                w(format!("    {line}"));
            }
        }
        for e in &self.events {
            if let Some(err) = &e.error {
                w(format!(
                    "event at slot {} ({}) failed: {err}",
                    e.at_slot, e.what
                ));
            }
        }
        s
    }
}

fn short(root: Option<&str>) -> String {
    root.map_or("-".into(), |r| r.chars().take(12).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = LatencySummary::of(&v);
        assert_eq!(s.count, 100);
        assert_eq!(s.p50_ms, Some(50.0));
        assert_eq!(s.p90_ms, Some(90.0));
        assert_eq!(s.p99_ms, Some(99.0));
        assert_eq!(s.max_ms, Some(100.0));
        let one = LatencySummary::of(&[3.5]);
        assert_eq!(
            (one.p50_ms, one.p99_ms, one.max_ms),
            (Some(3.5), Some(3.5), Some(3.5))
        );
        let few = LatencySummary::of(&[1.0, 2.0, 3.0]);
        assert_eq!((few.p50_ms, few.p90_ms), (Some(2.0), Some(3.0)));
        let none = LatencySummary::of(&[]);
        assert_eq!((none.count, none.p50_ms), (0, None));
        assert_eq!(LatencySummary::of(&[f64::NAN, 1.0]).count, 1);
    }

    #[test]
    fn duplicates_per_node_per_object_and_delivery_ratio() {
        let node = |running, dup| NodeReport {
            running,
            gossip_duplicates: dup,
            ..Default::default()
        };
        let mut r = TestnetReport::default();
        assert_eq!(r.duplicates_per_node_per_object(), None);
        assert_eq!(r.delivery_ratio(), None);
        r.blocks.objects = 3;
        r.blocks.reached_all = 3;
        r.attestations.objects = 1;
        r.attestations.reached_all = 0;
        // The stopped node's duplicates do not count, nor does it as a receiver.
        r.node_reports = vec![node(true, 6), node(true, 2), node(false, 100)];
        assert_eq!(r.duplicates_per_node_per_object(), Some(1.0));
        assert_eq!(r.delivery_ratio(), Some(0.75));
        assert!(r
            .render()
            .contains("gossip: 1.00 duplicates per node per object, delivery ratio 0.7500"));
    }

    #[test]
    fn render_says_whether_it_converged() {
        let mut r = TestnetReport {
            converged: true,
            head_slot: Some(4),
            ..Default::default()
        };
        assert!(r.render().contains("CONVERGED"));
        assert_eq!(r.exit_code(), 0);
        r.converged = false;
        assert!(r.render().contains("NOT CONVERGED"));
        assert_eq!(r.exit_code(), 1);
    }
}
