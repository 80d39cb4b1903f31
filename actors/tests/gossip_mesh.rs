//! Gossip over sockets on 127.0.0.1 in a 20-node random connected topology (seeded): one published
//! block reaches every node, each importing it exactly once, for several seeds.

mod support;

use std::time::Duration;

use hobbits_actors::NodeParts;
use support::wait_for;
use support::{random_topology, start_topology};

const NODES: usize = 20;

#[actix_rt::test]
async fn one_block_reaches_all_20_nodes_once_for_several_seeds() {
    support::init_tracing();
    for (round, seed) in [7u64, 42, 1234].into_iter().enumerate() {
        let edges = random_topology(NODES, NODES, seed);
        let nodes = start_topology(NODES, &edges, NodeParts::full, 1000 * (round as u64 + 1)).await;
        let block = nodes[0].produce_and_publish("mesh").await;
        let root = block.signing_root();
        for n in &nodes[1..] {
            wait_for(
                "block reaches every node",
                Duration::from_secs(20),
                || async { n.has_block(root).await.then_some(()) },
            )
            .await;
        }
        // Each node imported it exactly once and relayed it at most once.
        for (i, n) in nodes.iter().enumerate().skip(1) {
            let s = n.gossip_stats().await;
            assert_eq!(s.blocks_imported, 1, "seed {seed} node {i}: {s:?}");
            assert!(s.relayed <= 1, "seed {seed} node {i}: {s:?}");
            assert_eq!(s.invalid, 0);
        }
        for n in &nodes {
            n.stop().await;
        }
    }
}
