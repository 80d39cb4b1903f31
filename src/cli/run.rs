//! `hobbits-node run`: start a node (with sync and gossip) from a TOML file, `HOBBITS_…`
//! environment variables and flags (flags > environment > file > defaults), print where it
//! listens, its genesis root and its store (in memory, or persistent in `--data-dir` with the
//! number of blocks reopened), and run until Ctrl-C / SIGTERM (then GOODBYE 1 to every peer).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::settings::{LimitSettings, NodeSettings, ScoringSettings, TimeoutSettings, ETH_SCHEME};
use clap::Args;
use hobbits_actors::node::{memory_store, persistent_store, start_node, NodeError, NodeParts};
use hobbits_chain::{ChainRead, ChainStore, PersistError};
use hobbits_codec::PeerUri;

use super::{bad_input, failure};

/// Run a node: listen, dial peers, handshake, serve RPC, optionally produce blocks.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// TOML configuration file (every key: docs/node.example.toml; flags and HOBBITS_* variables
    /// override it).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, host:port (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Static peer hob+tcp://[identity@]host:port, or eth+tcp://host:port for a peer of the
    /// eth2 RPC raw-TCP dialect (repeatable).
    #[arg(long = "peer", value_name = "URI")]
    pub peers: Vec<String>,
    /// Also listen for the eth2 RPC raw-TCP dialect (`ETH` prefix) at ADDR: host:port, or a bare
    /// IP for the spec's port 9000 (port 0: any free port). Off unless given.
    #[arg(long, value_name = "ADDR")]
    pub eth_listen: Option<String>,
    /// HELLO network_id.
    #[arg(long)]
    pub network_id: Option<u8>,
    /// HELLO chain_id.
    #[arg(long)]
    pub chain_id: Option<u8>,
    /// Genesis time, seconds since the Unix epoch.
    #[arg(long)]
    pub genesis_time: Option<u64>,
    /// Fixed node id (default: random).
    #[arg(long)]
    pub node_id: Option<u64>,
    /// Produce a block every slot.
    #[arg(long)]
    pub produce: bool,
    /// Slot duration in milliseconds.
    #[arg(long, value_name = "MS")]
    pub slot_ms: Option<u64>,
    /// Skew the producer's slot clock by the milliseconds written in FILE (negative: behind),
    /// read again every 100 ms, so a testnet can change it while the node runs.
    #[arg(long, value_name = "FILE")]
    pub clock_skew_file: Option<PathBuf>,
    /// Write what the node sees and does to FILE, one JSON object per line (peers, gossip
    /// received with its sender and duplicates, imports, blocks produced, attestations, head and
    /// finality changes: the format in docs/TESTNETS.md, "Node event log format").
    #[arg(long, value_name = "FILE")]
    pub event_log: Option<PathBuf>,
    /// Attest like a testnet validator: one attestation to every new head this node produces or
    /// gets by gossip, published by gossip.
    #[arg(long)]
    pub attest: bool,
    /// Most connected peers.
    #[arg(long)]
    pub max_peers: Option<usize>,
    /// Handshake timeout in milliseconds.
    #[arg(long, value_name = "MS")]
    pub handshake_timeout_ms: Option<u64>,
    /// RPC request timeout in milliseconds.
    #[arg(long, value_name = "MS")]
    pub request_timeout_ms: Option<u64>,
    /// Ban duration for peers sending malformed frames, in milliseconds (0: no bans).
    #[arg(long, value_name = "MS")]
    pub ban_ms: Option<u64>,
    /// A started frame must be complete within this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub frame_timeout_ms: Option<u64>,
    /// RPC requests served per peer per second (token bucket refill).
    #[arg(long, value_name = "N")]
    pub rpc_rate: Option<u32>,
    /// RPC requests a peer may send in a burst above the rate.
    #[arg(long, value_name = "N")]
    pub rpc_burst: Option<u32>,
    /// Score at which a peer is disconnected and banned.
    #[arg(long, value_name = "POINTS")]
    pub ban_threshold: Option<u32>,
    /// Keep the chain in a persistent store in DIR (created if needed; reopened on restart).
    /// Default: in memory, lost on exit.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log filter in RUST_LOG syntax (default: RUST_LOG, else "info").
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
    /// Serve the Beacon API, the events stream and Prometheus metrics on http://ADDR
    /// (host:port; port 0: any free port). Off by default.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// The old name of --http (the same server; /metrics is at http://ADDR/metrics).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// Also read Lodestar's 2019 text framing (`EWP 3 2 4 32\n` + header + body) from peers
    /// whose first frame uses it (detected per connection; our frames stay binary).
    #[arg(long)]
    pub accept_text_framing: bool,
    /// Run the gossip overlay (push trees, IHAVE/IWANT/GRAFT/PRUNE; docs/PROTOCOL.md "Gossip
    /// overlay") instead of plain flood, and advertise it in HELLO. Default: plain flood.
    #[arg(long)]
    pub gossip_overlay: bool,
}

