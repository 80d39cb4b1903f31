//! The relay's deviation analysis as plain logic (no runtime, no sockets): [`PairAnalyzer`] takes
//! the bytes of one connection pair as they pass, per direction, decodes a copy through the
//! `FrameCodec`, and returns [`RelayEvent`]s: each frame summarised with its deviations, and
//! deviations found by matching responses to requests, pongs to pings, and by timeouts
//! ([`PairAnalyzer::check_timeouts`]). After a framing error in one direction it stops decoding
//! that direction (the relay keeps forwarding). Every table is bounded.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hobbits_codec::bson_compat;
use hobbits_codec::gossip::GOSSIP_METHOD_ID;
use hobbits_codec::ping::PingKind;
use hobbits_codec::rpc::{BodyShape, RpcBody, RpcMethod, RpcPayload};
use hobbits_codec::{
    CodecError, Frame, FrameCodec, FrameLimits, GossipEnvelope, GossipObject, PingFrame, Protocol,
    RpcEnvelope,
};
use tokio_util::codec::Decoder;

use super::deviation::{Deviation, DeviationCode};
use super::record::{
    ConnectionId, FieldValue, FrameMessage, RelayDirection, RelayEvent, RelayedFrame, RpcRole,
    Unanswered,
};
use super::shape::{check_field_types, Part};

/// What the analysis needs to know (a subset of the relay's configuration).
#[derive(Debug, Clone, Copy)]
pub struct AnalyzerSettings {
    /// Frame limits the copy is decoded with (any version is accepted and flagged instead).
    pub limits: FrameLimits,
    /// A request unanswered this long is reported `UNANSWERED_REQUEST`.
    pub request_timeout: Duration,
    /// A ping unanswered this long is reported `PING_UNANSWERED`.
    pub ping_timeout: Duration,
    /// Most requests (and, separately, pings) tracked per connection pair; beyond, new ones are
    /// not tracked (counted in `untracked`).
    pub max_outstanding: usize,
    /// Keep each frame's bytes in its record (`--raw`).
    pub keep_raw: bool,
}

impl Default for AnalyzerSettings {
    fn default() -> Self {
        Self {
            limits: FrameLimits::default(),
            request_timeout: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(5),
            max_outstanding: 1024,
            keep_raw: false,
        }
    }
}

/// A request or ping waiting for its answer.
#[derive(Debug, Clone)]
struct Pending {
    label: String,
    expect: Option<RpcMethod>,
    since: Instant,
    /// Already reported by timeout (a late answer still matches it).
    reported: bool,
}

/// Decoding state of one direction.
#[derive(Debug)]
struct DirectionState {
    codec: FrameCodec,
    buf: BytesMut,
    /// False after a framing error: bytes are only counted.
    decoding: bool,
    frames: u64,
    bytes: u64,
    undecoded_bytes: u64,
}

/// Analysis of one client ↔ upstream pair.
#[derive(Debug)]
pub struct PairAnalyzer {
    conn: ConnectionId,
    settings: AnalyzerSettings,
    dirs: [DirectionState; 2],
    /// Outstanding requests by (sender, request id).
    requests: HashMap<(RelayDirection, u64), Pending>,
    /// Outstanding pings by sender, oldest first, with their bodies.
    pings: [VecDeque<(Bytes, Pending)>; 2],
    /// Requests or pings not tracked because the tables were full.
    pub untracked: u64,
}

impl PairAnalyzer {
    /// A fresh analyzer for connection `conn`.
    pub fn new(conn: ConnectionId, settings: AnalyzerSettings) -> Self {
        let limits = FrameLimits {
            accept_any_version: true,
            ..settings.limits
        };
        let dir = || DirectionState {
            codec: FrameCodec::new(limits),
            buf: BytesMut::new(),
            decoding: true,
            frames: 0,
            bytes: 0,
            undecoded_bytes: 0,
        };
        Self {
            conn,
            settings,
            dirs: [dir(), dir()],
            requests: HashMap::new(),
            pings: [VecDeque::new(), VecDeque::new()],
            untracked: 0,
        }
    }

    /// Bytes seen so far per direction.
    pub fn bytes(&self) -> [u64; 2] {
        [self.dirs[0].bytes, self.dirs[1].bytes]
    }

    /// Whether `direction` is still being decoded.
    pub fn is_decoding(&self, direction: RelayDirection) -> bool {
        self.dirs[direction.index()].decoding
    }

