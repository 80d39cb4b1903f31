//! Metrics of one node: the [`Metrics`] registry shared by `Arc` (sessions count frames, bytes, RPC
//! requests and PING round trips into it as they happen; before each scrape a [`Refresh`] — the
//! node's collector, `node/collect.rs` — copies the actors' own counters — peers, head, finality,
//! gossip, sync — into it as [`NodeGauges`]), the Prometheus text rendering ([`render`], a plain
//! function), the per-session pinger state ([`PingTracker`]) and a tiny HTTP/1.1 responder serving
//! `GET /metrics` ([`MetricsServer`]). At the bottom of the crate: it knows no actor.
//!
//! Bounds: RPC series are keyed by the fixed set of method names (at most 2 × 12 series); per-peer
//! series are removed when the session stops and capped at [`MetricsConfig::max_peer_series`];
//! histograms have fixed buckets. Handles and sends no actix messages.

mod http;
mod ping;
mod render;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hobbits_codec::rpc::RpcMethod;
use hobbits_codec::Protocol;

pub use http::{parse_request_line, HttpRoute, MetricsServer, Refresh};
pub use ping::PingTracker;
pub use render::{parse_samples, render, Sample};

/// Why a metrics configuration or server was refused.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A bound that must be positive is zero.
    #[error("metrics config `{field}` must be positive")]
    Zero {
        /// The field.
        field: &'static str,
    },
    /// The HTTP listener could not be bound.
    #[error("cannot serve metrics on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
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

/// Upper bounds (seconds) of the latency histograms' buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram with the [`LATENCY_BUCKETS`] (counts per bucket, not cumulative).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Observations per bucket; index `LATENCY_BUCKETS.len()` is `+Inf`.
    pub buckets: [u64; LATENCY_BUCKETS.len() + 1],
    /// Sum of the observations, seconds.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&mut self, value: Duration) {
        let secs = value.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i] += 1;
        self.sum += secs;
        self.count += 1;
    }

    /// Cumulative counts per bucket bound (`None` = `+Inf`), as Prometheus wants them.
    pub fn cumulative(&self) -> Vec<(Option<f64>, u64)> {
        let mut acc = 0;
        let mut out = Vec::with_capacity(self.buckets.len());
        for (i, n) in self.buckets.iter().enumerate() {
            acc += n;
            out.push((LATENCY_BUCKETS.get(i).copied(), acc));
        }
        out
    }
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

/// Counters of one (role, method) pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RpcSeries {
    /// Requests sent (client) or received and served (server).
    pub requests: u64,
    /// Client: requests that ended in an error (timeout, bad response, disconnect).
    pub failures: u64,
    /// Time to the response (client) or to writing our response (server).
    pub latency: Histogram,
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

/// Frames and bytes of one protocol in one direction.
#[derive(Debug, Default)]
struct Traffic {
    frames: AtomicU64,
    bytes: AtomicU64,
}

/// Last PING round trip of one peer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerRtt {
    /// Most recent round trip.
    pub last: Duration,
    /// Pongs received from this peer.
    pub pongs: u64,
}

/// The registry: cheap to update from any thread, read with [`Metrics::snapshot`].
#[derive(Debug, Default)]
pub struct Metrics {
    config: MetricsConfig,
    /// [protocol][0 in, 1 out]
    traffic: [[Traffic; 2]; 3],
    rpc: Mutex<BTreeMap<(RpcRole, &'static str), RpcSeries>>,
    ping_rtt: Mutex<Histogram>,
    pings_sent: AtomicU64,
    pings_lost: AtomicU64,
    peers: Mutex<BTreeMap<SocketAddr, PeerRtt>>,
    node: Mutex<NodeGauges>,
}

/// A copy of every value, for rendering and for embedders.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// (protocol name, frames in, bytes in, frames out, bytes out), protocols in wire order.
    pub traffic: Vec<TrafficSnapshot>,
    /// RPC series by (role, method name).
    pub rpc: BTreeMap<(RpcRole, &'static str), RpcSeries>,
    /// PING round trips of every peer.
    pub ping_rtt: Histogram,
    /// PINGs sent.
    pub pings_sent: u64,
    /// PINGs never answered before the next was due (or the session closed).
    pub pings_lost: u64,
    /// Last round trip per connected peer.
    pub peers: BTreeMap<SocketAddr, PeerRtt>,
    /// Values copied from the actors.
    pub node: NodeGauges,
}

/// Traffic of one protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficSnapshot {
    /// Label value: `rpc`, `gossip`, `ping`.
    pub protocol: &'static str,
    /// Frames read.
    pub frames_in: u64,
    /// Bytes read (whole frames).
    pub bytes_in: u64,
    /// Frames written.
    pub frames_out: u64,
    /// Bytes written (whole frames).
    pub bytes_out: u64,
}

const PROTOCOLS: [(Protocol, &str); 3] = [
    (Protocol::Rpc, "rpc"),
    (Protocol::Gossip, "gossip"),
    (Protocol::Ping, "ping"),
];

fn proto_index(p: Protocol) -> usize {
    match p {
        Protocol::Rpc => 0,
        Protocol::Gossip => 1,
        Protocol::Ping => 2,
    }
}

