//! A node that starts empty range-syncs from another through the relay on 127.0.0.1: it reaches
//! the same head as the source, every request passes answered and no deviation is reported.

mod support;

use std::time::Duration;

use hobbits_actors::node::{start_node, NodeParts};
use hobbits_actors::NodeConfig;
use hobbits_chain::Slot;
use hobbits_codec::PeerUri;
use hobbits_tools::relay::RelayDirection;
use support::{seed_blocks, start_relay, DEADLINE};

/// B starts empty, runs the sync actor, and dials A through the relay: it reaches A's head exactly
/// as it would directly, and the relay sees only matched, clean RPC.
#[actix_rt::test]
async fn a_node_syncs_through_the_relay_to_the_same_head() {
    use hobbits_actors::sync::SyncConfig;
    use hobbits_actors::DialPeer;

    let a = start_node(NodeConfig::local_test(), NodeParts::default())
        .await
        .expect("node a");
    seed_blocks(&a, 40).await;
    let a_head = a.store.head().await.expect("a head");
    assert_eq!(a_head.slot, Slot(40));

    let mut relay = start_relay(a.listen_addr, |_| {}).await;
    let sync_only = NodeParts {
        sync: Some(SyncConfig::default()),
        ..NodeParts::default()
    };
    let b = start_node(NodeConfig::local_test(), sync_only)
        .await
        .expect("node b");
    b.manager.do_send(DialPeer {
        uri: PeerUri::from_socket_addr(relay.listen_addr()),
    });

    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        let head = b.store.head().await.expect("b head");
        if head == a_head {
            break;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "b stuck at {head:?}, a at {a_head:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    b.shutdown(Duration::from_secs(2)).await;
    let (summary, _log) = support::shut_down_relay(&mut relay).await;
    use RelayDirection::{ClientToServer as C2S, ServerToClient as S2C};
    assert!(
        summary.frame_count(S2C, "RPC", "BLOCK_BODIES(13)") >= 1,
        "{summary}"
    );
    assert_eq!(
        summary.frame_count(C2S, "RPC", "GET_BLOCK_BODIES(12)"),
        summary.frame_count(S2C, "RPC", "BLOCK_BODIES(13)"),
        "every bodies request answered: {summary}"
    );
    assert!(summary.deviations.is_empty(), "{summary}");
    assert_eq!(summary.unanswered, 0, "{summary}");
    a.shutdown(Duration::from_secs(2)).await;
}
