//! The peer manager's bookkeeping, as plain structs driven without a runtime: the connection table
//! with its slot policy and the one-connection-per-peer rule ([`PeerTable`]), the ban list
//! ([`BanList`]) and the redial backoff ([`Backoff`]).
//!
//! Duplicate rule: peers exchange a [`NodeId`] in the HELLO header. When two handshaked
//! connections carry the same remote node id, both ends keep the connection *dialed by the node
//! with the smaller id* (if both were dialed by the same node, the older one), so a simultaneous
//! dial from both sides ends with exactly one connection on both ends. A connection whose remote
//! node id equals ours is a connection to ourselves and is closed.
//!
//! Slots (docs/PROTOCOL.md, "Connection slots"): unhandshaked inbound connections have their own
//! cap (`max_pending`, the oldest of the most-represented address evicted to admit a newcomer),
//! both pending and established connections have per-address caps (every IP counts apart,
//! loopback ones included), and when the `max_peers` slots are full a handshaked newcomer
//! displaces the worst-scored peer outside the protected set (outbound, static, and the longest
//! connected inbound peers).
//!
//! Files: `ids.rs` the id newtypes, `bans.rs` the ban list, IP ban policy and redial backoff,
//! `slots.rs` the slot policy and its victims; this one the table itself.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

mod accept_rate;
mod bans;
mod ids;
mod slots;

pub use accept_rate::AcceptRate;
pub use bans::{ip_bannable, Backoff, BanList};
pub use ids::{Dialect, Direction, NodeId, PeerId};
pub use slots::SlotLimits;

/// Addresses whose connection rate is remembered.
pub const ACCEPT_RATE_ADDRESSES: usize = 4096;

/// Why a connection is not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The IP sent malformed frames recently.
    #[error("{ip} is banned for another {remaining:?}")]
    Banned {
        /// The address.
        ip: IpAddr,
        /// Time left on the ban.
        remaining: Duration,
    },
    /// The address opened connections faster than `accept_rate_per_ip` (beyond its burst).
    #[error("{ip} connects too often")]
    AcceptRate {
        /// The address.
        ip: IpAddr,
    },
    /// `max_pending_per_ip` unhandshaked connections from this address already.
    #[error("{max} connections from {ip} are already waiting for their handshake")]
    PendingFromAddress {
        /// The address.
        ip: IpAddr,
        /// `max_pending_per_ip`.
        max: usize,
    },
    /// `max_peers_per_ip` peers from this address already.
    #[error("{max} peers from {ip} already")]
    PeersFromAddress {
        /// The address.
        ip: IpAddr,
        /// `max_peers_per_ip`.
        max: usize,
    },
}

impl Refusal {
    /// A short label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Banned { .. } => "banned",
            Refusal::AcceptRate { .. } => "accept_rate",
            Refusal::PendingFromAddress { .. } => "pending_per_address",
            Refusal::PeersFromAddress { .. } => "peers_per_address",
        }
    }
}

/// A connection let in by [`PeerTable::admit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// Its id.
    pub id: PeerId,
    /// The pending connection dropped to make room for it (`max_pending` reached): the caller
    /// closes it. Its row stays, marked closing, until [`PeerTable::remove`].
    pub evicted: Option<PeerEntry>,
}

/// What the handshake of a connection means for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeAdmission {
    /// A new peer (or one without a node id): keep the connection.
    Accept,
    /// The remote node id is ours: close this connection.
    SelfConnection,
    /// Another connection to the same node wins: close this one.
    Duplicate {
        /// The connection kept.
        kept: PeerId,
    },
    /// This connection wins over an existing one to the same node: close `close`.
    Replaces {
        /// The connection to close.
        close: PeerId,
    },
    /// The remote node id is banned (scored down recently): close this connection.
    Banned {
        /// Time left on the ban.
        remaining: Duration,
    },
    /// Peer slots were full: this connection takes the slot of `close`, the worst-scored peer
    /// outside the protected set, which is to be closed (its row is marked closing).
    Displaces {
        /// The connection to close.
        close: PeerId,
    },
    /// Peer slots are full and no peer may be replaced: close this connection.
    Full {
        /// `max_peers`.
        max: usize,
    },
    /// `max_peers_per_ip` peers from this connection's address already: close it.
    AddressFull {
        /// `max_peers_per_ip`.
        max: usize,
    },
}

