//! [`EthProbe`]: one client connection of the ETH conformance checks to the peer under test, in
//! the eth2 RPC raw-TCP dialect (`hobbits_codec::eth`). Sends requests with ids counted up from a
//! seeded first id, remembers what it wrote (so an echo is recognised byte for byte), reads the
//! peer's messages with a deadline, and answers the peer's own requests on the side (hello with
//! ours, get_status, empty roots and headers, zero bodies, 30 for the rest), because a node that
//! syncs through roots asks its peers while the checks run.
//!
//! Sends: any request; the answers to the peer's requests. Handles: responses (matched by id),
//! the peer's requests (goodbye is reported to the caller), end of stream.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use hobbits_chain::rpc::BlockHeaders;
use hobbits_chain::BeaconBlockBody;
use hobbits_codec::eth::{
    BlockBodiesResponse, BlockRootsResponse, EthCodec, EthFrame, EthHello, EthLimits, EthMessage,
    EthMethod, EthRequest, EthRequestBody, EthResponse, EthResponseBody, EthStatus, ResponseCode,
};
use hobbits_codec::rpc::RequestId;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::conformance::conn::{connect_within, short_root, ECHO, SENT_MEMORY};
use crate::conformance::rpc_checks::{checker_user_agent, now_ms};
use crate::conformance::ConformanceError;

/// The error of [`EthProbe::next_event`] when its deadline passed in silence.
pub const NOTHING_IN_TIME: &str = "nothing arrived in time";

/// What the peer did next.
#[derive(Debug)]
pub enum EthReceived {
    /// A response (any id).
    Response(EthResponse),
    /// A goodbye request, with its reason (`None`: the body did not decode).
    Goodbye(Option<u64>),
    /// The connection ended (end of stream or reset).
    Closed(String),
}

/// One connection to the peer under test.
#[derive(Debug)]
pub struct EthProbe {
    framed: Framed<TcpStream, EthCodec>,
    timeout: Duration,
    limits: EthLimits,
    next_id: u64,
    /// The messages written last (bounded by [`SENT_MEMORY`]).
    sent: VecDeque<Bytes>,
    /// Our hello, answered to the peer's hello requests.
    hello: EthHello,
    /// The peer's requests answered on the side (for evidence).
    pub side_requests: Vec<String>,
    /// Hello requests the peer sent (answered on the side).
    pub peer_hellos: u32,
    /// Ids whose response was read (bounded by [`SENT_MEMORY`]), so a second answer is known.
    answered: VecDeque<RequestId>,
}

impl EthProbe {
    /// Connects to `target` within `timeout`; `hello` is what the probe answers a hello with.
    pub async fn connect(
        target: SocketAddr,
        timeout: Duration,
        hello: EthHello,
    ) -> Result<Self, ConformanceError> {
        let stream = connect_within(target, None, timeout).await?;
        let limits = EthLimits::default();
        Ok(EthProbe {
            framed: Framed::new(stream, EthCodec::new(limits)),
            timeout,
            limits,
            next_id: 1,
            sent: VecDeque::new(),
            hello,
            side_requests: Vec::new(),
            peer_hellos: 0,
            answered: VecDeque::new(),
        })
    }

    /// Sets the id of the next request (ids then count up from it).
    pub fn start_ids_at(&mut self, first: u64) {
        self.next_id = first;
    }

    /// The configured wait for one reply.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The limits replies are read with.
    pub fn limits(&self) -> &EthLimits {
        &self.limits
    }

    /// The encoding of a request with the next id, and that id (nothing is written).
    pub fn encode_request(&mut self, method: EthMethod, body: Bytes) -> (RequestId, Bytes) {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let frame = EthMessage::Request(EthRequest { id, method, body }).to_frame();
        let mut buf = BytesMut::with_capacity(frame.encoded_len());
        // Only a message over 4 GiB fails to encode; ours are a few hundred bytes.
        let _ = frame.write_to(&mut buf);
        if self.sent.len() == SENT_MEMORY {
            self.sent.pop_front();
        }
        self.sent.push_back(frame.message.clone());
        (id, buf.freeze())
    }

