//! Property tests of the ETH dialect (fixed seed, 512 cases each): typed requests and responses
//! survive encode → frame → decode however the bytes are split across reads; arbitrary bytes never
//! panic the decoder, the envelope reader, the typed bodies or the JSON view, and every error they
//! give either breaks the stream or names the response code it earns consistently.

use bytes::{Bytes, BytesMut};
use hobbits_chain::rpc::{BlockHeaders, Goodbye};
use hobbits_chain::{BeaconBlockBody, BeaconBlockHeader, Epoch, Root, Signature, Slot};
use hobbits_codec::eth::json::eth_frame_to_json;
use hobbits_codec::eth::{
    BlockBodiesRequest, BlockBodiesResponse, BlockHeadersRequest, BlockRootSlot, BlockRootsRequest,
    BlockRootsResponse, ChainStateRequest, EthHello, EthStatus, MAX_BLOCK_ROOTS_COUNT,
};
use hobbits_codec::{
    EthCodec, EthError, EthFrame, EthLimits, EthMessage, EthMethod, EthRequest, EthRequestBody,
    EthResponse, EthResponseBody, RequestId, ResponseCode,
};
use proptest::collection::vec;
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

mod support;

fn root() -> impl Strategy<Value = Root> {
    any::<[u8; 32]>().prop_map(Root)
}

fn hello() -> impl Strategy<Value = EthHello> {
    (
        any::<u8>(),
        any::<u64>(),
        root(),
        any::<u64>(),
        root(),
        any::<u64>(),
    )
        .prop_map(|(network_id, chain_id, fr, fe, br, bs)| EthHello {
            network_id,
            chain_id,
            finalized_root: fr,
            finalized_epoch: Epoch(fe),
            best_root: br,
            best_slot: Slot(bs),
        })
}

fn status() -> impl Strategy<Value = EthStatus> {
    (any::<[u8; 32]>(), vec(any::<u8>(), 0..64), any::<u64>()).prop_map(
        |(sha, user_agent, timestamp)| EthStatus {
            sha,
            user_agent,
            timestamp,
        },
    )
}

