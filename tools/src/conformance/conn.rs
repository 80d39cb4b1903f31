//! `Probe`: one client connection of the conformance checker — a `Framed<TcpStream, FrameCodec>`
//! with bounded waits. Sends raw bytes, frames, RPC requests; reads the next frame as a
//! [`Received`] (frame, closed, timed out, or a stream error). [`Probe::handshake`] runs our side of
//! HELLO. No actors: this is a plain tokio client.
//!
//! Echo detection: the probe remembers the frames it wrote (the last [`SENT_MEMORY`]) and the
//! method of every request id; a frame that comes back byte for byte, or a reply carrying our
//! request id with our request's method where the response has another, ends the wait with
//! evidence starting with `echo:`. Request ids start at a seeded random value per connection, so a
//! peer replaying recorded replies with their recorded ids does not match them.
//!
//! Sends: PING / `pong`, HELLO, any RPC request, raw bytes. Handles: whatever the peer answers; a
//! HELLO request from the peer (a different id than ours) is answered with our HELLO so that peers
//! which open with HELLO are served like any dialer would.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hobbits_chain::rpc::Hello;
use hobbits_codec::rpc::{BodyShape, RequestId, RpcEnvelope, RpcMethod, RpcPayload};
use hobbits_codec::{Frame, FrameCodec, PingFrame, PingKind};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::codec::Framed;

use super::ConformanceError;

/// What waiting for the next frame gave.
#[derive(Debug)]
pub enum Received {
    /// A whole frame.
    Frame(Frame),
    /// The peer closed the connection (EOF or reset).
    Closed {
        /// `Some` when the socket reported an error (e.g. connection reset) rather than EOF.
        error: Option<String>,
    },
    /// Nothing within the wait.
    TimedOut,
    /// The peer sent bytes that are not a valid frame.
    Malformed {
        /// The codec's message.
        reason: String,
    },
}

/// A HELLO read from a peer, with the shape it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerHello {
    /// The decoded container.
    pub hello: Hello,
    /// `SpecSsz`, `NestedDocument` (Artemis) or `FlatDocument` (Prysm).
    pub shape: BodyShape,
    /// Fields the peer left out (set to 0).
    pub defaulted: Vec<&'static str>,
}

impl PeerHello {
    /// A one-line description for evidence.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "shape {}, network {} chain {}, best_slot {} best_root {}, finalized epoch {}",
            self.shape.name(),
            self.hello.network_id,
            self.hello.chain_id,
            self.hello.best_slot.0,
            short_root(&self.hello.best_root.0),
            self.hello.latest_finalized_epoch.0
        );
        if !self.defaulted.is_empty() {
            s.push_str(&format!(", absent: {}", self.defaulted.join(",")));
        }
        s
    }
}

/// `0x` and the first 4 bytes of a root, for evidence lines.
pub fn short_root(root: &[u8; 32]) -> String {
    format!("0x{}…", hex::encode(&root[..4]))
}

/// The other loopback source address used for the connection that sends a malformed frame, so that
/// a per-IP ban of the offender does not hide whether the peer keeps serving others.
pub const OFFENDER_SOURCE_V4: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// How many of the frames written on a connection are remembered for echo detection.
pub const SENT_MEMORY: usize = 64;

/// The evidence prefix of every failure caused by a peer returning our own frame.
pub const ECHO: &str = "echo:";

/// One connection to the peer under test.
#[derive(Debug)]
pub struct Probe {
    framed: Framed<TcpStream, FrameCodec>,
    timeout: Duration,
    next_id: u64,
    /// The encoded frames written last (bounded by [`SENT_MEMORY`]).
    sent: VecDeque<Bytes>,
    /// Request ids sent and their methods (bounded by [`SENT_MEMORY`]).
    requests: VecDeque<(RequestId, RpcMethod)>,
    /// Frames received while waiting for something else (kept for evidence).
    pub side_frames: Vec<String>,
}

