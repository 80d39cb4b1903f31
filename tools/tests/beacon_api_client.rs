//! The Beacon API client (`hobbits_tools::beacon_api`) against our own node on 127.0.0.1: the
//! status it reads is the node's own (version, id, head, finality, peers, sync), and errors come
//! back with the spec's status and message; a closed port is a connection error.

use std::time::Duration;

use hobbits_actors::node::{start_node, NodeParts};
use hobbits_actors::test_support::{node_config, seed_blocks};
use hobbits_tools::beacon_api::{ApiError, BeaconApi};

const TIMEOUT: Duration = Duration::from_secs(5);

#[actix_rt::test]
async fn the_client_reads_a_nodes_status_and_errors() {
    let node = start_node(
        node_config(7, &[]),
        NodeParts {
            http_addr: Some("127.0.0.1:0".parse().expect("addr")),
            ..NodeParts::full()
        },
    )
    .await
    .expect("node");
    seed_blocks(&node, 3).await;
    let http = node.http_server.as_ref().expect("http").local_addr();
    let api = BeaconApi::from_url(&format!("http://{http}"), TIMEOUT)
        .await
        .expect("url");
    let s = api.node_status().await.expect("status");
    let head = node.store.head().await.expect("head");
    assert_eq!(s.chain.head_slot, head.slot);
    assert_eq!(s.chain.head_root, head.root);
    assert_eq!(s.chain.finalized_epoch.0, 0);
    assert_eq!(s.peer_id, "0000000000000007");
    assert_eq!(
        s.p2p_addresses,
        vec![format!("hob+tcp://{}", node.listen_addr)]
    );
    assert!(s.version.starts_with("hobbits-node/"));
    assert_eq!((s.peers, s.is_syncing, s.sync_distance), (0, false, 0));

    match api.get_json("/eth/v1/beacon/headers/12345").await {
        Err(ApiError::Status {
            status, message, ..
        }) => assert_eq!((status, message.as_str()), (404, "Block not found")),
        other => panic!("expected a 404, got {other:?}"),
    }
    node.shutdown(Duration::from_secs(1)).await;
    let closed = BeaconApi::new(http, TIMEOUT);
    assert!(matches!(
        closed.head_and_finality().await,
        Err(ApiError::Connect { .. })
    ));
}