/// A poisoned lock only means another thread panicked mid-update of plain counters: keep going.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    /// A registry with `config` (validated).
    pub fn new(config: MetricsConfig) -> Result<Self, MetricsError> {
        config.validate()?;
        Ok(Metrics {
            config,
            ..Default::default()
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MetricsConfig {
        &self.config
    }

    /// A frame of `len` bytes was read.
    pub fn frame_in(&self, protocol: Protocol, len: usize) {
        let t = &self.traffic[proto_index(protocol)][0];
        t.frames.fetch_add(1, Ordering::Relaxed);
        t.bytes.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// A frame of `len` bytes was written.
    pub fn frame_out(&self, protocol: Protocol, len: usize) {
        let t = &self.traffic[proto_index(protocol)][1];
        t.frames.fetch_add(1, Ordering::Relaxed);
        t.bytes.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// An RPC exchange finished: `latency` from request to response, `ok` false for a client
    /// request that failed.
    pub fn rpc_observed(&self, role: RpcRole, method: RpcMethod, latency: Duration, ok: bool) {
        let mut rpc = lock(&self.rpc);
        let s = rpc.entry((role, method.name())).or_default();
        s.requests += 1;
        if ok {
            s.latency.observe(latency);
        } else {
            s.failures += 1;
        }
    }

    /// A PING was sent.
    pub fn ping_sent(&self) {
        self.pings_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// A PING got no pong in time.
    pub fn ping_lost(&self) {
        self.pings_lost.fetch_add(1, Ordering::Relaxed);
    }

    /// A pong from `peer` arrived `rtt` after its PING.
    pub fn ping_answered(&self, peer: SocketAddr, rtt: Duration) {
        lock(&self.ping_rtt).observe(rtt);
        let mut peers = lock(&self.peers);
        if let Some(p) = peers.get_mut(&peer) {
            p.last = rtt;
            p.pongs += 1;
        } else if peers.len() < self.config.max_peer_series {
            peers.insert(
                peer,
                PeerRtt {
                    last: rtt,
                    pongs: 1,
                },
            );
        }
    }

    /// The connection to `peer` closed: its series go.
    pub fn peer_removed(&self, peer: SocketAddr) {
        lock(&self.peers).remove(&peer);
    }

    /// Replaces the values copied from the actors.
    pub fn set_node(&self, node: NodeGauges) {
        *lock(&self.node) = node;
    }

    /// A copy of every value.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let traffic = PROTOCOLS
            .iter()
            .map(|(p, name)| {
                let [i, o] = &self.traffic[proto_index(*p)];
                TrafficSnapshot {
                    protocol: name,
                    frames_in: i.frames.load(Ordering::Relaxed),
                    bytes_in: i.bytes.load(Ordering::Relaxed),
                    frames_out: o.frames.load(Ordering::Relaxed),
                    bytes_out: o.bytes.load(Ordering::Relaxed),
                }
            })
            .collect();
        MetricsSnapshot {
            traffic,
            rpc: lock(&self.rpc).clone(),
            ping_rtt: lock(&self.ping_rtt).clone(),
            pings_sent: self.pings_sent.load(Ordering::Relaxed),
            pings_lost: self.pings_lost.load(Ordering::Relaxed),
            peers: lock(&self.peers).clone(),
            node: lock(&self.node).clone(),
        }
    }

    /// The Prometheus text exposition of the current values.
    pub fn render(&self) -> String {
        render(&self.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_inf_holds_everything() {
        let mut h = Histogram::default();
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let c = h.cumulative();
        assert_eq!(c[0], (Some(0.0005), 1));
        assert_eq!(
            c.iter().find(|(b, _)| *b == Some(0.005)).map(|x| x.1),
            Some(2)
        );
        assert_eq!(c.last(), Some(&(None, 3)));
        assert_eq!(h.count, 3);
        assert!((h.sum - 60.0031).abs() < 1e-9);
    }

    #[test]
    fn per_peer_series_are_bounded_and_removed() {
        let m = Metrics::new(MetricsConfig {
            max_peer_series: 2,
            ..Default::default()
        })
        .expect("valid");
        let a: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let b: SocketAddr = "127.0.0.1:2".parse().expect("addr");
        let c: SocketAddr = "127.0.0.1:3".parse().expect("addr");
        for p in [a, b, c] {
            m.ping_answered(p, Duration::from_millis(1));
        }
        assert_eq!(m.snapshot().peers.len(), 2);
        m.peer_removed(a);
        let s = m.snapshot();
        assert!(!s.peers.contains_key(&a));
        assert_eq!(s.ping_rtt.count, 3, "the histogram keeps every observation");
    }

    #[test]
    fn traffic_and_rpc_counts() {
        let m = Metrics::default();
        m.frame_in(Protocol::Gossip, 100);
        m.frame_in(Protocol::Gossip, 50);
        m.frame_out(Protocol::Rpc, 10);
        m.rpc_observed(
            RpcRole::Client,
            RpcMethod::GetBlockBodies,
            Duration::from_millis(2),
            true,
        );
        m.rpc_observed(
            RpcRole::Client,
            RpcMethod::GetBlockBodies,
            Duration::ZERO,
            false,
        );
        let s = m.snapshot();
        assert_eq!(s.traffic[1].frames_in, 2);
        assert_eq!(s.traffic[1].bytes_in, 150);
        assert_eq!(s.traffic[0].frames_out, 1);
        let r = &s.rpc[&(RpcRole::Client, "GET_BLOCK_BODIES")];
        assert_eq!((r.requests, r.failures, r.latency.count), (2, 1, 1));
    }

    #[test]
    fn zero_bounds_are_refused() {
        let bad = MetricsConfig {
            ping_interval: Duration::ZERO,
            ..Default::default()
        };
        assert!(matches!(
            Metrics::new(bad),
            Err(MetricsError::Zero {
                field: "ping_interval"
            })
        ));
    }
}
