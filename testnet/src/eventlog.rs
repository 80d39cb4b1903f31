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
//!
//! Unknown kinds and malformed lines are counted and skipped by the reader (a newer writer or a
//! line cut by kill -9 must not stop a report).

use std::io::BufRead;

use serde::{Deserialize, Serialize};

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
