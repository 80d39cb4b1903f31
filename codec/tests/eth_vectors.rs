//! Every vector of `codec/testdata/eth_messages.tsv` (ETH raw-TCP dialect messages written byte by
//! byte by `eth_messages.py` from the layouts in docs/PROTOCOL.md, not by this crate) checked
//! against its documented outcome: one request per method, one success response per method with
//! a response, every response code, and malformed messages with the error (and the response code)
//! each earns. Valid messages must also be re-encoded to the same bytes from their typed values.

use bytes::BytesMut;
use hobbits_chain::rpc::{BlockHeaders, Goodbye};
use hobbits_chain::{BeaconBlockBody, BeaconBlockHeader, Epoch, Root, Signature, Slot};
use hobbits_codec::eth::{
    BlockBodiesRequest, BlockBodiesResponse, BlockHeadersRequest, BlockRootSlot, BlockRootsRequest,
    BlockRootsResponse, ChainStateRequest, EthHello, EthStatus, CHAIN_STATE_NOT_SERVED,
};
use hobbits_codec::{
    EthCodec, EthError, EthFrame, EthLimits, EthMessage, EthMethod, EthRequest, EthRequestBody,
    EthResponse, EthResponseBody, RequestId, ResponseCode,
};
use tokio_util::codec::Decoder;

mod support;

const VECTORS: support::Vectors = support::Vectors(include_str!("../testdata/eth_messages.tsv"));

fn vector(name: &str) -> Vec<u8> {
    VECTORS.bytes(name)
}

fn limits() -> EthLimits {
    EthLimits::default()
}

fn message(name: &str) -> Result<EthMessage, EthError> {
    let frame = EthFrame::parse(&vector(name), limits()).expect("vector frames");
    EthMessage::from_frame(&frame)
}

/// A valid request: its typed body, after checking that it re-encodes to the vector's bytes.
fn request(name: &str, id: u64) -> EthRequestBody {
    let Ok(EthMessage::Request(req)) = message(name) else {
        panic!("{name} is a request")
    };
    assert_eq!(req.id, RequestId(id));
    let body = req.decode_body(&limits()).expect("typed body");
    let again = EthMessage::Request(EthRequest::new(req.id, &body));
    assert_eq!(
        again.to_frame().to_bytes().expect("bytes")[..],
        vector(name)[..]
    );
    body
}

fn response(name: &str, id: u64) -> EthResponse {
    let Ok(EthMessage::Response(resp)) = message(name) else {
        panic!("{name} is a response")
    };
    assert_eq!(resp.id, RequestId(id));
    let again = EthMessage::Response(resp.clone()).to_frame();
    assert_eq!(again.to_bytes().expect("bytes")[..], vector(name)[..]);
    resp
}

/// A valid success response to `method`: its typed result, re-encoded to the same bytes.
fn success(name: &str, id: u64, method: EthMethod) -> EthResponseBody {
    let resp = response(name, id);
    assert_eq!(resp.code, ResponseCode::Success);
    let body = resp.decode_result(method, &limits()).expect("typed result");
    let again = EthMessage::Response(EthResponse::success(resp.id, &body));
    assert_eq!(
        again.to_frame().to_bytes().expect("bytes")[..],
        vector(name)[..]
    );
    body
}

/// A request whose framing is fine and whose decoding fails: the error and the reply it earns.
fn bad_request(name: &str) -> (EthError, Option<EthResponse>) {
    let err = match message(name) {
        Ok(EthMessage::Request(req)) => req.decode_body(&limits()).expect_err("must fail"),
        Ok(other) => panic!("{name}: a request expected, got {other:?}"),
        Err(e) => e,
    };
    assert!(!err.breaks_stream(), "{name}: the stream survives");
    let reply = err.reply();
    (err, reply)
}

/// A vector the streaming decoder must refuse, breaking the stream, reserving nothing.
fn reject(name: &str) -> EthError {
    let err = support::rejected(EthCodec::default(), &vector(name));
    assert!(err.breaks_stream(), "{name}: {err}");
    err
}

