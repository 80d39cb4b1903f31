//! The relay's deviation analysis as plain logic (no runtime, no sockets): [`PairAnalyzer`] takes
//! the bytes of one connection pair as they pass, per direction, decodes a copy through the
//! `FrameCodec`, and returns [`RelayEvent`]s: each frame summarised with its deviations, and
//! deviations found by matching responses to requests, pongs to pings, and by timeouts
//! ([`PairAnalyzer::check_timeouts`]). After a framing error in one direction it stops decoding
//! that direction (the relay keeps forwarding). Every table is bounded.//!
//! This file owns the per-direction decoding, timeouts and the end-of-connection summary; the checks
//! of each decoded RPC, GOSSIP and PING frame (and request / ping matching) are in `protocols.rs`,
//! the payload summaries in `fields.rs` (re-exported here).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hobbits_codec::rpc::RpcMethod;
use hobbits_codec::{CodecError, Frame, FrameCodec, FrameLimits, Framing, Protocol};
use tokio_util::codec::Decoder;

use super::deviation::{Deviation, DeviationCode};
pub use super::fields::{payload_fields, short_hex};
use super::protocols::on_gossip;
use super::record::{
    ConnectionId, FrameMessage, RelayDirection, RelayEvent, RelayedFrame, Unanswered, WireProtocol,
};

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
pub(super) struct Pending {
    pub(super) label: String,
    pub(super) expect: Option<RpcMethod>,
    pub(super) since: Instant,
    /// Already reported by timeout (a late answer still matches it).
    pub(super) reported: bool,
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
    /// TEXT_FRAMING was reported for this direction (once).
    text_reported: bool,
}

/// Analysis of one client ↔ upstream pair.
#[derive(Debug)]
pub struct PairAnalyzer {
    conn: ConnectionId,
    pub(super) settings: AnalyzerSettings,
    dirs: [DirectionState; 2],
    /// Outstanding requests by (sender, request id).
    pub(super) requests: HashMap<(RelayDirection, u64), Pending>,
    /// Outstanding pings by sender, oldest first, with their bodies.
    pub(super) pings: [VecDeque<(Bytes, Pending)>; 2],
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
            text_reported: false,
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
                    if state.codec.framing() == Some(Framing::Text) && !state.text_reported {
                        state.text_reported = true;
                        events.push(RelayEvent::DeviationFound {
                            conn: self.conn,
                            direction,
                            at_ms,
                            deviation: Deviation::new(
                                DeviationCode::TextFraming,
                                "frames in this direction use the 2019 text framing line; decoded (text framing accepted)",
                            ),
                        });
                    }
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
                        CodecError::TextFraming { .. } => DeviationCode::TextFraming,
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
            protocol: WireProtocol::Ewp(frame.protocol),
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
}
