//! `EthSession`: one actor per connection of the ETH raw-TCP dialect (the eth2 RPC interface
//! v0.8.1 without libp2p; wire in `hobbits_codec::eth`, positions in docs/PROTOCOL.md).
//!
//! - hello: two-phase, the initiator first. The dialer sends its hello when the session starts
//!   and checks the answer; the acceptor checks the hello it receives and answers with its own.
//!   Another network or chain (a `chain_id` above 255 included), or a finalized root not in our
//!   chain, ends the connection with goodbye 2; no hello within `handshake_timeout`, goodbye 3.
//! - Requests before the hello are answered 20 (invalid request) and not served.
//! - goodbye: logged, the connection closes (never answered).
//! - get_status: answered by the session itself (`sha` all zero: we do not embed a commit).
//! - beacon_block_roots, beacon_block_headers, beacon_block_bodies: served by the chain store
//!   ([`crate::store::ServeEth`]); beacon_chain_state: 30 with a text (the spec's "TBD").
//! - Faults: a message that does not frame closes the connection; one that frames but does not
//!   decode is answered as the codec says (10, 20, 30; never a response to a response) and
//!   counted; more than `max_bad_messages` closes with goodbye 3. Requests beyond the token
//!   bucket are answered 40 (server error, "rate limited"). Every fault is also reported to the
//!   peer manager as a `PeerPenalized` with its [`Penalty`], scored like a Hobbits peer's.
//!
//! The session is a peer of the `PeerManager` like a `PeerSession` (docs/ARCHITECTURE.md, "One
//! manager, two wires"): started by it under the same slot policy, it reports its accepted hello
//! (`ReportHandshake`, with the hello in Hobbits form and no node id) and closes when the manager
//! refuses it, reports faults (`PeerPenalized`) and its end (`SessionClosed`).
//!
//! Handles [`SendEthRequest`] (our requests, matched to responses by id, with a timeout),
//! [`GetEthPeerHello`], and the three commands of a `SessionHandle`: `Disconnect` (goodbye and
//! close), `SendFrame` (dropped: no Hobbits frames on this wire), `SendRequest` (refused with
//! `RpcError::WrongDialect`). Sends `GetHello`, `CheckHello`, `ServeEth` (store) and
//! `ReportHandshake`, `PeerPenalized`, `SessionClosed` (manager).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::io::{FramedWrite, WriteHandler};
use actix::prelude::*;
use hobbits_chain::rpc::{Goodbye, Hello};
use hobbits_codec::eth::{
    EthCodec, EthError, EthFrame, EthHello, EthLimits, EthMessage, EthMethod, EthRequest,
    EthRequestBody, EthResponse, EthResponseBody, EthStatus, CHAIN_STATE_NOT_SERVED,
};
use hobbits_codec::rpc::RequestId;
use hobbits_codec::ResponseCode;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_util::codec::FramedRead;
use tracing::{debug, info, warn};

use super::{now_ms, ReportHandshake, SessionClosed, SessionLinks, SessionStats};
use crate::events::{
    Disconnect, DisconnectReason, PeerPenalized, Penalty, SendFrame, SendRequest, SessionHandle,
    GOODBYE_DUPLICATE, GOODBYE_TOO_MANY_PEERS,
};
use crate::peer_table::{Direction, HandshakeAdmission, PeerId};
use crate::rpc::RpcResponse;
use crate::rpc_tracker::RpcError;
use crate::scoring::TokenBucket;

/// Goodbye reason: another network, or a finalized root not in our chain.
const GOODBYE_IRRELEVANT: u64 = 2;
/// Goodbye reason: a fault (bad messages, no hello in time).
const GOODBYE_FAULT: u64 = 3;

/// What every ETH session of a node shares.
#[derive(Debug, Clone)]
pub struct EthSessionSettings {
    /// get_status user agent.
    pub user_agent: String,
    /// Codec bounds (message length, list lengths).
    pub limits: EthLimits,
    /// The hello must be done within this time of the connection.
    pub handshake_timeout: Duration,
    /// Our requests fail with [`EthRequestError::Timeout`] after this.
    pub request_timeout: Duration,
    /// Our requests in flight at once, beyond which [`EthRequestError::TooMany`].
    pub max_outstanding: usize,
    /// Messages that frame but do not decode before the connection is closed.
    pub max_bad_messages: u32,
    /// Requests served per second (token bucket refill).
    pub rpc_rate_per_sec: u32,
    /// Token bucket size.
    pub rpc_burst: u32,
}

