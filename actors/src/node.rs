//! Wiring of one node: [`start_node`] builds the chain store actor, the peer manager (bound to the
//! configured listen address, port 0 supported) and, when configured, the block producer; it
//! returns a [`NodeHandle`] with their addresses and the bound address. Used by the binary, the
//! tests and the examples. Handles no messages itself.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use hobbits_chain::{
    BlockProducer, ChainStore, GenesisConfig, GenesisError, MemoryStore, PersistError,
    PersistentStore, Root, StoreConfig,
};
use tokio::net::TcpListener;

use crate::chain_store::{ChainStoreActor, GetGenesisRoot};
use crate::config::{ConfigError, NodeConfig};
use crate::events::BlockProduced;
use crate::metrics::Metrics;
use crate::peer_manager::{GetPeers, ManagerSettings, PeerInfo, PeerManager, Shutdown};
use crate::peer_session::SessionSettings;
use crate::peer_table::NodeId;
use crate::producer::{ProducerActor, SlotClock};

/// Why a node did not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The genesis could not be built.
    #[error("genesis: {0}")]
    Genesis(#[from] GenesisError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The store actor did not answer.
    #[error("chain store actor unavailable")]
    StoreUnavailable,
    /// The persistent chain store (`--data-dir`) could not be opened: locked by another process,
    /// corrupt, or created for another genesis (network id, chain id, genesis time).
    #[error("data directory: {0}")]
    Persist(#[from] PersistError),
}

/// Optional receivers the node feeds (filled by the gossip work).
#[derive(Debug, Default, Clone)]
pub struct NodeHooks {
    /// Receives every block this node produces, after the local import.
    pub produced: Option<Recipient<BlockProduced>>,
    /// Metrics registry the sessions count into (and that makes them PING their peers every
    /// `MetricsConfig::ping_interval`); serve it with `metrics::MetricsServer`.
    pub metrics: Option<Arc<Metrics>>,
}

/// A running node.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    /// The address the listener is bound to (the real port when 0 was asked).
    pub listen_addr: SocketAddr,
    /// This node's id.
    pub node_id: NodeId,
    /// signing_root of the genesis block.
    pub genesis_root: Root,
    /// The peer manager.
    pub manager: Addr<PeerManager>,
    /// The chain store actor.
    pub store: Addr<ChainStoreActor>,
    /// The block producer, when enabled.
    pub producer: Option<Addr<ProducerActor>>,
}

impl NodeHandle {
    /// The connected peers.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        self.manager.send(GetPeers).await.unwrap_or_default()
    }

    /// Sends GOODBYE 1 to every peer and waits (at most `deadline`) until all sessions closed.
    /// Returns the number of peers still connected at the end (0 on a clean shutdown).
    pub async fn shutdown(&self, deadline: Duration) -> usize {
        if let Some(p) = &self.producer {
            p.do_send(StopProducer);
        }
        let _ = self.manager.send(Shutdown).await;
        let end = Instant::now() + deadline;
        loop {
            let left = self.peers().await.len();
            if left == 0 || Instant::now() >= end {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Command: stop the producer (shutdown).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StopProducer;

impl Handler<StopProducer> for ProducerActor {
    type Result = ();
    fn handle(&mut self, _: StopProducer, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// The genesis of a node configuration (network/chain id and genesis time).
pub fn genesis_config(config: &NodeConfig) -> Result<GenesisConfig, GenesisError> {
    GenesisConfig::new(
        config.network_id,
        config.chain_id,
        Duration::from_secs(config.genesis_time),
        None,
    )
}

/// A fresh in-memory store starting from the configuration's genesis.
pub fn memory_store(config: &NodeConfig) -> Result<MemoryStore, NodeError> {
    Ok(genesis_config(config)?.memory_store(StoreConfig::default())?)
}

/// The persistent store in `data_dir` (created holding only the genesis when new; an existing
/// one must belong to the configuration's genesis).
pub fn persistent_store(
    config: &NodeConfig,
    data_dir: &Path,
) -> Result<PersistentStore, NodeError> {
    let genesis = genesis_config(config)?.build()?;
    Ok(PersistentStore::open_in_dir(
        data_dir,
        &genesis,
        StoreConfig::default(),
    )?)
}

/// Starts a node with an in-memory store built from the configuration's genesis.
pub async fn start_memory_node(
    config: NodeConfig,
    hooks: NodeHooks,
) -> Result<NodeHandle, NodeError> {
    let store = memory_store(&config)?;
    start_node(config, Box::new(store), hooks).await
}

/// Starts the actors of one node on the current actix system.
pub async fn start_node(
    config: NodeConfig,
    store: Box<dyn ChainStore + Send>,
    hooks: NodeHooks,
) -> Result<NodeHandle, NodeError> {
    config.validate()?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| NodeError::Bind {
            addr: config.listen,
            source,
        })?;
    let listen_addr = listener.local_addr().map_err(|source| NodeError::Bind {
        addr: config.listen,
        source,
    })?;
    let mailbox = config.limits.actor_mailbox;
    let store = ChainStoreActor::new(
        store,
        config.network_id,
        config.chain_id,
        config.limits.max_response_items,
        mailbox,
    )
    .start();
    let genesis_root = store
        .send(GetGenesisRoot)
        .await
        .map_err(|_| NodeError::StoreUnavailable)?;
    let session = Arc::new(SessionSettings {
        node_id: config.node_id,
        user_agent: config.user_agent.clone(),
        limits: config.limits.clone(),
        timeouts: config.timeouts.clone(),
        metrics: hooks.metrics.clone(),
    });
    let manager = PeerManager::new(
        ManagerSettings {
            session,
            static_peers: config.peers.clone(),
            scoring: config.scoring.clone(),
        },
        store.clone(),
        listener,
    )
    .start();
    let producer = config.producer.as_ref().map(|p| {
        let name = format!("hobbits-node {}", config.node_id);
        ProducerActor::new(
            BlockProducer::new(&name, config.node_id.0 % 64),
            store.clone(),
            SlotClock::new(config.genesis_time, p.slot_duration),
            hooks.produced.clone(),
        )
        .start()
    });
    Ok(NodeHandle {
        listen_addr,
        node_id: config.node_id,
        genesis_root,
        manager,
        store,
        producer,
    })
}
