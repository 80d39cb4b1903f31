//! The relay's analysis of the ETH raw-TCP dialect (docs/PROTOCOL.md, "The ETH raw-TCP dialect"),
//! as plain logic: [`EthPairAnalyzer`] takes the bytes of one connection pair per direction,
//! frames a copy with the codec's `EthCodec`, and returns the same [`RelayEvent`]s as the EWP
//! analysis: each message summarised with its deviations, unanswered requests by timeout, the
//! close record. Checks: the envelope and body of every request (unknown method, bad SSZ, a count
//! over a cap), request ids reused while outstanding, responses matched to requests by id, their
//! codes (undefined, or not the one the request earns) and results (bad SSZ, roots out of order,
//! more items than asked). [`DialectAnalyzer`] is what a relay pair runs: the EWP or the ETH
//! analysis. Every table is bounded. Handles no messages.

use std::collections::HashMap;
use std::time::Instant;

use bytes::BytesMut;
use hobbits_codec::eth::{
    BlockRootsResponse, EthCodec, EthError, EthFrame, EthLimits, EthMessage, EthMethod, EthRequest,
    EthRequestBody, EthResponse, EthResponseBody, MessageKind, ResponseCode, ENVELOPE_FIXED_LEN,
    ETH_PREFIX_LEN, MAX_BLOCK_ROOTS_COUNT,
};
use ssz::Decode;
use tokio_util::codec::Decoder;

use super::analysis::{AnalyzerSettings, PairAnalyzer};
use super::deviation::{Deviation, DeviationCode};
use super::fields::short_hex;
use super::record::{
    ConnectionId, FieldValue, FrameMessage, RelayDirection, RelayEvent, RelayedFrame, RpcRole,
    Unanswered, WireProtocol,
};

/// The analysis one relayed pair runs, by the dialect of its upstream.
#[derive(Debug)]
pub enum DialectAnalyzer {
    /// EWP v3 frames.
    Ewp(PairAnalyzer),
    /// ETH raw-TCP messages.
    Eth(EthPairAnalyzer),
}

impl DialectAnalyzer {
    /// Feeds bytes that just passed in `direction` (see [`PairAnalyzer::on_bytes`]).
    pub fn on_bytes(
        &mut self,
        direction: RelayDirection,
        bytes: &[u8],
        now: Instant,
        at_ms: u64,
    ) -> Vec<RelayEvent> {
        match self {
            Self::Ewp(a) => a.on_bytes(direction, bytes, now, at_ms),
            Self::Eth(a) => a.on_bytes(direction, bytes, now, at_ms),
        }
    }

    /// Reports what timed out (each once).
    pub fn check_timeouts(&mut self, now: Instant, at_ms: u64) -> Vec<RelayEvent> {
        match self {
            Self::Ewp(a) => a.check_timeouts(now, at_ms),
            Self::Eth(a) => a.check_timeouts(now, at_ms),
        }
    }

    /// The event closing the connection.
    pub fn finish(&mut self, now: Instant) -> RelayEvent {
        match self {
            Self::Ewp(a) => a.finish(now),
            Self::Eth(a) => a.finish(now),
        }
    }
}

/// What a request asked, for checking its response's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// No count to check.
    Nothing,
    /// At most this many items (roots: `count`; headers: `max_headers`).
    AtMost(u64),
    /// Exactly this many (bodies: one per root asked).
    Exactly(u64),
}

/// A request waiting for its response.
#[derive(Debug, Clone)]
struct EthPending {
    method: EthMethod,
    asked: Asked,
    /// The error code the request earns (`None`: a valid request, success expected).
    earns: Option<ResponseCode>,
    since: Instant,
    reported: bool,
}

/// Framing state of one direction.
#[derive(Debug)]
struct EthDirection {
    codec: EthCodec,
    buf: BytesMut,
    decoding: bool,
    messages: u64,
    bytes: u64,
    undecoded_bytes: u64,
}