/// Why one of our requests failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EthRequestError {
    /// The peer answered with an error code.
    #[error("peer answered {code:?}: {message}")]
    Refused {
        /// The code.
        code: ResponseCode,
        /// Its text.
        message: String,
    },
    /// The peer's success result is not the method's response container.
    #[error("bad response: {0}")]
    BadResponse(String),
    /// No answer in time.
    #[error("request timed out")]
    Timeout,
    /// Too many of our requests in flight.
    #[error("too many requests in flight")]
    TooMany,
    /// The session is gone or closing.
    #[error("disconnected")]
    Disconnected,
}

/// Command: send a request to the peer and wait for its answer (not hello or goodbye, which
/// are the session's own).
#[derive(Debug, Message)]
#[rtype(result = "Result<EthResponseBody, EthRequestError>")]
pub struct SendEthRequest {
    /// The request.
    pub request: EthRequestBody,
}

/// Query: the peer's hello once the handshake is done (`None` before).
#[derive(Debug, Message)]
#[rtype(result = "Option<EthHello>")]
pub struct GetEthPeerHello;

type Reply = oneshot::Sender<Result<EthResponseBody, EthRequestError>>;

struct Pending {
    method: EthMethod,
    /// `None` for the session's own hello.
    reply: Option<Reply>,
}

/// The per-connection actor of the ETH dialect.
pub struct EthSession {
    peer: PeerId,
    addr: SocketAddr,
    direction: Direction,
    span: tracing::Span,
    settings: Arc<EthSessionSettings>,
    links: SessionLinks,
    writer: FramedWrite<EthFrame, OwnedWriteHalf, EthCodec>,
    peer_hello: Option<EthHello>,
    /// Set when closing begins (why, for `SessionClosed`).
    close_reason: Option<DisconnectReason>,
    next_id: u64,
    pending: HashMap<u64, Pending>,
    bad_messages: u32,
    bucket: TokenBucket,
}

impl std::fmt::Debug for EthSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthSession")
            .field("peer", &self.peer)
            .field("addr", &self.addr)
            .field("direction", &self.direction)
            .field("handshaked", &self.peer_hello.is_some())
            .finish_non_exhaustive()
    }
}

impl EthSession {
    /// Starts the actor for a connected socket admitted as `peer` by the manager (`links`); an
    /// outbound session sends its hello first.
    pub fn start(
        stream: TcpStream,
        peer: PeerId,
        addr: SocketAddr,
        direction: Direction,
        settings: Arc<EthSessionSettings>,
        links: SessionLinks,
    ) -> Addr<EthSession> {
        let _ = stream.set_nodelay(true);
        EthSession::create(move |ctx| {
            let (read, write) = stream.into_split();
            ctx.add_stream(FramedRead::new(read, EthCodec::new(settings.limits)));
            let writer = FramedWrite::new(write, EthCodec::new(settings.limits), ctx);
            let bucket = TokenBucket::new(
                settings.rpc_rate_per_sec,
                settings.rpc_burst,
                Instant::now(),
            );
            EthSession {
                peer,
                addr,
                direction,
                span: tracing::info_span!("eth_peer", %peer, %addr, dir = %direction),
                settings,
                links,
                writer,
                peer_hello: None,
                close_reason: None,
                next_id: 1,
                pending: HashMap::new(),
                bad_messages: 0,
                bucket,
            }
        })
    }

    /// The handle other actors use to reach the session of `peer` at `addr` (its requests and
    /// frames are refused: see the module doc).
    pub fn handle_of(peer: PeerId, addr: Addr<EthSession>) -> SessionHandle {
        SessionHandle::new(
            peer,
            addr.clone().recipient(),
            addr.clone().recipient(),
            addr.recipient(),
        )
    }

    fn closing(&self) -> bool {
        self.close_reason.is_some()
    }

    /// Reports an offence to the manager for scoring (dropped when its mailbox is full).
    fn report(&self, penalty: Penalty) {
        let _ = self.links.penalized.try_send(PeerPenalized {
            peer: self.peer,
            penalty,
        });
    }

    fn write(&mut self, message: EthMessage) {
        if !self.closing() {
            self.writer.write(message.to_frame());
        }
    }

    fn respond(&mut self, response: EthResponse) {
        self.write(EthMessage::Response(response));
    }

