//! The gossip overlay over sockets on 127.0.0.1 (docs/PROTOCOL.md, "Gossip overlay"): a mixed
//! network of overlay nodes and plain flood nodes (what a 2019 client does) delivers every block
//! to every node, and on one seeded topology the overlay receives far fewer duplicate copies than
//! flood does, and when 10% of the nodes are killed at once the survivors still get every later
//! block.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use hobbits_actors::gossip::overlay::{OverlayConfig, OverlayStats};
use hobbits_actors::gossip::{GetOverlayStats, GossipConfig};
use hobbits_actors::NodeParts;
use support::{node_config, random_topology, start, wait_for, TestNode};

const NODES: usize = 12;
const EXTRA_EDGES: usize = 14;
const BLOCKS: usize = 8;
const DEADLINE: Duration = Duration::from_secs(20);
/// The comparison's slot: a few overlay ticks (100 ms), so PRUNEs go out between blocks as they
/// do between real slots.
const SLOT: Duration = Duration::from_millis(400);
/// Blocks of the warm-up: one per producer.
const WARM_UP: usize = 2;

/// Node parts: sync and gossip, the overlay on or plain flood.
fn parts(overlay: bool) -> NodeParts {
    let overlay = if overlay {
        OverlayConfig::default()
    } else {
        OverlayConfig::flood()
    };
    NodeParts {
        gossip: Some(GossipConfig {
            overlay,
            ..GossipConfig::default()
        }),
        ..NodeParts::full()
    }
}

/// Starts `kinds.len()` nodes (`true`: overlay) linked by `edges` and waits for every handshake.
async fn start_mixed(kinds: &[bool], edges: &[(usize, usize)], id_base: u64) -> Vec<TestNode> {
    let mut nodes: Vec<TestNode> = Vec::with_capacity(kinds.len());
    for (i, overlay) in kinds.iter().enumerate() {
        let peers: Vec<SocketAddr> = edges
            .iter()
            .filter(|(a, _)| *a == i)
            .map(|(_, b)| nodes[*b].addr())
            .collect();
        let config = node_config(id_base + i as u64, &peers);
        nodes.push(start(config, parts(*overlay), &[]).await);
    }
    for (i, node) in nodes.iter().enumerate() {
        let want = edges.iter().filter(|(a, b)| *a == i || *b == i).count();
        wait_for("topology handshakes", DEADLINE, || async {
            (node.handshaked().await >= want).then_some(())
        })
        .await;
    }
    nodes
}

/// Publishes `BLOCKS` blocks from the producers `from` in turn, each once every node holds the
/// previous one and at least `slot` after the previous one was published (the workload's pace:
/// one block per slot), and waits until every node holds each. Returns the network's duplicate
/// count after each block.
async fn publish_all(nodes: &[TestNode], from: &[usize], slot: Duration) -> Vec<u64> {
    let mut duplicates = Vec::with_capacity(BLOCKS);
    for k in 0..BLOCKS {
        let next_slot = actix_rt::time::Instant::now() + slot;
        let producer = from[k % from.len()];
        let block = nodes[producer]
            .produce_and_publish(&format!("overlay-{k}"))
            .await;
        let root = block.signing_root();
        for (i, n) in nodes.iter().enumerate() {
            wait_for(&format!("block {k} reaches node {i}"), DEADLINE, || async {
                n.has_block(root).await.then_some(())
            })
            .await;
        }
        actix_rt::time::sleep_until(next_slot).await;
        duplicates.push(network_duplicates(nodes).await);
    }
    duplicates
}

async fn overlay_stats(node: &TestNode) -> Option<OverlayStats> {
    node.gossip().send(GetOverlayStats).await.expect("gossip")
}

/// Duplicate copies received so far, summed over the network.
async fn network_duplicates(nodes: &[TestNode]) -> u64 {
    let mut total = 0;
    for n in nodes {
        total += n.gossip_stats().await.duplicate;
    }
    total
}

#[actix_rt::test]
async fn mixed_flood_and_overlay_network_delivers_every_block() {
    support::init_tracing();
    let edges = random_topology(NODES, EXTRA_EDGES, 11);
    // Every third node is a plain flood node (no `gossip_overlay` in its HELLO).
    let kinds: Vec<bool> = (0..NODES).map(|i| i % 3 != 0).collect();
    let nodes = start_mixed(&kinds, &edges, 5000).await;
    // Producers of both kinds.
    publish_all(&nodes, &[0, 1, 3, 4], Duration::ZERO).await;
    for (i, n) in nodes.iter().enumerate() {
        let s = n.gossip_stats().await;
        assert_eq!(s.invalid, 0, "node {i}: {s:?}");
        assert!(
            s.blocks_imported + s.published >= BLOCKS as u64,
            "node {i}: {s:?}"
        );
        let o = overlay_stats(n).await;
        assert_eq!(o.is_some(), kinds[i], "node {i}: {o:?}");
        if let Some(o) = o {
            assert_eq!(o.penalties, 0, "node {i}: {o:?}");
        }
    }
    // The overlay nodes did shape their trees (some PRUNE went out among them).
    let mut prunes = 0;
    for n in &nodes {
        if let Some(o) = overlay_stats(n).await {
            prunes += o.control_sent[0];
        }
    }
    assert!(prunes > 0, "no PRUNE sent in the mixed network");
    for n in &nodes {
        n.stop().await;
    }
}

