//! What the relay reports: [`RelayEvent`]s (connection opened / failed / closed, a frame relayed, a
//! deviation not tied to one frame) and the [`RelayedFrame`] record, with the one-line text form
//! the `relay` command prints. Plain data; handles and sends no messages.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use hobbits_codec::eth::{EthMethod, MessageKind, ResponseCode};
use hobbits_codec::gossip_control::ControlVerb;
use hobbits_codec::ping::PingKind;
use hobbits_codec::rpc::{BodyShape, RequestId, RpcMethod};
use hobbits_codec::{Protocol, Topic};

use super::deviation::Deviation;

/// One relayed connection pair (client ↔ upstream), numbered from 1 per relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Which way bytes flow through the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RelayDirection {
    /// From the accepted client to the upstream (`--to`).
    ClientToServer,
    /// From the upstream back to the client.
    ServerToClient,
}

impl RelayDirection {
    /// The other direction.
    pub fn opposite(self) -> Self {
        match self {
            Self::ClientToServer => Self::ServerToClient,
            Self::ServerToClient => Self::ClientToServer,
        }
    }

    /// `c>s` or `s>c`, as printed and in JSON.
    pub fn short(self) -> &'static str {
        match self {
            Self::ClientToServer => "c>s",
            Self::ServerToClient => "s>c",
        }
    }

    /// Index 0 (client → server) or 1, for per-direction arrays.
    pub fn index(self) -> usize {
        match self {
            Self::ClientToServer => 0,
            Self::ServerToClient => 1,
        }
    }
}

impl fmt::Display for RelayDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

/// A value in a frame's payload summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// A number (slots, ids, counts).
    Uint(u64),
    /// Text (roots as 0x-hex, user agents).
    Text(String),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uint(v) => write!(f, "{v}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

/// The protocol of a relayed message: an EWP frame's protocol byte, or a message of the ETH
/// raw-TCP dialect (docs/PROTOCOL.md, "The ETH raw-TCP dialect").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireProtocol {
    /// An EWP v3 frame (RPC, GOSSIP or PING).
    Ewp(Protocol),
    /// An ETH message (`ETH` prefix, SSZ envelope).
    Eth,
}

impl WireProtocol {
    /// `RPC`, `GOSSIP`, `PING` or `ETH`, as printed and counted.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ewp(p) => p.name(),
            Self::Eth => "ETH",
        }
    }
}

impl fmt::Display for WireProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an RPC frame relates to the other direction's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcRole {
    /// A request (its method has a response); now outstanding.
    Request,
    /// The response to an outstanding request of the other side, after `latency`.
    Response {
        /// Time since the request passed the relay.
        latency: Duration,
    },
    /// A one-way message (GOODBYE).
    Notice,
    /// A response-only method matching no outstanding request, or an unknown method.
    Unmatched,
}

impl RpcRole {
    /// `request`, `response`, `notice` or `unmatched`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Response { .. } => "response",
            Self::Notice => "notice",
            Self::Unmatched => "unmatched",
        }
    }
}

/// The decoded message of a relayed frame, summarised.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameMessage {
    /// An RPC frame.
    Rpc {
        /// `method_id`.
        method: RpcMethod,
        /// `id`.
        id: RequestId,
        /// Request, response, ...
        role: RpcRole,
        /// The body's 2019 shape.
        shape: BodyShape,
    },
    /// A GOSSIP frame.
    Gossip {
        /// `method_id` (0 for GOSSIP).
        method_id: u16,
        /// `topic`.
        topic: Topic,
        /// True for an empty body (announcement).
        announcement: bool,
    },
    /// A gossip overlay control frame (GOSSIP protocol, method id 1-4).
    Control {
        /// PRUNE, GRAFT, IHAVE or IWANT.
        verb: ControlVerb,
        /// How many `message_hash`es it carries.
        hashes: usize,
    },
    /// A PING-protocol frame.
    Ping {
        /// `ping` or `pong`.
        kind: PingKind,
    },
    /// A message of the ETH dialect.
    Eth {
        /// Request or response.
        kind: MessageKind,
        /// `id`.
        id: RequestId,
        /// A request's `method_id`; for a response, the method of the request it answers
        /// (`None` when it answers none the relay saw).
        method: Option<EthMethod>,
        /// A response's `response_code` (`None` for a request).
        code: Option<ResponseCode>,
        /// Request, response, notice (goodbye) or unmatched.
        role: RpcRole,
    },
    /// A whole frame whose header or body did not decode (see the `BAD_MESSAGE` deviation).
    Undecoded,
}

