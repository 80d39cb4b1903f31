//! Checks on the RPC methods beyond HELLO, GET_STATUS and GET_BLOCK_HEADERS: `block_bodies`
//! (GET_BLOCK_BODIES answers the blocks of the headers the peer served: body roots, order, `max`,
//! by slot and by root), `beacon_states` (GET_BEACON_STATES answers states with the roots asked
//! for, in request order; skipped with the reason when the peer offers none), `request_ids`
//! (four pipelined requests each answered once with its id and the response method, in any
//! order), `goodbye_wrong_network` and `goodbye_unknown_finalized` (a HELLO on another network,
//! or with a finalized root not in the peer's chain, earns GOODBYE 2).
//!
//! Sends: HELLO, GET_STATUS, GET_BLOCK_HEADERS, GET_BLOCK_BODIES, GET_BEACON_STATES. Expects:
//! HELLO, GET_STATUS, BLOCK_HEADERS, BLOCK_BODIES, BEACON_STATES, GOODBYE.

use std::time::Instant;

use hobbits_chain::rpc::{GetBeaconStates, GetBlockBodies, GetStatus, Goodbye, Hello};
use hobbits_chain::{BeaconBlock, BeaconBlockHeader, HashTreeRoot, Root, Slot};
use hobbits_codec::rpc::{RequestId, RpcEnvelope, RpcMethod, RpcPayload};
use hobbits_codec::Envelope;

use super::conn::{short_root, Received, ECHO};
use super::header_checks::{at_most, fetch_headers, open, request_reply, RangeQuery};
use super::ranges::Order;
use super::rpc_checks::checker_user_agent;
use super::{CheckContext, CheckOutcome, Probe};

/// Sends one GET_BLOCK_BODIES (the query's fields) and reads its BLOCK_BODIES; fails when it
/// holds more than `max`.
async fn fetch_bodies(
    probe: &mut Probe,
    hello: &Hello,
    q: RangeQuery,
) -> Result<Vec<BeaconBlock>, String> {
    let request = RpcPayload::GetBlockBodies(GetBlockBodies {
        start_root: q.start_root,
        start_slot: q.start_slot,
        max: q.max,
        skip: q.skip,
        direction: q.order.wire(),
    });
    let what = format!("bodies {}", q.describe());
    let reply = request_reply(probe, hello, &request, RpcMethod::BlockBodies, &what).await?;
    let RpcPayload::BlockBodies(bodies) = reply else {
        return Err(format!("{what}: reply is not BLOCK_BODIES"));
    };
    at_most(bodies.bodies.to_vec(), q.max, &what, "blocks")
}

/// The blocks must be exactly the blocks of `headers`, in order: same signing_root, and the body
/// hashes to the header's body_root. A shorter answer (a response cap) is a prefix, never empty.
pub fn match_bodies(blocks: &[BeaconBlock], headers: &[BeaconBlockHeader]) -> Result<(), String> {
    if blocks.is_empty() && !headers.is_empty() {
        return Err(format!(
            "no block where {} headers were served",
            headers.len()
        ));
    }
    if blocks.len() > headers.len() {
        return Err(format!(
            "{} blocks where the same query served {} headers",
            blocks.len(),
            headers.len()
        ));
    }
    for (i, (b, h)) in blocks.iter().zip(headers).enumerate() {
        let body_root = b.body.hash_tree_root();
        if body_root != h.body_root {
            return Err(format!(
                "#{i} (slot {}): body root {} differs from the header's body_root {}",
                b.slot.0,
                short_root(&body_root.0),
                short_root(&h.body_root.0)
            ));
        }
        if b.signing_root() != h.signing_root() {
            return Err(format!(
                "#{i}: block at slot {} {} is not the header at slot {} {}",
                b.slot.0,
                short_root(&b.signing_root().0),
                h.slot.0,
                short_root(&h.signing_root().0)
            ));
        }
    }
    Ok(())
}

