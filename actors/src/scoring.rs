//! Peer scoring and request rate limiting as plain structs (time passed in, no runtime):
//! [`PeerScore`] (penalty points with exponential decay), [`ScoreBook`] (the scores of many peers,
//! bounded, deciding bans by `Scoring::ban_threshold`) and [`TokenBucket`] (the per-peer RPC
//! rate limit). No messages handled or sent: the peer manager feeds the book with the
//! [`Penalty`] of every `PeerPenalized` from sessions, gossip and sync; each session owns one
//! bucket.
//!
//! Rules (docs/PROTOCOL.md, "Peer scoring and bans"): each offence adds its configured points;
//! a score halves every `decay_half_life`; a peer whose score reaches `ban_threshold` is banned
//! and its score forgotten (the ban list remembers it from then on).

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::config::Scoring;
use crate::events::Penalty;

/// The points `penalty` costs under `scoring`: provably wrong gossip or sync data costs
/// `invalid_gossip`, each transport offence its own field.
pub fn points(penalty: &Penalty, scoring: &Scoring) -> u32 {
    match penalty {
        Penalty::MalformedFrame { .. } => scoring.malformed_frame,
        Penalty::BadMessage { .. } => scoring.bad_message,
        Penalty::Timeout { .. } => scoring.timeout,
        Penalty::RateLimited { .. } => scoring.rate_limited,
        Penalty::MessageHashMismatch
        | Penalty::UndecodableBody { .. }
        | Penalty::HashMismatch
        | Penalty::InvalidObject { .. }
        | Penalty::BadSyncResponse { .. } => scoring.invalid_gossip,
    }
}

/// One peer's penalty points, decaying exponentially.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerScore {
    points: f64,
    at: Instant,
}

impl PeerScore {
    /// A clean score at `now`.
    pub fn new(now: Instant) -> Self {
        PeerScore {
            points: 0.0,
            at: now,
        }
    }

    /// The points left at `now` after decay with `half_life`.
    pub fn current(&self, now: Instant, half_life: Duration) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        let halves = elapsed / half_life.as_secs_f64().max(1e-9);
        self.points * 0.5f64.powf(halves)
    }

    /// Adds `points` at `now`; returns the new score.
    pub fn add(&mut self, points: u32, now: Instant, half_life: Duration) -> f64 {
        self.points = self.current(now, half_life) + f64::from(points);
        self.at = now.max(self.at);
        self.points
    }
}

/// What a penalty led to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScoreVerdict {
    /// Below the threshold: keep the peer.
    Keep {
        /// Score after the penalty.
        score: f64,
    },
    /// At or above the threshold: disconnect and ban (the score is forgotten).
    Ban {
        /// Score that crossed the threshold.
        score: f64,
    },
}

/// Scores of many peers (keyed by whatever identifies a peer: node id, IP, connection).
#[derive(Debug, Clone)]
pub struct ScoreBook<K> {
    scoring: Scoring,
    max_entries: usize,
    scores: HashMap<K, PeerScore>,
}

impl<K: Hash + Eq + Copy> ScoreBook<K> {
    /// A book with the given rules, holding at most `max_entries` (≥ 1) scores.
    pub fn new(scoring: Scoring, max_entries: usize) -> Self {
        ScoreBook {
            scoring,
            max_entries: max_entries.max(1),
            scores: HashMap::new(),
        }
    }

    /// The rules.
    pub fn scoring(&self) -> &Scoring {
        &self.scoring
    }

    /// Records `penalty` against `key` at `now`.
    pub fn penalize(&mut self, key: K, penalty: &Penalty, now: Instant) -> ScoreVerdict {
        let half_life = self.scoring.decay_half_life;
        if !self.scores.contains_key(&key) && self.scores.len() >= self.max_entries {
            self.evict_lowest(now);
        }
        let score = self
            .scores
            .entry(key)
            .or_insert_with(|| PeerScore::new(now))
            .add(points(penalty, &self.scoring), now, half_life);
        if score >= f64::from(self.scoring.ban_threshold) {
            self.scores.remove(&key);
            ScoreVerdict::Ban { score }
        } else {
            ScoreVerdict::Keep { score }
        }
    }

    /// The current score of `key` (0 when unknown).
    pub fn score(&self, key: &K, now: Instant) -> f64 {
        self.scores
            .get(key)
            .map_or(0.0, |s| s.current(now, self.scoring.decay_half_life))
    }

    /// Forgets `key`.
    pub fn forget(&mut self, key: &K) {
        self.scores.remove(key);
    }

    /// Scores held.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// No scores held.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Drops the entry with the lowest current score (the least suspicious peer).
    fn evict_lowest(&mut self, now: Instant) {
        let half_life = self.scoring.decay_half_life;
        let victim = self
            .scores
            .iter()
            .min_by(|a, b| {
                a.1.current(now, half_life)
                    .total_cmp(&b.1.current(now, half_life))
            })
            .map(|(k, _)| *k);
        if let Some(k) = victim {
            self.scores.remove(&k);
        }
    }
}

