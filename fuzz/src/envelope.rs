//! The `bson_envelope` target: BSON decoding of RPC and GOSSIP headers and bodies, the tolerant
//! readers, and `Envelope::from_frame` on a frame built from the input. Handles no messages.
//!
//! Input layout: `[selector] [header_len: u16 big endian] [bytes...]`.
//! - The whole of `bytes` is read as one BSON document: `RpcHeader`, `GossipHeader`, `RpcBody`
//!   and every method's `DecodedPayload`, and each top-level value through the tolerant readers.
//! - A frame is built with protocol `selector % 3`, header `bytes[..header_len]` (clamped) and body
//!   the rest, and read with `Envelope::from_frame`, then `decode_payload` / `decode_object`.
//!
//! Invariants: what decodes re-encodes to a frame that decodes to the same frame again (a fixed
//! point after one round); typed payloads round-trip through SSZ; a decoded gossip object
//! re-encodes to the body bytes exactly; PING frames are reproduced byte for byte; readers never
//! return out-of-range values; the JSON view of a spec-shaped frame encodes back to it.

use bytes::Bytes;
use hobbits_codec::bson_compat::{parse_document, read_bytes, read_hash, read_uint};
use hobbits_codec::json::{frame_from_json, frame_to_json};
use hobbits_codec::{
    DecodedPayload, Envelope, Frame, GossipEnvelope, GossipHeader, GossipObject, Protocol, RpcBody,
    RpcHeader, RpcMethod, RpcPayload,
};
use ssz::Encode;

/// Every method id with a typed payload, plus one unknown id.
pub const METHOD_IDS: [u16; 12] = [0, 1, 2, 10, 11, 12, 13, 14, 15, 16, 17, 3];

/// The `bson_envelope` check (see the module doc).
pub fn check(data: &[u8]) {
    let [selector, hi, lo, bytes @ ..] = data else {
        return;
    };
    check_document(bytes);
    let protocol = match selector % 3 {
        0 => Protocol::Rpc,
        1 => Protocol::Gossip,
        _ => Protocol::Ping,
    };
    let header_len = usize::from(u16::from_be_bytes([*hi, *lo])).min(bytes.len());
    let all = Bytes::copy_from_slice(bytes);
    let frame = Frame::new(protocol, all.slice(..header_len), all.slice(header_len..));
    check_frame(&frame);
}

/// Reads `bytes` as each kind of document the node accepts.
fn check_document(bytes: &[u8]) {
    let Ok(doc) = parse_document(bytes, "body") else {
        return;
    };
    for (_, value) in &doc {
        if let Ok(v) = read_uint(value, "fuzz", u64::from(u16::MAX)) {
            assert!(v <= u64::from(u16::MAX));
        }
        let _ = read_uint(value, "fuzz", u64::MAX);
        let _ = read_hash(value, "fuzz");
        let _ = read_bytes(value, "fuzz", true);
        let _ = read_bytes(value, "fuzz", false);
    }
    if let Ok(header) = RpcHeader::from_document(doc.clone()) {
        if let Ok(written) = header.to_document() {
            let again = RpcHeader::from_document(written.clone()).expect("our RPC header reads");
            assert_eq!(
                again.to_document().expect("re-encode"),
                written,
                "RPC header is not a fixed point"
            );
        }
    }
    if let Ok(header) = GossipHeader::from_document(doc) {
        if let Ok(written) = header.to_document() {
            let again =
                GossipHeader::from_document(written.clone()).expect("our gossip header reads");
            assert_eq!(
                again.to_document().expect("re-encode"),
                written,
                "gossip header is not a fixed point"
            );
        }
    }
    if let Ok(body) = RpcBody::from_bytes(&Bytes::copy_from_slice(bytes)) {
        check_body(&body);
    }
}

/// Every method's typed decoding of a body; SSZ round trip of what decodes.
fn check_body(body: &RpcBody) {
    for id in METHOD_IDS {
        let method = RpcMethod::from_id(id);
        let Ok(decoded) = DecodedPayload::decode(method, body) else {
            continue;
        };
        assert_eq!(decoded.shape, body.shape());
        check_payload(method, &decoded.payload);
    }
    if let Ok(written) = body.to_bytes() {
        let again = RpcBody::from_bytes(&Bytes::from(written.clone())).expect("our body reads");
        assert_eq!(
            again.to_bytes().expect("re-encode"),
            written,
            "RPC body is not a fixed point"
        );
    }
}

/// A payload decoded for `method` belongs to it and survives SSZ.
pub fn check_payload(method: RpcMethod, payload: &RpcPayload) {
    assert_eq!(payload.method(), method, "payload of another method");
    let ssz = payload.to_ssz();
    let back = RpcPayload::from_ssz(method, &ssz).expect("our SSZ decodes");
    assert_eq!(&back, payload, "payload does not survive SSZ");
}

/// `Envelope::from_frame` and everything downstream of it.
fn check_frame(frame: &Frame) {
    let json = frame_to_json(frame);
    let Ok(envelope) = Envelope::from_frame(frame) else {
        return;
    };
    assert_eq!(envelope.protocol(), frame.protocol);
    match &envelope {
        Envelope::Rpc(rpc) => {
            if let Ok(decoded) = rpc.decode_payload() {
                check_payload(rpc.header.method, &decoded.payload);
            }
        }
        Envelope::Gossip(gossip) => check_gossip(gossip),
        Envelope::Ping(ping) => {
            assert_eq!(&ping.to_frame(), frame, "PING frame not reproduced");
            if let Some(reply) = ping.reply() {
                assert_eq!(reply.body, ping.body, "pong must echo the body");
            }
        }
    }
    let Ok(first) = envelope.to_frame() else {
        return;
    };
    let again = Envelope::from_frame(&first).expect("our own frame decodes");
    let second = again.to_frame().expect("our own frame re-encodes");
    assert_eq!(first, second, "envelope encoding is not a fixed point");
    // The JSON view of a spec-shaped frame encodes back to the same bytes (json.rs promises it).
    // Spec-shaped: the node writes it identically, an RPC body is SSZ (the 2019 document shapes
    // are shown by their typed payload, which encodes as SSZ; an empty body has no JSON form) and
    // there are no extra header keys (JSON shows binary values as hex strings).
    let spec_body = match &envelope {
        Envelope::Rpc(rpc) => matches!(rpc.body, RpcBody::Ssz(_)) && rpc.header.extra.is_empty(),
        Envelope::Gossip(gossip) => gossip.header.extra.is_empty(),
        Envelope::Ping(_) => true,
    };
    if &first == frame && spec_body {
        assert_eq!(
            frame_from_json(&json).as_ref().ok(),
            Some(frame),
            "JSON view does not encode back: {json}"
        );
    }
}

fn check_gossip(gossip: &GossipEnvelope) {
    let _ = gossip.message_hash_matches();
    match gossip.decode_object() {
        Ok(None) => assert!(gossip.is_announcement()),
        Ok(Some(GossipObject::Block(block))) => {
            assert_eq!(&block.as_ssz_bytes()[..], &gossip.body[..], "block SSZ");
            let roots = block.roots();
            assert_eq!(roots.hash_tree_root, block.hash_tree_root());
        }
        Ok(Some(GossipObject::Attestation(att))) => {
            assert_eq!(&att.as_ssz_bytes()[..], &gossip.body[..], "attestation SSZ");
            let _ = att.hash_tree_root();
        }
        Err(_) => {}
    }
}