impl FrameMessage {
    /// The method or topic label used in lines and summaries: `HELLO(0)`, `BLOCK`, `ping`, `?`.
    pub fn label(&self) -> String {
        match self {
            Self::Rpc { method, .. } => method.to_string(),
            Self::Gossip { topic, .. } => topic.name().to_string(),
            Self::Control { verb, .. } => verb.name().to_string(),
            Self::Ping {
                kind: PingKind::Ping,
            } => "ping".into(),
            Self::Ping {
                kind: PingKind::Pong,
            } => "pong".into(),
            Self::Eth {
                kind: MessageKind::Request,
                method,
                ..
            } => method.map_or("?".into(), |m| m.to_string()),
            Self::Eth { method, code, .. } => format!(
                "{} -> {}",
                method.map_or("?".into(), |m| m.to_string()),
                code.map_or(0, ResponseCode::as_u16)
            ),
            Self::Undecoded => "?".into(),
        }
    }
}

/// One frame that passed the relay, decoded from a copy of the bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayedFrame {
    /// The connection pair.
    pub conn: ConnectionId,
    /// Which way it went.
    pub direction: RelayDirection,
    /// Frame number in this direction of this connection, from 1.
    pub seq: u64,
    /// Wall-clock time it passed, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// EWP version (0 for an ETH message, which has none).
    pub version: u32,
    /// Protocol byte, or ETH.
    pub protocol: WireProtocol,
    /// Header length in bytes (ETH: the prefix, kind byte and envelope's fixed part, 22).
    pub header_len: usize,
    /// Body length in bytes (ETH: the request body or response result).
    pub body_len: usize,
    /// The decoded message.
    pub message: FrameMessage,
    /// The payload summarised, field by field (HELLO network_id, best_slot...; BLOCK slot, root).
    pub fields: Vec<(&'static str, FieldValue)>,
    /// Deviations this frame shows.
    pub deviations: Vec<Deviation>,
    /// The frame's bytes, when the relay was asked for them (`--raw`).
    pub raw: Option<Bytes>,
}

/// Formats Unix milliseconds as `HH:MM:SS.mmm` (UTC).
pub fn clock(at_ms: u64) -> String {
    let ms = at_ms % 1000;
    let s = at_ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{ms:03}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60
    )
}

impl fmt::Display for RelayedFrame {
    /// One line: time, connection, direction, protocol, method / topic, request id and role,
    /// sizes, payload fields, then the deviation codes in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {}",
            clock(self.at_ms),
            self.conn,
            self.direction,
            self.protocol,
            self.message.label()
        )?;
        if let FrameMessage::Eth { id, role, .. } = &self.message {
            write!(f, " id={} {}", id.0, role.name())?;
            if let RpcRole::Response { latency } = role {
                write!(f, " ({}ms)", latency.as_millis())?;
            }
        }
        if let FrameMessage::Rpc {
            id, role, shape, ..
        } = &self.message
        {
            write!(f, " id={} {}", id.0, role.name())?;
            if let RpcRole::Response { latency } = role {
                write!(f, " ({}ms)", latency.as_millis())?;
            }
            if *shape != BodyShape::SpecSsz {
                write!(f, " shape={}", shape.name())?;
            }
        }
        write!(f, " hdr={} body={}", self.header_len, self.body_len)?;
        if self.protocol != WireProtocol::Eth && self.version != hobbits_codec::frame::EWP_VERSION {
            write!(f, " v={}", self.version)?;
        }
        for (name, value) in &self.fields {
            write!(f, " {name}={value}")?;
        }
        if !self.deviations.is_empty() {
            let codes: Vec<&str> = self.deviations.iter().map(|d| d.code.code()).collect();
            write!(f, " [{}]", codes.join(" "))?;
        }
        Ok(())
    }
}

