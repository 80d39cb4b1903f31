//! The checks of one decoded frame, by protocol, for [`PairAnalyzer`]: RPC (BSON header and body
//! shapes, unknown methods, missing fields, payload decoding, request / response matching by id),
//! PING (pong matched to an outstanding ping by body) and GOSSIP (method id, message_hash, the
//! object's summary; the overlay's control verbs; a GOSSIP under Tuweni's numbering). Each fills the frame's [`RelayedFrame`] record. Handles no messages.

use std::time::Instant;

use hobbits_codec::bson_compat;
use hobbits_codec::gossip::GOSSIP_METHOD_ID;
use hobbits_codec::gossip_control::{ControlEnvelope, ControlError, GossipMethod};
use hobbits_codec::ping::PingKind;
use hobbits_codec::rpc::{BodyShape, RpcBody, RpcMethod};
use hobbits_codec::{Frame, GossipEnvelope, GossipObject, PingFrame, RpcEnvelope};

use super::analysis::{PairAnalyzer, Pending};
use super::deviation::{Deviation, DeviationCode};
use super::fields::{payload_fields, short_hex};
use super::record::{FieldValue, FrameMessage, RelayDirection, RelayedFrame, RpcRole};
use super::shape::{check_field_types, Part};

impl PairAnalyzer {
    pub(super) fn on_rpc(
        &mut self,
        dir: RelayDirection,
        frame: &Frame,
        now: Instant,
        rec: &mut RelayedFrame,
    ) {
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

    pub(super) fn on_ping(
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

pub(super) fn on_gossip(frame: &Frame, rec: &mut RelayedFrame) {
    if let Ok(doc) = bson_compat::parse_document(&frame.header, "header") {
        check_field_types(&doc, Part::Header, &mut rec.deviations);
    }
    // A control verb (1-4) is read as the overlay's; a GOSSIP message under another numbering is
    // reported and then decoded as the GOSSIP it is.
    let mut numbering = false;
    if let Ok(GossipMethod::Control(_)) = GossipMethod::of_header(&frame.header) {
        match ControlEnvelope::from_frame(frame) {
            Ok(env) => return on_control(&env, rec),
            Err(ControlError::GossipNumbering { method_id }) => {
                numbering = true;
                rec.deviations.push(Deviation::new(
                    DeviationCode::GossipNumbering,
                    format!(
                        "GOSSIP message (topic, non-BSON body) under method_id {method_id}, a control verb here; \
                         Tuweni's Plumtree numbered GOSSIP 3"
                    ),
                ));
            }
            Err(e) => {
                rec.deviations
                    .push(Deviation::new(DeviationCode::BadMessage, e.to_string()));
                return;
            }
        }
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
    if h.method_id != GOSSIP_METHOD_ID && !numbering {
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

/// A gossip overlay control frame (PRUNE, GRAFT, IHAVE, IWANT; docs/PROTOCOL.md, "Gossip
/// overlay"): its verb, how many hashes and the first of them.
fn on_control(env: &ControlEnvelope, rec: &mut RelayedFrame) {
    let message = &env.message;
    rec.message = FrameMessage::Control {
        verb: message.verb,
        hashes: message.hashes.len(),
    };
    rec.fields
        .push(("hashes", FieldValue::Uint(message.hashes.len() as u64)));
    if let Some(first) = message.hashes.first() {
        rec.fields
            .push(("first", FieldValue::Text(short_hex(&first.0))));
    }
}
