//! The node event log: what `hobbits-node run --event-log FILE` writes, one JSON object per line,
//! and what every testnet engine reads back to build its report and check its invariants. Each
//! line is `{"t_us": <microseconds since the Unix epoch, the node's own clock>, "event": <kind>,
//! ...fields}`; roots and hashes are `0x`-prefixed hex, peers are `ip:port`. Kinds:
//!
//! | event | fields | when |
//! |---|---|---|
//! | `started` | `node_id`, `listen`, `genesis_root`, `head_slot`, `head_root`, `finalized_epoch`, `finalized_root`, `from_store` | the node is up (after opening its store) |
//! | `peer_connected` / `peer_disconnected` | `peer`, `direction` / `reason` | a handshake completed / a peer left |
//! | `block_received` | `hash`, `from`, `duplicate` | a gossiped block arrived (duplicate: already seen) |
//! | `attestation_received` | `hash`, `from`, `duplicate` | a gossiped attestation arrived |
//! | `relayed` | `kind` (`block` / `attestation`), `hash`, `peers` | forwarded to that many peers |
//! | `block_imported` | `root`, `slot`, `via` (`gossip` / `sync` / `produced`) | the store took it |
//! | `produced` / `attested` | `root`, `hash`, `slot` / `hash`, `slot`, `root` | this node made it |
//! | `head_changed` | `root`, `slot`, `reorg` | new head (`reorg`: not a descendant of the previous) |
//! | `finalized_changed` | `epoch`, `root` | new finalized checkpoint |
//! | `gossip_traffic` | the fields of [`GossipTraffic`] (counters since the process started) | every [`TRAFFIC_INTERVAL_MS`] while they change |
//!
//! Unknown kinds and malformed lines are counted and skipped by the reader (a newer writer or a
//! line cut by kill -9 must not stop a report).

use std::io::BufRead;

use serde::{Deserialize, Serialize};

/// How often a node writes its `gossip_traffic` line (when a counter changed), milliseconds.
pub const TRAFFIC_INTERVAL_MS: u64 = 500;

/// A node's gossip traffic since its process started (a restarted node starts from zero; the
/// reader sums the last line of each process). Frames and bytes are whole frames (prefix, header,
/// body) of the GOSSIP protocol: objects and overlay control together. Per-verb arrays are in
/// method id order: PRUNE, GRAFT, IHAVE, IWANT (all zero on a flood node).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GossipTraffic {
    /// GOSSIP-protocol frames written.
    pub frames_sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
    /// GOSSIP-protocol frames read.
    pub frames_received: u64,
    /// Their bytes.
    pub bytes_received: u64,
    /// Overlay control frames written, by verb.
    pub control_frames_sent: [u64; 4],
    /// Their bytes, by verb.
    pub control_bytes_sent: [u64; 4],
    /// Overlay control frames read and acted upon, by verb.
    pub control_frames_received: [u64; 4],
    /// Their bytes, by verb.
    pub control_bytes_received: [u64; 4],
    /// Objects announced (IHAVE), asked for (IWANT) and received: pulls that repaired a gap.
    pub repaired: u64,
    /// Trees moved to a peer that announced sooner than the parent pushed (GRAFT).
    pub moved: u64,
    /// Missing objects given up (no announcer sent them).
    pub gave_up: u64,
    /// Objects this node sent in answer to IWANT.
    pub served: u64,
}

impl GossipTraffic {
    /// Control frames written, every verb.
    pub fn control_frames(&self) -> u64 {
        self.control_frames_sent.iter().sum()
    }

    /// Control bytes written, every verb.
    pub fn control_bytes(&self) -> u64 {
        self.control_bytes_sent.iter().sum()
    }

