//! `PeerManager`: accepts inbound connections under the slot policy of the peer table (banned IPs
//! and per-address caps refused, the pending cap evicting, a full table displacing the worst-scored
//! unprotected peer: docs/PROTOCOL.md, "Connection slots"), dials the static peers and redials lost ones with exponential backoff, keeps one
//! connection per remote node (rule in `peer_table.rs`), scores peers' offences (`scoring.rs`:
//! `PeerPenalized` from sessions, gossip and sync) and bans those that reach the threshold (by
//! IP, and by node id; loopback IPs only with `Scoring::ban_loopback_ips`), and publishes peer
//! events to subscribers.
//!
//! Commands and queries from other actors live in `commands.rs`, the second wire (ETH raw-TCP
//! dialect: its listener, dials and sessions, `EthSession`s in the same table) in `eth.rs` (same
//! actor). ETH peers are admitted, scored, banned, listed and shut down like Hobbits ones; only
//! `PeerHandshaked` / `PeerDisconnected` are published for Hobbits peers alone (sync and gossip
//! speak Hobbits; ETH peers sync through roots: `crate::sync::roots`).
//!
//! Handles: [`GetPeers`], [`GetManagerStats`], [`SendRpcRequest`], [`SendFrameToPeer`],
//! [`DialPeer`], [`DisconnectPeer`], [`Subscribe`], [`Shutdown`], and from sessions
//! `ReportHandshake`, `SessionClosed` (defined in `peer_session/reports.rs`), `PeerPenalized`
//! (sessions, gossip, sync), `GossipReceived` (from anyone; sessions bypass it), [`DialEth`].
//! Sends: `PeerHandshaked`, `PeerDisconnected`, `GossipReceived` to subscribers (try_send; sessions
//! deliver GOSSIP to the gossip subscribers themselves through the shared `GossipSubscribers`);
//! `Disconnect` to sessions.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use hobbits_chain::rpc::Hello;
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info, warn};

use crate::config::Scoring;
use crate::events::{
    GossipReceived, GossipSubscribers, PeerDisconnected, PeerHandshaked, PeerPenalized, Penalty,
    GOODBYE_DUPLICATE, GOODBYE_TOO_MANY_PEERS,
};
use crate::peer_session::eth::EthSession;
use crate::peer_session::{
    PeerSession, ReportHandshake, SessionClosed, SessionLinks, SessionSettings,
};
use crate::peer_table::{
    ip_bannable, Backoff, Dialect, Direction, HandshakeAdmission, NodeId, PeerEntry, PeerId,
    PeerTable, Refusal,
};
use crate::scoring::{ScoreBook, ScoreVerdict};
use crate::store::StoreClient;
use hobbits_codec::uri::PeerUri;

mod commands;
mod eth;

pub use commands::{
    DialPeer, DisconnectPeer, GetManagerStats, GetPeers, ManagerStats, PeerInfo, SendFrameToPeer,
    SendRpcRequest, Shutdown, Subscribe,
};
pub use eth::{DialEth, EthManagerSettings, SessionAddr};

/// Length of the kernel's queue of connections waiting for `accept` (capped by the system's
/// `somaxconn`): room for a burst of reconnecting attackers, so an honest SYN is not dropped
/// (and retried a second later) while the node works through them.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds the node's listener with [`LISTEN_BACKLOG`] (SO_REUSEADDR set, as tokio's own `bind`).
pub fn bind_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// What the manager needs beyond the session settings.
#[derive(Debug, Clone)]
pub struct ManagerSettings {
    /// Shared by every session.
    pub session: Arc<SessionSettings>,
    /// Static peers.
    pub static_peers: Vec<PeerUri>,
    /// Penalties, decay, ban threshold.
    pub scoring: Scoring,
    /// The ETH dialect's sessions and static peers; `None`: the node speaks Hobbits only.
    pub eth: Option<EthManagerSettings>,
}

/// Whom a score belongs to: the remote node id once known, else its IP when IPs are banned for
/// it, else the connection alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ScoreKey {
    Node(NodeId),
    Ip(IpAddr),
    Connection(PeerId),
}

