//! Time- and size-limited bans ([`BanList`], of IPs or node ids), the IP ban policy
//! ([`ip_bannable`]) and the redial backoff ([`Backoff`]); plain structs driven by the peer
//! manager through [`super::PeerTable`] and its redial timers.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Time-limited, size-limited bans of IPs (the default) or of node ids.
#[derive(Debug, Clone)]
pub struct BanList<K = IpAddr> {
    max: usize,
    until: HashMap<K, Instant>,
}

impl<K: Hash + Eq + Copy> BanList<K> {
    /// At most `max` entries (at least 1).
    pub fn new(max: usize) -> Self {
        BanList {
            max: max.max(1),
            until: HashMap::new(),
        }
    }

    /// Bans `ip` until `now + duration`; a zero duration does nothing. When full, expired entries
    /// go first, then the entry closest to expiry.
    pub fn ban(&mut self, ip: K, now: Instant, duration: Duration) {
        if duration.is_zero() {
            return;
        }
        let until = now + duration;
        if !self.until.contains_key(&ip) && self.until.len() >= self.max {
            self.until.retain(|_, u| *u > now);
            if self.until.len() >= self.max {
                if let Some(victim) = self
                    .until
                    .iter()
                    .min_by_key(|(_, u)| **u)
                    .map(|(ip, _)| *ip)
                {
                    self.until.remove(&victim);
                }
            }
        }
        let e = self.until.entry(ip).or_insert(until);
        *e = (*e).max(until);
    }

    /// Time left on the ban of `ip`, if banned at `now`.
    pub fn remaining(&self, ip: K, now: Instant) -> Option<Duration> {
        self.until
            .get(&ip)
            .filter(|u| **u > now)
            .map(|u| u.duration_since(now))
    }

    /// Entries held (expired ones included until pushed out).
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}

/// Ban policy: whether a misbehaving peer's IP is banned. Loopback addresses are not, unless
/// `ban_loopback` (`Scoring::ban_loopback_ips`): on a local testnet every peer is 127.0.0.1, so an
/// IP ban would lock out every local peer. Such peers are banned by node id instead.
pub fn ip_bannable(ip: IpAddr, ban_loopback: bool) -> bool {
    let loopback = match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    };
    ban_loopback || !loopback
}

/// Exponential redial backoff: `initial`, doubling up to `max`; reset after a handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
    failures: u32,
}

impl Backoff {
    /// Starts at `initial`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            next: initial,
            failures: 0,
        }
    }

    /// The delay before the next attempt; each call doubles the following one (capped).
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        self.failures = self.failures.saturating_add(1);
        d
    }

    /// Attempts since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Back to `initial` (the peer was reached).
    pub fn reset(&mut self) {
        self.next = self.initial;
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_ips_are_not_banned_unless_configured() {
        let local: IpAddr = [127, 0, 0, 1].into();
        assert!(!ip_bannable(local, false));
        assert!(!ip_bannable([127, 0, 0, 9].into(), false));
        assert!(!ip_bannable("::1".parse().expect("v6"), false));
        assert!(!ip_bannable(
            "::ffff:127.0.0.1".parse().expect("mapped"),
            false
        ));
        assert!(ip_bannable(local, true));
        assert!(ip_bannable([192, 0, 2, 7].into(), false));
    }

    #[test]
    fn ban_list_is_bounded_and_evicts_soonest_expiry() {
        let now = Instant::now();
        let mut b = BanList::new(2);
        let ip = |n: u8| IpAddr::from([127, 0, 0, n]);
        b.ban(ip(1), now, Duration::from_secs(5));
        b.ban(ip(2), now, Duration::from_secs(50));
        b.ban(ip(3), now, Duration::from_secs(20));
        assert_eq!(b.len(), 2);
        assert_eq!(b.remaining(ip(1), now), None);
        assert!(b.remaining(ip(2), now).is_some());
        assert!(b.remaining(ip(3), now).is_some());
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let got: Vec<_> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, vec![100, 200, 350, 350, 350]);
        assert_eq!(b.failures(), 5);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }
}
