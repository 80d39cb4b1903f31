//! `hobbits-node run`: start a node (with sync and gossip) from a TOML file, `HOBBITS_…`
//! environment variables and flags (flags > environment > file > defaults), print where it
//! listens and its genesis root, and run until Ctrl-C / SIGTERM (then GOODBYE 1 to every peer).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use hobbits_actors::gossip::{start_node_with_sync_gossip, SyncGossipConfig};
use hobbits_actors::node::memory_store;
use hobbits_actors::settings::{LimitSettings, NodeSettings, TimeoutSettings};
use hobbits_actors::{NodeHooks, PeerUri};

use super::EXIT_BAD_INPUT;

/// Run a node: listen, dial peers, handshake, serve RPC, optionally produce blocks.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// TOML configuration file (keys as in the docs; flags and HOBBITS_* variables override it).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, host:port (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Static peer hob+tcp://[identity@]host:port (repeatable).
    #[arg(long = "peer", value_name = "URI")]
    pub peers: Vec<String>,
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
    /// Log filter in RUST_LOG syntax (default: RUST_LOG, else "info").
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
}

impl RunArgs {
    fn to_settings(&self) -> NodeSettings {
        NodeSettings {
            listen: self.listen.clone(),
            peers: (!self.peers.is_empty()).then(|| self.peers.clone()),
            network_id: self.network_id,
            chain_id: self.chain_id,
            genesis_time: self.genesis_time,
            node_id: self.node_id,
            user_agent: None,
            produce: self.produce.then_some(true),
            slot_ms: self.slot_ms,
            log: self.log.clone(),
            limits: LimitSettings {
                max_peers: self.max_peers,
                ..Default::default()
            },
            timeouts: TimeoutSettings {
                handshake_ms: self.handshake_timeout_ms,
                request_ms: self.request_timeout_ms,
                ban_ms: self.ban_ms,
                ..Default::default()
            },
        }
    }
}

/// Runs the node until a signal.
pub fn run(args: RunArgs) -> ExitCode {
    let settings = match NodeSettings::load(args.config.as_deref(), &args.to_settings()) {
        Ok(s) => s,
        Err(e) => return bad_input(&e),
    };
    let config = match settings.to_config() {
        Ok(c) => c,
        Err(e) => return bad_input(&e),
    };
    let filter = match tracing_subscriber::EnvFilter::try_new(settings.log_filter()) {
        Ok(f) => f,
        Err(e) => return bad_input(&format!("log filter: {e}")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let system = actix_rt::System::new();
    system.block_on(async move {
        let store = match memory_store(&config) {
            Ok(s) => s,
            Err(e) => return bad_input(&e),
        };
        let started = start_node_with_sync_gossip(
            config,
            Box::new(store),
            NodeHooks::default(),
            SyncGossipConfig::default(),
        )
        .await;
        let (node, _sync_gossip) = match started {
            Ok(n) => n,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "listening on {}",
            PeerUri::from_socket_addr(node.listen_addr)
        );
        println!("genesis root {}", node.genesis_root);
        println!("node id {}", node.node_id.0);
        wait_for_signal().await;
        let left = node.shutdown(Duration::from_secs(2)).await;
        tracing::info!(left, "stopped");
        ExitCode::SUCCESS
    })
}

fn bad_input(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(EXIT_BAD_INPUT)
}

async fn wait_for_signal() {
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