fn hello() -> EthHello {
    EthHello {
        network_id: 1,
        chain_id: 1,
        finalized_root: Root::ZERO,
        finalized_epoch: Epoch(0),
        best_root: Root([0xaa; 32]),
        best_slot: Slot(5),
    }
}

fn status() -> EthStatus {
    EthStatus::new([0x11; 32], "hobbits-node/0.1.0", 1_565_000_000_000)
}

#[test]
fn every_vector_has_a_test_here() {
    VECTORS.assert_each_has_a_test(include_str!("eth_vectors.rs"));
}

#[test]
fn layouts_join_to_the_hex() {
    for name in VECTORS.names() {
        assert_eq!(
            VECTORS.column(name, 1).replace(" | ", ""),
            VECTORS.column(name, 2),
            "{name}"
        );
        assert!(
            !VECTORS.column(name, 3).is_empty(),
            "{name}: expected outcome"
        );
    }
}

// ---- requests ----

#[test]
fn hello_request() {
    assert_eq!(request("hello_request", 1), EthRequestBody::Hello(hello()));
}

#[test]
fn goodbye_request() {
    assert_eq!(
        request("goodbye_request", 2),
        EthRequestBody::Goodbye(Goodbye { reason: 1 })
    );
}

#[test]
fn goodbye_custom_reason() {
    let EthRequestBody::Goodbye(g) = request("goodbye_custom_reason", 3) else {
        panic!("goodbye")
    };
    assert_eq!(g.reason, 1001);
}

#[test]
fn get_status_request() {
    assert_eq!(
        request("get_status_request", 4),
        EthRequestBody::GetStatus(status())
    );
}

#[test]
fn beacon_block_roots_request() {
    assert_eq!(
        request("beacon_block_roots_request", 5),
        EthRequestBody::BeaconBlockRoots(BlockRootsRequest {
            start_slot: Slot(1),
            count: 64
        })
    );
}

#[test]
fn beacon_block_roots_count_at_cap() {
    let EthRequestBody::BeaconBlockRoots(r) = request("beacon_block_roots_count_at_cap", 6) else {
        panic!("roots")
    };
    assert_eq!(r.count, 32768);
}

#[test]
fn beacon_block_headers_request() {
    assert_eq!(
        request("beacon_block_headers_request", 7),
        EthRequestBody::BeaconBlockHeaders(BlockHeadersRequest {
            start_root: Root::ZERO,
            start_slot: Slot(2),
            max_headers: 5,
            skip_slots: 1,
        })
    );
}

#[test]
fn beacon_block_bodies_request() {
    assert_eq!(
        request("beacon_block_bodies_request", 8),
        EthRequestBody::BeaconBlockBodies(BlockBodiesRequest {
            block_roots: vec![Root([1; 32]), Root([2; 32])]
        })
    );
}

#[test]
fn beacon_chain_state_request() {
    assert_eq!(
        request("beacon_chain_state_request", 9),
        EthRequestBody::BeaconChainState(ChainStateRequest {
            hashes: vec![Root([3; 32])]
        })
    );
}

// ---- success responses ----

#[test]
fn hello_response() {
    assert_eq!(
        success("hello_response", 1, EthMethod::Hello),
        EthResponseBody::Hello(hello())
    );
}

#[test]
fn get_status_response() {
    assert_eq!(
        success("get_status_response", 4, EthMethod::GetStatus),
        EthResponseBody::GetStatus(status())
    );
}

#[test]
fn beacon_block_roots_response() {
    let pair = |b, s| BlockRootSlot {
        block_root: Root([b; 32]),
        slot: Slot(s),
    };
    assert_eq!(
        success(
            "beacon_block_roots_response",
            5,
            EthMethod::BeaconBlockRoots
        ),
        EthResponseBody::BeaconBlockRoots(BlockRootsResponse {
            roots: vec![pair(0xa1, 1), pair(0xa2, 2)]
        })
    );
}

