//! `hobbits-node status hob+tcp://HOST:PORT`: HELLO then GET_STATUS, and print what the peer says
//! (network, best slot and root, finalized checkpoint, user agent, clock).

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use hobbits_tools::probe::Probe;

use super::{failure, peer_and_runtime};

/// Ask a peer for its HELLO and status.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The peer, hob+tcp://[identity@]host:port.
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
            println!("peer               {uri}");
            println!("user_agent         {}", r.status.user_agent_lossy());
            println!("timestamp_ms       {}", r.status.timestamp);
            println!("network_id         {}", r.hello.network_id);
            println!("chain_id           {}", r.hello.chain_id);
            println!("best_slot          {}", r.hello.best_slot.0);
            println!("best_root          {}", r.hello.best_root);
            println!("finalized_epoch    {}", r.hello.latest_finalized_epoch.0);
            println!("finalized_root     {}", r.hello.latest_finalized_root);
            println!("round_trip_us      {}", r.elapsed.as_micros());
            ExitCode::SUCCESS
        }
        Err(e) => failure(e),
    }
}
