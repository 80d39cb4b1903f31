//! The node side of the event log: [`NodeLogWriter`], an actor that a node process (`run
//! --event-log FILE`) subscribes to its own events and that writes them as lines of
//! [`crate::eventlog`], one `write` per line (a kill -9 loses at most the line being written).
//! Handles `PeerHandshaked`, `PeerDisconnected`, `GossipReceived` (from the peer manager),
//! `BlockImported` (from gossip and sync) and [`Attested`] (from the testnet attester); sends
//! `GetOverlayStats` to the gossip actor every [`TRAFFIC_INTERVAL_MS`] (with
//! [`NodeLogWriter::with_traffic`]) and writes a `gossip_traffic` line when a counter changed.
//! A gossip object seen before (by hash, among the last [`SEEN_HASHES`]) is logged as a
//! duplicate.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{LineWriter, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use hobbits_actors::gossip::overlay::OverlayStats;
use hobbits_actors::gossip::{GetOverlayStats, GossipActor};
use hobbits_actors::metrics::Metrics;
use hobbits_actors::{
    BlockImported, GossipReceived, ImportSource, PeerDisconnected, PeerHandshaked, PeerId,
};
use hobbits_chain::Root;
use hobbits_codec::{Protocol, Topic};

use crate::eventlog::{GossipTraffic, LogLine, NodeEvent, NodeLog, Via, TRAFFIC_INTERVAL_MS};
use crate::observe::now_us;

/// Gossip hashes remembered to tell duplicates.
pub const SEEN_HASHES: usize = 65_536;

fn hex(root: &Root) -> String {
    format!("0x{}", hex::encode(root.0))
}

/// This node attested (the testnet attester tells the writer).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Attested {
    /// hash_tree_root of the attestation (its gossip hash).
    pub hash: Root,
    /// The attested slot.
    pub slot: u64,
    /// The attested block root.
    pub root: Root,
}

/// Writes one node's event log.
#[derive(Debug)]
pub struct NodeLogWriter {
    out: LineWriter<File>,
    peers: HashMap<PeerId, SocketAddr>,
    seen: HashSet<Root>,
    order: VecDeque<Root>,
    failed: bool,
    traffic: Option<TrafficSource>,
    last_traffic: GossipTraffic,
}

/// Where the `gossip_traffic` counters come from.
#[derive(Debug, Clone)]
struct TrafficSource {
    gossip: Option<Addr<GossipActor>>,
    metrics: Option<Arc<Metrics>>,
}

/// The `gossip_traffic` line of a node's counters: frames and bytes from its metrics, control
/// traffic and repairs from its overlay (`None` on a flood node: zeros).
pub fn traffic_of(metrics: Option<&Metrics>, overlay: Option<&OverlayStats>) -> GossipTraffic {
    let wire = metrics
        .map(|m| m.traffic(Protocol::Gossip))
        .unwrap_or_default();
    let o = overlay.copied().unwrap_or_default();
    GossipTraffic {
        frames_sent: wire.frames_sent,
        bytes_sent: wire.bytes_sent,
        frames_received: wire.frames_received,
        bytes_received: wire.bytes_received,
        control_frames_sent: o.control_sent,
        control_bytes_sent: o.control_bytes_sent,
        control_frames_received: o.control_received_by_verb,
        control_bytes_received: o.control_bytes_received,
        repaired: o.repaired,
        moved: o.moved,
        gave_up: o.gave_up,
        served: o.served,
    }
}

