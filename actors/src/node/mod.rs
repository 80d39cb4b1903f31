//! The one place that assembles a node: [`start_node`] builds, on the current actix system, the
//! chain store actor, the peer manager (bound to the configured listen address, port 0 supported,
//! and to `NodeParts::eth_listen` for the ETH dialect; one session per connection, whatever its
//! wire), and, as [`NodeParts`] asks, the sync and gossip actors, the block
//! producer (`NodeConfig::producer`), the metrics registry and the HTTP server (Beacon API,
//! events, `/metrics`) with its event hub. It wires
//! them before any of them runs: the manager starts with sync and gossip subscribed to its peer
//! events, sync and gossip report penalties to the manager, gossip hands orphans to sync, the
//! producer hands its blocks to gossip. It returns one [`NodeHandle`] with every actor.
//!
//! The binary, the testnet, the examples, the benches and the tests all start nodes here.
//! [`collect`] is the metrics collector, which queries every actor at scrape time. Handles no
//! messages: the wiring goes through the actors' constructors.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use hobbits_chain::{
    BlockProducer, ChainStore, GenesisConfig, GenesisError, MemoryStore, PersistError,
    PersistentStore, Root, StoreConfig,
};
use hobbits_codec::eth::EthLimits;
use tokio::net::TcpListener;

use crate::config::{ConfigError, NodeConfig};
use crate::events::BlockProduced;
use crate::events::SubscribeChainEvents;
use crate::gossip::{GossipActor, GossipConfig, GossipError, GossipLinks};
use crate::http::{ApiLinks, EventHub, HttpConfig, HttpError, HttpServer};
use crate::metrics::{Metrics, MetricsError};
use crate::peer_manager::{
    EthManagerSettings, GetPeers, ManagerSettings, PeerInfo, PeerManager, Shutdown, Subscribe,
};
use crate::peer_session::eth::EthSessionSettings;
use crate::peer_session::{SessionSettings, MAX_BAD_MESSAGES};
use crate::peer_table::NodeId;
use crate::producer::{ClockSkew, ProducerActor, SlotClock, StopProducer};
use crate::store::{ChainStoreActor, StoreClient};
use crate::sync::roots::RootsSyncConfig;
use crate::sync::{SyncActor, SyncConfig, SyncError, SyncLinks};

pub mod collect;

pub use crate::peer_manager::DialEth;
pub use collect::MetricsCollector;

/// Why a node did not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The sync configuration is invalid.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The gossip configuration is invalid.
    #[error(transparent)]
    Gossip(#[from] GossipError),
    /// The metrics configuration is invalid.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// The HTTP server could not be started.
    #[error(transparent)]
    Http(#[from] HttpError),
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

/// What runs in a node besides its sessions, peer manager and store (and the producer, which
/// `NodeConfig::producer` turns on). `NodeParts::default()` is that bare node;
/// [`NodeParts::full`] adds sync and gossip, as `hobbits-node run` starts them.
#[derive(Default)]
pub struct NodeParts {
    /// The chain store; `None`: an in-memory store holding the configuration's genesis.
    pub store: Option<Box<dyn ChainStore + Send>>,
    /// Range sync and parent lookups; `None`: no sync actor.
    pub sync: Option<SyncConfig>,
    /// Gossip; `None`: no gossip actor (produced blocks are imported, not published).
    pub gossip: Option<GossipConfig>,
    /// A registry the sessions count into (and that makes them PING their peers every
    /// `MetricsConfig::ping_interval`); `None`: no metrics.
    pub metrics: Option<Arc<Metrics>>,
    /// Serve the Beacon API, the events stream and `GET /metrics` at this address (port 0: any
    /// free port); the registry is refreshed from every actor at each scrape (a default registry
    /// when `metrics` is `None`).
    pub http_addr: Option<SocketAddr>,
    /// Bounds of that server.
    pub http_config: HttpConfig,
    /// Receives every block this node produces, after the local import, instead of gossip (the
    /// receiver publishes it).
    pub produced: Option<Recipient<BlockProduced>>,
    /// The producer reads the wall clock through this offset (the caller may change it while
    /// the node runs); default: none.
    pub clock_skew: ClockSkew,
    /// Also listen for the ETH raw-TCP dialect at this address (port 0: any free port);
    /// `None`: no ETH listener (docs/PROTOCOL.md, "The ETH raw-TCP dialect").
    pub eth_listen: Option<SocketAddr>,
    /// ETH peers dialed at start and redialed when lost (`eth+tcp://host:port`), static peers
    /// of the manager like `NodeConfig::peers`.
    pub eth_peers: Vec<SocketAddr>,
    /// Tuning of sync through roots from ETH peers, which runs when `sync` is given; `None`:
    /// `RootsSyncConfig::default()`.
    pub roots_sync: Option<RootsSyncConfig>,
}

impl std::fmt::Debug for NodeParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeParts")
            .field("store", &self.store.as_ref().map(|_| "custom"))
            .field("sync", &self.sync)
            .field("gossip", &self.gossip)
            .field("metrics", &self.metrics.is_some())
            .field("http_addr", &self.http_addr)
            .field("http_config", &self.http_config)
            .field("produced", &self.produced.is_some())
            .field("clock_skew_ms", &self.clock_skew.ms())
            .field("eth_listen", &self.eth_listen)
            .field("eth_peers", &self.eth_peers)
            .field("roots_sync", &self.roots_sync)
            .finish()
    }
}