    /// Feeds bytes that just passed in `direction` (`now` for timeouts, `at_ms` wall clock for
    /// the records). Returns the frames completed by these bytes and any framing error.
    pub fn on_bytes(
        &mut self,
        direction: RelayDirection,
        bytes: &[u8],
        now: Instant,
        at_ms: u64,
    ) -> Vec<RelayEvent> {
        let mut events = Vec::new();
        let state = &mut self.dirs[direction.index()];
        state.bytes += bytes.len() as u64;
        if !state.decoding {
            state.undecoded_bytes += bytes.len() as u64;
            return events;
        }
        state.buf.extend_from_slice(bytes);
        let mut frames = Vec::new();
        loop {
            let state = &mut self.dirs[direction.index()];
            match state.codec.decode(&mut state.buf) {
                Ok(Some(frame)) => {
                    state.frames += 1;
                    frames.push((state.frames, frame));
                }
                Ok(None) => break,
                Err(e) => {
                    // The stream is out of step: everything buffered and to come is forwarded
                    // undecoded.
                    state.decoding = false;
                    state.undecoded_bytes += state.buf.len() as u64;
                    state.buf = BytesMut::new();
                    let code = match e {
                        CodecError::HeaderTooLarge { .. } | CodecError::BodyTooLarge { .. } => {
                            DeviationCode::FrameTooLarge
                        }
                        _ => DeviationCode::FramingError,
                    };
                    events.push(RelayEvent::DeviationFound {
                        conn: self.conn,
                        direction,
                        at_ms,
                        deviation: Deviation::new(
                            code,
                            format!("{e}; later bytes in this direction are forwarded undecoded"),
                        ),
                    });
                    break;
                }
            }
        }
        let mut out: Vec<RelayEvent> = frames
            .into_iter()
            .map(|(seq, frame)| {
                RelayEvent::FrameRelayed(Box::new(
                    self.on_frame(direction, seq, &frame, now, at_ms),
                ))
            })
            .collect();
        out.extend(events);
        out
    }

    /// Reports requests and pings outstanding longer than their timeout (each once).
    pub fn check_timeouts(&mut self, now: Instant, at_ms: u64) -> Vec<RelayEvent> {
        let mut events = Vec::new();
        let conn = self.conn;
        let mut expired: Vec<_> = self
            .requests
            .iter_mut()
            .filter(|(_, p)| {
                !p.reported && now.duration_since(p.since) >= self.settings.request_timeout
            })
            .map(|((dir, id), p)| {
                p.reported = true;
                (*dir, *id, p.label.clone(), now.duration_since(p.since))
            })
            .collect();
        expired.sort_by_key(|(dir, id, _, _)| (*dir, *id));
        for (direction, id, label, waited) in expired {
            events.push(RelayEvent::DeviationFound {
                conn,
                direction,
                at_ms,
                deviation: Deviation::new(
                    DeviationCode::UnansweredRequest,
                    format!(
                        "{label} id={id} has no response after {}ms",
                        waited.as_millis()
                    ),
                ),
            });
        }
        for direction in [
            RelayDirection::ClientToServer,
            RelayDirection::ServerToClient,
        ] {
            for (body, p) in self.pings[direction.index()].iter_mut() {
                let waited = now.duration_since(p.since);
                if !p.reported && waited >= self.settings.ping_timeout {
                    p.reported = true;
                    events.push(RelayEvent::DeviationFound {
                        conn,
                        direction,
                        at_ms,
                        deviation: Deviation::new(
                            DeviationCode::PingUnanswered,
                            format!(
                                "ping ({} byte body) has no pong after {}ms",
                                body.len(),
                                waited.as_millis()
                            ),
                        ),
                    });
                }
            }
        }
        events
    }

    /// Ends the analysis: the event closing the connection, listing what is still unanswered
    /// (requests and pings not already reported by timeout).
    pub fn finish(&mut self, now: Instant) -> RelayEvent {
        let mut unanswered: Vec<Unanswered> = self
            .requests
            .drain()
            .filter(|(_, p)| !p.reported)
            .map(|((direction, id), p)| Unanswered {
                direction,
                label: p.label,
                id,
                waited: now.duration_since(p.since),
            })
            .collect();
        for direction in [
            RelayDirection::ClientToServer,
            RelayDirection::ServerToClient,
        ] {
            for (_, p) in self.pings[direction.index()].drain(..) {
                if !p.reported {
                    unanswered.push(Unanswered {
                        direction,
                        label: p.label,
                        id: 0,
                        waited: now.duration_since(p.since),
                    });
                }
            }
        }
        unanswered.sort_by_key(|u| (u.direction, u.id));
        RelayEvent::ConnectionClosed {
            conn: self.conn,
            bytes: self.bytes(),
            undecoded_bytes: [self.dirs[0].undecoded_bytes, self.dirs[1].undecoded_bytes],
            unanswered,
        }
    }