impl NodeLogWriter {
    /// Opens `path` for appending (a restarted node goes on in the same log) and writes the
    /// `started` line.
    pub fn create(path: &Path, started: NodeEvent) -> std::io::Result<NodeLogWriter> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let mut writer = NodeLogWriter {
            out: LineWriter::new(file),
            peers: HashMap::new(),
            seen: HashSet::new(),
            order: VecDeque::new(),
            failed: false,
            traffic: None,
            last_traffic: GossipTraffic::default(),
        };
        writer.write(started);
        if writer.failed {
            return Err(std::io::Error::other("cannot write the event log"));
        }
        Ok(writer)
    }

    /// Also writes the node's gossip traffic (`gossip_traffic` lines): wire counters from
    /// `metrics`, control counters from `gossip`'s overlay.
    pub fn with_traffic(
        mut self,
        gossip: Option<Addr<GossipActor>>,
        metrics: Option<Arc<Metrics>>,
    ) -> Self {
        self.traffic = Some(TrafficSource { gossip, metrics });
        self
    }

    /// Queries the counters and writes a line if one changed.
    fn sample_traffic(&mut self, ctx: &mut Context<Self>) {
        let Some(source) = self.traffic.clone() else {
            return;
        };
        let fut = async move {
            let overlay = match &source.gossip {
                Some(g) => g.send(GetOverlayStats).await.ok().flatten(),
                None => None,
            };
            traffic_of(source.metrics.as_deref(), overlay.as_ref())
        };
        ctx.spawn(fut.into_actor(self).map(|traffic, act, _| {
            if traffic != act.last_traffic {
                act.last_traffic = traffic;
                act.write(NodeEvent::GossipTraffic(traffic));
            }
        }));
    }

    fn write(&mut self, event: NodeEvent) {
        let line = NodeLog::encode(&LogLine {
            t_us: now_us(),
            event,
        });
        if let Err(e) = self.out.write_all(line.as_bytes()) {
            if !self.failed {
                // Loudly once: the node goes on, its log is incomplete from here.
                tracing::error!(error = %e, "event log: write failed; later lines are lost");
            }
            self.failed = true;
        }
    }

    fn peer(&self, peer: Option<PeerId>) -> String {
        peer.and_then(|p| self.peers.get(&p))
            .map_or_else(|| "-".to_string(), ToString::to_string)
    }

    /// Whether `hash` was seen before (and remembers it).
    fn duplicate(&mut self, hash: Root) -> bool {
        if !self.seen.insert(hash) {
            return true;
        }
        self.order.push_back(hash);
        if self.order.len() > SEEN_HASHES {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        false
    }
}

impl Actor for NodeLogWriter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.traffic.is_some() {
            ctx.run_interval(Duration::from_millis(TRAFFIC_INTERVAL_MS), |act, ctx| {
                act.sample_traffic(ctx);
            });
        }
    }
}

impl Handler<PeerHandshaked> for NodeLogWriter {
    type Result = ();

    fn handle(&mut self, msg: PeerHandshaked, _: &mut Context<Self>) {
        self.peers.insert(msg.peer, msg.addr);
        self.write(NodeEvent::PeerConnected {
            peer: msg.addr.to_string(),
            direction: format!("{:?}", msg.direction).to_lowercase(),
        });
    }
}

impl Handler<PeerDisconnected> for NodeLogWriter {
    type Result = ();

    fn handle(&mut self, msg: PeerDisconnected, _: &mut Context<Self>) {
        self.peers.remove(&msg.peer);
        self.write(NodeEvent::PeerDisconnected {
            peer: msg.addr.to_string(),
            reason: format!("{:?}", msg.reason),
        });
    }
}

impl Handler<GossipReceived> for NodeLogWriter {
    type Result = ();

    fn handle(&mut self, msg: GossipReceived, _: &mut Context<Self>) {
        let hash = msg.header.hash;
        let from = self.peer(Some(msg.peer));
        let duplicate = self.duplicate(hash);
        let event = match msg.header.topic {
            Topic::Block => NodeEvent::BlockReceived {
                hash: hex(&hash),
                from,
                duplicate,
            },
            Topic::Attestation => NodeEvent::AttestationReceived {
                hash: hex(&hash),
                from,
                duplicate,
            },
        };
        self.write(event);
    }
}

impl Handler<BlockImported> for NodeLogWriter {
    type Result = ();

    fn handle(&mut self, msg: BlockImported, _: &mut Context<Self>) {
        let o = &msg.outcome;
        let via = match msg.source {
            ImportSource::Produced => Via::Produced,
            ImportSource::Gossip | ImportSource::Announced => Via::Gossip,
            ImportSource::RangeSync | ImportSource::ParentLookup => Via::Sync,
        };
        if via == Via::Produced {
            // The origin of a block's propagation: its gossip hash is what receivers log.
            self.duplicate(o.hash_tree_root);
            self.write(NodeEvent::Produced {
                root: hex(&o.root),
                hash: hex(&o.hash_tree_root),
                slot: o.slot.0,
            });
        }
        self.write(NodeEvent::BlockImported {
            root: hex(&o.root),
            slot: o.slot.0,
            via,
        });
        if o.head_changed {
            self.write(NodeEvent::HeadChanged {
                root: hex(&o.head.root),
                slot: o.head.slot.0,
                reorg: o.reorg,
            });
        }
        if let Some(f) = o.finalized {
            self.write(NodeEvent::FinalizedChanged {
                epoch: f.epoch.0,
                root: hex(&f.root),
            });
        }
    }
}

impl Handler<Attested> for NodeLogWriter {
    type Result = ();

    fn handle(&mut self, msg: Attested, _: &mut Context<Self>) {
        self.duplicate(msg.hash);
        self.write(NodeEvent::Attested {
            hash: hex(&msg.hash),
            slot: msg.slot,
            root: hex(&msg.root),
        });
    }
}