impl NodeParts {
    /// Sync and gossip with their default tuning, an in-memory store, no metrics.
    pub fn full() -> Self {
        NodeParts {
            sync: Some(SyncConfig::default()),
            gossip: Some(GossipConfig::default()),
            ..NodeParts::default()
        }
    }

    /// These parts with `store` as the chain store.
    pub fn with_store(mut self, store: impl ChainStore + 'static) -> Self {
        self.store = Some(Box::new(store));
        self
    }
}

/// A running node: where it listens, who it is, and every actor it runs.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    /// The address the listener is bound to (the real port when 0 was asked).
    pub listen_addr: SocketAddr,
    /// This node's id.
    pub node_id: NodeId,
    /// signing_root of the genesis block.
    pub genesis_root: Root,
    /// The peer manager (and through it, every session of either wire).
    pub manager: Addr<PeerManager>,
    /// The chain store.
    pub store: StoreClient,
    /// The block producer, when `NodeConfig::producer` is set.
    pub producer: Option<Addr<ProducerActor>>,
    /// The sync actor, when [`NodeParts::sync`] was given.
    pub sync: Option<Addr<SyncActor>>,
    /// The gossip actor, when [`NodeParts::gossip`] was given.
    pub gossip: Option<Addr<GossipActor>>,
    /// The metrics registry, when [`NodeParts::metrics`] was given.
    pub metrics: Option<Arc<Metrics>>,
    /// The HTTP server, when [`NodeParts::http_addr`] was given.
    pub http_server: Option<Arc<HttpServer>>,
    /// The chain store's fault, once it had one (`None` until then): importing has stopped, the
    /// node serves what it has; the binary shuts down with the fault as its message.
    pub store_faults: tokio::sync::watch::Receiver<Option<crate::store::StoreFault>>,
    /// Where the ETH listener is bound (`NodeParts::eth_listen`).
    pub eth_listen_addr: Option<SocketAddr>,
}

