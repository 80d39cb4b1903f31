//! `hobbits-node relay --listen ADDR --to hob+tcp://HOST:PORT|eth+tcp://HOST:PORT [--json]
//! [--raw]`: forwards EWP (or ETH raw-TCP) traffic unchanged, prints each frame and the deviations it shows, and a summary at exit. The
//! relay itself is `hobbits_tools::relay`; this file parses flags, prints lines (text or JSON) and
//! handles Ctrl-C.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use hobbits_codec::FrameLimits;
use hobbits_codec::PeerUri;
use hobbits_tools::relay::{
    FieldValue, FrameMessage, Relay, RelayConfig, RelayDialect, RelayEvent, RelaySummary,
    RelayedFrame, RpcRole, WireProtocol,
};
use serde_json::{json, Map, Value};

use super::{bad_input, current_thread_runtime, failure};

/// Relay EWP (or ETH) traffic between clients and one peer, printing every frame and flagging deviations
///
/// Each accepted client gets its own connection to --to; bytes are forwarded unchanged both ways
/// (a frame that does not decode is forwarded all the same and reported). One line per frame:
/// time, connection, direction (c>s client to server, s>c back), protocol, method or topic,
/// request id and role, sizes, payload summary, and deviation codes in brackets, each explained
/// on the next line. Codes: see docs/PROTOCOL.md, "Relay deviation codes".
/// Ctrl-C (or, with --once, the end of the first connection) prints the summary and exits.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct RelayArgs {
    /// Address to accept clients on.
    #[arg(long, default_value = "127.0.0.1:9100")]
    pub listen: SocketAddr,
    /// The peer to forward to, hob+tcp://[identity@]host:port; or eth+tcp://host[:port] for a
    /// peer of the ETH raw-TCP dialect (port 9000 by default), whose messages are then decoded
    /// and checked as that dialect's (codes ETH_*, see docs/PROTOCOL.md).
    #[arg(long)]
    pub to: String,
    /// Write JSON lines (one object per frame / event, then the summary) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Add each frame's bytes as hex.
    #[arg(long)]
    pub raw: bool,
    /// Report a request with no response after this many milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub request_timeout_ms: u64,
    /// Report a ping with no pong after this many milliseconds.
    #[arg(long, default_value_t = 5_000, value_name = "MS")]
    pub ping_timeout_ms: u64,
    /// Most client connections at once.
    #[arg(long, default_value_t = 64)]
    pub max_connections: usize,
    /// Largest body decoded, in bytes (larger frames are still forwarded, then reported); for
    /// ETH, the largest message.
    #[arg(long, default_value_t = hobbits_codec::frame::DEFAULT_MAX_BODY_LEN)]
    pub max_body_len: u32,
    /// Decode Lodestar's 2019 text framing (`EWP 3 2 4 32\n` + header + body) in a direction
    /// whose first frame uses it; reported as TEXT_FRAMING with or without this flag.
    #[arg(long)]
    pub accept_text_framing: bool,
    /// Exit after the first connection pair ends.
    #[arg(long)]
    pub once: bool,
}

/// Runs the relay until Ctrl-C (or the first pair's end with --once).
pub fn run(args: RelayArgs) -> ExitCode {
    let (upstream, dialect) = match upstream_of(&args.to) {
        Ok(u) => u,
        Err(e) => return bad_input(format_args!("--to: {e}")),
    };
    let mut config = RelayConfig::new(args.listen, upstream);
    config.dialect = dialect;
    config.eth_limits.max_message_len = args.max_body_len;
    config.request_timeout = Duration::from_millis(args.request_timeout_ms);
    config.ping_timeout = Duration::from_millis(args.ping_timeout_ms);
    config.max_connections = args.max_connections;
    config.keep_raw = args.raw;
    config.limits = FrameLimits {
        max_body_len: args.max_body_len,
        accept_text_framing: args.accept_text_framing,
        ..FrameLimits::default()
    };
    if let Err(e) = config.validate() {
        return bad_input(e);
    }
    let rt = match current_thread_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let mut relay = match Relay::start(config).await {
            Ok(r) => r,
            Err(e) => return failure(e),
        };
        let out = Printer {
            json: args.json,
            raw: args.raw,
        };
        if !args.json {
            eprintln!("relay listening on {} -> {}", relay.listen_addr(), args.to);
        }
        loop {
            tokio::select! {
                event = relay.next_event() => {
                    let Some(event) = event else { break };
                    out.event(&event);
                    if args.once && matches!(event, RelayEvent::ConnectionClosed { .. } | RelayEvent::ConnectionFailed { .. }) {
                        break;
                    }
                }
                _ = tokio::signal::ctrl_c() => break,
            }
        }
        let summary = relay.shutdown().await;
        while let Some(event) = relay.try_next_event() {
            out.event(&event);
        }
        out.summary(&summary);
        ExitCode::SUCCESS
    })
}