    /// Sends a request and records what answers it; the id is ours (monotonic from 1).
    fn request(&mut self, body: &EthRequestBody, reply: Option<Reply>, ctx: &mut Context<Self>) {
        let id = self.next_id;
        self.next_id += 1;
        self.write(EthMessage::Request(EthRequest::new(RequestId(id), body)));
        if body.method() == EthMethod::Goodbye {
            return;
        }
        self.pending.insert(
            id,
            Pending {
                method: body.method(),
                reply,
            },
        );
        ctx.run_later(self.settings.request_timeout, move |act, ctx| {
            if let Some(p) = act.pending.remove(&id) {
                match p.reply {
                    Some(reply) => {
                        let _ = reply.send(Err(EthRequestError::Timeout));
                    }
                    None => {
                        act.report(Penalty::Timeout {
                            reason: "hello not answered".into(),
                        });
                        act.close(ctx, DisconnectReason::HandshakeTimeout, Some(GOODBYE_FAULT));
                    }
                }
            }
        });
    }

    /// Sends goodbye (when given), stops reading and closes once the writer has flushed.
    fn close(&mut self, ctx: &mut Context<Self>, why: DisconnectReason, goodbye: Option<u64>) {
        if self.closing() {
            return;
        }
        let _g = self.span.clone().entered();
        info!(goodbye, reason = ?why, "closing ETH session");
        if let Some(reason) = goodbye {
            self.request(&EthRequestBody::Goodbye(Goodbye { reason }), None, ctx);
        }
        self.close_reason = Some(why);
        self.writer.close();
        // The writer's `finished` stops the actor; this bounds a peer that stops reading.
        ctx.run_later(Duration::from_secs(1), |_, ctx| ctx.stop());
    }

    fn bad_message(&mut self, ctx: &mut Context<Self>, err: &EthError) {
        self.bad_messages += 1;
        warn!(error = %err, count = self.bad_messages, "bad ETH message");
        self.report(Penalty::BadMessage {
            reason: err.to_string(),
        });
        if let Some(reply) = err.reply() {
            self.respond(reply);
        }
        if self.bad_messages > self.settings.max_bad_messages {
            let count = self.bad_messages;
            self.close(
                ctx,
                DisconnectReason::TooManyBadMessages { count },
                Some(GOODBYE_FAULT),
            );
        }
    }