impl NodeHandle {
    /// The connected peers.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        self.manager.send(GetPeers).await.unwrap_or_default()
    }

    /// Stops producing and serving HTTP, sends GOODBYE 1 to every peer and waits (at most
    /// `deadline`) until all sessions closed. Returns the number of peers still connected at
    /// the end (0 on a clean shutdown).
    pub async fn shutdown(&self, deadline: Duration) -> usize {
        if let Some(p) = &self.producer {
            p.do_send(StopProducer);
        }
        if let Some(h) = &self.http_server {
            h.stop().await;
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

/// Starts every actor of one node on the current actix system (see the module doc); must be
/// called inside an actix `System`.
pub async fn start_node(config: NodeConfig, parts: NodeParts) -> Result<NodeHandle, NodeError> {
    config.validate()?;
    if let Some(s) = &parts.sync {
        s.validate()?;
    }
    if let Some(g) = &parts.gossip {
        g.validate()?;
    }
    if let Some(r) = &parts.roots_sync {
        r.validate()?;
    }
    let store = match parts.store {
        Some(s) => s,
        None => Box::new(memory_store(&config)?),
    };
    let listener =
        crate::peer_manager::bind_listener(config.listen).map_err(|source| NodeError::Bind {
            addr: config.listen,
            source,
        })?;
    let listen_addr = listener.local_addr().map_err(|source| NodeError::Bind {
        addr: config.listen,
        source,
    })?;
    let mailbox = config.limits.actor_mailbox;
    let store_actor = ChainStoreActor::new(
        store,
        config.network_id,
        config.chain_id,
        config.limits.max_response_items,
        mailbox,
    );
    let store_faults = store_actor.fault_watch();
    let store = StoreClient::new(store_actor.start());
    let genesis_root = store
        .genesis_root()
        .await
        .map_err(|_| NodeError::StoreUnavailable)?;

    // Every address exists before any actor runs, so each is wired before its first message.
    let manager_ctx: Context<PeerManager> = Context::new();
    let manager = manager_ctx.address();
    // Provably wrong gossip and sync responses count against the peer's score.
    let penalized = Some(manager.clone().recipient());
    // ETH peers sync through roots when the node syncs at all.
    let roots_sync = parts
        .sync
        .as_ref()
        .map(|_| parts.roots_sync.clone().unwrap_or_default());
    let sync = match parts.sync {
        Some(c) => {
            let links = SyncLinks {
                store: store.clone(),
                penalized: penalized.clone(),
            };
            Some(SyncActor::new(c, links, mailbox)?.start())
        }
        None => None,
    };
    // Sessions advertise the overlay in HELLO only when gossip runs it.
    let gossip_overlay = parts.gossip.as_ref().is_some_and(|g| !g.overlay.flood);
    let gossip = match parts.gossip {
        Some(c) => {
            let links = GossipLinks {
                store: store.clone(),
                orphans: sync.clone().map(Addr::recipient),
                penalized,
                node_id: config.node_id,
            };
            Some(GossipActor::new(c, links, mailbox)?.start())
        }
        None => None,
    };
    let mut subscribers = vec![];
    if let Some(s) = &sync {
        subscribers.push(Subscribe {
            handshaked: Some(s.clone().recipient()),
            disconnected: Some(s.clone().recipient()),
            gossip: None,
            control: None,
        });
    }
    if let Some(g) = &gossip {
        subscribers.push(Subscribe {
            handshaked: Some(g.clone().recipient()),
            disconnected: Some(g.clone().recipient()),
            gossip: Some(g.clone().recipient()),
            control: Some(g.clone().recipient()),
        });
    }
    let metrics = parts
        .metrics
        .or_else(|| parts.http_addr.map(|_| Arc::new(Metrics::default())));
    let session = Arc::new(SessionSettings {
        node_id: config.node_id,
        user_agent: config.user_agent.clone(),
        limits: config.limits.clone(),
        timeouts: config.timeouts.clone(),
        metrics: metrics.clone(),
        gossip_overlay,
    });
    let (eth_listener, eth_settings) = eth_parts(&config, parts.eth_listen)?;
    let eth_listen_addr = match &eth_listener {
        Some(l) => Some(l.local_addr().map_err(|source| NodeError::Bind {
            addr: parts.eth_listen.unwrap_or(config.listen),
            source,
        })?),
        None => None,
    };
    let mut manager = PeerManager::new(
        ManagerSettings {
            session,
            static_peers: config.peers.clone(),
            scoring: config.scoring.clone(),
            eth: Some(EthManagerSettings {
                session: eth_settings,
                static_peers: parts.eth_peers,
            }),
        },
        store.clone(),
        listener,
        subscribers,
    );
    if let Some(l) = eth_listener {
        manager = manager.with_eth_listener(l);
    }
    let manager = manager_ctx.run(manager);
    if let Some(config) = roots_sync {
        actix::spawn(crate::sync::roots::coordinate(
            manager.clone().recipient(),
            store.clone(),
            config,
            Some(manager.clone().recipient()),
        ));
    }
    let produced = parts
        .produced
        .or_else(|| gossip.clone().map(Addr::recipient));
    let producer = config.producer.as_ref().map(|p| {
        let name = format!("hobbits-node {}", config.node_id);
        ProducerActor::new(
            BlockProducer::new(&name, config.node_id.0 % 64),
            store.clone(),
            SlotClock::new(config.genesis_time, p.slot_duration),
            parts.clock_skew.clone(),
            produced,
        )
        .start()
    });
    let mut node = NodeHandle {
        listen_addr,
        node_id: config.node_id,
        genesis_root,
        manager,
        store,
        producer,
        sync,
        gossip,
        metrics,
        http_server: None,
        store_faults,
        eth_listen_addr,
    };
    if let Some(addr) = parts.http_addr {
        match start_http(&node, &config, addr, parts.http_config).await {
            Ok(server) => node.http_server = Some(Arc::new(server)),
            Err(e) => {
                node.shutdown(Duration::ZERO).await;
                return Err(e);
            }
        }
    }
    Ok(node)
}

/// The ETH dialect's listener (bound to `listen` when given; dialing only otherwise) and the
/// settings of its sessions.
fn eth_parts(
    config: &NodeConfig,
    listen: Option<SocketAddr>,
) -> Result<(Option<TcpListener>, Arc<EthSessionSettings>), NodeError> {
    let listener = match listen {
        Some(addr) => Some(
            crate::peer_manager::bind_listener(addr)
                .map_err(|source| NodeError::Bind { addr, source })?,
        ),
        None => None,
    };
    let settings = Arc::new(EthSessionSettings {
        user_agent: config.user_agent.clone(),
        limits: EthLimits::default(),
        handshake_timeout: config.timeouts.handshake,
        request_timeout: config.timeouts.request,
        max_outstanding: config.limits.max_outstanding_requests,
        max_bad_messages: MAX_BAD_MESSAGES,
        rpc_rate_per_sec: config.limits.rpc_rate_per_sec,
        rpc_burst: config.limits.rpc_burst,
    });
    Ok((listener, settings))
}

/// Starts the event hub (subscribed to sync and gossip imports) and the HTTP server of `node`.
async fn start_http(
    node: &NodeHandle,
    config: &NodeConfig,
    addr: SocketAddr,
    http: HttpConfig,
) -> Result<HttpServer, NodeError> {
    http.validate()?;
    let slots_per_epoch = node
        .store
        .status()
        .await
        .map_err(|_| NodeError::StoreUnavailable)?
        .slots_per_epoch;
    let (events, _) = tokio::sync::broadcast::channel(http.event_buffer);
    let hub = EventHub::new(
        events.clone(),
        node.store.clone(),
        slots_per_epoch,
        config.limits.actor_mailbox,
    )
    .start();
    let subscribe = || SubscribeChainEvents {
        imported: Some(hub.clone().recipient()),
        penalized: None,
    };
    if let Some(s) = &node.sync {
        s.do_send(subscribe());
    }
    if let Some(g) = &node.gossip {
        g.do_send(subscribe());
    }
    let links = ApiLinks {
        node_id: node.node_id,
        listen_addr: node.listen_addr,
        eth_listen_addr: node.eth_listen_addr,
        user_agent: config.user_agent.clone(),
        genesis_time: config.genesis_time,
        genesis_root: node.genesis_root,
        manager: node.manager.clone(),
        store: node.store.clone(),
        sync: node.sync.clone(),
        metrics: node.metrics.clone(),
        refresh: Some(Arc::new(MetricsCollector::of(node))),
        events,
    };
    Ok(HttpServer::start(addr, http, links)?)
}
