//! `hobbits-node site FILE`: several full nodes in one process on one address, one port each (the
//! site file, `hobbits_testnet::engine::shadow::site`, lists them: listen address, node id, peers,
//! event log), on one actix system as the in-process testnet engine runs them, each observed like
//! `run --event-log --attest`. The Shadow engine runs sites so that 10,000 nodes fit in far fewer
//! simulated processes. Runs until Ctrl-C / SIGTERM (then GOODBYE 1 from every node).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use hobbits_actors::node::{memory_store, start_node, NodeParts};
use hobbits_testnet::engine::shadow::site::SiteFile;

use super::{bad_input, failure};
use crate::settings::NodeSettings;

/// Run several nodes in one process (a site of a Shadow testnet), from a site file.
#[derive(Debug, Args)]
pub struct SiteArgs {
    /// The site file (JSON: genesis_time, attest, nodes: [{listen, node_id, peers, event_log}]).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Log filter in RUST_LOG syntax.
    #[arg(long, value_name = "FILTER", default_value = "warn")]
    pub log: String,
}

/// Runs the site's nodes until a signal.
pub fn run(args: SiteArgs) -> ExitCode {
    let site = match SiteFile::read(&args.file) {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    let mut configs = Vec::with_capacity(site.nodes.len());
    for (i, n) in site.nodes.iter().enumerate() {
        let settings = NodeSettings {
            listen: Some(n.listen.clone()),
            peers: Some(n.peers.clone()),
            genesis_time: Some(site.genesis_time),
            node_id: Some(n.node_id),
            ..NodeSettings::default()
        };
        match settings.to_config() {
            Ok(c) => configs.push(c),
            Err(e) => return bad_input(format!("site node {i}: {e}")),
        }
    }
    if let Err(code) = super::init_tracing(&args.log) {
        return code;
    }
    let system = actix_rt::System::new();
    system.block_on(async move {
        let mut nodes = Vec::with_capacity(configs.len());
        for (config, n) in configs.into_iter().zip(&site.nodes) {
            let store = match memory_store(&config) {
                Ok(s) => Box::new(s),
                Err(e) => return failure(e),
            };
            let mut parts = NodeParts {
                store: Some(store),
                ..NodeParts::full()
            };
            if let Some(gossip) = parts.gossip.as_mut().filter(|_| n.gossip_overlay) {
                gossip.overlay = hobbits_actors::gossip::overlay::OverlayConfig::default();
            }
            // The event log's `gossip_traffic` lines read the frame and byte counters.
            if n.event_log.is_some() {
                parts.metrics = Some(std::sync::Arc::default());
            }
            let node = match start_node(config, parts).await {
                Ok(node) => node,
                Err(e) => return failure(e),
            };
            let log = n.event_log.as_ref().map(PathBuf::from);
            if let Err(e) =
                super::run::observe_node(&node, log.as_deref(), site.attest, false).await
            {
                return failure(e);
            }
            println!("listening on {}", node.listen_addr);
            nodes.push(node);
        }
        super::run::wait_for_signal().await;
        for node in nodes {
            let _ = node.shutdown(Duration::from_millis(500)).await;
        }
        ExitCode::SUCCESS
    })
}
