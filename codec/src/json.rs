//! JSON view of frames for tools (`hobbits-node decode` / `encode`): [`frame_to_json`] shows a frame
//! with its header and body (BSON as JSON, bytes and roots as 0x-hex) and the typed message
//! (payload fields by name); [`frame_from_json`] builds a frame from the same JSON. No messages
//! are handled or sent here.
//!
//! Encoding picks, in order: `rpc` (method + id, body from `ssz` hex if given, else an empty body
//! for `"body": null`, else from `payload` fields), `gossip`, `ping`, else raw
//! `header_hex`/`body_hex`.
//!
//! Round trip: the output of `frame_to_json` for a spec-shaped frame (and for an RPC frame with an
//! empty body, which it marks `"body": null` inside `rpc`) encodes back to the same bytes. Other
//! frames are re-encoded in the spec's shape rather than byte for byte:
//! - extra header keys are written from their JSON view, so a binary value (shown as 0x-hex)
//!   comes back as a BSON string, and integers come back int32 when they fit;
//! - an RPC body in a 2019 document shape (Artemis `{body: document}`, Prysm flat document) comes
//!   back as `{body: binary SSZ}` built from the decoded `payload`;
//! - `method_id` / `id` sent with other integer widths come back as int32 / int64.
//!
//! To reproduce a frame exactly, encode its raw `header_hex` / `body_hex` (drop the `rpc` /
//! `gossip` / `ping` key).

use bson::{Bson, Document};
use bytes::Bytes;
use hobbits_chain::rpc::{
    GetAttestation, GetBeaconStates, GetBlockBodies, GetBlockHeaders, GetStatus, Goodbye, Hello,
};
use hobbits_chain::{BeaconBlockHeader, Epoch, Root, Signature, Slot};
use serde_json::{json, Map, Value};

use crate::error::CodecError;
use crate::frame::{Frame, Protocol, EWP_VERSION};
use crate::gossip::{GossipEnvelope, GossipObject, MessageHash, Topic};
use crate::ping::{PingFrame, PingKind};
use crate::rpc::{RequestId, RpcBody, RpcEnvelope, RpcHeader, RpcMethod, RpcPayload};

/// Bytes as `0x`-prefixed lower-case hex.
pub(crate) fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// A BSON value shown as JSON: integers as numbers, binary as 0x-hex, documents as objects.
pub fn bson_to_json(value: &Bson) -> Value {
    match value {
        Bson::Int32(v) => json!(v),
        Bson::Int64(v) => json!(v),
        Bson::Double(v) => json!(v),
        Bson::String(s) => json!(s),
        Bson::Boolean(b) => json!(b),
        Bson::Null => Value::Null,
        Bson::Binary(b) => json!(hex0x(&b.bytes)),
        Bson::Document(d) => document_to_json(d),
        Bson::Array(a) => Value::Array(a.iter().map(bson_to_json).collect()),
        other => json!(other.to_string()),
    }
}

/// A BSON document shown as a JSON object (key order kept).
pub fn document_to_json(doc: &Document) -> Value {
    Value::Object(
        doc.iter()
            .map(|(k, v)| (k.clone(), bson_to_json(v)))
            .collect(),
    )
}

/// A JSON value as BSON for extra headers: integers int32 when they fit else int64, other numbers
/// double, objects documents.
pub fn json_to_bson(value: &Value) -> Bson {
    match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i32::try_from(i).map(Bson::Int32).unwrap_or(Bson::Int64(i)),
            (None, Some(f)) => Bson::Double(f),
            (None, None) => Bson::Null,
        },
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(a) => Bson::Array(a.iter().map(json_to_bson).collect()),
        Value::Object(o) => Bson::Document(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_bson(v)))
                .collect(),
        ),
    }
}

fn bytes_to_json(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => {
            json!({ "utf8": text, "hex": hex0x(bytes) })
        }
        _ => json!({ "hex": hex0x(bytes) }),
    }
}

