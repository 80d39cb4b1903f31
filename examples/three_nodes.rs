//! The spec's "Flow", live on 127.0.0.1: three nodes in a line (1 — 2 — 3) with announce-only
//! gossip. Node 1 gets a new block and gossips only its hash (an empty body); node 2 does not
//! know it, so it asks node 1 for the body with an RPC GET_BLOCK_BODIES, imports it and gossips
//! the full block on; node 3 receives it from node 2. Each step is printed from the gossip
//! actors' `BlockImported` events and counters and node 1's metrics (the RPC it served).
//!
//! Exits 0 once node 3 has the block, 1 if that takes longer than 10 s.
//!
//! ```sh
//! cargo run --example three_nodes
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use anyhow::Context as _;
use hobbits_actors::gossip::{
    GetGossipStats, GossipActor, GossipConfig, GossipStats, PublishBlock,
};
use hobbits_actors::metrics::{Metrics, RpcRole};
use hobbits_actors::{
    start_node, BlockImported, NodeConfig, NodeHandle, NodeId, NodeParts, SubscribeChainEvents,
};
use hobbits_chain::{BlockProducer, Root};
use hobbits_codec::rpc::RpcMethod;
use hobbits_codec::PeerUri;
use tokio::sync::mpsc;

const DEADLINE: Duration = Duration::from_secs(10);

/// Forwards a node's `BlockImported` events, tagged with the node's number, to `main` (a
/// bounded channel: a full one drops the event, never blocks the actor).
#[derive(Debug)]
struct ImportWatcher {
    node: usize,
    tx: mpsc::Sender<(usize, BlockImported)>,
}

impl Actor for ImportWatcher {
    type Context = Context<Self>;
}

impl Handler<BlockImported> for ImportWatcher {
    type Result = ();
    fn handle(&mut self, msg: BlockImported, _: &mut Context<Self>) {
        let _ = self.tx.try_send((self.node, msg));
    }
}

struct Node {
    number: usize,
    node: NodeHandle,
    gossip: Addr<GossipActor>,
}

impl Node {
    async fn start(
        number: usize,
        peer: Option<&Node>,
        metrics: Option<Arc<Metrics>>,
        tx: &mpsc::Sender<(usize, BlockImported)>,
    ) -> anyhow::Result<Node> {
        let mut config = NodeConfig::local_test();
        config.node_id = NodeId(number as u64);
        config.peers = peer
            .map(|p| PeerUri::from_socket_addr(p.node.listen_addr))
            .into_iter()
            .collect();
        let parts = NodeParts {
            gossip: Some(GossipConfig {
                announce_only: true,
                ..Default::default()
            }),
            metrics,
            ..NodeParts::full()
        };
        let node = start_node(config, parts)
            .await
            .with_context(|| format!("node {number}"))?;
        let gossip = node.gossip.clone().context("the node runs gossip")?;
        let watcher = ImportWatcher {
            node: number,
            tx: tx.clone(),
        }
        .start();
        gossip
            .send(SubscribeChainEvents {
                imported: Some(watcher.recipient()),
                penalized: None,
            })
            .await?;
        println!("node {number} listening on {}", node.listen_addr);
        Ok(Node {
            number,
            node,
            gossip,
        })
    }

    async fn handshaked(&self) -> usize {
        self.node
            .peers()
            .await
            .iter()
            .filter(|p| p.handshaked)
            .count()
    }

    async fn stats(&self) -> GossipStats {
        self.gossip.send(GetGossipStats).await.unwrap_or_default()
    }

    async fn has(&self, root: Root) -> bool {
        matches!(self.node.store.block(root).await, Ok(Some(_)))
    }
}

async fn wait_until<F, Fut>(what: &str, end: Instant, mut cond: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    while !cond().await {
        anyhow::ensure!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn flow() -> anyhow::Result<()> {
    let end = Instant::now() + DEADLINE;
    let (tx, mut events) = mpsc::channel(64);
    let metrics = Arc::new(Metrics::default());
    let n1 = Node::start(1, None, Some(metrics.clone()), &tx).await?;
    let n2 = Node::start(2, Some(&n1), None, &tx).await?;
    let n3 = Node::start(3, Some(&n2), None, &tx).await?;
    for (n, want) in [(&n1, 1), (&n2, 2), (&n3, 1)] {
        wait_until("the line's handshakes", end, || async {
            n.handshaked().await == want
        })
        .await?;
    }
    println!("line 1 — 2 — 3 connected; gossip is announce-only\n");

    // 1. Node 1 receives a new block and gossips its hash only.
    let (block, outcome) = n1
        .node
        .store
        .produce_block(BlockProducer::new("three_nodes", 1))
        .await?;
    let root = outcome.root;
    println!(
        "1. node 1 has a new block {root} (slot {}); it gossips hash {} with an empty body",
        outcome.slot.0, outcome.hash_tree_root
    );
    n1.gossip.send(PublishBlock { block }).await?;

    // 2–4 follow from the events.
    let mut seen_at_3 = false;
    while !seen_at_3 {
        let left = end.saturating_duration_since(Instant::now());
        let Ok(Some((node, ev))) = tokio::time::timeout(left, events.recv()).await else {
            anyhow::bail!("node 3 did not get the block within {DEADLINE:?}");
        };
        if ev.outcome.root != root {
            continue;
        }
        match node {
            2 => {
                let served = metrics.rpc_requests(RpcRole::Server, RpcMethod::GetBlockBodies);
                println!(
                    "2. node 2 got the announcement, asked node 1 for the body (GET_BLOCK_BODIES; node 1 served {served})"
                );
                println!(
                    "3. node 1 answered with the body; node 2 imported it ({:?}, head slot {})",
                    ev.source, ev.outcome.head.slot.0
                );
                println!("4. node 2 gossips the full block on to node 3 (and not back to node 1)");
            }
            3 => {
                println!(
                    "   node 3 received the full block by gossip ({:?}) and imported it: head slot {}",
                    ev.source, ev.outcome.head.slot.0
                );
                seen_at_3 = true;
            }
            _ => {}
        }
    }
    anyhow::ensure!(n3.has(root).await, "node 3 store lacks the block");

    println!("\ngossip counters:");
    for n in [&n1, &n2, &n3] {
        let s = n.stats().await;
        println!(
            "  node {}: published {} received {} fetched-by-RPC {} imported {} relayed {} duplicate {}",
            n.number, s.published, s.received, s.announced_fetched, s.imported, s.relayed, s.duplicate
        );
    }
    let s2 = n2.stats().await;
    anyhow::ensure!(
        s2.announced_fetched == 1 && s2.relayed == 1,
        "node 2 should have fetched and relayed once: {s2:?}"
    );
    for n in [&n3, &n2, &n1] {
        n.node.shutdown(Duration::from_secs(2)).await;
    }
    Ok(())
}

fn main() -> ExitCode {
    let system = actix_rt::System::new();
    match system.block_on(flow()) {
        Ok(()) => {
            println!("\nnode 3 has the block: the Flow completed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