fn request_body() -> impl Strategy<Value = EthRequestBody> {
    prop_oneof![
        hello().prop_map(EthRequestBody::Hello),
        any::<u64>().prop_map(|reason| EthRequestBody::Goodbye(Goodbye { reason })),
        status().prop_map(EthRequestBody::GetStatus),
        (any::<u64>(), 0..=MAX_BLOCK_ROOTS_COUNT).prop_map(|(s, count)| {
            EthRequestBody::BeaconBlockRoots(BlockRootsRequest {
                start_slot: Slot(s),
                count,
            })
        }),
        (root(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(r, s, m, k)| {
            EthRequestBody::BeaconBlockHeaders(BlockHeadersRequest {
                start_root: r,
                start_slot: Slot(s),
                max_headers: m,
                skip_slots: k,
            })
        }),
        vec(root(), 0..8).prop_map(|block_roots| {
            EthRequestBody::BeaconBlockBodies(BlockBodiesRequest { block_roots })
        }),
        vec(root(), 0..8)
            .prop_map(|hashes| EthRequestBody::BeaconChainState(ChainStateRequest { hashes })),
    ]
}

fn header() -> impl Strategy<Value = BeaconBlockHeader> {
    (any::<u64>(), root(), root(), root(), any::<u8>()).prop_map(|(slot, p, s, b, sig)| {
        BeaconBlockHeader {
            slot: Slot(slot),
            parent_root: p,
            state_root: s,
            body_root: b,
            signature: Signature([sig; 96]),
        }
    })
}

fn response_body() -> impl Strategy<Value = EthResponseBody> {
    prop_oneof![
        hello().prop_map(EthResponseBody::Hello),
        status().prop_map(EthResponseBody::GetStatus),
        vec((root(), any::<u64>()), 0..12).prop_map(|mut pairs| {
            pairs.sort_by_key(|p| p.1);
            EthResponseBody::BeaconBlockRoots(BlockRootsResponse {
                roots: pairs
                    .into_iter()
                    .map(|(block_root, slot)| BlockRootSlot {
                        block_root,
                        slot: Slot(slot),
                    })
                    .collect(),
            })
        }),
        vec(header(), 0..4).prop_map(|headers| {
            EthResponseBody::BeaconBlockHeaders(BlockHeaders {
                headers: ssz_types::VariableList::new(headers).expect("under 4096"),
            })
        }),
        vec(any::<[u8; 32]>(), 0..4).prop_map(|graffiti| {
            EthResponseBody::BeaconBlockBodies(BlockBodiesResponse {
                block_bodies: graffiti
                    .into_iter()
                    .map(|graffiti| BeaconBlockBody {
                        graffiti,
                        ..BeaconBlockBody::default()
                    })
                    .collect(),
            })
        }),
    ]
}

/// A message with its typed content: a request, a success response (with the method it answers)
/// or an error response.
#[derive(Debug, Clone)]
enum Typed {
    Request(EthRequestBody),
    Success(EthResponseBody),
    Error(ResponseCode, String),
}

fn typed() -> impl Strategy<Value = (u64, Typed)> {
    (
        any::<u64>(),
        prop_oneof![
            request_body().prop_map(Typed::Request),
            response_body().prop_map(Typed::Success),
            (1..=u16::MAX, "[ -~]{0,40}")
                .prop_map(|(c, m)| Typed::Error(ResponseCode::from_u16(c), m)),
        ],
    )
}

fn to_message(id: u64, t: &Typed) -> EthMessage {
    let id = RequestId(id);
    match t {
        Typed::Request(b) => EthRequest::new(id, b).into(),
        Typed::Success(b) => EthResponse::success(id, b).into(),
        Typed::Error(code, m) => EthResponse::error(id, *code, m).into(),
    }
}

/// Checks what every error must satisfy: a stream-breaking error earns no code, an error that
/// earns a code has the id to answer with.
fn consistent(err: &EthError) {
    if err.breaks_stream() {
        assert!(err.response_code().is_none(), "{err}");
    }
    if err.response_code().is_some() {
        assert!(err.reply().is_some(), "{err}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x4554_4821),
        ..ProptestConfig::default()
    })]

    #[test]
    fn typed_messages_round_trip_across_any_split(
        messages in vec(typed(), 1..6),
        cuts in vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let limits = EthLimits::default();
        let mut codec = EthCodec::new(limits);
        let mut wire = BytesMut::new();
        for (id, t) in &messages {
            codec.encode(to_message(*id, t).to_frame(), &mut wire).expect("encode");
        }
        let wire = wire.freeze();
        let cuts = cuts.iter().map(|c| c.index(wire.len() + 1));
        let frames = support::decode_in_pieces(&mut codec, &wire, cuts);
        prop_assert_eq!(frames.len(), messages.len());
        for (frame, (id, t)) in frames.iter().zip(&messages) {
            let message = EthMessage::from_frame(frame).expect("envelope");
            prop_assert_eq!(message.id(), RequestId(*id));
            match (message, t) {
                (EthMessage::Request(r), Typed::Request(b)) => {
                    prop_assert_eq!(&r.decode_body(&limits).expect("body"), b);
                }
                (EthMessage::Response(r), Typed::Success(b)) => {
                    prop_assert_eq!(&r.decode_result(b.method(), &limits).expect("result"), b);
                }
                (EthMessage::Response(r), Typed::Error(code, m)) => {
                    prop_assert_eq!((r.code, r.message()), (*code, m.clone()));
                }
                (other, t) => prop_assert!(false, "{other:?} decoded for {t:?}"),
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in vec(any::<u8>(), 0..300)) {
        let limits = EthLimits { max_message_len: 1 << 16, ..EthLimits::default() };
        for prefixed in [false, true] {
            let mut input = if prefixed { b"ETH".to_vec() } else { Vec::new() };
            input.extend(&bytes);
            let mut codec = EthCodec::new(limits);
            let mut buf = BytesMut::from(&input[..]);
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(frame)) => {
                        let _ = eth_frame_to_json(&frame, Some(EthMethod::BeaconBlockBodies), &limits);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        prop_assert!(e.breaks_stream());
                        consistent(&e);
                        break;
                    }
                }
            }
        }
    }

    #[test]
    fn arbitrary_messages_never_panic_the_typed_layer(kind in 0u8..3, id in any::<u64>(), selector in any::<u16>(), body in vec(any::<u8>(), 0..400)) {
        // A well-formed envelope around arbitrary bytes reaches every body decoder.
        let limits = EthLimits { max_bodies_per_request: 4, max_state_hashes: 4, max_user_agent_len: 16, ..EthLimits::default() };
        let mut message = vec![kind];
        message.extend(id.to_le_bytes());
        message.extend(selector.to_le_bytes());
        message.extend(14u32.to_le_bytes());
        message.extend(&body);
        let frame = EthFrame::new(message);
        match EthMessage::from_frame(&frame) {
            Ok(EthMessage::Request(r)) => {
                if let Err(e) = r.decode_body(&limits) {
                    consistent(&e);
                    prop_assert!(e.response_code().is_some(), "a request error is answered: {e}");
                }
            }
            Ok(EthMessage::Response(r)) => {
                for m in EthMethod::ALL {
                    if let Err(e) = r.decode_result(m, &limits) {
                        prop_assert!(e.response_code().is_none(), "a response is never answered: {e}");
                    }
                }
            }
            Err(e) => {
                prop_assert_eq!(kind, 2);
                consistent(&e);
            }
        }
        for m in EthMethod::ALL {
            let _ = EthRequestBody::decode(RequestId(id), m, &body, &limits);
            let _ = EthResponseBody::decode(RequestId(id), m, &body, &limits);
        }
        let _ = eth_frame_to_json(&frame, Some(EthMethod::from_id(selector)), &limits);
        // Any truncation of the envelope is a typed error, never a panic.
        for cut in 0..frame.message.len().min(20) {
            if let Err(e) = EthMessage::from_frame(&EthFrame::new(Bytes::copy_from_slice(&frame.message[..cut]))) {
                consistent(&e);
            }
        }
    }
}
