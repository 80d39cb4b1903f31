//! The gossip overlay's control frames (`hobbits_codec::gossip_control`): every vector of
//! `codec/testdata/gossip_control.tsv` (built by hand from the BSON spec) checked against its
//! documented outcome — our four verbs, Artemis' one-hash header, Tuweni's GOSSIP numbered 3, and
//! malformed and over-cap frames — then property tests with a fixed seed: any message round trips,
//! and no bytes, however shaped, panic the reader.

use std::collections::HashMap;

use bson::{doc, Bson};
use hobbits_codec::bson_compat::binary;
use hobbits_codec::gossip_control::{
    MAX_CONTROL_BODY_LEN, MAX_CONTROL_HASHES, MAX_CONTROL_HEADER_LEN,
};
use hobbits_codec::{
    CodecError, ControlEnvelope, ControlError, ControlMessage, ControlShape, ControlVerb, Frame,
    FrameLimits, GossipMethod, MessageHash, Protocol,
};
use proptest::prelude::*;

/// The vectors by name: (bytes, expected outcome text).
fn vectors() -> HashMap<&'static str, (Vec<u8>, &'static str)> {
    include_str!("../testdata/gossip_control.tsv")
        .lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let bytes = hex::decode(cols[2]).expect("vector hex");
            (cols[0], (bytes, cols[3]))
        })
        .collect()
}

fn frame(name: &str) -> Frame {
    let vectors = vectors();
    let (bytes, _) = vectors.get(name).expect("vector present");
    Frame::parse(bytes, FrameLimits::default()).expect("a whole frame")
}

fn read(name: &str) -> Result<ControlEnvelope, ControlError> {
    ControlEnvelope::from_frame(&frame(name))
}

/// Reads an `ok` vector, checks it against `verb` and `hashes`, and that ours re-encode exactly.
fn accept(name: &str, verb: ControlVerb, hashes: &[u8], shape: ControlShape) {
    let f = frame(name);
    assert_eq!(f.protocol, Protocol::Gossip);
    let env = ControlEnvelope::from_frame(&f).unwrap_or_else(|e| panic!("{name}: {e}"));
    let expected: Vec<MessageHash> = hashes.iter().map(|b| MessageHash([*b; 32])).collect();
    assert_eq!(
        env.message,
        ControlMessage {
            verb,
            hashes: expected
        },
        "{name}"
    );
    assert_eq!(env.shape, shape, "{name}");
    if shape == ControlShape::Body {
        assert_eq!(
            env.message.to_frame().expect("encode"),
            f,
            "{name} re-encoded"
        );
    }
}

#[test]
fn every_vector_has_a_test_here() {
    let source = include_str!("gossip_control.rs");
    for name in vectors().keys() {
        assert!(
            source.contains(&format!("fn {name}()")),
            "vector {name} has no test"
        );
    }
}

#[test]
fn ihave_two() {
    accept(
        "ihave_two",
        ControlVerb::IHave,
        &[0x11, 0x22],
        ControlShape::Body,
    );
}

#[test]
fn iwant_one() {
    accept("iwant_one", ControlVerb::IWant, &[0x33], ControlShape::Body);
}

#[test]
fn prune_empty() {
    accept("prune_empty", ControlVerb::Prune, &[], ControlShape::Body);
}

#[test]
fn graft_one() {
    accept("graft_one", ControlVerb::Graft, &[0x44], ControlShape::Body);
}

#[test]
fn artemis_ihave_header_hash() {
    accept(
        "artemis_ihave_header_hash",
        ControlVerb::IHave,
        &[0x55],
        ControlShape::HeaderHash,
    );
}

#[test]
fn tuweni_gossip_at_3() {
    let f = frame("tuweni_gossip_at_3");
    assert_eq!(
        GossipMethod::of_header(&f.header).expect("method"),
        GossipMethod::Control(ControlVerb::IHave)
    );
    assert!(matches!(
        read("tuweni_gossip_at_3"),
        Err(ControlError::GossipNumbering { method_id: 3 })
    ));
}

#[test]
fn ihave_empty_list() {
    assert!(matches!(
        read("ihave_empty_list"),
        Err(ControlError::NoHashes {
            verb: ControlVerb::IHave
        })
    ));
}

#[test]
fn ihave_short_hash() {
    assert!(matches!(
        read("ihave_short_hash"),
        Err(ControlError::Codec(CodecError::WrongHashLength {
            len: 31,
            ..
        }))
    ));
}

