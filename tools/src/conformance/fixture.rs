//! Fixture mode of the conformance checker (`hobbits-node conformance --serve-chain FILE|seeded`):
//! listen as a node holding a known chain, let the peer under test dial in and sync, then judge
//! what it reports (its HELLO's best_root must become the fixture's head) and how it asked
//! (the GET_BLOCK_HEADERS / GET_BLOCK_BODIES ranges it sent, their skips and `max`).
//!
//! Owns [`FixtureConfig`], [`FixtureChain`] (a snapshot file or a seeded chain on the peer's
//! genesis), [`Fixture`] (the listener) and [`AskedRange`]. A plain tokio server over the chain
//! crate's `MemoryStore`, which answers ranges with the node's own rules.
//!
//! Handles: HELLO (answered with the fixture's head; the peer's head recorded), GET_STATUS,
//! GET_BLOCK_HEADERS, GET_BLOCK_BODIES (answered from the store and recorded), GET_ATTESTATION,
//! GET_BEACON_STATES (answered empty), PING, GOODBYE. Sends: HELLO requests every
//! [`FixtureConfig::poll`] to learn the peer's head, and the answers above.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use hobbits_chain::rpc::{
    AttestationResponse, BeaconStates, GetStatus, Hello, MAX_BLOCKS_PER_RESPONSE,
};
use hobbits_chain::snapshot::Snapshot;
use hobbits_chain::{
    BlockProducer, ChainRead, ChainStore, GenesisConfig, Head, MemoryStore, Root, Slot, StoreConfig,
};
use hobbits_codec::rpc::{RequestId, RpcEnvelope, RpcMethod, RpcPayload};
use hobbits_codec::{Envelope, FrameCodec};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

use super::conn::short_root;
use super::{CheckId, CheckOutcome, CheckResult, ConformanceError, ConformanceReport, PeerHello};

/// First id of the HELLO requests the fixture sends (far from the peer's own ids).
const FIRST_POLL_ID: u64 = 1 << 40;
/// Most requests recorded (later ones are counted only).
const MAX_RECORDED: usize = 4096;

/// How the fixture behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureConfig {
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// network_id of the fixture's HELLO.
    pub network_id: u8,
    /// chain_id of the fixture's HELLO.
    pub chain_id: u8,
    /// How long the peer has to connect and reach the fixture's head. Default 60 s.
    pub sync_timeout: Duration,
    /// How often the peer's head is asked for (a HELLO request). Default 250 ms.
    pub poll: Duration,
}

impl FixtureConfig {
    /// Defaults on `listen` for network 1, chain 1.
    pub fn new(listen: SocketAddr) -> Self {
        FixtureConfig {
            listen,
            network_id: 1,
            chain_id: 1,
            sync_timeout: Duration::from_secs(60),
            poll: Duration::from_millis(250),
        }
    }
}

/// Where the fixture's chain comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixtureChain {
    /// A snapshot file (`HOBSNAP`, chain/src/snapshot.rs).
    File(std::path::PathBuf),
    /// `blocks` blocks on the genesis of (network, chain, genesis_time), slots chosen from `seed`
    /// with empty slots between some of them (so a skip-aware peer is seen using skips).
    Seeded {
        /// Seed of the slots and the producer's name.
        seed: u64,
        /// Blocks after genesis (1..=4096).
        blocks: u64,
        /// Genesis time, seconds (the peer must use the same, e.g. `run --genesis-time`).
        genesis_time: u64,
    },
}