/// A TCP connection to `target` (from `source` when given: loopback tests play several hosts on
/// 127.0.0.0/8) within `timeout`, with Nagle off; a typed error naming the target otherwise.
/// Shared by the Hobbits and ETH probes.
pub(crate) async fn connect_within(
    target: SocketAddr,
    source: Option<IpAddr>,
    timeout: Duration,
) -> Result<TcpStream, ConformanceError> {
    let connect = async {
        let socket = if target.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(ip) = source {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        socket.connect(target).await
    };
    let stream = tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| ConformanceError::Connect {
            target,
            reason: format!("no connection within {timeout:?}"),
        })?
        .map_err(|e| ConformanceError::Connect {
            target,
            reason: e.to_string(),
        })?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

impl Probe {
    /// Connects to `target` within `timeout`, optionally from a given source address.
    pub async fn connect(
        target: SocketAddr,
        source: Option<IpAddr>,
        timeout: Duration,
    ) -> Result<Self, ConformanceError> {
        let stream = connect_within(target, source, timeout).await?;
        Ok(Probe {
            framed: Framed::new(stream, FrameCodec::default()),
            timeout,
            next_id: 1,
            sent: VecDeque::new(),
            requests: VecDeque::new(),
            side_frames: Vec::new(),
        })
    }

    /// Sets the id of the next request (ids then count up from it).
    pub fn start_ids_at(&mut self, first: u64) {
        self.next_id = first;
    }

    fn remember_sent(&mut self, bytes: Bytes) {
        if self.sent.len() == SENT_MEMORY {
            self.sent.pop_front();
        }
        self.sent.push_back(bytes);
    }

    /// Whether `frame` is, byte for byte, one we wrote on this connection.
    pub fn is_our_frame(&self, frame: &Frame) -> bool {
        match frame.to_bytes() {
            Ok(b) => self.sent.iter().any(|s| *s == b),
            Err(_) => false,
        }
    }

    /// The method of the request we sent with `id`, if any.
    pub fn request_method(&self, id: RequestId) -> Option<RpcMethod> {
        self.requests
            .iter()
            .rev()
            .find(|(i, _)| *i == id)
            .map(|(_, m)| *m)
    }

    /// The configured wait for one reply.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A fresh request id for this connection.
    pub fn allocate_id(&mut self) -> RequestId {
        let id = self.next_id;
        self.next_id += 1;
        RequestId(id)
    }

    /// Writes one frame.
    pub async fn send(&mut self, frame: Frame) -> Result<(), String> {
        if let Ok(bytes) = frame.to_bytes() {
            self.remember_sent(bytes);
        }
        self.framed
            .send(frame)
            .await
            .map_err(|e| format!("write failed: {e}"))
    }

    /// Writes raw bytes in one write (bypassing the encoder) and flushes.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.remember_sent(Bytes::copy_from_slice(bytes));
        let stream = self.framed.get_mut();
        stream
            .write_all(bytes)
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        stream
            .flush()
            .await
            .map_err(|e| format!("flush failed: {e}"))
    }

    /// Sends an RPC request in the spec shape; returns its id.
    pub async fn send_request(&mut self, payload: &RpcPayload) -> Result<RequestId, String> {
        let id = self.allocate_id();
        let frame = RpcEnvelope::new(id, payload)
            .to_frame()
            .map_err(|e| format!("cannot encode {}: {e}", payload.method()))?;
        if self.requests.len() == SENT_MEMORY {
            self.requests.pop_front();
        }
        self.requests.push_back((id, payload.method()));
        self.send(frame).await?;
        Ok(id)
    }

    /// The next frame, waiting at most `wait`.
    pub async fn recv_within(&mut self, wait: Duration) -> Received {
        match tokio::time::timeout(wait, self.framed.next()).await {
            Err(_) => Received::TimedOut,
            Ok(None) => Received::Closed { error: None },
            Ok(Some(Ok(frame))) => Received::Frame(frame),
            Ok(Some(Err(e)))
                if e.breaks_stream() && matches!(e, hobbits_codec::CodecError::Io(_)) =>
            {
                Received::Closed {
                    error: Some(e.to_string()),
                }
            }
            Ok(Some(Err(e))) => Received::Malformed {
                reason: e.to_string(),
            },
        }
    }

    /// The next frame within the configured timeout.
    pub async fn recv(&mut self) -> Received {
        self.recv_within(self.timeout).await
    }

    /// Waits (until the configured timeout) for the RPC frame with `method` and `id`. Other frames
    /// are noted in `side_frames`; a PING from the peer is answered and a HELLO request from the
    /// peer answered with `our_hello` (when given). `Err` says what happened instead.
    pub async fn expect_rpc(
        &mut self,
        method: RpcMethod,
        id: RequestId,
        our_hello: Option<&Hello>,
    ) -> Result<RpcEnvelope, String> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = match self.recv_within(left).await {
                Received::Frame(f) => f,
                Received::TimedOut => {
                    return Err(format!(
                        "no {method} with id {} within {:?}{}",
                        id.0,
                        self.timeout,
                        self.side_note()
                    ))
                }
                Received::Closed { error } => {
                    return Err(format!(
                        "connection closed before {method} id {} ({}){}",
                        id.0,
                        error.unwrap_or_else(|| "EOF".into()),
                        self.side_note()
                    ))
                }
                Received::Malformed { reason } => {
                    return Err(format!("peer sent a malformed frame: {reason}"))
                }
            };
            if self.is_our_frame(&frame) {
                return Err(format!(
                    "{ECHO} waiting for {method} id {}, our own {} frame came back byte for byte",
                    id.0, frame.protocol
                ));
            }
            match hobbits_codec::Envelope::from_frame(&frame) {
                Ok(hobbits_codec::Envelope::Rpc(env)) => {
                    let ours = self.request_method(env.header.id);
                    if env.header.id == id
                        && ours == Some(env.header.method)
                        && ours != Some(method)
                    {
                        return Err(format!(
                            "{ECHO} the reply to id {} carries our request's method {} instead of {method}",
                            id.0, env.header.method
                        ));
                    }
                    if env.header.method == method && env.header.id == id {
                        return Ok(env);
                    }
                    self.side_frames
                        .push(format!("{} id {}", env.header.method, env.header.id.0));
                    if env.header.method == RpcMethod::Hello {
                        if let Some(hello) = our_hello {
                            let reply =
                                RpcEnvelope::new(env.header.id, &RpcPayload::Hello(hello.clone()));
                            if let Ok(f) = reply.to_frame() {
                                self.send(f).await?;
                            }
                        }
                    }
                    if env.header.method == RpcMethod::Goodbye {
                        // Keep reading: the close that follows is reported as such.
                    }
                }
                Ok(hobbits_codec::Envelope::Ping(ping)) => {
                    self.side_frames.push(format!("PING {:?}", ping.kind));
                    if let Some(pong) = ping.reply() {
                        self.send(pong.to_frame()).await?;
                    }
                }
                Ok(hobbits_codec::Envelope::Gossip(g)) => {
                    self.side_frames
                        .push(format!("GOSSIP {}", g.header.topic.name()));
                }
                Err(e) => self
                    .side_frames
                    .push(format!("undecodable {} frame ({e})", frame.protocol)),
            }
        }
    }

    /// Sends HELLO `ours` and waits for the HELLO with the same id. Returns the peer's HELLO.
    pub async fn handshake(&mut self, ours: &Hello) -> Result<PeerHello, String> {
        let id = self.send_request(&RpcPayload::Hello(ours.clone())).await?;
        let env = self.expect_rpc(RpcMethod::Hello, id, Some(ours)).await?;
        let theirs = decode_hello(&env)?;
        not_our_hello(ours, &theirs.hello)?;
        Ok(theirs)
    }

    /// Sends a PING with `body` and waits for the first PING-protocol frame (other frames are
    /// noted). `Ok` carries what came back.
    pub async fn ping(&mut self, body: &[u8]) -> Result<PingFrame, String> {
        self.send(PingFrame::ping(Bytes::copy_from_slice(body)).to_frame())
            .await?;
        self.next_ping_frame().await
    }

    /// Waits for the next PING-protocol frame within the timeout.
    pub async fn next_ping_frame(&mut self) -> Result<PingFrame, String> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv_within(left).await {
                Received::Frame(f) => match PingFrame::from_frame(&f) {
                    Ok(p) => return Ok(p),
                    Err(_) => self.side_frames.push(format!("{} frame", f.protocol)),
                },
                Received::TimedOut => {
                    return Err(format!(
                        "no pong within {:?}{}",
                        self.timeout,
                        self.side_note()
                    ))
                }
                Received::Closed { error } => {
                    return Err(format!(
                        "connection closed instead ({}){}",
                        error.unwrap_or_else(|| "EOF".into()),
                        self.side_note()
                    ))
                }
                Received::Malformed { reason } => {
                    return Err(format!("peer sent a malformed frame: {reason}"))
                }
            }
        }
    }

    fn side_note(&self) -> String {
        if self.side_frames.is_empty() {
            String::new()
        } else {
            format!("; received instead: {}", self.side_frames.join(", "))
        }
    }
}

