//! `hobbits-node conformance hob+tcp://HOST:PORT`: runs the conformance checks of
//! `hobbits_tools::conformance` against any Hobbits implementation and prints a table (or JSON
//! with `--json`); `conformance eth+tcp://HOST:PORT` runs the checks of the eth2 RPC raw-TCP
//! dialect (`hobbits_tools::conformance::eth`) with the same options, report and exit status. Exit status: 0 every check passed or was skipped, 1 a check failed, 2 bad
//! arguments or the peer cannot be reached.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use hobbits_codec::PeerUri;
use hobbits_tools::conformance::eth::run_eth_conformance;
use hobbits_tools::conformance::fixture::{Fixture, FixtureChain, FixtureConfig};
use hobbits_tools::conformance::{
    random_seed, run_conformance, CheckId, ConformanceConfig, ConformanceReport, SUITE_VERSION,
};
use serde_json::json;

use super::{bad_input, current_thread_runtime};

/// Exit status when at least one check failed.
pub const EXIT_CHECK_FAILED: u8 = 1;

/// Check a peer's conformance: PING/pong, HELLO, GET_STATUS, header ranges, robustness
///
/// With eth+tcp://HOST:PORT the checks of the eth2 RPC raw-TCP dialect run instead: hello,
/// get_status, block roots, headers with skip_slots, bodies, beacon_chain_state, unknown method,
/// malformed SSZ, pipelined ids, goodbye on another network, a wrong prefix.
///
/// Each check opens its own connection and waits at most --timeout for each reply. Results are
/// pass, fail, or skipped with a reason (e.g. header-range checks on a genesis-only chain), each
/// with one line of evidence. Exit status 0 when nothing failed, 1 when a check failed, 2 for bad
/// arguments or an unreachable peer.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ConformanceArgs {
    /// The peer, hob+tcp://[identity@]host:port, or eth+tcp://host:port for the eth2 RPC raw-TCP
    /// dialect's checks (not with --serve-chain).
    #[arg(
        required_unless_present = "serve_chain",
        conflicts_with = "serve_chain"
    )]
    pub uri: Option<String>,
    /// Fixture mode: listen with a known chain (a snapshot FILE, or `seeded`) until a peer pointed
    /// at it syncs to its head or --sync-timeout passes; report how the peer asked.
    #[arg(long, value_name = "FILE|seeded")]
    pub serve_chain: Option<String>,
    /// Fixture mode: address to listen on (port 0: any free port; printed as `listening on`).
    #[arg(long, default_value = "127.0.0.1:0", requires = "serve_chain")]
    pub listen: SocketAddr,
    /// Fixture mode: how long the peer has to connect and sync.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub sync_timeout: Duration,
    /// Fixture mode, `seeded`: blocks after genesis.
    #[arg(long, default_value_t = 64, requires = "serve_chain")]
    pub chain_blocks: u64,
    /// Fixture mode, `seeded`: genesis time in seconds (the peer's `run --genesis-time`).
    #[arg(long, default_value_t = 0, requires = "serve_chain")]
    pub genesis_time: u64,
    /// Longest wait for one reply or connect: `3s`, `500ms`, or seconds as a number.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Silence awaited where no reply is the right answer (after a `pong`); at most --timeout.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub quiet: Duration,
    /// network_id of the first HELLO sent (later connections mirror the peer's HELLO).
    #[arg(long, default_value_t = 1)]
    pub network_id: u8,
    /// chain_id of the first HELLO sent.
    #[arg(long, default_value_t = 1)]
    pub chain_id: u8,
    /// `max` asked per GET_BLOCK_HEADERS page.
    #[arg(long, default_value_t = 64)]
    pub page_size: u64,
    /// Most GET_BLOCK_HEADERS pages read while walking the chain up to the peer's best slot.
    #[arg(long, default_value_t = 64)]
    pub max_pages: u32,
    /// Seed of the run's randomness (our HELLO's best_root, request ids); drawn per run when
    /// absent and printed, so a run can be repeated.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Fixture mode: loads the chain, listens, prints where and the head, waits for the peer to sync,