/// The frame as JSON (see the module doc).
pub fn frame_to_json(frame: &Frame) -> Value {
    let mut out = Map::new();
    out.insert("version".into(), json!(frame.version));
    out.insert("protocol".into(), json!(frame.protocol.name()));
    out.insert("header_len".into(), json!(frame.header.len()));
    out.insert("body_len".into(), json!(frame.body.len()));
    let as_bson = |bytes: &[u8]| crate::bson_compat::parse_document(bytes, "header").ok();
    match frame.protocol {
        Protocol::Ping => {
            out.insert("header".into(), bytes_to_json(&frame.header));
            out.insert("body".into(), bytes_to_json(&frame.body));
        }
        Protocol::Rpc | Protocol::Gossip => {
            let header = as_bson(&frame.header)
                .map_or_else(|| bytes_to_json(&frame.header), |d| document_to_json(&d));
            out.insert("header".into(), header);
            let body = if frame.body.is_empty() {
                Value::Null
            } else if frame.protocol == Protocol::Rpc {
                as_bson(&frame.body)
                    .map_or_else(|| bytes_to_json(&frame.body), |d| document_to_json(&d))
            } else {
                bytes_to_json(&frame.body)
            };
            out.insert("body".into(), body);
        }
    }
    out.insert("header_hex".into(), json!(hex0x(&frame.header)));
    out.insert("body_hex".into(), json!(hex0x(&frame.body)));
    let typed = match frame.protocol {
        Protocol::Rpc => RpcEnvelope::from_frame(frame).map(|e| ("rpc", rpc_to_json(&e))),
        Protocol::Gossip => {
            GossipEnvelope::from_frame(frame).map(|e| ("gossip", gossip_to_json(&e)))
        }
        Protocol::Ping => PingFrame::from_frame(frame).map(|p| {
            let kind = if p.kind == PingKind::Ping {
                "ping"
            } else {
                "pong"
            };
            ("ping", json!({ "kind": kind, "body": hex0x(&p.body) }))
        }),
    };
    match typed {
        Ok((key, value)) => out.insert(key.into(), value),
        Err(e) => out.insert("message_error".into(), json!(e.to_string())),
    };
    Value::Object(out)
}

fn rpc_to_json(env: &RpcEnvelope) -> Value {
    let mut out = Map::new();
    out.insert("method".into(), json!(env.header.method.name()));
    out.insert("method_id".into(), json!(env.header.method.id()));
    out.insert("id".into(), json!(env.header.id.0));
    if !env.header.extra.is_empty() {
        out.insert("extra".into(), document_to_json(&env.header.extra));
    }
    out.insert("shape".into(), json!(env.body.shape().name()));
    match &env.body {
        RpcBody::Ssz(ssz) => {
            out.insert("ssz".into(), json!(hex0x(ssz)));
        }
        // The marker `rpc_from_json` reads back as an empty body.
        RpcBody::Empty => {
            out.insert("body".into(), Value::Null);
        }
        RpcBody::NestedDocument(_) | RpcBody::FlatDocument(_) => {}
    }
    match env.decode_payload() {
        Ok(decoded) => {
            out.insert("payload".into(), payload_to_json(&decoded.payload));
            out.insert("defaulted".into(), json!(decoded.defaulted));
            out.insert("ignored".into(), json!(decoded.ignored));
        }
        Err(e) => {
            out.insert("payload_error".into(), json!(e.to_string()));
        }
    }
    Value::Object(out)
}

/// A block header as JSON: its fields and its signing_root.
pub(crate) fn header_to_json(h: &BeaconBlockHeader) -> Value {
    json!({
        "slot": h.slot.0,
        "parent_root": h.parent_root.to_string(),
        "state_root": h.state_root.to_string(),
        "body_root": h.body_root.to_string(),
        "signature": hex0x(&h.signature.0),
        "signing_root": h.signing_root().to_string(),
    })
}

