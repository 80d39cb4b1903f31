//! Unit tests of [`super::analysis::PairAnalyzer`], driven without a runtime or sockets, on the
//! frames 2019 clients really sent (hex copied from the shared vectors: they are facts).

use std::time::{Duration, Instant};

use bson::doc;
use hobbits_chain::rpc::{BlockBodies, GetBlockHeaders, Hello};
use hobbits_chain::{Root, Slot};
use hobbits_codec::bson_compat::binary;
use hobbits_codec::rpc::{RequestId, RpcEnvelope, RpcPayload};
use hobbits_codec::{Frame, GossipEnvelope, PingFrame, Protocol, Topic};
use rand::{Rng, SeedableRng};

use super::analysis::{AnalyzerSettings, PairAnalyzer};
use super::deviation::DeviationCode;
use super::record::{
    ConnectionId, FrameMessage, RelayDirection, RelayEvent, RelayedFrame, RpcRole,
};

const C2S: RelayDirection = RelayDirection::ClientToServer;
const S2C: RelayDirection = RelayDirection::ServerToClient;

const ARTEMIS_HELLO: &str = "45575000000003000000001c000000c51c000000106d6574686f645f69640000000000106964000100000000c500000003626f647900ba000000106e6574776f726b5f6964000100000010636861696e5f69640001000000056c61746573745f66696e616c697a65645f726f6f740020000000000000000000000000000000000000000000000000000000000000000000000000106c61746573745f66696e616c697a65645f65706f6368000000000005626573745f726f6f74002000000000000000000000000000000000000000000000000000000000000000000000000010626573745f736c6f7400000000000000";
const PRYSM_HELLO: &str = "455750000000030000000020000000b420000000106d6574686f645f6964000000000012696400000000000000000000b4000000026e6f64655f69640003000000313200056c61746573745f66696e616c697a65645f726f6f740020000000000000000000000000000000000000000000000000000000000000000000000000126c61746573745f66696e616c697a65645f65706f636800000000000000000005626573745f726f6f74002000000000000000000000000000000000000000000000000000000000000000000000000012626573745f736c6f7400000000000000000000";
const SPEC_HELLO: &str = "4557500000000300000000200000006220000000106d6574686f645f69640000000000126964000100000000000000006200000005626f64790052000000000101000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
const GOSSIP_ANNOUNCE: &str = "4557500000000301000000960000000096000000106d6574686f645f6964000000000002746f7069630006000000424c4f434b001274696d657374616d700000b3dc076c010000056d6573736167655f68617368002000000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0568617368002000000000bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb00";
const JSBSON_DOUBLE_ID_HEADER: &str =
    "20000000106d6574686f645f696400000000000169640000eb2af2548b114300";
const LENGTH_OVERFLOW: &str = "45575000000003000000ffffffff00000001";
const BAD_PREAMBLE: &str = "58595a0000000302000000040000000070696e67";
const BAD_VERSION: &str = "4557500000006302000000040000000070696e67";

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test hex")
}

fn analyzer() -> PairAnalyzer {
    PairAnalyzer::new(
        ConnectionId(1),
        AnalyzerSettings {
            request_timeout: Duration::from_secs(2),
            ping_timeout: Duration::from_secs(1),
            ..AnalyzerSettings::default()
        },
    )
}

fn frames(events: &[RelayEvent]) -> Vec<&RelayedFrame> {
    events.iter().filter_map(RelayEvent::frame).collect()
}

fn one_frame(
    a: &mut PairAnalyzer,
    dir: RelayDirection,
    bytes: &[u8],
    now: Instant,
) -> RelayedFrame {
    let events = a.on_bytes(dir, bytes, now, 0);
    let f = frames(&events);
    assert_eq!(f.len(), 1, "one frame expected, got {events:?}");
    f[0].clone()
}

fn codes(f: &RelayedFrame) -> Vec<DeviationCode> {
    f.deviations.iter().map(|d| d.code).collect()
}

fn wire(frame: &Frame) -> Vec<u8> {
    frame.to_bytes().expect("encode").to_vec()
}

