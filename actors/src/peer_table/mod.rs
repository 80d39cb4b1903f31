//! The peer manager's bookkeeping, as plain structs driven without a runtime: the connection table
//! with the `max_peers` policy and the one-connection-per-peer rule ([`PeerTable`]), the ban list
//! ([`BanList`]) and the redial backoff ([`Backoff`]).
//!
//! Duplicate rule: peers exchange a [`NodeId`] in the HELLO header. When two handshaked
//! connections carry the same remote node id, both ends keep the connection *dialed by the node
//! with the smaller id* (if both were dialed by the same node, the older one), so a simultaneous
//! dial from both sides ends with exactly one connection on both ends. A connection whose remote
//! node id equals ours is a connection to ourselves and is closed.
//!
//! Files: `ids.rs` the id newtypes, `bans.rs` the ban list, IP ban policy and redial backoff; this
//! one the table itself.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

mod bans;
mod ids;

pub use bans::{ip_bannable, Backoff, BanList};
pub use ids::{Direction, NodeId, PeerId};

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
    /// `max_peers` connections already.
    #[error("peer table full ({max} peers)")]
    Full {
        /// `max_peers`.
        max: usize,
    },
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
}

/// The connection table.
#[derive(Debug)]
pub struct PeerTable {
    max_peers: usize,
    next_id: u64,
    peers: HashMap<PeerId, PeerEntry>,
    bans: BanList,
    node_bans: BanList<NodeId>,
    ban_duration: Duration,
}

impl PeerTable {
    /// A table admitting `max_peers` connections, remembering `max_bans` bans of `ban_duration`.
    pub fn new(max_peers: usize, max_bans: usize, ban_duration: Duration) -> Self {
        PeerTable {
            max_peers,
            next_id: 1,
            peers: HashMap::new(),
            bans: BanList::new(max_bans),
            node_bans: BanList::new(max_bans),
            ban_duration,
        }
    }