/// A typed payload as JSON: each container field by name, roots as 0x-hex. Blocks, attestations
/// and states are summarised (slot and roots); their full content is the `ssz` beside it.
pub fn payload_to_json(payload: &RpcPayload) -> Value {
    let range = |r: &GetBlockHeaders| {
        json!({
            "start_root": r.start_root.to_string(), "start_slot": r.start_slot.0,
            "max": r.max, "skip": r.skip, "direction": r.direction,
        })
    };
    match payload {
        RpcPayload::Hello(h) => json!({
            "network_id": h.network_id,
            "chain_id": h.chain_id,
            "latest_finalized_root": h.latest_finalized_root.to_string(),
            "latest_finalized_epoch": h.latest_finalized_epoch.0,
            "best_root": h.best_root.to_string(),
            "best_slot": h.best_slot.0,
        }),
        RpcPayload::Goodbye(g) => json!({ "reason": g.reason }),
        RpcPayload::GetStatus(s) => {
            json!({ "user_agent": s.user_agent_lossy(), "timestamp": s.timestamp })
        }
        RpcPayload::GetBlockHeaders(r) => range(r),
        RpcPayload::GetBlockBodies(r) => range(&r.clone().into()),
        RpcPayload::BlockHeaders(b) => {
            json!({ "headers": b.headers.iter().map(header_to_json).collect::<Vec<_>>() })
        }
        RpcPayload::BlockBodies(b) => json!({
            "bodies": b.bodies.iter().map(|block| {
                let mut v = header_to_json(&block.header());
                v["attestations"] = json!(block.body.attestations.len());
                v
            }).collect::<Vec<_>>()
        }),
        RpcPayload::GetAttestation(g) => json!({ "hash": g.hash.to_string() }),
        RpcPayload::Attestation(a) => {
            let d = &a.attestation.data;
            json!({ "attestation": {
                "beacon_block_root": d.beacon_block_root.to_string(),
                "source": { "epoch": d.source.epoch.0, "root": d.source.root.to_string() },
                "target": { "epoch": d.target.epoch.0, "root": d.target.root.to_string() },
                "hash_tree_root": a.attestation.hash_tree_root().to_string(),
            }})
        }
        RpcPayload::GetBeaconStates(g) => {
            json!({ "hashes": g.hashes.iter().map(|h| h.to_string()).collect::<Vec<_>>() })
        }
        RpcPayload::BeaconStates(s) => json!({
            "states": s.states.iter().map(|st| json!({
                "slot": st.slot.0, "hash_tree_root": st.hash_tree_root().to_string(),
            })).collect::<Vec<_>>()
        }),
    }
}

fn gossip_to_json(env: &GossipEnvelope) -> Value {
    let h = &env.header;
    let object = match env.decode_object() {
        Ok(None) => Value::Null,
        Ok(Some(GossipObject::Block(b))) => header_to_json(&b.header()),
        Ok(Some(GossipObject::Attestation(a))) => json!({
            "beacon_block_root": a.data.beacon_block_root.to_string(),
            "hash_tree_root": a.hash_tree_root().to_string(),
        }),
        Err(e) => json!({ "error": e.to_string() }),
    };
    json!({
        "method_id": h.method_id,
        "topic": h.topic.name(),
        "timestamp": h.timestamp_ms,
        "message_hash": h.message_hash.to_string(),
        "hash": h.hash.to_string(),
        "extra": document_to_json(&h.extra),
        "message_hash_matches": env.message_hash_matches(),
        "announcement": env.is_announcement(),
        "body": hex0x(&env.body),
        "object": object,
    })
}

// ---------------------------------------------------------------- JSON -> frame

fn invalid(field: &str, reason: impl Into<String>) -> CodecError {
    CodecError::InvalidJson {
        field: field.to_string(),
        reason: reason.into(),
    }
}

fn get<'a>(obj: &'a Value, field: &str) -> Result<&'a Value, CodecError> {
    obj.get(field).ok_or_else(|| invalid(field, "missing"))
}

fn get_u64(obj: &Value, field: &str) -> Result<u64, CodecError> {
    get(obj, field)?
        .as_u64()
        .ok_or_else(|| invalid(field, "expected an unsigned integer"))
}

fn get_small<T: TryFrom<u64>>(obj: &Value, field: &str) -> Result<T, CodecError> {
    T::try_from(get_u64(obj, field)?).map_err(|_| invalid(field, "integer out of range"))
}

fn get_str<'a>(obj: &'a Value, field: &str) -> Result<&'a str, CodecError> {
    get(obj, field)?
        .as_str()
        .ok_or_else(|| invalid(field, "expected a string"))
}

fn parse_hex(field: &str, text: &str) -> Result<Vec<u8>, CodecError> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = digits.strip_prefix("0x").unwrap_or(&digits);
    hex::decode(digits).map_err(|e| invalid(field, e.to_string()))
}

fn get_hex(obj: &Value, field: &str) -> Result<Vec<u8>, CodecError> {
    parse_hex(field, get_str(obj, field)?)
}

/// Hex bytes from a string or from an object's `hex` key (the shape `frame_to_json` prints).
fn get_bytes(obj: &Value, field: &str) -> Result<Vec<u8>, CodecError> {
    match get(obj, field)? {
        Value::String(s) => parse_hex(field, s),
        Value::Object(o) => match o.get("hex") {
            Some(Value::String(s)) => parse_hex(field, s),
            _ => Err(invalid(field, "expected {\"hex\": \"0x…\"}")),
        },
        Value::Null => Ok(Vec::new()),
        _ => Err(invalid(field, "expected a hex string")),
    }
}