impl ScoreKey {
    fn of(node: Option<NodeId>, ip: IpAddr, peer: PeerId, scoring: &Scoring) -> Self {
        match (node, ip_bannable(ip, scoring.ban_loopback_ips)) {
            (Some(node), _) => ScoreKey::Node(node),
            (None, true) => ScoreKey::Ip(ip),
            (None, false) => ScoreKey::Connection(peer),
        }
    }
}

#[derive(Debug)]
struct StaticPeer {
    uri: PeerUri,
    dialect: Dialect,
    backoff: Backoff,
    dialing: bool,
}

#[derive(Debug, Clone)]
struct SessionInfo {
    /// The session actor (of either wire); a `SessionHandle` is made from it when one is
    /// needed (an idle connection costs an address, not the handle's three recipients).
    session: SessionAddr,
    addr: SocketAddr,
    direction: Direction,
    hello: Option<Hello>,
    node_id: Option<NodeId>,
    /// Scored over the threshold: disconnecting, further reports ignored.
    banned: bool,
}

impl SessionInfo {
    /// Closes the connection with GOODBYE `goodbye` (a local control message).
    fn disconnect(&self, goodbye: u64) {
        self.session.disconnect(goodbye);
    }
}

/// Who hears about peers.
#[derive(Debug, Default, Clone)]
struct Subscribers {
    handshaked: Vec<Recipient<PeerHandshaked>>,
    disconnected: Vec<Recipient<PeerDisconnected>>,
    /// Shared with the sessions, which deliver GOSSIP to these directly.
    gossip: GossipSubscribers,
}

impl Subscribers {
    fn add(&mut self, msg: Subscribe) {
        self.handshaked.extend(msg.handshaked);
        self.disconnected.extend(msg.disconnected);
        if let Some(r) = msg.gossip {
            self.gossip.add(r);
        }
        if let Some(r) = msg.control {
            self.gossip.add_control(r);
        }
    }
}

/// The actor.
pub struct PeerManager {
    settings: ManagerSettings,
    store: StoreClient,
    table: PeerTable,
    scores: ScoreBook<ScoreKey>,
    sessions: HashMap<PeerId, SessionInfo>,
    statics: Vec<StaticPeer>,
    subscribers: Subscribers,
    listener: Option<TcpListener>,
    listener_handle: Option<SpawnHandle>,
    eth_listener: Option<TcpListener>,
    eth_listener_handle: Option<SpawnHandle>,
    shutting_down: bool,
    stats: ManagerStats,
}

