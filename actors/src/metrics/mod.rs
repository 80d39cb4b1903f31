//! Metrics of one node on `prometheus-client` (the Prometheus project's Rust client): the
//! [`Metrics`] registry shared by `Arc` (sessions count frames, bytes, RPC requests and PING round
//! trips into its counters and histograms as they happen; before each scrape a [`Refresh`] — the
//! node's collector, `node/collect.rs` — copies the actors' own counters — peers, head, finality,
//! gossip, sync — into it as [`NodeGauges`], which a registered collector encodes), its exposition
//! in the Prometheus text format or OpenMetrics ([`ExpositionFormat`], chosen from `Accept`), and
//! the per-session pinger state ([`PingTracker`]). The HTTP server that serves it is `crate::http`.
//! At the bottom of the crate: it knows no actor.
//!
//! Bounds: RPC series are keyed by the fixed set of method names (at most 2 × 12 series); per-peer
//! series are removed when the session stops and capped at [`MetricsConfig::max_peer_series`];
//! histograms have fixed buckets. Handles and sends no actix messages.

mod node_values;
mod ping;

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hobbits_codec::rpc::RpcMethod;
use hobbits_codec::Protocol;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

pub use ping::PingTracker;

/// Why a metrics configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A bound that must be positive is zero.
    #[error("metrics config `{field}` must be positive")]
    Zero {
        /// The field.
        field: &'static str,
    },
}

/// Tuning of the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// How often every session pings its peer to measure the round trip. Default 5 s.
    pub ping_interval: Duration,
    /// Most per-peer series kept (beyond this, new peers are not given a series). Default 1024.
    pub max_peer_series: usize,
    /// Longest wait for one actor's answer during a [`Refresh`]. Default 500 ms.
    pub query_timeout: Duration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            ping_interval: Duration::from_secs(5),
            max_peer_series: 1024,
            query_timeout: Duration::from_millis(500),
        }
    }
}

impl MetricsConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), MetricsError> {
        let zero = |field| Err(MetricsError::Zero { field });
        if self.ping_interval.is_zero() {
            return zero("ping_interval");
        }
        if self.max_peer_series == 0 {
            return zero("max_peer_series");
        }
        if self.query_timeout.is_zero() {
            return zero("query_timeout");
        }
        Ok(())
    }
}

/// Called before each scrape to copy values the registry does not count itself (peers, head,
/// gossip and sync counters) into it. Each actor's answer should be bounded by
/// [`MetricsConfig::query_timeout`]; what does not answer keeps its previous values. `Send` and
/// `Sync` because the HTTP server's worker thread holds it; the future runs on that thread.
pub trait Refresh: std::fmt::Debug + Send + Sync {
    /// Stores fresh values in `metrics`.
    fn refresh<'a>(&'a self, metrics: &'a Metrics) -> Pin<Box<dyn Future<Output = ()> + 'a>>;
}

/// Upper bounds (seconds) of the latency histograms' buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Which side of an RPC exchange this node was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RpcRole {
    /// We served a peer's request.
    Server,
    /// We sent the request and waited for the response.
    Client,
}

impl RpcRole {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            RpcRole::Server => "server",
            RpcRole::Client => "client",
        }
    }
}

/// The exposition formats served, chosen by the scraper's `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpositionFormat {
    /// The Prometheus text format, version 0.0.4 (the default).
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl ExpositionFormat {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            ExpositionFormat::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            ExpositionFormat::OpenMetrics => {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
        }
    }

    /// The format an `Accept` header prefers: the media range with the highest `q` among
    /// `application/openmetrics-text` and `text/plain` (ties and anything else: text).
    pub fn negotiate(accept: Option<&str>) -> Self {
        let mut best = (0.0f64, ExpositionFormat::Text);
        for range in accept.unwrap_or("").split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f64>().ok())
                .unwrap_or(1.0);
            let format = match media.as_str() {
                "application/openmetrics-text" => ExpositionFormat::OpenMetrics,
                "text/plain" => ExpositionFormat::Text,
                _ => continue,
            };
            if q > best.0 || (q == best.0 && format == ExpositionFormat::Text) {
                best = (q, format);
            }
        }
        best.1
    }
}

