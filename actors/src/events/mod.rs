//! The vocabulary every actor of the node shares, at the bottom of the crate: it imports no actor
//! module, so any actor can use it without a cycle.
//!
//! - peer events the `PeerManager` publishes to its subscribers: [`PeerHandshaked`],
//!   [`PeerDisconnected`] (with its [`DisconnectReason`]); [`GossipReceived`], which sessions
//!   deliver straight to the [`GossipSubscribers`], and [`GossipControlReceived`] (the overlay's);
//! - [`chain`]: [`BlockProduced`] (producer → gossip), [`BlockImported`] (sync, gossip →
//!   subscribers), [`OrphanBlockReceived`] (gossip → sync) and their subscription
//!   ([`SubscribeChainEvents`]);
//! - [`penalty`]: the one penalty vocabulary, [`Penalty`], and [`PeerPenalized`] (sessions,
//!   gossip, sync → the manager's score book);
//! - [`session`]: [`SessionHandle`], the line to one connection that [`PeerHandshaked`] carries,
//!   and the commands it sends ([`SendFrame`], [`SendRequest`], [`Disconnect`], handled by the
//!   `PeerSession`); defined here, below the session, so that events need not import it.
//!
//! Handles and sends nothing itself; see docs/ARCHITECTURE.md for who sends what to whom.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use actix::prelude::*;
use bytes::Bytes;
use hobbits_chain::rpc::Hello;
use hobbits_codec::GossipHeader;

use crate::handshake::HelloRejection;
use crate::peer_table::{Direction, NodeId, PeerId};

pub mod chain;
pub mod penalty;
pub mod session;

pub use chain::{
    BlockImported, BlockProduced, ChainEventSubscribers, ImportSource, OrphanBlockReceived,
    SubscribeChainEvents,
};
pub use penalty::{PeerPenalized, Penalty};
pub use session::{Disconnect, SendFrame, SendRequest, SessionHandle};

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
    /// The peer's HELLO advertised the gossip overlay (`gossip_overlay`, docs/PROTOCOL.md).
    pub gossip_overlay: bool,
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

/// A gossip overlay control message (PRUNE, GRAFT, IHAVE, IWANT) from a handshaked peer,
/// validated and bounded by the codec (docs/PROTOCOL.md, "Gossip overlay").
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct GossipControlReceived {
    /// Who sent it.
    pub peer: PeerId,
    /// The message.
    pub message: hobbits_codec::ControlMessage,
}

/// The recipients of [`GossipReceived`], shared by the peer manager (which adds them on
/// `Subscribe`) and every session (which delivers to them directly, one actor hop less per gossip
/// message than going through the manager). Delivery is `try_send`, never blocking.
#[derive(Debug, Clone, Default)]
pub struct GossipSubscribers {
    objects: Arc<RwLock<Vec<Recipient<GossipReceived>>>>,
    control: Arc<RwLock<Vec<Recipient<GossipControlReceived>>>>,
}

impl GossipSubscribers {
    /// Adds a recipient (sessions already running deliver to it from their next message).
    pub fn add(&self, recipient: Recipient<GossipReceived>) {
        self.objects
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(recipient);
    }

    /// Adds a recipient of the overlay's control messages.
    pub fn add_control(&self, recipient: Recipient<GossipControlReceived>) {
        self.control
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(recipient);
    }

    /// Delivers a control message to every control recipient; returns how many refused it.
    pub fn deliver_control(&self, msg: GossipControlReceived) -> usize {
        let list = self.control.read().unwrap_or_else(|e| e.into_inner());
        list.iter()
            .map(|r| usize::from(r.try_send(msg.clone()).is_err()))
            .sum()
    }

    /// Delivers `msg` to every recipient; returns how many refused it (mailbox full or gone).
    pub fn deliver(&self, msg: GossipReceived) -> usize {
        let list = self.objects.read().unwrap_or_else(|e| e.into_inner());
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

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The peer closed the TCP connection.
    RemoteClosed,
    /// The peer sent GOODBYE (reason code, if readable).
    Goodbye {
        /// The GOODBYE reason code.
        reason: Option<u64>,
    },
    /// The peer sent bytes that are not a frame.
    MalformedFrame {
        /// The codec's error.
        reason: String,
    },
    /// Too many undecodable messages in whole frames.
    TooManyBadMessages {
        /// How many.
        count: u32,
    },
    /// No accepted HELLO within the handshake timeout.
    HandshakeTimeout,
    /// A frame stayed incomplete longer than `Timeouts::frame` (slowloris).
    FrameTimeout {
        /// How long it had been incomplete.
        after: std::time::Duration,
    },
    /// The peer's score reached the ban threshold (GOODBYE 3 sent).
    Banned,
    /// HELLO refused (GOODBYE 2 sent).
    IrrelevantNetwork(HelloRejection),
    /// Another connection to the same node was kept.
    Duplicate,
    /// The remote is this node.
    SelfConnection,
    /// Asked locally (`DisconnectPeer`, shutdown, a slow peer).
    Local {
        /// The GOODBYE code sent.
        goodbye: u64,
    },
    /// A socket error.
    Io {
        /// The error.
        reason: String,
    },
    /// The store actor is gone (node shutting down).
    Internal,
}

/// GOODBYE code sent when a duplicate connection (or one to ourselves) is dropped; custom codes
/// are above 1000 per the eth2 RPC interface.
pub const GOODBYE_DUPLICATE: u64 = 1001;

/// GOODBYE code sent to a peer disconnected for staying slow (its send queue stayed full).
pub const GOODBYE_SLOW_PEER: u64 = 1002;

/// GOODBYE code sent to a connection closed for want of a slot: evicted while waiting for its
/// handshake, displaced by a newcomer, or refused at the handshake because the slots are full.
pub const GOODBYE_TOO_MANY_PEERS: u64 = 1003;
