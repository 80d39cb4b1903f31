//! Unit tests of the overlay router, no runtime: trees pruned by duplicates and by PRUNE, IHAVE
//! batching, GRAFT then IWANT for a missing object (and the broken-promise penalty), repair after
//! the eager parent leaves, flood peers and unknown peers in the mix, flood mode, and every bound.

use std::time::{Duration, Instant};

use bytes::Bytes;
use hobbits_chain::Root;
use hobbits_codec::{ControlMessage, ControlVerb, GossipEnvelope, MessageHash, Origin, Topic};

use super::*;

type Router = Overlay<u32, u8>;
type Out = Vec<Action<u32, u8>>;

const A: u32 = 1;
const B: u32 = 2;
const C: u32 = 3;
const F: u32 = 9;
const X: Option<Origin> = Some(Origin(100));
const Y: Option<Origin> = Some(Origin(200));

fn id(n: u8) -> MessageHash {
    MessageHash([n; 32])
}

/// An object's header as read: its timestamp is its first id byte, so later ids are newer.
fn meta(id: MessageHash, origin: Option<Origin>) -> ObjectMeta {
    ObjectMeta {
        id,
        origin,
        timestamp_ms: u64::from(id.0[0]),
    }
}

fn ms(t0: Instant, n: u64) -> Instant {
    t0 + Duration::from_millis(n)
}

fn router(config: OverlayConfig, peers: &[(u32, PeerKind)]) -> Router {
    let mut r = Router::new(config).expect("valid config");
    for (p, kind) in peers {
        r.add_peer(*p, *kind);
    }
    r
}

fn overlay_peers(peers: &[u32]) -> Router {
    let all: Vec<_> = peers.iter().map(|p| (*p, PeerKind::Overlay)).collect();
    router(OverlayConfig::default(), &all)
}

/// Receives a new object from `from` and validates it; returns the push actions.
fn receive(r: &mut Router, now: Instant, from: u32, n: u8, origin: Option<Origin>) -> Out {
    assert_eq!(r.on_object(now, from, meta(id(n), origin)), Arrival::New);
    r.on_validated(id(n), n)
}

fn pushed_to(actions: &Out) -> Vec<u32> {
    actions
        .iter()
        .flat_map(|a| match a {
            Action::SendObject { to, .. } => to.clone(),
            _ => Vec::new(),
        })
        .collect()
}

fn control(actions: &Out) -> Vec<(u32, ControlVerb, Vec<u8>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendControl { to, message } => Some((
                *to,
                message.verb,
                message.hashes.iter().map(|h| h.0[0]).collect(),
            )),
            _ => None,
        })
        .collect()
}

fn msg(verb: ControlVerb, ids: &[u8]) -> ControlMessage {
    ControlMessage {
        verb,
        hashes: ids.iter().map(|n| id(*n)).collect(),
    }
}

#[test]
fn a_new_tree_pushes_to_everyone_then_a_duplicate_prunes_its_sender() {
    let t0 = Instant::now();
    let mut r = overlay_peers(&[A, B, C]);
    // A's push brings the first copy: A is the parent on X's tree.
    assert_eq!(pushed_to(&receive(&mut r, t0, A, 1, X)), vec![B, C]);
    assert_eq!(r.on_object(t0, B, meta(id(1), X)), Arrival::Duplicate);
    assert_eq!(r.on_object(t0, A, meta(id(1), X)), Arrival::Duplicate);
    assert_eq!(
        control(&r.on_tick(ms(t0, 100))),
        vec![(B, ControlVerb::Prune, vec![1])]
    );
    // Another duplicate from B prunes nothing more; a late copy of an older object neither.
    assert_eq!(r.on_object(t0, B, meta(id(1), X)), Arrival::Duplicate);
    receive(&mut r, t0, A, 3, X);
    receive(&mut r, t0, A, 2, X);
    assert_eq!(r.on_object(t0, C, meta(id(2), X)), Arrival::Duplicate);
    assert!(control(&r.on_tick(ms(t0, 200))).is_empty());
    // The PRUNE stops B's pushes, not ours: only B's PRUNE would.
    assert_eq!(
        pushed_to(&receive(&mut r, ms(t0, 300), A, 4, X)),
        vec![B, C]
    );
    assert_eq!(r.stats().duplicates, 4);
    assert_eq!(r.stats().control_sent, [1, 0, 0, 0]);
    // The PRUNE's bytes: its frame as the codec writes it.
    let frame = msg(ControlVerb::Prune, &[1]).to_frame().expect("encodes");
    assert_eq!(
        r.stats().control_bytes_sent,
        [frame.encoded_len() as u64, 0, 0, 0]
    );
}