    /// Adds `other` field by field (the processes of one node, or the nodes of a run).
    pub fn add(&mut self, other: &GossipTraffic) {
        self.frames_sent += other.frames_sent;
        self.bytes_sent += other.bytes_sent;
        self.frames_received += other.frames_received;
        self.bytes_received += other.bytes_received;
        for i in 0..4 {
            self.control_frames_sent[i] += other.control_frames_sent[i];
            self.control_bytes_sent[i] += other.control_bytes_sent[i];
            self.control_frames_received[i] += other.control_frames_received[i];
            self.control_bytes_received[i] += other.control_bytes_received[i];
        }
        self.repaired += other.repaired;
        self.moved += other.moved;
        self.gave_up += other.gave_up;
        self.served += other.served;
    }
}

/// One line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Microseconds since the Unix epoch, on the writing node's clock.
    pub t_us: u64,
    /// What happened.
    #[serde(flatten)]
    pub event: NodeEvent,
}

/// Where an imported block came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A gossip message.
    Gossip,
    /// A range sync response.
    Sync,
    /// This node's own producer.
    Produced,
}

/// What a node saw or did (the `event` field names the variant in snake case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum NodeEvent {
    /// The node is up, after opening its store.
    Started {
        /// Its node id (hex).
        node_id: String,
        /// Where it listens.
        listen: String,
        /// Its genesis root.
        genesis_root: String,
        /// Its head slot then.
        head_slot: u64,
        /// Its head root then.
        head_root: String,
        /// Its finalized epoch then.
        finalized_epoch: u64,
        /// Its finalized root then.
        finalized_root: String,
        /// It reopened a persistent store.
        from_store: bool,
    },
    /// A peer completed the handshake.
    PeerConnected {
        /// The peer's address.
        peer: String,
        /// `inbound` or `outbound`.
        direction: String,
    },
    /// A peer left.
    PeerDisconnected {
        /// The peer's address.
        peer: String,
        /// Why.
        reason: String,
    },
    /// A gossiped block arrived.
    BlockReceived {
        /// The block's hash_tree_root (its gossip hash).
        hash: String,
        /// The sending peer.
        from: String,
        /// The node had it already.
        duplicate: bool,
    },
    /// A gossiped attestation arrived.
    AttestationReceived {
        /// The attestation's hash_tree_root (its gossip hash).
        hash: String,
        /// The sending peer.
        from: String,
        /// The node had it already.
        duplicate: bool,
    },
    /// An object was forwarded.
    Relayed {
        /// `block` or `attestation`.
        kind: String,
        /// Its root or message hash.
        hash: String,
        /// To this many peers.
        peers: u32,
    },
    /// The store took a block.
    BlockImported {
        /// The block's root.
        root: String,
        /// Its slot.
        slot: u64,
        /// Where it came from.
        via: Via,
    },
    /// This node produced a block.
    Produced {
        /// The block's root (signing root: its identity in the chain).
        root: String,
        /// Its hash_tree_root (the gossip hash receivers log).
        hash: String,
        /// Its slot.
        slot: u64,
    },
    /// This node attested.
    Attested {
        /// The message hash.
        hash: String,
        /// The attested slot.
        slot: u64,
        /// The attested block root.
        root: String,
    },
    /// A new head.
    HeadChanged {
        /// Its root.
        root: String,
        /// Its slot.
        slot: u64,
        /// Not a descendant of the previous head.
        reorg: bool,
    },
    /// A new finalized checkpoint.
    FinalizedChanged {
        /// Its epoch.
        epoch: u64,
        /// Its root.
        root: String,
    },
    /// The node's gossip traffic so far.
    GossipTraffic(GossipTraffic),
}

/// One node's log as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeLog {
    /// The lines in file order.
    pub lines: Vec<LogLine>,
    /// Lines that did not parse (cut by a kill, or from a newer writer).
    pub skipped: usize,
}

/// Most bytes of one line read (longer lines are skipped).
pub const MAX_LINE: usize = 64 * 1024;

