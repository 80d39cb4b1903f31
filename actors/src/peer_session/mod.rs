//! `PeerSession`: one actor per TCP connection. Reads frames through the codec (`FramedRead` as an
//! actix stream), writes through `actix::io::FramedWrite`, and holds a tracing span with the
//! peer's id, address and direction.
//!
//! - PING: answers `ping` with `pong` and the same body; a `pong` is never answered.
//! - RPC: runs the HELLO handshake (`handshake.rs`), serves requests from the chain store
//!   (GET_STATUS itself), matches responses to our requests by id (`rpc_tracker.rs`), logs GOODBYE
//!   and closes, logs and counts unknown methods.
//! - GOSSIP: delivered as `GossipReceived` straight to the manager's gossip subscribers
//!   (`GossipSubscribers`) once handshaked.
//! - A frame-layer codec error closes the connection with a logged reason and GOODBYE 3, and is
//!   reported to the manager (`PeerPenalized`) for a ban.
//! - Defences: a frame left incomplete for `Timeouts::frame` closes the connection
//!   (`frame_timer.rs`); RPC requests beyond the per-peer token bucket (`Limits::rpc_rate_per_sec`,
//!   `rpc_burst`) are dropped unanswered; every offence is reported to the manager with its
//!   [`Penalty`] for scoring.
//!
//! Inbound RPC handling lives in `inbound_rpc.rs`, the handlers of the commands a
//! `SessionHandle` sends in `commands.rs`, what the session reports to its manager in
//! `reports.rs`, the GOSSIP / PING rate limits and the overlay's control frames in `intake.rs`
//! (same actor).
//!
//! Handles: `SendFrame`, `SendRequest`, `Disconnect` (defined with `SessionHandle` in
//! `crate::events::session`). Sends: [`ReportHandshake`], [`SessionClosed`], `PeerPenalized`
//! (manager), `GossipReceived` (gossip subscribers); `GetHello`, `CheckHello`, `ServeRpc` (store).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix::io::{FramedWrite, WriteHandler};
use actix::prelude::*;
use bson::Bson;
use hobbits_chain::rpc::{Goodbye, Hello};
use hobbits_codec::gossip_control::advertise_overlay;
use hobbits_codec::rpc::{RequestId, RpcEnvelope, RpcMethod, RpcPayload};
use hobbits_codec::{
    CodecError, Frame, FrameCodec, FrameLimits, GossipEnvelope, PingFrame, Protocol,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_util::codec::FramedRead;
use tracing::{debug, info, warn};

use crate::config::{Limits, Timeouts};
use crate::events::{
    DisconnectReason, GossipReceived, GossipSubscribers, PeerPenalized, Penalty, SessionHandle,
};
use crate::handshake::{Admission, Handshake};
use crate::metrics::{Metrics, PingTracker, RpcRole};
use crate::peer_table::{Direction, NodeId, PeerId};
use crate::rpc::RpcResponse;
use crate::rpc_tracker::{RequestTracker, RpcError};
use crate::scoring::TokenBucket;
use crate::store::StoreClient;

mod commands;
pub mod eth;
mod frame_timer;
mod inbound_rpc;
mod intake;
mod measure;
mod rate_limits;
mod reports;

pub use rate_limits::{Exceeded, PeerLimiter};

pub use frame_timer::{PartialSince, Pausable, ReadPause, TimedCodec};
pub use reports::{ReportHandshake, SessionClosed};

/// The write half of a session's transport (a TCP socket's, or an in-memory one's).
pub type SessionWriter = Box<dyn AsyncWrite + Unpin>;

/// Whole-frame messages that fail to decode before the connection is closed as faulty.
pub const MAX_BAD_MESSAGES: u32 = 16;

/// What every session of a node shares.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// Our node id (HELLO header `node_id`).
    pub node_id: NodeId,
    /// GET_STATUS user agent.
    pub user_agent: String,
    /// Bounds.
    pub limits: Limits,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Metrics registry, if the node keeps one (frames, RPC latency, PING round trips).
    pub metrics: Option<Arc<Metrics>>,
    /// Advertise the gossip overlay in our HELLO (`gossip_overlay`, docs/PROTOCOL.md).
    pub gossip_overlay: bool,
}