/// The upstream of `--to` and its dialect: `eth+tcp://host:port` is the ETH raw-TCP dialect
/// (port 9000 when absent, as the spec says), anything else a Hobbits URI.
fn upstream_of(to: &str) -> Result<(PeerUri, RelayDialect), String> {
    let Some(hostport) = to.strip_prefix("eth+tcp://") else {
        return to
            .parse::<PeerUri>()
            .map(|u| (u, RelayDialect::Ewp))
            .map_err(|e| e.to_string());
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => {
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("`{to}`: port `{port}` is not 1-65535"))?;
            (host, port)
        }
        _ => (hostport, hobbits_codec::eth::ETH_DEFAULT_PORT),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("`{to}`: no host"));
    }
    let uri = PeerUri {
        identity: None,
        host: host.to_string(),
        port,
    };
    Ok((uri, RelayDialect::Eth))
}

/// Prints events as text or JSON lines on stdout.
struct Printer {
    json: bool,
    raw: bool,
}

impl Printer {
    fn line(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (e.g. `| head`) must not stop the relay.
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }

    fn event(&self, event: &RelayEvent) {
        if self.json {
            self.line(&event_json(event).to_string());
            return;
        }
        self.line(&event.to_string());
        if let (true, RelayEvent::FrameRelayed(frame)) = (self.raw, event) {
            if let Some(raw) = &frame.raw {
                self.line(&format!("    raw {}", hex::encode(raw)));
            }
        }
    }

    fn summary(&self, summary: &RelaySummary) {
        if self.json {
            self.line(&summary_json(summary).to_string());
        } else {
            self.line(summary.to_string().trim_end());
        }
    }
}

fn field_json(value: &FieldValue) -> Value {
    match value {
        FieldValue::Uint(v) => json!(v),
        FieldValue::Text(s) => json!(s),
    }
}

fn frame_json(f: &RelayedFrame) -> Value {
    let mut out = Map::new();
    out.insert("event".into(), json!("frame"));
    out.insert("at_ms".into(), json!(f.at_ms));
    out.insert("conn".into(), json!(f.conn.0));
    out.insert("dir".into(), json!(f.direction.short()));
    out.insert("seq".into(), json!(f.seq));
    if f.protocol != WireProtocol::Eth {
        out.insert("version".into(), json!(f.version));
    }
    out.insert("protocol".into(), json!(f.protocol.name()));
    out.insert("label".into(), json!(f.message.label()));
    out.insert("header_len".into(), json!(f.header_len));
    out.insert("body_len".into(), json!(f.body_len));
    match &f.message {
        FrameMessage::Rpc {
            method,
            id,
            role,
            shape,
        } => {
            out.insert("method".into(), json!(method.name()));
            out.insert("method_id".into(), json!(method.id()));
            out.insert("id".into(), json!(id.0));
            out.insert("role".into(), json!(role.name()));
            if let RpcRole::Response { latency } = role {
                out.insert("latency_ms".into(), json!(latency.as_millis() as u64));
            }
            out.insert("shape".into(), json!(shape.name()));
        }
        FrameMessage::Gossip {
            method_id,
            topic,
            announcement,
        } => {
            out.insert("method_id".into(), json!(method_id));
            out.insert("topic".into(), json!(topic.name()));
            out.insert("announcement".into(), json!(announcement));
        }
        FrameMessage::Control { verb, hashes } => {
            out.insert("method_id".into(), json!(verb.method_id()));
            out.insert("verb".into(), json!(verb.name()));
            out.insert("hashes".into(), json!(hashes));
        }
        FrameMessage::Eth {
            kind,
            id,
            method,
            code,
            role,
        } => {
            out.insert("kind".into(), json!(kind.name()));
            out.insert("id".into(), json!(id.0));
            if let Some(m) = method {
                out.insert("method".into(), json!(m.name()));
                out.insert("method_id".into(), json!(m.id()));
            }
            if let Some(c) = code {
                out.insert("response_code".into(), json!(c.as_u16()));
            }
            out.insert("role".into(), json!(role.name()));
            if let RpcRole::Response { latency } = role {
                out.insert("latency_ms".into(), json!(latency.as_millis() as u64));
            }
        }
        FrameMessage::Ping { .. } | FrameMessage::Undecoded => {}
    }
    let fields: Map<String, Value> = f
        .fields
        .iter()
        .map(|(k, v)| ((*k).to_string(), field_json(v)))
        .collect();
    out.insert("fields".into(), Value::Object(fields));
    out.insert(
        "deviations".into(),
        json!(f
            .deviations
            .iter()
            .map(|d| json!({ "code": d.code.code(), "detail": d.detail }))
            .collect::<Vec<_>>()),
    );
    if let Some(raw) = &f.raw {
        out.insert("raw".into(), json!(hex::encode(raw)));
    }
    Value::Object(out)
}

