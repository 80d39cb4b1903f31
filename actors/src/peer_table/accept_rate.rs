//! [`AcceptRate`]: how often one IP may open a connection to this node, a token bucket per address
//! (each loopback address apart), with a bounded number of addresses remembered. A connection
//! over the rate is closed at accept, before any session exists, so an attacker reconnecting in a
//! loop costs the node an accept and a close. Plain state, no runtime; handles no messages.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Tokens of one address: refilled at the rate up to the burst, one taken per connection.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Per-address connection rate limiter.
#[derive(Debug)]
pub struct AcceptRate {
    rate: f64,
    burst: f64,
    max_entries: usize,
    buckets: HashMap<IpAddr, Bucket>,
}

impl AcceptRate {
    /// `rate` connections per second and `burst` at once from one address; at most
    /// `max_entries` addresses remembered (the longest unused one is forgotten first).
    pub fn new(rate: u32, burst: u32, max_entries: usize) -> Self {
        AcceptRate {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            max_entries: max_entries.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Whether `ip` may open a connection at `now` (takes a token when it may).
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= self.max_entries {
            let oldest = self
                .buckets
                .iter()
                .min_by_key(|(_, b)| b.at)
                .map(|(ip, _)| *ip);
            if let Some(oldest) = oldest {
                self.buckets.remove(&oldest);
            }
        }
        let (rate, burst) = (self.rate, self.burst);
        let b = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.at = now.max(b.at);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Addresses remembered.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// None remembered.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_rate_per_address_and_a_bounded_memory() {
        let now = Instant::now();
        let mut r = AcceptRate::new(2, 3, 2);
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 3].into();
        assert!((0..3).all(|_| r.allow(a, now)));
        assert!(!r.allow(a, now), "burst spent");
        assert!(r.allow(b, now), "another loopback address is apart");
        assert!(
            r.allow(a, now + Duration::from_millis(500)),
            "one token back"
        );
        assert!(!r.allow(a, now + Duration::from_millis(500)));
        // A third address forgets the longest unused (b).
        r.allow([127, 0, 0, 4].into(), now + Duration::from_millis(600));
        assert_eq!(r.len(), 2);
        assert!(
            (0..3).all(|_| r.allow(b, now + Duration::from_millis(700))),
            "b forgotten: a full bucket again"
        );
    }
}
