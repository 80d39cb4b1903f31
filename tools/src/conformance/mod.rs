//! The conformance checker: a client that connects to any Hobbits (EWP v3) implementation and
//! checks what it answers, one small check per behaviour, each on its own connection with bounded
//! waits. Used by `hobbits-node conformance hob+tcp://HOST:PORT`.
//!
//! Owns: [`ConformanceConfig`], [`CheckId`], [`CheckOutcome`], [`CheckResult`],
//! [`ConformanceReport`], [`ConformanceError`] and [`run_conformance`]; [`ids`] names the checks.
//! The checks live in [`ping_checks`] (PING/`pong`, unknown method, malformed frame),
//! [`rpc_checks`] (HELLO, GET_STATUS), [`header_checks`] (GET_BLOCK_HEADERS ranges, with the pure
//! range rules in [`ranges`]), [`method_checks`] (GET_BLOCK_BODIES, GET_BEACON_STATES, pipelined
//! request ids, GOODBYE) and [`gossip_checks`] (relay, lying message_hash, GET_ATTESTATION).
//! [`conn`] is the client connection. [`eth`] runs the same kind of checks over the ETH raw-TCP
//! dialect of the eth2 RPC interface (`conformance eth+tcp://HOST:PORT`), reusing this module's
//! configuration, seed, outcomes and report.
//!
//! Sends: PING, `pong`, HELLO, GET_STATUS, GET_BLOCK_HEADERS, GET_BLOCK_BODIES,
//! GET_BEACON_STATES, GET_ATTESTATION, GOSSIP, an RPC with an unknown method id, and one
//! malformed frame. Handles the replies. No actors: a plain tokio client.

/// `Ok(v)` gives `v`; `Err(evidence)` ends the check with a failure.
macro_rules! try_or_fail {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return $crate::conformance::CheckOutcome::fail(e),
        }
    };
}

pub mod conn;
pub mod eth;
pub mod fixture;
pub mod gossip_checks;
pub mod header_checks;
pub mod ids;
pub mod method_checks;
pub mod ping_checks;
pub mod ranges;
pub mod rpc_checks;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use hobbits_chain::rpc::Hello;
use hobbits_chain::{Epoch, Root, Slot};

pub use conn::{PeerHello, Probe, Received, ECHO};
pub use ids::CheckId;

/// The suite's version, reported with every result so results can be compared over time: bumped
/// whenever a check is added or removed or what a check accepts changes.
pub const SUITE_VERSION: &str = "3";

/// A fresh seed for [`ConformanceConfig::seed`] (from the OS's randomness).
pub fn random_seed() -> u64 {
    rand::random()
}

/// Why the checker could not run at all (as opposed to a failed check).
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    /// The target could not be reached.
    #[error("cannot connect to {target}: {reason}")]
    Connect {
        /// The address tried.
        target: SocketAddr,
        /// The OS error or the timeout.
        reason: String,
    },
    /// The fixture (fixture mode) cannot be loaded or cannot listen.
    #[error("fixture: {reason}")]
    Fixture {
        /// What went wrong.
        reason: String,
    },
    /// The configuration is unusable.
    #[error("invalid conformance configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: &'static str,
    },
}

/// How the checker behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConformanceConfig {
    /// Longest wait for one reply (and for a connect). Default 3 s.
    pub timeout: Duration,
    /// How long silence is awaited when the expected behaviour is "no reply" (a `pong`). Bounded
    /// by `timeout`. Default 500 ms.
    pub quiet: Duration,
    /// `network_id` of the first HELLO we send (later connections mirror the peer's). Default 1.
    pub network_id: u8,
    /// `chain_id` of the first HELLO we send. Default 1.
    pub chain_id: u8,
    /// `max` asked per GET_BLOCK_HEADERS page. Default 64.
    pub page_size: u64,
    /// Most GET_BLOCK_HEADERS pages read to walk the chain up to the peer's best slot. Default 64.
    pub max_pages: u32,
    /// Seed of the run's randomness: the `best_root` of every HELLO we send (so a peer returning
    /// our HELLO is recognised) and the first request id of every connection (so recorded replies
    /// with their recorded ids do not match). Default 0; the command line draws one per run and
    /// prints it, `--seed` repeats a run.
    pub seed: u64,
}