impl std::fmt::Debug for PeerManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerManager")
            .field("peers", &self.table.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl PeerManager {
    /// A manager accepting on `listener` (already bound, so its address is known), publishing
    /// peer events to `subscribers` from its first connection on (more can `Subscribe` later).
    pub fn new(
        settings: ManagerSettings,
        store: StoreClient,
        listener: TcpListener,
        subscribers: Vec<Subscribe>,
    ) -> Self {
        let s = &settings.session;
        let table = PeerTable::with_slots(s.limits.slots(), s.limits.max_bans, s.timeouts.ban);
        let eth_statics = settings.eth.iter().flat_map(|e| &e.static_peers);
        let statics = settings
            .static_peers
            .iter()
            .map(|uri| (uri.clone(), Dialect::Hobbits))
            .chain(eth_statics.map(|a| (PeerUri::from_socket_addr(*a), Dialect::Eth)))
            .map(|(uri, dialect)| StaticPeer {
                uri,
                dialect,
                backoff: Backoff::new(s.timeouts.reconnect_initial, s.timeouts.reconnect_max),
                dialing: false,
            })
            .collect();
        let scores = ScoreBook::new(settings.scoring.clone(), s.limits.max_bans);
        let mut subscriber_lists = Subscribers::default();
        for s in subscribers {
            subscriber_lists.add(s);
        }
        PeerManager {
            settings,
            store,
            table,
            scores,
            sessions: HashMap::new(),
            statics,
            subscribers: subscriber_lists,
            listener: Some(listener),
            listener_handle: None,
            eth_listener: None,
            eth_listener_handle: None,
            shutting_down: false,
            stats: ManagerStats::default(),
        }
    }

    fn links(&self, ctx: &mut Context<Self>) -> SessionLinks {
        let me = ctx.address();
        SessionLinks {
            handshake: me.clone().recipient(),
            closed: me.clone().recipient(),
            penalized: me.clone().recipient(),
            gossip: self.subscribers.gossip.clone(),
            store: self.store.clone(),
        }
    }

    fn start_session(
        &mut self,
        stream: TcpStream,
        addr: SocketAddr,
        (direction, dialect): (Direction, Dialect),
        slot: Option<usize>,
        ctx: &mut Context<Self>,
    ) {
        // The ETH sessions' settings (an Arc), for a connection of that wire.
        let eth = match (dialect, &self.settings.eth) {
            (Dialect::Eth, Some(e)) => Some(e.session.clone()),
            _ => None,
        };
        if dialect == Dialect::Eth && eth.is_none() {
            debug!(%addr, "ETH connection without ETH settings: closed");
            return;
        }
        let peer = match self.table.admit(addr, direction, slot, Instant::now()) {
            Ok(admitted) => {
                if let Some(evicted) = admitted.evicted {
                    self.stats.evicted_pending += 1;
                    debug!(peer = %evicted.id, addr = %evicted.addr, "pending connection evicted for a newcomer");
                    if let Some(info) = self.sessions.get(&evicted.id) {
                        info.disconnect(GOODBYE_TOO_MANY_PEERS);
                    }
                }
                admitted.id
            }
            Err(refusal) => {
                match refusal {
                    Refusal::Banned { .. } => self.stats.refused_banned += 1,
                    Refusal::AcceptRate { .. } => self.stats.refused_accept_rate += 1,
                    Refusal::PendingFromAddress { .. } => self.stats.refused_pending_per_ip += 1,
                    Refusal::PeersFromAddress { .. } => self.stats.refused_peers_per_ip += 1,
                }
                debug!(%addr, %direction, %refusal, "connection refused");
                if let Some(slot) = slot {
                    self.schedule_redial(slot, ctx);
                }
                return; // dropping the stream closes it
            }
        };
        let links = self.links(ctx);
        let addr_actor = match eth {
            None => SessionAddr::Hobbits(PeerSession::start(
                stream,
                peer,
                addr,
                direction,
                self.settings.session.clone(),
                links,
            )),
            Some(eth) => {
                SessionAddr::Eth(EthSession::start(stream, peer, addr, direction, eth, links))
            }
        };
        debug!(%peer, %addr, %direction, %dialect, "session started");
        self.sessions.insert(
            peer,
            SessionInfo {
                session: addr_actor,
                addr,
                direction,
                hello: None,
                node_id: None,
                banned: false,
            },
        );
    }

    fn dial(&mut self, slot: usize, ctx: &mut Context<Self>) {
        if self.shutting_down || self.table.static_connected(slot) {
            return;
        }
        let Some(sp) = self.statics.get_mut(slot) else {
            return;
        };
        if sp.dialing {
            return;
        }
        sp.dialing = true;
        let target = sp.uri.host_port();
        let dialect = sp.dialect;
        let timeout = self.settings.session.timeouts.dial;
        let fut = async move {
            let connect = async {
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                for addr in tokio::net::lookup_host(&target).await? {
                    match TcpStream::connect(addr).await {
                        Ok(s) => return Ok((s, addr)),
                        Err(e) => last = e,
                    }
                }
                Err(last)
            };
            match tokio::time::timeout(timeout, connect).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "dial timed out")),
            }
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            if let Some(sp) = act.statics.get_mut(slot) {
                sp.dialing = false;
            }
            match res {
                Ok((stream, addr)) if !act.shutting_down => act.start_session(
                    stream,
                    addr,
                    (Direction::Outbound, dialect),
                    Some(slot),
                    ctx,
                ),
                Ok(_) => {}
                Err(e) => {
                    act.stats.dial_failures += 1;
                    debug!(slot, error = %e, "dial failed");
                    act.schedule_redial(slot, ctx);
                }
            }
        }));
    }

    fn schedule_redial(&mut self, slot: usize, ctx: &mut Context<Self>) {
        if self.shutting_down {
            return;
        }
        let Some(sp) = self.statics.get_mut(slot) else {
            return;
        };
        let delay = sp.backoff.next_delay();
        debug!(uri = %sp.uri, ?delay, failures = sp.backoff.failures(), "redial scheduled");
        ctx.run_later(delay, move |act, ctx| act.dial(slot, ctx));
    }

    fn publish<M>(stats: &mut ManagerStats, list: &[Recipient<M>], msg: &M)
    where
        M: Message<Result = ()> + Send + Clone + 'static,
    {
        for r in list {
            if r.try_send(msg.clone()).is_err() {
                stats.events_dropped += 1;
                warn!(
                    dropped = stats.events_dropped,
                    "subscriber mailbox full: event dropped"
                );
            }
        }
    }

    /// Scores an offence of `peer`; at the threshold, bans it and closes its connection.
    fn penalize(&mut self, peer: PeerId, penalty: &Penalty) {
        let Some(info) = self.sessions.get_mut(&peer) else {
            debug!(%peer, ?penalty, "penalty for a peer already gone");
            return;
        };
        if info.banned {
            return; // reports still in flight from a peer being disconnected
        }
        self.stats.penalties += 1;
        let ip = info.addr.ip();
        let ban_ip = ip_bannable(ip, self.settings.scoring.ban_loopback_ips);
        let key = ScoreKey::of(info.node_id, ip, peer, &self.settings.scoring);
        let now = Instant::now();
        match self.scores.penalize(key, penalty, now) {
            ScoreVerdict::Keep { score } => {
                debug!(%peer, ?penalty, score, "peer penalised");
            }
            ScoreVerdict::Ban { score } => {
                if ban_ip {
                    self.table.ban(ip, now);
                }
                if let Some(node) = info.node_id {
                    self.table.ban_node(node, now);
                }
                info.banned = true;
                self.stats.bans += 1;
                warn!(%peer, %ip, node_id = ?info.node_id, ip_banned = ban_ip, ?penalty, score, ban = ?self.settings.session.timeouts.ban, "peer banned");
                info.disconnect(hobbits_chain::rpc::Goodbye::FAULT_ERROR);
            }
        }
    }
}

