//! Subcommand table of the `hobbits-node` binary. Each subcommand owns one file here with its clap
//! `Args` struct and a `run` function returning the process exit status; this file also holds what
//! they share: reporting an error as an exit status ([`bad_input`], [`failure`]) and the
//! single-threaded runtime of the one-shot subcommands ([`current_thread_runtime`],
//! [`peer_and_runtime`]).

pub mod conformance;
pub mod decode;
pub mod encode;
pub mod ping;
pub mod relay;
pub mod run;
pub mod site;
pub mod status;
mod status_eth;
pub mod testnet;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status for bad input (malformed frame, bad flags or configuration).
pub const EXIT_BAD_INPUT: u8 = 2;

/// Prints `error: {e}` on stderr and returns the bad-input exit status ([`EXIT_BAD_INPUT`]).
pub fn bad_input(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// Prints `error: {e}` on stderr and returns the general failure exit status (1).
pub fn failure(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

/// The single-threaded tokio runtime of the one-shot subcommands (`ping`, `status`,
/// `conformance`, `relay`); a runtime that cannot be built is reported as a failure.
pub fn current_thread_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(failure)
}

/// What the peer-probing subcommands (`ping`, `status`) start from: the peer's URI (bad input if
/// it does not parse) and the single-threaded runtime to talk to it on.
pub fn peer_and_runtime(
    uri: &str,
) -> Result<(hobbits_codec::PeerUri, tokio::runtime::Runtime), ExitCode> {
    let uri = uri.parse().map_err(bad_input)?;
    Ok((uri, current_thread_runtime()?))
}

/// Installs the `tracing` subscriber of the long-running subcommands (`run`, `testnet`): the
/// RUST_LOG-style `filter` on stderr, with colours only when stderr is a terminal (logs sent to a
/// file or a pipe stay plain text). A bad filter is bad input.
pub fn init_tracing(filter: &str) -> Result<(), ExitCode> {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|e| bad_input(format!("log filter: {e}")))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    Ok(())
}

/// A node for the Hobbits wire protocol (EWP v3): run a node or a local testnet, inspect frames,
/// check peers.
#[derive(Debug, Parser)]
#[command(name = "hobbits-node", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    // Help text comes from each Args struct's doc comment (a variant doc would override it).
    Decode(decode::DecodeArgs),
    Encode(encode::EncodeArgs),
    Run(run::RunArgs),
    Ping(ping::PingArgs),
    Status(status::StatusArgs),
    Conformance(conformance::ConformanceArgs),
    Relay(relay::RelayArgs),
    Testnet(testnet::TestnetArgs),
    Site(site::SiteArgs),
}

/// Runs the chosen subcommand.
pub fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Decode(args) => decode::run(args),
        Command::Encode(args) => encode::run(args),
        Command::Run(args) => run::run(args),
        Command::Ping(args) => ping::run(args),
        Command::Status(args) => status::run(args),
        Command::Conformance(args) => conformance::run(args),
        Command::Relay(args) => relay::run(args),
        Command::Testnet(args) => testnet::run(args),
        Command::Site(args) => site::run(args),
    }
}