#[test]
fn prune_and_graft_received_move_a_peer_off_and_back_onto_a_tree() {
    let t0 = Instant::now();
    let mut r = overlay_peers(&[A, B]);
    assert_eq!(pushed_to(&r.publish(t0, meta(id(1), X), 1)), vec![A, B]);
    assert!(r
        .on_control(t0, A, msg(ControlVerb::Prune, &[1]))
        .is_empty());
    assert_eq!(r.eager_peers(X), vec![B]);
    assert_eq!(r.eager_peers(Y), vec![A, B]);
    assert_eq!(pushed_to(&r.publish(t0, meta(id(2), X), 2)), vec![B]);
    // GRAFT of a known object: A is pushed to again (the object itself takes an IWANT).
    assert!(r
        .on_control(t0, A, msg(ControlVerb::Graft, &[2]))
        .is_empty());
    assert_eq!(r.eager_peers(X), vec![A, B]);
    assert_eq!(pushed_to(&r.publish(t0, meta(id(3), X), 3)), vec![A, B]);
    // A PRUNE and GRAFT without hashes act on every tree.
    r.on_control(t0, B, msg(ControlVerb::Prune, &[]));
    assert_eq!(r.eager_peers(X), vec![A]);
    r.on_control(t0, B, msg(ControlVerb::Graft, &[]));
    assert_eq!(r.eager_peers(X), vec![A, B]);
}

#[test]
fn a_missing_object_is_grafted_then_wanted_from_the_next_announcer() {
    let t0 = Instant::now();
    let mut r = overlay_peers(&[A, B, C]);
    assert!(r
        .on_control(t0, A, msg(ControlVerb::IHave, &[7]))
        .is_empty());
    r.on_control(ms(t0, 10), B, msg(ControlVerb::IHave, &[7]));
    // Before graft_timeout (150 ms) nothing is asked: the pushed copy may only be late.
    assert!(r.on_tick(ms(t0, 100)).is_empty());
    // The first ask repairs the tree too: GRAFT and IWANT to the first announcer, GRAFT to
    // the other (the fastest of their next pushes will make the parent).
    assert_eq!(
        control(&r.on_tick(ms(t0, 150))),
        vec![
            (A, ControlVerb::Graft, vec![7]),
            (A, ControlVerb::IWant, vec![7]),
            (B, ControlVerb::Graft, vec![7])
        ]
    );
    // A does not deliver within request_timeout (400 ms): penalised, B is asked by IWANT.
    let out = r.on_tick(ms(t0, 550));
    assert!(out.contains(&Action::Penalize {
        peer: A,
        reason: OverlayPenalty::BrokenPromise { id: id(7) }
    }));
    assert_eq!(control(&out), vec![(B, ControlVerb::IWant, vec![7])]);
    // B answers: a repair; A's late copy is an answer too, not a tree fault.
    assert_eq!(r.on_object(ms(t0, 600), B, meta(id(7), X)), Arrival::New);
    // Its announcers hold it: only C gets it pushed.
    assert_eq!(pushed_to(&r.on_validated(id(7), 7)), vec![C]);
    assert_eq!(
        r.on_object(ms(t0, 610), A, meta(id(7), X)),
        Arrival::Duplicate
    );
    assert!(control(&r.on_tick(ms(t0, 700))).is_empty());
    let stats = r.stats();
    assert_eq!((stats.repaired, stats.gave_up, stats.penalties), (1, 0, 1));
    assert_eq!(stats.missing, 0);
    // Both grafted announcers push the next object: the first is the parent, the other's
    // duplicate is pruned.
    assert_eq!(r.on_object(ms(t0, 900), A, meta(id(8), X)), Arrival::New);
    r.on_validated(id(8), 8);
    assert_eq!(
        r.on_object(ms(t0, 920), B, meta(id(8), X)),
        Arrival::Duplicate
    );
    assert_eq!(
        control(&r.on_tick(ms(t0, 1000))),
        vec![(B, ControlVerb::Prune, vec![8])]
    );
}