/// prints the report. Exit status as for a peer: 0 passed, 1 failed, 2 bad arguments.
fn run_fixture(args: &ConformanceArgs, chain: &str) -> ExitCode {
    let seed = args.seed.unwrap_or_else(random_seed);
    let source = if chain == "seeded" {
        FixtureChain::Seeded {
            seed,
            blocks: args.chain_blocks,
            genesis_time: args.genesis_time,
        }
    } else {
        FixtureChain::File(chain.into())
    };
    let store = match source.load(args.network_id, args.chain_id) {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    let fixture_config = FixtureConfig {
        listen: args.listen,
        network_id: args.network_id,
        chain_id: args.chain_id,
        sync_timeout: args.sync_timeout,
        ..FixtureConfig::new(args.listen)
    };
    let rt = match current_thread_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let result = rt.block_on(async {
        let fixture = Fixture::bind(fixture_config, store).await?;
        let addr = fixture.local_addr().unwrap_or(args.listen);
        let head = fixture.head();
        let lines = format!(
            "listening on {}\nfixture head slot {} root {}\n",
            PeerUri::from_socket_addr(addr),
            head.slot.0,
            head.root
        );
        // With --json, stdout carries only the report.
        if args.json {
            let _ = std::io::stderr().write_all(lines.as_bytes());
        } else {
            let mut out = std::io::stdout();
            let _ = out.write_all(lines.as_bytes()).and_then(|()| out.flush());
        }
        Ok::<_, hobbits_tools::conformance::ConformanceError>((addr, fixture.run().await))
    });
    let (addr, report) = match result {
        Ok(r) => r,
        Err(e) => return bad_input(e),
    };
    let uri = PeerUri::from_socket_addr(addr);
    let config = ConformanceConfig {
        timeout: args.sync_timeout,
        network_id: args.network_id,
        chain_id: args.chain_id,
        seed,
        ..ConformanceConfig::default()
    };
    let text = if args.json {
        format!(
            "{}\n",
            report_json(&uri, &config, &report, &CheckId::FIXTURE)
        )
    } else {
        report_table(&uri, &config, &report)
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHECK_FAILED)
    }
}

/// The scheme of a peer of the eth2 RPC raw-TCP dialect.
const ETH_SCHEME: &str = "eth+tcp://";

/// A peer address as given, and printed so in the report: `eth+tcp://host:port` for an ETH peer.
struct Shown {
    uri: PeerUri,
    eth: bool,
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.eth {
            write!(f, "{ETH_SCHEME}{}", self.uri.host_port())
        } else {
            self.uri.fmt(f)
        }
    }
}

/// Parses `3s`, `250ms`, `1.5` (seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 3s, 500ms)"))?;
    if !value.is_finite() || value <= 0.0 || value * scale > 3600.0 {
        return Err(format!("`{text}` must be positive and at most an hour"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

fn resolve(uri: &Shown) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    uri.uri
        .host_port()
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {uri}: {e}"))?
        .next()
        .ok_or_else(|| format!("{uri} resolves to no address"))
}

/// Parses `hob+tcp://[identity@]host:port` or `eth+tcp://host:port` (the ETH dialect has no
/// identity).
fn parse_target(text: &str) -> Result<Shown, String> {
    let Some(host_port) = text.strip_prefix(ETH_SCHEME) else {
        let uri: PeerUri = text.parse().map_err(|e| format!("{e}"))?;
        return Ok(Shown { uri, eth: false });
    };
    if host_port.contains('@') {
        return Err(format!("`{text}`: an eth+tcp:// peer has no identity"));
    }
    let uri: PeerUri = format!("hob+tcp://{host_port}")
        .parse()
        .map_err(|_| format!("`{text}` is not eth+tcp://host:port"))?;
    Ok(Shown { uri, eth: true })
}

/// Runs the checks.
pub fn run(args: ConformanceArgs) -> ExitCode {
    if let Some(chain) = args.serve_chain.clone() {
        return run_fixture(&args, &chain);
    }
    let uri = match parse_target(args.uri.as_deref().unwrap_or_default()) {
        Ok(u) => u,
        Err(e) => return bad_input(e),
    };
    let target = match resolve(&uri) {
        Ok(a) => a,
        Err(e) => return bad_input(e),
    };
    let config = ConformanceConfig {
        timeout: args.timeout,
        quiet: args.quiet,
        network_id: args.network_id,
        chain_id: args.chain_id,
        page_size: args.page_size,
        max_pages: args.max_pages,
        seed: args.seed.unwrap_or_else(random_seed),
    };
    let rt = match current_thread_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let (suite, run) = if uri.eth {
        let run = rt.block_on(run_eth_conformance(target, config.clone()));
        (&CheckId::ETH[..], run)
    } else {
        let run = rt.block_on(run_conformance(target, config.clone()));
        (&CheckId::ALL[..], run)
    };
    let report = match run {
        Ok(r) => r,
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    json!({ "target": uri.to_string(), "error": e.to_string() })
                );
            }
            return bad_input(e);
        }
    };
    let text = if args.json {
        format!("{}\n", report_json(&uri, &config, &report, suite))
    } else {
        report_table(&uri, &config, &report)
    };
    // A closed stdout (e.g. piped into `head`) must not turn a verdict into a panic.
    let _ = std::io::stdout().write_all(text.as_bytes());
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHECK_FAILED)
    }
}

