//! What a simulation run measured ([`SimReport`], with [`Slice`]s of its objects), how it compares
//! with plain flood in the same network ([`Comparison`]), the table the example prints, and the
//! frame lengths of the testnet's real objects ([`testnet_frame_lens`]). The [`Recorder`] counts
//! during the run. No messages handled or sent.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use hobbits_chain::{BlockProducer, ChainRead, GenesisConfig, HashTreeRoot, Slot, StoreConfig};
use hobbits_codec::{ControlMessage, ControlVerb, GossipEnvelope, Origin, Topic};
use ssz::Encode;

use super::{ObjectInfo, SimConfig};

/// The frame lengths of a BLOCK and an ATTESTATION GOSSIP message as the testnet sends them: a
/// block produced on genesis and an attestation to it (the chain crate's producer), SSZ bodies,
/// with an `origin` header.
pub fn testnet_frame_lens() -> (usize, usize) {
    let frame_len = |topic, root, body: Vec<u8>| {
        let mut env = GossipEnvelope::new(topic, root, Bytes::from(body), 1_600_000_000_000);
        let _ = Origin(u64::MAX >> 1).write(&mut env.header);
        env.to_frame().map_or(0, |f| f.encoded_len())
    };
    let Ok(store) = GenesisConfig::new(1, 1, Duration::ZERO, None)
        .and_then(|g| g.memory_store(StoreConfig::default()))
    else {
        return (0, 0);
    };
    let producer = BlockProducer::new("testnet validator 1", 1);
    let Ok(block) = producer.produce_on_head(&store, Slot(1)) else {
        return (0, 0);
    };
    let attestation = producer.attest(&store, store.head());
    (
        frame_len(Topic::Block, block.hash_tree_root(), block.as_ssz_bytes()),
        frame_len(
            Topic::Attestation,
            HashTreeRoot::hash_tree_root(&attestation),
            attestation.as_ssz_bytes(),
        ),
    )
}

/// Figures over a set of objects and their expected receivers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slice {
    /// Objects in the set.
    pub objects: usize,
    /// (object, receiver) pairs expected: receivers alive at the end and connected to the
    /// publisher when it published.
    pub expected: u64,
    /// Of those, delivered.
    pub delivered: u64,
    /// Of those, delivered first by a pull (an answer to IWANT).
    pub pulled: u64,
    /// Copies received beyond the first, over the set's objects.
    pub duplicates: u64,
    /// Propagation latency (first copy, publisher to receiver): median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest.
    pub max: Duration,
}

impl Slice {
    /// Delivered over expected (1 when nothing was expected).
    pub fn delivery_ratio(&self) -> f64 {
        if self.expected == 0 {
            return 1.0;
        }
        self.delivered as f64 / self.expected as f64
    }

    /// Duplicates per receiving node per object.
    pub fn duplicates_per_node(&self) -> f64 {
        if self.expected == 0 {
            return 0.0;
        }
        self.duplicates as f64 / self.expected as f64
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct SimReport {
    /// The design's name.
    pub design: String,
    /// The scenario's name.
    pub scenario: String,
    /// Nodes.
    pub nodes: usize,
    /// Objects published.
    pub objects: usize,
    /// Every object.
    pub all: Slice,
    /// Objects of the slots after the warm-up.
    pub steady: Slice,
    /// Objects published after the disruption (kill, or heal), if any.
    pub after: Option<Slice>,
    /// Every object, receivers restricted to the flood nodes (mixed networks).
    pub at_flood_nodes: Option<Slice>,
    /// Object frames sent.
    pub object_frames: u64,
    /// Their bytes.
    pub object_bytes: u64,
    /// Object frames sent in answer to IWANT.
    pub pulled_frames: u64,
    /// Control frames sent, by verb (PRUNE, GRAFT, IHAVE, IWANT).
    pub control_frames: [u64; 4],
    /// Their bytes, by verb.
    pub control_bytes: [u64; 4],
    /// Hashes they carried, by verb.
    pub control_hashes: [u64; 4],
    /// Penalties routers asked for.
    pub penalties: u64,
    /// For a disruption: objects published this long after it, or later, reached every
    /// survivor by push alone (no pull, none missing). `None` without a disruption.
    pub repaired_within: Option<Duration>,
    /// The slot running when the disruption ended (the kill, or the heal).
    pub disruption_slot: Option<u32>,
    /// Figures of each slot's objects, in slot order.
    pub slots: Vec<SlotFigures>,
}

/// The figures of one slot's objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotFigures {
    /// 99th percentile of their propagation latency.
    pub p99: Duration,
    /// Deliveries made by pull.
    pub pulled: u64,
    /// Deliveries expected and not made.
    pub missing: u64,
}

impl SimReport {
    /// Control frames of every verb.
    pub fn control_frames_total(&self) -> u64 {
        self.control_frames.iter().sum()
    }

    /// Control bytes of every verb.
    pub fn control_bytes_total(&self) -> u64 {
        self.control_bytes.iter().sum()
    }