    fn on_frame(
        &mut self,
        direction: RelayDirection,
        seq: u64,
        frame: &Frame,
        now: Instant,
        at_ms: u64,
    ) -> RelayedFrame {
        let mut record = RelayedFrame {
            conn: self.conn,
            direction,
            seq,
            at_ms,
            version: frame.version,
            protocol: frame.protocol,
            header_len: frame.header.len(),
            body_len: frame.body.len(),
            message: FrameMessage::Undecoded,
            fields: Vec::new(),
            deviations: Vec::new(),
            raw: None,
        };
        if frame.version != hobbits_codec::frame::EWP_VERSION {
            record.deviations.push(Deviation::new(
                DeviationCode::Version,
                format!("EWP version {} (this relay decodes it as 3)", frame.version),
            ));
        }
        if self.settings.keep_raw {
            record.raw = frame.to_bytes().ok();
        }
        match frame.protocol {
            Protocol::Rpc => self.on_rpc(direction, frame, now, &mut record),
            Protocol::Gossip => on_gossip(frame, &mut record),
            Protocol::Ping => self.on_ping(direction, frame, now, &mut record),
        }
        record
    }

    fn on_rpc(&mut self, dir: RelayDirection, frame: &Frame, now: Instant, rec: &mut RelayedFrame) {
        if let Ok(doc) = bson_compat::parse_document(&frame.header, "header") {
            check_field_types(&doc, Part::Header, &mut rec.deviations);
        }
        let env = match RpcEnvelope::from_frame(frame) {
            Ok(env) => env,
            Err(e) => {
                rec.deviations
                    .push(Deviation::new(DeviationCode::BadMessage, e.to_string()));
                return;
            }
        };
        let method = env.header.method;
        let id = env.header.id;
        let shape = env.body.shape();
        match (&env.body, method) {
            (RpcBody::NestedDocument(doc), m) => {
                let code = if m == RpcMethod::Hello {
                    DeviationCode::HelloNestedDoc
                } else {
                    DeviationCode::NestedDocBody
                };
                rec.deviations.push(Deviation::new(
                    code,
                    format!(
                        "{method} body is {{body: document}} with {} fields",
                        doc.len()
                    ),
                ));
                check_field_types(doc, Part::Body, &mut rec.deviations);
            }
            (RpcBody::FlatDocument(doc), m) => {
                let code = if m == RpcMethod::Hello {
                    DeviationCode::HelloFlatDoc
                } else {
                    DeviationCode::FlatDocBody
                };
                let keys: Vec<&str> = doc.keys().map(String::as_str).take(8).collect();
                rec.deviations.push(Deviation::new(
                    code,
                    format!("{method} body is a flat document [{}]", keys.join(", ")),
                ));
                check_field_types(doc, Part::Body, &mut rec.deviations);
            }
            _ => {}
        }
        if let RpcMethod::Unknown(n) = method {
            rec.deviations.push(Deviation::new(
                DeviationCode::UnknownMethod,
                format!("RPC method_id {n} is not defined (0-2, 10-17)"),
            ));
        }
        // Body decoding (an empty GOODBYE body is the spec's "reason absent", not an error).
        if !(shape == BodyShape::Empty && method == RpcMethod::Goodbye) {
            match env.decode_payload() {
                Ok(decoded) => {
                    if !decoded.defaulted.is_empty() {
                        rec.deviations.push(Deviation::new(
                            DeviationCode::MissingField,
                            format!("{method} body has no {}", decoded.defaulted.join(", ")),
                        ));
                    }
                    rec.fields = payload_fields(&decoded.payload);
                }
                Err(_) if matches!(method, RpcMethod::Unknown(_)) => {}
                Err(e) => rec
                    .deviations
                    .push(Deviation::new(DeviationCode::BadMessage, e.to_string())),
            }
        }
        let role = self.match_rpc(dir, method, id.0, now, rec);
        rec.message = FrameMessage::Rpc {
            method,
            id,
            role,
            shape,
        };
    }