impl SessionSettings {
    /// The codec limits for these settings.
    pub fn frame_limits(&self) -> FrameLimits {
        FrameLimits {
            max_header_len: self.limits.max_header_len,
            max_body_len: self.limits.max_body_len,
            accept_text_framing: self.limits.accept_text_framing,
            ..FrameLimits::default()
        }
    }
}

/// Where a session reports to.
#[derive(Debug, Clone)]
pub struct SessionLinks {
    /// HELLO accepted: asks for admission (one connection per node).
    pub handshake: Recipient<ReportHandshake>,
    /// The session ended.
    pub closed: Recipient<SessionClosed>,
    /// The peer committed an offence (malformed frames, timeouts, rate limit).
    pub penalized: Recipient<PeerPenalized>,
    /// GOSSIP from a handshaked peer, delivered straight to the subscribers.
    pub gossip: GossipSubscribers,
    /// The chain store.
    pub store: StoreClient,
}

/// Counters of one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Frames read.
    pub frames_in: u64,
    /// RPC frames with a method id we do not know.
    pub unknown_methods: u32,
    /// Whole frames that did not decode.
    pub bad_messages: u32,
    /// Requests or gossip refused because the peer had not completed HELLO.
    pub refused_before_hello: u32,
    /// Requests ignored because too many of the peer's requests were being served.
    pub refused_busy: u32,
    /// GOSSIP dropped because the manager's mailbox was full.
    pub gossip_dropped: u32,
    /// RPC requests dropped by the per-peer rate limit.
    pub refused_rate_limited: u32,
    /// GOSSIP frames dropped by the per-peer gossip limits (objects or bytes).
    pub gossip_rate_limited: u32,
    /// PING frames dropped by the per-peer PING limit.
    pub ping_rate_limited: u32,
}

struct PendingRequest {
    expect: RpcMethod,
    /// Request method and send time, for the RPC latency metric.
    method: RpcMethod,
    sent: Instant,
    reply: oneshot::Sender<Result<RpcResponse, RpcError>>,
}

/// The per-connection actor.
pub struct PeerSession {
    peer: PeerId,
    addr: SocketAddr,
    direction: Direction,
    span: tracing::Span,
    settings: Arc<SessionSettings>,
    links: SessionLinks,
    writer: FramedWrite<Frame, SessionWriter, FrameCodec>,
    read_handle: Option<SpawnHandle>,
    handshake: Handshake,
    tracker: RequestTracker<PendingRequest>,
    inbound_in_flight: usize,
    close_reason: Option<DisconnectReason>,
    stats: SessionStats,
    partial: PartialSince,
    read_pause: ReadPause,
    rpc_bucket: TokenBucket,
    limiter: PeerLimiter,
    pinger: PingTracker,
    /// The peer's HELLO advertised the gossip overlay.
    peer_overlay: bool,
}

