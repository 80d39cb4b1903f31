//! The ETH checks of the session and its robustness: hello (two-phase, the initiator first),
//! get_status, goodbye 2 on another network or an unknown finalized root, beacon_chain_state (a
//! clear code), an unknown method (30), a body that is not its container's SSZ (10, the connection
//! kept), pipelined ids, and a wrong prefix (the connection closed, the next one served).
//!
//! Sends: hello, get_status, beacon_chain_state, beacon_block_roots / headers / bodies (pipelined),
//! method id 255, a roots request with a 3-byte body, bytes starting `XYZ`. Handles the replies.

use std::time::Instant;

use bytes::Bytes;
use hobbits_chain::rpc::Goodbye;
use hobbits_chain::Root;
use hobbits_codec::eth::{
    BlockBodiesRequest, BlockHeadersRequest, BlockRootsRequest, ChainStateRequest, EthHello,
    EthMethod, EthRequestBody, EthResponse, EthResponseBody, EthStatus, ResponseCode,
};
use hobbits_codec::rpc::RequestId;

use super::conn::{EthProbe, EthReceived, NOTHING_IN_TIME};
use super::{describe_hello, EthContext};
use crate::conformance::conn::{short_root, ECHO};
use crate::conformance::rpc_checks::{checker_user_agent, judge_timestamp, now_ms};
use crate::conformance::CheckOutcome;

/// Method id sent by the unknown-method check (none of the spec's).
pub const UNKNOWN_METHOD_ID: u16 = 255;

/// hello: the peer says nothing first (we are the initiator), then answers our hello with its
/// own (not ours: an echo fails).
pub async fn hello(ctx: &mut EthContext) -> CheckOutcome {
    let mut probe = try_or_fail!(ctx.connect_with(ctx.initial_hello()).await);
    // Two-phase, the initiator first: nothing may come before our hello.
    match probe.next_event(Instant::now() + ctx.config.quiet).await {
        Err(silence) if silence == NOTHING_IN_TIME && probe.peer_hellos == 0 => {}
        Err(e) => return CheckOutcome::fail(first_speaker(&probe, &e)),
        Ok(EthReceived::Closed(why)) => {
            return CheckOutcome::fail(format!("closed before our hello: {why}"))
        }
        Ok(other) => return CheckOutcome::fail(format!("{other:?} before our hello")),
    }
    if probe.peer_hellos > 0 {
        return CheckOutcome::fail(first_speaker(&probe, "answered"));
    }
    let theirs = try_or_fail!(probe.handshake().await);
    let evidence = format!("hello answered: {}", describe_hello(&theirs));
    ctx.peer_hello = Some(theirs);
    CheckOutcome::pass(evidence)
}

fn first_speaker(probe: &EthProbe, then: &str) -> String {
    format!(
        "the acceptor sent hello before the initiator (side requests {:?}; {then})",
        probe.side_requests
    )
}

/// get_status after hello: a non-empty user agent that is not ours and a millisecond timestamp
/// close to our clock.
pub async fn get_status(ctx: &mut EthContext) -> CheckOutcome {
    let (mut probe, _) = try_or_fail!(ctx.connect_handshaked().await);
    let ours = EthStatus::new(ctx.config.nonce_root().0, &checker_user_agent(), now_ms());
    let answer = try_or_fail!(probe.ask(&EthRequestBody::GetStatus(ours.clone())).await);
    let EthResponseBody::GetStatus(status) = answer else {
        return CheckOutcome::fail("get_status answered with another method's result");
    };
    if status.user_agent == ours.user_agent && status.sha == ours.sha {
        return CheckOutcome::fail(format!(
            "{ECHO} the status carries our own user agent {:?} and sha",
            status.user_agent_lossy()
        ));
    }
    if status.user_agent.is_empty() {
        return CheckOutcome::fail("user agent is empty");
    }
    let when = try_or_fail!(judge_timestamp(status.timestamp, now_ms()));
    CheckOutcome::pass(format!(
        "user agent {:?}, {when}, sha {}",
        status.user_agent_lossy(),
        short_root(&status.sha)
    ))
}