    /// Decides whether an RPC frame answers the other side's request or is a request itself.
    fn match_rpc(
        &mut self,
        dir: RelayDirection,
        method: RpcMethod,
        id: u64,
        now: Instant,
        rec: &mut RelayedFrame,
    ) -> RpcRole {
        let response_only = matches!(
            method,
            RpcMethod::BlockHeaders
                | RpcMethod::BlockBodies
                | RpcMethod::Attestation
                | RpcMethod::BeaconStates
        );
        let key = (dir.opposite(), id);
        // A request-capable method with an id the other side has outstanding is its response
        // (HELLO replies reuse the request's id and method); GOODBYE never answers anything.
        if method != RpcMethod::Goodbye {
            if let Some(pending) = self.requests.remove(&key) {
                if pending.expect != Some(method) {
                    rec.deviations.push(Deviation::new(
                        DeviationCode::ResponseMethodMismatch,
                        format!(
                            "id={id} answers {} but carries {method}, expected {}",
                            pending.label,
                            pending.expect.map_or("?".into(), |m| m.to_string())
                        ),
                    ));
                }
                return RpcRole::Response {
                    latency: now.duration_since(pending.since),
                };
            }
        }
        if response_only {
            rec.deviations.push(Deviation::new(
                DeviationCode::UnmatchedResponse,
                format!(
                    "{method} id={id} matches no outstanding request from {}",
                    dir.opposite()
                ),
            ));
            return RpcRole::Unmatched;
        }
        match method.response() {
            Some(expect) => {
                let key = (dir, id);
                if self.requests.len() >= self.settings.max_outstanding
                    && !self.requests.contains_key(&key)
                {
                    self.untracked += 1;
                } else {
                    self.requests.insert(
                        key,
                        Pending {
                            label: method.to_string(),
                            expect: Some(expect),
                            since: now,
                            reported: false,
                        },
                    );
                }
                RpcRole::Request
            }
            None if method == RpcMethod::Goodbye => RpcRole::Notice,
            None => RpcRole::Unmatched,
        }
    }

    fn on_ping(
        &mut self,
        dir: RelayDirection,
        frame: &Frame,
        now: Instant,
        rec: &mut RelayedFrame,
    ) {
        let ping = match PingFrame::from_frame(frame) {
            Ok(p) => p,
            Err(e) => {
                rec.deviations
                    .push(Deviation::new(DeviationCode::BadMessage, e.to_string()));
                return;
            }
        };
        rec.message = FrameMessage::Ping { kind: ping.kind };
        match ping.kind {
            PingKind::Ping => {
                let queue = &mut self.pings[dir.index()];
                if queue.len() >= self.settings.max_outstanding {
                    self.untracked += 1;
                } else {
                    queue.push_back((
                        ping.body.clone(),
                        Pending {
                            label: "ping".into(),
                            expect: None,
                            since: now,
                            reported: false,
                        },
                    ));
                }
            }
            PingKind::Pong => {
                let queue = &mut self.pings[dir.opposite().index()];
                match queue.iter().position(|(body, _)| *body == ping.body) {
                    Some(i) => {
                        if let Some((_, p)) = queue.remove(i) {
                            rec.fields.push((
                                "rtt_ms",
                                FieldValue::Uint(now.duration_since(p.since).as_millis() as u64),
                            ));
                        }
                    }
                    None => rec.deviations.push(Deviation::new(
                        DeviationCode::UnsolicitedPong,
                        format!(
                            "pong ({} byte body) echoes no outstanding ping from {}",
                            ping.body.len(),
                            dir.opposite()
                        ),
                    )),
                }
            }
        }
    }
}

