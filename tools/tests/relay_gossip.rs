//! Two nodes with sync and gossip talk through the relay on 127.0.0.1: B starts 30 blocks behind,
//! catches up by range sync, then follows A's gossip. B ends on A's head exactly as it would over a
//! direct connection, every gossip frame passes with a correct `message_hash`, every request is
//! answered, and the relay reports no deviation.

mod support;

use std::time::Duration;

use hobbits_actors::NodeParts;
use hobbits_tools::relay::RelayDirection;
use support::{chain, node_config, start};
use support::{start_relay, wait_for};

const DEADLINE: Duration = Duration::from_secs(20);
const BEHIND: u64 = 30;
const GOSSIPED: u64 = 5;

#[actix_rt::test]
async fn sync_then_gossip_pass_through_the_relay_unchanged() {
    support::init_tracing();
    let config_a = node_config(1, &[]);
    let seed = chain(&config_a, BEHIND);
    let a = start(config_a, NodeParts::full(), &seed).await;

    let mut relay = start_relay(a.addr(), |_| {}).await;
    let b = start(
        node_config(2, &[relay.listen_addr()]),
        NodeParts::full(),
        &[],
    )
    .await;

    // Range sync through the relay.
    let a_head = a.head().await;
    wait_for("B syncs A's chain through the relay", DEADLINE, || async {
        (b.head().await == a_head).then_some(())
    })
    .await;

    // Then gossip: each block A publishes reaches B through the relay, by gossip, not by sync.
    let before = b.gossip_stats().await;
    let mut roots = Vec::new();
    for _ in 0..GOSSIPED {
        roots.push(a.produce_and_publish("relay").await.signing_root());
    }
    wait_for("B imports A's gossiped blocks", DEADLINE, || async {
        let s = b.gossip_stats().await;
        (s.blocks_imported - before.blocks_imported == GOSSIPED).then_some(())
    })
    .await;
    for r in &roots {
        assert!(b.has_block(*r).await, "B lacks gossiped block {r}");
    }
    assert_eq!(b.head().await, a.head().await);
    let stats = b.gossip_stats().await;
    assert_eq!(stats.invalid, 0);
    assert_eq!(stats.duplicate, before.duplicate);

    b.stop().await;
    let (summary, log) = support::shut_down_relay(&mut relay).await;
    use RelayDirection::{ClientToServer as C2S, ServerToClient as S2C};
    // The log names each step: handshake, range sync, gossip.
    assert!(
        summary.frame_count(C2S, "RPC", "HELLO(0)") >= 1,
        "{summary}"
    );
    assert!(
        summary.frame_count(S2C, "RPC", "HELLO(0)") >= 1,
        "{summary}"
    );
    assert!(
        summary.frame_count(S2C, "RPC", "BLOCK_BODIES(13)") >= 1,
        "{summary}"
    );
    assert_eq!(
        summary.frame_count(S2C, "GOSSIP", "BLOCK"),
        GOSSIPED,
        "each gossiped block crossed the relay once: {summary}"
    );
    assert!(log.iter().any(|l| l.contains("HELLO(0)")));
    assert!(log
        .iter()
        .any(|l| l.contains("GOSSIP") && l.contains("BLOCK")));
    assert!(summary.deviations.is_empty(), "{summary}");
    assert_eq!(summary.unanswered, 0, "{summary}");
    a.stop().await;
}