/// Sends `hello` on a fresh connection and waits for goodbye 2 (responses before it are
/// tolerated and reported).
async fn expect_goodbye_2(ctx: &EthContext, hello: EthHello, what: &str) -> CheckOutcome {
    let mut probe = try_or_fail!(ctx.connect_with(ctx.our_hello()).await);
    try_or_fail!(probe.send(&EthRequestBody::Hello(hello)).await);
    let deadline = Instant::now() + ctx.config.timeout;
    let mut before = Vec::new();
    loop {
        match probe.next_event(deadline).await {
            Ok(EthReceived::Goodbye(Some(2))) => {
                let after = match probe.closed().await {
                    Ok(how) => how,
                    Err(e) => format!("not closed: {e}"),
                };
                return CheckOutcome::pass(format!(
                    "goodbye 2 after a hello {what}{}; then {after}",
                    if before.is_empty() {
                        String::new()
                    } else {
                        format!(" (first: {})", before.join(", "))
                    }
                ));
            }
            Ok(EthReceived::Goodbye(reason)) => {
                return CheckOutcome::fail(format!(
                    "goodbye with reason {reason:?}, not 2, after a hello {what}"
                ))
            }
            Ok(EthReceived::Closed(why)) => {
                return CheckOutcome::fail(format!(
                    "closed without goodbye after a hello {what}: {why}"
                ))
            }
            Ok(EthReceived::Response(r)) => {
                before.push(format!("response {} id {}", r.code, r.id.0));
                if before.len() > 8 {
                    return CheckOutcome::fail(format!("no goodbye, only {}", before.join(", ")));
                }
            }
            Err(e) => {
                return CheckOutcome::fail(format!(
                    "no goodbye 2 after a hello {what}: {e}{}",
                    if before.is_empty() {
                        String::new()
                    } else {
                        format!(" (seen: {})", before.join(", "))
                    }
                ))
            }
        }
    }
}

/// A hello on `network_id + 1` earns goodbye 2.
pub async fn goodbye_wrong_network(ctx: &mut EthContext) -> CheckOutcome {
    let mut hello = ctx.our_hello();
    hello.network_id = hello.network_id.wrapping_add(1);
    let what = format!("on network {}", hello.network_id);
    expect_goodbye_2(ctx, hello, &what).await
}

/// A hello naming, at the peer's finalized epoch, a root derived from the run's nonce earns
/// goodbye 2.
pub async fn goodbye_unknown_finalized(ctx: &mut EthContext) -> CheckOutcome {
    let mut hello = ctx.our_hello();
    let mut root = ctx.config.nonce_root().0;
    root[31] ^= 0xff;
    hello.finalized_root = Root(root);
    let what = format!(
        "naming {} as finalized at epoch {}",
        short_root(&root),
        hello.finalized_epoch.0
    );
    expect_goodbye_2(ctx, hello, &what).await
}

/// After `id` earned an error code, the same connection still answers get_status.
async fn still_answers(probe: &mut EthProbe) -> Result<(), String> {
    let status = EthStatus::new([0; 32], &checker_user_agent(), now_ms());
    probe
        .ask(&EthRequestBody::GetStatus(status))
        .await
        .map(|_| ())
        .map_err(|e| format!("the connection no longer serves get_status: {e}"))
}

/// Sends `method` with `body` after hello and expects `code`, then get_status on the same
/// connection.
async fn expect_code(
    ctx: &EthContext,
    method: EthMethod,
    body: Bytes,
    code: ResponseCode,
) -> CheckOutcome {
    let (mut probe, _) = try_or_fail!(ctx.connect_handshaked().await);
    let id = try_or_fail!(probe.send_raw(method, body).await);
    let answer = try_or_fail!(probe.response(id).await);
    if answer.code != code {
        return CheckOutcome::fail(format!("answered {}, not {code}", shown(&answer)));
    }
    try_or_fail!(still_answers(&mut probe).await);
    CheckOutcome::pass(format!(
        "{}; the connection then served get_status",
        shown(&answer)
    ))
}

/// A response for evidence: the code, then the text of an error or the size of a result.
fn shown(answer: &EthResponse) -> String {
    if answer.code.is_success() {
        format!("{} with {} result bytes", answer.code, answer.result.len())
    } else {
        format!("{} ({:?})", answer.code, answer.message())
    }
}

/// An unknown method id earns 30 and the connection stays.
pub async fn unknown_method(ctx: &mut EthContext) -> CheckOutcome {
    expect_code(
        ctx,
        EthMethod::Unknown(UNKNOWN_METHOD_ID),
        Bytes::new(),
        ResponseCode::MethodNotFound,
    )
    .await
}

/// A beacon_block_roots request whose body is 3 bytes (the container is 16) earns 10 and the
/// connection stays (docs/PROTOCOL.md: only framing errors break the stream).
pub async fn malformed_ssz(ctx: &mut EthContext) -> CheckOutcome {
    expect_code(
        ctx,
        EthMethod::BeaconBlockRoots,
        Bytes::from_static(&[1, 2, 3]),
        ResponseCode::ParseError,
    )
    .await
}

