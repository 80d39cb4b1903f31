//! The slot policy of the [`PeerTable`]: [`SlotLimits`], the counts by address, which pending
//! connection is evicted when `max_pending` is reached, and which peer a handshaked newcomer
//! displaces when `max_peers` is reached. Plain functions over the table, no runtime.
//!
//! Positions (docs/PROTOCOL.md, "Connection slots"):
//! - the pending victim is the oldest pending inbound connection of the address holding the most
//!   pending connections, so a newcomer from its own address is the last to go while any attacker
//!   address holds two;
//! - the displaced peer is, among the handshaked inbound peers outside the protected set (every
//!   outbound and static peer, and the `protected_inbound` longest connected inbound peers), the
//!   worst-scored, then the one from the address with the most peers, then the youngest; a
//!   newcomer scored worse than that peer displaces nobody.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Direction, HandshakeAdmission, PeerEntry, PeerId, PeerTable};

/// How many connections of each kind the table holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotLimits {
    /// Handshaked peers (inbound and outbound).
    pub max_peers: usize,
    /// Inbound connections waiting for their handshake; the next one evicts a pending one.
    pub max_pending: usize,
    /// Inbound connections waiting for their handshake from one IP; more are refused at accept.
    pub max_pending_per_ip: usize,
    /// Handshaked inbound peers from one IP; more are refused (at accept, and at the handshake).
    pub max_peers_per_ip: usize,
    /// The longest connected inbound peers never displaced by a newcomer.
    pub protected_inbound: usize,
    /// Connections one IP may open per second (token bucket refill); more are closed at accept.
    pub accept_rate_per_ip: u32,
    /// Connections one IP may open at once above the rate.
    pub accept_burst_per_ip: u32,
}

impl SlotLimits {
    /// `max_peers` peers, as many pending connections, no cap or rate by address, no protected
    /// inbound peer (unit tests and embedders that want the old behaviour).
    pub fn open(max_peers: usize) -> Self {
        SlotLimits {
            max_peers,
            max_pending: max_peers,
            max_pending_per_ip: usize::MAX,
            max_peers_per_ip: usize::MAX,
            protected_inbound: 0,
            accept_rate_per_ip: u32::MAX,
            accept_burst_per_ip: u32::MAX,
        }
    }
}

impl PeerTable {
    /// Pending inbound connections and handshaked inbound peers from `ip` (closing ones left out).
    pub(super) fn count_from(&self, ip: IpAddr) -> (usize, usize) {
        let mut pending = 0;
        let mut peers = 0;
        for p in self.live() {
            if p.direction == Direction::Inbound && p.addr.ip() == ip {
                if p.handshaked {
                    peers += 1;
                } else {
                    pending += 1;
                }
            }
        }
        (pending, peers)
    }

    /// Inbound connections waiting for their handshake.
    pub fn pending_inbound(&self) -> usize {
        self.live()
            .filter(|p| p.direction == Direction::Inbound && !p.handshaked)
            .count()
    }

    /// Handshaked peers (closing ones left out).
    pub fn established(&self) -> usize {
        self.live().filter(|p| p.handshaked).count()
    }

    fn live(&self) -> impl Iterator<Item = &PeerEntry> {
        self.peers.values().filter(|p| !p.closing)
    }

    /// The pending inbound connection to evict for a newcomer: the oldest one of the address
    /// holding the most pending connections.
    pub fn pending_victim(&self) -> Option<PeerId> {
        let pending: Vec<&PeerEntry> = self
            .live()
            .filter(|p| p.direction == Direction::Inbound && !p.handshaked)
            .collect();
        let mut per_ip: HashMap<IpAddr, usize> = HashMap::new();
        for p in &pending {
            *per_ip.entry(p.addr.ip()).or_default() += 1;
        }
        pending
            .iter()
            .max_by_key(|p| (per_ip[&p.addr.ip()], std::cmp::Reverse(p.seq)))
            .map(|p| p.id)
    }

    /// The peer a handshaked newcomer displaces when the slots are full, if any may be.
    pub fn displaceable(&self, score: &impl Fn(&PeerEntry) -> f64) -> Option<PeerId> {
        let mut inbound: Vec<&PeerEntry> = self
            .live()
            .filter(|p| {
                p.handshaked && p.direction == Direction::Inbound && p.static_slot.is_none()
            })
            .collect();
        // The longest connected first; the first `protected_inbound` are safe.
        inbound.sort_by_key(|p| (p.handshaked_at, p.seq));
        let candidates = inbound.get(self.slots.protected_inbound..)?;
        let mut per_ip: HashMap<IpAddr, usize> = HashMap::new();
        for p in self.live().filter(|p| p.handshaked) {
            *per_ip.entry(p.addr.ip()).or_default() += 1;
        }
        candidates
            .iter()
            .map(|p| (score(p), per_ip[&p.addr.ip()], p.seq, p.id))
            .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)))
            .map(|(.., id)| id)
    }

    /// The slot decision for `entry`, a new peer that passed the duplicate rule.
    pub(super) fn slot_for(
        &self,
        entry: &PeerEntry,
        score: impl Fn(&PeerEntry) -> f64,
    ) -> HandshakeAdmission {
        if entry.direction == Direction::Inbound {
            let (_, peers_here) = self.count_from(entry.addr.ip());
            if peers_here >= self.slots.max_peers_per_ip {
                return HandshakeAdmission::AddressFull {
                    max: self.slots.max_peers_per_ip,
                };
            }
        }
        if self.established() < self.slots.max_peers {
            return HandshakeAdmission::Accept;
        }
        let newcomer = score(entry);
        match self.displaceable(&score) {
            Some(victim)
                if self
                    .peers
                    .get(&victim)
                    .is_some_and(|v| score(v) >= newcomer) =>
            {
                HandshakeAdmission::Displaces { close: victim }
            }
            _ => HandshakeAdmission::Full {
                max: self.slots.max_peers,
            },
        }
    }
}