/// A token bucket: `rate` tokens per second up to `burst`; each admitted request takes one.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(rate_per_sec: u32, burst: u32, now: Instant) -> Self {
        TokenBucket {
            rate: f64::from(rate_per_sec),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            at: now,
        }
    }

    /// Time for one token to refill (1 / rate).
    pub fn refill_interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.rate.max(1e-9))
    }

    /// Takes `n` tokens if that many are available at `now` (a request of more than the burst
    /// never succeeds; callers keep the burst at least their largest unit).
    pub fn try_take_n(&mut self, n: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now.max(self.at);
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }

    /// Time until `n` tokens are available, from the last `try_take*` (zero if they are).
    pub fn wait_for(&self, n: f64) -> Duration {
        let missing = (n.min(self.burst) - self.tokens).max(0.0);
        Duration::from_secs_f64(missing / self.rate.max(1e-9))
    }

    /// Takes a token if one is available at `now`.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now.max(self.at);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVALID_GOSSIP: &Penalty = &Penalty::MessageHashMismatch;

    fn with_reason(make: fn(String) -> Penalty) -> Penalty {
        make("test".to_string())
    }

    fn scoring() -> Scoring {
        Scoring {
            ban_threshold: 100,
            invalid_gossip: 10,
            decay_half_life: Duration::from_secs(10),
            ..Scoring::default()
        }
    }

    #[test]
    fn penalties_accumulate_until_the_threshold_bans() {
        let t0 = Instant::now();
        let mut book = ScoreBook::new(scoring(), 16);
        for i in 1..10 {
            assert_eq!(
                book.penalize(7u32, INVALID_GOSSIP, t0),
                ScoreVerdict::Keep {
                    score: f64::from(i * 10)
                }
            );
        }
        assert_eq!(
            book.penalize(7u32, INVALID_GOSSIP, t0),
            ScoreVerdict::Ban { score: 100.0 }
        );
        assert_eq!(book.score(&7, t0), 0.0, "forgotten once banned");
        assert!(book.is_empty());
    }

    #[test]
    fn a_malformed_frame_bans_at_once_by_default() {
        let mut book = ScoreBook::new(Scoring::default(), 16);
        assert!(matches!(
            book.penalize(
                1u8,
                &with_reason(|reason| Penalty::MalformedFrame { reason }),
                Instant::now()
            ),
            ScoreVerdict::Ban { .. }
        ));
    }

    #[test]
    fn scores_halve_every_half_life() {
        let t0 = Instant::now();
        let mut book = ScoreBook::new(scoring(), 16);
        for _ in 0..8 {
            book.penalize(1u8, INVALID_GOSSIP, t0);
        }
        let later = t0 + Duration::from_secs(10);
        assert!((book.score(&1, later) - 40.0).abs() < 1e-6);
        // Slow offences never reach the threshold: 10 points every half-life settles near 20.
        let mut t = t0;
        let mut book = ScoreBook::new(scoring(), 16);
        for _ in 0..100 {
            t += Duration::from_secs(10);
            assert!(matches!(
                book.penalize(2u8, INVALID_GOSSIP, t),
                ScoreVerdict::Keep { .. }
            ));
        }
        assert!(book.score(&2, t) < 20.0 + 1e-6);
    }

    #[test]
    fn penalty_points_follow_the_config() {
        let s = Scoring {
            rate_limited: 3,
            timeout: 7,
            bad_message: 11,
            ..Scoring::default()
        };
        let p = |make: fn(String) -> Penalty| points(&with_reason(make), &s);
        assert_eq!(p(|reason| Penalty::RateLimited { reason }), 3);
        assert_eq!(p(|reason| Penalty::Timeout { reason }), 7);
        assert_eq!(p(|reason| Penalty::BadMessage { reason }), 11);
        assert_eq!(
            p(|reason| Penalty::MalformedFrame { reason }),
            s.malformed_frame
        );
        for gossip in [
            Penalty::MessageHashMismatch,
            Penalty::HashMismatch,
            with_reason(|reason| Penalty::BadSyncResponse { reason }),
        ] {
            assert_eq!(points(&gossip, &s), s.invalid_gossip);
        }
    }

    #[test]
    fn the_book_is_bounded_and_evicts_the_least_suspicious() {
        let t0 = Instant::now();
        let mut book = ScoreBook::new(scoring(), 2);
        book.penalize(1u8, INVALID_GOSSIP, t0);
        book.penalize(1u8, INVALID_GOSSIP, t0);
        book.penalize(
            2u8,
            &with_reason(|reason| Penalty::RateLimited { reason }),
            t0,
        );
        book.penalize(
            3u8,
            &with_reason(|reason| Penalty::RateLimited { reason }),
            t0,
        );
        assert_eq!(book.len(), 2);
        assert_eq!(book.score(&1, t0), 20.0, "the worst offender is kept");
        assert_eq!(book.score(&2, t0), 0.0, "the mildest was evicted");
    }

    #[test]
    fn token_bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 5, t0);
        assert_eq!((0..8).filter(|_| b.try_take(t0)).count(), 5, "the burst");
        assert!(!b.try_take(t0));
        // 10 per second: one token every 100 ms.
        assert!(b.try_take(t0 + Duration::from_millis(100)));
        assert!(!b.try_take(t0 + Duration::from_millis(150)));
        assert_eq!(b.refill_interval(), Duration::from_millis(100));
        // A long pause refills to the burst, never more.
        let t1 = t0 + Duration::from_secs(60);
        assert_eq!((0..8).filter(|_| b.try_take(t1)).count(), 5);
    }
}