/// Analysis of one client ↔ upstream pair speaking the ETH dialect.
#[derive(Debug)]
pub struct EthPairAnalyzer {
    conn: ConnectionId,
    settings: AnalyzerSettings,
    limits: EthLimits,
    dirs: [EthDirection; 2],
    /// Outstanding requests by (sender, request id).
    requests: HashMap<(RelayDirection, u64), EthPending>,
    /// Requests not tracked because the table was full.
    pub untracked: u64,
}

/// The bytes before an ETH message's body or result: prefix, kind byte, envelope's fixed part.
const ETH_HEADER_LEN: usize = ETH_PREFIX_LEN + 1 + ENVELOPE_FIXED_LEN;

fn dev(code: DeviationCode, detail: impl Into<String>) -> Deviation {
    Deviation::new(code, detail)
}

impl EthPairAnalyzer {
    /// A fresh analyzer for connection `conn`, framing with `limits`.
    pub fn new(conn: ConnectionId, settings: AnalyzerSettings, limits: EthLimits) -> Self {
        let dir = || EthDirection {
            codec: EthCodec::new(limits),
            buf: BytesMut::new(),
            decoding: true,
            messages: 0,
            bytes: 0,
            undecoded_bytes: 0,
        };
        Self {
            conn,
            settings,
            limits,
            dirs: [dir(), dir()],
            requests: HashMap::new(),
            untracked: 0,
        }
    }

    /// Whether `direction` is still being decoded.
    pub fn is_decoding(&self, direction: RelayDirection) -> bool {
        self.dirs[direction.index()].decoding
    }

    /// Feeds bytes that just passed in `direction`; returns the messages they complete and any
    /// framing error (after which that direction is only counted).
    pub fn on_bytes(
        &mut self,
        direction: RelayDirection,
        bytes: &[u8],
        now: Instant,
        at_ms: u64,
    ) -> Vec<RelayEvent> {
        let conn = self.conn;
        let state = &mut self.dirs[direction.index()];
        state.bytes += bytes.len() as u64;
        if !state.decoding {
            state.undecoded_bytes += bytes.len() as u64;
            return Vec::new();
        }
        state.buf.extend_from_slice(bytes);
        let mut messages = Vec::new();
        let mut failure = None;
        loop {
            match state.codec.decode(&mut state.buf) {
                Ok(Some(frame)) => {
                    state.messages += 1;
                    messages.push((state.messages, frame));
                }
                Ok(None) => break,
                Err(e) => {
                    state.decoding = false;
                    state.undecoded_bytes += state.buf.len() as u64;
                    state.buf = BytesMut::new();
                    let code = match e {
                        EthError::MessageTooLarge { .. } => DeviationCode::FrameTooLarge,
                        _ => DeviationCode::FramingError,
                    };
                    failure = Some(RelayEvent::DeviationFound {
                        conn,
                        direction,
                        at_ms,
                        deviation: dev(
                            code,
                            format!("{e}; later bytes in this direction are forwarded undecoded"),
                        ),
                    });
                    break;
                }
            }
        }
        let mut out: Vec<RelayEvent> = messages
            .into_iter()
            .map(|(seq, frame)| {
                RelayEvent::FrameRelayed(Box::new(
                    self.on_message(direction, seq, &frame, now, at_ms),
                ))
            })
            .collect();
        out.extend(failure);
        out
    }

    /// Reports requests outstanding longer than the request timeout (each once).
    pub fn check_timeouts(&mut self, now: Instant, at_ms: u64) -> Vec<RelayEvent> {
        let timeout = self.settings.request_timeout;
        let mut expired: Vec<_> = self
            .requests
            .iter_mut()
            .filter(|(_, p)| !p.reported && now.duration_since(p.since) >= timeout)
            .map(|((dir, id), p)| {
                p.reported = true;
                (*dir, *id, p.method, now.duration_since(p.since))
            })
            .collect();
        expired.sort_by_key(|(dir, id, _, _)| (*dir, *id));
        expired
            .into_iter()
            .map(
                |(direction, id, method, waited)| RelayEvent::DeviationFound {
                    conn: self.conn,
                    direction,
                    at_ms,
                    deviation: dev(
                        DeviationCode::UnansweredRequest,
                        format!(
                            "{method} id={id} has no response after {}ms",
                            waited.as_millis()
                        ),
                    ),
                },
            )
            .collect()
    }