#[actix_rt::test]
async fn overlay_receives_fewer_duplicates_than_flood_on_the_same_topology() {
    support::init_tracing();
    let edges = random_topology(NODES, EXTRA_EDGES, 23);
    let mut figures = Vec::new();
    for (round, overlay) in [false, true].into_iter().enumerate() {
        let nodes = start_mixed(&[overlay; NODES], &edges, 6000 + 100 * round as u64).await;
        let duplicates = publish_all(&nodes, &[0, 5], SLOT).await;
        // After the warm-up (each producer's first block floods its new tree).
        let after = duplicates[BLOCKS - 1] - duplicates[WARM_UP - 1];
        figures.push(after as f64 / (NODES * (BLOCKS - WARM_UP)) as f64);
        for n in &nodes {
            n.stop().await;
        }
    }
    let (flood, overlay) = (figures[0], figures[1]);
    tracing::info!(
        flood,
        overlay,
        "duplicates per node per block after the warm-up"
    );
    assert!(flood > 1.0, "flood duplicates {flood}: topology too sparse");
    assert!(
        overlay <= 0.5,
        "overlay duplicates {overlay} (issue 16: at most 0.5)"
    );
    assert!(
        overlay < flood / 4.0,
        "overlay duplicates {overlay} vs flood {flood}"
    );
}

#[actix_rt::test]
async fn survivors_get_every_block_after_10_percent_of_nodes_are_killed() {
    support::init_tracing();
    const N: usize = 20;
    let edges = random_topology(N, 2 * N, 31);
    let nodes = start_mixed(&[true; N], &edges, 7000).await;
    // Shape the trees first: blocks one per slot from two producers.
    publish_all(&nodes, &[0, 1], SLOT).await;
    // Kill two nodes (10%) at once: the best connected ones (most likely inner nodes of the
    // trees) that are not producers and leave the rest connected.
    let mut by_degree: Vec<usize> = (2..N).collect();
    by_degree
        .sort_by_key(|i| std::cmp::Reverse(edges.iter().filter(|(a, b)| a == i || b == i).count()));
    let killed = [by_degree[0], by_degree[1]];
    let survivors: Vec<usize> = (0..N).filter(|i| !killed.contains(i)).collect();
    assert!(
        connected(&survivors, &edges),
        "seed leaves the survivors connected"
    );
    let alive: Vec<TestNode> = survivors.iter().map(|i| nodes[*i].clone()).collect();
    let before = repairs(&alive).await;
    for k in killed {
        nodes[k].stop().await;
    }
    // Later blocks, from both producers, reach every survivor.
    publish_all(&alive, &[0, 1], SLOT).await;
    for n in &alive {
        let o = overlay_stats(n).await.expect("overlay node");
        assert_eq!(o.penalties, 0, "{o:?}");
    }
    let after = repairs(&alive).await;
    tracing::info!(
        before,
        after,
        "objects pulled or trees moved, before and after the kill"
    );
    // The trees lost inner nodes: some survivor had to pull (IWANT + GRAFT) or move a tree.
    assert!(
        after > before,
        "no repair after the kill: {before} -> {after}"
    );
    for n in &alive {
        n.stop().await;
    }
}

/// Objects pulled on IWANT plus trees moved to a faster announcer, summed over `nodes`.
async fn repairs(nodes: &[TestNode]) -> u64 {
    let mut total = 0;
    for n in nodes {
        let o = overlay_stats(n).await.expect("overlay node");
        total += o.repaired + o.moved;
    }
    total
}

/// Whether `nodes` are connected using only the edges between them.
fn connected(nodes: &[usize], edges: &[(usize, usize)]) -> bool {
    let mut reached = vec![nodes[0]];
    let mut i = 0;
    while i < reached.len() {
        let at = reached[i];
        for (a, b) in edges {
            let next = if *a == at {
                *b
            } else if *b == at {
                *a
            } else {
                continue;
            };
            if nodes.contains(&next) && !reached.contains(&next) {
                reached.push(next);
            }
        }
        i += 1;
    }
    reached.len() == nodes.len()
}
