//! [`LinkProxy`]: one TCP proxy on 127.0.0.1 per testnet link. The dialing node connects to the
//! proxy, which connects to the listening node's current address and forwards whole EWP frames
//! (or ETH messages on a link of that wire, `link_codec.rs`) both ways, logging every GOSSIP frame in the [`WireLog`] (when read from the sender and when
//! written to the receiver). A link can be cut (open connections dropped, new ones refused: the
//! nodes' redials fail until it heals) and retargeted when the listening node restarts on a new
//! port. With a [`Shaper`] (the link model in user space), each direction hands frames from its
//! reader to its writer through a bounded queue, stamped with when they may be delivered, so
//! latency pipelines instead of adding up. Tokio tasks; no actor messages.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::codec::{FramedRead, FramedWrite};
use tracing::debug;

use crate::link_codec::{LinkCodec, WireFrame};
use crate::shaper::Shaper;
use crate::spec::Wire;
use crate::wire::WireLog;

/// Frames one direction of a shaped link holds between reading and delivery.
const SHAPED_QUEUE: usize = 1024;

/// Most connections one link carries at once (normally one; a few during redials).
pub const MAX_CONNECTIONS_PER_LINK: usize = 8;

#[derive(Debug)]
struct LinkState {
    cut: AtomicBool,
    target: Mutex<Option<SocketAddr>>,
    conns: Mutex<Vec<JoinHandle<()>>>,
    open: AtomicUsize,
}

/// A proxied link between `dialer` and `listener`.
#[derive(Debug)]
pub struct LinkProxy {
    /// The node that dials (its static peer is [`LinkProxy::addr`]).
    pub dialer: usize,
    /// The node that listens.
    pub listener: usize,
    /// The wire the link carries (what the dialer dials and the listener's address it targets).
    pub wire: Wire,
    addr: SocketAddr,
    state: Arc<LinkState>,
    accept: JoinHandle<()>,
}

struct Ends {
    dialer: usize,
    listener: usize,
    log: Arc<Mutex<WireLog>>,
    start: Instant,
    shaper: Option<Arc<Mutex<Shaper>>>,
    wire: Wire,
}

impl LinkProxy {
    /// Binds a proxy of EWP frames on 127.0.0.1 port 0. Connections are refused until a target
    /// is set.
    pub async fn bind(
        dialer: usize,
        listener: usize,
        log: Arc<Mutex<WireLog>>,
        start: Instant,
        shaper: Option<Arc<Mutex<Shaper>>>,
    ) -> std::io::Result<Self> {
        Self::bind_wire(dialer, listener, log, start, shaper, Wire::Hobbits).await
    }