    /// Ends the analysis: the close record with the requests still unanswered.
    pub fn finish(&mut self, now: Instant) -> RelayEvent {
        let mut unanswered: Vec<Unanswered> = self
            .requests
            .drain()
            .filter(|(_, p)| !p.reported)
            .map(|((direction, id), p)| Unanswered {
                direction,
                label: p.method.to_string(),
                id,
                waited: now.duration_since(p.since),
            })
            .collect();
        unanswered.sort_by_key(|u| (u.direction, u.id));
        RelayEvent::ConnectionClosed {
            conn: self.conn,
            bytes: [self.dirs[0].bytes, self.dirs[1].bytes],
            undecoded_bytes: [self.dirs[0].undecoded_bytes, self.dirs[1].undecoded_bytes],
            unanswered,
        }
    }

    fn on_message(
        &mut self,
        direction: RelayDirection,
        seq: u64,
        frame: &EthFrame,
        now: Instant,
        at_ms: u64,
    ) -> RelayedFrame {
        let mut rec = RelayedFrame {
            conn: self.conn,
            direction,
            seq,
            at_ms,
            version: 0,
            protocol: WireProtocol::Eth,
            header_len: ETH_HEADER_LEN.min(ETH_PREFIX_LEN + frame.message.len()),
            body_len: frame.message.len().saturating_sub(1 + ENVELOPE_FIXED_LEN),
            message: FrameMessage::Undecoded,
            fields: Vec::new(),
            deviations: Vec::new(),
            raw: None,
        };
        if self.settings.keep_raw {
            rec.raw = frame.to_bytes().ok();
        }
        match EthMessage::from_frame(frame) {
            Ok(EthMessage::Request(req)) => self.on_request(direction, &req, now, &mut rec),
            Ok(EthMessage::Response(resp)) => self.on_response(direction, &resp, now, &mut rec),
            Err(e) => {
                let code = match e {
                    EthError::UnknownKind { .. } => DeviationCode::EthKind,
                    _ => DeviationCode::BadMessage,
                };
                rec.deviations.push(dev(code, e.to_string()));
            }
        }
        rec
    }

    fn on_request(
        &mut self,
        dir: RelayDirection,
        req: &EthRequest,
        now: Instant,
        rec: &mut RelayedFrame,
    ) {
        let (asked, earns) = match req.decode_body(&self.limits) {
            Ok(body) => {
                rec.fields = request_fields(&body);
                (asked_of(&body), None)
            }
            Err(e) => {
                let code = match e {
                    EthError::UnknownMethod { .. } => DeviationCode::UnknownMethod,
                    EthError::InvalidRequest { .. } => DeviationCode::EthCount,
                    _ => DeviationCode::BadMessage,
                };
                rec.deviations.push(dev(code, e.to_string()));
                (Asked::Nothing, e.response_code())
            }
        };
        let role = if req.method == EthMethod::Goodbye {
            RpcRole::Notice
        } else {
            let key = (dir, req.id.0);
            if let Some(old) = self.requests.get(&key).filter(|p| !p.reported) {
                rec.deviations.push(dev(
                    DeviationCode::EthIdReuse,
                    format!(
                        "id={} is still outstanding for {} sent {}ms earlier",
                        req.id.0,
                        old.method,
                        now.duration_since(old.since).as_millis()
                    ),
                ));
            }
            if self.requests.len() >= self.settings.max_outstanding
                && !self.requests.contains_key(&key)
            {
                self.untracked += 1;
            } else {
                self.requests.insert(
                    key,
                    EthPending {
                        method: req.method,
                        asked,
                        earns,
                        since: now,
                        reported: false,
                    },
                );
            }
            RpcRole::Request
        };
        rec.message = FrameMessage::Eth {
            kind: MessageKind::Request,
            id: req.id,
            method: Some(req.method),
            code: None,
            role,
        };
    }

