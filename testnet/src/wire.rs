//! What the link proxies saw on the wire: every GOSSIP frame forwarded from one node to another,
//! timestamped when it left the sender (the proxy read it) and when it was delivered (the proxy
//! wrote it to the receiver). [`WireLog`] turns them into per-node counters (sent, relayed,
//! originated, received, duplicates) and propagation latencies: from the object's first frame
//! leaving its origin to its first delivery to each node, so a direct neighbour of the origin
//! counts one proxy hop, not zero. Plain struct, no I/O, no messages; the proxies feed it through
//! a mutex.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use hobbits_chain::Root;
use hobbits_codec::Topic;

use crate::report::{LatencySummary, Propagation};

/// Most distinct gossip objects tracked (a bound on memory; more are counted, not timed).
pub const MAX_TRACKED_OBJECTS: usize = 200_000;

#[derive(Debug, Clone)]
struct Object {
    topic: Topic,
    origin: usize,
    /// When its first frame left the origin (the proxy read it off the origin's socket).
    first_sent: Duration,
    /// Nodes running when it was first sent (who should receive it).
    expected: BTreeSet<usize>,
    /// When each node first had it (the origin at `first_sent`).
    first_seen: HashMap<usize, Seen>,
}

/// The earliest evidence that a node had an object.
#[derive(Debug, Clone, Copy)]
struct Seen {
    at: Duration,
    /// A frame was delivered to it then (otherwise: it sent one then, having it by production or
    /// sync, or its receipt is not logged yet).
    by_receipt: bool,
}

