//! Per-peer rate limits on what a peer sends besides RPC requests (those have their own bucket in
//! `inbound_rpc.rs`): GOSSIP frames, counted in objects and in bytes (gossip overlay control
//! messages are GOSSIP frames too, so they are under the same limits), and PING. Plain state
//! owned by the session actor; handles and sends no messages. Over a limit, the session drops the
//! frame unanswered, reports `Penalty::RateLimited` and stops reading the peer until the limit
//! would admit the next frame (docs/PROTOCOL.md, "Rate limits").

use std::time::{Duration, Instant};

use crate::config::Limits;
use crate::scoring::TokenBucket;

/// Which limit a frame exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// `gossip_rate_per_sec` (objects).
    GossipObjects,
    /// `gossip_bytes_per_sec`.
    GossipBytes,
    /// `ping_rate_per_sec`.
    Ping,
}

impl Exceeded {
    /// A short label for logs and penalties.
    pub fn label(self) -> &'static str {
        match self {
            Exceeded::GossipObjects => "gossip objects",
            Exceeded::GossipBytes => "gossip bytes",
            Exceeded::Ping => "PING",
        }
    }
}

/// The buckets of one peer.
#[derive(Debug, Clone)]
pub struct PeerLimiter {
    gossip_objects: TokenBucket,
    gossip_bytes: TokenBucket,
    ping: TokenBucket,
}

impl PeerLimiter {
    /// Full buckets at `now`.
    pub fn new(limits: &Limits, now: Instant) -> Self {
        PeerLimiter {
            gossip_objects: TokenBucket::new(limits.gossip_rate_per_sec, limits.gossip_burst, now),
            gossip_bytes: TokenBucket::new(
                limits.gossip_bytes_per_sec,
                limits.gossip_bytes_burst,
                now,
            ),
            ping: TokenBucket::new(limits.ping_rate_per_sec, limits.ping_burst, now),
        }
    }

    /// A GOSSIP frame of `bytes` bytes: admitted, or the limit it exceeds and how long to wait
    /// before the next one could be admitted.
    pub fn gossip(&mut self, bytes: usize, now: Instant) -> Result<(), (Exceeded, Duration)> {
        let n = bytes as f64;
        // Bytes first: an object refused for its size must not use up an object token.
        if !self.gossip_bytes.try_take_n(n, now) {
            return Err((Exceeded::GossipBytes, self.gossip_bytes.wait_for(n)));
        }
        if !self.gossip_objects.try_take(now) {
            return Err((Exceeded::GossipObjects, self.gossip_objects.wait_for(1.0)));
        }
        Ok(())
    }

    /// A PING frame (`ping` or `pong`).
    pub fn ping(&mut self, now: Instant) -> Result<(), (Exceeded, Duration)> {
        if self.ping.try_take(now) {
            Ok(())
        } else {
            Err((Exceeded::Ping, self.ping.wait_for(1.0)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            gossip_rate_per_sec: 10,
            gossip_burst: 3,
            gossip_bytes_per_sec: 1000,
            gossip_bytes_burst: 2000,
            ping_rate_per_sec: 2,
            ping_burst: 2,
            ..Limits::default()
        }
    }

    #[test]
    fn gossip_is_limited_in_objects_and_in_bytes() {
        let now = Instant::now();
        let mut l = PeerLimiter::new(&limits(), now);
        assert!((0..3).all(|_| l.gossip(10, now).is_ok()));
        let (what, wait) = l.gossip(10, now).expect_err("objects");
        assert_eq!(what, Exceeded::GossipObjects);
        assert_eq!(wait, Duration::from_millis(100));
        let later = now + Duration::from_millis(100);
        assert!(l.gossip(10, later).is_ok(), "a token back after 1/rate");
        // Bytes: 2000 burst, 1000/s; 1970 left (3 × 10 taken), then one 10-byte object refused
        // for objects took no bytes. A 1500-byte object fits once, not twice.
        let much_later = now + Duration::from_secs(5);
        assert!(l.gossip(1500, much_later).is_ok());
        let (what, wait) = l.gossip(1500, much_later).expect_err("bytes");
        assert_eq!(what, Exceeded::GossipBytes);
        assert_eq!(wait, Duration::from_secs(1));
    }

    #[test]
    fn ping_has_its_own_bucket() {
        let now = Instant::now();
        let mut l = PeerLimiter::new(&limits(), now);
        assert!(l.ping(now).is_ok() && l.ping(now).is_ok());
        assert_eq!(
            l.ping(now),
            Err((Exceeded::Ping, Duration::from_millis(500)))
        );
        // Gossip is unaffected.
        assert!(l.gossip(1, now).is_ok());
    }
}