impl std::fmt::Debug for PeerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerSession")
            .field("peer", &self.peer)
            .field("addr", &self.addr)
            .field("direction", &self.direction)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl PeerSession {
    /// Starts the actor for a connected socket.
    pub fn start(
        stream: TcpStream,
        peer: PeerId,
        addr: SocketAddr,
        direction: Direction,
        settings: Arc<SessionSettings>,
        links: SessionLinks,
    ) -> Addr<PeerSession> {
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        Self::start_io(
            read,
            Box::new(write),
            peer,
            addr,
            direction,
            settings,
            links,
        )
    }

    /// Starts the actor over any transport: `read` and `write` halves (the fuzz target drives a
    /// session through an in-memory socket this way).
    pub fn start_io<R: AsyncRead + Unpin + 'static>(
        read: R,
        write: SessionWriter,
        peer: PeerId,
        addr: SocketAddr,
        direction: Direction,
        settings: Arc<SessionSettings>,
        links: SessionLinks,
    ) -> Addr<PeerSession> {
        PeerSession::create(move |ctx| {
            ctx.set_mailbox_capacity(settings.limits.session_mailbox);
            let limits = settings.frame_limits();
            let partial = PartialSince::default();
            let codec = TimedCodec::new(FrameCodec::new(limits), partial.clone());
            let read_pause = ReadPause::default();
            let read_handle = ctx.add_stream(Pausable::new(
                FramedRead::new(read, codec),
                read_pause.clone(),
            ));
            let rpc_bucket = TokenBucket::new(
                settings.limits.rpc_rate_per_sec,
                settings.limits.rpc_burst,
                Instant::now(),
            );
            let limiter = PeerLimiter::new(&settings.limits, Instant::now());
            let mut writer = FramedWrite::new(write, FrameCodec::new(limits), ctx);
            let high = settings.limits.write_buffer_high;
            writer.set_buffer_capacity(high / 4, high);
            let span = tracing::info_span!("peer", id = peer.0, %addr, dir = %direction);
            PeerSession {
                peer,
                addr,
                direction,
                span,
                tracker: RequestTracker::new(
                    settings.limits.max_outstanding_requests,
                    settings.timeouts.request,
                ),
                settings,
                links,
                writer,
                read_handle: Some(read_handle),
                handshake: Handshake::new(direction),
                inbound_in_flight: 0,
                close_reason: None,
                stats: SessionStats::default(),
                partial,
                read_pause,
                rpc_bucket,
                limiter,
                pinger: PingTracker::new(),
                peer_overlay: false,
            }
        })
    }

    fn closing(&self) -> bool {
        self.close_reason.is_some()
    }

    /// Writes a frame unless closing; frames over the size limit are dropped with a log (the
    /// encoder would otherwise fail the whole writer).
    fn write(&mut self, frame: Frame) {
        if self.closing() {
            return;
        }
        let l = &self.settings.limits;
        if frame.header.len() > l.max_header_len as usize
            || frame.body.len() > l.max_body_len as usize
        {
            warn!(
                len = frame.encoded_len(),
                "outgoing frame over the size limit dropped"
            );
            return;
        }
        self.measure_out(&frame);
        self.writer.write(frame);
    }

    fn write_rpc(&mut self, id: RequestId, payload: &RpcPayload) {
        let env = RpcEnvelope::new(id, payload);
        self.write_envelope(env);
    }

    fn write_envelope(&mut self, env: RpcEnvelope) {
        match env.to_frame() {
            Ok(frame) => self.write(frame),
            Err(e) => warn!(error = %e, "cannot encode RPC message"),
        }
    }

    fn write_hello(&mut self, id: RequestId, hello: Hello) {
        let mut env = RpcEnvelope::new(id, &RpcPayload::Hello(hello));
        env.header.extra.insert(
            "node_id",
            Bson::Int64((self.settings.node_id.0 & (i64::MAX as u64)) as i64),
        );
        if self.settings.gossip_overlay {
            advertise_overlay(&mut env.header.extra);
        }
        self.write_envelope(env);
    }

    /// Closes the connection: optional GOODBYE, stop reading, flush, stop (bounded by the linger).
    fn close(&mut self, ctx: &mut Context<Self>, reason: DisconnectReason, goodbye: Option<u64>) {
        if self.closing() {
            return;
        }
        if let Some(code) = goodbye {
            let id = RequestId(self.tracker.allocate_id());
            self.write_rpc(id, &RpcPayload::Goodbye(Goodbye { reason: code }));
        }
        info!(?reason, goodbye, "closing connection");
        self.close_reason = Some(reason);
        self.handshake.close();
        if let Some(h) = self.read_handle.take() {
            ctx.cancel_future(h);
        }
        self.writer.close();
        ctx.run_later(self.settings.timeouts.goodbye_linger, |_, ctx| ctx.stop());
    }

    /// Reports an offence to the manager for scoring. Never blocks: when the manager's mailbox
    /// is full the report is dropped (the flood that fills it is reported many times over).
    fn report(&self, penalty: Penalty) {
        let _ = self.links.penalized.try_send(PeerPenalized {
            peer: self.peer,
            penalty,
        });
    }

    /// The handle other actors use to reach the session of `peer` at `addr`.
    pub fn handle_of(peer: PeerId, addr: Addr<PeerSession>) -> SessionHandle {
        SessionHandle::new(
            peer,
            addr.clone().recipient(),
            addr.clone().recipient(),
            addr.recipient(),
        )
    }

    fn bad_message(&mut self, ctx: &mut Context<Self>, what: &str, error: &dyn std::fmt::Display) {
        self.stats.bad_messages += 1;
        warn!(what, %error, count = self.stats.bad_messages, "undecodable message dropped");
        self.report(Penalty::BadMessage {
            reason: format!("undecodable {what}: {error}"),
        });
        if self.stats.bad_messages >= MAX_BAD_MESSAGES {
            let reason = DisconnectReason::TooManyBadMessages {
                count: self.stats.bad_messages,
            };
            self.close(ctx, reason, Some(Goodbye::FAULT_ERROR));
        }
    }

    /// Closes a connection whose partial frame has waited longer than `Timeouts::frame`.
    fn check_frame_timer(&mut self, ctx: &mut Context<Self>) {
        let limit = self.settings.timeouts.frame;
        let Some(stalled) = self.partial.stalled_for(Instant::now()) else {
            return;
        };
        if stalled < limit || self.closing() {
            return;
        }
        let _g = self.span.clone().entered();
        warn!(
            ?stalled,
            ?limit,
            "incomplete frame not finished in time: closing connection"
        );
        self.report(Penalty::Timeout {
            reason: format!("frame incomplete for {stalled:?}"),
        });
        self.close(
            ctx,
            DisconnectReason::FrameTimeout { after: stalled },
            Some(Goodbye::FAULT_ERROR),
        );
    }

    fn on_frame(&mut self, frame: Frame, ctx: &mut Context<Self>) {
        self.stats.frames_in += 1;
        self.measure_in(&frame);
        match frame.protocol {
            Protocol::Ping if !self.within_limits(&frame) => {}
            Protocol::Ping => match PingFrame::from_frame(&frame) {
                Ok(ping) => {
                    self.measure_pong(&ping);
                    if let Some(pong) = ping.reply() {
                        self.write(pong.to_frame());
                    }
                }
                Err(e) => self.bad_message(ctx, "PING", &e),
            },
            Protocol::Rpc => match RpcEnvelope::from_frame(&frame) {
                Ok(env) => self.on_rpc(env, ctx),
                Err(e) => self.bad_message(ctx, "RPC envelope", &e),
            },
            Protocol::Gossip => self.on_gossip(&frame, ctx),
        }
    }

    fn on_gossip(&mut self, frame: &Frame, ctx: &mut Context<Self>) {
        if self.handshake.admit_request() == Admission::Refuse {
            self.stats.refused_before_hello += 1;
            debug!("GOSSIP before HELLO dropped");
            return;
        }
        if !self.within_limits(frame) {
            return;
        }
        if self.settings.gossip_overlay && self.on_control(frame, ctx) {
            return;
        }
        match GossipEnvelope::from_frame(frame) {
            Ok(env) => {
                let msg = GossipReceived {
                    peer: self.peer,
                    header: env.header,
                    body: env.body,
                };
                let refused = self.links.gossip.deliver(msg);
                if refused > 0 {
                    self.stats.gossip_dropped += refused as u32;
                    warn!(
                        dropped = self.stats.gossip_dropped,
                        "gossip dropped: subscriber busy"
                    );
                }
            }
            Err(e) => self.bad_message(ctx, "GOSSIP", &e),
        }
    }

    fn expire_requests(&mut self) {
        let after = self.tracker.timeout();
        for (id, pending) in self.tracker.expire(Instant::now()) {
            debug!(id, method = %pending.expect, "request timed out");
            self.measure_rpc(RpcRole::Client, pending.method, pending.sent, false);
            let _ = pending.reply.send(Err(RpcError::Timeout { after }));
        }
    }
}