/// Fails with `echo:` evidence when the peer's HELLO carries our own `best_root` (the suite's is
/// random per run, so only a peer returning our HELLO can have it).
pub fn not_our_hello(ours: &Hello, theirs: &Hello) -> Result<(), String> {
    if !ours.best_root.is_zero() && theirs.best_root == ours.best_root {
        return Err(format!(
            "{ECHO} the HELLO reply carries our own random best_root {} (best_slot {})",
            short_root(&ours.best_root.0),
            theirs.best_slot.0
        ));
    }
    Ok(())
}

/// Checks that `pong` answers a ping with `body`.
pub fn pong_matches(reply: &PingFrame, body: &[u8]) -> Result<(), String> {
    if reply.kind == PingKind::Ping && reply.body.as_ref() == body {
        return Err(format!(
            "{ECHO} our `ping` came back unchanged (header `ping`, same body) instead of a `pong`"
        ));
    }
    if reply.kind != PingKind::Pong {
        return Err("answered with header `ping` instead of `pong`".into());
    }
    if reply.body.as_ref() != body {
        return Err(format!(
            "pong body differs: sent {} bytes {}, got {} bytes {}",
            body.len(),
            hex_prefix(body),
            reply.body.len(),
            hex_prefix(&reply.body)
        ));
    }
    Ok(())
}

fn hex_prefix(b: &[u8]) -> String {
    let cut = &b[..b.len().min(8)];
    format!(
        "0x{}{}",
        hex::encode(cut),
        if b.len() > 8 { "…" } else { "" }
    )
}

/// Decodes a HELLO envelope in any tolerated shape.
pub fn decode_hello(env: &RpcEnvelope) -> Result<PeerHello, String> {
    let decoded = env
        .decode_payload()
        .map_err(|e| format!("HELLO reply does not decode: {e}"))?;
    match decoded.payload {
        RpcPayload::Hello(hello) => Ok(PeerHello {
            hello,
            shape: decoded.shape,
            defaulted: decoded.defaulted,
        }),
        other => Err(format!("HELLO reply decodes as {}", other.method())),
    }
}
