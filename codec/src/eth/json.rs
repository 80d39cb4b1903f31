//! JSON view of ETH messages for tools (`hobbits-node decode`): [`eth_frame_to_json`] shows a
//! framed message's envelope (kind, id, method or response code) and its typed body by field
//! name, roots as 0x-hex. A response names no method, so its result is typed only when the
//! caller says which method it answers. No messages are handled or sent here.

use serde_json::{json, Map, Value};

use super::{
    EthError, EthFrame, EthLimits, EthMessage, EthMethod, EthRequest, EthRequestBody, EthResponse,
    EthResponseBody, EthStatus,
};
use crate::json::{header_to_json, hex0x};

fn status_to_json(s: &EthStatus) -> Value {
    json!({ "sha": hex0x(&s.sha), "user_agent": s.user_agent_lossy(), "timestamp": s.timestamp })
}

fn roots_to_json(roots: &[hobbits_chain::Root]) -> Value {
    Value::Array(roots.iter().map(|r| json!(r.to_string())).collect())
}

/// A request body as JSON: each container field by name.
pub fn request_body_to_json(body: &EthRequestBody) -> Value {
    match body {
        EthRequestBody::Hello(h) => hello_to_json(h),
        EthRequestBody::Goodbye(g) => json!({ "reason": g.reason }),
        EthRequestBody::GetStatus(s) => status_to_json(s),
        EthRequestBody::BeaconBlockRoots(r) => {
            json!({ "start_slot": r.start_slot.0, "count": r.count })
        }
        EthRequestBody::BeaconBlockHeaders(r) => json!({
            "start_root": r.start_root.to_string(),
            "start_slot": r.start_slot.0,
            "max_headers": r.max_headers,
            "skip_slots": r.skip_slots,
        }),
        EthRequestBody::BeaconBlockBodies(r) => {
            json!({ "block_roots": roots_to_json(&r.block_roots) })
        }
        EthRequestBody::BeaconChainState(r) => json!({ "hashes": roots_to_json(&r.hashes) }),
    }
}

fn hello_to_json(h: &super::EthHello) -> Value {
    json!({
        "network_id": h.network_id,
        "chain_id": h.chain_id,
        "finalized_root": h.finalized_root.to_string(),
        "finalized_epoch": h.finalized_epoch.0,
        "best_root": h.best_root.to_string(),
        "best_slot": h.best_slot.0,
    })
}

/// A success result as JSON: each container field by name; bodies are summarised (operation
/// counts, graffiti, whether it is the zero-value body sent for an unknown root).
pub fn response_body_to_json(body: &EthResponseBody) -> Value {
    match body {
        EthResponseBody::Hello(h) => hello_to_json(h),
        EthResponseBody::GetStatus(s) => status_to_json(s),
        EthResponseBody::BeaconBlockRoots(r) => json!({
            "roots": r.roots.iter().map(|p| json!({
                "block_root": p.block_root.to_string(), "slot": p.slot.0,
            })).collect::<Vec<_>>()
        }),
        EthResponseBody::BeaconBlockHeaders(h) => {
            json!({ "headers": h.headers.iter().map(header_to_json).collect::<Vec<_>>() })
        }
        EthResponseBody::BeaconBlockBodies(b) => json!({
            "block_bodies": b.block_bodies.iter().map(|body| json!({
                "zero": *body == hobbits_chain::BeaconBlockBody::default(),
                "graffiti": hex0x(&body.graffiti),
                "attestations": body.attestations.len(),
                "deposits": body.deposits.len(),
                "voluntary_exits": body.voluntary_exits.len(),
            })).collect::<Vec<_>>()
        }),
    }
}

fn request_to_json(
    r: &EthRequest,
    limits: &EthLimits,
    out: &mut Map<String, Value>,
) -> Option<EthError> {
    out.insert("method".into(), json!(r.method.name()));
    out.insert("method_id".into(), json!(r.method.id()));
    out.insert("body_hex".into(), json!(hex0x(&r.body)));
    insert_typed(out, "body", r.decode_body(limits), request_body_to_json)
}

/// Inserts `key: to_json(value)` for a decoded value, or hands back the decoding error.
fn insert_typed<T>(
    out: &mut Map<String, Value>,
    key: &str,
    decoded: Result<T, EthError>,
    to_json: fn(&T) -> Value,
) -> Option<EthError> {
    match decoded {
        Ok(value) => {
            out.insert(key.into(), to_json(&value));
            None
        }
        Err(e) => Some(e),
    }
}

fn response_to_json(
    r: &EthResponse,
    method: Option<EthMethod>,
    limits: &EthLimits,
    out: &mut Map<String, Value>,
) -> Option<EthError> {
    out.insert("response_code".into(), json!(r.code.as_u16()));
    out.insert("code".into(), json!(r.code.name()));
    out.insert("result_hex".into(), json!(hex0x(&r.result)));
    if !r.code.is_success() {
        out.insert("message".into(), json!(r.message()));
        return None;
    }
    let method = method?;
    out.insert("method".into(), json!(method.name()));
    insert_typed(
        out,
        "result",
        r.decode_result(method, limits),
        response_body_to_json,
    )
}

/// The message as JSON, and the error that stopped its decoding, if any (then also shown as
/// `message_error`, with `answer_code` when a request earns an error response). `method` types a
/// success result (the method of the request it answers); without it the result stays hex.
pub fn eth_frame_to_json(
    frame: &EthFrame,
    method: Option<EthMethod>,
    limits: &EthLimits,
) -> (Value, Option<EthError>) {
    let mut out = Map::new();
    out.insert("dialect".into(), json!("ETH"));
    out.insert("length".into(), json!(frame.message.len()));
    let error = match EthMessage::from_frame(frame) {
        Ok(message) => {
            out.insert("kind".into(), json!(message.kind().name()));
            out.insert("id".into(), json!(message.id().0));
            match &message {
                EthMessage::Request(r) => request_to_json(r, limits, &mut out),
                EthMessage::Response(r) => response_to_json(r, method, limits, &mut out),
            }
        }
        Err(e) => Some(e),
    };
    if let Some(e) = &error {
        out.insert("message_error".into(), json!(e.to_string()));
        if let Some(code) = e.response_code() {
            out.insert("answer_code".into(), json!(code.as_u16()));
        }
    }
    out.insert("message_hex".into(), json!(hex0x(&frame.message)));
    (Value::Object(out), error)
}