impl FixtureChain {
    /// Builds the store.
    pub fn load(&self, network_id: u8, chain_id: u8) -> Result<MemoryStore, ConformanceError> {
        let bad = |reason: String| ConformanceError::Fixture { reason };
        match self {
            FixtureChain::File(path) => Snapshot::read_file(Path::new(path))
                .and_then(|s| s.into_store(StoreConfig::default()))
                .map_err(|e| bad(format!("{}: {e}", path.display()))),
            FixtureChain::Seeded {
                seed,
                blocks,
                genesis_time,
            } => {
                if !(1..=4096).contains(blocks) {
                    return Err(bad("a seeded chain has 1 to 4096 blocks".into()));
                }
                let genesis = GenesisConfig::new(
                    network_id,
                    chain_id,
                    Duration::from_secs(*genesis_time),
                    None,
                )
                .map_err(|e| bad(e.to_string()))?;
                let mut store = genesis
                    .memory_store(StoreConfig::default())
                    .map_err(|e| bad(e.to_string()))?;
                let producer = BlockProducer::new(&format!("fixture-{seed:x}"), 0);
                let mut rng = SmallRng::seed_from_u64(*seed);
                let mut slot = 0u64;
                for _ in 0..*blocks {
                    // One slot in four is left empty.
                    slot += if rng.gen_ratio(1, 4) { 2 } else { 1 };
                    let block = producer
                        .produce_on_head(&store, Slot(slot))
                        .map_err(|e| bad(e.to_string()))?;
                    store.import_block(block).map_err(|e| bad(e.to_string()))?;
                }
                Ok(store)
            }
        }
    }
}

/// One range request the peer sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedRange {
    /// GET_BLOCK_HEADERS or GET_BLOCK_BODIES.
    pub method: RpcMethod,
    /// Start root (zero: by slot).
    pub start_root: Root,
    /// Start slot.
    pub start_slot: Slot,
    /// `max`.
    pub max: u64,
    /// `skip`.
    pub skip: u64,
    /// `direction` (1 ascending).
    pub direction: u8,
    /// Blocks answered.
    pub answered: usize,
}

impl AskedRange {
    /// One line, e.g. `BODIES asc slot 1 max 64 skip 0 → 40`.
    pub fn describe(&self) -> String {
        let what = if self.method == RpcMethod::GetBlockBodies {
            "BODIES"
        } else {
            "HEADERS"
        };
        let dir = if self.direction == 1 { "asc" } else { "desc" };
        let from = if self.start_root.is_zero() {
            format!("slot {}", self.start_slot.0)
        } else {
            format!("root {}", short_root(&self.start_root.0))
        };
        format!(
            "{what} {dir} {from} max {} skip {} → {}",
            self.max, self.skip, self.answered
        )
    }
}

/// What the connections saw, shared by their tasks.
#[derive(Debug, Default)]
struct Observed {
    /// The peer's latest HELLO (request or reply).
    peer_hello: Option<PeerHello>,
    /// Range requests, in arrival order (at most [`MAX_RECORDED`]).
    ranges: Vec<AskedRange>,
    /// Requests that did not decode, and other oddities.
    problems: Vec<String>,
    /// Blocks (signing roots) sent in BLOCK_BODIES.
    bodies_served: std::collections::HashSet<Root>,
    /// Connections accepted.
    connections: u64,
}

/// A fixture listening with its chain.
#[derive(Debug)]
pub struct Fixture {
    listener: TcpListener,
    store: Arc<Mutex<MemoryStore>>,
    config: FixtureConfig,
    head: Head,
}