    /// This run against plain flood in the same network, scenario and seed.
    pub fn compare(&self, flood: &SimReport) -> Comparison {
        let saved = flood.object_bytes as i64 - self.object_bytes as i64;
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
        Comparison {
            bytes_saved: saved,
            overhead: self.control_bytes_total() as f64 / (saved.max(1) as f64),
            p50_ratio: ratio(self.steady.p50, flood.steady.p50),
            p99_ratio: ratio(self.steady.p99, flood.steady.p99),
            after_p99_ratio: self
                .after
                .as_ref()
                .zip(flood.after.as_ref())
                .map(|(a, f)| ratio(a.p99, f.p99)),
            repair_slots: self.repair_slots(flood),
        }
    }

    /// Slots from the disruption's to the last one whose objects missed a survivor or whose p99
    /// exceeded 1.25 times flood's for the same slot (0: none after the disruption's own).
    fn repair_slots(&self, flood: &SimReport) -> Option<u32> {
        let first = self.disruption_slot?;
        let bad = |s: usize| {
            let (mine, theirs) = (self.slots.get(s)?, flood.slots.get(s)?);
            // 1.25x in whole microseconds: 4 * mine > 5 * theirs.
            let slow = 4 * mine.p99.as_micros() > 5 * theirs.p99.as_micros();
            (mine.missing > 0 || slow).then_some(s as u32)
        };
        let last = (first as usize..self.slots.len()).filter_map(bad).max();
        Some(last.map_or(0, |l| l.saturating_sub(first)))
    }
}

/// A run against flood.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Object bytes flood sent minus object bytes this run sent.
    pub bytes_saved: i64,
    /// Control bytes over bytes saved.
    pub overhead: f64,
    /// Steady-state median latency over flood's.
    pub p50_ratio: f64,
    /// Steady-state 99th percentile over flood's.
    pub p99_ratio: f64,
    /// The 99th percentile of the objects published after the disruption over flood's.
    pub after_p99_ratio: Option<f64>,
    /// For a disruption: how many slots after the one it happened in were still slowed (p99
    /// above 1.25 times flood's in that slot) or incomplete.
    pub repair_slots: Option<u32>,
}

/// Counts during a run.
#[derive(Debug)]
pub(super) struct Recorder {
    nodes: usize,
    /// First receipt per (object, node), µs; `u64::MAX` when none.
    first: Vec<u64>,
    pulled: Vec<bool>,
    dups: Vec<u32>,
    object_frames: u64,
    object_bytes: u64,
    pulled_frames: u64,
    control_frames: [u64; 4],
    control_bytes: [u64; 4],
    control_hashes: [u64; 4],
    penalties: u64,
    lens: HashMap<(ControlVerb, usize), usize>,
}

fn percentile(sorted: &[u64], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Duration::from_micros(sorted[rank - 1])
}

impl Recorder {
    pub(super) fn new(nodes: usize) -> Self {
        Recorder {
            nodes,
            first: Vec::new(),
            pulled: Vec::new(),
            dups: Vec::new(),
            object_frames: 0,
            object_bytes: 0,
            pulled_frames: 0,
            control_frames: [0; 4],
            control_bytes: [0; 4],
            control_hashes: [0; 4],
            penalties: 0,
            lens: HashMap::new(),
        }
    }

    pub(super) fn published(&mut self, index: u32, node: usize, now: u64) {
        debug_assert_eq!(self.dups.len(), index as usize);
        self.first.extend(std::iter::repeat_n(u64::MAX, self.nodes));
        self.pulled.extend(std::iter::repeat_n(false, self.nodes));
        self.dups.push(0);
        self.first[index as usize * self.nodes + node] = now;
    }

    pub(super) fn first(&mut self, object: super::SimObject, node: usize, now: u64, pulled: bool) {
        let i = object.0 as usize * self.nodes + node;
        self.first[i] = now;
        self.pulled[i] = pulled;
    }

    pub(super) fn duplicate(&mut self, object: super::SimObject) {
        self.dups[object.0 as usize] += 1;
    }

    pub(super) fn object_sent(&mut self, len: usize, pulled: bool) {
        self.object_frames += 1;
        self.object_bytes += len as u64;
        self.pulled_frames += u64::from(pulled);
    }

    pub(super) fn control_sent(&mut self, message: &ControlMessage) {
        let i = super::super::verb_index(message.verb);
        let len = *self
            .lens
            .entry((message.verb, message.hashes.len()))
            .or_insert_with(|| super::control_frame_len(message));
        self.control_frames[i] += 1;
        self.control_bytes[i] += len as u64;
        self.control_hashes[i] += message.hashes.len() as u64;
    }

    pub(super) fn penalty(&mut self) {
        self.penalties += 1;
    }