fn get_root(obj: &Value, field: &str) -> Result<Root, CodecError> {
    let bytes = get_hex(obj, field)?;
    Root::from_slice(&bytes).ok_or_else(|| invalid(field, "expected 32 bytes"))
}

/// Builds a frame from JSON (see the module doc for the accepted keys).
pub fn frame_from_json(value: &Value) -> Result<Frame, CodecError> {
    let protocol = match get(value, "protocol")? {
        Value::String(s) => Protocol::from_name(s),
        Value::Number(n) => n
            .as_u64()
            .and_then(|b| u8::try_from(b).ok())
            .and_then(Protocol::from_byte),
        _ => None,
    }
    .ok_or_else(|| invalid("protocol", "expected RPC, GOSSIP or PING"))?;
    let version = match value.get("version") {
        Some(_) => get_small::<u32>(value, "version")?,
        None => EWP_VERSION,
    };
    let mut frame = match (
        protocol,
        value.get("rpc"),
        value.get("gossip"),
        value.get("ping"),
    ) {
        (Protocol::Rpc, Some(rpc), _, _) => rpc_from_json(rpc)?.to_frame()?,
        (Protocol::Gossip, _, Some(gossip), _) => gossip_from_json(gossip)?.to_frame()?,
        (Protocol::Ping, _, _, Some(ping)) => {
            let body = get_bytes(ping, "body")?;
            match get_str(ping, "kind")? {
                "ping" => PingFrame::ping(body),
                "pong" => PingFrame::pong(body),
                _ => return Err(invalid("kind", "expected ping or pong")),
            }
            .to_frame()
        }
        _ => Frame::new(
            protocol,
            get_bytes(value, "header_hex")?,
            get_bytes(value, "body_hex")?,
        ),
    };
    frame.version = version;
    Ok(frame)
}

fn rpc_from_json(rpc: &Value) -> Result<RpcEnvelope, CodecError> {
    let method = match (rpc.get("method_id"), rpc.get("method")) {
        (Some(_), _) => RpcMethod::from_id(get_small::<u16>(rpc, "method_id")?),
        (None, Some(_)) => RpcMethod::from_name(get_str(rpc, "method")?)
            .ok_or_else(|| invalid("method", "unknown method name"))?,
        (None, None) => return Err(invalid("method", "give method or method_id")),
    };
    let mut header = RpcHeader::new(method, RequestId(get_u64(rpc, "id")?));
    if let Some(Bson::Document(extra)) = rpc.get("extra").map(json_to_bson) {
        header.extra = extra;
    }
    let body = if rpc.get("ssz").is_some() {
        RpcBody::Ssz(Bytes::from(get_hex(rpc, "ssz")?))
    } else if rpc.get("body") == Some(&Value::Null) {
        RpcBody::Empty
    } else {
        let payload = payload_from_json(method, get(rpc, "payload")?)?;
        RpcBody::Ssz(Bytes::from(payload.to_ssz()))
    };
    Ok(RpcEnvelope { header, body })
}