    /// Writes raw bytes in one write.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        let stream = self.framed.get_mut();
        stream
            .write_all(bytes)
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        stream
            .flush()
            .await
            .map_err(|e| format!("write failed: {e}"))
    }

    /// Sends a request of `method` with `body` as its raw body bytes; returns its id.
    pub async fn send_raw(&mut self, method: EthMethod, body: Bytes) -> Result<RequestId, String> {
        let (id, bytes) = self.encode_request(method, body);
        self.write_raw(&bytes).await?;
        Ok(id)
    }

    /// Sends a typed request; returns its id.
    pub async fn send(&mut self, body: &EthRequestBody) -> Result<RequestId, String> {
        self.send_raw(body.method(), Bytes::from(body.to_ssz()))
            .await
    }

    /// The next response, goodbye or close before `deadline` (`Err` on a timeout, bytes that do
    /// not frame, or a message we wrote coming back). Other requests of the peer are answered
    /// on the side.
    pub async fn next_event(&mut self, deadline: Instant) -> Result<EthReceived, String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = match tokio::time::timeout(left, self.framed.next()).await {
                Err(_) => return Err(NOTHING_IN_TIME.into()),
                Ok(None) => return Ok(EthReceived::Closed("end of stream".into())),
                Ok(Some(Err(e))) if is_reset(&e) => return Ok(EthReceived::Closed(e.to_string())),
                Ok(Some(Err(e))) => return Err(format!("the peer's bytes do not frame: {e}")),
                Ok(Some(Ok(frame))) => frame,
            };
            if self.sent.contains(&frame.message) {
                return Err(format!(
                    "{ECHO} the peer sent back a message we wrote, byte for byte ({})",
                    describe(&frame)
                ));
            }
            match EthMessage::from_frame(&frame) {
                Ok(EthMessage::Response(r)) => return Ok(EthReceived::Response(r)),
                Ok(EthMessage::Request(req)) if req.method == EthMethod::Goodbye => {
                    let reason = match req.decode_body(&self.limits) {
                        Ok(EthRequestBody::Goodbye(g)) => Some(g.reason),
                        _ => None,
                    };
                    return Ok(EthReceived::Goodbye(reason));
                }
                Ok(EthMessage::Request(req)) => self.answer_side_request(req).await?,
                Err(e) => return Err(format!("the peer's message does not decode: {e}")),
            }
        }
    }

    async fn answer_side_request(&mut self, req: EthRequest) -> Result<(), String> {
        if req.method == EthMethod::Hello {
            self.peer_hellos += 1;
        }
        let answer = match req.decode_body(&self.limits) {
            Ok(body) => side_answer(req.id, body, &self.hello),
            Err(e) => match e.reply() {
                Some(reply) => reply,
                None => return Ok(()),
            },
        };
        if self.side_requests.len() < 16 {
            self.side_requests
                .push(format!("{} id {}", req.method, req.id.0));
        }
        self.framed
            .send(EthMessage::Response(answer).to_frame())
            .await
            .map_err(|e| format!("write failed: {e}"))
    }

    /// The response to `id` within the timeout. A goodbye or a close first is an error naming it;
    /// responses to other ids are skipped.
    pub async fn response(&mut self, id: RequestId) -> Result<EthResponse, String> {
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.next_event(deadline).await {
                Ok(EthReceived::Response(r)) if r.id == id => {
                    if self.answered.len() == SENT_MEMORY {
                        self.answered.pop_front();
                    }
                    self.answered.push_back(id);
                    return Ok(r);
                }
                Ok(EthReceived::Response(_)) => continue,
                Ok(EthReceived::Goodbye(reason)) => {
                    return Err(format!(
                        "goodbye (reason {reason:?}) instead of an answer to id {}",
                        id.0
                    ))
                }
                Ok(EthReceived::Closed(why)) => {
                    return Err(format!("closed before answering id {}: {why}", id.0))
                }
                Err(e) => return Err(format!("no answer to id {}: {e}", id.0)),
            }
        }
    }

    /// Sends `body` and reads its success result, typed as the method's response.
    pub async fn ask(&mut self, body: &EthRequestBody) -> Result<EthResponseBody, String> {
        let method = body.method();
        let id = self.send(body).await?;
        let response = self.response(id).await?;
        response
            .decode_result(method, &self.limits)
            .map_err(|e| format!("{}: {e}", method.name()))
    }

    /// The hello exchange: ours, then the peer's answer, which must not be ours.
    pub async fn handshake(&mut self) -> Result<EthHello, String> {
        let ours = self.hello.clone();
        match self.ask(&EthRequestBody::Hello(ours.clone())).await? {
            EthResponseBody::Hello(theirs) if theirs.best_root == ours.best_root => Err(format!(
                "{ECHO} the hello names our own best_root {}",
                short_root(&ours.best_root.0)
            )),
            EthResponseBody::Hello(theirs) => Ok(theirs),
            other => Err(format!("hello answered with {:?}", other.method())),
        }
    }

    /// Whether the response to `id` was already read on this connection.
    pub fn was_answered(&self, id: RequestId) -> bool {
        self.answered.contains(&id)
    }

    /// Waits for the peer to close the connection; `Ok` lists the goodbyes and responses seen
    /// before the close.
    pub async fn closed(&mut self) -> Result<String, String> {
        let deadline = Instant::now() + self.timeout;
        let mut seen = Vec::new();
        loop {
            match self.next_event(deadline).await? {
                EthReceived::Closed(why) => {
                    seen.push(format!("closed ({why})"));
                    return Ok(seen.join(", "));
                }
                EthReceived::Goodbye(reason) => seen.push(format!("goodbye {reason:?}")),
                EthReceived::Response(r) if seen.len() < 8 => {
                    seen.push(format!("response {} id {}", r.code, r.id.0))
                }
                EthReceived::Response(_) => {
                    return Err(format!("responses instead of a close: {}", seen.join(", ")))
                }
            }
        }
    }
}