/// GET_BLOCK_BODIES against GET_BLOCK_HEADERS with the same fields: ascending from slot 0, by
/// root descending from a block in the middle, and `max` 1.
pub async fn block_bodies(ctx: &mut CheckContext) -> CheckOutcome {
    let (mut probe, hello) = match open(ctx).await {
        Ok(v) => v,
        Err(outcome) => return outcome,
    };
    let page = ctx.config.page_size;
    let by_slot = RangeQuery::from_slot(Slot(0), page, 0, Order::Ascending);
    let served = try_or_fail!(fetch_headers(&mut probe, &hello, by_slot).await);
    let Some(middle) = served.get(served.len() / 2) else {
        return CheckOutcome::fail(format!("{}: no header at all", by_slot.describe()));
    };
    let by_root = RangeQuery {
        start_root: middle.signing_root(),
        ..RangeQuery::from_slot(middle.slot, page, 0, Order::Descending)
    };
    let one = RangeQuery::from_slot(Slot(0), 1, 0, Order::Ascending);
    let mut lines = Vec::new();
    for q in [by_slot, by_root, one] {
        let headers = try_or_fail!(fetch_headers(&mut probe, &hello, q).await);
        let blocks = try_or_fail!(fetch_bodies(&mut probe, &hello, q).await);
        try_or_fail!(
            match_bodies(&blocks, &headers).map_err(|e| format!("bodies {}: {e}", q.describe()))
        );
        lines.push(format!("{} → {} blocks", q.describe(), blocks.len()));
    }
    CheckOutcome::pass(format!(
        "each block is the served header's (signing_root, body_root), in order: {}",
        lines.join("; ")
    ))
}

/// GET_BEACON_STATES for the state roots of genesis and the head (from the peer's headers): the
/// states answered have those roots, in request order; none answered is "not offered".
pub async fn beacon_states(ctx: &mut CheckContext) -> CheckOutcome {
    let (mut probe, hello) = match open(ctx).await {
        Ok(v) => v,
        Err(outcome) => return outcome,
    };
    let genesis = RangeQuery::from_slot(Slot(0), 1, 0, Order::Ascending);
    let head = RangeQuery {
        start_root: hello.best_root,
        ..RangeQuery::from_slot(hello.best_slot, 1, 0, Order::Descending)
    };
    let mut wanted: Vec<Root> = Vec::new();
    for q in [genesis, head] {
        let h = try_or_fail!(fetch_headers(&mut probe, &hello, q).await);
        if let Some(h) = h.first() {
            if !wanted.contains(&h.state_root) {
                wanted.push(h.state_root);
            }
        }
    }
    let mut request = GetBeaconStates::default();
    for r in &wanted {
        if request.hashes.push(*r).is_err() {
            break;
        }
    }
    let id = try_or_fail!(
        probe
            .send_request(&RpcPayload::GetBeaconStates(request))
            .await
    );
    let env = match probe
        .expect_rpc(RpcMethod::BeaconStates, id, Some(&hello))
        .await
    {
        Ok(env) => env,
        Err(e) if e.starts_with(ECHO) || e.contains("malformed") => return CheckOutcome::fail(e),
        Err(e) => return CheckOutcome::skipped(format!("GET_BEACON_STATES not offered: {e}")),
    };
    let decoded = try_or_fail!(env
        .decode_payload()
        .map_err(|e| format!("BEACON_STATES does not decode: {e}")));
    let RpcPayload::BeaconStates(states) = decoded.payload else {
        return CheckOutcome::fail("reply is not BEACON_STATES");
    };
    if states.states.is_empty() {
        return CheckOutcome::skipped(format!(
            "GET_BEACON_STATES not offered: no state for the {} state root(s) its headers name",
            wanted.len()
        ));
    }
    let mut next = 0;
    for s in states.states.iter() {
        let root = s.hash_tree_root();
        match wanted[next..].iter().position(|w| *w == root) {
            Some(k) => next += k + 1,
            None => {
                return CheckOutcome::fail(format!(
                    "a state with root {} that was not asked for (or out of request order)",
                    short_root(&root.0)
                ))
            }
        }
    }
    CheckOutcome::pass(format!(
        "{} of {} states, roots as asked, in request order",
        states.states.len(),
        wanted.len()
    ))
}

