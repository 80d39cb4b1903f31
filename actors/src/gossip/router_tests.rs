//! Tests of the gossip router: no runtime, objects from the test producer.

use std::time::{Duration, Instant};

use bytes::Bytes;
use hobbits_chain::{
    Attestation, BeaconBlock, BlockProducer, ChainRead, GenesisConfig, HashedBlock, Root, Slot,
    StoreConfig,
};
use hobbits_codec::{GossipEnvelope, GossipObject, MessageHash, Topic};
use ssz::Encode;

use super::*;
use crate::events::Penalty;
use crate::peer_table::PeerId;

fn block(slot: u64) -> BeaconBlock {
    let store = GenesisConfig::new(1, 1, Duration::from_secs(0), None)
        .and_then(|g| g.memory_store(StoreConfig::default()))
        .expect("genesis");
    BlockProducer::new("t", 1)
        .produce_on_head(&store, Slot(slot))
        .expect("block")
}

fn attestation() -> Attestation {
    let store = GenesisConfig::new(1, 1, Duration::from_secs(0), None)
        .and_then(|g| g.memory_store(StoreConfig::default()))
        .expect("genesis");
    BlockProducer::new("t", 2).attest(&store, store.head())
}

fn full(b: &BeaconBlock) -> GossipEnvelope {
    GossipEnvelope::new(
        Topic::Block,
        b.hash_tree_root(),
        Bytes::from(b.as_ssz_bytes()),
        1,
    )
}

fn router() -> GossipRouter {
    GossipRouter::new(GossipConfig::default())
}

fn recv(r: &mut GossipRouter, peer: u64, env: &GossipEnvelope, now: Instant) -> Verdict {
    r.on_gossip(PeerId(peer), env.header.clone(), env.body.clone(), now)
}

#[test]
fn a_valid_block_is_imported_then_relayed_once_to_everyone_but_its_senders() {
    let mut r = router();
    let now = Instant::now();
    let b = block(1);
    let env = full(&b);
    let v = recv(&mut r, 1, &env, now);
    assert_eq!(
        v,
        Verdict::Import {
            hash: b.hash_tree_root(),
            object: CheckedObject::Block(HashedBlock::new(b.clone()))
        }
    );
    // The same message from peer 2 while importing: a duplicate, and peer 2 is not relayed to.
    assert_eq!(recv(&mut r, 2, &env, now), Verdict::Duplicate);
    let relay = r
        .on_imported(b.hash_tree_root(), Topic::Block, &ImportVerdict::Imported)
        .expect("relay");
    assert_eq!(relay.envelope, env);
    assert_eq!(relay.except, HashSet::from([PeerId(1), PeerId(2)]));
    // Later copies: duplicates, never a second relay.
    assert_eq!(recv(&mut r, 3, &env, now), Verdict::Duplicate);
    assert_eq!(
        r.on_imported(b.hash_tree_root(), Topic::Block, &ImportVerdict::Imported),
        None
    );
    let s = r.stats();
    assert_eq!(
        (s.received, s.imported, s.relayed, s.duplicate, s.invalid),
        (3, 1, 1, 2, 0)
    );
}

#[test]
fn a_mismatched_message_hash_is_invalid_and_does_not_poison_the_cache() {
    let mut r = router();
    let now = Instant::now();
    let b = block(1);
    let honest = full(&b);
    let mut liar = honest.clone();
    liar.header.message_hash = MessageHash([0xAB; 32]);
    assert_eq!(
        recv(&mut r, 9, &liar, now),
        Verdict::Invalid {
            reason: Penalty::MessageHashMismatch
        }
    );
    // A lie with the honest message_hash but another body.
    let mut liar2 = full(&block(2));
    liar2.header.message_hash = honest.header.message_hash;
    assert!(matches!(
        recv(&mut r, 9, &liar2, now),
        Verdict::Invalid { .. }
    ));
    assert!(matches!(
        recv(&mut r, 1, &honest, now),
        Verdict::Import { .. }
    ));
    assert_eq!(r.stats().invalid, 2);
}

