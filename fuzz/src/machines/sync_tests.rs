//! Tests of the sync harness itself: it drives an honest sync to the end, and its penalty
//! invariant accepts a liar's penalty and rejects an honest peer's.

use super::*;

fn config() -> Config {
    Config {
        batch_size: 7,
        max_batches: 3,
        requests_per_peer: 1,
        max_batch_attempts: 4,
        max_lookup_depth: 3,
        max_lookups: 1,
        local_chain: 0,
        local_blocks: 0,
    }
}

/// The harness is not vacuous: an honest peer of chain 1 answering everything takes the
/// local store to its head, through requests, imports and the invariants.
#[test]
fn an_honest_peer_syncs_the_local_store() {
    let mut events = vec![Event::Connect {
        chain: 1,
        claim: Claim::Honest,
    }];
    for _ in 0..40 {
        events.push(Event::Respond {
            pick: 0,
            answer: Answer::Honest,
        });
        events.push(Event::Import {
            pick: 0,
            fail: false,
        });
    }
    let fx = fixtures::get();
    let mut h = Harness::new(&config());
    for e in events {
        h.step(e);
        h.check_bounds();
    }
    assert_eq!(h.local.head, Slot(40));
    assert_eq!(h.machine.state(), SyncState::Idle);
    assert!(h
        .local
        .known
        .contains_key(&fx.root_of(&fx.chains[1].blocks[39])));
}

/// A lie is penalised (the invariant accepts it), and the harness catches a penalty of an
/// honest peer (the invariant can fail).
#[test]
fn penalties_are_checked_against_lies() {
    let mut h = Harness::new(&config());
    h.step(Event::Connect {
        chain: 1,
        claim: Claim::Honest,
    });
    h.step(Event::Respond {
        pick: 0,
        answer: Answer::Corrupt(2, 1),
    });
    assert!(h.conns[&PeerId(1)].lied);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        h.conns.get_mut(&PeerId(1)).expect("connected").lied = false;
        h.apply(
            vec![SyncAction::PenalizePeer {
                peer: PeerId(1),
                reason: "test".into(),
            }],
            Some(PeerId(1)),
        );
    }));
    assert!(caught.is_err());
}