#[test]
fn ihave_257_hashes() {
    let f = frame("ihave_257_hashes");
    assert!(f.body.len() <= MAX_CONTROL_BODY_LEN);
    assert!(matches!(
        read("ihave_257_hashes"),
        Err(ControlError::TooManyHashes {
            count: 257,
            max: MAX_CONTROL_HASHES,
            ..
        })
    ));
}

#[test]
fn body_too_large() {
    assert!(matches!(
        read("body_too_large"),
        Err(ControlError::BodyTooLarge {
            len: 12_289,
            max: MAX_CONTROL_BODY_LEN
        })
    ));
}

#[test]
fn header_too_large() {
    assert!(matches!(
        read("header_too_large"),
        Err(ControlError::HeaderTooLarge {
            len: 1030,
            max: MAX_CONTROL_HEADER_LEN
        })
    ));
}

#[test]
fn unknown_method_9() {
    let f = frame("unknown_method_9");
    assert_eq!(
        GossipMethod::of_header(&f.header).expect("method"),
        GossipMethod::Unknown(9)
    );
    assert!(matches!(
        read("unknown_method_9"),
        Err(ControlError::UnknownMethod { method_id: 9 })
    ));
}

#[test]
fn hashes_not_an_array() {
    assert!(matches!(
        read("hashes_not_an_array"),
        Err(ControlError::Codec(CodecError::WrongType {
            field: "message_hashes",
            ..
        }))
    ));
}

#[test]
fn missing_method_id() {
    let f = frame("missing_method_id");
    assert!(GossipMethod::of_header(&f.header).is_err());
    assert!(matches!(
        read("missing_method_id"),
        Err(ControlError::Codec(CodecError::MissingField {
            field: "method_id"
        }))
    ));
}

#[test]
fn body_not_bson() {
    assert!(matches!(
        read("body_not_bson"),
        Err(ControlError::Codec(CodecError::InvalidBson {
            part: "body",
            ..
        }))
    ));
}

#[test]
fn other_protocols_are_refused() {
    let f = Frame::new(Protocol::Rpc, frame("iwant_one").header, Vec::new());
    assert!(matches!(
        ControlEnvelope::from_frame(&f),
        Err(ControlError::NotGossip { found: "RPC" })
    ));
}

fn verb() -> impl Strategy<Value = ControlVerb> {
    proptest::sample::select(ControlVerb::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x4f56_4c59),
        ..ProptestConfig::default()
    })]

    #[test]
    fn messages_round_trip_within_the_caps(verb in verb(), hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..=MAX_CONTROL_HASHES)) {
        let hashes: Vec<MessageHash> = hashes.into_iter().map(MessageHash).collect();
        match ControlMessage::new(verb, hashes.clone()) {
            Ok(message) => {
                let wire = message.to_frame().expect("encode").to_bytes().expect("bytes");
                let parsed = Frame::parse(&wire, FrameLimits::default()).expect("frame");
                prop_assert!(parsed.header.len() <= MAX_CONTROL_HEADER_LEN);
                prop_assert!(parsed.body.len() <= MAX_CONTROL_BODY_LEN);
                let back = ControlEnvelope::from_frame(&parsed).expect("decode");
                prop_assert_eq!(back.message, message);
            }
            Err(e) => {
                prop_assert!(hashes.is_empty() && verb.needs_hashes(), "{}", e);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_reader(header in proptest::collection::vec(any::<u8>(), 0..300), body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let f = Frame::new(Protocol::Gossip, header, body);
        let _ = ControlEnvelope::from_frame(&f);
        let _ = GossipMethod::of_header(&f.header);
    }

    #[test]
    fn bson_shaped_garbage_never_panics(method in 0u16..8, items in proptest::collection::vec((0u8..5, any::<i64>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..300), header_hash in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40))) {
        // Well-formed BSON whose values are of every type and length reaches the hash readers.
        let list: Vec<Bson> = items.into_iter().map(|(kind, n, bytes)| match kind {
            0 => binary(bytes),
            1 => Bson::Int64(n),
            2 => Bson::String(hex::encode(bytes)),
            3 => Bson::Document(doc! { "x": n }),
            _ => Bson::Null,
        }).collect();
        let mut header = doc! { "method_id": i32::from(method) };
        if let Some(h) = header_hash {
            header.insert("message_hash", binary(h));
        }
        let body = doc! { "message_hashes": list };
        let f = Frame::new(Protocol::Gossip, header.to_vec().expect("bson"), body.to_vec().expect("bson"));
        if let Ok(env) = ControlEnvelope::from_frame(&f) {
            prop_assert!(env.message.hashes.len() <= MAX_CONTROL_HASHES);
        }
    }
}