impl Actor for PeerManager {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.settings.session.limits.actor_mailbox);
        if let Some(listener) = self.listener.take() {
            let accepts = futures_util::stream::unfold(listener, |l| async move {
                let r = l.accept().await;
                Some((r, l))
            });
            self.listener_handle = Some(ctx.add_stream(accepts));
        }
        self.accept_eth(ctx);
        for slot in 0..self.statics.len() {
            self.dial(slot, ctx);
        }
    }
}

impl StreamHandler<io::Result<(TcpStream, SocketAddr)>> for PeerManager {
    fn handle(&mut self, item: io::Result<(TcpStream, SocketAddr)>, ctx: &mut Context<Self>) {
        match item {
            Ok((stream, addr)) if !self.shutting_down => self.start_session(
                stream,
                addr,
                (Direction::Inbound, Dialect::Hobbits),
                None,
                ctx,
            ),
            Ok(_) => {}
            // EMFILE and friends: keep listening.
            Err(e) => warn!(error = %e, "accept failed"),
        }
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        debug!("listener closed");
    }
}

/// A session's HELLO was accepted: admit it (one connection per node, bans) and publish
/// `PeerHandshaked`.
impl Handler<ReportHandshake> for PeerManager {
    type Result = MessageResult<ReportHandshake>;