#[test]
fn an_announcement_that_beats_the_push_moves_the_tree() {
    let t0 = Instant::now();
    let mut r = overlay_peers(&[A, B, C]);
    // A announces objects 1 and 2; B pushes 1 50 ms later: A is closer to X.
    r.on_control(t0, A, msg(ControlVerb::IHave, &[1, 2]));
    receive(&mut r, ms(t0, 50), B, 1, X);
    // Tied (announced within graft_margin, 5 ms, of the push): the tree stays.
    r.on_control(ms(t0, 60), C, msg(ControlVerb::IHave, &[3]));
    receive(&mut r, ms(t0, 62), B, 3, X);
    // At the tick: GRAFT 1 moves X's tree to A; 2 is still missing and asked from A.
    assert_eq!(
        control(&r.on_tick(ms(t0, 150))),
        vec![
            (A, ControlVerb::Graft, vec![1, 2]),
            (A, ControlVerb::IWant, vec![2])
        ]
    );
    assert_eq!(r.stats().moved, 1);
    // A's push now comes first. This node pushed A object 3, so A becomes the parent only the
    // second time (a child overtaking once does not); then B's late copy is pruned.
    receive(&mut r, ms(t0, 300), A, 4, X);
    r.on_object(ms(t0, 350), B, meta(id(4), X));
    receive(&mut r, ms(t0, 400), A, 5, X);
    r.on_object(ms(t0, 450), B, meta(id(5), X));
    let out = control(&r.on_tick(ms(t0, 500)));
    assert!(out.contains(&(B, ControlVerb::Prune, vec![5])), "{out:?}");
    // A never sends 2: a penalty, and no one left to ask.
    let out = r.on_tick(ms(t0, 600));
    assert_eq!(
        out,
        vec![Action::Penalize {
            peer: A,
            reason: OverlayPenalty::BrokenPromise { id: id(2) }
        }]
    );
    assert_eq!(r.stats().gave_up, 1);
}

#[test]
fn repair_after_the_eager_parent_leaves() {
    let t0 = Instant::now();
    let mut r = overlay_peers(&[A, B, C]);
    // A is this node's parent on X's tree; B's copies were duplicates, so B is pruned.
    receive(&mut r, t0, A, 1, X);
    r.on_object(t0, B, meta(id(1), X));
    r.on_tick(ms(t0, 100));
    r.remove_peer(A);
    // The next object of X comes by IHAVE from B only: GRAFT to B, which answers.
    r.on_control(ms(t0, 6000), B, msg(ControlVerb::IHave, &[2]));
    assert_eq!(
        control(&r.on_tick(ms(t0, 6200))),
        vec![
            (B, ControlVerb::Graft, vec![2]),
            (B, ControlVerb::IWant, vec![2])
        ]
    );
    assert_eq!(r.on_object(ms(t0, 6300), B, meta(id(2), X)), Arrival::New);
    assert_eq!(pushed_to(&r.on_validated(id(2), 2)), vec![C]);
    // B delivered X's object first: it is eager on X's tree again, so this node would push to it
    // what reaches it some other way, and its copies are first copies, not duplicates.
    assert_eq!(r.eager_peers(X), vec![B, C]);
    assert_eq!(r.stats().repaired, 1);
}

#[test]
fn a_peer_that_announced_an_object_gets_no_ihave_for_it() {
    let t0 = Instant::now();
    let mut r = overlay_peers(&[A, B, C]);
    receive(&mut r, t0, A, 1, X);
    r.on_control(t0, B, msg(ControlVerb::Prune, &[1]));
    r.on_control(t0, C, msg(ControlVerb::Prune, &[1]));
    assert!(pushed_to(&receive(&mut r, ms(t0, 10), A, 2, X)).is_empty());
    // B announced it before our batch went out: only C is told.
    r.on_control(ms(t0, 50), B, msg(ControlVerb::IHave, &[2]));
    assert_eq!(
        control(&r.on_tick(ms(t0, 100))),
        vec![(C, ControlVerb::IHave, vec![2])]
    );
}

#[test]
fn an_object_is_announced_to_at_most_max_ihave_peers_a_different_subset_each() {
    let t0 = Instant::now();
    let peers = [1, 2, 3, 4, 5, 6, 7];
    let mut r = overlay_peers(&peers);
    receive(&mut r, t0, 1, 1, X);
    for p in 2..=7 {
        r.on_control(t0, p, msg(ControlVerb::Prune, &[1]));
    }
    let mut told = std::collections::BTreeSet::new();
    for n in 2..8u8 {
        assert!(pushed_to(&receive(&mut r, ms(t0, u64::from(n)), 1, n, X)).is_empty());
        let out = control(&r.on_tick(ms(t0, 100 * u64::from(n))));
        assert_eq!(out.len(), 4, "object {n}: {out:?}");
        told.extend(out.iter().map(|c| c.0));
    }
    assert_eq!(told.len(), 6, "every lazy peer hears of some: {told:?}");
}

