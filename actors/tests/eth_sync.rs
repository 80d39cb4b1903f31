//! Sync of 10 000 blocks over the ETH wire through roots (roots, then headers, then bodies by
//! root): a node with no Hobbits peer reaches the head of a node it dials by `eth+tcp`, on
//! 127.0.0.1.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hobbits_actors::peer_table::Dialect;
use hobbits_actors::NodeParts;
use support::{chain, node_config, start, wait_for};

#[actix_rt::test]
async fn two_nodes_sync_10000_blocks_over_eth_through_roots() {
    support::init_tracing();
    let config = node_config(91, &[]);
    let blocks = chain(&config, 10_000);
    let source = start(
        config,
        NodeParts {
            eth_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..NodeParts::default()
        },
        &blocks,
    )
    .await;
    let tip = source.head().await;
    let t0 = Instant::now();
    let node = start(
        node_config(92, &[]),
        NodeParts {
            eth_peers: vec![source.node.eth_listen_addr.expect("eth listener")],
            ..NodeParts::full()
        },
        &[],
    )
    .await;
    wait_for(
        "10 000 blocks over ETH",
        Duration::from_secs(300),
        || async { (node.head().await == tip).then_some(()) },
    )
    .await;
    eprintln!("10 000 blocks over ETH in {:?}", t0.elapsed());
    let peers = node.node.peers().await;
    assert!(
        peers.iter().all(|p| p.dialect == Dialect::Eth),
        "no Hobbits peer: {peers:?}"
    );
    node.stop().await;
    source.stop().await;
}