impl RunArgs {
    fn to_settings(&self) -> NodeSettings {
        NodeSettings {
            listen: self.listen.clone(),
            // Both schemes: the flags' list replaces the file's (`NodeSettings::eth_peers`
            // reads the eth+tcp ones).
            peers: (!self.peers.is_empty()).then(|| self.peers.clone()),
            eth_listen: self.eth_listen.clone(),
            network_id: self.network_id,
            chain_id: self.chain_id,
            genesis_time: self.genesis_time,
            node_id: self.node_id,
            user_agent: None,
            produce: self.produce.then_some(true),
            slot_ms: self.slot_ms,
            metrics: self.metrics.clone(),
            http: self.http.clone(),
            log: self.log.clone(),
            data_dir: self.data_dir.clone(),
            limits: LimitSettings {
                max_peers: self.max_peers,
                rpc_rate_per_sec: self.rpc_rate,
                rpc_burst: self.rpc_burst,
                ..Default::default()
            },
            timeouts: TimeoutSettings {
                handshake_ms: self.handshake_timeout_ms,
                request_ms: self.request_timeout_ms,
                ban_ms: self.ban_ms,
                frame_ms: self.frame_timeout_ms,
                ..Default::default()
            },
            scoring: ScoringSettings {
                ban_threshold: self.ban_threshold,
                ..Default::default()
            },
            eth: Default::default(),
        }
    }
}