impl NodeLog {
    /// Reads a log; a malformed or overlong line is counted in `skipped`, not an error.
    pub fn read(reader: impl BufRead) -> std::io::Result<NodeLog> {
        let mut log = NodeLog::default();
        for line in reader.split(b'\n') {
            let line = line?;
            if line.is_empty() {
                continue;
            }
            if line.len() > MAX_LINE {
                log.skipped += 1;
                continue;
            }
            match serde_json::from_slice::<LogLine>(&line) {
                Ok(parsed) => log.lines.push(parsed),
                Err(_) => log.skipped += 1,
            }
        }
        Ok(log)
    }

    /// Writes a line (the writer side; used by the node and by tests that craft logs).
    pub fn encode(line: &LogLine) -> String {
        let mut text = serde_json::to_string(line).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_in_the_documented_shape() {
        let line = LogLine {
            t_us: 1_700_000_000_000_123,
            event: NodeEvent::BlockReceived {
                hash: "0xab".into(),
                from: "198.18.0.3:9000".into(),
                duplicate: true,
            },
        };
        let text = NodeLog::encode(&line);
        assert_eq!(
            text,
            "{\"t_us\":1700000000000123,\"event\":\"block_received\",\"hash\":\"0xab\",\"from\":\"198.18.0.3:9000\",\"duplicate\":true}\n"
        );
        let back = NodeLog::read(text.as_bytes()).expect("reads");
        assert_eq!(back.lines, vec![line]);
        let imported = "{\"t_us\":5,\"event\":\"block_imported\",\"root\":\"0x01\",\"slot\":2,\"via\":\"sync\"}\n";
        let log = NodeLog::read(imported.as_bytes()).expect("reads");
        assert_eq!(
            log.lines[0].event,
            NodeEvent::BlockImported {
                root: "0x01".into(),
                slot: 2,
                via: Via::Sync
            }
        );
    }

    #[test]
    fn gossip_traffic_lines_round_trip_and_old_ones_default_missing_fields() {
        let t = GossipTraffic {
            bytes_sent: 900,
            control_frames_sent: [1, 2, 3, 4],
            repaired: 2,
            ..Default::default()
        };
        let text = NodeLog::encode(&LogLine {
            t_us: 7,
            event: NodeEvent::GossipTraffic(t),
        });
        assert!(text.starts_with(
            "{\"t_us\":7,\"event\":\"gossip_traffic\",\"frames_sent\":0,\"bytes_sent\":900,"
        ));
        let back = NodeLog::read(text.as_bytes()).expect("reads");
        assert_eq!(back.lines[0].event, NodeEvent::GossipTraffic(t));
        let old = "{\"t_us\":1,\"event\":\"gossip_traffic\",\"bytes_sent\":5}\n";
        let log = NodeLog::read(old.as_bytes()).expect("reads");
        assert_eq!(
            log.lines[0].event,
            NodeEvent::GossipTraffic(GossipTraffic {
                bytes_sent: 5,
                ..Default::default()
            })
        );
        assert_eq!((t.control_frames(), t.control_bytes()), (10, 0));
        let mut sum = t;
        sum.add(&t);
        assert_eq!((sum.bytes_sent, sum.control_frames_sent[3]), (1800, 8));
    }

    #[test]
    fn cut_unknown_and_huge_lines_are_skipped() {
        let mut text = String::from(
            "{\"t_us\":1,\"event\":\"finalized_changed\",\"epoch\":1,\"root\":\"0x1\"}\n",
        );
        text.push_str("{\"t_us\":2,\"event\":\"from_the_future\",\"x\":1}\n");
        text.push_str("{\"t_us\":3,\"event\":\"head_chan");
        text.push('\n');
        text.push_str(&"x".repeat(MAX_LINE + 1));
        let log = NodeLog::read(text.as_bytes()).expect("reads");
        assert_eq!(log.lines.len(), 1);
        assert_eq!(log.skipped, 3);
    }
}