fn event_json(event: &RelayEvent) -> Value {
    match event {
        RelayEvent::FrameRelayed(f) => frame_json(f),
        RelayEvent::ConnectionOpened {
            conn,
            client,
            upstream,
        } => json!({
            "event": "opened", "conn": conn.0, "client": client.to_string(),
            "upstream": upstream.to_string(),
        }),
        RelayEvent::ConnectionFailed {
            conn,
            client,
            reason,
        } => json!({
            "event": "failed", "conn": conn.0, "client": client.to_string(), "reason": reason,
        }),
        RelayEvent::DeviationFound {
            conn,
            direction,
            at_ms,
            deviation,
        } => json!({
            "event": "deviation", "at_ms": at_ms, "conn": conn.0, "dir": direction.short(),
            "code": deviation.code.code(), "detail": deviation.detail,
        }),
        RelayEvent::ConnectionClosed {
            conn,
            bytes,
            undecoded_bytes,
            unanswered,
        } => json!({
            "event": "closed", "conn": conn.0, "bytes": bytes, "undecoded_bytes": undecoded_bytes,
            "unanswered": unanswered.iter().map(|u| json!({
                "dir": u.direction.short(), "label": u.label, "id": u.id,
                "waited_ms": u.waited.as_millis() as u64,
            })).collect::<Vec<_>>(),
        }),
    }
}

fn summary_json(s: &RelaySummary) -> Value {
    json!({
        "event": "summary",
        "connections": { "opened": s.connections_opened, "closed": s.connections_closed,
                         "failed": s.connections_failed },
        "bytes": s.bytes,
        "frames": s.frames.iter().map(|((dir, protocol, label), n)| json!({
            "dir": dir.short(), "protocol": protocol, "label": label, "count": n,
        })).collect::<Vec<_>>(),
        "unanswered": s.unanswered,
        "deviations": s.deviations.iter()
            .map(|(code, n)| (code.code().to_string(), json!(n)))
            .collect::<Map<String, Value>>(),
        "events_dropped": s.events_dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_of_to_picks_the_dialect() {
        let (u, d) = upstream_of("eth+tcp://127.0.0.1:9001").expect("eth");
        assert_eq!(
            (u.host.as_str(), u.port, d),
            ("127.0.0.1", 9001, RelayDialect::Eth)
        );
        let (u, d) = upstream_of("eth+tcp://[::1]").expect("eth, default port");
        assert_eq!(
            (u.host.as_str(), u.port, d),
            ("::1", 9000, RelayDialect::Eth)
        );
        let (_, d) = upstream_of("hob+tcp://127.0.0.1:9100").expect("hobbits");
        assert_eq!(d, RelayDialect::Ewp);
        assert!(upstream_of("eth+tcp://127.0.0.1:0").is_err());
        assert!(upstream_of("eth+tcp://:9000").is_err());
        assert!(upstream_of("ftp://x:1").is_err());
    }

    #[test]
    fn an_eth_message_prints_as_json_with_its_kind_method_and_code() {
        use hobbits_codec::eth::{EthMethod, MessageKind, ResponseCode};
        use hobbits_codec::rpc::RequestId;
        use hobbits_tools::relay::{ConnectionId, RelayDirection};
        let frame = RelayedFrame {
            conn: ConnectionId(1),
            direction: RelayDirection::ServerToClient,
            seq: 2,
            at_ms: 5,
            version: 0,
            protocol: WireProtocol::Eth,
            header_len: 22,
            body_len: 89,
            message: FrameMessage::Eth {
                kind: MessageKind::Response,
                id: RequestId(1),
                method: Some(EthMethod::Hello),
                code: Some(ResponseCode::Success),
                role: RpcRole::Response {
                    latency: Duration::from_millis(3),
                },
            },
            fields: vec![("best_slot", FieldValue::Uint(9))],
            deviations: Vec::new(),
            raw: None,
        };
        let v = frame_json(&frame);
        assert_eq!(v["protocol"], "ETH");
        assert_eq!(v["label"], "hello(0) -> 0");
        assert_eq!(v["kind"], "response");
        assert_eq!(v["method"], "hello");
        assert_eq!(v["response_code"], 0);
        assert_eq!(v["latency_ms"], 3);
        assert_eq!(v["fields"]["best_slot"], 9);
        assert!(v.get("version").is_none(), "ETH has no version: {v}");
    }
}
