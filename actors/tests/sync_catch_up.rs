//! Sync over sockets on 127.0.0.1: a node 500 blocks behind catches up with a producing peer and
//! then follows it by gossip; a syncing node whose source peer is killed mid-sync finishes from
//! another peer, importing every block once.

mod support;

use std::time::Duration;

use hobbits_actors::sync::{SyncConfig, SyncState};
use hobbits_actors::NodeParts;
use hobbits_actors::ProducerConfig;
use hobbits_chain::Slot;
use support::wait_for;
use support::{chain, node_config, start};

const DEADLINE: Duration = Duration::from_secs(60);

#[actix_rt::test]
async fn a_node_500_blocks_behind_catches_up_then_follows_the_producer() {
    support::init_tracing();
    let mut pc = node_config(21, &[]);
    pc.producer = Some(ProducerConfig {
        slot_duration: Duration::from_millis(200),
    });
    let blocks = chain(&pc, 500);
    let producer = start(pc, NodeParts::full(), &blocks).await;
    assert!(producer.head().await.slot >= Slot(500));
    let sg = NodeParts {
        sync: Some(SyncConfig {
            batch_size: 32,
            ..SyncConfig::default()
        }),
        ..NodeParts::full()
    };
    let node = start(node_config(22, &[producer.addr()]), sg, &[]).await;
    let caught = wait_for("catch up with the producer's head", DEADLINE, || async {
        let (mine, theirs) = (node.head().await, producer.head().await);
        (mine == theirs && mine.slot > Slot(500)).then_some(mine)
    })
    .await;
    let status = node.sync_status().await;
    assert!(status.stats.syncs_started >= 1);
    assert!(status.stats.blocks_imported >= 500, "{status:?}");
    // Follows: the next blocks arrive by gossip and the heads meet again further on.
    let target = Slot(caught.slot.0 + 3);
    wait_for("follow the producer", DEADLINE, || async {
        let (mine, theirs) = (node.head().await, producer.head().await);
        (mine.slot >= target && mine == theirs).then_some(())
    })
    .await;
    assert!(node.gossip_stats().await.blocks_imported >= 1);
    assert_eq!(node.sync_status().await.state, SyncState::Idle);
    producer.stop().await;
}

#[actix_rt::test]
async fn a_sync_whose_source_is_killed_finishes_from_another_peer() {
    support::init_tracing();
    let base = node_config(31, &[]);
    let blocks = chain(&base, 1000);
    let a = start(base, NodeParts::full(), &blocks).await;
    let b = start(node_config(32, &[]), NodeParts::full(), &blocks).await;
    let sg = NodeParts {
        sync: Some(SyncConfig {
            batch_size: 4,
            max_batches: 2,
            requests_per_peer: 1,
            ..SyncConfig::default()
        }),
        ..NodeParts::full()
    };
    let c = start(node_config(33, &[a.addr(), b.addr()]), sg, &[]).await;
    let head_at_kill = wait_for("sync under way", DEADLINE, || async {
        let h = c.head().await;
        (h.slot >= Slot(40)).then_some(h)
    })
    .await;
    assert!(
        head_at_kill.slot < Slot(1000),
        "sync finished before the kill"
    );
    a.stop().await;
    let tip = blocks.last().expect("blocks").signing_root();
    wait_for("sync finishes from B", DEADLINE, || async {
        let h = c.head().await;
        (h.root == tip).then_some(())
    })
    .await;
    let status = c.sync_status().await;
    // Every block imported once by sync (a batch handed to the store twice would count twice).
    assert_eq!(status.stats.blocks_imported, 1000, "{status:?}");
    // A's outstanding batches failed with the disconnect and were served by B.
    assert!(status.stats.batches_retried >= 1, "{status:?}");
    assert_eq!(status.state, SyncState::Idle);
}
