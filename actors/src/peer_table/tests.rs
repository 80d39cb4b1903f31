//! Unit tests of the peer table: slots, bans, the duplicate rule.
use super::*;

fn addr(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::from((ip, port))
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
        .expect("no IP ban")
        .id;
    assert!(matches!(
        t.on_handshake(p, Some(bad), me, now, |_| 0.0),
        HandshakeAdmission::Banned { .. }
    ));
    assert!(!t.get(p).expect("row").handshaked);
    let q = t
        .admit(addr([127, 0, 0, 1], 4001), Direction::Inbound, None, now)
        .expect("admit")
        .id;
    assert_eq!(
        t.on_handshake(q, Some(NodeId(67)), me, now, |_| 0.0),
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
            .expect("ax")
            .id;
        let a_y = ta
            .admit(addr([127, 0, 0, 1], 11), Direction::Inbound, None, now)
            .expect("ay")
            .id;
        // B sees them in the other order.
        let b_y = tb
            .admit(addr([127, 0, 0, 1], 20), Direction::Outbound, Some(0), now)
            .expect("by")
            .id;
        let b_x = tb
            .admit(addr([127, 0, 0, 1], 21), Direction::Inbound, None, now)
            .expect("bx")
            .id;
        assert_eq!(
            ta.on_handshake(a_x, Some(nb), na, now, |_| 0.0),
            HandshakeAdmission::Accept
        );
        let a_second = ta.on_handshake(a_y, Some(nb), na, now, |_| 0.0);
        assert_eq!(
            tb.on_handshake(b_y, Some(na), nb, now, |_| 0.0),
            HandshakeAdmission::Accept
        );
        let b_second = tb.on_handshake(b_x, Some(na), nb, now, |_| 0.0);
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
        .expect("p")
        .id;
    assert_eq!(
        t.on_handshake(p, Some(me), me, now, |_| 0.0),
        HandshakeAdmission::SelfConnection
    );
    let q = t
        .admit(addr([127, 0, 0, 1], 2), Direction::Inbound, None, now)
        .expect("q")
        .id;
    let r = t
        .admit(addr([127, 0, 0, 1], 3), Direction::Inbound, None, now)
        .expect("r")
        .id;
    assert_eq!(
        t.on_handshake(q, None, me, now, |_| 0.0),
        HandshakeAdmission::Accept
    );
    assert_eq!(
        t.on_handshake(r, None, me, now, |_| 0.0),
        HandshakeAdmission::Accept
    );
}

fn slots(max_peers: usize, max_pending: usize, per_ip: usize, protected: usize) -> PeerTable {
    PeerTable::with_slots(
        SlotLimits {
            max_peers,
            max_pending,
            max_pending_per_ip: per_ip,
            max_peers_per_ip: per_ip,
            protected_inbound: protected,
            accept_rate_per_ip: 1000,
            accept_burst_per_ip: 1000,
        },
        8,
        Duration::ZERO,
    )
}

#[test]
fn the_pending_cap_evicts_the_oldest_of_the_most_represented_address() {
    let now = Instant::now();
    let mut t = slots(4, 5, 3, 0);
    // Attacker A holds 3 pending, attacker B 2: the cap (5) is reached.
    let a: Vec<PeerId> = (0..3)
        .map(|i| {
            t.admit(addr([127, 0, 0, 2], 100 + i), Direction::Inbound, None, now)
                .expect("a")
                .id
        })
        .collect();
    let b0 = t
        .admit(addr([127, 0, 0, 3], 1), Direction::Inbound, None, now)
        .expect("b0")
        .id;
    t.admit(addr([127, 0, 0, 3], 2), Direction::Inbound, None, now)
        .expect("b1");
    assert_eq!(t.pending_inbound(), 5);
    // A newcomer from its own address evicts A's oldest.
    let honest = t
        .admit(addr([127, 0, 0, 9], 1), Direction::Inbound, None, now)
        .expect("honest");
    assert_eq!(honest.evicted.map(|e| e.id), Some(a[0]));
    assert_eq!(t.pending_inbound(), 5);
    // A reconnects (2 of 3 left): A and B hold 2 each; the oldest of theirs goes (A's second),
    // never the newcomer.
    let again = t
        .admit(addr([127, 0, 0, 2], 200), Direction::Inbound, None, now)
        .expect("a again");
    assert_eq!(again.evicted.map(|e| e.id), Some(a[1]));
    // A holds its third and the new one, B its two: A's third is the oldest, then B's first.
    let b_again = t
        .admit(addr([127, 0, 0, 3], 3), Direction::Inbound, None, now)
        .expect("b again");
    assert_eq!(b_again.evicted.map(|e| e.id), Some(a[2]));
    // B holds 3 now, at its cap: refused; a newcomer elsewhere evicts B's first.
    assert!(t
        .admit(addr([127, 0, 0, 3], 4), Direction::Inbound, None, now)
        .is_err());
    let b_more = t
        .admit(addr([127, 0, 0, 5], 4), Direction::Inbound, None, now)
        .expect("c");
    assert_eq!(b_more.evicted.map(|e| e.id), Some(b0));
    assert!(!t.get(honest.id).expect("row").closing);
    // Evicted rows stay until removed, not counted.
    assert!(t.get(a[0]).expect("row").closing);
    assert!(t.remove(a[0]).is_some());
}

#[test]
fn per_address_caps_count_each_loopback_address_apart() {
    let now = Instant::now();
    let mut t = slots(8, 8, 2, 0);
    let me = NodeId(1);
    t.admit(addr([127, 0, 0, 2], 1), Direction::Inbound, None, now)
        .expect("1");
    let p = t
        .admit(addr([127, 0, 0, 2], 2), Direction::Inbound, None, now)
        .expect("2")
        .id;
    assert!(matches!(
        t.admit(addr([127, 0, 0, 2], 3), Direction::Inbound, None, now),
        Err(Refusal::PendingFromAddress { max: 2, .. })
    ));
    // Another loopback address is another host.
    t.admit(addr([127, 0, 0, 3], 1), Direction::Inbound, None, now)
        .expect("other address");
    // Outbound connections are ours: no cap by address.
    for port in 10..14 {
        t.admit(addr([127, 0, 0, 2], port), Direction::Outbound, None, now)
            .expect("outbound");
    }
    // Handshaked peers have their own cap by address.
    assert_eq!(
        t.on_handshake(p, Some(NodeId(20)), me, now, |_| 0.0),
        HandshakeAdmission::Accept
    );
    let q = t
        .admit(addr([127, 0, 0, 2], 4), Direction::Inbound, None, now)
        .expect("room again")
        .id;
    assert_eq!(
        t.on_handshake(q, Some(NodeId(21)), me, now, |_| 0.0),
        HandshakeAdmission::Accept
    );
    assert!(matches!(
        t.admit(addr([127, 0, 0, 2], 5), Direction::Inbound, None, now),
        Err(Refusal::PeersFromAddress { max: 2, .. })
    ));
}

/// Handshakes `n` inbound peers from distinct addresses 127.0.1.x, one millisecond apart.
fn handshake_inbound(t: &mut PeerTable, n: u8, first_id: u64, start: Instant) -> Vec<PeerId> {
    (0..n)
        .map(|i| {
            let now = start + Duration::from_millis(u64::from(i));
            let id = t
                .admit(addr([127, 0, 1, i], 1), Direction::Inbound, None, now)
                .expect("admit")
                .id;
            let node = NodeId(first_id + u64::from(i));
            assert!(t
                .on_handshake(id, Some(node), NodeId(1), now, |_| 0.0)
                .is_accepted());
            id
        })
        .collect()
}

#[test]
fn a_newcomer_displaces_the_worst_scored_unprotected_peer() {
    let start = Instant::now();
    let me = NodeId(1);
    let mut t = slots(5, 8, 8, 2);
    let out = t
        .admit(addr([127, 0, 2, 1], 1), Direction::Outbound, None, start)
        .expect("out")
        .id;
    assert!(t
        .on_handshake(out, Some(NodeId(500)), me, start, |_| 0.0)
        .is_accepted());
    // Four inbound peers: the two longest connected are protected.
    let inbound = handshake_inbound(&mut t, 4, 100, start);
    assert_eq!(t.established(), 5);
    let now = start + Duration::from_secs(1);
    // Every peer but the outbound one and the oldest inbound has a bad score; the worst is
    // inbound[0], protected; then inbound[2] (score 9) is the worst unprotected.
    let score = |e: &PeerEntry| match e.node_id {
        Some(NodeId(500)) => 50.0,
        Some(NodeId(100)) => 40.0,
        Some(NodeId(102)) => 9.0,
        Some(NodeId(103)) => 3.0,
        _ => 0.0,
    };
    let newcomer = t
        .admit(addr([127, 0, 3, 1], 1), Direction::Inbound, None, now)
        .expect("newcomer")
        .id;
    assert_eq!(
        t.on_handshake(newcomer, Some(NodeId(900)), me, now, score),
        HandshakeAdmission::Displaces { close: inbound[2] }
    );
    assert_eq!(t.established(), 5);
    assert!(t.get(inbound[2]).expect("row").closing);
    // A newcomer scored worse than every unprotected peer displaces nobody.
    let bad = t
        .admit(addr([127, 0, 3, 2], 1), Direction::Inbound, None, now)
        .expect("bad")
        .id;
    let worse = |e: &PeerEntry| if e.id == bad { 99.0 } else { score(e) };
    assert_eq!(
        t.on_handshake(bad, Some(NodeId(901)), me, now, worse),
        HandshakeAdmission::Full { max: 5 }
    );
    assert!(!t.get(bad).expect("row").handshaked);
}

#[test]
fn a_full_table_of_protected_peers_refuses_newcomers() {
    let start = Instant::now();
    let me = NodeId(1);
    let mut t = slots(3, 8, 8, 3);
    handshake_inbound(&mut t, 3, 100, start);
    let newcomer = t
        .admit(addr([127, 0, 3, 1], 1), Direction::Inbound, None, start)
        .expect("pending slots are apart from peer slots")
        .id;
    assert_eq!(
        t.on_handshake(newcomer, Some(NodeId(900)), me, start, |_| 0.0),
        HandshakeAdmission::Full { max: 3 }
    );
    // Without protection the youngest peer goes (equal scores, one peer per address).
    let mut t = slots(3, 8, 8, 0);
    let ids = handshake_inbound(&mut t, 3, 100, start);
    let newcomer = t
        .admit(addr([127, 0, 3, 1], 1), Direction::Inbound, None, start)
        .expect("newcomer")
        .id;
    assert_eq!(
        t.on_handshake(newcomer, Some(NodeId(900)), me, start, |_| 0.0),
        HandshakeAdmission::Displaces { close: ids[2] }
    );
}
