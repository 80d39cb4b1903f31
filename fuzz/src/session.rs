//! The `peer_session` target: a whole `PeerSession` actor driven through an in-memory socket whose
//! bytes, read splits and `Pending` returns the fuzzer chooses (as h2 fuzzes its connection),
//! against a stub manager (accepts every handshake, records the close and the penalties) and a
//! real chain store actor at genesis. Handles `ReportHandshake`, `SessionClosed`, `PeerPenalized`
//! in its stub; sends nothing else.
//!
//! Input layout: `[mode] [script...]`.
//! - `mode` bit 0: a valid HELLO (spec shape, our genesis) is delivered first, so the fuzzer's bytes
//!   reach the handshaked session (RPC requests, GOSSIP, PING) instead of stopping at "before
//!   HELLO"; bit 1: the session is outbound (it sends HELLO first); bit 2: the session advertises the
//!   gossip overlay (control frames, methods 1-4, are then read as such);
//! - the script is a list of steps: a byte `op`, then data. `op >> 6`: 0 = one read returning the
//!   next `(op & 63) + 1` bytes, 1 = a read returning `Pending` (woken at once), 2 = the next
//!   `(op & 63) + 1` bytes one read per byte, 3 = the rest of the input as one read. After the
//!   script, [`TRAILING_YIELDS`] `Pending` reads let the node answer, then the stream ends (EOF).
//!
//! Invariants: nothing panics (the session, the store, the codec); after EOF the session stops
//! within [`CLOSE_DEADLINE`] (no hang, no leak of the actor); every byte the node wrote is a
//! well-formed stream of whole frames within the default limits.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix::prelude::*;
use bytes::BytesMut;
use hobbits_actors::events::{GossipSubscribers, PeerPenalized};
use hobbits_actors::node::memory_store;
use hobbits_actors::peer_session::{ReportHandshake, SessionClosed, SessionLinks, SessionSettings};
use hobbits_actors::peer_table::HandshakeAdmission;
use hobbits_actors::{
    ChainStoreActor, Direction, NodeConfig, NodeId, PeerId, PeerSession, StoreClient,
};
use hobbits_codec::rpc::{RequestId, RpcEnvelope, RpcPayload};
use hobbits_codec::{FrameCodec, FrameLimits};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::codec::{Decoder, Encoder};

/// `Pending` reads (each a yield to the other actors) appended to every script before EOF, so
/// the node's answers to what it read are written before the stream ends.
pub const TRAILING_YIELDS: usize = 256;

/// Longest wait for the session to stop after the end of its input.
pub const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

/// One step of the in-memory socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A read returning these bytes (or as many as fit; the rest is read next).
    Data(Vec<u8>),
    /// A read returning `Pending`; the task is woken at once.
    Pending,
}

/// Parses the script part of the input into steps.
pub fn script(mut data: &[u8]) -> Vec<Step> {
    let mut steps = Vec::new();
    while let Some((&op, rest)) = data.split_first() {
        data = rest;
        let n = usize::from(op & 63) + 1;
        match op >> 6 {
            0 => {
                let take = n.min(data.len());
                steps.push(Step::Data(data[..take].to_vec()));
                data = &data[take..];
            }
            1 => steps.push(Step::Pending),
            2 => {
                let take = n.min(data.len());
                steps.extend(data[..take].iter().map(|b| Step::Data(vec![*b])));
                data = &data[take..];
            }
            _ => {
                steps.push(Step::Data(data.to_vec()));
                data = &[];
            }
        }
    }
    steps
}

/// The read half: plays the steps, then EOF.
struct ScriptedRead(VecDeque<Step>);

impl AsyncRead for ScriptedRead {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.0.pop_front() {
            None => Poll::Ready(Ok(())),
            Some(Step::Pending) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(Step::Data(mut d)) => {
                let n = d.len().min(buf.remaining());
                buf.put_slice(&d[..n]);
                if n < d.len() {
                    self.0.push_front(Step::Data(d.split_off(n)));
                }
                Poll::Ready(Ok(()))
            }
        }
    }
}

/// The write half: keeps everything written.
struct Sink(Rc<RefCell<Vec<u8>>>);

