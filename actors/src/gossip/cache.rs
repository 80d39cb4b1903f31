//! `SeenCache`: the bounded, time-limited set of hashes already seen (object `hash`es, and the
//! `(message_hash, hash)` pairs of validated messages). Inserting beyond the capacity forgets the
//! oldest entry; entries older than the TTL are forgotten. Plain data, time passed in. No
//! messages handled or sent.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// What a cached hash names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeenKey {
    /// An object's hash_tree_root (gossip `hash`).
    Object([u8; 32]),
    /// A full message that passed validation: its `message_hash` and `hash`, the pair itself (no
    /// hash of it to compute). A later frame whose body hashes to that `message_hash` and which
    /// names that `hash` carries the same validated object, so it is a duplicate without decoding
    /// or re-hashing the object.
    Validated([u8; 32], [u8; 32]),
}

/// The cache.
#[derive(Debug)]
pub struct SeenCache {
    /// Key → sequence number of its latest insertion.
    entries: HashMap<SeenKey, u64>,
    order: VecDeque<(SeenKey, Instant, u64)>,
    next_seq: u64,
    capacity: usize,
    ttl: Duration,
}

impl SeenCache {
    /// A cache of at most `capacity` (≥ 1) entries, each kept for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        SeenCache {
            entries: HashMap::new(),
            order: VecDeque::new(),
            next_seq: 0,
            capacity: capacity.max(1),
            ttl,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(key, at, seq)) = self.order.front() {
            if now.saturating_duration_since(at) < self.ttl {
                break;
            }
            self.order.pop_front();
            // Only the latest insertion of a key owns its map entry.
            if self.entries.get(&key) == Some(&seq) {
                self.entries.remove(&key);
            }
        }
    }

    /// Was `key` seen within the TTL?
    pub fn contains(&mut self, key: &SeenKey, now: Instant) -> bool {
        self.expire(now);
        self.entries.contains_key(key)
    }

    /// Records `key` as seen at `now`.
    pub fn insert(&mut self, key: SeenKey, now: Instant) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(key, seq);
        self.order.push_back((key, now, seq));
        while self.entries.len() > self.capacity || self.order.len() > 2 * self.capacity {
            let Some((old, _, old_seq)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&old) == Some(&old_seq) {
                self.entries.remove(&old);
            }
        }
        self.expire(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_until_ttl_then_forgets() {
        let t0 = Instant::now();
        let mut c = SeenCache::new(10, Duration::from_secs(5));
        let k = SeenKey::Validated([1; 32], [2; 32]);
        c.insert(k, t0);
        assert!(c.contains(&k, t0 + Duration::from_secs(4)));
        assert!(!c.contains(&SeenKey::Object([1; 32]), t0));
        assert!(!c.contains(&k, t0 + Duration::from_secs(5)));
        assert!(c.is_empty());
    }

    #[test]
    fn is_bounded_and_forgets_the_oldest_first() {
        let t0 = Instant::now();
        let mut c = SeenCache::new(3, Duration::from_secs(60));
        for i in 0..5u8 {
            c.insert(SeenKey::Object([i; 32]), t0);
        }
        assert_eq!(c.len(), 3);
        assert!(!c.contains(&SeenKey::Object([0; 32]), t0));
        assert!(!c.contains(&SeenKey::Object([1; 32]), t0));
        assert!(c.contains(&SeenKey::Object([4; 32]), t0));
    }

    #[test]
    fn reinsertion_refreshes_without_growing() {
        let t0 = Instant::now();
        let mut c = SeenCache::new(2, Duration::from_secs(10));
        let k = SeenKey::Object([7; 32]);
        for s in 0..50 {
            c.insert(k, t0 + Duration::from_secs(s / 10));
        }
        assert_eq!(c.len(), 1);
        assert!(c.contains(&k, t0 + Duration::from_secs(13)));
    }
}