impl Default for ConformanceConfig {
    fn default() -> Self {
        ConformanceConfig {
            timeout: Duration::from_secs(3),
            quiet: Duration::from_millis(500),
            network_id: 1,
            chain_id: 1,
            page_size: 64,
            max_pages: 64,
            seed: 0,
        }
    }
}

impl ConformanceConfig {
    /// Checks the bounds.
    pub fn validate(&self) -> Result<(), ConformanceError> {
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(600) {
            return Err(ConformanceError::InvalidConfig {
                reason: "timeout must be between 1 ms and 600 s",
            });
        }
        if self.quiet.is_zero() || self.quiet > self.timeout {
            return Err(ConformanceError::InvalidConfig {
                reason: "quiet window must be positive and no longer than the timeout",
            });
        }
        if self.page_size < 2 || self.page_size > 4096 {
            return Err(ConformanceError::InvalidConfig {
                reason: "page size must be between 2 and 4096",
            });
        }
        if self.max_pages == 0 || self.max_pages > 10_000 {
            return Err(ConformanceError::InvalidConfig {
                reason: "max pages must be between 1 and 10000",
            });
        }
        Ok(())
    }

    /// The HELLO sent before the peer's is known: configured ids, genesis-only view (epoch 0 with a
    /// zero finalized root, which the eth2 rules accept as "matches"), best_slot 0 (no peer syncs
    /// from us) and the run's random [`ConformanceConfig::nonce_root`] as best_root.
    pub fn initial_hello(&self) -> Hello {
        Hello {
            network_id: self.network_id,
            chain_id: self.chain_id,
            latest_finalized_root: Root::ZERO,
            latest_finalized_epoch: Epoch(0),
            best_root: self.nonce_root(),
            best_slot: Slot(0),
        }
    }

    /// The best_root of every HELLO of this run: 32 bytes drawn from the seed (never zero).
    pub fn nonce_root(&self) -> Root {
        let mut rng = SmallRng::seed_from_u64(self.seed ^ 0x6865_6c6c_6f5f_726f);
        let mut root = [0u8; 32];
        rng.fill(&mut root);
        root[0] |= 1;
        Root(root)
    }

    /// The first request id of the `n`th connection: drawn from the seed, in 2^20..2^30 so it is
    /// exact in every integer type the 2019 clients wrote ids in (int32, int64, double).
    pub fn first_request_id(&self, n: u64) -> u64 {
        let mut rng = SmallRng::seed_from_u64(self.seed.wrapping_add(n.wrapping_mul(0x9e37_79b9)));
        rng.gen_range(1u64 << 20..1u64 << 30)
    }
}

/// The verdict of one check, with one line of evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The peer behaved as expected; what was seen.
    Pass {
        /// One line: what was observed.
        evidence: String,
    },
    /// The peer did not; what was seen instead.
    Fail {
        /// One line: what went wrong.
        evidence: String,
    },
    /// The check could not apply to this peer.
    Skipped {
        /// Why (e.g. the chain is only genesis, no HELLO from the peer).
        reason: String,
    },
}

impl CheckOutcome {
    /// A pass.
    pub fn pass(evidence: impl Into<String>) -> Self {
        CheckOutcome::Pass {
            evidence: evidence.into(),
        }
    }

    /// A failure.
    pub fn fail(evidence: impl Into<String>) -> Self {
        CheckOutcome::Fail {
            evidence: evidence.into(),
        }
    }

    /// A skip.
    pub fn skipped(reason: impl Into<String>) -> Self {
        CheckOutcome::Skipped {
            reason: reason.into(),
        }
    }

