//! Embedding the node's actors in your own client: the client brings its own `ChainStore` (here a
//! `MemoryStore` wrapped in `hobbits_chain::ObservedStore`, which hands every call on and tells
//! the client's `ImportLog` observer about each import, so it can log and count them; a client
//! with its own storage implements `ChainRead` and `ChainStore` itself) and its own actor,
//! `ClientActor`, which reacts to typed events: `PeerHandshaked` and `PeerDisconnected` from the
//! peer manager, `BlockImported` (with the new head) from gossip and sync. A second, producing
//! node dials it; after five blocks the producer shuts down, the client sees it leave, prints what
//! its store counted and exits 0 (1 after 15 s without that).
//!
//! ```sh
//! cargo run --example embed_client
//! ```

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use hobbits_actors::node::memory_store;
use hobbits_actors::{
    start_node, BlockImported, NodeConfig, NodeId, NodeParts, PeerDisconnected, PeerHandshaked,
    ProducerConfig, Subscribe, SubscribeChainEvents,
};
use hobbits_chain::store::ImportOutcome;
use hobbits_chain::{ChainError, ImportObserver, ObservedStore};
use hobbits_codec::PeerUri;
use tokio::sync::mpsc;

const BLOCKS: u64 = 5;
const DEADLINE: Duration = Duration::from_secs(15);

/// The client's view of its store's imports: logged and counted (a real client would persist,
/// index or feed its own state here).
struct ImportLog {
    imports: Arc<AtomicU64>,
}

impl ImportObserver for ImportLog {
    fn block_imported(&mut self, result: &Result<ImportOutcome, ChainError>) {
        if let Ok(o) = result {
            let n = self.imports.fetch_add(1, Ordering::Relaxed) + 1;
            println!("  [store] import #{n}: slot {} root {}", o.slot.0, o.root);
        }
    }
}

/// What the client tells `main`.
#[derive(Debug)]
enum ClientNews {
    HeadAt(u64),
    PeerLeft,
}

/// The client's own actor: receives the node's events as typed messages.
#[derive(Debug)]
struct ClientActor {
    news: mpsc::Sender<ClientNews>,
}

impl Actor for ClientActor {
    type Context = Context<Self>;
}

impl Handler<PeerHandshaked> for ClientActor {
    type Result = ();
    fn handle(&mut self, msg: PeerHandshaked, _: &mut Context<Self>) {
        println!(
            "[client] peer connected: {} {} ({:?}), node id {:?}, its head slot {}",
            msg.peer, msg.addr, msg.direction, msg.node_id, msg.hello.best_slot.0
        );
    }
}

impl Handler<PeerDisconnected> for ClientActor {
    type Result = ();
    fn handle(&mut self, msg: PeerDisconnected, _: &mut Context<Self>) {
        println!(
            "[client] peer left: {} {} ({:?})",
            msg.peer, msg.addr, msg.reason
        );
        let _ = self.news.try_send(ClientNews::PeerLeft);
    }
}

impl Handler<BlockImported> for ClientActor {
    type Result = ();
    fn handle(&mut self, msg: BlockImported, _: &mut Context<Self>) {
        let from = msg.from.map_or_else(|| "-".to_string(), |p| p.to_string());
        println!(
            "[client] block received: slot {} via {:?} from {from}",
            msg.outcome.slot.0, msg.source
        );
        if let Some(head) = msg.new_head() {
            println!("[client] new head: slot {} root {}", head.slot.0, head.root);
            let _ = self.news.try_send(ClientNews::HeadAt(head.slot.0));
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let end = Instant::now() + DEADLINE;
    // The embedding client: its own store and its own actor.
    let mut config = NodeConfig::local_test();
    config.node_id = NodeId(100);
    let imports = Arc::new(AtomicU64::new(0));
    let store = ObservedStore::new(
        memory_store(&config)?,
        ImportLog {
            imports: imports.clone(),
        },
    );
    let client = start_node(config, NodeParts::full().with_store(store)).await?;
    // Bounded: the client drains it continuously; a full channel drops news (never blocks).
    let (news_tx, mut news) = mpsc::channel(64);
    let me = ClientActor { news: news_tx }.start();
    client
        .manager
        .send(Subscribe {
            handshaked: Some(me.clone().recipient()),
            disconnected: Some(me.clone().recipient()),
            gossip: None,
            control: None,
        })
        .await?;
    // Blocks imported by gossip and by sync, each with the new head when it moved.
    let imported = || SubscribeChainEvents {
        imported: Some(me.clone().recipient()),
        penalized: None,
    };
    if let Some(gossip) = &client.gossip {
        gossip.send(imported()).await?;
    }
    if let Some(sync) = &client.sync {
        sync.send(imported()).await?;
    }
    println!("client node listening on {}", client.listen_addr);

    // Another node, producing a block every 200 ms, dials the client.
    let mut producer_config = NodeConfig::local_test();
    producer_config.node_id = NodeId(200);
    producer_config.peers = vec![PeerUri::from_socket_addr(client.listen_addr)];
    producer_config.producer = Some(ProducerConfig {
        slot_duration: Duration::from_millis(200),
    });
    let producer = start_node(producer_config, NodeParts::full()).await?;
    println!("producer node listening on {}", producer.listen_addr);

    let mut stopping = false;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, news.recv()).await {
            Ok(Some(ClientNews::HeadAt(slot))) if slot >= BLOCKS && !stopping => {
                println!("[client] {BLOCKS} blocks in: stopping the producer node");
                stopping = true;
                producer.shutdown(Duration::from_secs(2)).await;
            }
            Ok(Some(ClientNews::PeerLeft)) if stopping => break,
            Ok(Some(_)) => {}
            _ => anyhow::bail!(
                "the client did not see {BLOCKS} blocks and the producer leave in {DEADLINE:?}"
            ),
        }
    }
    let head = client.store.head().await?;
    let counted = imports.load(Ordering::Relaxed);
    println!(
        "[client] done: its store counted {counted} imports, head slot {}",
        head.slot.0
    );
    anyhow::ensure!(counted >= BLOCKS, "the store counted {counted} imports");
    client.shutdown(Duration::from_secs(2)).await;
    Ok(())
}

fn main() -> ExitCode {
    let system = actix_rt::System::new();
    match system.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