/// Four requests in one write (GET_STATUS, GET_BLOCK_HEADERS, GET_BLOCK_BODIES, GET_STATUS):
/// each answered exactly once, with its id and the response method; any order.
pub async fn request_ids(ctx: &mut CheckContext) -> CheckOutcome {
    let (mut probe, _) = match open(ctx).await {
        Ok(v) => v,
        Err(outcome) => return outcome,
    };
    let range = RangeQuery::from_slot(Slot(0), 1, 0, Order::Ascending);
    let headers_req = hobbits_chain::rpc::GetBlockHeaders {
        start_root: range.start_root,
        start_slot: range.start_slot,
        max: 1,
        skip: 0,
        direction: range.order.wire(),
    };
    let status = || RpcPayload::GetStatus(GetStatus::new(&checker_user_agent(), 0));
    let requests = [
        (status(), RpcMethod::GetStatus),
        (
            RpcPayload::GetBlockHeaders(headers_req.clone()),
            RpcMethod::BlockHeaders,
        ),
        (
            RpcPayload::GetBlockBodies(headers_req.into()),
            RpcMethod::BlockBodies,
        ),
        (status(), RpcMethod::GetStatus),
    ];
    let mut bytes = Vec::new();
    let mut pending: Vec<(RequestId, RpcMethod)> = Vec::new();
    for (payload, reply) in &requests {
        let id = probe.allocate_id();
        let frame = try_or_fail!(RpcEnvelope::new(id, payload)
            .to_frame()
            .and_then(|f| f.to_bytes())
            .map_err(|e| e.to_string()));
        bytes.extend_from_slice(&frame);
        pending.push((id, *reply));
    }
    try_or_fail!(probe.send_raw(&bytes).await);
    let sent: Vec<RequestId> = pending.iter().map(|p| p.0).collect();
    let mut order = Vec::new();
    let deadline = Instant::now() + probe.timeout();
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = match probe.recv_within(left).await {
            Received::Frame(f) => f,
            other => {
                return CheckOutcome::fail(format!(
                    "{} of {} answered ({}), then {other:?}",
                    order.len(),
                    sent.len(),
                    order.join(", ")
                ))
            }
        };
        if probe.is_our_frame(&frame)
            || frame
                .to_bytes()
                .is_ok_and(|b| bytes.windows(b.len()).any(|w| w == &b[..]))
        {
            return CheckOutcome::fail(format!("{ECHO} one of our pipelined requests came back"));
        }
        let env = match Envelope::from_frame(&frame) {
            Ok(Envelope::Rpc(env)) => env,
            _ => continue,
        };
        let (id, method) = (env.header.id, env.header.method);
        match pending.iter().position(|p| p.0 == id) {
            Some(k) if pending[k].1 == method => {
                pending.remove(k);
                let pos = sent.iter().position(|s| *s == id).unwrap_or(0);
                order.push(format!("#{}", pos + 1));
            }
            Some(k) => {
                return CheckOutcome::fail(format!(
                    "id {} answered with {method}, expected {}",
                    id.0, pending[k].1
                ))
            }
            None if sent.contains(&id) => {
                return CheckOutcome::fail(format!("id {} answered twice ({method})", id.0))
            }
            None if method == RpcMethod::Hello => {}
            None => {
                return CheckOutcome::fail(format!(
                    "a {method} reply with id {}, which none of our requests had",
                    id.0
                ))
            }
        }
    }
    CheckOutcome::pass(format!(
        "{} requests in one write, each answered once with its id, in the order {}",
        sent.len(),
        order.join(" ")
    ))
}

