//! The conformance checks over the ETH raw-TCP dialect of the eth2 RPC interface v0.8.1
//! (`hobbits-node conformance eth+tcp://HOST:PORT`), with the Hobbits suite's standards and
//! plumbing: the same [`ConformanceConfig`] (seed, timeouts), the same [`CheckOutcome`] with one
//! line of evidence, the same [`ConformanceReport`] and the same echo rules, one connection per
//! check, every wait bounded.
//!
//! Owns: [`EthContext`] and [`run_eth_conformance`]. The checks live in [`session_checks`]
//! (hello, get_status, goodbye on another network or an unknown finalized root, unknown method,
//! malformed SSZ, beacon_chain_state, pipelined ids, a bad prefix) and [`chain_checks`]
//! (beacon_block_roots, beacon_block_headers, beacon_block_bodies, judged against the peer's own
//! roots); [`conn`] is the client connection.
//!
//! Sends: every method of the dialect, an unknown method id, a request whose body is not its
//! container's SSZ, and bytes with a wrong prefix. Handles the replies; answers the peer's own
//! requests on the side ([`conn::EthProbe`]).

pub mod chain_checks;
pub mod conn;
pub mod session_checks;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hobbits_chain::Slot;
use hobbits_codec::eth::EthHello;
use hobbits_codec::rpc::BodyShape;

use super::{
    CheckId, CheckOutcome, CheckResult, ConformanceConfig, ConformanceError, ConformanceReport,
    PeerHello,
};
pub use conn::{EthProbe, EthReceived};

/// What the ETH checks share: the target, the configuration and the peer's hello.
#[derive(Debug, Clone)]
pub struct EthContext {
    /// The peer.
    pub target: SocketAddr,
    /// Settings (the same as the Hobbits suite's).
    pub config: ConformanceConfig,
    /// The peer's hello from the `eth_hello` check; later connections mirror it.
    pub peer_hello: Option<EthHello>,
    /// Connections opened so far (numbers each connection's first request id).
    pub connections: Arc<AtomicU64>,
}

impl EthContext {
    /// The hello sent before the peer's is known: the configured ids, a genesis-only view
    /// (finalized root zero at epoch 0), best_slot 0 and the run's random best_root.
    pub fn initial_hello(&self) -> EthHello {
        EthHello::from(&self.config.initial_hello())
    }

    /// The hello sent after the `eth_hello` check: the peer's network, chain and finalized
    /// checkpoint, best_slot 0 (so the peer does not sync from us) and the run's random
    /// best_root (so an echo is recognised).
    pub fn our_hello(&self) -> EthHello {
        match &self.peer_hello {
            Some(p) => EthHello {
                best_root: self.config.nonce_root(),
                best_slot: Slot(0),
                ..p.clone()
            },
            None => self.initial_hello(),
        }
    }

    /// Opens a connection whose request ids start at a seeded value; it answers a hello with
    /// `hello`.
    pub async fn connect_with(&self, hello: EthHello) -> Result<EthProbe, String> {
        let mut probe = EthProbe::connect(self.target, self.config.timeout, hello)
            .await
            .map_err(|e| e.to_string())?;
        let n = self.connections.fetch_add(1, Ordering::Relaxed);
        probe.start_ids_at(self.config.first_request_id(n));
        Ok(probe)
    }

    /// Opens a connection and completes the hello exchange on it.
    pub async fn connect_handshaked(&self) -> Result<(EthProbe, EthHello), String> {
        let mut probe = self.connect_with(self.our_hello()).await?;
        let theirs = probe
            .handshake()
            .await
            .map_err(|e| format!("hello on a new connection failed: {e}"))?;
        Ok((probe, theirs))
    }

    /// The peer's best slot as last seen (0 before its hello).
    pub fn best_slot(&self) -> Slot {
        self.peer_hello.as_ref().map_or(Slot(0), |h| h.best_slot)
    }
}

/// The peer's hello as the report's [`PeerHello`] (SSZ is the dialect's only shape); `None`
/// when its chain_id does not fit the Hobbits uint8.
fn report_hello(hello: &EthHello) -> Option<PeerHello> {
    Some(PeerHello {
        hello: hello.to_hobbits()?,
        shape: BodyShape::SpecSsz,
        defaulted: Vec::new(),
    })
}

async fn run_one(id: CheckId, ctx: &mut EthContext) -> CheckResult {
    // The longest check (headers) makes a handful of requests, each bounded by `timeout`.
    let budget = ctx.config.timeout * 16 + ctx.config.quiet * 2;
    let fut = async {
        match id {
            CheckId::EthHello => session_checks::hello(ctx).await,
            CheckId::EthGetStatus => session_checks::get_status(ctx).await,
            CheckId::EthRoots => chain_checks::roots(ctx).await,
            CheckId::EthRootsCap => chain_checks::roots_cap(ctx).await,
            CheckId::EthHeaders => chain_checks::headers(ctx).await,
            CheckId::EthBodies => chain_checks::bodies(ctx).await,
            CheckId::EthChainState => session_checks::chain_state(ctx).await,
            CheckId::EthPipelined => session_checks::pipelined(ctx).await,
            CheckId::EthUnknownMethod => session_checks::unknown_method(ctx).await,
            CheckId::EthMalformedSsz => session_checks::malformed_ssz(ctx).await,
            CheckId::EthGoodbyeWrongNetwork => session_checks::goodbye_wrong_network(ctx).await,
            CheckId::EthGoodbyeUnknownFinalized => {
                session_checks::goodbye_unknown_finalized(ctx).await
            }
            CheckId::EthBadPrefixCloses => session_checks::bad_prefix_closes(ctx).await,
            CheckId::EthAcceptsAfterBadPrefix => session_checks::accepts_after(ctx).await,
            other => CheckOutcome::skipped(format!("{other} is not a check of the ETH dialect")),
        }
    };
    CheckResult::within(id, budget, fut).await
}

/// Runs every ETH check ([`CheckId::ETH`]) against `target`. `Err` only when the configuration
/// is invalid or the target cannot be reached at all; a misbehaving peer gives a report with
/// failures.
pub async fn run_eth_conformance(
    target: SocketAddr,
    config: ConformanceConfig,
) -> Result<ConformanceReport, ConformanceError> {
    config.validate()?;
    let mut ctx = EthContext {
        target,
        config,
        peer_hello: None,
        connections: Arc::new(AtomicU64::new(0)),
    };
    // Reachability first: "cannot connect" is not a conformance failure.
    drop(EthProbe::connect(target, ctx.config.timeout, ctx.initial_hello()).await?);
    let mut results = Vec::with_capacity(CheckId::ETH.len());
    for id in CheckId::ETH {
        let result = run_one(id, &mut ctx).await;
        tracing::debug!(check = %id, status = result.outcome.status(), evidence = result.outcome.evidence(), "check done");
        results.push(result);
    }
    Ok(ConformanceReport {
        target,
        peer_hello: ctx.peer_hello.as_ref().and_then(report_hello),
        results,
    })
}

/// The finalized checkpoint of a hello as evidence.
pub fn describe_hello(h: &EthHello) -> String {
    format!(
        "network {} chain {} finalized epoch {} best slot {} best_root {}",
        h.network_id,
        h.chain_id,
        h.finalized_epoch.0,
        h.best_slot.0,
        super::conn::short_root(&h.best_root.0)
    )
}
