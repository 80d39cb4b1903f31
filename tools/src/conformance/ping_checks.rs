//! Checks on the PING protocol and on the connection's robustness: `ping_echo`, `ping_pipelined`,
//! `ping_split`, `pong_ignored`, `unknown_method`, `malformed_frame_closes`,
//! `accepts_after_malformed`. Each opens its own connection.
//!
//! Sends: PING, `pong`, an RPC with method id [`UNKNOWN_METHOD_ID`], a frame with a bad preamble.
//! Expects: `pong` with the same body; silence after a `pong`; a close after the bad frame.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hobbits_chain::rpc::GetStatus;
use hobbits_codec::rpc::{RpcBody, RpcEnvelope, RpcHeader, RpcMethod, RpcPayload};
use hobbits_codec::{Envelope, PingFrame, PingKind};

use super::conn::{pong_matches, Received, OFFENDER_SOURCE_V4};
use super::{CheckContext, CheckOutcome, Probe};

/// The RPC method id no implementation defines (sent by `unknown_method`).
pub const UNKNOWN_METHOD_ID: u16 = 255;

/// The frame sent by `malformed_frame_closes`: preamble `XYZ` instead of `EWP` (shared vector
/// `bad_preamble`).
pub const MALFORMED_FRAME: &[u8] = b"XYZ\x00\x00\x00\x03\x02\x00\x00\x00\x04\x00\x00\x00\x00ping";

/// A 32-byte PING body: `tag` then 31 bytes drawn from the run's seed, so that recorded pongs
/// of another run do not match.
pub fn ping_body(seed: u64, tag: u8) -> [u8; 32] {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed ^ (u64::from(tag) << 56) ^ 0x7069_6e67);
    let mut body = [0u8; 32];
    rng.fill(&mut body[1..]);
    body[0] = tag;
    body
}

fn ping_bytes(body: &[u8]) -> Result<Vec<u8>, String> {
    PingFrame::ping(Bytes::copy_from_slice(body))
        .to_frame()
        .to_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| e.to_string())
}

/// PING with a 32-byte body: answered by `pong` with the same body.
pub async fn ping_echo(ctx: &mut CheckContext) -> CheckOutcome {
    let mut probe = try_or_fail!(ctx.connect().await);
    let body = ping_body(ctx.config.seed, 1);
    let started = Instant::now();
    let reply = try_or_fail!(probe.ping(&body).await);
    try_or_fail!(pong_matches(&reply, &body));
    CheckOutcome::pass(format!(
        "pong with the same 32-byte body in {:?}",
        started.elapsed()
    ))
}

/// Two PINGs in one write: two `pong`s, in order.
pub async fn ping_pipelined(ctx: &mut CheckContext) -> CheckOutcome {
    let mut probe = try_or_fail!(ctx.connect().await);
    let (a, b) = (ping_body(ctx.config.seed, 2), ping_body(ctx.config.seed, 3));
    let mut bytes = try_or_fail!(ping_bytes(&a));
    bytes.extend(try_or_fail!(ping_bytes(&b)));
    try_or_fail!(probe.send_raw(&bytes).await);
    let first = try_or_fail!(probe
        .next_ping_frame()
        .await
        .map_err(|e| format!("first ping: {e}")));
    let second = try_or_fail!(probe
        .next_ping_frame()
        .await
        .map_err(|e| format!("second ping: {e}")));
    if first.kind == PingKind::Pong
        && second.kind == PingKind::Pong
        && first.body == b[..]
        && second.body == a[..]
    {
        return CheckOutcome::fail("both answered, but in reverse order");
    }
    try_or_fail!(pong_matches(&first, &a).map_err(|e| format!("first reply: {e}")));
    try_or_fail!(pong_matches(&second, &b).map_err(|e| format!("second reply: {e}")));
    CheckOutcome::pass(format!(
        "{} bytes in one write: two pongs, in order",
        bytes.len()
    ))
}

/// One PING written in five pieces with pauses: answered once it is whole.
pub async fn ping_split(ctx: &mut CheckContext) -> CheckOutcome {
    let mut probe = try_or_fail!(ctx.connect().await);
    let body = ping_body(ctx.config.seed, 4);
    let bytes = try_or_fail!(ping_bytes(&body));
    // Cuts inside the preamble, the version, the lengths, the header and the body.
    let cuts = [0, 2, 6, 13, 18, 30, bytes.len()];
    let pause = (ctx.config.quiet / 10).max(Duration::from_millis(5));
    for w in cuts.windows(2) {
        try_or_fail!(probe.send_raw(&bytes[w[0]..w[1]]).await);
        // The peer must not answer a partial frame; anything arriving now is noted.
        if let Received::Frame(f) = probe.recv_within(pause).await {
            if w[1] < bytes.len() {
                return CheckOutcome::fail(format!(
                    "peer sent a {} frame before the PING was complete ({} of {} bytes)",
                    f.protocol,
                    w[1],
                    bytes.len()
                ));
            }
            let reply = try_or_fail!(PingFrame::from_frame(&f).map_err(|e| e.to_string()));
            try_or_fail!(pong_matches(&reply, &body));
            return CheckOutcome::pass(format!(
                "{} writes of {:?} bytes: pong",
                cuts.len() - 1,
                pieces(&cuts)
            ));
        }
    }
    let reply = try_or_fail!(probe.next_ping_frame().await);
    try_or_fail!(pong_matches(&reply, &body));
    CheckOutcome::pass(format!(
        "{} writes of {:?} bytes: pong",
        cuts.len() - 1,
        pieces(&cuts)
    ))
}