/// Builds a typed payload from its JSON fields (the requests, HELLO, GOODBYE, GET_STATUS and
/// BLOCK_HEADERS; the others need their `ssz`).
pub fn payload_from_json(method: RpcMethod, p: &Value) -> Result<RpcPayload, CodecError> {
    let range = || -> Result<GetBlockHeaders, CodecError> {
        Ok(GetBlockHeaders {
            start_root: get_root(p, "start_root")?,
            start_slot: Slot(get_u64(p, "start_slot")?),
            max: get_u64(p, "max")?,
            skip: get_u64(p, "skip")?,
            direction: get_small(p, "direction")?,
        })
    };
    let list = |field: &str| -> Result<&Vec<Value>, CodecError> {
        get(p, field)?
            .as_array()
            .ok_or_else(|| invalid(field, "expected an array"))
    };
    Ok(match method {
        RpcMethod::Hello => RpcPayload::Hello(Hello {
            network_id: get_small(p, "network_id")?,
            chain_id: get_small(p, "chain_id")?,
            latest_finalized_root: get_root(p, "latest_finalized_root")?,
            latest_finalized_epoch: Epoch(get_u64(p, "latest_finalized_epoch")?),
            best_root: get_root(p, "best_root")?,
            best_slot: Slot(get_u64(p, "best_slot")?),
        }),
        RpcMethod::Goodbye => RpcPayload::Goodbye(Goodbye {
            reason: get_u64(p, "reason")?,
        }),
        RpcMethod::GetStatus => {
            let agent = get_str(p, "user_agent")?;
            if agent.len() > 1024 {
                return Err(invalid("user_agent", "longer than 1024 bytes"));
            }
            RpcPayload::GetStatus(GetStatus::new(agent, get_u64(p, "timestamp")?))
        }
        RpcMethod::GetBlockHeaders => RpcPayload::GetBlockHeaders(range()?),
        RpcMethod::GetBlockBodies => RpcPayload::GetBlockBodies(GetBlockBodies::from(range()?)),
        RpcMethod::GetAttestation => RpcPayload::GetAttestation(GetAttestation {
            hash: get_root(p, "hash")?,
        }),
        RpcMethod::GetBeaconStates => {
            let hashes = list("hashes")?
                .iter()
                .map(|h| {
                    h.as_str()
                        .and_then(|s| s.parse::<Root>().ok())
                        .ok_or_else(|| invalid("hashes", "expected 0x-hex roots"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            RpcPayload::GetBeaconStates(GetBeaconStates {
                hashes: ssz_types::VariableList::new(hashes)
                    .map_err(|e| invalid("hashes", format!("{e:?}")))?,
            })
        }
        RpcMethod::BlockHeaders => {
            let headers = list("headers")?
                .iter()
                .map(|h| {
                    let sig = get_hex(h, "signature")?;
                    Ok(BeaconBlockHeader {
                        slot: Slot(get_u64(h, "slot")?),
                        parent_root: get_root(h, "parent_root")?,
                        state_root: get_root(h, "state_root")?,
                        body_root: get_root(h, "body_root")?,
                        signature: Signature(
                            <[u8; 96]>::try_from(sig.as_slice())
                                .map_err(|_| invalid("signature", "expected 96 bytes"))?,
                        ),
                    })
                })
                .collect::<Result<Vec<_>, CodecError>>()?;
            RpcPayload::BlockHeaders(hobbits_chain::rpc::BlockHeaders {
                headers: ssz_types::VariableList::new(headers)
                    .map_err(|e| invalid("headers", format!("{e:?}")))?,
            })
        }
        other => {
            return Err(invalid(
                "payload",
                format!("{other} cannot be built from fields; give its `ssz` hex"),
            ))
        }
    })
}

fn gossip_from_json(g: &Value) -> Result<GossipEnvelope, CodecError> {
    let topic = Topic::from_name(get_str(g, "topic")?)?;
    let body = Bytes::from(match g.get("body") {
        Some(_) => get_bytes(g, "body")?,
        None => Vec::new(),
    });
    let mut env = GossipEnvelope::new(topic, get_root(g, "hash")?, body, get_u64(g, "timestamp")?);
    if g.get("message_hash").is_some() {
        let bytes = get_hex(g, "message_hash")?;
        env.header.message_hash = MessageHash(
            <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| invalid("message_hash", "expected 32 bytes"))?,
        );
    }
    if g.get("method_id").is_some() {
        env.header.method_id = get_small(g, "method_id")?;
    }
    if let Some(Bson::Document(extra)) = g.get("extra").map(json_to_bson) {
        env.header.extra = extra;
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpc_frame(method: RpcMethod, body: RpcBody) -> Frame {
        let env = RpcEnvelope {
            header: RpcHeader::new(method, RequestId(9)),
            body,
        };
        env.to_frame().expect("encode")
    }

    #[test]
    fn empty_rpc_body_round_trips_through_the_body_null_marker() {
        let frame = rpc_frame(RpcMethod::GetStatus, RpcBody::Empty);
        assert!(frame.body.is_empty());
        let json = frame_to_json(&frame);
        assert_eq!(json["rpc"]["body"], Value::Null);
        assert_eq!(json["rpc"]["shape"], "Empty");
        assert_eq!(frame_from_json(&json).expect("from json"), frame);
    }

    #[test]
    fn document_shaped_body_comes_back_in_the_spec_shape() {
        let mut nested = Document::new();
        nested.insert("reason", Bson::Int64(3));
        let frame = rpc_frame(RpcMethod::Goodbye, RpcBody::NestedDocument(nested));
        let back = frame_from_json(&frame_to_json(&frame)).expect("from json");
        let env = RpcEnvelope::from_frame(&back).expect("rpc");
        assert_eq!(env.body.shape(), crate::rpc::BodyShape::SpecSsz);
        assert_eq!(
            env.decode_payload().expect("payload").payload,
            RpcPayload::Goodbye(Goodbye { reason: 3 })
        );
    }
}
