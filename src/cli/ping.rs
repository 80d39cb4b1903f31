//! `hobbits-node ping hob+tcp://HOST:PORT [--count N]`: PING round trips (no handshake needed),
//! reported as min / median / p99.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use hobbits_tools::probe::Probe;

use super::{failure, peer_and_runtime};

/// Ping a peer and report round-trip times.
#[derive(Debug, Args)]
pub struct PingArgs {
    /// The peer, hob+tcp://[identity@]host:port.
    pub uri: String,
    /// Number of pings.
    #[arg(long, short = 'n', default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub count: u32,
    /// Timeout for the connection and each pong, in milliseconds.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub timeout_ms: u64,
}

/// Runs the pings.
pub fn run(args: PingArgs) -> ExitCode {
    let (uri, rt) = match peer_and_runtime(&args.uri) {
        Ok(pair) => pair,
        Err(code) => return code,
    };
    let timeout = Duration::from_millis(args.timeout_ms);
    let result = rt.block_on(async {
        let mut probe = Probe::connect(&uri, timeout).await?;
        probe.ping(args.count as usize).await
    });
    match result {
        Ok(report) => {
            let us = |d: Option<Duration>| d.map(|d| d.as_micros()).unwrap_or(0);
            println!(
                "{} pings to {uri}: min {} us, median {} us, p99 {} us",
                report.rtts.len(),
                us(report.min()),
                us(report.median()),
                us(report.p99())
            );
            ExitCode::SUCCESS
        }
        Err(e) => failure(e),
    }
}