#[test]
fn beacon_block_roots_empty_response() {
    assert_eq!(
        success(
            "beacon_block_roots_empty_response",
            5,
            EthMethod::BeaconBlockRoots
        ),
        EthResponseBody::BeaconBlockRoots(BlockRootsResponse::default())
    );
}

#[test]
fn beacon_block_headers_response() {
    let header = BeaconBlockHeader {
        slot: Slot(2),
        parent_root: Root([0xb1; 32]),
        state_root: Root([0xb2; 32]),
        body_root: Root([0xb3; 32]),
        signature: Signature([0; 96]),
    };
    let headers = BlockHeaders {
        headers: ssz_types::VariableList::new(vec![header]).expect("one header"),
    };
    assert_eq!(
        success(
            "beacon_block_headers_response",
            7,
            EthMethod::BeaconBlockHeaders
        ),
        EthResponseBody::BeaconBlockHeaders(headers)
    );
}

#[test]
fn beacon_block_bodies_response() {
    assert_eq!(
        success(
            "beacon_block_bodies_response",
            8,
            EthMethod::BeaconBlockBodies
        ),
        EthResponseBody::BeaconBlockBodies(BlockBodiesResponse {
            block_bodies: vec![BeaconBlockBody::default(), BeaconBlockBody::default()]
        })
    );
}

// ---- response codes ----

fn error_response(name: &str, id: u64, code: ResponseCode, message: &str) {
    let resp = response(name, id);
    assert_eq!(resp.code, code);
    assert_eq!(resp.message(), message);
    let err = resp
        .decode_result(EthMethod::Hello, &limits())
        .expect_err("an error response has no typed result");
    assert!(matches!(err, EthError::ErrorResponse { code: c, .. } if c == code));
    assert_eq!(
        err.reply().map(|r| r.id),
        None,
        "responses are never answered"
    );
}

#[test]
fn code_parse_error() {
    error_response("code_parse_error", 20, ResponseCode::ParseError, "bad ssz");
}

#[test]
fn code_invalid_request() {
    error_response("code_invalid_request", 21, ResponseCode::InvalidRequest, "");
}

#[test]
fn code_method_not_found() {
    error_response(
        "code_method_not_found",
        22,
        ResponseCode::MethodNotFound,
        "unknown method 99",
    );
}

#[test]
fn code_server_error() {
    error_response("code_server_error", 23, ResponseCode::ServerError, "");
}

#[test]
fn code_reserved() {
    error_response("code_reserved", 24, ResponseCode::Reserved(999), "");
}

#[test]
fn code_application() {
    error_response(
        "code_application",
        25,
        ResponseCode::Application(1000),
        "app",
    );
}

#[test]
fn chain_state_answer() {
    let resp = response("chain_state_answer", 9);
    assert_eq!(resp.code, CHAIN_STATE_NOT_SERVED);
    assert!(resp.message().contains("TBD"));
    assert!(matches!(
        resp.decode_result(EthMethod::BeaconChainState, &limits()),
        Err(EthError::ErrorResponse { .. })
    ));
}

// ---- malformed ----

#[test]
fn truncated() {
    let bytes = vector("truncated");
    let mut buf = BytesMut::from(&bytes[..]);
    let mut codec = EthCodec::default();
    assert!(codec.decode(&mut buf).expect("no error yet").is_none());
    assert_eq!(codec.pending_len(), Some(bytes.len() + 1));
    assert!(matches!(
        EthFrame::parse(&bytes, limits()),
        Err(EthError::Incomplete {
            have: 110,
            need: 111
        })
    ));
}

#[test]
fn truncated_prefix() {
    let mut buf = BytesMut::from(&vector("truncated_prefix")[..]);
    assert!(EthCodec::default().decode(&mut buf).expect("ok").is_none());
}

#[test]
fn bad_prefix() {
    assert!(matches!(reject("bad_prefix"), EthError::BadPrefix { found } if found == b"EWP"));
}

