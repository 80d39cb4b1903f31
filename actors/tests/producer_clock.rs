//! Two producers on one chain over 127.0.0.1 advance the head at the slot clock's rate, not twice
//! it (the old head + 1 rule let each producer build on the other's block half a slot later:
//! slot 48 after 24 slots): with the tick-counted clock of `genesis_time` 0, and with a real
//! genesis time, where the head follows the wall-clock slot.

mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hobbits_actors::producer::SlotClock;
use hobbits_actors::NodeParts;
use hobbits_actors::{NodeConfig, ProducerConfig};
use support::wait_for;
use support::{node_config, start, TestNode};

const SLOT: Duration = Duration::from_millis(100);
const DEADLINE: Duration = Duration::from_secs(30);

fn producing(mut c: NodeConfig, genesis_time: u64) -> NodeConfig {
    c.genesis_time = genesis_time;
    c.producer = Some(ProducerConfig {
        slot_duration: SLOT,
    });
    c
}

async fn two_producers(genesis_time: u64) -> (TestNode, TestNode) {
    let a = start(
        producing(node_config(1, &[]), genesis_time),
        NodeParts::full(),
        &[],
    )
    .await;
    let b = start(
        producing(node_config(2, &[a.addr()]), genesis_time),
        NodeParts::full(),
        &[],
    )
    .await;
    wait_for("the producers handshake", DEADLINE, || async {
        (a.handshaked().await == 1 && b.handshaked().await == 1).then_some(())
    })
    .await;
    (a, b)
}

#[actix_rt::test]
async fn two_tick_clock_producers_advance_one_slot_per_slot() {
    support::init_tracing();
    let (a, b) = two_producers(0).await;
    let start_slot = a.head().await.slot.0.max(b.head().await.slot.0);
    let started = Instant::now();
    const SLOTS: u64 = 20;
    wait_for("20 more slots on both nodes", DEADLINE, || async {
        let (ha, hb) = (a.head().await, b.head().await);
        (ha.slot.0.min(hb.slot.0) >= start_slot + SLOTS).then_some(())
    })
    .await;
    let elapsed = started.elapsed();
    // Doubled, 20 slots would take ~10 slot durations; one per tick takes ~20 (timers never fire
    // early; allow one slot of clock catch-up and the start-up phase).
    assert!(
        elapsed >= SLOT * (SLOTS as u32 - 3),
        "{SLOTS} slots in {elapsed:?}: faster than one per {SLOT:?}"
    );
    a.stop().await;
    b.stop().await;
}

#[actix_rt::test]
async fn two_genesis_clock_producers_follow_the_wall_clock_slot() {
    support::init_tracing();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let genesis_time = now - 1;
    let (a, b) = two_producers(genesis_time).await;
    let clock = SlotClock::new(genesis_time, SLOT);
    // Skipped slots are fine (the first block lands at the current wall slot, ~10 after genesis).
    wait_for(
        "a block produced on the wall-clock slot",
        DEADLINE,
        || async { (a.head().await.slot.0 > 0).then_some(()) },
    )
    .await;
    for _ in 0..3 {
        let first = clock.wall_slot(SystemTime::now()).expect("after genesis").0;
        wait_for("the next wall-clock slot", DEADLINE, || async {
            let wall = clock.wall_slot(SystemTime::now()).expect("after genesis").0;
            (wall >= first + 5).then_some(())
        })
        .await;
        for node in [&a, &b] {
            let head = node.head().await.slot.0;
            let wall = clock.wall_slot(SystemTime::now()).expect("after genesis").0;
            assert!(
                head <= wall,
                "head slot {head} ahead of the clock slot {wall}"
            );
            assert!(
                head + 3 >= wall,
                "head slot {head} far behind the clock slot {wall}"
            );
        }
    }
    a.stop().await;
    b.stop().await;
}