fn pieces(cuts: &[usize]) -> Vec<usize> {
    cuts.windows(2).map(|w| w[1] - w[0]).collect()
}

/// A `pong` gets no answer within the quiet window, and the connection still answers a PING after.
pub async fn pong_ignored(ctx: &mut CheckContext) -> CheckOutcome {
    let mut probe = try_or_fail!(ctx.connect().await);
    let pong_body = ping_body(ctx.config.seed, 5);
    try_or_fail!(
        probe
            .send(PingFrame::pong(Bytes::copy_from_slice(&pong_body)).to_frame())
            .await
    );
    let quiet = ctx.config.quiet;
    let deadline = Instant::now() + quiet;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match probe.recv_within(left).await {
            Received::TimedOut => break,
            Received::Frame(f) => {
                match Envelope::from_frame(&f) {
                    Ok(Envelope::Ping(p)) => {
                        return CheckOutcome::fail(format!(
                        "the `pong` was answered with `{}` ({} bytes body): two such peers loop",
                        if p.kind == PingKind::Pong { "pong" } else { "ping" },
                        p.body.len()
                    ))
                    }
                    _ => probe.side_frames.push(format!("{} frame", f.protocol)),
                }
            }
            Received::Closed { error } => {
                return CheckOutcome::fail(format!(
                    "connection closed after an unsolicited `pong` ({})",
                    error.unwrap_or_else(|| "EOF".into())
                ))
            }
            Received::Malformed { reason } => {
                return CheckOutcome::fail(format!("peer sent a malformed frame: {reason}"))
            }
        }
    }
    // Silence proves nothing from a dead peer: the same connection must still answer a PING.
    let body = ping_body(ctx.config.seed, 6);
    let reply = try_or_fail!(probe
        .ping(&body)
        .await
        .map_err(|e| format!("silent for {quiet:?}, but then: {e}")));
    if reply.kind == PingKind::Pong && reply.body == pong_body[..] {
        return CheckOutcome::fail("the `pong` was answered (late, after the quiet window)");
    }
    try_or_fail!(pong_matches(&reply, &body));
    CheckOutcome::pass(format!(
        "no reply within {quiet:?}; a PING after it answered"
    ))
}

/// An RPC with an unknown method id: the connection stays open and answers a PING.
pub async fn unknown_method(ctx: &mut CheckContext) -> CheckOutcome {
    let mut probe = try_or_fail!(ctx.connect().await);
    let mut note = String::new();
    if ctx.peer_hello.is_some() {
        if let Err(e) = probe.handshake(&ctx.our_hello()).await {
            return CheckOutcome::fail(format!("handshake before the unknown method failed: {e}"));
        }
        note.push_str("after HELLO, ");
    }
    let id = probe.allocate_id();
    let env = RpcEnvelope {
        header: RpcHeader::new(RpcMethod::Unknown(UNKNOWN_METHOD_ID), id),
        body: RpcBody::Ssz(Bytes::new()),
    };
    let frame = try_or_fail!(env.to_frame().map_err(|e| e.to_string()));
    try_or_fail!(probe.send(frame).await);
    let body = ping_body(ctx.config.seed, 7);
    let reply = try_or_fail!(probe
        .ping(&body)
        .await
        .map_err(|e| format!("after method id {UNKNOWN_METHOD_ID}: {e}")));
    try_or_fail!(pong_matches(&reply, &body));
    let mut after = "";
    if ctx.peer_hello.is_some() {
        // The RPC side must still work too, not only PING.
        let ours = ctx.our_hello();
        let status = GetStatus::new(&super::rpc_checks::checker_user_agent(), 0);
        let id = try_or_fail!(probe.send_request(&RpcPayload::GetStatus(status)).await);
        try_or_fail!(probe
            .expect_rpc(RpcMethod::GetStatus, id, Some(&ours))
            .await
            .map_err(|e| format!("after method id {UNKNOWN_METHOD_ID}, GET_STATUS: {e}")));
        after = ", GET_STATUS answered";
    }
    let seen = if probe.side_frames.is_empty() {
        "no reply to it".to_string()
    } else {
        format!("replies: {}", probe.side_frames.join(", "))
    };
    CheckOutcome::pass(format!(
        "{note}method id {UNKNOWN_METHOD_ID} ({seen}); connection open, PING answered{after}"
    ))
}