impl Actor for PeerSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let _g = self.span.clone().entered();
        debug!("session started");
        if self.handshake.sends_first() {
            let id = self.tracker.allocate_id();
            self.handshake.sent_hello(id);
            let fut = self.links.store.hello();
            ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| match res {
                Ok(ours) => act.write_hello(RequestId(id), ours),
                Err(_) => act.close(ctx, DisconnectReason::Internal, None),
            }));
        }
        // The metrics PING starts once the peer's HELLO is accepted (`report_handshake`): the
        // dialer's first message must be HELLO, and a peer that never completes one gets no PING.
        // The frame timer: a stall is noticed within 1.25 × `Timeouts::frame`.
        let tick = (self.settings.timeouts.frame / 4).max(std::time::Duration::from_millis(10));
        ctx.run_interval(tick, |act, ctx| act.check_frame_timer(ctx));
        ctx.run_later(self.settings.timeouts.handshake, |act, ctx| {
            if act.handshake.timed_out() && !act.closing() {
                let _g = act.span.clone().entered();
                warn!("no HELLO within the handshake timeout");
                act.report(Penalty::Timeout {
                    reason: "no HELLO within the handshake timeout".into(),
                });
                act.close(
                    ctx,
                    DisconnectReason::HandshakeTimeout,
                    Some(Goodbye::FAULT_ERROR),
                );
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        let _g = self.span.clone().entered();
        for (_, pending) in self.tracker.drain() {
            self.measure_rpc(RpcRole::Client, pending.method, pending.sent, false);
            let _ = pending.reply.send(Err(RpcError::Disconnected));
        }
        self.measure_closed();
        let reason = self
            .close_reason
            .take()
            .unwrap_or(DisconnectReason::RemoteClosed);
        debug!(?reason, stats = ?self.stats, "session stopped");
        self.links.closed.do_send(SessionClosed {
            peer: self.peer,
            reason,
            stats: self.stats,
        });
    }
}

impl StreamHandler<Result<Frame, CodecError>> for PeerSession {
    fn handle(&mut self, item: Result<Frame, CodecError>, ctx: &mut Context<Self>) {
        let _g = self.span.clone().entered();
        if self.closing() {
            return;
        }
        match item {
            Ok(frame) => self.on_frame(frame, ctx),
            Err(CodecError::Io(e)) => {
                debug!(error = %e, "read error");
                self.close_reason = Some(DisconnectReason::Io {
                    reason: e.to_string(),
                });
                ctx.stop();
            }
            Err(e) => {
                warn!(reason = %e, "malformed frame: closing connection");
                self.links.penalized.do_send(PeerPenalized {
                    peer: self.peer,
                    penalty: Penalty::MalformedFrame {
                        reason: e.to_string(),
                    },
                });
                self.close(
                    ctx,
                    DisconnectReason::MalformedFrame {
                        reason: e.to_string(),
                    },
                    Some(Goodbye::FAULT_ERROR),
                );
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        // EOF. While closing, the writer's flush decides when to stop.
        if !self.closing() {
            let _g = self.span.clone().entered();
            debug!("peer closed the connection");
            self.close_reason = Some(DisconnectReason::RemoteClosed);
            ctx.stop();
        }
    }
}

impl WriteHandler<CodecError> for PeerSession {
    fn error(&mut self, err: CodecError, _: &mut Context<Self>) -> Running {
        let _g = self.span.clone().entered();
        debug!(error = %err, "write error");
        if self.close_reason.is_none() {
            self.close_reason = Some(DisconnectReason::Io {
                reason: err.to_string(),
            });
        }
        Running::Stop
    }
}
