//! The peer manager's second wire, the ETH raw-TCP dialect (docs/PROTOCOL.md, "The ETH raw-TCP
//! dialect"): its listener (`NodeParts::eth_listen`), its static peers (`eth+tcp://`, dialed and
//! redialed like Hobbits ones) and [`DialEth`]; the manager starts an `EthSession` for each ETH
//! connection the peer table admits. ETH connections share the table with Hobbits ones: the same
//! slots, per-address caps, bans and scores (docs/ARCHITECTURE.md, "One manager, two wires").
//! Sync through roots reads the ETH peers from `GetPeers` (`crate::sync::roots::coordinate`).
//!
//! Part of the manager actor. Handles [`DialEth`] and the ETH listener's accepts ([`EthAccepted`]).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use actix::prelude::*;
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, warn};

use super::PeerManager;
use crate::events::{Disconnect, SessionHandle};
use crate::peer_session::eth::{EthSession, EthSessionSettings};
use crate::peer_session::PeerSession;
use crate::peer_table::{Dialect, Direction, PeerId};
use hobbits_codec::uri::PeerUri;

/// What the manager needs to speak the ETH dialect.
#[derive(Debug, Clone)]
pub struct EthManagerSettings {
    /// Shared by every ETH session.
    pub session: Arc<EthSessionSettings>,
    /// ETH peers dialed at start and redialed when lost (`eth+tcp://host:port`).
    pub static_peers: Vec<SocketAddr>,
}

/// The session actor of one connection, whichever wire it speaks.
#[derive(Debug, Clone)]
pub enum SessionAddr {
    /// A Hobbits connection.
    Hobbits(Addr<PeerSession>),
    /// An ETH raw-TCP connection.
    Eth(Addr<EthSession>),
}

impl SessionAddr {
    /// The wire.
    pub fn dialect(&self) -> Dialect {
        match self {
            SessionAddr::Hobbits(_) => Dialect::Hobbits,
            SessionAddr::Eth(_) => Dialect::Eth,
        }
    }

    /// A handle on the session (an ETH session refuses Hobbits frames and requests).
    pub fn handle(&self, peer: PeerId) -> SessionHandle {
        match self {
            SessionAddr::Hobbits(a) => PeerSession::handle_of(peer, a.clone()),
            SessionAddr::Eth(a) => EthSession::handle_of(peer, a.clone()),
        }
    }

    /// The ETH session, for that dialect.
    pub fn eth(&self) -> Option<Addr<EthSession>> {
        match self {
            SessionAddr::Eth(a) => Some(a.clone()),
            SessionAddr::Hobbits(_) => None,
        }
    }

    /// Closes the connection with goodbye `goodbye` (a local control message).
    pub fn disconnect(&self, goodbye: u64) {
        match self {
            SessionAddr::Hobbits(a) => a.do_send(Disconnect { goodbye }),
            SessionAddr::Eth(a) => a.do_send(Disconnect { goodbye }),
        }
    }
}

/// One accept of the ETH listener (a stream item of the manager, apart from the Hobbits one's).
#[derive(Debug)]
pub struct EthAccepted(pub io::Result<(TcpStream, SocketAddr)>);

impl PeerManager {
    /// These settings also accepting ETH connections on `listener` (already bound).
    pub fn with_eth_listener(mut self, listener: TcpListener) -> Self {
        self.eth_listener = Some(listener);
        self
    }

    /// Starts accepting on the ETH listener, if there is one.
    pub(super) fn accept_eth(&mut self, ctx: &mut Context<Self>) {
        if let Some(listener) = self.eth_listener.take() {
            let accepts = futures_util::stream::unfold(listener, |l| async move {
                let r = l.accept().await;
                Some((EthAccepted(r), l))
            });
            self.eth_listener_handle = Some(ctx.add_stream(accepts));
        }
    }
}

impl StreamHandler<EthAccepted> for PeerManager {
    fn handle(&mut self, item: EthAccepted, ctx: &mut Context<Self>) {
        match item.0 {
            Ok((stream, addr)) if !self.shutting_down => {
                self.start_session(stream, addr, (Direction::Inbound, Dialect::Eth), None, ctx)
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "ETH accept failed"),
        }
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        debug!("ETH listener closed");
    }
}

/// Command: add a static ETH peer (dialed now, redialed when lost; its session sends our hello
/// first). Ignored when the node has no ETH settings.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DialEth {
    /// The peer's address.
    pub addr: SocketAddr,
}

impl Handler<DialEth> for PeerManager {
    type Result = ();
    fn handle(&mut self, msg: DialEth, ctx: &mut Context<Self>) {
        if self.settings.eth.is_none() {
            warn!(addr = %msg.addr, "ETH dial ignored: the node has no ETH settings");
            return;
        }
        self.add_static(PeerUri::from_socket_addr(msg.addr), Dialect::Eth, ctx);
    }
}