/// Source addresses tried for the offending connection: other loopback addresses when the target
/// is on IPv4 loopback (so a per-IP ban of the offender is not mistaken for refusing everyone;
/// the second varies per process and run, in case an earlier run got the first banned), then the default.
fn offender_sources(ctx: &CheckContext) -> Vec<Option<IpAddr>> {
    let mut out = Vec::new();
    if let IpAddr::V4(ip) = ctx.target.ip() {
        if ip.is_loopback() {
            // Varies per process and per run within a process.
            static RUNS: AtomicU32 = AtomicU32::new(0);
            let n = std::process::id().wrapping_add(RUNS.fetch_add(1, Ordering::Relaxed) << 12);
            let varied = Ipv4Addr::new(127, 1 + (n >> 16) as u8 % 250, (n >> 8) as u8, n as u8 | 1);
            for src in [OFFENDER_SOURCE_V4, varied] {
                if src != ip {
                    out.push(Some(IpAddr::V4(src)));
                }
            }
        }
    }
    out.push(None);
    out
}

/// A connection that answers a PING, from the first source address that gives one: the bad frame
/// must reach a peer that was serving us (not one that already refuses this address).
async fn live_offender(ctx: &CheckContext) -> Result<(Probe, Option<IpAddr>), String> {
    let mut tried = Vec::new();
    for source in offender_sources(ctx) {
        let label = source.map_or("default source".to_string(), |ip| ip.to_string());
        match ctx.connect_from(source).await {
            Ok(mut probe) => {
                let body = ping_body(ctx.config.seed, 9);
                match probe
                    .ping(&body)
                    .await
                    .and_then(|r| pong_matches(&r, &body))
                {
                    Ok(()) => return Ok((probe, source)),
                    Err(e) => tried.push(format!("{label}: {e}")),
                }
            }
            Err(e) => tried.push(format!("{label}: {e}")),
        }
    }
    Err(format!(
        "no live connection to send the bad frame on ({})",
        tried.join("; ")
    ))
}

/// On a connection that has just answered a PING, a frame with a bad preamble: the peer closes
/// the connection within the timeout (a GOODBYE before the close is fine).
pub async fn malformed_frame_closes(ctx: &mut CheckContext) -> CheckOutcome {
    let (mut probe, source) = try_or_fail!(live_offender(ctx).await);
    ctx.offender_source = source;
    let started = Instant::now();
    try_or_fail!(probe.send_raw(MALFORMED_FRAME).await);
    let deadline = started + ctx.config.timeout;
    let mut before = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match probe.recv_within(left).await {
            Received::Closed { error } => {
                let how = error.map_or("EOF".to_string(), |e| format!("error: {e}"));
                let first = if before.is_empty() {
                    String::new()
                } else {
                    format!(" after {}", before.join(", "))
                };
                return CheckOutcome::pass(format!(
                    "bad preamble `XYZ` after a PING/pong: closed in {:?} ({how}){first}",
                    started.elapsed()
                ));
            }
            Received::TimedOut => {
                return CheckOutcome::fail(format!(
                    "connection still open {:?} after a bad preamble{}",
                    ctx.config.timeout,
                    if before.is_empty() {
                        String::new()
                    } else {
                        format!(" (received {})", before.join(", "))
                    }
                ))
            }
            Received::Frame(f) => before.push(describe_frame(&f)),
            Received::Malformed { reason } => {
                return CheckOutcome::fail(format!(
                    "peer answered with a malformed frame: {reason}"
                ))
            }
        }
        if before.len() > 16 {
            return CheckOutcome::fail("peer kept sending frames after a bad preamble");
        }
    }
}

fn describe_frame(f: &hobbits_codec::Frame) -> String {
    match Envelope::from_frame(f) {
        Ok(Envelope::Rpc(env)) if env.header.method == RpcMethod::Goodbye => {
            match env.decode_payload().map(|d| d.payload) {
                Ok(hobbits_codec::RpcPayload::Goodbye(g)) => format!("GOODBYE {}", g.reason),
                _ => "GOODBYE".into(),
            }
        }
        Ok(Envelope::Rpc(env)) => env.header.method.to_string(),
        Ok(Envelope::Ping(p)) => format!("{:?}", p.kind),
        Ok(Envelope::Gossip(_)) => "GOSSIP".into(),
        Err(_) => format!("undecodable {} frame", f.protocol),
    }
}

/// After `malformed_frame_closes`: a fresh connection (from the usual source) is accepted and
/// answers a PING.
pub async fn accepts_after_malformed(ctx: &mut CheckContext) -> CheckOutcome {
    let same_source = ctx.offender_source.is_none();
    let hint = if same_source {
        " (the offending connection came from this same address: a per-IP ban would explain it)"
    } else {
        ""
    };
    let mut probe = match ctx.connect().await {
        Ok(p) => p,
        Err(e) => return CheckOutcome::fail(format!("new connection refused: {e}{hint}")),
    };
    let body = ping_body(ctx.config.seed, 8);
    let reply = match probe.ping(&body).await {
        Ok(r) => r,
        Err(e) => return CheckOutcome::fail(format!("fresh connection: {e}{hint}")),
    };
    try_or_fail!(pong_matches(&reply, &body));
    let from = match ctx.offender_source {
        Some(ip) => {
            format!("the bad frame came from {ip}, this connection from the default source")
        }
        None => "same source address as the bad frame".into(),
    };
    CheckOutcome::pass(format!("fresh connection answered PING ({from})"))
}
