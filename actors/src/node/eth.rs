//! The node's second wire: [`EthListener`] accepts connections of the ETH raw-TCP dialect on its
//! own address (`NodeParts::eth_listen`, off unless asked) and dials ETH peers ([`DialEth`]),
//! starting one [`EthSession`] per connection, at most `max_connections` at once (an accepted
//! connection beyond that is closed at once). With a [`RootsSyncConfig`], each session also gets
//! a poll task: once its hello is done, a sync round through roots every `poll_interval`
//! (`crate::sync::roots`); a peer fault there disconnects the peer with goodbye 3. Handles [`DialEth`], [`GetEthSessions`],
//! [`StopEth`] and `EthSessionClosed`; sends `DisconnectEth` to its sessions when stopped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info, warn};

use crate::peer_session::eth::{
    DisconnectEth, EthSession, EthSessionClosed, EthSessionSettings, GetEthPeerHello,
};
use crate::peer_table::Direction;
use crate::store::StoreClient;
use crate::sync::roots::{sync_round, RootsSyncConfig, RootsSyncError};

/// Goodbye reason sent to every ETH peer when the node stops: client shut down.
const GOODBYE_SHUTDOWN: u64 = 1;
/// Goodbye reason sent to a peer whose answers are provably wrong: fault.
const GOODBYE_FAULT: u64 = 3;

/// Listens (when given a listener) and dials for the ETH dialect.
pub struct EthListener {
    settings: Arc<EthSessionSettings>,
    store: StoreClient,
    max_connections: usize,
    dial_timeout: Duration,
    listener: Option<TcpListener>,
    sync: Option<RootsSyncConfig>,
    sessions: HashMap<SocketAddr, Addr<EthSession>>,
}

impl std::fmt::Debug for EthListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthListener")
            .field("sessions", &self.sessions.len())
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl EthListener {
    /// An actor that accepts on `listener` (if any) and dials on request.
    pub fn new(
        settings: Arc<EthSessionSettings>,
        store: StoreClient,
        max_connections: usize,
        dial_timeout: Duration,
        listener: Option<TcpListener>,
        sync: Option<RootsSyncConfig>,
    ) -> Self {
        EthListener {
            settings,
            store,
            max_connections,
            dial_timeout,
            listener,
            sync,
            sessions: HashMap::new(),
        }
    }

    fn open(
        &mut self,
        stream: TcpStream,
        addr: SocketAddr,
        dir: Direction,
        ctx: &mut Context<Self>,
    ) {
        if self.sessions.len() >= self.max_connections {
            warn!(%addr, max = self.max_connections, "ETH connection refused: too many");
            return;
        }
        let session = EthSession::start(
            stream,
            addr,
            dir,
            self.settings.clone(),
            self.store.clone(),
            Some(ctx.address().recipient()),
        );
        if let Some(config) = &self.sync {
            actix::spawn(poll(session.clone(), self.store.clone(), config.clone()));
        }
        self.sessions.insert(addr, session);
    }
}

/// Sync rounds with one session while it lives: the dialect has no gossip, so this is also how
/// new blocks arrive.
async fn poll(session: Addr<EthSession>, store: StoreClient, config: RootsSyncConfig) {
    // Until the hello is done, look again soon; after a round that imported, go on at once
    // (the peer may have more than one page of roots); otherwise wait `poll_interval`.
    let soon = config.poll_interval.min(Duration::from_millis(10));
    let mut wait = soon;
    loop {
        tokio::time::sleep(wait).await;
        if !session.connected() {
            return;
        }
        match session.send(GetEthPeerHello).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                wait = soon;
                continue;
            }
            Err(_) => return,
        }
        let peer = session.clone().recipient();
        wait = config.poll_interval;
        match sync_round(peer, store.clone(), config.clone()).await {
            Ok(0) => {}
            Ok(blocks) => {
                info!(blocks, "imported through roots");
                wait = Duration::ZERO;
            }
            Err(RootsSyncError::Peer(why)) => {
                warn!(%why, "ETH peer gave a wrong answer; disconnecting");
                session.do_send(DisconnectEth {
                    goodbye: GOODBYE_FAULT,
                });
                return;
            }
            Err(e) => debug!(error = %e, "roots round ended early"),
        }
    }
}

impl Actor for EthListener {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(listener) = self.listener.take() {
            let accepts = futures_util::stream::unfold(listener, |l| async move {
                let next = l.accept().await;
                Some((next, l))
            });
            ctx.add_stream(accepts);
        }
    }
}

impl StreamHandler<std::io::Result<(TcpStream, SocketAddr)>> for EthListener {
    fn handle(&mut self, item: std::io::Result<(TcpStream, SocketAddr)>, ctx: &mut Context<Self>) {
        match item {
            Ok((stream, addr)) => self.open(stream, addr, Direction::Inbound, ctx),
            Err(e) => warn!(error = %e, "ETH accept failed"),
        }
    }
}

/// Command: connect to an ETH peer and start its session (which sends our hello first).
#[derive(Debug, Message)]
#[rtype(result = "Result<Addr<EthSession>, String>")]
pub struct DialEth {
    /// The peer's address.
    pub addr: SocketAddr,
}

impl Handler<DialEth> for EthListener {
    type Result = ResponseActFuture<Self, Result<Addr<EthSession>, String>>;

    fn handle(&mut self, msg: DialEth, _: &mut Context<Self>) -> Self::Result {
        let timeout = self.dial_timeout;
        let addr = msg.addr;
        Box::pin(
            async move { tokio::time::timeout(timeout, TcpStream::connect(addr)).await }
                .into_actor(self)
                .map(move |connected, act, ctx| {
                    let stream = match connected {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => return Err(format!("dial {addr}: {e}")),
                        Err(_) => return Err(format!("dial {addr}: timed out")),
                    };
                    // A loopback dial has a fresh local port: key by the peer's address.
                    act.open(stream, addr, Direction::Outbound, ctx);
                    info!(%addr, "ETH peer dialed");
                    act.sessions
                        .get(&addr)
                        .cloned()
                        .ok_or_else(|| format!("dial {addr}: too many ETH connections"))
                }),
        )
    }
}

/// Query: the ETH sessions running now.
#[derive(Debug, Message)]
#[rtype(result = "Vec<(SocketAddr, Addr<EthSession>)>")]
pub struct GetEthSessions;

impl Handler<GetEthSessions> for EthListener {
    type Result = MessageResult<GetEthSessions>;
    fn handle(&mut self, _: GetEthSessions, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.sessions.iter().map(|(a, s)| (*a, s.clone())).collect())
    }
}

impl Handler<EthSessionClosed> for EthListener {
    type Result = ();
    fn handle(&mut self, msg: EthSessionClosed, _: &mut Context<Self>) {
        self.sessions.remove(&msg.addr);
    }
}

/// Command: say goodbye to every ETH peer and stop listening.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StopEth;

impl Handler<StopEth> for EthListener {
    type Result = ();
    fn handle(&mut self, _: StopEth, ctx: &mut Context<Self>) {
        for session in self.sessions.values() {
            session.do_send(DisconnectEth {
                goodbye: GOODBYE_SHUTDOWN,
            });
        }
        ctx.stop();
    }
}