/// What the probe answers a request of the peer with: our hello, a status, nothing we have
/// (empty roots and headers, zero bodies), 30 for beacon_chain_state.
fn side_answer(id: RequestId, body: EthRequestBody, hello: &EthHello) -> EthResponse {
    let answer = match body {
        EthRequestBody::Hello(_) => EthResponseBody::Hello(hello.clone()),
        EthRequestBody::GetStatus(_) => {
            EthResponseBody::GetStatus(EthStatus::new([0; 32], &checker_user_agent(), now_ms()))
        }
        EthRequestBody::BeaconBlockRoots(_) => {
            EthResponseBody::BeaconBlockRoots(BlockRootsResponse::default())
        }
        EthRequestBody::BeaconBlockHeaders(_) => {
            EthResponseBody::BeaconBlockHeaders(BlockHeaders::default())
        }
        EthRequestBody::BeaconBlockBodies(r) => {
            EthResponseBody::BeaconBlockBodies(BlockBodiesResponse {
                block_bodies: vec![BeaconBlockBody::default(); r.block_roots.len()],
            })
        }
        EthRequestBody::Goodbye(_) | EthRequestBody::BeaconChainState(_) => {
            return EthResponse::error(id, ResponseCode::MethodNotFound, "not served");
        }
    };
    EthResponse::success(id, &answer)
}

fn is_reset(e: &hobbits_codec::eth::EthError) -> bool {
    matches!(e, hobbits_codec::eth::EthError::Io(_))
}

/// A frame in a few words for evidence: kind, id and method or code.
pub fn describe(frame: &EthFrame) -> String {
    match EthMessage::from_frame(frame) {
        Ok(EthMessage::Request(r)) => format!("request {} id {}", r.method, r.id.0),
        Ok(EthMessage::Response(r)) => format!("response {} id {}", r.code, r.id.0),
        Err(e) => format!("{} bytes: {e}", frame.message.len()),
    }
}