/// Waits for a GOODBYE after a HELLO the peer must refuse; returns the reason and what else came.
async fn await_goodbye(probe: &mut Probe) -> Result<(u64, String), String> {
    let deadline = Instant::now() + probe.timeout();
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match probe.recv_within(left).await {
            Received::Frame(f) => {
                if probe.is_our_frame(&f) {
                    return Err(format!("{ECHO} our refused HELLO came back byte for byte"));
                }
                match Envelope::from_frame(&f) {
                    Ok(Envelope::Rpc(env)) if env.header.method == RpcMethod::Goodbye => {
                        let reason = match env.decode_payload().map(|d| d.payload) {
                            Ok(RpcPayload::Goodbye(g)) => g.reason,
                            _ => return Err("a GOODBYE that does not decode".into()),
                        };
                        let before = if seen.is_empty() {
                            String::new()
                        } else {
                            format!(" after {}", seen.join(", "))
                        };
                        return Ok((reason, before));
                    }
                    Ok(Envelope::Rpc(env)) => seen.push(env.header.method.to_string()),
                    Ok(Envelope::Ping(p)) => {
                        if let Some(pong) = p.reply() {
                            probe.send(pong.to_frame()).await?;
                        }
                    }
                    _ => seen.push(format!("{} frame", f.protocol)),
                }
            }
            Received::TimedOut => {
                return Err(format!(
                    "no GOODBYE within {:?} (received: {})",
                    probe.timeout(),
                    list(&seen)
                ))
            }
            Received::Closed { .. } => {
                return Err(format!(
                    "closed without a GOODBYE (received: {})",
                    list(&seen)
                ))
            }
            Received::Malformed { reason } => return Err(format!("malformed frame: {reason}")),
        }
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "nothing".into()
    } else {
        v.join(", ")
    }
}

/// Sends `hello` on a fresh connection and expects GOODBYE 2 (irrelevant network).
async fn expect_goodbye_2(ctx: &CheckContext, hello: Hello, what: &str) -> CheckOutcome {
    let mut probe = try_or_fail!(ctx.connect().await);
    try_or_fail!(probe.send_request(&RpcPayload::Hello(hello)).await);
    let (reason, before) = try_or_fail!(await_goodbye(&mut probe).await);
    if reason != Goodbye::IRRELEVANT_NETWORK {
        return CheckOutcome::fail(format!(
            "{what}: GOODBYE {reason}, expected {} (irrelevant network){before}",
            Goodbye::IRRELEVANT_NETWORK
        ));
    }
    CheckOutcome::pass(format!("{what}: GOODBYE 2{before}"))
}

/// A HELLO with another network_id earns GOODBYE 2.
pub async fn goodbye_wrong_network(ctx: &mut CheckContext) -> CheckOutcome {
    if ctx.peer_hello.is_none() {
        return CheckOutcome::skipped(
            "the peer answered no HELLO (see `hello`): its network is unknown",
        );
    }
    let ours = ctx.our_hello();
    let wrong = ours.network_id.wrapping_add(1);
    let what = format!("network_id {wrong} (the peer's is {})", ours.network_id);
    let hello = Hello {
        network_id: wrong,
        ..ours
    };
    expect_goodbye_2(ctx, hello, &what).await
}

/// A HELLO whose finalized checkpoint is at the peer's finalized epoch with a root not in its
/// chain earns GOODBYE 2.
pub async fn goodbye_unknown_finalized(ctx: &mut CheckContext) -> CheckOutcome {
    if ctx.peer_hello.is_none() {
        return CheckOutcome::skipped(
            "the peer answered no HELLO (see `hello`): its finalized checkpoint is unknown",
        );
    }
    let ours = ctx.our_hello();
    let mut root = ctx.config.nonce_root();
    root.0[31] ^= 0x5a;
    let what = format!(
        "finalized root {} at the peer's finalized epoch {}",
        short_root(&root.0),
        ours.latest_finalized_epoch.0
    );
    let hello = Hello {
        latest_finalized_root: root,
        ..ours
    };
    expect_goodbye_2(ctx, hello, &what).await
}