/// The report as JSON: target, overall, counts, the peer's HELLO, one object per check.
pub fn report_json(
    uri: &dyn std::fmt::Display,
    config: &ConformanceConfig,
    report: &ConformanceReport,
    suite: &[CheckId],
) -> serde_json::Value {
    let (pass, fail, skipped) = report.counts();
    let hello = report.peer_hello.as_ref().map(|p| {
        json!({
            "shape": p.shape.name(),
            "network_id": p.hello.network_id,
            "chain_id": p.hello.chain_id,
            "latest_finalized_root": p.hello.latest_finalized_root.to_string(),
            "latest_finalized_epoch": p.hello.latest_finalized_epoch.0,
            "best_root": p.hello.best_root.to_string(),
            "best_slot": p.hello.best_slot.0,
            "absent_fields": p.defaulted,
        })
    });
    let checks: Vec<_> = report
        .results
        .iter()
        .map(|r| {
            json!({
                "id": r.id.name(),
                "description": r.id.description(),
                "status": r.outcome.status(),
                "evidence": r.outcome.evidence(),
                "elapsed_ms": r.elapsed.as_millis() as u64,
            })
        })
        .collect();
    json!({
        "target": uri.to_string(),
        "address": report.target.to_string(),
        "version": SUITE_VERSION,
        "seed": config.seed,
        "check_ids": suite.iter().map(|c| c.name()).collect::<Vec<_>>(),
        "timeout_ms": config.timeout.as_millis() as u64,
        "overall": report.overall(),
        "counts": { "pass": pass, "fail": fail, "skipped": skipped },
        "peer_hello": hello,
        "checks": checks,
    })
}

/// The report as a table: one line per check, then a summary line.
pub fn report_table(
    uri: &dyn std::fmt::Display,
    config: &ConformanceConfig,
    report: &ConformanceReport,
) -> String {
    let mut out = format!(
        "conformance of {uri} ({}), timeout {:?}, suite {SUITE_VERSION}, seed {}\n",
        report.target, config.timeout, config.seed
    );
    let width = report
        .results
        .iter()
        .map(|r| r.id.name().len())
        .max()
        .unwrap_or(0);
    for r in &report.results {
        let mark = match r.outcome.status() {
            "pass" => "PASS",
            "fail" => "FAIL",
            _ => "SKIP",
        };
        out.push_str(&format!(
            "  {mark}  {:<width$}  {:>6} ms  {}\n",
            r.id.name(),
            r.elapsed.as_millis(),
            r.outcome.evidence()
        ));
    }
    let (pass, fail, skipped) = report.counts();
    out.push_str(&format!(
        "{} checks: {pass} passed, {fail} failed, {skipped} skipped: {}\n",
        report.results.len(),
        report.overall()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn eth_targets_keep_their_scheme_and_have_no_identity() {
        let eth = parse_target("eth+tcp://127.0.0.1:9000").expect("eth");
        assert!(eth.eth);
        assert_eq!(eth.to_string(), "eth+tcp://127.0.0.1:9000");
        assert!(!parse_target("hob+tcp://127.0.0.1:9000").expect("hob").eth);
        assert!(parse_target("eth+tcp://abc@127.0.0.1:9000").is_err());
        assert!(parse_target("eth+tcp://127.0.0.1").is_err());
    }
}