#[test]
fn flood_peers_get_every_object_and_no_control() {
    let t0 = Instant::now();
    let mut r = router(
        OverlayConfig::default(),
        &[(A, PeerKind::Overlay), (F, PeerKind::Flood)],
    );
    // From the flood peer: relayed to the overlay peer.
    assert_eq!(pushed_to(&receive(&mut r, t0, F, 1, None)), vec![A]);
    // Its duplicates never prune it, its control is ignored, it never gets IHAVE.
    receive(&mut r, t0, A, 2, X);
    assert_eq!(r.on_object(t0, F, meta(id(2), X)), Arrival::Duplicate);
    assert!(r.on_control(t0, F, msg(ControlVerb::Prune, &[])).is_empty());
    r.on_control(t0, A, msg(ControlVerb::Prune, &[2]));
    assert_eq!(pushed_to(&r.publish(t0, meta(id(3), X), 3)), vec![F]);
    let out = r.on_tick(ms(t0, 100));
    assert_eq!(control(&out), vec![(A, ControlVerb::IHave, vec![3])]);
    assert_eq!(r.peer_kind(F), Some(PeerKind::Flood));
    assert_eq!(r.stats().control_ignored, 1);
}

#[test]
fn an_unknown_peer_is_flooded_until_it_speaks_control() {
    let t0 = Instant::now();
    let mut r = router(
        OverlayConfig::default(),
        &[(A, PeerKind::Unknown), (B, PeerKind::Overlay)],
    );
    receive(&mut r, t0, B, 1, X);
    // Its duplicate prunes nothing: it may not understand PRUNE.
    r.on_object(t0, A, meta(id(1), X));
    assert!(r.on_tick(ms(t0, 100)).is_empty());
    r.on_control(t0, A, msg(ControlVerb::Prune, &[1]));
    assert_eq!(r.peer_kind(A), Some(PeerKind::Overlay));
    assert_eq!(r.eager_peers(X), vec![B]);
}

#[test]
fn flood_mode_pushes_everything_and_never_speaks_control() {
    let t0 = Instant::now();
    let mut r = router(
        OverlayConfig::flood(),
        &[
            (A, PeerKind::Overlay),
            (B, PeerKind::Overlay),
            (C, PeerKind::Flood),
        ],
    );
    assert_eq!(pushed_to(&receive(&mut r, t0, A, 1, X)), vec![B, C]);
    r.on_object(t0, B, meta(id(1), X));
    assert!(r
        .on_control(t0, B, msg(ControlVerb::Prune, &[1]))
        .is_empty());
    assert!(r
        .on_control(t0, B, msg(ControlVerb::IWant, &[1]))
        .is_empty());
    r.on_control(t0, B, msg(ControlVerb::IHave, &[9]));
    assert!(r.on_tick(ms(t0, 1000)).is_empty());
    assert_eq!(pushed_to(&receive(&mut r, t0, A, 2, X)), vec![B, C]);
    assert_eq!(r.stats().control_ignored, 3);
}

#[test]
fn one_tree_for_all_when_trees_per_origin_are_off() {
    let t0 = Instant::now();
    let config = OverlayConfig {
        tree_per_origin: false,
        ..OverlayConfig::default()
    };
    let mut r = router(config, &[(A, PeerKind::Overlay), (B, PeerKind::Overlay)]);
    r.publish(t0, meta(id(1), X), 1);
    r.on_control(t0, A, msg(ControlVerb::Prune, &[1]));
    assert_eq!(pushed_to(&r.publish(t0, meta(id(2), Y), 2)), vec![B]);
    assert_eq!(r.stats().trees, 1);
}

