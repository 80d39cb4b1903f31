//! Events a node publishes to its subscribers (sync, gossip, tests, embedding clients), and the
//! reasons a connection ends. Sent by the `PeerManager` (and the block producer); handled by
//! whoever subscribed. See docs/ARCHITECTURE.md, "Seams for sync and gossip".

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use actix::prelude::*;
use bytes::Bytes;
use hobbits_chain::rpc::Hello;
use hobbits_chain::store::ImportOutcome;
use hobbits_chain::BeaconBlock;
use hobbits_codec::GossipHeader;

use crate::handshake::HelloRejection;
use crate::peer_session::SessionHandle;
use crate::peer_table::{Direction, NodeId, PeerId};

/// A peer completed the HELLO exchange and was accepted (one per connection kept).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct PeerHandshaked {
    /// Connection id.
    pub peer: PeerId,
    /// Remote socket address.
    pub addr: SocketAddr,
    /// Who dialed.
    pub direction: Direction,
    /// The peer's node id, if it sent one.
    pub node_id: Option<NodeId>,
    /// The peer's HELLO.
    pub hello: Hello,
    /// Direct line to the session (requests and frames with bounded queues).
    pub session: SessionHandle,
}

/// A handshaked peer's connection ended.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct PeerDisconnected {
    /// Connection id.
    pub peer: PeerId,
    /// Remote socket address.
    pub addr: SocketAddr,
    /// Why.
    pub reason: DisconnectReason,
}

/// A GOSSIP frame from a handshaked peer (header decoded, body untouched).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct GossipReceived {
    /// Who sent it.
    pub peer: PeerId,
    /// The decoded header (topic, message_hash, hash, extra keys).
    pub header: GossipHeader,
    /// SSZ of the object, or empty for an announcement.
    pub body: Bytes,
}

/// The recipients of [`GossipReceived`], shared by the peer manager (which adds them on
/// `Subscribe`) and every session (which delivers to them directly, one actor hop less per gossip
/// message than going through the manager). Delivery is `try_send`, never blocking.
#[derive(Debug, Clone, Default)]
pub struct GossipSubscribers(Arc<RwLock<Vec<Recipient<GossipReceived>>>>);

impl GossipSubscribers {
    /// Adds a recipient (sessions already running deliver to it from their next message).
    pub fn add(&self, recipient: Recipient<GossipReceived>) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(recipient);
    }

    /// Delivers `msg` to every recipient; returns how many refused it (mailbox full or gone).
    pub fn deliver(&self, msg: GossipReceived) -> usize {
        let list = self.0.read().unwrap_or_else(|e| e.into_inner());
        let Some((last, rest)) = list.split_last() else {
            return 0;
        };
        let mut refused = 0;
        for r in rest {
            refused += usize::from(r.try_send(msg.clone()).is_err());
        }
        refused + usize::from(last.try_send(msg).is_err())
    }
}

/// The local producer made a block and the local store imported it.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct BlockProduced {
    /// The block.
    pub block: BeaconBlock,
    /// What the import did (roots, head).
    pub outcome: ImportOutcome,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The peer closed the TCP connection.
    RemoteClosed,
    /// The peer sent GOODBYE (reason code, if readable).
    Goodbye { reason: Option<u64> },
    /// The peer sent bytes that are not a frame.
    MalformedFrame { reason: String },
    /// Too many undecodable messages in whole frames.
    TooManyBadMessages { count: u32 },
    /// No accepted HELLO within the handshake timeout.
    HandshakeTimeout,
    /// A frame stayed incomplete longer than `Timeouts::frame` (slowloris).
    FrameTimeout { after: std::time::Duration },
    /// The peer's score reached the ban threshold (GOODBYE 3 sent).
    Banned,
    /// HELLO refused (GOODBYE 2 sent).
    IrrelevantNetwork(HelloRejection),
    /// Another connection to the same node was kept.
    Duplicate,
    /// The remote is this node.
    SelfConnection,
    /// Asked locally (`DisconnectPeer`, shutdown).
    Local { goodbye: u64 },
    /// A socket error.
    Io { reason: String },
    /// The store actor is gone (node shutting down).
    Internal,
}

/// GOODBYE code sent when a duplicate connection (or one to ourselves) is dropped; custom codes
/// are above 1000 per the eth2 RPC interface.
pub const GOODBYE_DUPLICATE: u64 = 1001;