#[test]
fn a_seen_body_under_another_seen_hash_is_still_invalid_not_a_duplicate() {
    // The duplicate fast path keys on the validated (message_hash, hash) pair, so replaying a
    // validated body while naming another validated object's hash is caught and penalised.
    let mut r = router();
    let now = Instant::now();
    let (b1, b2) = (block(1), block(2));
    assert!(matches!(
        recv(&mut r, 1, &full(&b1), now),
        Verdict::Import { .. }
    ));
    assert!(matches!(
        recv(&mut r, 1, &full(&b2), now),
        Verdict::Import { .. }
    ));
    let mut liar = full(&b1);
    liar.header.hash = b2.hash_tree_root();
    assert_eq!(
        recv(&mut r, 9, &liar, now),
        Verdict::Invalid {
            reason: Penalty::HashMismatch
        }
    );
    // The honest copy of either is a duplicate (the fast path), never a second import.
    assert_eq!(recv(&mut r, 2, &full(&b1), now), Verdict::Duplicate);
    assert_eq!(recv(&mut r, 2, &full(&b2), now), Verdict::Duplicate);
    let s = r.stats();
    assert_eq!((s.duplicate, s.invalid), (2, 1));
}

#[test]
fn a_hash_that_is_not_the_objects_root_is_invalid_and_does_not_poison_the_cache() {
    let mut r = router();
    let now = Instant::now();
    let b = block(1);
    let mut liar = full(&block(2));
    liar.header.hash = b.hash_tree_root(); // claims to be block 1
    assert_eq!(
        recv(&mut r, 9, &liar, now),
        Verdict::Invalid {
            reason: Penalty::HashMismatch
        }
    );
    assert!(matches!(
        recv(&mut r, 1, &full(&b), now),
        Verdict::Import { .. }
    ));
}

#[test]
fn an_undecodable_body_is_invalid() {
    let mut r = router();
    let env = GossipEnvelope::new(Topic::Block, Root([1; 32]), Bytes::from_static(b"junk"), 1);
    assert!(matches!(
        recv(&mut r, 1, &env, Instant::now()),
        Verdict::Invalid {
            reason: Penalty::UndecodableBody { .. }
        }
    ));
}

#[test]
fn an_announcement_is_fetched_once_then_imported_and_relayed_in_full() {
    let mut r = router();
    let now = Instant::now();
    let b = block(1);
    let hash = b.hash_tree_root();
    let ann = GossipEnvelope::new(Topic::Block, hash, Bytes::new(), 5);
    assert_eq!(
        recv(&mut r, 1, &ann, now),
        Verdict::Fetch {
            hash,
            topic: Topic::Block,
            peer: PeerId(1)
        }
    );
    assert_eq!(recv(&mut r, 2, &ann, now), Verdict::Duplicate);
    let v = r
        .on_fetched(hash, Some(GossipObject::Block(b.clone())), 77, now)
        .expect("import");
    assert!(matches!(v, Verdict::Import { .. }));
    // The full message arriving meanwhile is a duplicate.
    assert_eq!(recv(&mut r, 3, &full(&b), now), Verdict::Duplicate);
    let relay = r
        .on_imported(hash, Topic::Block, &ImportVerdict::Imported)
        .expect("relay");
    assert_eq!(relay.envelope.body, Bytes::from(b.as_ssz_bytes()));
    assert!(relay.envelope.message_hash_matches());
    assert_eq!(relay.envelope.header.hash, hash);
    assert_eq!(relay.envelope.header.timestamp_ms, 77);
    assert_eq!(
        relay.except,
        HashSet::from([PeerId(1), PeerId(2), PeerId(3)])
    );
    assert_eq!(r.stats().announced_fetched, 1);
}

#[test]
fn a_fetch_serving_another_object_fails_and_a_later_announcement_retries() {
    let mut r = router();
    let now = Instant::now();
    let b = block(1);
    let hash = b.hash_tree_root();
    let ann = GossipEnvelope::new(Topic::Block, hash, Bytes::new(), 5);
    assert!(matches!(recv(&mut r, 1, &ann, now), Verdict::Fetch { .. }));
    assert_eq!(
        r.on_fetched(hash, Some(GossipObject::Block(block(2))), 1, now),
        None
    );
    assert_eq!(r.stats().fetch_failed, 1);
    assert!(matches!(recv(&mut r, 2, &ann, now), Verdict::Fetch { .. }));
    r.on_fetch_known(hash, now);
    assert_eq!(recv(&mut r, 3, &ann, now), Verdict::Duplicate);
}

#[test]
fn attestations_follow_the_same_rules() {
    let mut r = router();
    let now = Instant::now();
    let a = attestation();
    let env = GossipEnvelope::new(
        Topic::Attestation,
        a.hash_tree_root(),
        Bytes::from(a.as_ssz_bytes()),
        1,
    );
    assert!(matches!(recv(&mut r, 1, &env, now), Verdict::Import { .. }));
    let relay = r.on_imported(
        a.hash_tree_root(),
        Topic::Attestation,
        &ImportVerdict::Imported,
    );
    assert!(relay.is_some());
    assert_eq!(r.stats().attestations_imported, 1);
    // A block body under the ATTESTATION topic does not decode or does not hash right.
    let b = block(1);
    let wrong = GossipEnvelope::new(
        Topic::Attestation,
        b.hash_tree_root(),
        Bytes::from(b.as_ssz_bytes()),
        1,
    );
    assert!(matches!(
        recv(&mut r, 1, &wrong, now),
        Verdict::Invalid { .. }
    ));
}