    /// Binds a proxy of `wire`'s messages on 127.0.0.1 port 0 (see [`LinkProxy::bind`]).
    pub async fn bind_wire(
        dialer: usize,
        listener: usize,
        log: Arc<Mutex<WireLog>>,
        start: Instant,
        shaper: Option<Arc<Mutex<Shaper>>>,
        wire: Wire,
    ) -> std::io::Result<Self> {
        let socket = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = socket.local_addr()?;
        let state = Arc::new(LinkState {
            cut: AtomicBool::new(false),
            target: Mutex::new(None),
            conns: Mutex::new(Vec::new()),
            open: AtomicUsize::new(0),
        });
        let ends = Arc::new(Ends {
            dialer,
            listener,
            log,
            start,
            shaper,
            wire,
        });
        let st = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = socket.accept().await {
                let target = *lock(&st.target);
                let full = st.open.load(Ordering::SeqCst) >= MAX_CONNECTIONS_PER_LINK;
                let (Some(target), false, false) = (target, st.cut.load(Ordering::SeqCst), full)
                else {
                    drop(inbound); // cut, full or nobody listening: the dialer's connect fails
                    continue;
                };
                let (ends, st2) = (ends.clone(), st.clone());
                let task = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(target).await {
                        st2.open.fetch_add(1, Ordering::SeqCst);
                        pump(inbound, outbound, &ends).await;
                        st2.open.fetch_sub(1, Ordering::SeqCst);
                    }
                });
                let mut conns = lock(&st.conns);
                conns.retain(|h| !h.is_finished());
                conns.push(task);
            }
        });
        Ok(LinkProxy {
            dialer,
            listener,
            wire,
            addr,
            state,
            accept,
        })
    }

    /// Where the dialer connects.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening node's address (`None`: it is down, connections are refused).
    pub fn set_target(&self, target: Option<SocketAddr>) {
        *lock(&self.state.target) = target;
        if target.is_none() {
            self.drop_connections();
        }
    }

    /// Cuts (`true`) or heals (`false`) the link.
    pub fn set_cut(&self, cut: bool) {
        self.state.cut.store(cut, Ordering::SeqCst);
        if cut {
            self.drop_connections();
        }
    }

    /// Connections currently forwarded.
    pub fn open_connections(&self) -> usize {
        self.state.open.load(Ordering::SeqCst)
    }

    /// Closes every forwarded connection.
    pub fn drop_connections(&self) {
        for h in lock(&self.state.conns).drain(..) {
            h.abort();
        }
        // Aborted tasks do not run their decrement.
        self.state.open.store(0, Ordering::SeqCst);
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.drop_connections();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Forwards frames both ways until either side closes or sends something that is not a frame.
async fn pump(inbound: TcpStream, outbound: TcpStream, ends: &Ends) {
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (ir, iw) = inbound.into_split();
    let (or, ow) = outbound.into_split();
    let up = forward(
        FramedRead::new(ir, LinkCodec::new(ends.wire)),
        FramedWrite::new(ow, LinkCodec::new(ends.wire)),
        ends.dialer,
        ends.listener,
        ends,
    );
    let down = forward(
        FramedRead::new(or, LinkCodec::new(ends.wire)),
        FramedWrite::new(iw, LinkCodec::new(ends.wire)),
        ends.listener,
        ends.dialer,
        ends,
    );
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

async fn forward<R, W>(
    read: FramedRead<R, LinkCodec>,
    write: FramedWrite<W, LinkCodec>,
    from: usize,
    to: usize,
    ends: &Ends,
) where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    match &ends.shaper {
        // Unshaped: read, then write, in one loop (no queue between them).
        None => forward_now(read, write, from, to, ends).await,
        Some(shaper) => {
            let (tx, rx) = mpsc::channel(SHAPED_QUEUE);
            tokio::join!(
                read_shaped(read, tx, from, to, shaper, ends),
                deliver_shaped(rx, write, to, ends)
            );
        }
    }
}

async fn forward_now<R, W>(
    mut read: FramedRead<R, LinkCodec>,
    mut write: FramedWrite<W, LinkCodec>,
    from: usize,
    to: usize,
    ends: &Ends,
) where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    while let Some(frame) = next_frame(&mut read, from, to).await {
        // A GOSSIP frame is logged as sent now (read off `from`'s socket) and as delivered once
        // written into `to`'s socket, so a direct neighbour's latency counts this hop.
        let gossip = frame.gossip_key();
        if let Some((topic, hash)) = gossip {
            lock(&ends.log).gossip_sent(from, topic, hash, ends.start.elapsed());
        }
        if write.send(frame).await.is_err() {
            return;
        }
        if let Some((topic, hash)) = gossip {
            lock(&ends.log).gossip_delivered(to, topic, hash, ends.start.elapsed());
        }
    }
}

async fn next_frame<R>(
    read: &mut FramedRead<R, LinkCodec>,
    from: usize,
    to: usize,
) -> Option<WireFrame>
where
    R: tokio::io::AsyncRead + Unpin,
{
    match read.next().await? {
        Ok(f) => Some(f),
        Err(e) => {
            debug!(from, to, error = %e, "link proxy: not a frame, closing");
            None
        }
    }
}

async fn read_shaped<R>(
    mut read: FramedRead<R, LinkCodec>,
    queue: mpsc::Sender<(Instant, WireFrame)>,
    from: usize,
    to: usize,
    shaper: &Mutex<Shaper>,
    ends: &Ends,
) where
    R: tokio::io::AsyncRead + Unpin,
{
    while let Some(frame) = next_frame(&mut read, from, to).await {
        if let Some((topic, hash)) = frame.gossip_key() {
            lock(&ends.log).gossip_sent(from, topic, hash, ends.start.elapsed());
        }
        let len = frame.len();
        let at = lock(shaper).deliver_at(from, to, len, Instant::now());
        if queue.send((at, frame)).await.is_err() {
            return;
        }
    }
}

async fn deliver_shaped<W>(
    mut queue: mpsc::Receiver<(Instant, WireFrame)>,
    mut write: FramedWrite<W, LinkCodec>,
    to: usize,
    ends: &Ends,
) where
    W: tokio::io::AsyncWrite + Unpin,
{
    while let Some((at, frame)) = queue.recv().await {
        tokio::time::sleep_until(at.into()).await;
        let gossip = frame.gossip_key();
        if write.send(frame).await.is_err() {
            return;
        }
        if let Some((topic, hash)) = gossip {
            lock(&ends.log).gossip_delivered(to, topic, hash, ends.start.elapsed());
        }
    }
}