fn rpc(id: u64, payload: RpcPayload) -> Vec<u8> {
    wire(
        &RpcEnvelope::new(RequestId(id), &payload)
            .to_frame()
            .expect("frame"),
    )
}

#[test]
fn artemis_hello_is_nested_with_int32_id_and_slots() {
    let mut a = analyzer();
    let f = one_frame(&mut a, C2S, &unhex(ARTEMIS_HELLO), Instant::now());
    let c = codes(&f);
    assert!(c.contains(&DeviationCode::HelloNestedDoc), "{c:?}");
    assert!(c.contains(&DeviationCode::IdType), "{c:?}");
    // latest_finalized_epoch and best_slot are int32; network_id/chain_id int32 are fine.
    assert_eq!(
        c.iter().filter(|&&x| x == DeviationCode::IntType).count(),
        2
    );
    assert!(!c.contains(&DeviationCode::HelloFlatDoc));
    assert!(!c.contains(&DeviationCode::MethodIdType));
    assert!(matches!(
        f.message,
        FrameMessage::Rpc {
            role: RpcRole::Request,
            ..
        }
    ));
    assert!(f.to_string().contains("network_id=1"), "{f}");
}

#[test]
fn prysm_hello_is_flat_and_lacks_network_id() {
    let mut a = analyzer();
    let f = one_frame(&mut a, C2S, &unhex(PRYSM_HELLO), Instant::now());
    let c = codes(&f);
    assert!(c.contains(&DeviationCode::HelloFlatDoc), "{c:?}");
    assert!(c.contains(&DeviationCode::MissingField), "{c:?}");
    assert!(
        !c.contains(&DeviationCode::IdType),
        "id is int64 in Prysm's header"
    );
    assert!(
        !c.contains(&DeviationCode::IntType),
        "Prysm wrote int64 slots"
    );
    assert!(!c.contains(&DeviationCode::HelloNestedDoc));
}

#[test]
fn spec_hello_and_its_reply_are_clean_and_matched() {
    let mut a = analyzer();
    let t0 = Instant::now();
    let f = one_frame(&mut a, C2S, &unhex(SPEC_HELLO), t0);
    assert!(f.deviations.is_empty(), "{:?}", f.deviations);
    let reply = rpc(1, RpcPayload::Hello(Hello::default()));
    let r = one_frame(&mut a, S2C, &reply, t0 + Duration::from_millis(30));
    assert!(r.deviations.is_empty(), "{:?}", r.deviations);
    match r.message {
        FrameMessage::Rpc {
            role: RpcRole::Response { latency },
            ..
        } => assert_eq!(latency, Duration::from_millis(30)),
        other => panic!("expected a response, got {other:?}"),
    }
    // Nothing left to time out.
    assert!(a.check_timeouts(t0 + Duration::from_secs(60), 0).is_empty());
}

#[test]
fn responses_are_matched_by_id_and_method() {
    let mut a = analyzer();
    let t0 = Instant::now();
    let unmatched = one_frame(
        &mut a,
        S2C,
        &rpc(9, RpcPayload::BlockBodies(BlockBodies::default())),
        t0,
    );
    assert_eq!(codes(&unmatched), vec![DeviationCode::UnmatchedResponse]);

    let req = RpcPayload::GetBlockHeaders(GetBlockHeaders {
        start_root: Root::default(),
        start_slot: Slot(1),
        max: 8,
        skip: 0,
        direction: 1,
    });
    let f = one_frame(&mut a, C2S, &rpc(5, req), t0);
    assert!(f.to_string().contains("start_slot=1 max=8"), "{f}");
    // Answered with the wrong method: flagged, and the request no longer outstanding.
    let wrong = one_frame(
        &mut a,
        S2C,
        &rpc(5, RpcPayload::BlockBodies(BlockBodies::default())),
        t0,
    );
    assert_eq!(codes(&wrong), vec![DeviationCode::ResponseMethodMismatch]);
    assert!(a.check_timeouts(t0 + Duration::from_secs(60), 0).is_empty());
}

