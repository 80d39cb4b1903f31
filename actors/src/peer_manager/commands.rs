//! Commands and queries of the [`PeerManager`] used by other actors, tests and embedding clients:
//! [`GetPeers`], [`GetManagerStats`], [`SendRpcRequest`], [`SendFrameToPeer`], [`DialPeer`],
//! [`DisconnectPeer`], [`Subscribe`], [`Shutdown`]. Part of the manager actor. Sends `Disconnect`,
//! `SendRequest`, `SendFrame` to sessions.

use std::net::SocketAddr;

use actix::prelude::*;
use hobbits_chain::rpc::Hello;
use hobbits_codec::Frame;
use tracing::{info, warn};

use super::{PeerManager, StaticPeer};
use crate::events::{
    GossipControlReceived, GossipReceived, PeerDisconnected, PeerHandshaked, SessionHandle,
};
use crate::peer_session::eth::EthSession;
use crate::peer_table::{Backoff, Dialect, Direction, NodeId, PeerId};
use crate::rpc::{RpcRequest, RpcResponse};
use crate::rpc_tracker::RpcError;
use hobbits_codec::uri::PeerUri;

/// One connected peer, as reported by [`GetPeers`].
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// Connection id.
    pub peer: PeerId,
    /// Remote address.
    pub addr: SocketAddr,
    /// Who dialed.
    pub direction: Direction,
    /// Which wire the connection speaks.
    pub dialect: Dialect,
    /// HELLO exchanged and accepted.
    pub handshaked: bool,
    /// Remote node id, if sent.
    pub node_id: Option<NodeId>,
    /// The peer's latest HELLO, once handshaked.
    pub hello: Option<Hello>,
    /// The session (for an ETH peer, a handle whose Hobbits frames and requests are refused).
    pub session: SessionHandle,
    /// The ETH session, for a peer of that dialect (its requests: `SendEthRequest`).
    pub eth: Option<Addr<EthSession>>,
}

impl PeerManager {
    /// Every connection of either wire, ordered by id.
    pub(super) fn peer_infos(&self) -> Vec<PeerInfo> {
        let mut v: Vec<PeerInfo> = self
            .table
            .entries()
            .into_iter()
            .filter_map(|e| {
                let s = self.sessions.get(&e.id)?;
                Some(PeerInfo {
                    peer: e.id,
                    addr: s.addr,
                    direction: s.direction,
                    dialect: s.session.dialect(),
                    handshaked: e.handshaked,
                    node_id: s.node_id,
                    hello: s.hello.clone(),
                    session: s.session.handle(e.id),
                    eth: s.session.eth(),
                })
            })
            .collect();
        v.sort_by_key(|p| p.peer);
        v
    }
}

/// Query: the connected peers.
#[derive(Debug, Message)]
#[rtype(result = "Vec<PeerInfo>")]
pub struct GetPeers;

impl Handler<GetPeers> for PeerManager {
    type Result = MessageResult<GetPeers>;
    fn handle(&mut self, _: GetPeers, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.peer_infos())
    }
}

/// Counters of the manager.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ManagerStats {
    /// Handshaked newcomers closed because the peer slots were full and no peer could be
    /// displaced (GOODBYE 1003).
    pub refused_full: u64,
    /// Inbound connections refused at accept: the address connects faster than
    /// `accept_rate_per_ip`.
    pub refused_accept_rate: u64,
    /// Inbound connections refused at accept: `max_pending_per_ip` pending from that address.
    pub refused_pending_per_ip: u64,
    /// Inbound connections refused (at accept or at the handshake): `max_peers_per_ip` peers from
    /// that address.
    pub refused_peers_per_ip: u64,
    /// Pending connections evicted to admit a newcomer (`max_pending` reached).
    pub evicted_pending: u64,
    /// Peers displaced by a handshaked newcomer (`max_peers` reached).
    pub displaced: u64,
    /// Inbound connections refused because the IP was banned.
    pub refused_banned: u64,
    /// Bans issued.
    pub bans: u64,
    /// Events dropped because a subscriber's mailbox was full.
    pub events_dropped: u64,
    /// Dial attempts that failed.
    pub dial_failures: u64,
    /// Offences reported against peers (sessions, gossip, sync).
    pub penalties: u64,
    /// Handshakes refused because the remote node id was banned.
    pub refused_banned_node: u64,
}

/// Query: the manager's counters.
#[derive(Debug, Message)]
#[rtype(result = "ManagerStats")]
pub struct GetManagerStats;

impl Handler<GetManagerStats> for PeerManager {
    type Result = MessageResult<GetManagerStats>;
    fn handle(&mut self, _: GetManagerStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.stats)
    }
}