#[test]
fn objects_without_an_origin_are_flooded_unless_configured_onto_one_tree() {
    let t0 = Instant::now();
    let mut r = overlay_peers(&[A, B, C]);
    receive(&mut r, t0, A, 1, None);
    assert_eq!(r.on_object(t0, B, meta(id(1), None)), Arrival::Duplicate);
    r.on_control(t0, C, msg(ControlVerb::Prune, &[1]));
    assert!(
        r.on_tick(ms(t0, 100)).is_empty(),
        "no PRUNE for a flooded object"
    );
    assert_eq!(
        pushed_to(&receive(&mut r, ms(t0, 200), A, 2, None)),
        vec![B, C]
    );
    let config = OverlayConfig {
        flood_without_origin: false,
        ..OverlayConfig::default()
    };
    let mut r = router(
        config,
        &[
            (A, PeerKind::Overlay),
            (B, PeerKind::Overlay),
            (C, PeerKind::Overlay),
        ],
    );
    receive(&mut r, t0, A, 1, None);
    r.on_object(t0, B, meta(id(1), None));
    assert_eq!(
        control(&r.on_tick(ms(t0, 100))),
        vec![(B, ControlVerb::Prune, vec![1])]
    );
    r.on_control(t0, C, msg(ControlVerb::Prune, &[1]));
    assert_eq!(
        pushed_to(&receive(&mut r, ms(t0, 200), A, 2, None)),
        vec![B]
    );
}

#[test]
fn rejected_and_pending_objects_are_neither_pushed_nor_served() {
    let t0 = Instant::now();
    let mut r = overlay_peers(&[A, B]);
    assert_eq!(r.on_object(t0, A, meta(id(1), X)), Arrival::New);
    assert!(
        r.on_control(t0, B, msg(ControlVerb::IWant, &[1]))
            .is_empty(),
        "pending"
    );
    r.on_rejected(id(1));
    assert!(r.on_validated(id(1), 1).is_empty());
    assert!(r
        .on_control(t0, B, msg(ControlVerb::IWant, &[1]))
        .is_empty());
    assert_eq!(r.on_object(t0, B, meta(id(1), X)), Arrival::Duplicate);
    assert!(control(&r.on_tick(ms(t0, 100)))
        .iter()
        .all(|c| c.1 != ControlVerb::IHave));
}

#[test]
fn asks_are_served_within_their_bounds() {
    let t0 = Instant::now();
    let config = OverlayConfig {
        max_served: 4,
        ..OverlayConfig::default()
    };
    let mut r = router(config, &[(A, PeerKind::Overlay)]);
    for n in 1..=5 {
        r.publish(t0, meta(id(n), X), n);
    }
    // The same object at most max_asks_per_object (3) times.
    for _ in 0..3 {
        assert_eq!(
            pushed_to(&r.on_control(t0, A, msg(ControlVerb::IWant, &[1]))),
            vec![A]
        );
    }
    assert!(r
        .on_control(t0, A, msg(ControlVerb::IWant, &[1]))
        .is_empty());
    // At most max_served (4) objects per window: one left in this one.
    assert_eq!(
        pushed_to(&r.on_control(t0, A, msg(ControlVerb::IWant, &[2, 3]))),
        vec![A]
    );
    // A new window serves again; an unknown object is simply not served.
    let out = r.on_control(ms(t0, 1000), A, msg(ControlVerb::IWant, &[3, 42]));
    assert_eq!(pushed_to(&out), vec![A]);
    assert_eq!(r.stats().serve_refused, 2);
}

#[test]
fn a_control_flood_is_dropped_and_penalised_once_per_window() {
    let t0 = Instant::now();
    let config = OverlayConfig {
        max_control_frames: 3,
        ..OverlayConfig::default()
    };
    let mut r = router(config, &[(A, PeerKind::Overlay)]);
    let mut penalties = 0;
    for _ in 0..10 {
        for a in r.on_control(t0, A, msg(ControlVerb::IHave, &[5])) {
            assert!(matches!(
                a,
                Action::Penalize {
                    peer: A,
                    reason: OverlayPenalty::ControlFlood { frames: 4, .. }
                }
            ));
            penalties += 1;
        }
    }
    assert_eq!(penalties, 1);
    assert_eq!(r.stats().control_received, 3);
    assert_eq!(r.stats().control_ignored, 7);
    // Frames and bytes by verb count only the frames acted upon.
    let ihave = control_frame_len(&msg(ControlVerb::IHave, &[5]));
    assert!(ihave > 64, "{ihave}");
    assert_eq!(r.stats().control_received_by_verb, [0, 0, 3, 0]);
    assert_eq!(r.stats().control_bytes_received, [0, 0, 3 * ihave, 0]);
    // The next window accepts frames again.
    r.on_control(ms(t0, 1000), A, msg(ControlVerb::Prune, &[]));
    assert_eq!(r.stats().control_received, 4);
    assert_eq!(r.stats().control_received_by_verb, [1, 0, 3, 0]);
}