    fn slice(
        &self,
        objects: &[ObjectInfo],
        alive: &[bool],
        keep: impl Fn(&ObjectInfo) -> bool,
        receiver: impl Fn(usize) -> bool,
    ) -> Slice {
        let mut latencies = Vec::new();
        let mut s = Slice::default();
        for (index, info) in objects.iter().enumerate().filter(|(_, o)| keep(o)) {
            s.objects += 1;
            s.duplicates += u64::from(self.dups[index]);
            for &n in info.expected.iter().filter(|n| alive[**n] && receiver(**n)) {
                s.expected += 1;
                let at = self.first[index * self.nodes + n];
                if at != u64::MAX {
                    s.delivered += 1;
                    s.pulled += u64::from(self.pulled[index * self.nodes + n]);
                    latencies.push(at - info.published);
                }
            }
        }
        latencies.sort_unstable();
        s.p50 = percentile(&latencies, 0.50);
        s.p99 = percentile(&latencies, 0.99);
        s.max = latencies
            .last()
            .map_or(Duration::ZERO, |l| Duration::from_micros(*l));
        s
    }

    /// The last object after `event` that a survivor got by pull or not at all.
    fn repaired_within(&self, objects: &[ObjectInfo], alive: &[bool], event: u64) -> Duration {
        let mut last = 0;
        for (index, info) in objects.iter().enumerate() {
            if info.published < event {
                continue;
            }
            let unrepaired = info.expected.iter().filter(|n| alive[**n]).any(|&n| {
                let i = index * self.nodes + n;
                self.first[i] == u64::MAX || self.pulled[i]
            });
            if unrepaired {
                last = last.max(info.published - event);
            }
        }
        Duration::from_micros(last)
    }

    pub(super) fn finish(
        self,
        cfg: &SimConfig,
        objects: &[ObjectInfo],
        flood_nodes: &[bool],
        alive: impl Iterator<Item = bool>,
    ) -> SimReport {
        let alive: Vec<bool> = alive.collect();
        let warmup = cfg.warmup_slots;
        let event = cfg.scenario.disruption_end().map(|d| d.as_micros() as u64);
        let all = self.slice(objects, &alive, |_| true, |_| true);
        let steady = self.slice(objects, &alive, |o| o.slot >= warmup, |_| true);
        let after = event.map(|e| self.slice(objects, &alive, |o| o.published >= e, |_| true));
        let at_flood_nodes = (cfg.flood_nodes > 0)
            .then(|| self.slice(objects, &alive, |_| true, |n| flood_nodes[n]));
        let slots = (0..cfg.slots)
            .map(|slot| {
                let s = self.slice(objects, &alive, |o| o.slot == slot, |_| true);
                SlotFigures {
                    p99: s.p99,
                    pulled: s.pulled,
                    missing: s.expected - s.delivered,
                }
            })
            .collect();
        // Slot s runs from (s + 1) slots to (s + 2) slots after the start.
        let slot_us = cfg.slot.as_micros().max(1) as u64;
        let disruption_slot = event.map(|e| (e / slot_us).saturating_sub(1) as u32);
        SimReport {
            design: cfg.design.name(),
            scenario: cfg.scenario.name(),
            nodes: cfg.nodes,
            objects: objects.len(),
            all,
            steady,
            after,
            at_flood_nodes,
            object_frames: self.object_frames,
            object_bytes: self.object_bytes,
            pulled_frames: self.pulled_frames,
            control_frames: self.control_frames,
            control_bytes: self.control_bytes,
            control_hashes: self.control_hashes,
            penalties: self.penalties,
            repaired_within: event.map(|e| self.repaired_within(objects, &alive, e)),
            disruption_slot,
            slots,
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

/// A table of runs, each with its comparison against flood when there is one.
pub fn table(rows: &[(SimReport, Option<Comparison>)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<26} {:<15} {:>7} {:>8} {:>6} {:>6} {:>8} {:>7} {:>5} {:>5} {:>6} {:>9} {:>6} {:>6} {:>9}",
        "design",
        "scenario",
        "objects",
        "delivery",
        "dup/n",
        "dup/n*",
        "ctl fr/o",
        "ctl B/o",
        "p50*",
        "p99*",
        "p99/fl",
        "p99aft/fl",
        "ovh",
        "repair",
        "lastpull"
    );
    let ratio = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.2}"));
    for (r, cmp) in rows {
        let objects = r.objects.max(1) as f64;
        let delivery = r.after.as_ref().unwrap_or(&r.all).delivery_ratio();
        let _ = writeln!(
            out,
            "{:<26} {:<15} {:>7} {:>8.4} {:>6.2} {:>6.2} {:>8.1} {:>7.0} {:>5} {:>5} {:>6} {:>9} {:>6} {:>6} {:>9}",
            r.design,
            r.scenario,
            r.objects,
            delivery,
            r.all.duplicates_per_node(),
            r.steady.duplicates_per_node(),
            r.control_frames_total() as f64 / objects,
            r.control_bytes_total() as f64 / objects,
            ms(r.steady.p50),
            ms(r.steady.p99),
            ratio(cmp.map(|c| c.p99_ratio)),
            ratio(cmp.and_then(|c| c.after_p99_ratio)),
            cmp.map_or("-".into(), |c| format!("{:.1}%", 100.0 * c.overhead)),
            cmp.and_then(|c| c.repair_slots)
                .map_or("-".into(), |n| format!("{n} sl")),
            r.repaired_within
                .map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64())),
        );
    }
    out
}