/// Command: send an RPC request to a peer and wait for the response.
#[derive(Debug, Message)]
#[rtype(result = "Result<RpcResponse, RpcError>")]
pub struct SendRpcRequest {
    /// The peer.
    pub peer: PeerId,
    /// The request.
    pub request: RpcRequest,
}

impl Handler<SendRpcRequest> for PeerManager {
    type Result = ResponseFuture<Result<RpcResponse, RpcError>>;
    fn handle(&mut self, msg: SendRpcRequest, _: &mut Context<Self>) -> Self::Result {
        match self.sessions.get(&msg.peer) {
            Some(s) => Box::pin(s.session.handle(msg.peer).request(msg.request)),
            None => Box::pin(async { Err(RpcError::UnknownPeer) }),
        }
    }
}

/// Command: queue a frame for a peer (try_send: `QueueFull` for a slow peer).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RpcError>")]
pub struct SendFrameToPeer {
    /// The peer.
    pub peer: PeerId,
    /// The frame.
    pub frame: Frame,
}

impl Handler<SendFrameToPeer> for PeerManager {
    type Result = Result<(), RpcError>;
    fn handle(&mut self, msg: SendFrameToPeer, _: &mut Context<Self>) -> Self::Result {
        match self.sessions.get(&msg.peer) {
            Some(s) => s.session.handle(msg.peer).send_frame(msg.frame),
            None => Err(RpcError::UnknownPeer),
        }
    }
}

/// Command: add a static peer (dialed now, redialed when lost); an address already known is
/// dialed again if it is not connected. At most `max_peers` static peers.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DialPeer {
    /// Its address.
    pub uri: PeerUri,
}

impl Handler<DialPeer> for PeerManager {
    type Result = ();
    fn handle(&mut self, msg: DialPeer, ctx: &mut Context<Self>) {
        self.add_static(msg.uri, Dialect::Hobbits, ctx);
    }
}

impl PeerManager {
    /// Adds a static peer of `dialect` and dials it (again, when already known).
    pub(super) fn add_static(&mut self, uri: PeerUri, dialect: Dialect, ctx: &mut Context<Self>) {
        let known = |s: &StaticPeer| s.uri == uri && s.dialect == dialect;
        if let Some(slot) = self.statics.iter().position(known) {
            return self.dial(slot, ctx);
        }
        // Static peers are bounded like connections: no more than max_peers of them.
        if self.statics.len() >= self.settings.session.limits.max_peers {
            warn!(%uri, max = self.statics.len(), "too many static peers: dial ignored");
            return;
        }
        let t = &self.settings.session.timeouts;
        self.statics.push(StaticPeer {
            uri,
            dialect,
            backoff: Backoff::new(t.reconnect_initial, t.reconnect_max),
            dialing: false,
        });
        self.dial(self.statics.len() - 1, ctx);
    }
}

/// Command: disconnect a peer with a GOODBYE reason.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DisconnectPeer {
    /// The peer.
    pub peer: PeerId,
    /// GOODBYE reason code.
    pub goodbye: u64,
}

impl Handler<DisconnectPeer> for PeerManager {
    type Result = ();
    fn handle(&mut self, msg: DisconnectPeer, _: &mut Context<Self>) {
        if let Some(s) = self.sessions.get(&msg.peer) {
            s.disconnect(msg.goodbye);
        }
    }
}

/// Command: subscribe to peer events (every field optional).
#[derive(Debug, Message, Default)]
#[rtype(result = "()")]
pub struct Subscribe {
    /// Receives `PeerHandshaked`.
    pub handshaked: Option<Recipient<PeerHandshaked>>,
    /// Receives `PeerDisconnected`.
    pub disconnected: Option<Recipient<PeerDisconnected>>,
    /// Receives `GossipReceived`.
    pub gossip: Option<Recipient<GossipReceived>>,
    /// Receives `GossipControlReceived` (the gossip overlay's control messages).
    pub control: Option<Recipient<GossipControlReceived>>,
}

impl Handler<Subscribe> for PeerManager {
    type Result = ();
    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        self.subscribers.add(msg);
    }
}

/// Command: stop accepting and dialing, send GOODBYE 1 to every peer. Replies with the number of
/// sessions told to close.
#[derive(Debug, Message)]
#[rtype(result = "usize")]
pub struct Shutdown;

impl Handler<Shutdown> for PeerManager {
    type Result = usize;
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) -> usize {
        self.shutting_down = true;
        for h in [self.listener_handle.take(), self.eth_listener_handle.take()]
            .into_iter()
            .flatten()
        {
            ctx.cancel_future(h);
        }
        for s in self.sessions.values() {
            s.disconnect(hobbits_chain::rpc::Goodbye::CLIENT_SHUT_DOWN);
        }
        info!(
            peers = self.sessions.len(),
            "shutting down: GOODBYE 1 sent to every peer"
        );
        self.sessions.len()
    }
}