fn on_gossip(frame: &Frame, rec: &mut RelayedFrame) {
    if let Ok(doc) = bson_compat::parse_document(&frame.header, "header") {
        check_field_types(&doc, Part::Header, &mut rec.deviations);
    }
    let env = match GossipEnvelope::from_frame(frame) {
        Ok(env) => env,
        Err(e) => {
            rec.deviations
                .push(Deviation::new(DeviationCode::BadMessage, e.to_string()));
            return;
        }
    };
    let h = &env.header;
    rec.message = FrameMessage::Gossip {
        method_id: h.method_id,
        topic: h.topic,
        announcement: env.is_announcement(),
    };
    if h.method_id != GOSSIP_METHOD_ID {
        rec.deviations.push(Deviation::new(
            DeviationCode::UnknownMethod,
            format!("GOSSIP method_id {} is not 0 (GOSSIP)", h.method_id),
        ));
    }
    if !env.message_hash_matches() {
        rec.deviations.push(Deviation::new(
            DeviationCode::MessageHash,
            format!(
                "message_hash {} is not sha256 of the {}-byte body",
                short_hex(&h.message_hash.0),
                env.body.len()
            ),
        ));
    }
    match env.decode_object() {
        Ok(Some(GossipObject::Block(block))) => {
            rec.fields.push(("slot", FieldValue::Uint(block.slot.0)));
            rec.fields
                .push(("root", FieldValue::Text(short_hex(&block.signing_root().0))));
        }
        Ok(Some(GossipObject::Attestation(a))) => {
            rec.fields
                .push(("target_epoch", FieldValue::Uint(a.data.target.epoch.0)));
            rec.fields.push((
                "block_root",
                FieldValue::Text(short_hex(&a.data.beacon_block_root.0)),
            ));
        }
        Ok(None) => rec.fields.push(("announce", FieldValue::Uint(1))),
        Err(e) => rec
            .deviations
            .push(Deviation::new(DeviationCode::BadMessage, e.to_string())),
    }
    rec.fields
        .push(("hash", FieldValue::Text(short_hex(&h.hash.0))));
}

/// `0x` and the first 4 bytes of a hash, then `…` (enough to tell roots apart in a log).
pub fn short_hex(bytes: &[u8]) -> String {
    format!("0x{}…", hex::encode(&bytes[..bytes.len().min(4)]))
}

/// The payload summarised as named fields.
pub fn payload_fields(payload: &RpcPayload) -> Vec<(&'static str, FieldValue)> {
    use FieldValue::{Text, Uint};
    match payload {
        RpcPayload::Hello(h) => vec![
            ("network_id", Uint(h.network_id.into())),
            ("chain_id", Uint(h.chain_id.into())),
            ("finalized_epoch", Uint(h.latest_finalized_epoch.0)),
            ("best_slot", Uint(h.best_slot.0)),
            ("best_root", Text(short_hex(&h.best_root.0))),
        ],
        RpcPayload::Goodbye(g) => vec![("reason", Uint(g.reason))],
        RpcPayload::GetStatus(s) => vec![
            (
                "user_agent",
                Text(super::shape::shorten(&s.user_agent_lossy(), 32)),
            ),
            ("timestamp", Uint(s.timestamp)),
        ],
        RpcPayload::GetBlockHeaders(r) => vec![
            ("start_slot", Uint(r.start_slot.0)),
            ("max", Uint(r.max)),
            ("skip", Uint(r.skip)),
            ("direction", Uint(r.direction.into())),
        ],
        RpcPayload::GetBlockBodies(r) => vec![
            ("start_slot", Uint(r.start_slot.0)),
            ("max", Uint(r.max)),
            ("skip", Uint(r.skip)),
            ("direction", Uint(r.direction.into())),
        ],
        RpcPayload::BlockHeaders(b) => {
            let mut v = vec![("count", Uint(b.headers.len() as u64))];
            if let (Some(first), Some(last)) = (b.headers.first(), b.headers.last()) {
                v.push(("slots", Text(format!("{}..{}", first.slot.0, last.slot.0))));
            }
            v
        }
        RpcPayload::BlockBodies(b) => {
            let mut v = vec![("count", Uint(b.bodies.len() as u64))];
            if let (Some(first), Some(last)) = (b.bodies.first(), b.bodies.last()) {
                v.push(("slots", Text(format!("{}..{}", first.slot.0, last.slot.0))));
                v.push(("last_root", Text(short_hex(&last.signing_root().0))));
            }
            v
        }
        RpcPayload::GetAttestation(g) => vec![("hash", Text(short_hex(&g.hash.0)))],
        RpcPayload::Attestation(a) => vec![(
            "block_root",
            Text(short_hex(&a.attestation.data.beacon_block_root.0)),
        )],
        RpcPayload::GetBeaconStates(g) => vec![("count", Uint(g.hashes.len() as u64))],
        RpcPayload::BeaconStates(s) => vec![("count", Uint(s.states.len() as u64))],
    }
}