/// Values copied from the actors by the node's [`Refresh`] before each scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeGauges {
    /// Handshaked peers.
    pub peers: u64,
    /// Open connections (handshaked or not).
    pub connections: u64,
    /// Head slot.
    pub head_slot: u64,
    /// Finalized epoch.
    pub finalized_epoch: u64,
    /// First slot of the finalized epoch.
    pub finalized_slot: u64,
    /// Blocks in the store.
    pub blocks_stored: u64,
    /// Gossip counters, when a gossip actor is attached.
    pub gossip: Option<GossipGauges>,
    /// Sync progress, when a sync actor is attached.
    pub sync: Option<SyncGauges>,
    /// Connections refused and evicted by the peer manager, by reason (label, count).
    pub slots: Option<SlotCounters>,
    /// The gossip overlay's control traffic, when the node runs the overlay.
    pub overlay: Option<ControlCounters>,
}

/// The gossip overlay's control traffic (the router's counters, copied), per verb in method id
/// order: PRUNE, GRAFT, IHAVE, IWANT.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ControlCounters {
    /// Control frames sent.
    pub frames_sent: [u64; 4],
    /// Their bytes (whole frames).
    pub bytes_sent: [u64; 4],
    /// Control frames received and acted upon.
    pub frames_received: [u64; 4],
    /// Their bytes.
    pub bytes_received: [u64; 4],
    /// Objects announced, asked for and received (repairs by pull).
    pub pulls: u64,
}

/// The peer manager's slot counters (docs/PROTOCOL.md, "Connection slots"), by reason label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotCounters {
    /// Connections refused: `accept_rate`, `pending_per_address`, `peers_per_address`,
    /// `banned`, `banned_node`, `slots_full`.
    pub refused: Vec<(&'static str, u64)>,
    /// Connections closed to make room: `pending` (pending cap), `displaced` (peer slots).
    pub evicted: Vec<(&'static str, u64)>,
}

/// Frames and bytes of one protocol since the start ([`Metrics::traffic`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Frames read.
    pub frames_received: u64,
    /// Bytes read (whole frames).
    pub bytes_received: u64,
    /// Frames written.
    pub frames_sent: u64,
    /// Bytes written (whole frames).
    pub bytes_sent: u64,
}

/// Gossip counters (the gossip actor's, copied).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GossipGauges {
    /// Gossip messages received.
    pub received: u64,
    /// Objects relayed to other peers (once each).
    pub relayed: u64,
    /// Gossip messages dropped as duplicates.
    pub duplicate: u64,
    /// Gossip messages dropped as invalid (sender penalised).
    pub invalid: u64,
    /// Gossiped objects new to the store.
    pub imported: u64,
    /// Objects published by this node.
    pub published: u64,
    /// Announced objects fetched by RPC.
    pub announced_fetched: u64,
}