    fn on_response(
        &mut self,
        dir: RelayDirection,
        resp: &EthResponse,
        now: Instant,
        rec: &mut RelayedFrame,
    ) {
        let id = resp.id.0;
        let pending = self.requests.remove(&(dir.opposite(), id));
        rec.message = FrameMessage::Eth {
            kind: MessageKind::Response,
            id: resp.id,
            method: pending.as_ref().map(|p| p.method),
            code: Some(resp.code),
            role: pending
                .as_ref()
                .map_or(RpcRole::Unmatched, |p| RpcRole::Response {
                    latency: now.duration_since(p.since),
                }),
        };
        if let ResponseCode::Reserved(c) = resp.code {
            rec.deviations.push(dev(
                DeviationCode::EthResponseCode,
                format!("response code {c} is not one the spec defines (0, 10, 20, 30, 40)"),
            ));
        }
        if !resp.code.is_success() {
            let text: String = resp.message().chars().take(80).collect();
            rec.fields.push(("message", FieldValue::Text(text)));
        }
        let Some(p) = pending else {
            rec.deviations.push(dev(
                DeviationCode::UnmatchedResponse,
                format!(
                    "response id={id} matches no outstanding request from {}",
                    dir.opposite()
                ),
            ));
            return;
        };
        if let Some(why) = wrong_code(&p, resp.code) {
            rec.deviations.push(dev(DeviationCode::EthWrongCode, why));
        }
        if resp.code.is_success() && p.earns.is_none() {
            self.check_result(&p, resp, rec);
        }
    }

    /// Decodes a success result as the response of the method asked and checks it.
    fn check_result(&self, p: &EthPending, resp: &EthResponse, rec: &mut RelayedFrame) {
        match resp.decode_result(p.method, &self.limits) {
            Ok(body) => {
                rec.fields = response_fields(&body);
                let (items, what) = match &body {
                    EthResponseBody::BeaconBlockRoots(r) => (r.roots.len(), "roots"),
                    EthResponseBody::BeaconBlockHeaders(h) => (h.headers.len(), "headers"),
                    EthResponseBody::BeaconBlockBodies(b) => (b.block_bodies.len(), "bodies"),
                    _ => return,
                };
                let items = items as u64;
                let broken = match p.asked {
                    Asked::AtMost(n) if items > n => Some(format!("at most {n}")),
                    Asked::Exactly(n) if items != n => Some(format!("exactly {n}")),
                    _ => None,
                };
                if let Some(asked) = broken {
                    rec.deviations.push(dev(
                        DeviationCode::EthCount,
                        format!("{items} {what} in the response; the request asked {asked}"),
                    ));
                }
            }
            // beacon_chain_state's response is TBD in the spec: nothing to read.
            Err(EthError::NoResponseContainer { .. }) => {}
            Err(e @ EthError::InvalidResponse { .. }) => {
                let code = if p.method == EthMethod::BeaconBlockRoots && !roots_ascending(resp) {
                    DeviationCode::EthRootsOrder
                } else {
                    DeviationCode::EthCount
                };
                rec.deviations.push(dev(code, e.to_string()));
            }
            Err(e) => rec
                .deviations
                .push(dev(DeviationCode::BadMessage, e.to_string())),
        }
    }
}

/// Why `code` is not the answer the request earns, if it is not: a request that earns an error
/// code (10, 20, 30) answered with another code; a valid request answered "parse error", or
/// "method not found" for a method the spec defines and answers (all but beacon_chain_state).
fn wrong_code(p: &EthPending, code: ResponseCode) -> Option<String> {
    match p.earns {
        Some(earned) if earned != code => Some(format!(
            "{} request earns {} ({}), answered {} ({})",
            p.method,
            earned.as_u16(),
            earned.name(),
            code.as_u16(),
            code.name()
        )),
        Some(_) => None,
        None => {
            let defined = p.method != EthMethod::BeaconChainState;
            let wrong = code == ResponseCode::ParseError
                || (code == ResponseCode::MethodNotFound && defined);
            wrong.then(|| {
                format!(
                    "valid {} request answered {} ({})",
                    p.method,
                    code.as_u16(),
                    code.name()
                )
            })
        }
    }
}

