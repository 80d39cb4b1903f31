//! What the link proxies saw on the wire: every GOSSIP frame forwarded from one node to another,
//! timestamped. [`WireLog`] turns them into per-node counters (sent, relayed, originated,
//! received, duplicates) and propagation latencies (first transmission → first receipt at each
//! node). Plain struct, no I/O, no messages; the proxies feed it through a mutex.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use hobbits_chain::Root;
use hobbits_codec::Topic;

use crate::testnet::report::{LatencySummary, Propagation};

/// Most distinct gossip objects tracked (a bound on memory; more are counted, not timed).
pub const MAX_TRACKED_OBJECTS: usize = 200_000;

#[derive(Debug, Clone)]
struct Object {
    topic: Topic,
    origin: usize,
    first_sent: Duration,
    /// Nodes running when it was first sent (who should receive it).
    expected: BTreeSet<usize>,
    /// First time each node had it (the origin at `first_sent`).
    first_seen: HashMap<usize, Duration>,
}

/// Gossip counters of one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GossipCounters {
    pub sent: u64,
    pub relayed: u64,
    pub originated: u64,
    pub received: u64,
    pub duplicates: u64,
}

/// The log.
#[derive(Debug, Default)]
pub struct WireLog {
    objects: HashMap<(Topic, Root), Object>,
    counters: HashMap<usize, GossipCounters>,
    running: BTreeSet<usize>,
    /// Frames of objects past [`MAX_TRACKED_OBJECTS`].
    pub untracked: u64,
}

impl WireLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// The nodes running from now on (the audience of objects first sent after this).
    pub fn set_running(&mut self, running: BTreeSet<usize>) {
        self.running = running;
    }

    /// A node stopped: what it had is forgotten (it restarts from scratch).
    pub fn node_stopped(&mut self, node: usize) {
        self.running.remove(&node);
        for o in self.objects.values_mut() {
            o.expected.remove(&node);
            o.first_seen.remove(&node);
        }
    }

    /// A GOSSIP frame for `(topic, hash)` went from `from` to `to` at `at` (since the run start).
    pub fn gossip(&mut self, from: usize, to: usize, topic: Topic, hash: Root, at: Duration) {
        let key = (topic, hash);
        if !self.objects.contains_key(&key) {
            if self.objects.len() >= MAX_TRACKED_OBJECTS {
                self.untracked += 1;
                return;
            }
            self.objects.insert(
                key,
                Object {
                    topic,
                    origin: from,
                    first_sent: at,
                    expected: self.running.clone(),
                    first_seen: HashMap::from([(from, at)]),
                },
            );
            self.counters.entry(from).or_default().originated += 1;
        } else if let Some(o) = self.objects.get_mut(&key) {
            let c = self.counters.entry(from).or_default();
            if o.origin == from {
                c.originated += 1;
            } else {
                // Includes a node we never saw receive it (it had it by sync).
                c.relayed += 1;
                o.first_seen.entry(from).or_insert(at);
            }
        }
        self.counters.entry(from).or_default().sent += 1;
        let c = self.counters.entry(to).or_default();
        c.received += 1;
        if let Some(o) = self.objects.get_mut(&key) {
            match o.first_seen.entry(to) {
                std::collections::hash_map::Entry::Occupied(_) => c.duplicates += 1,
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(at);
                }
            }
        }
    }

    /// Counters of `node`.
    pub fn counters(&self, node: usize) -> GossipCounters {
        self.counters.get(&node).copied().unwrap_or_default()
    }

    /// Propagation of `topic` and the raw per-(object, node) latencies in ms.
    pub fn propagation(&self, topic: Topic) -> (Propagation, Vec<f64>) {
        let mut to_all = Vec::new();
        let mut per_node = Vec::new();
        let mut objects = 0;
        for o in self.objects.values().filter(|o| o.topic == topic) {
            objects += 1;
            let ms = |d: Duration| d.saturating_sub(o.first_sent).as_secs_f64() * 1000.0;
            for (_, &t) in o.first_seen.iter().filter(|(n, _)| **n != o.origin) {
                per_node.push(ms(t));
            }
            let mut last = Duration::ZERO;
            let all = o.expected.iter().all(|n| match o.first_seen.get(n) {
                Some(&t) => {
                    last = last.max(t);
                    true
                }
                None => false,
            });
            if all {
                to_all.push(ms(last.max(o.first_sent)));
            }
        }
        (
            Propagation {
                objects,
                reached_all: to_all.len(),
                to_all_nodes: LatencySummary::of(&to_all),
                per_node: LatencySummary::of(&per_node),
            },
            per_node,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn counters_and_latency_along_a_line() {
        // 0 produces, relays along 0 - 1 - 2; 2 also gets it back from 1 twice (a duplicate).
        let mut log = WireLog::new();
        log.set_running((0..3).collect());
        let h = Root([1; 32]);
        log.gossip(0, 1, Topic::Block, h, ms(10));
        log.gossip(1, 2, Topic::Block, h, ms(14));
        log.gossip(1, 2, Topic::Block, h, ms(15));
        log.gossip(2, 1, Topic::Block, h, ms(16));
        assert_eq!(log.counters(0).originated, 1);
        assert_eq!(log.counters(0).sent, 1);
        assert_eq!(log.counters(1).relayed, 2);
        assert_eq!(log.counters(1).received, 2);
        assert_eq!(log.counters(1).duplicates, 1);
        assert_eq!(log.counters(2).received, 2);
        assert_eq!(log.counters(2).duplicates, 1);
        let (p, raw) = log.propagation(Topic::Block);
        assert_eq!((p.objects, p.reached_all), (1, 1));
        assert_eq!(p.to_all_nodes.max_ms, Some(4.0));
        let mut raw = raw;
        raw.sort_by(f64::total_cmp);
        assert_eq!(raw, vec![0.0, 4.0]);
        assert_eq!(log.propagation(Topic::Attestation).0.objects, 0);
    }

    #[test]
    fn an_object_missing_a_node_did_not_reach_all() {
        let mut log = WireLog::new();
        log.set_running((0..3).collect());
        log.gossip(0, 1, Topic::Attestation, Root([2; 32]), ms(1));
        let (p, _) = log.propagation(Topic::Attestation);
        assert_eq!((p.objects, p.reached_all), (1, 0));
        // Once the missing node is stopped it is no longer expected.
        log.node_stopped(2);
        assert_eq!(log.propagation(Topic::Attestation).0.reached_all, 1);
    }
}
