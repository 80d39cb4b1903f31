//! `hobbits-node status hob+tcp://HOST:PORT`: HELLO then GET_STATUS, and print what the peer says
//! (network, best slot and root, finalized checkpoint, user agent, clock).
//! `hobbits-node status http://HOST:PORT`: the same questions to a node's Beacon API (version,
//! identity, genesis, head, finality, peers, sync), through `hobbits_tools::beacon_api`.
//! `hobbits-node status eth+tcp://HOST:PORT`: hello then get_status in the eth2 RPC raw-TCP
//! dialect (`status_eth.rs`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use hobbits_tools::beacon_api::{ApiError, BeaconApi};
use hobbits_tools::probe::Probe;

use super::{bad_input, current_thread_runtime, failure, peer_and_runtime};

/// Ask a peer for its HELLO and status.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The peer, hob+tcp://[identity@]host:port; an ETH dialect peer, eth+tcp://host:port; or a
    /// node's HTTP API, http://host:port.
    pub uri: String,
    /// network_id to announce in our HELLO.
    #[arg(long, default_value_t = 1)]
    pub network_id: u8,
    /// chain_id to announce in our HELLO.
    #[arg(long, default_value_t = 1)]
    pub chain_id: u8,
    /// Timeout for the whole exchange, in milliseconds.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub timeout_ms: u64,
}

/// Runs the exchange.
pub fn run(args: StatusArgs) -> ExitCode {
    if args.uri.starts_with("http://") {
        return run_http(&args);
    }
    if let Some(hostport) = args.uri.strip_prefix("eth+tcp://") {
        return run_eth(&args, hostport);
    }
    let (uri, rt) = match peer_and_runtime(&args.uri) {
        Ok(pair) => pair,
        Err(code) => return code,
    };
    let timeout = Duration::from_millis(args.timeout_ms);
    let agent = format!("hobbits-node-status/{}", env!("CARGO_PKG_VERSION"));
    let result = rt.block_on(async {
        let mut probe = Probe::connect(&uri, timeout).await?;
        probe.status(args.network_id, args.chain_id, &agent).await
    });
    match result {
        Ok(r) => {
            print_rows(&[
                ("peer", uri.to_string()),
                ("user_agent", r.status.user_agent_lossy().to_string()),
                ("timestamp_ms", r.status.timestamp.to_string()),
                ("network_id", r.hello.network_id.to_string()),
                ("chain_id", r.hello.chain_id.to_string()),
                ("best_slot", r.hello.best_slot.0.to_string()),
                ("best_root", r.hello.best_root.to_string()),
                (
                    "finalized_epoch",
                    r.hello.latest_finalized_epoch.0.to_string(),
                ),
                ("finalized_root", r.hello.latest_finalized_root.to_string()),
                ("round_trip_us", r.elapsed.as_micros().to_string()),
            ]);
            ExitCode::SUCCESS
        }
        Err(e) => failure(e),
    }
}

/// Prints `rows` as the status table: each name padded to one column, then its value.
fn print_rows(rows: &[(&str, String)]) {
    for (name, value) in rows {
        println!("{name:<18} {value}");
    }
}

/// `status eth+tcp://…`: hello and get_status over the ETH dialect.
fn run_eth(args: &StatusArgs, hostport: &str) -> ExitCode {
    let agent = format!("hobbits-node-status/{}", env!("CARGO_PKG_VERSION"));
    let timeout = Duration::from_millis(args.timeout_ms);
    match super::status_eth::query(hostport, args.network_id, args.chain_id, &agent, timeout) {
        Ok(r) => {
            print_rows(&[
                ("peer", args.uri.to_string()),
                ("user_agent", r.status.user_agent_lossy().to_string()),
                ("sha", format!("0x{}", hex::encode(r.status.sha))),
                ("timestamp_ms", r.status.timestamp.to_string()),
                ("network_id", r.hello.network_id.to_string()),
                ("chain_id", r.hello.chain_id.to_string()),
                ("best_slot", r.hello.best_slot.0.to_string()),
                ("best_root", r.hello.best_root.to_string()),
                ("finalized_epoch", r.hello.finalized_epoch.0.to_string()),
                ("finalized_root", r.hello.finalized_root.to_string()),
                ("round_trip_us", r.elapsed.as_micros().to_string()),
            ]);
            ExitCode::SUCCESS
        }
        Err(e) => failure(e),
    }
}

/// `status http://…`: the node's Beacon API.
fn run_http(args: &StatusArgs) -> ExitCode {
    let rt = match current_thread_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let timeout = Duration::from_millis(args.timeout_ms);
    let started = std::time::Instant::now();
    let result = rt.block_on(async {
        let api = BeaconApi::from_url(&args.uri, timeout).await?;
        api.node_status().await
    });
    match result {
        Ok(s) => {
            print_rows(&[
                ("api", args.uri.to_string()),
                ("version", s.version.to_string()),
                ("node_id", s.peer_id.to_string()),
                ("p2p_address", s.p2p_addresses.join(" ")),
                ("genesis_time", s.genesis_time.to_string()),
                ("best_slot", s.chain.head_slot.0.to_string()),
                ("best_root", s.chain.head_root.to_string()),
                ("finalized_epoch", s.chain.finalized_epoch.0.to_string()),
                ("finalized_root", s.chain.finalized_root.to_string()),
                ("peers", s.peers.to_string()),
                ("is_syncing", s.is_syncing.to_string()),
                ("sync_distance", s.sync_distance.to_string()),
                ("round_trip_us", started.elapsed().as_micros().to_string()),
            ]);
            ExitCode::SUCCESS
        }
        Err(e @ ApiError::BadUrl { .. }) => bad_input(e),
        Err(e) => failure(e),
    }
}