    /// `pass`, `fail` or `skipped`.
    pub fn status(&self) -> &'static str {
        match self {
            CheckOutcome::Pass { .. } => "pass",
            CheckOutcome::Fail { .. } => "fail",
            CheckOutcome::Skipped { .. } => "skipped",
        }
    }

    /// The evidence or the skip reason.
    pub fn evidence(&self) -> &str {
        match self {
            CheckOutcome::Pass { evidence } | CheckOutcome::Fail { evidence } => evidence,
            CheckOutcome::Skipped { reason } => reason,
        }
    }

    /// Whether this is a failure.
    pub fn is_fail(&self) -> bool {
        matches!(self, CheckOutcome::Fail { .. })
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Which check.
    pub id: CheckId,
    /// Its verdict.
    pub outcome: CheckOutcome,
    /// Time it took.
    pub elapsed: Duration,
}

impl CheckResult {
    /// Runs one check's future within `budget` (so that a stuck peer cannot stall the run): a
    /// check that does not finish in time fails, saying so. Both dialects' runners use it.
    pub(crate) async fn within(
        id: CheckId,
        budget: Duration,
        check: impl std::future::Future<Output = CheckOutcome>,
    ) -> Self {
        let started = Instant::now();
        let outcome = tokio::time::timeout(budget, check)
            .await
            .unwrap_or_else(|_| {
                CheckOutcome::fail(format!("check did not finish within {budget:?}"))
            });
        CheckResult {
            id,
            outcome,
            elapsed: started.elapsed(),
        }
    }
}

/// The whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct ConformanceReport {
    /// The address checked.
    pub target: SocketAddr,
    /// The peer's HELLO, when it answered one.
    pub peer_hello: Option<PeerHello>,
    /// One result per check, in run order.
    pub results: Vec<CheckResult>,
}

impl ConformanceReport {
    /// True when no check failed (skips are not failures).
    pub fn passed(&self) -> bool {
        !self.results.iter().any(|r| r.outcome.is_fail())
    }

    /// `passed` or `failed`.
    pub fn overall(&self) -> &'static str {
        if self.passed() {
            "passed"
        } else {
            "failed"
        }
    }

    /// Counts of (pass, fail, skipped).
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |s: &str| {
            self.results
                .iter()
                .filter(|r| r.outcome.status() == s)
                .count()
        };
        (count("pass"), count("fail"), count("skipped"))
    }

    /// The result of one check.
    pub fn result(&self, id: CheckId) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.id == id)
    }
}

/// What the checks share: the target, the configuration and what was learned from the peer.
#[derive(Debug, Clone)]
pub struct CheckContext {
    /// The peer.
    pub target: SocketAddr,
    /// Settings.
    pub config: ConformanceConfig,
    /// The peer's HELLO from the `hello` check; later connections mirror it.
    pub peer_hello: Option<PeerHello>,
    /// Source address of the connection that sent the malformed frame (`None`: the default one).
    pub offender_source: Option<std::net::IpAddr>,
    /// Connections opened so far (numbers each connection's first request id).
    pub connections: Arc<AtomicU64>,
}

impl CheckContext {
    /// Opens a connection for one check.
    pub async fn connect(&self) -> Result<Probe, String> {
        self.connect_from(None).await
    }

    /// Opens a connection from a given source address; its request ids start at a seeded value.
    pub async fn connect_from(&self, source: Option<std::net::IpAddr>) -> Result<Probe, String> {
        let mut probe = Probe::connect(self.target, source, self.config.timeout)
            .await
            .map_err(|e| e.to_string())?;
        let n = self.connections.fetch_add(1, Ordering::Relaxed);
        probe.start_ids_at(self.config.first_request_id(n));
        Ok(probe)
    }

    /// The HELLO we send on connections after the `hello` check: the peer's network, chain and
    /// finalized checkpoint (so it does not refuse us), best_slot 0 (so it does not try to sync
    /// from us) and the run's random best_root (so an echo is recognised); the configured initial
    /// HELLO when the peer gave none.
    pub fn our_hello(&self) -> Hello {
        match &self.peer_hello {
            Some(p) => Hello {
                best_root: self.config.nonce_root(),
                best_slot: Slot(0),
                ..p.hello.clone()
            },
            None => self.config.initial_hello(),
        }
    }