#[test]
fn every_table_is_bounded() {
    let t0 = Instant::now();
    let config = OverlayConfig {
        max_missing: 10,
        max_ihave_hashes: 300,
        max_pending_ihave: 5,
        max_outstanding_per_peer: 2,
        message_capacity: 50,
        max_trees: 4,
        ..OverlayConfig::default()
    };
    let mut r = router(config, &[(A, PeerKind::Overlay), (B, PeerKind::Overlay)]);
    // IHAVE: 300 hashes taken per window, 10 missing objects tracked.
    let many: Vec<u8> = (0..=255).collect();
    r.on_control(t0, A, msg(ControlVerb::IHave, &many));
    r.on_control(t0, A, msg(ControlVerb::IHave, &many));
    assert_eq!(r.stats().missing, 10);
    // Two asks outstanding to A at most: the other eight are given up (A the only announcer).
    let asks = control(&r.on_tick(ms(t0, 200)));
    assert_eq!(
        asks,
        vec![
            (A, ControlVerb::Graft, vec![0, 1]),
            (A, ControlVerb::IWant, vec![0, 1])
        ]
    );
    assert_eq!(r.stats().gave_up, 8);
    // Pending IHAVE for a lazy peer: the oldest dropped beyond 5.
    r.publish(t0, meta(id(100), X), 100);
    r.on_control(t0, B, msg(ControlVerb::Prune, &[100]));
    for n in 101..121 {
        r.publish(t0, meta(id(n), X), n);
    }
    let ihave = control(&r.on_tick(ms(t0, 300)));
    assert_eq!(
        ihave,
        vec![(B, ControlVerb::IHave, vec![116, 117, 118, 119, 120])]
    );
    // Objects: 50 remembered; trees: 4 (one per origin, least recently used forgotten).
    for n in 0..60u8 {
        r.publish(t0, meta(id2(n, 1), Some(Origin(u64::from(n % 6)))), n);
    }
    let stats = r.stats();
    assert_eq!((stats.messages, stats.trees), (50, 4));
    assert!(stats.dropped_at_bound >= 246 + 44 + 15);
}

fn id2(a: u8, b: u8) -> MessageHash {
    let mut h = [0u8; 32];
    h[0] = a;
    h[1] = b;
    MessageHash(h)
}

#[test]
fn ihave_batches_split_at_the_codec_cap() {
    let t0 = Instant::now();
    let mut r = overlay_peers(&[A, B]);
    r.publish(t0, meta(id(0), X), 0);
    r.on_control(t0, A, msg(ControlVerb::Prune, &[0]));
    for n in 1..=255u8 {
        r.publish(t0, meta(id2(n, 1), X), n);
        r.publish(t0, meta(id2(n, 2), X), n);
    }
    let sizes: Vec<usize> = control(&r.on_tick(ms(t0, 100)))
        .into_iter()
        .map(|c| c.2.len())
        .collect();
    assert_eq!(sizes, vec![256, 254]);
}

#[test]
fn the_meta_is_read_from_the_gossip_header() {
    let mut env = GossipEnvelope::new(Topic::Block, Root([3; 32]), Bytes::from_static(b"b"), 1234);
    assert_eq!(
        ObjectMeta::of_header(&env.header).expect("no origin"),
        ObjectMeta {
            id: env.header.message_hash,
            origin: None,
            timestamp_ms: 1234
        }
    );
    Origin(77).write(&mut env.header).expect("origin");
    assert_eq!(
        ObjectMeta::of_header(&env.header).expect("origin").origin,
        Some(Origin(77))
    );
    env.header.extra.insert("origin", "node 77");
    assert!(ObjectMeta::of_header(&env.header).is_err());
}

#[test]
fn config_is_validated() {
    let zero = OverlayConfig {
        max_trees: 0,
        ..OverlayConfig::default()
    };
    assert_eq!(
        Router::new(zero).err(),
        Some(OverlayError::Zero { field: "max_trees" })
    );
    let short = OverlayConfig {
        message_ttl: Duration::from_millis(100),
        ..OverlayConfig::default()
    };
    assert!(matches!(
        Router::new(short).err(),
        Some(OverlayError::Invalid {
            field: "message_ttl",
            ..
        })
    ));
}