    /// Checks a peer's hello with the store: `Ok((ours, theirs in Hobbits form))` or why to
    /// leave (and with which goodbye).
    fn check_hello(
        &self,
        theirs: EthHello,
    ) -> impl std::future::Future<Output = Result<(EthHello, Hello), (DisconnectReason, Option<u64>)>>
           + 'static {
        let store = self.links.store.clone();
        async move {
            let Some(hobbits) = theirs.to_hobbits() else {
                warn!(chain_id = theirs.chain_id, "hello from another chain");
                let goodbye = GOODBYE_IRRELEVANT;
                return Err((DisconnectReason::Local { goodbye }, Some(goodbye)));
            };
            match store.check_hello(hobbits.clone(), false).await {
                Ok(checked) => match checked.verdict {
                    Ok(()) => Ok((EthHello::from(&checked.ours), hobbits)),
                    Err(e) => Err((
                        DisconnectReason::IrrelevantNetwork(e),
                        Some(GOODBYE_IRRELEVANT),
                    )),
                },
                Err(_) => Err((DisconnectReason::Internal, None)),
            }
        }
    }

    fn on_request(&mut self, req: EthRequest, ctx: &mut Context<Self>) {
        let body =
            match EthRequestBody::decode(req.id, req.method, &req.body, &self.settings.limits) {
                Ok(body) => body,
                Err(e) => return self.bad_message(ctx, &e),
            };
        let id = req.id;
        match body {
            EthRequestBody::Hello(theirs) => {
                ctx.spawn(self.check_hello(theirs.clone()).into_actor(self).map(
                    move |verdict, act, ctx| match verdict {
                        Ok((ours, hobbits)) => {
                            act.respond(EthResponse::success(id, &EthResponseBody::Hello(ours)));
                            act.handshaked(theirs, hobbits, ctx);
                        }
                        Err((why, goodbye)) => act.close(ctx, why, goodbye),
                    },
                ));
            }
            EthRequestBody::Goodbye(g) => self.close(
                ctx,
                DisconnectReason::Goodbye {
                    reason: Some(g.reason),
                },
                None,
            ),
            _ if self.peer_hello.is_none() => self.respond(EthResponse::error(
                id,
                ResponseCode::InvalidRequest,
                "hello first",
            )),
            _ if !self.bucket.try_take(Instant::now()) => {
                self.report(Penalty::RateLimited {
                    reason: format!("{:?}", body.method()),
                });
                self.respond(EthResponse::error(
                    id,
                    ResponseCode::ServerError,
                    "rate limited",
                ))
            }
            EthRequestBody::GetStatus(_) => {
                let ours = EthStatus::new([0; 32], &self.settings.user_agent, now_ms());
                self.respond(EthResponse::success(id, &EthResponseBody::GetStatus(ours)));
            }
            EthRequestBody::BeaconChainState(_) => self.respond(EthResponse::error(
                id,
                CHAIN_STATE_NOT_SERVED,
                "beacon_chain_state: the response is TBD in the spec; not served",
            )),
            served => {
                ctx.spawn(self.links.store.serve_eth(served).into_actor(self).map(
                    move |answer, act, _| match answer {
                        Ok(Some(body)) => act.respond(EthResponse::success(id, &body)),
                        Ok(None) | Err(_) => act.respond(EthResponse::error(
                            id,
                            ResponseCode::ServerError,
                            "store unavailable",
                        )),
                    },
                ));
            }
        }
    }

    /// The hello exchange succeeded: ask the manager for a peer slot; serve once admitted,
    /// close as a Hobbits session would when refused.
    fn handshaked(&mut self, theirs: EthHello, hobbits: Hello, ctx: &mut Context<Self>) {
        let report = ReportHandshake {
            peer: self.peer,
            node_id: None,
            hello: hobbits,
            session: Self::handle_of(self.peer, ctx.address()),
            gossip_overlay: false,
        };
        let fut = self.links.handshake.send(report);
        ctx.spawn(fut.into_actor(self).map(move |admission, act, ctx| {
            let _g = act.span.clone().entered();
            let (why, goodbye) = match admission {
                Ok(a) if a.is_accepted() => {
                    info!(best_slot = theirs.best_slot.0, "ETH peer handshaked");
                    act.peer_hello = Some(theirs);
                    return;
                }
                Ok(HandshakeAdmission::Banned { .. }) => (DisconnectReason::Banned, GOODBYE_FAULT),
                Ok(HandshakeAdmission::Duplicate { .. }) => {
                    (DisconnectReason::Duplicate, GOODBYE_DUPLICATE)
                }
                Ok(HandshakeAdmission::SelfConnection) => {
                    (DisconnectReason::SelfConnection, GOODBYE_DUPLICATE)
                }
                Ok(_) => {
                    let goodbye = GOODBYE_TOO_MANY_PEERS;
                    (DisconnectReason::Local { goodbye }, goodbye)
                }
                Err(_) => return act.close(ctx, DisconnectReason::Internal, None),
            };
            info!(reason = ?why, "ETH peer refused a slot");
            act.close(ctx, why, Some(goodbye));
        }));
    }

    fn on_response(&mut self, resp: EthResponse, ctx: &mut Context<Self>) {
        let Some(pending) = self.pending.remove(&resp.id.0) else {
            debug!(id = resp.id.0, "response to no request of ours; dropped");
            return;
        };
        let result = resp
            .decode_result(pending.method, &self.settings.limits)
            .map_err(|e| match e {
                EthError::ErrorResponse { code, message, .. } => {
                    EthRequestError::Refused { code, message }
                }
                other => EthRequestError::BadResponse(other.to_string()),
            });
        match pending.reply {
            Some(reply) => {
                let _ = reply.send(result);
            }
            None => match result {
                Ok(EthResponseBody::Hello(theirs)) => {
                    ctx.spawn(self.check_hello(theirs.clone()).into_actor(self).map(
                        move |verdict, act, ctx| match verdict {
                            Ok((_, hobbits)) => act.handshaked(theirs, hobbits, ctx),
                            Err((why, goodbye)) => act.close(ctx, why, goodbye),
                        },
                    ));
                }
                other => {
                    let reason = format!("hello answered with {other:?}");
                    self.report(Penalty::BadMessage {
                        reason: reason.clone(),
                    });
                    debug!(%reason, "hello not answered with a hello");
                    let goodbye = GOODBYE_FAULT;
                    self.close(ctx, DisconnectReason::Local { goodbye }, Some(goodbye))
                }
            },
        }
    }
}