    fn handle(&mut self, msg: ReportHandshake, _: &mut Context<Self>) -> Self::Result {
        let ours = self.settings.session.node_id;
        let now = Instant::now();
        let (scores, scoring) = (&self.scores, &self.settings.scoring);
        let score =
            |e: &PeerEntry| scores.score(&ScoreKey::of(e.node_id, e.addr.ip(), e.id, scoring), now);
        let admission = self
            .table
            .on_handshake(msg.peer, msg.node_id, ours, now, score);
        match admission {
            HandshakeAdmission::Accept
            | HandshakeAdmission::Replaces { .. }
            | HandshakeAdmission::Displaces { .. } => {
                if let HandshakeAdmission::Replaces { close } = admission {
                    if let Some(other) = self.sessions.get(&close) {
                        other.disconnect(GOODBYE_DUPLICATE);
                    }
                }
                if let HandshakeAdmission::Displaces { close } = admission {
                    self.stats.displaced += 1;
                    if let Some(other) = self.sessions.get(&close) {
                        info!(peer = %close, addr = %other.addr, newcomer = %msg.peer, "peer displaced by a newcomer (slots full)");
                        other.disconnect(GOODBYE_TOO_MANY_PEERS);
                    }
                }
                let Some(info) = self.sessions.get_mut(&msg.peer) else {
                    return MessageResult(admission);
                };
                info.hello = Some(msg.hello.clone());
                info.node_id = msg.node_id;
                if let Some(slot) = self.table.get(msg.peer).and_then(|e| e.static_slot) {
                    if let Some(sp) = self.statics.get_mut(slot) {
                        sp.backoff.reset();
                    }
                }
                info!(peer = %msg.peer, addr = %info.addr, node_id = ?msg.node_id, best_slot = msg.hello.best_slot.0, "peer handshaked");
                let event = PeerHandshaked {
                    peer: msg.peer,
                    addr: info.addr,
                    direction: info.direction,
                    node_id: msg.node_id,
                    hello: msg.hello,
                    session: msg.session,
                    gossip_overlay: msg.gossip_overlay,
                };
                if info.session.dialect() == Dialect::Hobbits {
                    Self::publish(&mut self.stats, &self.subscribers.handshaked, &event);
                }
            }
            HandshakeAdmission::Banned { remaining } => {
                self.stats.refused_banned_node += 1;
                info!(peer = %msg.peer, node_id = ?msg.node_id, ?remaining, "banned node refused at handshake");
            }
            HandshakeAdmission::Full { max } => {
                self.stats.refused_full += 1;
                info!(peer = %msg.peer, max, "peer slots full, nobody to displace: newcomer refused");
            }
            HandshakeAdmission::AddressFull { max } => {
                self.stats.refused_peers_per_ip += 1;
                info!(peer = %msg.peer, max, "peers per address reached: newcomer refused");
            }
            HandshakeAdmission::Duplicate { .. } | HandshakeAdmission::SelfConnection => {}
        }
        MessageResult(admission)
    }
}

/// A session, gossip or sync reports an offence: scored, and banned at the threshold.
impl Handler<PeerPenalized> for PeerManager {
    type Result = ();
    fn handle(&mut self, msg: PeerPenalized, _: &mut Context<Self>) {
        self.penalize(msg.peer, &msg.penalty);
    }
}

/// A session stopped: forget it, publish `PeerDisconnected` (when it was handshaked), redial
/// a static peer.
impl Handler<SessionClosed> for PeerManager {
    type Result = ();
    fn handle(&mut self, msg: SessionClosed, ctx: &mut Context<Self>) {
        let info = self.sessions.remove(&msg.peer);
        let Some(entry) = self.table.remove(msg.peer) else {
            return;
        };
        info!(peer = %msg.peer, addr = %entry.addr, reason = ?msg.reason, "peer disconnected");
        let hobbits = info
            .as_ref()
            .is_none_or(|i| i.session.dialect() == Dialect::Hobbits);
        if entry.handshaked && hobbits {
            let event = PeerDisconnected {
                peer: msg.peer,
                addr: entry.addr,
                reason: msg.reason,
            };
            Self::publish(&mut self.stats, &self.subscribers.disconnected, &event);
        }
        drop(info);
        if let Some(slot) = entry.static_slot {
            self.schedule_redial(slot, ctx);
        }
    }
}

impl Handler<GossipReceived> for PeerManager {
    type Result = ();
    fn handle(&mut self, msg: GossipReceived, _: &mut Context<Self>) {
        let refused = self.subscribers.gossip.deliver(msg);
        if refused > 0 {
            self.stats.events_dropped += refused as u64;
            warn!(
                dropped = self.stats.events_dropped,
                "subscriber mailbox full: event dropped"
            );
        }
    }
}