impl AsyncWrite for Sink {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        self.0.borrow_mut().extend_from_slice(b);
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The stub manager.
struct StubManager {
    closed: Rc<Cell<bool>>,
    penalties: Rc<Cell<u32>>,
    notify: Rc<tokio::sync::Notify>,
}

impl Actor for StubManager {
    type Context = actix::Context<Self>;
}

impl Handler<ReportHandshake> for StubManager {
    type Result = MessageResult<ReportHandshake>;
    fn handle(&mut self, _: ReportHandshake, _: &mut actix::Context<Self>) -> Self::Result {
        MessageResult(HandshakeAdmission::Accept)
    }
}

impl Handler<SessionClosed> for StubManager {
    type Result = ();
    fn handle(&mut self, _: SessionClosed, _: &mut actix::Context<Self>) {
        self.closed.set(true);
        self.notify.notify_one();
    }
}

impl Handler<PeerPenalized> for StubManager {
    type Result = ();
    fn handle(&mut self, _: PeerPenalized, _: &mut actix::Context<Self>) {
        self.penalties.set(self.penalties.get() + 1);
    }
}

/// What one run left behind.
#[derive(Debug)]
pub struct Run {
    /// The session stopped after EOF within the deadline.
    pub closed: bool,
    /// Bytes the node wrote.
    pub written: Vec<u8>,
    /// Penalties reported.
    pub penalties: u32,
}

struct Harness {
    system: actix::SystemRunner,
    config: NodeConfig,
    store: StoreClient,
    hello: Vec<u8>,
}

thread_local! {
    static HARNESS: RefCell<Option<Harness>> = const { RefCell::new(None) };
}

fn harness() -> Harness {
    let system = actix::System::new();
    let mut config = NodeConfig::local_test();
    config.node_id = NodeId(1);
    // No linger: the session stops on the next turn after closing (many runs a second).
    config.timeouts.goodbye_linger = Duration::ZERO;
    let (store, genesis) = system.block_on(async {
        let store = memory_store(&config).expect("genesis store");
        let actor = ChainStoreActor::new(Box::new(store), 1, 1, 64, 1024).start();
        let client = StoreClient::new(actor);
        let genesis = client.genesis_root().await.expect("store alive");
        (client, genesis)
    });
    let hello = hobbits_chain::rpc::Hello {
        network_id: 1,
        chain_id: 1,
        latest_finalized_root: genesis,
        latest_finalized_epoch: hobbits_chain::Epoch(0),
        best_root: genesis,
        best_slot: hobbits_chain::Slot(0),
    };
    let env = RpcEnvelope::new(RequestId(1), &RpcPayload::Hello(hello));
    let mut buf = BytesMut::new();
    FrameCodec::default()
        .encode(env.to_frame().expect("HELLO frame"), &mut buf)
        .expect("encode");
    Harness {
        system,
        config,
        store,
        hello: buf.to_vec(),
    }
}

/// Runs one session over the scripted socket.
pub fn run(mode: u8, steps: Vec<Step>) -> Run {
    HARNESS.with(|cell| {
        let mut slot = cell.borrow_mut();
        let h = slot.get_or_insert_with(harness);
        let mut steps: VecDeque<Step> = steps.into();
        if mode & 1 != 0 {
            steps.push_front(Step::Data(h.hello.clone()));
        }
        // Before EOF, let the node answer what it read (store replies, writes).
        steps.extend(std::iter::repeat_n(Step::Pending, TRAILING_YIELDS));
        let direction = if mode & 2 != 0 {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let settings = Arc::new(SessionSettings {
            node_id: h.config.node_id,
            user_agent: h.config.user_agent.clone(),
            limits: h.config.limits.clone(),
            timeouts: h.config.timeouts.clone(),
            metrics: None,
            gossip_overlay: mode & 4 != 0,
        });
        let store = h.store.clone();
        h.system.block_on(async move {
            let closed = Rc::new(Cell::new(false));
            let penalties = Rc::new(Cell::new(0));
            let notify = Rc::new(tokio::sync::Notify::new());
            let manager = StubManager {
                closed: closed.clone(),
                penalties: penalties.clone(),
                notify: notify.clone(),
            }
            .start();
            let links = SessionLinks {
                handshake: manager.clone().recipient(),
                closed: manager.clone().recipient(),
                penalized: manager.clone().recipient(),
                gossip: GossipSubscribers::default(),
                store,
            };
            let written = Rc::new(RefCell::new(Vec::new()));
            let addr = SocketAddr::from(([127, 0, 0, 1], 9000));
            let session = PeerSession::start_io(
                ScriptedRead(steps),
                Box::new(Sink(written.clone())),
                PeerId(1),
                addr,
                direction,
                settings,
                links,
            );
            let _ = tokio::time::timeout(CLOSE_DEADLINE, notify.notified()).await;
            drop(session);
            let run = Run {
                closed: closed.get(),
                written: written.borrow().clone(),
                penalties: penalties.get(),
            };
            run
        })
    })
}

/// The fuzz entry point: runs the input and checks the invariants.
pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let r = run(mode, script(rest));
    assert!(r.closed, "the session did not stop after EOF");
    let mut codec = FrameCodec::new(FrameLimits::default());
    let mut buf = BytesMut::from(&r.written[..]);
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("the node wrote a malformed frame: {e}"),
        }
    }
    assert!(buf.is_empty(), "the node wrote a partial frame");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_steps() {
        assert_eq!(
            script(&[1, 7, 8, 0x40, 0x81, 9, 10, 0xC0, 1, 2]),
            vec![
                Step::Data(vec![7, 8]),
                Step::Pending,
                Step::Data(vec![9]),
                Step::Data(vec![10]),
                Step::Data(vec![1, 2]),
            ]
        );
    }

    #[test]
    fn a_hello_then_a_status_request_is_answered_and_the_session_stops_at_eof() {
        let env = RpcEnvelope::new(
            RequestId(2),
            &RpcPayload::GetStatus(hobbits_chain::rpc::GetStatus::new("fuzz", 1)),
        );
        let mut buf = BytesMut::new();
        FrameCodec::default()
            .encode(env.to_frame().expect("frame"), &mut buf)
            .expect("encode");
        let mut input = vec![1u8, 0xC0];
        input.extend_from_slice(&buf);
        check(&input);
        let r = run(1, script(&input[1..]));
        assert!(r.closed);
        // HELLO reply and GET_STATUS answer at least.
        assert!(r.written.len() > 40, "{} bytes written", r.written.len());
        assert_eq!(r.penalties, 0);
    }
}
