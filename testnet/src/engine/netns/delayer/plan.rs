//! When each queued packet is released: the delayer's decision logic, plain (no socket, no
//! clock of its own), so it is tested without a kernel. A packet from A to B waits the directed
//! link's latency plus a seeded uniform jitter in `[-jitter, +jitter]` (never below zero), and
//! never leaves before the previous packet of the same directed link (one link keeps its order,
//! as a path does; packets of different links overtake each other, so verdicts go out of order
//! by packet id). Packets of links without a delay are released at once.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// One direction of a link.
pub type DirectedLink = (Ipv4Addr, Ipv4Addr);

/// The delay of one directed link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkDelay {
    /// Base one-way latency.
    pub latency: Duration,
    /// Half-width of the uniform jitter around it.
    pub jitter: Duration,
}

/// The release schedule.
#[derive(Debug)]
pub struct DelayPlan {
    links: HashMap<DirectedLink, LinkDelay>,
    /// The latest release time given to each directed link (keeps its order).
    last_release: HashMap<DirectedLink, Instant>,
    pending: BinaryHeap<Reverse<(Instant, u64, u32)>>,
    order: u64,
    rng: SmallRng,
}

impl DelayPlan {
    /// An empty plan whose jitter draws come from `seed`.
    pub fn new(seed: u64) -> Self {
        DelayPlan {
            links: HashMap::new(),
            last_release: HashMap::new(),
            pending: BinaryHeap::new(),
            order: 0,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// Sets (or, with a zero delay, removes) the delay of a directed link. Packets already
    /// scheduled keep their release time.
    pub fn set_link(&mut self, link: DirectedLink, delay: LinkDelay) {
        if delay == LinkDelay::default() {
            self.links.remove(&link);
        } else {
            self.links.insert(link, delay);
        }
    }

    /// The delay of a directed link (zero when none is set).
    pub fn link(&self, link: DirectedLink) -> LinkDelay {
        self.links.get(&link).copied().unwrap_or_default()
    }

    /// A packet arrived at `now`: `Some(id)` when it is released at once, else it is scheduled.
    pub fn on_packet(&mut self, id: u32, link: Option<DirectedLink>, now: Instant) -> Option<u32> {
        let Some((link, delay)) = link.and_then(|l| self.links.get(&l).map(|d| (l, *d))) else {
            return Some(id);
        };
        let jitter = if delay.jitter.is_zero() {
            0
        } else {
            let span = delay.jitter.as_nanos() as i128;
            self.rng.gen_range(-span..=span)
        };
        let wait = (delay.latency.as_nanos() as i128 + jitter).max(0) as u64;
        let mut at = now + Duration::from_nanos(wait);
        if let Some(last) = self.last_release.get(&link) {
            at = at.max(*last);
        }
        self.last_release.insert(link, at);
        self.order += 1;
        self.pending.push(Reverse((at, self.order, id)));
        None
    }

    /// The earliest pending release time.
    pub fn next_release(&self) -> Option<Instant> {
        self.pending.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Removes and returns every packet due at `now`, with how late each is.
    pub fn take_due(&mut self, now: Instant, mut release: impl FnMut(u32, Duration)) {
        while let Some(Reverse((at, _, id))) = self.pending.peek().copied() {
            if at > now {
                break;
            }
            self.pending.pop();
            release(id, now - at);
        }
        if self.pending.is_empty() {
            // Nothing scheduled: no order left to keep, and the map stays bounded.
            self.last_release.clear();
        }
    }

    /// Packets waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
    const C: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 4);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn due(plan: &mut DelayPlan, now: Instant) -> Vec<u32> {
        let mut out = Vec::new();
        plan.take_due(now, |id, _| out.push(id));
        out
    }

    #[test]
    fn undelayed_links_and_unknown_packets_pass_at_once() {
        let mut plan = DelayPlan::new(1);
        plan.set_link(
            (A, B),
            LinkDelay {
                latency: ms(10),
                jitter: ms(0),
            },
        );
        let t = Instant::now();
        assert_eq!(plan.on_packet(1, Some((B, A)), t), Some(1));
        assert_eq!(plan.on_packet(2, None, t), Some(2));
        assert_eq!(plan.on_packet(3, Some((A, B)), t), None);
        assert_eq!(plan.pending(), 1);
    }

    #[test]
    fn releases_after_the_latency_and_out_of_id_order_across_links() {
        let mut plan = DelayPlan::new(1);
        plan.set_link(
            (A, B),
            LinkDelay {
                latency: ms(50),
                jitter: ms(0),
            },
        );
        plan.set_link(
            (A, C),
            LinkDelay {
                latency: ms(10),
                jitter: ms(0),
            },
        );
        let t = Instant::now();
        assert_eq!(plan.on_packet(1, Some((A, B)), t), None);
        assert_eq!(plan.on_packet(2, Some((A, C)), t), None);
        assert_eq!(plan.next_release(), Some(t + ms(10)));
        assert!(due(&mut plan, t + ms(9)).is_empty());
        assert_eq!(due(&mut plan, t + ms(10)), vec![2]);
        assert_eq!(due(&mut plan, t + ms(49)), Vec::<u32>::new());
        let mut late = Vec::new();
        plan.take_due(t + ms(52), |id, by| late.push((id, by)));
        assert_eq!(late, vec![(1, ms(2))]);
        assert_eq!(plan.next_release(), None);
    }

    #[test]
    fn jitter_stays_in_bounds_keeps_link_order_and_is_seeded() {
        let run = |seed| {
            let mut plan = DelayPlan::new(seed);
            plan.set_link(
                (A, B),
                LinkDelay {
                    latency: ms(20),
                    jitter: ms(15),
                },
            );
            let t = Instant::now();
            let mut releases = Vec::new();
            for id in 0..500u32 {
                plan.on_packet(
                    id,
                    Some((A, B)),
                    t + Duration::from_micros(u64::from(id) * 100),
                );
            }
            let mut now = t;
            while plan.pending() > 0 {
                now += Duration::from_micros(50);
                plan.take_due(now, |id, _| releases.push((id, now - t)));
            }
            releases
        };
        let first = run(7);
        let ids: Vec<u32> = first.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            ids,
            (0..500).collect::<Vec<_>>(),
            "one link keeps its order"
        );
        for (id, at) in &first {
            let sent = Duration::from_micros(u64::from(*id) * 100);
            let waited = *at - sent;
            assert!(
                waited >= ms(5) && waited <= ms(35) + ms(15),
                "id {id} waited {waited:?}"
            );
        }
        let spread: Vec<Duration> = first
            .iter()
            .map(|(id, at)| *at - Duration::from_micros(u64::from(*id) * 100))
            .collect();
        assert!(
            spread.iter().any(|w| *w < ms(15)) && spread.iter().any(|w| *w > ms(25)),
            "jitter applied"
        );
        assert_eq!(first, run(7), "same seed, same schedule");
        assert_ne!(first, run(8), "another seed, another schedule");
    }

    #[test]
    fn a_zero_delay_removes_the_link() {
        let mut plan = DelayPlan::new(1);
        plan.set_link(
            (A, B),
            LinkDelay {
                latency: ms(5),
                jitter: ms(1),
            },
        );
        plan.set_link((A, B), LinkDelay::default());
        assert_eq!(plan.link((A, B)), LinkDelay::default());
        assert_eq!(plan.on_packet(1, Some((A, B)), Instant::now()), Some(1));
    }
}