impl Actor for EthSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let _g = self.span.clone().entered();
        debug!("ETH session started");
        if self.direction == Direction::Outbound {
            ctx.spawn(self.links.store.hello().into_actor(self).map(
                |hello, act, ctx| match hello {
                    Ok(h) => act.request(&EthRequestBody::Hello(EthHello::from(&h)), None, ctx),
                    Err(_) => act.close(ctx, DisconnectReason::Internal, None),
                },
            ));
        }
        ctx.run_later(self.settings.handshake_timeout, |act, ctx| {
            if act.peer_hello.is_none() && !act.closing() {
                act.report(Penalty::Timeout {
                    reason: "no hello in time".into(),
                });
                act.close(ctx, DisconnectReason::HandshakeTimeout, Some(GOODBYE_FAULT));
            }
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        for (_, p) in self.pending.drain() {
            if let Some(reply) = p.reply {
                let _ = reply.send(Err(EthRequestError::Disconnected));
            }
        }
        let reason = self
            .close_reason
            .take()
            .unwrap_or(DisconnectReason::RemoteClosed);
        debug!(
            ?reason,
            bad_messages = self.bad_messages,
            "ETH session stopped"
        );
        self.links.closed.do_send(SessionClosed {
            peer: self.peer,
            reason,
            stats: SessionStats {
                bad_messages: self.bad_messages,
                ..SessionStats::default()
            },
        });
    }
}

impl StreamHandler<Result<EthFrame, EthError>> for EthSession {
    fn handle(&mut self, item: Result<EthFrame, EthError>, ctx: &mut Context<Self>) {
        if self.closing() {
            return;
        }
        let _g = self.span.clone().entered();
        match item.and_then(|frame| EthMessage::from_frame(&frame)) {
            Ok(EthMessage::Request(req)) => self.on_request(req, ctx),
            Ok(EthMessage::Response(resp)) => self.on_response(resp, ctx),
            Err(e) if e.breaks_stream() => {
                let reason = e.to_string();
                self.report(Penalty::MalformedFrame {
                    reason: reason.clone(),
                });
                self.close(
                    ctx,
                    DisconnectReason::MalformedFrame { reason },
                    Some(GOODBYE_FAULT),
                )
            }
            Err(e) => self.bad_message(ctx, &e),
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.close(ctx, DisconnectReason::RemoteClosed, None);
    }
}

impl WriteHandler<EthError> for EthSession {
    fn error(&mut self, err: EthError, _: &mut Context<Self>) -> Running {
        debug!(error = %err, "ETH write error");
        Running::Stop
    }
}

impl Handler<SendEthRequest> for EthSession {
    type Result = ResponseFuture<Result<EthResponseBody, EthRequestError>>;

    fn handle(&mut self, msg: SendEthRequest, ctx: &mut Context<Self>) -> Self::Result {
        let refused = |e| -> Self::Result { Box::pin(async move { Err(e) }) };
        if self.closing() {
            return refused(EthRequestError::Disconnected);
        }
        if matches!(
            msg.request,
            EthRequestBody::Hello(_) | EthRequestBody::Goodbye(_)
        ) {
            return refused(EthRequestError::BadResponse(
                "hello and goodbye are the session's own".into(),
            ));
        }
        if self.pending.len() >= self.settings.max_outstanding {
            return refused(EthRequestError::TooMany);
        }
        let (tx, rx) = oneshot::channel();
        self.request(&msg.request, Some(tx), ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(EthRequestError::Disconnected)) })
    }
}

impl Handler<Disconnect> for EthSession {
    type Result = ();
    fn handle(&mut self, msg: Disconnect, ctx: &mut Context<Self>) {
        let goodbye = msg.goodbye;
        self.close(ctx, DisconnectReason::Local { goodbye }, Some(goodbye));
    }
}

impl Handler<SendFrame> for EthSession {
    type Result = ();
    fn handle(&mut self, _: SendFrame, _: &mut Context<Self>) {
        debug!(peer = %self.peer, "Hobbits frame for an ETH peer dropped");
    }
}

impl Handler<SendRequest> for EthSession {
    type Result = Result<RpcResponse, RpcError>;
    fn handle(&mut self, _: SendRequest, _: &mut Context<Self>) -> Self::Result {
        Err(RpcError::WrongDialect)
    }
}

impl Handler<GetEthPeerHello> for EthSession {
    type Result = Option<EthHello>;
    fn handle(&mut self, _: GetEthPeerHello, _: &mut Context<Self>) -> Option<EthHello> {
        self.peer_hello.clone()
    }
}