impl HandshakeAdmission {
    /// Whether the connection is kept as a peer.
    pub fn is_accepted(&self) -> bool {
        matches!(
            self,
            HandshakeAdmission::Accept
                | HandshakeAdmission::Replaces { .. }
                | HandshakeAdmission::Displaces { .. }
        )
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerEntry {
    /// Local id.
    pub id: PeerId,
    /// Remote socket address.
    pub addr: SocketAddr,
    /// Who dialed.
    pub direction: Direction,
    /// Remote node id, once handshaked (if the peer sent one).
    pub node_id: Option<NodeId>,
    /// HELLO exchanged and accepted.
    pub handshaked: bool,
    /// Index of the static peer this connection satisfies, if any.
    pub static_slot: Option<usize>,
    /// Insertion order, for the "older wins" tie-break.
    pub seq: u64,
    /// When the handshake was accepted (long-standing peers are protected from replacement).
    pub handshaked_at: Option<Instant>,
    /// Evicted or displaced: being closed, no longer counted against any cap.
    pub closing: bool,
}

/// The connection table.
#[derive(Debug)]
pub struct PeerTable {
    slots: SlotLimits,
    accept_rate: AcceptRate,
    next_id: u64,
    peers: HashMap<PeerId, PeerEntry>,
    bans: BanList,
    node_bans: BanList<NodeId>,
    ban_duration: Duration,
}

impl PeerTable {
    /// A table of `max_peers` peers with no caps by address ([`SlotLimits::open`]), remembering
    /// `max_bans` bans of `ban_duration`.
    pub fn new(max_peers: usize, max_bans: usize, ban_duration: Duration) -> Self {
        Self::with_slots(SlotLimits::open(max_peers), max_bans, ban_duration)
    }

    /// A table with the slot policy `slots`.
    pub fn with_slots(slots: SlotLimits, max_bans: usize, ban_duration: Duration) -> Self {
        PeerTable {
            accept_rate: AcceptRate::new(
                slots.accept_rate_per_ip,
                slots.accept_burst_per_ip,
                ACCEPT_RATE_ADDRESSES,
            ),
            slots,
            next_id: 1,
            peers: HashMap::new(),
            bans: BanList::new(max_bans),
            node_bans: BanList::new(max_bans),
            ban_duration,
        }
    }

    /// Admits a new connection (inbound at accept time, outbound once connected). Inbound
    /// connections are checked against the IP bans and the per-address caps; when `max_pending`
    /// inbound connections are waiting for their handshake, one of them is evicted
    /// ([`PeerTable::pending_victim`]). Outbound connections (ours) are always admitted; they
    /// meet `max_peers` at the handshake.
    pub fn admit(
        &mut self,
        addr: SocketAddr,
        direction: Direction,
        static_slot: Option<usize>,
        now: Instant,
    ) -> Result<Admitted, Refusal> {
        let mut evicted = None;
        if direction == Direction::Inbound {
            let ip = addr.ip();
            if let Some(remaining) = self.bans.remaining(ip, now) {
                return Err(Refusal::Banned { ip, remaining });
            }
            if !self.accept_rate.allow(ip, now) {
                return Err(Refusal::AcceptRate { ip });
            }
            let (pending_here, peers_here) = self.count_from(ip);
            if pending_here >= self.slots.max_pending_per_ip {
                return Err(Refusal::PendingFromAddress {
                    ip,
                    max: self.slots.max_pending_per_ip,
                });
            }
            if peers_here >= self.slots.max_peers_per_ip {
                return Err(Refusal::PeersFromAddress {
                    ip,
                    max: self.slots.max_peers_per_ip,
                });
            }
            if self.pending_inbound() >= self.slots.max_pending {
                evicted = self.pending_victim().and_then(|v| self.mark_closing(v));
            }
        }
        let id = PeerId(self.next_id);
        self.next_id += 1;
        self.peers.insert(
            id,
            PeerEntry {
                id,
                addr,
                direction,
                node_id: None,
                handshaked: false,
                static_slot,
                seq: id.0,
                handshaked_at: None,
                closing: false,
            },
        );
        Ok(Admitted { id, evicted })
    }

    /// Applies the duplicate rule and the peer slots to a connection whose HELLO exchange just
    /// succeeded. `remote` is the node id the peer sent (None for clients that send none);
    /// `score` gives a connection's penalty score (higher is worse), used to pick whom a
    /// newcomer displaces when the slots are full.
    pub fn on_handshake(
        &mut self,
        id: PeerId,
        remote: Option<NodeId>,
        ours: NodeId,
        now: Instant,
        score: impl Fn(&PeerEntry) -> f64,
    ) -> HandshakeAdmission {
        let Some(entry) = self.peers.get(&id).cloned() else {
            return HandshakeAdmission::Accept;
        };
        if remote == Some(ours) {
            return HandshakeAdmission::SelfConnection;
        }
        if let Some(remaining) = remote.and_then(|n| self.node_bans.remaining(n, now)) {
            return HandshakeAdmission::Banned { remaining };
        }
        let decision = match remote {
            None => HandshakeAdmission::Accept,
            Some(node) => {
                let other = self
                    .peers
                    .values()
                    .find(|p| p.id != id && p.handshaked && !p.closing && p.node_id == Some(node))
                    .cloned();
                match other {
                    None => HandshakeAdmission::Accept,
                    Some(other) => {
                        let dialer = |d: Direction| match d {
                            Direction::Outbound => ours,
                            Direction::Inbound => node,
                        };
                        let (this_dialer, other_dialer) =
                            (dialer(entry.direction), dialer(other.direction));
                        let this_wins = if this_dialer == other_dialer {
                            entry.seq < other.seq
                        } else {
                            this_dialer < other_dialer
                        };
                        if this_wins {
                            HandshakeAdmission::Replaces { close: other.id }
                        } else {
                            HandshakeAdmission::Duplicate { kept: other.id }
                        }
                    }
                }
            }
        };
        let decision = match decision {
            HandshakeAdmission::Accept => {
                let mut newcomer = entry.clone();
                newcomer.node_id = remote;
                self.slot_for(&newcomer, score)
            }
            other => other,
        };
        match decision {
            HandshakeAdmission::Accept => self.mark_handshaked(id, remote, now),
            HandshakeAdmission::Displaces { close } => {
                self.mark_closing(close);
                self.mark_handshaked(id, remote, now);
            }
            HandshakeAdmission::Replaces { close } => {
                self.mark_handshaked(id, remote, now);
                // The winner takes over the static slot so the static peer counts as connected.
                let slot = self
                    .peers
                    .get_mut(&close)
                    .and_then(|p| p.static_slot.take());
                if let Some(e) = self.peers.get_mut(&id) {
                    e.static_slot = e.static_slot.or(slot);
                }
            }
            HandshakeAdmission::Duplicate { kept } => {
                let slot = self.peers.get_mut(&id).and_then(|p| p.static_slot.take());
                if let Some(e) = self.peers.get_mut(&kept) {
                    e.static_slot = e.static_slot.or(slot);
                }
            }
            HandshakeAdmission::SelfConnection
            | HandshakeAdmission::Banned { .. }
            | HandshakeAdmission::Full { .. }
            | HandshakeAdmission::AddressFull { .. } => {}
        }
        decision
    }

    fn mark_handshaked(&mut self, id: PeerId, remote: Option<NodeId>, now: Instant) {
        if let Some(e) = self.peers.get_mut(&id) {
            e.handshaked = true;
            e.node_id = remote;
            e.handshaked_at = Some(now);
        }
    }

    /// Marks a row closing (no longer counted); returns it if it was not already.
    fn mark_closing(&mut self, id: PeerId) -> Option<PeerEntry> {
        let e = self.peers.get_mut(&id)?;
        if e.closing {
            return None;
        }
        e.closing = true;
        Some(e.clone())
    }

    /// Removes a connection; returns its row (with the static slot to redial, if any).
    pub fn remove(&mut self, id: PeerId) -> Option<PeerEntry> {
        self.peers.remove(&id)
    }

    /// Bans the IP of `addr` for the configured duration (no-op when bans are disabled).
    pub fn ban(&mut self, ip: IpAddr, now: Instant) {
        self.bans.ban(ip, now, self.ban_duration);
    }

    /// Bans a node id for the configured duration (no-op when bans are disabled): its later
    /// handshakes are refused, from any address.
    pub fn ban_node(&mut self, node: NodeId, now: Instant) {
        self.node_bans.ban(node, now, self.ban_duration);
    }

    /// Time left on a node id's ban.
    pub fn node_ban_remaining(&self, node: NodeId, now: Instant) -> Option<Duration> {
        self.node_bans.remaining(node, now)
    }

    /// Time left on a ban.
    pub fn ban_remaining(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        self.bans.remaining(ip, now)
    }

    /// A row.
    pub fn get(&self, id: PeerId) -> Option<&PeerEntry> {
        self.peers.get(&id)
    }

    /// All rows, ordered by id.
    pub fn entries(&self) -> Vec<PeerEntry> {
        let mut v: Vec<_> = self.peers.values().cloned().collect();
        v.sort_by_key(|p| p.id);
        v
    }

    /// The slot policy.
    pub fn slots(&self) -> &SlotLimits {
        &self.slots
    }

    /// Connections held (closing ones included).
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// No connections.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// Whether static slot `slot` is currently satisfied by a connection.
    pub fn static_connected(&self, slot: usize) -> bool {
        self.peers.values().any(|p| p.static_slot == Some(slot))
    }
}

#[cfg(test)]
mod tests;