/// A request or ping that got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    /// Who sent it.
    pub direction: RelayDirection,
    /// `HELLO(0)`, `ping`...
    pub label: String,
    /// The request id (0 for a ping).
    pub id: u64,
    /// How long it waited before being reported.
    pub waited: Duration,
}

impl fmt::Display for Unanswered {
    /// `c>s HELLO(0) id=1 after 120ms` (no id for a ping).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.direction, self.label)?;
        if self.label != "ping" {
            write!(f, " id={}", self.id)?;
        }
        write!(f, " after {}ms", self.waited.as_millis())
    }
}

/// Everything the relay reports, in order per connection.
#[derive(Debug, Clone, PartialEq)]
pub enum RelayEvent {
    /// A client was accepted and the upstream connection opened.
    ConnectionOpened {
        /// The pair's id.
        conn: ConnectionId,
        /// The client's address.
        client: SocketAddr,
        /// The upstream's address.
        upstream: SocketAddr,
    },
    /// A client was accepted but the upstream could not be reached (the client is closed).
    ConnectionFailed {
        /// The pair's id.
        conn: ConnectionId,
        /// The client's address.
        client: SocketAddr,
        /// Why.
        reason: String,
    },
    /// A frame passed.
    FrameRelayed(Box<RelayedFrame>),
    /// A deviation not carried by one frame: a timeout, or bytes that stopped framing.
    DeviationFound {
        /// The pair.
        conn: ConnectionId,
        /// The direction concerned (the sender of the unanswered request / the undecodable bytes).
        direction: RelayDirection,
        /// Wall-clock time, Unix milliseconds.
        at_ms: u64,
        /// The deviation.
        deviation: Deviation,
    },
    /// Both directions of the pair ended (or the relay shut down).
    ConnectionClosed {
        /// The pair.
        conn: ConnectionId,
        /// Bytes forwarded, client → server and server → client.
        bytes: [u64; 2],
        /// Bytes forwarded without being decoded (after a framing error), per direction.
        undecoded_bytes: [u64; 2],
        /// Requests and pings still outstanding at the close (not already reported by timeout).
        unanswered: Vec<Unanswered>,
    },
}

impl RelayEvent {
    /// The relayed frame, if this event is one.
    pub fn frame(&self) -> Option<&RelayedFrame> {
        match self {
            Self::FrameRelayed(f) => Some(f),
            _ => None,
        }
    }
}

impl fmt::Display for RelayEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConnectionOpened {
                conn,
                client,
                upstream,
            } => write!(f, "{conn} open {client} -> relay -> {upstream}"),
            Self::ConnectionFailed {
                conn,
                client,
                reason,
            } => write!(f, "{conn} failed for {client}: {reason}"),
            Self::FrameRelayed(frame) => {
                write!(f, "{frame}")?;
                for d in &frame.deviations {
                    write!(f, "\n    ! {d}")?;
                }
                Ok(())
            }
            Self::DeviationFound {
                conn,
                direction,
                at_ms,
                deviation,
            } => write!(f, "{} {conn} {direction} ! {deviation}", clock(*at_ms)),
            Self::ConnectionClosed {
                conn,
                bytes,
                undecoded_bytes,
                unanswered,
            } => {
                write!(
                    f,
                    "{conn} closed: {} bytes c>s, {} bytes s>c",
                    bytes[0], bytes[1]
                )?;
                if undecoded_bytes.iter().any(|&b| b > 0) {
                    write!(
                        f,
                        " ({} / {} not decoded)",
                        undecoded_bytes[0], undecoded_bytes[1]
                    )?;
                }
                for u in unanswered {
                    write!(f, "\n    unanswered {u}")?;
                }
                Ok(())
            }
        }
    }
}