/// Runs the node until a signal.
pub fn run(args: RunArgs) -> ExitCode {
    let settings = match NodeSettings::load(args.config.as_deref(), &args.to_settings()) {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    let mut config = match settings.to_config() {
        Ok(c) => c,
        Err(e) => return bad_input(e),
    };
    config.limits.accept_text_framing |= args.accept_text_framing;
    let eth = settings.eth_listen_addr().and_then(|listen| {
        let peers = settings.eth_peers()?;
        Ok((listen, peers, settings.roots_sync()?))
    });
    let (eth_listen, eth_peers, roots_sync) = match eth {
        Ok(e) => e,
        Err(e) => return bad_input(e),
    };
    let http_addr = match settings.http_addr() {
        Ok(a) => a,
        Err(e) => return bad_input(e),
    };
    if let Err(code) = super::init_tracing(&settings.log_filter()) {
        return code;
    }
    // A data directory that already holds a store: the node reopens it (the event log says so).
    let reopened = settings
        .data_dir
        .as_deref()
        .is_some_and(|d| std::fs::read_dir(d).is_ok_and(|mut e| e.next().is_some()));
    let store = match open_store(&config, settings.data_dir.as_deref()) {
        Ok(s) => s,
        Err(e) => return bad_input(store_error(&e)),
    };
    let system = actix_rt::System::new();
    system.block_on(async move {
        let clock_skew = hobbits_actors::producer::ClockSkew::default();
        if let Some(path) = args.clock_skew_file.clone() {
            actix_rt::spawn(follow_skew_file(path, clock_skew.clone()));
        }
        let mut parts = NodeParts {
            store: Some(store),
            http_addr,
            clock_skew,
            eth_listen,
            eth_peers,
            roots_sync: Some(roots_sync),
            ..NodeParts::full()
        };
        if let Some(gossip) = parts.gossip.as_mut().filter(|_| args.gossip_overlay) {
            gossip.overlay = hobbits_actors::gossip::overlay::OverlayConfig::default();
        }
        // The event log's `gossip_traffic` lines read the frame and byte counters.
        if args.event_log.is_some() && parts.metrics.is_none() && parts.http_addr.is_none() {
            parts.metrics = Some(std::sync::Arc::default());
        }
        let node = match start_node(config, parts).await {
            Ok(n) => n,
            Err(e) => return failure(e),
        };
        println!(
            "listening on {}",
            PeerUri::from_socket_addr(node.listen_addr)
        );
        if let Some(addr) = node.eth_listen_addr {
            println!("eth listening on {ETH_SCHEME}{addr}");
        }
        println!("genesis root {}", node.genesis_root);
        if let Err(e) = observe_node(&node, args.event_log.as_deref(), args.attest, reopened).await
        {
            let _ = node.shutdown(Duration::from_millis(200)).await;
            return failure(e);
        }
        println!("node id {}", node.node_id.0);
        if let Some(server) = &node.http_server {
            println!("http on http://{}", server.local_addr());
            println!("metrics on http://{}/metrics", server.local_addr());
        }
        let mut faults = node.store_faults.clone();
        let fault = tokio::select! {
            _ = wait_for_signal() => None,
            f = store_fault(&mut faults) => Some(f),
        };
        let left = node.shutdown(Duration::from_secs(2)).await;
        tracing::info!(left, "stopped");
        match fault {
            None => ExitCode::SUCCESS,
            Some(fault) => {
                eprintln!(
                    "error: {fault}; the node stopped (the data directory holds every block \
                     committed before the fault: fix the disk and run again)"
                );
                ExitCode::FAILURE
            }
        }
    })
}

/// The chain store's first fault (never returns while the store is sound).
async fn store_fault(
    faults: &mut tokio::sync::watch::Receiver<Option<hobbits_actors::store::StoreFault>>,
) -> hobbits_actors::store::StoreFault {
    let fault = match faults.wait_for(Option::is_some).await {
        Ok(f) => f.clone(),
        Err(_) => None,
    };
    match fault {
        Some(f) => f,
        None => std::future::pending().await,
    }
}

/// `--event-log` and `--attest`: a log writer subscribed to the node's peer, gossip and chain
/// events, and an attester (that tells the writer what it publishes).
pub(super) async fn observe_node(
    node: &hobbits_actors::NodeHandle,
    event_log: Option<&std::path::Path>,
    attest: bool,
    from_store: bool,
) -> Result<(), String> {
    use actix::Actor;
    use hobbits_actors::{Subscribe, SubscribeChainEvents};
    use hobbits_testnet::attester::Attester;
    use hobbits_testnet::eventlog::NodeEvent;
    use hobbits_testnet::node_log::NodeLogWriter;

    let hex = |r: &hobbits_chain::Root| format!("0x{}", hex::encode(r.0));
    let writer = match event_log {
        None => None,
        Some(path) => {
            let hello = node.store.hello().await.map_err(|e| e.to_string())?;
            let started = NodeEvent::Started {
                node_id: node.node_id.0.to_string(),
                listen: node.listen_addr.to_string(),
                genesis_root: hex(&node.genesis_root),
                head_slot: hello.best_slot.0,
                head_root: hex(&hello.best_root),
                finalized_epoch: hello.latest_finalized_epoch.0,
                finalized_root: hex(&hello.latest_finalized_root),
                from_store,
            };
            let writer = NodeLogWriter::create(path, started)
                .map_err(|e| format!("event log {}: {e}", path.display()))?
                .with_traffic(node.gossip.clone(), node.metrics.clone())
                .start();
            node.manager.do_send(Subscribe {
                handshaked: Some(writer.clone().recipient()),
                disconnected: Some(writer.clone().recipient()),
                gossip: Some(writer.clone().recipient()),
                control: None,
            });
            // Blocks synced over the ETH dialect reach the store without an import event.
            if node.eth_listen_addr.is_some() {
                writer.do_send(hobbits_testnet::node_log::WatchHead {
                    store: node.store.clone(),
                    every: std::time::Duration::from_millis(100),
                });
            }
            Some(writer)
        }
    };
    let attester = match (&node.gossip, attest) {
        (Some(gossip), true) => {
            let mut a = Attester::new(
                node.node_id.0 % 64,
                node.store.clone(),
                gossip.clone().recipient(),
            );
            if let Some(w) = &writer {
                a = a.with_log(w.clone().recipient());
            }
            Some(a.start())
        }
        _ => None,
    };
    for chain in [
        node.gossip.clone().map(|g| g.recipient()),
        node.sync.clone().map(|s| s.recipient()),
    ]
    .into_iter()
    .flatten()
    {
        let subscribe = |imported| SubscribeChainEvents {
            imported,
            penalized: None,
        };
        if let Some(w) = &writer {
            chain.do_send(subscribe(Some(w.clone().recipient())));
        }
        if let Some(a) = &attester {
            chain.do_send(subscribe(Some(a.clone().recipient())));
        }
    }
    Ok(())
}

/// Keeps `skew` at the value in `path` (milliseconds; unreadable or absent: unchanged).
async fn follow_skew_file(path: PathBuf, skew: hobbits_actors::producer::ClockSkew) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        match text.trim().parse::<i64>() {
            Ok(ms) if ms != skew.ms() => {
                tracing::info!(ms, "slot clock skew");
                skew.set_ms(ms);
            }
            Ok(_) => {}
            Err(_) => tracing::warn!(file = %path.display(), "clock skew file: not a number of ms"),
        }
    }
}

/// The chain store: persistent in `data_dir` when given (printing what it reopened), else in
/// memory.
fn open_store(
    config: &hobbits_actors::NodeConfig,
    data_dir: Option<&std::path::Path>,
) -> Result<Box<dyn ChainStore + Send>, NodeError> {
    let Some(dir) = data_dir else {
        println!("store in memory");
        return Ok(Box::new(memory_store(config)?));
    };
    let store = persistent_store(config, dir)?;
    let head = store.head();
    let finalized = store.finalized_checkpoint();
    println!(
        "store persistent {}: reopened {} blocks, head slot {}, finalized epoch {}",
        store.path().display(),
        store.block_count(),
        head.slot.0,
        finalized.epoch.0
    );
    Ok(Box::new(store))
}

/// The error message, with a hint when a data directory belongs to another chain.
fn store_error(e: &NodeError) -> String {
    match e {
        NodeError::Persist(
            PersistError::GenesisMismatch { .. } | PersistError::SlotsPerEpochMismatch { .. },
        ) => format!(
            "{e} (the data directory was created for another chain: use the same \
             network_id, chain_id and genesis_time, or another --data-dir)"
        ),
        _ => e.to_string(),
    }
}

pub(super) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