/// beacon_chain_state (its response is TBD in the spec) earns an error code, not silence and not
/// a success nobody could decode.
pub async fn chain_state(ctx: &mut EthContext) -> CheckOutcome {
    let (mut probe, theirs) = try_or_fail!(ctx.connect_handshaked().await);
    let body = EthRequestBody::BeaconChainState(ChainStateRequest {
        hashes: vec![theirs.best_root],
    });
    let id = try_or_fail!(probe.send(&body).await);
    let answer = try_or_fail!(probe.response(id).await);
    if answer.code.is_success() {
        return CheckOutcome::fail(format!(
            "success with {} result bytes for a method whose response the spec leaves TBD",
            answer.result.len()
        ));
    }
    CheckOutcome::pass(shown(&answer))
}

/// Four requests in one write: each answered once, with its id and its method's result, in any
/// order; nothing more for the quiet window.
pub async fn pipelined(ctx: &mut EthContext) -> CheckOutcome {
    let (mut probe, theirs) = try_or_fail!(ctx.connect_handshaked().await);
    let bodies = [
        EthRequestBody::GetStatus(EthStatus::new([0; 32], &checker_user_agent(), now_ms())),
        EthRequestBody::BeaconBlockRoots(BlockRootsRequest {
            start_slot: theirs.best_slot,
            count: 1,
        }),
        EthRequestBody::BeaconBlockHeaders(BlockHeadersRequest {
            start_root: theirs.best_root,
            start_slot: theirs.best_slot,
            max_headers: 1,
            skip_slots: 0,
        }),
        EthRequestBody::BeaconBlockBodies(BlockBodiesRequest {
            block_roots: vec![theirs.best_root],
        }),
    ];
    let mut wire = Vec::new();
    let mut waiting: Vec<(RequestId, EthMethod)> = Vec::new();
    for body in &bodies {
        let (id, bytes) = probe.encode_request(body.method(), Bytes::from(body.to_ssz()));
        wire.extend_from_slice(&bytes);
        waiting.push((id, body.method()));
    }
    try_or_fail!(probe.write_raw(&wire).await);
    let mut order: Vec<String> = Vec::new();
    let deadline = Instant::now() + ctx.config.timeout;
    while order.len() < bodies.len() {
        let event = try_or_fail!(probe.next_event(deadline).await.map_err(|e| format!(
            "{} of {} answered ({}): {e}",
            order.len(),
            bodies.len(),
            order.join(", ")
        )));
        let response = match event {
            EthReceived::Response(r) => r,
            other => return CheckOutcome::fail(format!("{other:?} while answering")),
        };
        let Some(&(id, method)) = waiting.iter().find(|(id, _)| *id == response.id) else {
            if probe.was_answered(response.id)
                || order
                    .iter()
                    .any(|o| o.ends_with(&format!("#{}", response.id.0)))
            {
                return CheckOutcome::fail(format!("id {} answered twice", response.id.0));
            }
            return CheckOutcome::fail(format!(
                "a response with id {}, which we did not send",
                response.id.0
            ));
        };
        try_or_fail!(response
            .decode_result(method, probe.limits())
            .map_err(|e| format!("id {}: {e}", id.0)));
        waiting.retain(|(i, _)| *i != id);
        order.push(format!("{}#{}", method.name(), id.0));
    }
    match probe.next_event(Instant::now() + ctx.config.quiet).await {
        Ok(EthReceived::Response(r)) => {
            CheckOutcome::fail(format!("id {} answered again ({})", r.id.0, r.code))
        }
        Err(e) if e.starts_with(ECHO) => CheckOutcome::fail(e),
        _ => CheckOutcome::pass(format!("answered in order {}", order.join(", "))),
    }
}

/// After hello and a get_status, bytes with the prefix `XYZ` make the peer close that connection
/// (a wrong prefix breaks the stream: docs/PROTOCOL.md).
pub async fn bad_prefix_closes(ctx: &mut EthContext) -> CheckOutcome {
    let (mut probe, _) = try_or_fail!(ctx.connect_handshaked().await);
    try_or_fail!(still_answers(&mut probe).await);
    let mut bad = b"XYZ".to_vec();
    bad.extend_from_slice(&15u32.to_le_bytes());
    bad.extend_from_slice(&[0u8; 15]);
    try_or_fail!(probe.write_raw(&bad).await);
    match probe.closed().await {
        Ok(how) => CheckOutcome::pass(format!("a wrong prefix: {how}")),
        Err(e) => CheckOutcome::fail(format!("not closed after a wrong prefix: {e}")),
    }
}

/// After the wrong prefix, a fresh connection completes hello and serves get_status.
pub async fn accepts_after(ctx: &mut EthContext) -> CheckOutcome {
    let (mut probe, theirs) = try_or_fail!(ctx.connect_handshaked().await);
    try_or_fail!(still_answers(&mut probe).await);
    let _ = probe
        .send(&EthRequestBody::Goodbye(Goodbye { reason: 1 }))
        .await;
    CheckOutcome::pass(format!(
        "a fresh connection served hello ({}) and get_status",
        describe_hello(&theirs)
    ))
}
