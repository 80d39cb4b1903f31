//! The node side of the event log: [`NodeLogWriter`], an actor that a node process (`run
//! --event-log FILE`) subscribes to its own events and that writes them as lines of
//! [`crate::eventlog`], one `write` per line (a kill -9 loses at most the line being written).
//! Handles `PeerHandshaked`, `PeerDisconnected`, `GossipReceived` (from the peer manager),
//! `BlockImported` (from gossip and sync), [`Attested`] (from the testnet attester) and
//! [`WatchHead`] (poll the store for heads no import event reported); sends `GetHello` to the
//! store when watching, and `GetOverlayStats` to the gossip actor every [`TRAFFIC_INTERVAL_MS`]
//! (with [`NodeLogWriter::with_traffic`]), writing a `gossip_traffic` line when a counter changed.
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
    StoreClient,
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
    /// The head and finalized checkpoint last written, so [`WatchHead`] writes only changes.
    last_head: Option<Root>,
    last_finalized: Option<(u64, Root)>,
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

/// Polls the node's store every `every` and logs head and finalized changes no import event
/// reported: blocks imported by the ETH dialect's roots sync reach the store without a
/// `BlockImported` event, and an ETH-only node's log would otherwise never move. Each change is
/// logged once, whichever path saw it first; its time is that of the poll that saw it.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct WatchHead {
    /// The node's store.
    pub store: StoreClient,
    /// How often to look.
    pub every: std::time::Duration,
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
            last_head: None,
            last_finalized: None,
            traffic: None,
            last_traffic: GossipTraffic::default(),
        };
        if let NodeEvent::Started {
            head_root,
            finalized_epoch,
            finalized_root,
            ..
        } = &started
        {
            let root = |h: &str| {
                hex::decode(h.trim_start_matches("0x"))
                    .ok()
                    .and_then(|b| Root::from_slice(&b))
            };
            writer.last_head = root(head_root);
            writer.last_finalized = root(finalized_root).map(|r| (*finalized_epoch, r));
        }
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
        // With a WatchHead poll beside the events, either may see a change first: each is logged
        // once, and finality never goes back in the log.
        if o.head_changed && self.last_head != Some(o.head.root) {
            self.last_head = Some(o.head.root);
            self.write(NodeEvent::HeadChanged {
                root: hex(&o.head.root),
                slot: o.head.slot.0,
                reorg: o.reorg,
            });
        }
        if let Some(f) = o.finalized {
            self.finalized(f.epoch.0, f.root);
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

impl NodeLogWriter {
    /// Logs what `hello` shows that the log does not have yet.
    fn on_polled(&mut self, hello: &hobbits_chain::rpc::Hello) {
        if self.last_head.is_some_and(|h| h != hello.best_root) {
            self.write(NodeEvent::HeadChanged {
                root: hex(&hello.best_root),
                slot: hello.best_slot.0,
                // A poll cannot tell a reorg from an extension; ETH sync only extends.
                reorg: false,
            });
        }
        self.last_head = Some(hello.best_root);
        self.finalized(hello.latest_finalized_epoch.0, hello.latest_finalized_root);
    }

    /// Logs a finalized checkpoint unless it is the last one logged or older than it.
    fn finalized(&mut self, epoch: u64, root: Root) {
        match self.last_finalized {
            Some((e, r)) if (e, r) == (epoch, root) || epoch < e => return,
            _ => {}
        }
        self.last_finalized = Some((epoch, root));
        self.write(NodeEvent::FinalizedChanged {
            epoch,
            root: hex(&root),
        });
    }
}

impl Handler<WatchHead> for NodeLogWriter {
    type Result = ();

    fn handle(&mut self, msg: WatchHead, ctx: &mut Context<Self>) {
        let store = msg.store;
        ctx.run_interval(msg.every, move |act, ctx| {
            ctx.spawn(store.hello().into_actor(act).map(|polled, act, _| {
                if let Ok(hello) = polled {
                    act.on_polled(&hello);
                }
            }));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hobbits_chain::rpc::Hello;
    use hobbits_chain::{Epoch, Slot};

    fn hello(head: u8, slot: u64, epoch: u64, fin: u8) -> Hello {
        Hello {
            network_id: 1,
            chain_id: 1,
            latest_finalized_root: Root([fin; 32]),
            latest_finalized_epoch: Epoch(epoch),
            best_root: Root([head; 32]),
            best_slot: Slot(slot),
        }
    }

    #[test]
    fn polled_heads_and_finality_are_logged_once_and_never_backwards() {
        let path = std::env::temp_dir().join(format!("hobbits-node-log-{}", std::process::id()));
        let started = NodeEvent::Started {
            node_id: "1".into(),
            listen: "127.0.0.1:1".into(),
            genesis_root: hex(&Root([0; 32])),
            head_slot: 0,
            head_root: hex(&Root([0; 32])),
            finalized_epoch: 0,
            finalized_root: hex(&Root([0; 32])),
            from_store: false,
        };
        let mut w = NodeLogWriter::create(&path, started).expect("log");
        w.on_polled(&hello(0, 0, 0, 0)); // what Started said: nothing new
        w.on_polled(&hello(1, 1, 0, 0)); // a new head
        w.on_polled(&hello(1, 1, 0, 0)); // the same again
        w.on_polled(&hello(2, 9, 1, 7)); // head and finality
        w.finalized(0, Root([0; 32])); // a late event with older finality
        w.finalized(1, Root([7; 32])); // the same checkpoint from an event
        drop(w);
        let log = NodeLog::read(std::io::BufReader::new(
            std::fs::File::open(&path).expect("open"),
        ))
        .expect("read");
        let _ = std::fs::remove_file(&path);
        let events: Vec<&NodeEvent> = log.lines.iter().map(|l| &l.event).collect();
        assert_eq!(events.len(), 4, "{events:?}");
        assert!(matches!(events[1], NodeEvent::HeadChanged { slot: 1, .. }));
        assert!(matches!(events[2], NodeEvent::HeadChanged { slot: 9, .. }));
        assert!(matches!(
            events[3],
            NodeEvent::FinalizedChanged { epoch: 1, .. }
        ));
    }
}