    /// Opens a connection and completes the HELLO exchange on it.
    pub async fn connect_handshaked(&self) -> Result<(Probe, PeerHello), String> {
        let mut probe = self.connect().await?;
        let hello = probe
            .handshake(&self.our_hello())
            .await
            .map_err(|e| format!("handshake on a new connection failed: {e}"))?;
        Ok((probe, hello))
    }
}

/// Runs one check, bounding its total time so that a stuck peer cannot stall the run.
async fn run_one(id: CheckId, ctx: &mut CheckContext) -> CheckResult {
    // The longest check reads `max_pages` pages plus a few requests, each bounded by `timeout`.
    let budget = ctx.config.timeout * (ctx.config.max_pages + 16) + ctx.config.quiet;
    let fut = async {
        match id {
            CheckId::PingEcho => ping_checks::ping_echo(ctx).await,
            CheckId::PingPipelined => ping_checks::ping_pipelined(ctx).await,
            CheckId::PingSplit => ping_checks::ping_split(ctx).await,
            CheckId::PongIgnored => ping_checks::pong_ignored(ctx).await,
            CheckId::Hello => rpc_checks::hello(ctx).await,
            CheckId::GetStatus => rpc_checks::get_status(ctx).await,
            CheckId::HeadersAscending => header_checks::headers_ascending(ctx).await,
            CheckId::HeadersDescending => header_checks::headers_descending(ctx).await,
            CheckId::HeadersSkip => header_checks::headers_skip(ctx).await,
            CheckId::HeadersMax => header_checks::headers_max(ctx).await,
            CheckId::BlockBodies => method_checks::block_bodies(ctx).await,
            CheckId::BeaconStates => method_checks::beacon_states(ctx).await,
            CheckId::RequestIds => method_checks::request_ids(ctx).await,
            CheckId::GossipRelayed => gossip_checks::gossip_relayed(ctx).await,
            CheckId::GossipLyingHash => gossip_checks::gossip_lying_hash(ctx).await,
            CheckId::GetAttestation => gossip_checks::get_attestation(ctx).await,
            CheckId::UnknownMethod => ping_checks::unknown_method(ctx).await,
            CheckId::GoodbyeWrongNetwork => method_checks::goodbye_wrong_network(ctx).await,
            CheckId::GoodbyeUnknownFinalized => method_checks::goodbye_unknown_finalized(ctx).await,
            CheckId::MalformedFrameCloses => ping_checks::malformed_frame_closes(ctx).await,
            CheckId::AcceptsAfterMalformed => ping_checks::accepts_after_malformed(ctx).await,
            CheckId::FixtureSynced | CheckId::FixtureRequests => CheckOutcome::skipped(
                "a fixture-mode check (--serve-chain): not run against a peer",
            ),
            eth => CheckOutcome::skipped(format!(
                "{eth} is a check of the ETH dialect (conformance eth+tcp://)"
            )),
        }
    };
    CheckResult::within(id, budget, fut).await
}

/// Runs every check against `target`. `Err` only when the configuration is invalid or the target
/// cannot be reached at all; a misbehaving peer gives a report with failures.
pub async fn run_conformance(
    target: SocketAddr,
    config: ConformanceConfig,
) -> Result<ConformanceReport, ConformanceError> {
    config.validate()?;
    // Reachability first: "cannot connect" is not a conformance failure.
    drop(Probe::connect(target, None, config.timeout).await?);
    let mut ctx = CheckContext {
        target,
        config,
        peer_hello: None,
        offender_source: None,
        connections: Arc::new(AtomicU64::new(0)),
    };
    let mut results = Vec::with_capacity(CheckId::ALL.len());
    for id in CheckId::ALL {
        let result = run_one(id, &mut ctx).await;
        tracing::debug!(check = %id, status = result.outcome.status(), evidence = result.outcome.evidence(), "check done");
        results.push(result);
    }
    Ok(ConformanceReport {
        target,
        peer_hello: ctx.peer_hello,
        results,
    })
}