#[test]
fn published_objects_carry_sha256_of_the_body_and_their_root_and_come_back_as_duplicates() {
    let mut r = router();
    let now = Instant::now();
    let b = block(1);
    let relay = r.publish(&GossipObject::Block(b.clone()), 1234, now);
    let h = &relay.envelope.header;
    assert_eq!(h.topic, Topic::Block);
    assert_eq!(h.hash, b.hash_tree_root());
    assert_eq!(h.message_hash, MessageHash::of_body(&b.as_ssz_bytes()));
    assert_eq!(h.timestamp_ms, 1234);
    assert!(relay.except.is_empty());
    assert_eq!(recv(&mut r, 1, &relay.envelope, now), Verdict::Duplicate);

    let mut announcer = GossipRouter::new(GossipConfig {
        announce_only: true,
        ..GossipConfig::default()
    });
    let relay = announcer.publish(&GossipObject::Block(b.clone()), 1, now);
    assert!(relay.envelope.is_announcement());
    assert_eq!(relay.envelope.header.hash, b.hash_tree_root());
}

#[test]
fn orphans_and_known_objects_are_not_relayed() {
    let mut r = router();
    let now = Instant::now();
    let b = block(1);
    assert!(matches!(
        recv(&mut r, 1, &full(&b), now),
        Verdict::Import { .. }
    ));
    // What sync gets of an orphan: the block, decoded again from the message kept for the relay.
    assert_eq!(r.block_in_progress(&b.hash_tree_root()), Some(b.clone()));
    assert_eq!(r.block_in_progress(&Root([9; 32])), None);
    assert_eq!(
        r.on_imported(b.hash_tree_root(), Topic::Block, &ImportVerdict::Orphan),
        None
    );
    let c = block(2);
    assert!(matches!(
        recv(&mut r, 1, &full(&c), now),
        Verdict::Import { .. }
    ));
    assert_eq!(
        r.on_imported(
            c.hash_tree_root(),
            Topic::Block,
            &ImportVerdict::AlreadyKnown
        ),
        None
    );
    assert_eq!(
        r.block_in_progress(&b.hash_tree_root()),
        None,
        "no longer in progress"
    );
    let s = r.stats();
    assert_eq!((s.orphans, s.already_known, s.relayed), (1, 1, 0));
}

#[test]
fn the_seen_cache_forgets_after_its_ttl() {
    let mut r = GossipRouter::new(GossipConfig {
        seen_ttl: Duration::from_secs(1),
        ..GossipConfig::default()
    });
    let now = Instant::now();
    let b = block(1);
    assert!(matches!(
        recv(&mut r, 1, &full(&b), now),
        Verdict::Import { .. }
    ));
    r.on_imported(b.hash_tree_root(), Topic::Block, &ImportVerdict::Imported);
    assert_eq!(recv(&mut r, 1, &full(&b), now), Verdict::Duplicate);
    let later = now + Duration::from_secs(2);
    assert!(matches!(
        recv(&mut r, 1, &full(&b), later),
        Verdict::Import { .. }
    ));
}

#[test]
fn a_peer_whose_queue_stays_full_is_dropped() {
    let mut r = GossipRouter::new(GossipConfig {
        slow_peer_strikes: 3,
        ..GossipConfig::default()
    });
    assert!(!r.on_send(PeerId(1), false));
    assert!(!r.on_send(PeerId(1), false));
    assert!(!r.on_send(PeerId(1), true)); // it caught up: strikes reset
    assert!(!r.on_send(PeerId(1), false));
    assert!(!r.on_send(PeerId(1), false));
    assert!(r.on_send(PeerId(1), false));
    let s = r.stats();
    assert_eq!(
        (s.frames_sent, s.queue_full, s.slow_peers_disconnected),
        (1, 5, 1)
    );
}

#[test]
fn config_is_validated() {
    assert!(GossipConfig::default().validate().is_ok());
    let bad = GossipConfig {
        seen_capacity: 0,
        ..GossipConfig::default()
    };
    assert_eq!(
        bad.validate(),
        Err(GossipError::Zero {
            field: "seen_capacity"
        })
    );
}
