//! Nodes with sync and gossip for multi-node tests: start them on 127.0.0.1 port 0, seed stores
//! with a deterministic chain, read heads and counters, publish blocks, and build seeded
//! topologies. Sends the node's ordinary commands and queries (store, gossip, sync, manager).

use std::net::SocketAddr;
use std::time::Duration;

use hobbits_chain::store::Head;
use hobbits_chain::{BeaconBlock, BlockProducer, ChainStore, Root, Slot};
use hobbits_codec::PeerUri;

use actix::Addr;

use super::wait_for;
use crate::gossip::{GetGossipStats, GossipActor, GossipStats};
use crate::node::{memory_store, start_node, NodeParts};
use crate::sync::{GetSyncState, SyncActor, SyncStatus};
use crate::{BlockProduced, NodeConfig, NodeHandle, NodeId};

/// One running node (usually with sync and gossip: [`NodeParts::full`]).
#[derive(Debug, Clone)]
pub struct TestNode {
    /// The node.
    pub node: NodeHandle,
}

/// A test config: loopback port 0, fixed node id, dialing `peers`.
pub fn node_config(id: u64, peers: &[SocketAddr]) -> NodeConfig {
    let mut c = NodeConfig::local_test();
    c.node_id = NodeId(id);
    c.peers = peers
        .iter()
        .map(|a| PeerUri::from_socket_addr(*a))
        .collect();
    c
}

/// Starts a node with `parts` and, when `blocks` is not empty, an in-memory store holding them.
pub async fn start(config: NodeConfig, mut parts: NodeParts, blocks: &[BeaconBlock]) -> TestNode {
    if !blocks.is_empty() {
        let mut store = memory_store(&config).expect("store");
        for b in blocks {
            store.import_block(b.clone()).expect("seed block");
        }
        parts = parts.with_store(store);
    }
    let node = start_node(config, parts).await.expect("node starts");
    TestNode { node }
}

/// `n` blocks at slots 1..=n on the genesis of `config` (deterministic).
pub fn chain(config: &NodeConfig, n: u64) -> Vec<BeaconBlock> {
    let mut store = memory_store(config).expect("store");
    let p = BlockProducer::new("seed", 1);
    let mut out = Vec::with_capacity(n as usize);
    for slot in 1..=n {
        let b = p.produce_on_head(&store, Slot(slot)).expect("produce");
        store.import_block(b.clone()).expect("import");
        out.push(b);
    }
    out
}

impl TestNode {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.node.listen_addr
    }

    /// Its head.
    pub async fn head(&self) -> Head {
        self.node.store.head().await.expect("store")
    }

    /// Whether its store holds the block with this root (either kind).
    pub async fn has_block(&self, root: Root) -> bool {
        self.node.store.block(root).await.ok().flatten().is_some()
    }

    /// Its gossip actor (the node must run one).
    pub fn gossip(&self) -> &Addr<GossipActor> {
        self.node.gossip.as_ref().expect("the node runs gossip")
    }

    /// Its sync actor (the node must run one).
    pub fn sync(&self) -> &Addr<SyncActor> {
        self.node.sync.as_ref().expect("the node runs sync")
    }

    /// Its gossip counters.
    pub async fn gossip_stats(&self) -> GossipStats {
        self.gossip().send(GetGossipStats).await.expect("gossip")
    }

    /// Its sync state and counters.
    pub async fn sync_status(&self) -> SyncStatus {
        self.sync().send(GetSyncState).await.expect("sync")
    }

    /// Handshaked peers.
    pub async fn handshaked(&self) -> usize {
        self.node
            .peers()
            .await
            .iter()
            .filter(|p| p.handshaked)
            .count()
    }

    /// Builds a block on the head, imports it locally and hands it to gossip (as the producer
    /// does). Returns the block.
    pub async fn produce_and_publish(&self, name: &str) -> BeaconBlock {
        let (block, outcome) = self
            .node
            .store
            .produce_block(BlockProducer::new(name, 3))
            .await
            .expect("produce");
        self.gossip()
            .send(BlockProduced {
                block: block.clone(),
                outcome,
            })
            .await
            .expect("gossip");
        block
    }

    /// Asks this node's peer manager to dial `target` (returns once the manager took it).
    pub async fn dial(&self, target: SocketAddr) {
        self.node
            .manager
            .send(crate::DialPeer {
                uri: PeerUri::from_socket_addr(target),
            })
            .await
            .expect("manager");
    }

    /// Shuts it down (GOODBYE to every peer, at most 2 s).
    pub async fn stop(&self) {
        self.node.shutdown(Duration::from_secs(2)).await;
    }
}

/// Edges of a seeded random connected graph on `n` nodes: a random tree (node i links to an
/// earlier node) plus `extra` random edges; each edge (i, j) has i > j (i dials j).
pub fn random_topology(n: usize, extra: usize, seed: u64) -> Vec<(usize, usize)> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut edges = std::collections::BTreeSet::new();
    for i in 1..n {
        edges.insert((i, rng.gen_range(0..i)));
    }
    let mut tries = 0;
    while edges.len() < n - 1 + extra && tries < 10 * extra + 10 {
        tries += 1;
        let a = rng.gen_range(0..n);
        let b = rng.gen_range(0..n);
        if a != b {
            edges.insert((a.max(b), a.min(b)));
        }
    }
    edges.into_iter().collect()
}

/// Starts `n` nodes with `parts()` connected by `edges` (i dials j for each (i, j)) and waits
/// until every node has handshaked with all its neighbours.
pub async fn start_topology(
    n: usize,
    edges: &[(usize, usize)],
    parts: impl Fn() -> NodeParts,
    id_base: u64,
) -> Vec<TestNode> {
    let mut nodes: Vec<TestNode> = Vec::with_capacity(n);
    for i in 0..n {
        let peers: Vec<SocketAddr> = edges
            .iter()
            .filter(|(a, _)| *a == i)
            .map(|(_, b)| nodes[*b].addr())
            .collect();
        let node = start(node_config(id_base + i as u64, &peers), parts(), &[]).await;
        nodes.push(node);
    }
    let mut degree = vec![0usize; n];
    for (a, b) in edges {
        degree[*a] += 1;
        degree[*b] += 1;
    }
    for (i, node) in nodes.iter().enumerate() {
        let want = degree[i];
        wait_for("topology handshakes", Duration::from_secs(20), || async {
            (node.handshaked().await >= want).then_some(())
        })
        .await;
    }
    nodes
}

/// Produces blocks at slots 1..=`n` (every slot filled, by producer "seed") in `node`'s store.
pub async fn seed_blocks(node: &NodeHandle, n: u64) {
    let p = BlockProducer::new("seed", 0);
    for slot in 1..=n {
        node.store
            .produce_block_at(p.clone(), Slot(slot))
            .await
            .expect("produce");
    }
}