#[test]
fn unanswered_request_is_reported_once_then_listed_nowhere_else() {
    let mut a = analyzer();
    let t0 = Instant::now();
    one_frame(&mut a, C2S, &unhex(SPEC_HELLO), t0);
    assert!(a
        .check_timeouts(t0 + Duration::from_millis(1999), 0)
        .is_empty());
    let events = a.check_timeouts(t0 + Duration::from_secs(2), 0);
    assert!(
        matches!(&events[..], [RelayEvent::DeviationFound { direction: C2S, deviation, .. }]
            if deviation.code == DeviationCode::UnansweredRequest && deviation.detail.contains("HELLO(0) id=1")),
        "{events:?}"
    );
    assert!(a.check_timeouts(t0 + Duration::from_secs(9), 0).is_empty());
    match a.finish(t0 + Duration::from_secs(10)) {
        RelayEvent::ConnectionClosed { unanswered, .. } => assert!(unanswered.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn outstanding_at_close_is_listed() {
    let mut a = analyzer();
    let t0 = Instant::now();
    one_frame(&mut a, C2S, &unhex(SPEC_HELLO), t0);
    one_frame(
        &mut a,
        S2C,
        &wire(&PingFrame::ping(vec![1u8; 32]).to_frame()),
        t0,
    );
    match a.finish(t0 + Duration::from_millis(10)) {
        RelayEvent::ConnectionClosed {
            unanswered, bytes, ..
        } => {
            assert_eq!(unanswered.len(), 2, "{unanswered:?}");
            assert!(bytes[0] > 0 && bytes[1] > 0);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pings_pongs_and_unsolicited_pongs() {
    let mut a = analyzer();
    let t0 = Instant::now();
    let ping = wire(&PingFrame::ping(vec![7u8; 32]).to_frame());
    let pong = wire(&PingFrame::pong(vec![7u8; 32]).to_frame());
    assert!(one_frame(&mut a, C2S, &ping, t0).deviations.is_empty());
    let p = one_frame(&mut a, S2C, &pong, t0 + Duration::from_millis(3));
    assert!(p.deviations.is_empty());
    assert!(p.to_string().contains("rtt_ms=3"), "{p}");
    // A pong for nothing (go-hobbits answering pongs, or a wrong body).
    let stray = one_frame(&mut a, S2C, &pong, t0);
    assert_eq!(codes(&stray), vec![DeviationCode::UnsolicitedPong]);
    // A ping never answered.
    one_frame(&mut a, C2S, &ping, t0);
    let events = a.check_timeouts(t0 + Duration::from_secs(1), 0);
    assert!(
        matches!(&events[..], [RelayEvent::DeviationFound { deviation, .. }] if deviation.code == DeviationCode::PingUnanswered),
        "{events:?}"
    );
}

#[test]
fn gossip_message_hash_and_hex_hashes() {
    let mut a = analyzer();
    let now = Instant::now();
    let announce = one_frame(&mut a, C2S, &unhex(GOSSIP_ANNOUNCE), now);
    assert_eq!(codes(&announce), vec![DeviationCode::MessageHash]);
    assert_eq!(announce.message.label(), "BLOCK");

    let good = GossipEnvelope::new(
        Topic::Block,
        Root([3; 32]),
        bytes::Bytes::from_static(b"x"),
        1,
    );
    let f = one_frame(&mut a, C2S, &wire(&good.to_frame().expect("frame")), now);
    // The body is not a block: the hash is right, the object does not decode.
    assert_eq!(codes(&f), vec![DeviationCode::BadMessage]);

    let header = doc! {
        "method_id": 0i64, "topic": "BLOCK", "timestamp": 5i32,
        "message_hash": format!("0x{}", hex::encode(hobbits_codec::MessageHash::of_body(b"").0)),
        "hash": binary(vec![0u8; 32]),
    };
    let frame = Frame::new(Protocol::Gossip, header.to_vec().expect("bson"), Vec::new());
    let c = codes(&one_frame(&mut a, S2C, &wire(&frame), now));
    assert_eq!(
        c,
        vec![
            DeviationCode::MethodIdType,
            DeviationCode::IntType,
            DeviationCode::HexHash
        ]
    );
}

#[test]
fn double_id_header_is_flagged() {
    let mut a = analyzer();
    let frame = Frame::new(Protocol::Rpc, unhex(JSBSON_DOUBLE_ID_HEADER), Vec::new());
    let f = one_frame(&mut a, C2S, &wire(&frame), Instant::now());
    let c = codes(&f);
    assert!(c.contains(&DeviationCode::IdType), "{c:?}");
    // HELLO with an empty body cannot be decoded.
    assert!(c.contains(&DeviationCode::BadMessage), "{c:?}");
}

#[test]
fn version_other_than_3_is_flagged_and_decoded() {
    let mut a = analyzer();
    let f = one_frame(&mut a, C2S, &unhex(BAD_VERSION), Instant::now());
    assert_eq!(codes(&f), vec![DeviationCode::Version]);
    assert_eq!(f.version, 99);
}

#[test]
fn framing_errors_stop_decoding_that_direction_only() {
    let mut a = analyzer();
    let now = Instant::now();
    let events = a.on_bytes(C2S, &unhex(LENGTH_OVERFLOW), now, 0);
    assert!(
        matches!(&events[..], [RelayEvent::DeviationFound { deviation, .. }] if deviation.code == DeviationCode::FrameTooLarge),
        "{events:?}"
    );
    assert!(!a.is_decoding(C2S));
    // Later bytes of that direction are only counted.
    assert!(a.on_bytes(C2S, &unhex(SPEC_HELLO), now, 0).is_empty());
    // The other direction still decodes.
    one_frame(&mut a, S2C, &unhex(SPEC_HELLO), now);

    let mut b = analyzer();
    let events = b.on_bytes(S2C, &unhex(BAD_PREAMBLE), now, 0);
    assert!(
        matches!(&events[..], [RelayEvent::DeviationFound { deviation, .. }] if deviation.code == DeviationCode::FramingError),
        "{events:?}"
    );
    match b.finish(now) {
        RelayEvent::ConnectionClosed {
            undecoded_bytes, ..
        } => {
            assert_eq!(undecoded_bytes, [0, unhex(BAD_PREAMBLE).len() as u64])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn split_reads_give_the_same_frames() {
    let mut stream = unhex(ARTEMIS_HELLO);
    stream.extend(unhex(PRYSM_HELLO));
    stream.extend(unhex(GOSSIP_ANNOUNCE));
    let now = Instant::now();
    let mut whole = analyzer();
    let expected: Vec<String> = frames(&whole.on_bytes(C2S, &stream, now, 0))
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert_eq!(expected.len(), 3);
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    for _ in 0..20 {
        let mut a = analyzer();
        let mut got = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let n = rng.gen_range(1..=rest.len().min(40));
            got.extend(
                frames(&a.on_bytes(C2S, &rest[..n], now, 0))
                    .iter()
                    .map(|f| f.to_string()),
            );
            rest = &rest[n..];
        }
        assert_eq!(got, expected);
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    let seeds = [ARTEMIS_HELLO, PRYSM_HELLO, SPEC_HELLO, GOSSIP_ANNOUNCE];
    let mut rng = rand::rngs::StdRng::seed_from_u64(2019);
    for round in 0..500 {
        let mut bytes = unhex(seeds[round % seeds.len()]);
        for _ in 0..rng.gen_range(1..8) {
            let i = rng.gen_range(0..bytes.len());
            bytes[i] = rng.gen();
        }
        let mut a = analyzer();
        let now = Instant::now();
        let dir = if round % 2 == 0 { C2S } else { S2C };
        for chunk in bytes.chunks(rng.gen_range(1..64)) {
            let _ = a.on_bytes(dir, chunk, now, 0);
        }
        let _ = a.check_timeouts(now + Duration::from_secs(5), 0);
        let _ = a.finish(now);
    }
}

/// Lodestar's 2019 text-framed PING (shared vector `lodestar_text_ping`).
const LODESTAR_TEXT_PING: &str = "4557502033203220342033320a70696e67000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn deviations(events: &[RelayEvent]) -> Vec<DeviationCode> {
    events
        .iter()
        .filter_map(|e| match e {
            RelayEvent::DeviationFound { deviation, .. } => Some(deviation.code),
            _ => None,
        })
        .collect()
}

#[test]
fn text_framing_is_reported_whether_or_not_it_is_decoded() {
    let now = Instant::now();
    // Not accepted (the default): reported, and that direction is no longer decoded.
    let mut a = analyzer();
    let events = a.on_bytes(C2S, &unhex(LODESTAR_TEXT_PING), now, 0);
    assert_eq!(deviations(&events), vec![DeviationCode::TextFraming]);
    assert!(frames(&events).is_empty());
    assert!(!a.is_decoding(C2S));

    // Accepted: decoded as a PING, reported once for the direction.
    let settings = AnalyzerSettings {
        limits: hobbits_codec::FrameLimits {
            accept_text_framing: true,
            ..hobbits_codec::FrameLimits::default()
        },
        ..AnalyzerSettings::default()
    };
    let mut b = PairAnalyzer::new(ConnectionId(2), settings);
    let mut two = unhex(LODESTAR_TEXT_PING);
    two.extend(unhex(LODESTAR_TEXT_PING));
    let events = b.on_bytes(C2S, &two, now, 0);
    assert_eq!(frames(&events).len(), 2, "{events:?}");
    assert_eq!(deviations(&events), vec![DeviationCode::TextFraming]);
    // A binary frame after text frames in the same direction: the framing changed mid-stream.
    let binary = PingFrame::ping(vec![1u8; 4])
        .to_frame()
        .to_bytes()
        .expect("frame");
    let events = b.on_bytes(C2S, &binary, now, 0);
    assert_eq!(deviations(&events), vec![DeviationCode::TextFraming]);
    assert!(!b.is_decoding(C2S));
}

#[test]
fn overlay_control_frames_decode_and_tuweni_numbering_is_flagged() {
    use hobbits_codec::gossip_control::{ControlMessage, ControlVerb};
    use hobbits_codec::MessageHash;
    use ssz::Encode;
    let mut a = analyzer();
    let now = Instant::now();
    // Our control verbs (docs/PROTOCOL.md, "Gossip overlay"): no deviation, the verb as label.
    let ihave = ControlMessage::new(ControlVerb::IHave, vec![MessageHash([7; 32])])
        .expect("ihave")
        .to_frame()
        .expect("frame");
    let f = one_frame(&mut a, C2S, &wire(&ihave), now);
    assert!(f.deviations.is_empty(), "{f}");
    assert_eq!(f.message.label(), "IHAVE");
    assert!(f.to_string().contains("hashes=1"), "{f}");
    // A block GOSSIP under method id 3 (Tuweni's Plumtree: IHAVE 0, GRAFT 1, PRUNE 2, GOSSIP 3):
    // GOSSIP_NUMBERING, and the block is still decoded.
    let block = hobbits_chain::BeaconBlock::default();
    let mut env = GossipEnvelope::new(
        Topic::Block,
        block.signing_root(),
        bytes::Bytes::from(block.as_ssz_bytes()),
        1,
    );
    env.header.method_id = 3;
    let f = one_frame(&mut a, S2C, &wire(&env.to_frame().expect("frame")), now);
    assert_eq!(codes(&f), vec![DeviationCode::GossipNumbering], "{f}");
    assert_eq!(f.message.label(), "BLOCK");
    assert!(f.to_string().contains("slot=0"), "{f}");
    // The same block under method id 0 is clean; under 9, an unknown method.
    env.header.method_id = 0;
    assert!(codes(&one_frame(
        &mut a,
        S2C,
        &wire(&env.to_frame().expect("frame")),
        now
    ))
    .is_empty());
    env.header.method_id = 9;
    assert_eq!(
        codes(&one_frame(
            &mut a,
            S2C,
            &wire(&env.to_frame().expect("frame")),
            now
        )),
        vec![DeviationCode::UnknownMethod]
    );
}