impl Fixture {
    /// Binds the listener.
    pub async fn bind(config: FixtureConfig, store: MemoryStore) -> Result<Self, ConformanceError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|e| ConformanceError::Fixture {
                    reason: format!("cannot listen on {}: {e}", config.listen),
                })?;
        let head = store.head();
        Ok(Fixture {
            listener,
            store: Arc::new(Mutex::new(store)),
            config,
            head,
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// The fixture's head.
    pub fn head(&self) -> Head {
        self.head
    }

    /// Serves until the peer's HELLO names the fixture's head or the sync timeout passes; then
    /// judges what was seen.
    pub async fn run(self) -> ConformanceReport {
        let started = Instant::now();
        let deadline = started + self.config.sync_timeout;
        let observed = Arc::new(Mutex::new(Observed::default()));
        let target = self.local_addr().unwrap_or(self.config.listen);
        let head = self.head;
        let mut tasks = Vec::new();
        let synced = loop {
            if let Some(p) = lock(&observed).peer_hello.as_ref() {
                if p.hello.best_root == head.root {
                    break true;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            let wait = left.min(Duration::from_millis(50));
            if let Ok(Ok((stream, _))) = tokio::time::timeout(wait, self.listener.accept()).await {
                lock(&observed).connections += 1;
                tasks.push(tokio::spawn(serve(
                    stream,
                    self.store.clone(),
                    observed.clone(),
                    self.config.clone(),
                )));
            }
        };
        for t in &tasks {
            t.abort();
        }
        let elapsed = started.elapsed();
        let observed = lock(&observed);
        let results = vec![
            CheckResult {
                id: CheckId::FixtureSynced,
                outcome: judge_synced(synced, head, &observed, elapsed),
                elapsed,
            },
            CheckResult {
                id: CheckId::FixtureRequests,
                outcome: judge_requests(&self.store, &observed),
                elapsed,
            },
        ];
        ConformanceReport {
            target,
            peer_hello: observed.peer_hello.clone(),
            results,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn judge_synced(synced: bool, head: Head, seen: &Observed, elapsed: Duration) -> CheckOutcome {
    let fixture = format!("slot {} root {}", head.slot.0, short_root(&head.root.0));
    match (&seen.peer_hello, synced) {
        (_, true) => CheckOutcome::pass(format!(
            "the peer's HELLO names the fixture's head ({fixture}) after {} ms",
            elapsed.as_millis()
        )),
        (None, false) if seen.connections == 0 => CheckOutcome::fail(format!(
            "no peer connected within {elapsed:?} (point it at this address)"
        )),
        (None, false) => CheckOutcome::fail(format!(
            "{} connection(s), but no HELLO from the peer",
            seen.connections
        )),
        (Some(p), false) => CheckOutcome::fail(format!(
            "after {elapsed:?} the peer's head is slot {} root {}, not the fixture's {fixture}",
            p.hello.best_slot.0,
            short_root(&p.hello.best_root.0)
        )),
    }
}

fn judge_requests(store: &Mutex<MemoryStore>, seen: &Observed) -> CheckOutcome {
    let store = lock(store);
    if let Some(p) = seen.problems.first() {
        return CheckOutcome::fail(format!("{p} ({} problem(s))", seen.problems.len()));
    }
    if seen.ranges.is_empty() {
        return CheckOutcome::fail(
            "the peer asked for no range (GET_BLOCK_HEADERS / GET_BLOCK_BODIES)",
        );
    }
    let genesis = store.genesis_root();
    let canonical: Vec<Root> = store
        .blocks_in_slot_order(store.head().slot)
        .iter()
        .map(|b| b.signing_root())
        .filter(|r| *r != genesis && store.is_canonical(r))
        .collect();
    let missing = canonical
        .iter()
        .filter(|r| !seen.bodies_served.contains(r))
        .count();
    let skips: std::collections::BTreeSet<u64> = seen.ranges.iter().map(|r| r.skip).collect();
    let shown: Vec<String> = seen
        .ranges
        .iter()
        .take(8)
        .map(AskedRange::describe)
        .collect();
    let more = seen.ranges.len().saturating_sub(shown.len());
    let summary = format!(
        "{} range request(s), skips used {:?}: {}{}",
        seen.ranges.len(),
        skips,
        shown.join("; "),
        if more > 0 {
            format!("; … {more} more")
        } else {
            String::new()
        }
    );
    if missing > 0 {
        return CheckOutcome::fail(format!(
            "{missing} of the fixture's {} blocks were never fetched as bodies; {summary}",
            canonical.len()
        ));
    }
    CheckOutcome::pass(format!(
        "every one of the {} blocks fetched as a body; {summary}",
        canonical.len()
    ))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Serves one connection until it closes.
async fn serve(
    stream: TcpStream,
    store: Arc<Mutex<MemoryStore>>,
    observed: Arc<Mutex<Observed>>,
    config: FixtureConfig,
) {
    let _ = stream.set_nodelay(true);
    let mut framed = Framed::new(stream, FrameCodec::default());
    let mut poll = tokio::time::interval(config.poll);
    let mut next_poll_id = FIRST_POLL_ID;
    let ours = || lock(&store).hello(config.network_id, config.chain_id);
    let mut handshaked = false;
    loop {
        let frame = tokio::select! {
            item = framed.next() => match item {
                Some(Ok(f)) => f,
                Some(Err(e)) => {
                    lock(&observed).problems.push(format!("the peer sent bytes that do not frame: {e}"));
                    return;
                }
                None => return,
            },
            _ = poll.tick() => {
                if handshaked {
                    let hello = RpcEnvelope::new(RequestId(next_poll_id), &RpcPayload::Hello(ours()));
                    next_poll_id += 1;
                    if let Ok(f) = hello.to_frame() {
                        if framed.send(f).await.is_err() {
                            return;
                        }
                    }
                }
                continue;
            }
        };
        let reply = match Envelope::from_frame(&frame) {
            Ok(Envelope::Ping(p)) => p.reply().map(|pong| pong.to_frame()),
            Ok(Envelope::Rpc(env)) => {
                let (reply, close) = answer(&env, &store, &observed, &ours);
                if env.header.method == RpcMethod::Hello {
                    handshaked = true;
                }
                if close {
                    return;
                }
                reply.and_then(|p| RpcEnvelope::new(env.header.id, &p).to_frame().ok())
            }
            Ok(Envelope::Gossip(_)) => None,
            Err(e) => {
                lock(&observed)
                    .problems
                    .push(format!("a frame that does not decode: {e}"));
                None
            }
        };
        if let Some(reply) = reply {
            if framed.send(reply).await.is_err() {
                return;
            }
        }
    }
}

/// The answer to one RPC frame (`None`: no answer) and whether to close.
fn answer(
    env: &RpcEnvelope,
    store: &Mutex<MemoryStore>,
    observed: &Mutex<Observed>,
    ours: &dyn Fn() -> Hello,
) -> (Option<RpcPayload>, bool) {
    let decoded = match env.decode_payload() {
        Ok(d) => d,
        Err(e) => {
            lock(observed)
                .problems
                .push(format!("{} that does not decode: {e}", env.header.method));
            return (None, false);
        }
    };
    let is_poll_reply = env.header.id.0 >= FIRST_POLL_ID;
    match decoded.payload {
        RpcPayload::Hello(hello) => {
            lock(observed).peer_hello = Some(PeerHello {
                hello,
                shape: decoded.shape,
                defaulted: decoded.defaulted,
            });
            // A reply to our poll is not answered.
            ((!is_poll_reply).then(|| RpcPayload::Hello(ours())), false)
        }
        RpcPayload::Goodbye(_) => (None, true),
        RpcPayload::GetStatus(_) => (
            Some(RpcPayload::GetStatus(GetStatus::new(
                &format!(
                    "hobbits-node-conformance-fixture/{}",
                    env!("CARGO_PKG_VERSION")
                ),
                now_ms(),
            ))),
            false,
        ),
        RpcPayload::GetBlockHeaders(mut r) => {
            let asked = r.clone();
            r.max = r.max.min(MAX_BLOCKS_PER_RESPONSE);
            let headers = lock(store).block_headers(&r);
            record(
                observed,
                RpcMethod::GetBlockHeaders,
                &asked,
                headers.headers.len(),
                &[],
            );
            (Some(RpcPayload::BlockHeaders(headers)), false)
        }
        RpcPayload::GetBlockBodies(mut r) => {
            let asked = r.clone();
            r.max = r.max.min(MAX_BLOCKS_PER_RESPONSE);
            let bodies = lock(store).block_bodies(&r);
            let roots: Vec<Root> = bodies.bodies.iter().map(|b| b.signing_root()).collect();
            let asked_h: hobbits_chain::rpc::GetBlockHeaders = asked.into();
            record(
                observed,
                RpcMethod::GetBlockBodies,
                &asked_h,
                roots.len(),
                &roots,
            );
            (Some(RpcPayload::BlockBodies(bodies)), false)
        }
        RpcPayload::GetAttestation(_) => (
            Some(RpcPayload::Attestation(AttestationResponse::default())),
            false,
        ),
        RpcPayload::GetBeaconStates(_) => (
            Some(RpcPayload::BeaconStates(BeaconStates::default())),
            false,
        ),
        _ => (None, false),
    }
}

fn record(
    observed: &Mutex<Observed>,
    method: RpcMethod,
    r: &hobbits_chain::rpc::GetBlockHeaders,
    answered: usize,
    bodies: &[Root],
) {
    let mut o = lock(observed);
    o.bodies_served.extend(bodies.iter().copied());
    if o.ranges.len() < MAX_RECORDED {
        o.ranges.push(AskedRange {
            method,
            start_root: r.start_root,
            start_slot: r.start_slot,
            max: r.max,
            skip: r.skip,
            direction: r.direction,
            answered,
        });
    }
}
