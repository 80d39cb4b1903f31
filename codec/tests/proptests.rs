//! Property tests (fixed seed, 512 cases each): encode→decode is the
//! identity for arbitrary frames and typed messages, however the bytes are split across reads;
//! decoding arbitrary bytes never panics, in the frame decoder or the BSON/typed layers.

use bytes::{Bytes, BytesMut};
use hobbits_chain::rpc::{GetBlockHeaders, GetStatus, Goodbye, Hello};
use hobbits_chain::{Epoch, Root, Slot};
use hobbits_codec::json::{frame_from_json, frame_to_json};
use hobbits_codec::{
    Envelope, Frame, FrameCodec, FrameLimits, GossipEnvelope, PingFrame, Protocol, RequestId,
    RpcBody, RpcEnvelope, RpcHeader, RpcMethod, RpcPayload, Topic,
};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

mod support;

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::Rpc),
        Just(Protocol::Gossip),
        Just(Protocol::Ping)
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    (
        protocol(),
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec(any::<u8>(), 0..600),
    )
        .prop_map(|(p, h, b)| Frame::new(p, h, b))
}

fn root() -> impl Strategy<Value = Root> {
    any::<[u8; 32]>().prop_map(Root)
}

fn payload() -> impl Strategy<Value = RpcPayload> {
    prop_oneof![
        (
            any::<u8>(),
            any::<u8>(),
            root(),
            any::<u64>(),
            root(),
            any::<u64>()
        )
            .prop_map(|(n, c, fr, fe, br, bs)| RpcPayload::Hello(Hello {
                network_id: n,
                chain_id: c,
                latest_finalized_root: fr,
                latest_finalized_epoch: Epoch(fe),
                best_root: br,
                best_slot: Slot(bs),
            })),
        any::<u64>().prop_map(|reason| RpcPayload::Goodbye(Goodbye { reason })),
        ("[a-z0-9/.]{0,40}", any::<u64>())
            .prop_map(|(ua, ts)| RpcPayload::GetStatus(GetStatus::new(&ua, ts))),
        (
            root(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u8>()
        )
            .prop_map(
                |(r, s, m, k, d)| RpcPayload::GetBlockHeaders(GetBlockHeaders {
                    start_root: r,
                    start_slot: Slot(s),
                    max: m,
                    skip: k,
                    direction: d,
                })
            ),
    ]
}

fn envelope() -> impl Strategy<Value = Envelope> {
    prop_oneof![
        (0..=i64::MAX as u64, payload())
            .prop_map(|(id, p)| Envelope::Rpc(RpcEnvelope::new(RequestId(id), &p))),
        (
            any::<u16>(),
            0..=i64::MAX as u64,
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(m, id, ssz)| Envelope::Rpc(RpcEnvelope {
                header: RpcHeader::new(RpcMethod::from_id(m), RequestId(id)),
                body: RpcBody::Ssz(Bytes::from(ssz)),
            })),
        (
            prop_oneof![Just(Topic::Block), Just(Topic::Attestation)],
            root(),
            proptest::collection::vec(any::<u8>(), 0..128),
            0..=i64::MAX as u64,
            proptest::option::of(any::<i32>()),
        )
            .prop_map(|(t, h, body, ts, hops)| {
                let mut env = GossipEnvelope::new(t, h, Bytes::from(body), ts);
                if let Some(hops) = hops {
                    env.header.extra.insert("hops", hops);
                }
                Envelope::Gossip(env)
            }),
        (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(p, body)| {
            Envelope::Ping(if p {
                PingFrame::ping(body)
            } else {
                PingFrame::pong(body)
            })
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x4842_4954),
        ..ProptestConfig::default()
    })]

    #[test]
    fn frames_round_trip_across_any_split(frames in proptest::collection::vec(frame(), 1..6), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let mut codec = FrameCodec::default();
        let mut wire = BytesMut::new();
        for f in &frames {
            codec.encode(f, &mut wire).expect("encode");
        }
        let wire = wire.freeze();
        let cuts = cuts.iter().map(|c| c.index(wire.len() + 1));
        let out = support::decode_in_pieces(&mut codec, &wire, cuts);
        prop_assert_eq!(out, frames);
    }

    #[test]
    fn typed_messages_round_trip(env in envelope()) {
        let frame = env.to_frame().expect("encode");
        let wire = frame.to_bytes().expect("bytes");
        let parsed = Frame::parse(&wire, FrameLimits::default()).expect("frame");
        let back = Envelope::from_frame(&parsed).expect("typed");
        prop_assert_eq!(&back, &env);
        // The JSON view round trips too.
        let json = frame_to_json(&parsed);
        prop_assert_eq!(frame_from_json(&json).expect("from json"), parsed);
    }

    #[test]
    fn payloads_survive_the_envelope(id in 0..=i64::MAX as u64, p in payload()) {
        let env = RpcEnvelope::new(RequestId(id), &p);
        let back = RpcEnvelope::from_frame(&env.to_frame().expect("encode")).expect("decode");
        prop_assert_eq!(back.decode_payload().expect("payload").payload, p);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_frame_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..256), text in any::<bool>()) {
        let limits = FrameLimits { accept_text_framing: text, max_body_len: 1 << 20, ..FrameLimits::default() };
        let mut codec = FrameCodec::new(limits);
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
        // A prefix of EWP + random bytes exercises the length checks, not just the preamble.
        let mut framed = b"EWP\x00\x00\x00\x03".to_vec();
        framed.extend(&bytes);
        let mut buf = BytesMut::from(&framed[..]);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
    }

    #[test]
    fn arbitrary_headers_and_bodies_never_panic_the_typed_layer(p in protocol(), header in proptest::collection::vec(any::<u8>(), 0..200), body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let frame = Frame::new(p, header, body);
        let _ = frame_to_json(&frame);
        if let Ok(Envelope::Rpc(rpc)) = Envelope::from_frame(&frame) {
            let _ = rpc.decode_payload();
        }
    }

    #[test]
    fn bson_shaped_garbage_never_panics(method in any::<u16>(), fields in proptest::collection::vec(("[a-z_]{1,24}", any::<i64>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..8)) {
        // Well-formed BSON with arbitrary keys and values reaches the field readers.
        let mut doc = bson::Document::new();
        for (i, (k, n, bytes)) in fields.into_iter().enumerate() {
            match i % 4 {
                0 => doc.insert(k, n),
                1 => doc.insert(k, n as f64 / 3.0),
                2 => doc.insert(k, hobbits_codec::bson_compat::binary(bytes)),
                _ => doc.insert(k, hex::encode(bytes)),
            };
        }
        let header = bson::doc! { "method_id": i32::from(method), "id": 1i64 }.to_vec().expect("bson");
        for body in [doc.to_vec().expect("bson"), bson::doc! { "body": doc.clone() }.to_vec().expect("bson")] {
            let frame = Frame::new(Protocol::Rpc, header.clone(), body);
            if let Ok(env) = RpcEnvelope::from_frame(&frame) {
                let _ = env.decode_payload();
            }
            let gossip = Frame::new(Protocol::Gossip, doc.to_vec().expect("bson"), Vec::new());
            let _ = GossipEnvelope::from_frame(&gossip);
        }
    }
}