    /// Admits a new connection (inbound at accept time, outbound once connected).
    pub fn admit(
        &mut self,
        addr: SocketAddr,
        direction: Direction,
        static_slot: Option<usize>,
        now: Instant,
    ) -> Result<PeerId, Refusal> {
        if direction == Direction::Inbound {
            if let Some(remaining) = self.bans.remaining(addr.ip(), now) {
                return Err(Refusal::Banned {
                    ip: addr.ip(),
                    remaining,
                });
            }
        }
        if self.peers.len() >= self.max_peers {
            return Err(Refusal::Full {
                max: self.max_peers,
            });
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
            },
        );
        Ok(id)
    }

    /// Applies the duplicate rule to a connection whose HELLO exchange just succeeded.
    /// `remote` is the node id the peer sent (None for clients that send none).
    pub fn on_handshake(
        &mut self,
        id: PeerId,
        remote: Option<NodeId>,
        ours: NodeId,
    ) -> HandshakeAdmission {
        let Some(entry) = self.peers.get(&id).cloned() else {
            return HandshakeAdmission::Accept;
        };
        if remote == Some(ours) {
            return HandshakeAdmission::SelfConnection;
        }
        if let Some(remaining) = remote.and_then(|n| self.node_bans.remaining(n, Instant::now())) {
            return HandshakeAdmission::Banned { remaining };
        }
        let decision = match remote {
            None => HandshakeAdmission::Accept,
            Some(node) => {
                let other = self
                    .peers
                    .values()
                    .find(|p| p.id != id && p.handshaked && p.node_id == Some(node))
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
        match decision {
            HandshakeAdmission::Accept => self.mark_handshaked(id, remote),
            HandshakeAdmission::Replaces { close } => {
                self.mark_handshaked(id, remote);
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
            HandshakeAdmission::SelfConnection | HandshakeAdmission::Banned { .. } => {}
        }
        decision
    }

    fn mark_handshaked(&mut self, id: PeerId, remote: Option<NodeId>) {
        if let Some(e) = self.peers.get_mut(&id) {
            e.handshaked = true;
            e.node_id = remote;
        }
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

    /// Connections held.
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
mod tests {
    use super::*;

    fn addr(ip: [u8; 4], port: u16) -> SocketAddr {
        SocketAddr::from((ip, port))
    }

    #[test]
    fn max_peers_is_enforced_and_frees_on_remove() {
        let now = Instant::now();
        let mut t = PeerTable::new(2, 8, Duration::from_secs(1));
        let a = t
            .admit(addr([127, 0, 0, 1], 1), Direction::Inbound, None, now)
            .expect("first");
        t.admit(addr([127, 0, 0, 1], 2), Direction::Outbound, None, now)
            .expect("second");
        assert_eq!(
            t.admit(addr([127, 0, 0, 1], 3), Direction::Inbound, None, now),
            Err(Refusal::Full { max: 2 })
        );
        t.remove(a);
        t.admit(addr([127, 0, 0, 1], 3), Direction::Inbound, None, now)
            .expect("room again");
    }

    #[test]
    fn bans_refuse_inbound_until_expiry() {
        let now = Instant::now();
        let mut t = PeerTable::new(8, 8, Duration::from_secs(10));
        let ip: IpAddr = [127, 0, 0, 9].into();
        t.ban(ip, now);
        assert!(matches!(
            t.admit(addr([127, 0, 0, 9], 5), Direction::Inbound, None, now),
            Err(Refusal::Banned { .. })
        ));
        // Another IP is unaffected.
        t.admit(addr([127, 0, 0, 1], 5), Direction::Inbound, None, now)
            .expect("other ip");
        let later = now + Duration::from_secs(11);
        t.admit(addr([127, 0, 0, 9], 6), Direction::Inbound, None, later)
            .expect("ban expired");
    }

    #[test]
    fn a_banned_node_id_is_refused_at_handshake_from_any_address() {
        let now = Instant::now();
        let me = NodeId(1);
        let bad = NodeId(66);
        let mut t = PeerTable::new(8, 8, Duration::from_secs(60));
        t.ban_node(bad, now);
        let p = t
            .admit(addr([127, 0, 0, 1], 4000), Direction::Inbound, None, now)
            .expect("no IP ban");
        assert!(matches!(
            t.on_handshake(p, Some(bad), me),
            HandshakeAdmission::Banned { .. }
        ));
        assert!(!t.get(p).expect("row").handshaked);
        let q = t
            .admit(addr([127, 0, 0, 1], 4001), Direction::Inbound, None, now)
            .expect("admit");
        assert_eq!(
            t.on_handshake(q, Some(NodeId(67)), me),
            HandshakeAdmission::Accept
        );
        // Bans disabled: nothing is remembered.
        let mut off = PeerTable::new(8, 8, Duration::ZERO);
        off.ban_node(bad, now);
        assert_eq!(off.node_ban_remaining(bad, now), None);
    }

    #[test]
    fn zero_ban_duration_disables_bans() {
        let now = Instant::now();
        let mut t = PeerTable::new(8, 8, Duration::ZERO);
        let ip: IpAddr = [127, 0, 0, 9].into();
        t.ban(ip, now);
        assert_eq!(t.ban_remaining(ip, now), None);
    }

    /// Simulates both ends of a simultaneous dial and checks they keep the same TCP connection.
    #[test]
    fn simultaneous_dial_keeps_one_connection_on_both_ends() {
        for (a_id, b_id) in [(1u64, 2u64), (9, 3)] {
            let (na, nb) = (NodeId(a_id), NodeId(b_id));
            let now = Instant::now();
            // Connection X: A dialed B. Connection Y: B dialed A.
            let mut ta = PeerTable::new(8, 8, Duration::ZERO);
            let mut tb = PeerTable::new(8, 8, Duration::ZERO);
            let a_x = ta
                .admit(addr([127, 0, 0, 1], 10), Direction::Outbound, Some(0), now)
                .expect("ax");
            let a_y = ta
                .admit(addr([127, 0, 0, 1], 11), Direction::Inbound, None, now)
                .expect("ay");
            // B sees them in the other order.
            let b_y = tb
                .admit(addr([127, 0, 0, 1], 20), Direction::Outbound, Some(0), now)
                .expect("by");
            let b_x = tb
                .admit(addr([127, 0, 0, 1], 21), Direction::Inbound, None, now)
                .expect("bx");
            assert_eq!(
                ta.on_handshake(a_x, Some(nb), na),
                HandshakeAdmission::Accept
            );
            let a_second = ta.on_handshake(a_y, Some(nb), na);
            assert_eq!(
                tb.on_handshake(b_y, Some(na), nb),
                HandshakeAdmission::Accept
            );
            let b_second = tb.on_handshake(b_x, Some(na), nb);
            // The kept connection is the one dialed by the smaller id, on both ends.
            let a_keeps_x = na < nb;
            if a_keeps_x {
                assert_eq!(a_second, HandshakeAdmission::Duplicate { kept: a_x });
                assert_eq!(b_second, HandshakeAdmission::Replaces { close: b_y });
            } else {
                assert_eq!(a_second, HandshakeAdmission::Replaces { close: a_x });
                assert_eq!(b_second, HandshakeAdmission::Duplicate { kept: b_y });
            }
            // The static slot follows the kept connection on A.
            let kept_a = if a_keeps_x { a_x } else { a_y };
            assert_eq!(ta.get(kept_a).and_then(|e| e.static_slot), Some(0));
        }
    }

    #[test]
    fn self_connection_is_detected_and_unknown_ids_accepted() {
        let now = Instant::now();
        let mut t = PeerTable::new(8, 8, Duration::ZERO);
        let me = NodeId(7);
        let p = t
            .admit(addr([127, 0, 0, 1], 1), Direction::Outbound, None, now)
            .expect("p");
        assert_eq!(
            t.on_handshake(p, Some(me), me),
            HandshakeAdmission::SelfConnection
        );
        let q = t
            .admit(addr([127, 0, 0, 1], 2), Direction::Inbound, None, now)
            .expect("q");
        let r = t
            .admit(addr([127, 0, 0, 1], 3), Direction::Inbound, None, now)
            .expect("r");
        assert_eq!(t.on_handshake(q, None, me), HandshakeAdmission::Accept);
        assert_eq!(t.on_handshake(r, None, me), HandshakeAdmission::Accept);
    }
}