/// Gossip counters of one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GossipCounters {
    /// GOSSIP frames the node wrote (one per link it sent on).
    pub sent: u64,
    /// Of those, frames of objects another node published.
    pub relayed: u64,
    /// Of those, frames of objects this node published.
    pub originated: u64,
    /// GOSSIP frames delivered to the node.
    pub received: u64,
    /// Frames, sent or delivered, of an object the node had already seen.
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

    /// A GOSSIP frame for `(topic, hash)` left `from` at `at` (since the run start): a proxy read
    /// it off `from`'s socket and is about to forward it. Logged before the forward, so the
    /// origin's first frame is always logged before any relay of it.
    pub fn gossip_sent(&mut self, from: usize, topic: Topic, hash: Root, at: Duration) {
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
                    first_seen: HashMap::from([(
                        from,
                        Seen {
                            at,
                            by_receipt: false,
                        },
                    )]),
                },
            );
            self.counters.entry(from).or_default().originated += 1;
        } else if let Some(o) = self.objects.get_mut(&key) {
            let c = self.counters.entry(from).or_default();
            if o.origin == from {
                c.originated += 1;
                // Its links' proxies may log its frames out of order.
                o.first_sent = o.first_sent.min(at);
            } else {
                // Includes a node we never saw receive it (it had it by sync).
                c.relayed += 1;
            }
            if see(o, from, at, false) {
                c.duplicates += 1;
            }
        }
        self.counters.entry(from).or_default().sent += 1;
    }

    /// A proxy finished writing a GOSSIP frame for `(topic, hash)` into `to`'s socket at `at`.
    pub fn gossip_delivered(&mut self, to: usize, topic: Topic, hash: Root, at: Duration) {
        let c = self.counters.entry(to).or_default();
        c.received += 1;
        if let Some(o) = self.objects.get_mut(&(topic, hash)) {
            if see(o, to, at, true) {
                c.duplicates += 1;
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
            for (_, seen) in o.first_seen.iter().filter(|(n, _)| **n != o.origin) {
                per_node.push(ms(seen.at));
            }
            let mut last = Duration::ZERO;
            let all = o.expected.iter().all(|n| match o.first_seen.get(n) {
                Some(seen) => {
                    last = last.max(seen.at);
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

/// Records that `node` had `o` at `at` (`by_receipt`: a frame was delivered to it). Returns whether
/// a receipt turned out to be a duplicate: a frame delivered when the node already had the object
/// (received or sent it earlier). The proxies of different links log concurrently, so the earlier
/// evidence may be logged second: then the receipt logged first is the duplicate.
fn see(o: &mut Object, node: usize, at: Duration, by_receipt: bool) -> bool {
    match o.first_seen.entry(node) {
        Entry::Vacant(v) => {
            v.insert(Seen { at, by_receipt });
            false
        }
        Entry::Occupied(mut e) => {
            let earlier = *e.get();
            if earlier.at <= at {
                by_receipt
            } else {
                e.insert(Seen { at, by_receipt });
                earlier.by_receipt
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// A frame from `from` to `to`, read by the proxy at `sent` ms and written at `delivered` ms.
    fn hop(log: &mut WireLog, from: usize, to: usize, h: Root, sent: u64, delivered: u64) {
        log.gossip_sent(from, Topic::Block, h, ms(sent));
        log.gossip_delivered(to, Topic::Block, h, ms(delivered));
    }

    #[test]
    fn counters_and_latency_along_a_line() {
        // 0 produces, relays along 0 - 1 - 2; 2 also gets it back from 1 twice (a duplicate).
        let mut log = WireLog::new();
        log.set_running((0..3).collect());
        let h = Root([1; 32]);
        hop(&mut log, 0, 1, h, 10, 11);
        hop(&mut log, 1, 2, h, 14, 15);
        hop(&mut log, 1, 2, h, 15, 16);
        hop(&mut log, 2, 1, h, 16, 17);
        assert_eq!(log.counters(0).originated, 1);
        assert_eq!(log.counters(0).sent, 1);
        assert_eq!(log.counters(1).relayed, 2);
        assert_eq!(log.counters(1).received, 2);
        assert_eq!(log.counters(1).duplicates, 1);
        assert_eq!(log.counters(2).received, 2);
        assert_eq!(log.counters(2).duplicates, 1);
        let (p, raw) = log.propagation(Topic::Block);
        assert_eq!((p.objects, p.reached_all), (1, 1));
        assert_eq!(p.to_all_nodes.max_ms, Some(5.0));
        let mut raw = raw;
        raw.sort_by(f64::total_cmp);
        // The origin's neighbour counts the proxy hop (sent at 10, delivered at 11), not zero.
        assert_eq!(raw, vec![1.0, 5.0]);
        assert_eq!(log.propagation(Topic::Attestation).0.objects, 0);
    }

    #[test]
    fn entries_logged_out_of_order_by_concurrent_proxies_keep_the_earliest() {
        let mut log = WireLog::new();
        log.set_running((0..3).collect());
        let h = Root([3; 32]);
        // 0's frame to 1 is read at 10; 1 relays it to 2 (read at 12) before the first proxy
        // logs its delivery to 1 (written at 11).
        log.gossip_sent(0, Topic::Block, h, ms(10));
        log.gossip_sent(1, Topic::Block, h, ms(12));
        log.gossip_delivered(2, Topic::Block, h, ms(13));
        log.gossip_delivered(1, Topic::Block, h, ms(11));
        assert_eq!(log.counters(1).duplicates, 0);
        // 2 gets a second copy from 0 directly, written at 14 but logged after one at 15 from 1.
        log.gossip_sent(0, Topic::Block, h, ms(9));
        log.gossip_delivered(2, Topic::Block, h, ms(15));
        log.gossip_delivered(2, Topic::Block, h, ms(14));
        assert_eq!(log.counters(2).received, 3);
        assert_eq!(log.counters(2).duplicates, 2);
        assert_eq!(log.counters(0).originated, 2);
        let (p, mut raw) = log.propagation(Topic::Block);
        raw.sort_by(f64::total_cmp);
        // Measured from 0's earliest frame (9): 1 at 11, 2 at 13.
        assert_eq!(raw, vec![2.0, 4.0]);
        assert_eq!(p.to_all_nodes.max_ms, Some(4.0));
    }

    #[test]
    fn an_object_missing_a_node_did_not_reach_all() {
        let mut log = WireLog::new();
        log.set_running((0..3).collect());
        log.gossip_sent(0, Topic::Attestation, Root([2; 32]), ms(1));
        log.gossip_delivered(1, Topic::Attestation, Root([2; 32]), ms(2));
        let (p, _) = log.propagation(Topic::Attestation);
        assert_eq!((p.objects, p.reached_all), (1, 0));
        // Once the missing node is stopped it is no longer expected.
        log.node_stopped(2);
        assert_eq!(log.propagation(Topic::Attestation).0.reached_all, 1);
    }

    #[test]
    fn a_frame_read_but_never_written_reaches_nobody() {
        // A link cut between the read and the write: the sender sent it, the receiver never got it.
        let mut log = WireLog::new();
        log.set_running((0..2).collect());
        log.gossip_sent(0, Topic::Block, Root([4; 32]), ms(1));
        assert_eq!(log.counters(0).sent, 1);
        assert_eq!(log.counters(1).received, 0);
        assert_eq!(log.propagation(Topic::Block).0.reached_all, 0);
    }
}