/// Sync progress.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SyncGauges {
    /// True while a range sync runs.
    pub syncing: bool,
    /// Slot the sync aims for (our head when idle).
    pub target_slot: u64,
    /// Every slot below this is imported.
    pub imported_slot: u64,
    /// Fraction of the current range sync done, 1 when idle.
    pub progress: f64,
    /// Blocks imported by range sync since start.
    pub blocks_imported: u64,
    /// Range syncs completed.
    pub syncs_completed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ProtocolLabels {
    protocol: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RpcLabels {
    role: &'static str,
    method: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PeerLabels {
    peer: String,
}

fn protocol_label(p: Protocol) -> ProtocolLabels {
    let protocol = match p {
        Protocol::Rpc => "rpc",
        Protocol::Gossip => "gossip",
        Protocol::Ping => "ping",
    };
    ProtocolLabels { protocol }
}

/// A poisoned lock only means another thread panicked mid-update of plain values: keep going.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The registry: cheap to update from any thread; [`Metrics::encode`] renders it. Every metric
/// name starts with `hobbits_` (docs/ARCHITECTURE.md lists them), but for the three beacon metrics
/// interop names (`libp2p_peers`, `beacon_head_slot`, `beacon_finalized_epoch`).
#[derive(Debug)]
pub struct Metrics {
    config: MetricsConfig,
    registry: Registry,
    frames_received: Family<ProtocolLabels, Counter>,
    bytes_received: Family<ProtocolLabels, Counter>,
    frames_sent: Family<ProtocolLabels, Counter>,
    bytes_sent: Family<ProtocolLabels, Counter>,
    rpc_requests: Family<RpcLabels, Counter>,
    rpc_failures: Family<RpcLabels, Counter>,
    rpc_duration: Family<RpcLabels, Histogram, fn() -> Histogram>,
    pings_sent: Counter,
    pings_lost: Counter,
    ping_rtt: Histogram,
    peer_rtt: Family<PeerLabels, Gauge<f64, AtomicU64>>,
    /// The peers with a `peer_rtt` series (the family does not count them).
    peers: Mutex<BTreeSet<SocketAddr>>,
    node: Arc<Mutex<NodeGauges>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::build(MetricsConfig::default())
    }
}

impl Metrics {
    /// A registry with `config` (validated).
    pub fn new(config: MetricsConfig) -> Result<Self, MetricsError> {
        config.validate()?;
        Ok(Metrics::build(config))
    }

    fn build(config: MetricsConfig) -> Self {
        let node: Arc<Mutex<NodeGauges>> = Arc::default();
        // The root holds the beacon metrics interop names unprefixed; ours live under `hobbits_`.
        let mut registry = Registry::default();
        registry.register_collector(Box::new(node_values::InteropValues(Arc::clone(&node))));
        let m = Metrics {
            config,
            frames_received: Family::default(),
            bytes_received: Family::default(),
            frames_sent: Family::default(),
            bytes_sent: Family::default(),
            rpc_requests: Family::default(),
            rpc_failures: Family::default(),
            rpc_duration: Family::new_with_constructor(latency_histogram),
            pings_sent: Counter::default(),
            pings_lost: Counter::default(),
            ping_rtt: latency_histogram(),
            peer_rtt: Family::default(),
            peers: Mutex::default(),
            node: Arc::clone(&node),
            registry: Registry::default(),
        };
        // The traffic series exist from the start, zero until the first frame.
        for p in [Protocol::Rpc, Protocol::Gossip, Protocol::Ping] {
            for f in [
                &m.frames_received,
                &m.bytes_received,
                &m.frames_sent,
                &m.bytes_sent,
            ] {
                f.get_or_create(&protocol_label(p)).inc_by(0);
            }
        }
        let r = registry.sub_registry_with_prefix("hobbits");
        r.register_collector(Box::new(node_values::NodeValues(m.node.clone())));
        r.register(
            "frames_received",
            "Frames read, by protocol",
            m.frames_received.clone(),
        );
        r.register(
            "bytes_received",
            "Bytes read (whole frames), by protocol",
            m.bytes_received.clone(),
        );
        r.register(
            "frames_sent",
            "Frames written, by protocol",
            m.frames_sent.clone(),
        );
        r.register(
            "bytes_sent",
            "Bytes written (whole frames), by protocol",
            m.bytes_sent.clone(),
        );
        r.register(
            "rpc_requests",
            "RPC requests, by role (server: served for a peer; client: sent by us) and method",
            m.rpc_requests.clone(),
        );
        r.register(
            "rpc_failures",
            "RPC requests we sent that ended without a response (timeout, bad response, disconnect)",
            m.rpc_failures.clone(),
        );
        r.register_with_unit(
            "rpc_duration",
            "RPC latency: to the response (client) or to writing our response (server)",
            Unit::Seconds,
            m.rpc_duration.clone(),
        );
        r.register(
            "pings_sent",
            "PINGs this node sent to measure round trips",
            m.pings_sent.clone(),
        );
        r.register(
            "pings_lost",
            "PINGs without a pong before the next one was due or the connection closed",
            m.pings_lost.clone(),
        );
        r.register_with_unit(
            "ping_rtt",
            "PING round trips, every peer",
            Unit::Seconds,
            m.ping_rtt.clone(),
        );
        r.register_with_unit(
            "peer_ping_rtt",
            "Last PING round trip, by connected peer address",
            Unit::Seconds,
            m.peer_rtt.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The configuration.
    pub fn config(&self) -> &MetricsConfig {
        &self.config
    }

    /// A frame of `len` bytes was read.
    pub fn frame_in(&self, protocol: Protocol, len: usize) {
        let l = protocol_label(protocol);
        self.frames_received.get_or_create(&l).inc();
        self.bytes_received.get_or_create(&l).inc_by(len as u64);
    }

    /// A frame of `len` bytes was written.
    pub fn frame_out(&self, protocol: Protocol, len: usize) {
        let l = protocol_label(protocol);
        self.frames_sent.get_or_create(&l).inc();
        self.bytes_sent.get_or_create(&l).inc_by(len as u64);
    }

    /// The frames and bytes of `protocol` counted so far, both ways (the testnet's event log reads
    /// the gossip ones: docs/TESTNETS.md).
    pub fn traffic(&self, protocol: Protocol) -> Traffic {
        let l = protocol_label(protocol);
        let get = |f: &Family<ProtocolLabels, Counter>| f.get(&l).map_or(0, |c| c.get());
        Traffic {
            frames_received: get(&self.frames_received),
            bytes_received: get(&self.bytes_received),
            frames_sent: get(&self.frames_sent),
            bytes_sent: get(&self.bytes_sent),
        }
    }

    /// An RPC exchange finished: `latency` from request to response, `ok` false for a client
    /// request that failed.
    pub fn rpc_observed(&self, role: RpcRole, method: RpcMethod, latency: Duration, ok: bool) {
        let l = RpcLabels {
            role: role.label(),
            method: method.name(),
        };
        self.rpc_requests.get_or_create(&l).inc();
        // Both series exist for every pair seen, so a ratio of the two is always defined.
        let failures = self.rpc_failures.get_or_create(&l);
        let latencies = self.rpc_duration.get_or_create(&l);
        if ok {
            latencies.observe(latency.as_secs_f64());
        } else {
            failures.inc();
        }
    }

    /// RPC requests counted for (`role`, `method`).
    pub fn rpc_requests(&self, role: RpcRole, method: RpcMethod) -> u64 {
        let l = RpcLabels {
            role: role.label(),
            method: method.name(),
        };
        self.rpc_requests.get(&l).map_or(0, |c| c.get())
    }

    /// A PING was sent.
    pub fn ping_sent(&self) {
        self.pings_sent.inc();
    }

    /// A PING got no pong in time.
    pub fn ping_lost(&self) {
        self.pings_lost.inc();
    }

    /// A pong from `peer` arrived `rtt` after its PING.
    pub fn ping_answered(&self, peer: SocketAddr, rtt: Duration) {
        self.ping_rtt.observe(rtt.as_secs_f64());
        let mut peers = lock(&self.peers);
        if peers.contains(&peer) || peers.len() < self.config.max_peer_series {
            peers.insert(peer);
            let l = PeerLabels {
                peer: peer.to_string(),
            };
            self.peer_rtt.get_or_create(&l).set(rtt.as_secs_f64());
        }
    }

    /// The connection to `peer` closed: its series go.
    pub fn peer_removed(&self, peer: SocketAddr) {
        let mut peers = lock(&self.peers);
        if peers.remove(&peer) {
            self.peer_rtt.remove(&PeerLabels {
                peer: peer.to_string(),
            });
        }
    }

    /// Peers with a round-trip series.
    pub fn peer_series(&self) -> usize {
        lock(&self.peers).len()
    }

    /// Replaces the values copied from the actors.
    pub fn set_node(&self, node: NodeGauges) {
        *lock(&self.node) = node;
    }

    /// The values last copied from the actors.
    pub fn node(&self) -> NodeGauges {
        lock(&self.node).clone()
    }

    /// The current values in `format`.
    pub fn encode(&self, format: ExpositionFormat) -> String {
        let mut out = String::with_capacity(8 * 1024);
        // Writing into a String cannot fail; an encoder error would leave a partial text.
        let written = match format {
            ExpositionFormat::Text => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            }
            ExpositionFormat::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.registry)
            }
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, "metrics encoding failed");
        }
        out
    }

    /// The Prometheus text exposition (version 0.0.4) of the current values.
    pub fn render(&self) -> String {
        self.encode(ExpositionFormat::Text)
    }
}
#[cfg(test)]
mod tests;