/// Whether a roots result's slots ascend (read without the codec's checks).
fn roots_ascending(resp: &EthResponse) -> bool {
    match BlockRootsResponse::from_ssz_bytes(&resp.result) {
        Ok(r) => r.roots.windows(2).all(|w| w[0].slot <= w[1].slot),
        Err(_) => true,
    }
}

fn asked_of(body: &EthRequestBody) -> Asked {
    match body {
        EthRequestBody::BeaconBlockRoots(r) => Asked::AtMost(r.count.min(MAX_BLOCK_ROOTS_COUNT)),
        EthRequestBody::BeaconBlockHeaders(r) => Asked::AtMost(r.max_headers),
        EthRequestBody::BeaconBlockBodies(r) => Asked::Exactly(r.block_roots.len() as u64),
        _ => Asked::Nothing,
    }
}

fn uint(name: &'static str, v: u64) -> (&'static str, FieldValue) {
    (name, FieldValue::Uint(v))
}

fn request_fields(body: &EthRequestBody) -> Vec<(&'static str, FieldValue)> {
    match body {
        EthRequestBody::Hello(h) => hello_fields(h),
        EthRequestBody::Goodbye(g) => vec![uint("reason", g.reason)],
        EthRequestBody::GetStatus(s) => status_fields(s),
        EthRequestBody::BeaconBlockRoots(r) => {
            vec![uint("start_slot", r.start_slot.0), uint("count", r.count)]
        }
        EthRequestBody::BeaconBlockHeaders(r) => vec![
            ("start_root", FieldValue::Text(short_hex(&r.start_root.0))),
            uint("start_slot", r.start_slot.0),
            uint("max_headers", r.max_headers),
            uint("skip_slots", r.skip_slots),
        ],
        EthRequestBody::BeaconBlockBodies(r) => {
            vec![uint("block_roots", r.block_roots.len() as u64)]
        }
        EthRequestBody::BeaconChainState(r) => vec![uint("hashes", r.hashes.len() as u64)],
    }
}

fn response_fields(body: &EthResponseBody) -> Vec<(&'static str, FieldValue)> {
    match body {
        EthResponseBody::Hello(h) => hello_fields(h),
        EthResponseBody::GetStatus(s) => status_fields(s),
        EthResponseBody::BeaconBlockRoots(r) => {
            let mut f = vec![uint("roots", r.roots.len() as u64)];
            if let (Some(first), Some(last)) = (r.roots.first(), r.roots.last()) {
                f.push(uint("first_slot", first.slot.0));
                f.push(uint("last_slot", last.slot.0));
            }
            f
        }
        EthResponseBody::BeaconBlockHeaders(h) => vec![uint("headers", h.headers.len() as u64)],
        EthResponseBody::BeaconBlockBodies(b) => vec![uint("bodies", b.block_bodies.len() as u64)],
    }
}

fn hello_fields(h: &hobbits_codec::eth::EthHello) -> Vec<(&'static str, FieldValue)> {
    vec![
        uint("network_id", u64::from(h.network_id)),
        uint("chain_id", h.chain_id),
        uint("finalized_epoch", h.finalized_epoch.0),
        uint("best_slot", h.best_slot.0),
        ("best_root", FieldValue::Text(short_hex(&h.best_root.0))),
    ]
}

fn status_fields(s: &hobbits_codec::eth::EthStatus) -> Vec<(&'static str, FieldValue)> {
    let agent: String = s.user_agent_lossy().chars().take(64).collect();
    vec![
        ("user_agent", FieldValue::Text(agent)),
        uint("timestamp", s.timestamp),
    ]
}