#[test]
fn over_long_length() {
    assert!(matches!(
        reject("over_long_length"),
        EthError::MessageTooLarge {
            len: 0xFFFF_FFFF,
            max: 0x0100_0000
        }
    ));
}

#[test]
fn length_over_limit_by_one() {
    assert!(matches!(
        reject("length_over_limit_by_one"),
        EthError::MessageTooLarge {
            len: 0x0100_0001,
            ..
        }
    ));
}

#[test]
fn empty_message() {
    let (err, reply) = bad_request("empty_message");
    assert!(matches!(err, EthError::UnknownKind { found: None }));
    assert!(reply.is_none());
}

#[test]
fn unknown_kind() {
    let (err, reply) = bad_request("unknown_kind");
    assert!(matches!(err, EthError::UnknownKind { found: Some(2) }));
    assert!(reply.is_none());
}

fn answered(name: &str, id: u64, code: ResponseCode) -> EthError {
    let (err, reply) = bad_request(name);
    let reply = reply.unwrap_or_else(|| panic!("{name} is answered"));
    assert_eq!(
        (reply.id, reply.code),
        (RequestId(id), code),
        "{name}: {err}"
    );
    assert_eq!(reply.message(), err.to_string());
    err
}

#[test]
fn short_envelope() {
    let err = answered("short_envelope", 30, ResponseCode::ParseError);
    assert!(matches!(err, EthError::MalformedRequest { .. }));
}

#[test]
fn envelope_offset_out_of_range() {
    let err = answered("envelope_offset_out_of_range", 31, ResponseCode::ParseError);
    assert!(err
        .to_string()
        .contains("offset of the variable part is 256"));
}

fn bad_body(name: &str, id: u64, method: EthMethod) {
    let err = answered(name, id, ResponseCode::ParseError);
    assert!(
        matches!(err, EthError::BadRequestBody { method: m, .. } if m == method),
        "{name}: {err}"
    );
}

#[test]
fn hello_body_truncated() {
    bad_body("hello_body_truncated", 32, EthMethod::Hello);
}

#[test]
fn bodies_offset_out_of_range() {
    bad_body(
        "bodies_offset_out_of_range",
        33,
        EthMethod::BeaconBlockBodies,
    );
}

#[test]
fn status_offset_out_of_range() {
    bad_body("status_offset_out_of_range", 34, EthMethod::GetStatus);
}

#[test]
fn unknown_method() {
    let err = answered("unknown_method", 35, ResponseCode::MethodNotFound);
    assert!(matches!(err, EthError::UnknownMethod { method_id: 99, .. }));
}

#[test]
fn roots_count_over_cap() {
    let err = answered("roots_count_over_cap", 36, ResponseCode::InvalidRequest);
    assert!(err.to_string().contains("count 32769"));
}

#[test]
fn roots_response_descending() {
    let resp = response("roots_response_descending", 37);
    let err = resp
        .decode_result(EthMethod::BeaconBlockRoots, &limits())
        .expect_err("not ascending");
    assert!(matches!(err, EthError::InvalidResponse { .. }));
    assert!(err.reply().is_none() && !err.breaks_stream());
}

#[test]
fn a_stream_of_every_valid_vector_decodes_in_order() {
    // All valid vectors back to back, as one peer could send them: each comes out whole.
    let names: Vec<&str> = VECTORS
        .names()
        .filter(|n| {
            EthFrame::parse(&vector(n), limits()).is_ok_and(|f| EthMessage::from_frame(&f).is_ok())
        })
        .collect();
    assert!(names.len() >= 20);
    let mut buf = BytesMut::new();
    for n in &names {
        buf.extend_from_slice(&vector(n));
    }
    let mut codec = EthCodec::default();
    for n in &names {
        let frame = codec.decode(&mut buf).expect("decode").expect("whole");
        assert_eq!(frame.to_bytes().expect("bytes")[..], vector(n)[..], "{n}");
    }
    assert!(buf.is_empty());
}
