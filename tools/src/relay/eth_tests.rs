//! Unit tests of [`super::eth::EthPairAnalyzer`], driven without a runtime or sockets: messages
//! built with the codec's ETH types, cut where a test needs it.

use std::time::{Duration, Instant};

use hobbits_chain::{Epoch, Root, Slot};
use hobbits_codec::eth::{
    BlockBodiesRequest, BlockBodiesResponse, BlockRootSlot, BlockRootsRequest, BlockRootsResponse,
    EthFrame, EthHello, EthLimits, EthMessage, EthRequest, EthRequestBody, EthResponse,
    EthResponseBody, ResponseCode,
};
use hobbits_codec::rpc::RequestId;

use super::analysis::AnalyzerSettings;
use super::deviation::DeviationCode;
use super::eth::EthPairAnalyzer;
use super::record::{ConnectionId, RelayDirection, RelayEvent, RelayedFrame, RpcRole};

const C2S: RelayDirection = RelayDirection::ClientToServer;
const S2C: RelayDirection = RelayDirection::ServerToClient;

fn analyzer() -> EthPairAnalyzer {
    EthPairAnalyzer::new(
        ConnectionId(1),
        AnalyzerSettings {
            request_timeout: Duration::from_secs(2),
            ..AnalyzerSettings::default()
        },
        EthLimits::default(),
    )
}

fn bytes(m: impl Into<EthMessage>) -> Vec<u8> {
    m.into().to_frame().to_bytes().expect("encode").to_vec()
}

fn request(id: u64, body: EthRequestBody) -> Vec<u8> {
    bytes(EthRequest::new(RequestId(id), &body))
}

fn success(id: u64, body: EthResponseBody) -> Vec<u8> {
    bytes(EthResponse::success(RequestId(id), &body))
}

fn error(id: u64, code: u16) -> Vec<u8> {
    bytes(EthResponse::error(
        RequestId(id),
        ResponseCode::from_u16(code),
        "why",
    ))
}

fn one(a: &mut EthPairAnalyzer, dir: RelayDirection, b: &[u8], now: Instant) -> RelayedFrame {
    let events = a.on_bytes(dir, b, now, 0);
    let frames: Vec<_> = events.iter().filter_map(RelayEvent::frame).collect();
    assert_eq!(frames.len(), 1, "one message expected, got {events:?}");
    frames[0].clone()
}

fn codes(f: &RelayedFrame) -> Vec<DeviationCode> {
    f.deviations.iter().map(|d| d.code).collect()
}

fn hello() -> EthHello {
    EthHello {
        network_id: 1,
        chain_id: 1,
        finalized_root: Root::default(),
        finalized_epoch: Epoch(0),
        best_root: Root([5; 32]),
        best_slot: Slot(9),
    }
}

fn roots(slots: &[u64]) -> EthResponseBody {
    EthResponseBody::BeaconBlockRoots(BlockRootsResponse {
        roots: slots
            .iter()
            .map(|&s| BlockRootSlot {
                block_root: Root([s as u8; 32]),
                slot: Slot(s),
            })
            .collect(),
    })
}

fn roots_request(count: u64) -> EthRequestBody {
    EthRequestBody::BeaconBlockRoots(BlockRootsRequest {
        start_slot: Slot(1),
        count,
    })
}

#[test]
fn hello_exchange_is_clean_matched_and_split_anywhere() {
    let now = Instant::now();
    let req = request(1, EthRequestBody::Hello(hello()));
    let resp = success(1, EthResponseBody::Hello(hello()));
    // Byte by byte gives the same record as whole.
    let mut a = analyzer();
    let mut got = Vec::new();
    for b in &req {
        got.extend(a.on_bytes(C2S, std::slice::from_ref(b), now, 0));
    }
    let frames: Vec<_> = got.iter().filter_map(RelayEvent::frame).collect();
    assert_eq!(frames.len(), 1);
    let f = frames[0];
    assert!(f.deviations.is_empty(), "{f}");
    assert_eq!(f.message.label(), "hello(0)");
    let line = f.to_string();
    assert!(
        line.contains("ETH hello(0) id=1 request") && line.contains("best_slot=9"),
        "{line}"
    );
    let r = one(&mut a, S2C, &resp, now + Duration::from_millis(4));
    assert!(r.deviations.is_empty(), "{r}");
    assert_eq!(r.message.label(), "hello(0) -> 0");
    assert!(r.to_string().contains("response (4ms)"), "{r}");
    assert!(matches!(
        a.finish(now),
        RelayEvent::ConnectionClosed { unanswered, .. } if unanswered.is_empty()
    ));
}

#[test]
fn unknown_ids_reused_ids_and_unanswered_requests() {
    let now = Instant::now();
    let mut a = analyzer();
    let stray = one(
        &mut a,
        S2C,
        &success(7, EthResponseBody::Hello(hello())),
        now,
    );
    assert_eq!(codes(&stray), vec![DeviationCode::UnmatchedResponse]);
    assert_eq!(stray.message.label(), "? -> 0");
    one(&mut a, C2S, &request(2, roots_request(4)), now);
    let again = one(&mut a, C2S, &request(2, roots_request(4)), now);
    assert_eq!(codes(&again), vec![DeviationCode::EthIdReuse]);
    // The same id from the other side is its own request, not a reuse.
    assert!(codes(&one(&mut a, S2C, &request(2, roots_request(4)), now)).is_empty());
    // Goodbye is one-way: never outstanding.
    let bye = one(
        &mut a,
        C2S,
        &request(
            3,
            EthRequestBody::Goodbye(hobbits_chain::rpc::Goodbye { reason: 1 }),
        ),
        now,
    );
    assert!(bye.deviations.is_empty());
    let events = a.check_timeouts(now + Duration::from_secs(2), 0);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| matches!(e,
        RelayEvent::DeviationFound { deviation, .. } if deviation.code == DeviationCode::UnansweredRequest)));
    assert!(a.check_timeouts(now + Duration::from_secs(9), 0).is_empty());
}

#[test]
fn counts_over_caps_and_response_codes() {
    let now = Instant::now();
    let mut a = analyzer();
    // count above 32768: ETH_COUNT; it earns 20, and a success is the wrong answer.
    let big = one(&mut a, C2S, &request(1, roots_request(40_000)), now);
    assert_eq!(codes(&big), vec![DeviationCode::EthCount]);
    let ok = one(&mut a, S2C, &success(1, roots(&[1])), now);
    assert_eq!(codes(&ok), vec![DeviationCode::EthWrongCode]);
    one(&mut a, C2S, &request(2, roots_request(40_000)), now);
    assert!(codes(&one(&mut a, S2C, &error(2, 20), now)).is_empty());
    // More roots than count; roots out of order.
    one(&mut a, C2S, &request(3, roots_request(2)), now);
    let over = one(&mut a, S2C, &success(3, roots(&[1, 2, 3])), now);
    assert_eq!(codes(&over), vec![DeviationCode::EthCount]);
    one(&mut a, C2S, &request(4, roots_request(8)), now);
    let order = one(&mut a, S2C, &success(4, roots(&[3, 2])), now);
    assert_eq!(codes(&order), vec![DeviationCode::EthRootsOrder]);
    // Not one body per root asked.
    let ask = EthRequestBody::BeaconBlockBodies(BlockBodiesRequest {
        block_roots: vec![Root([1; 32]), Root([2; 32])],
    });
    one(&mut a, C2S, &request(5, ask), now);
    let short = EthResponseBody::BeaconBlockBodies(BlockBodiesResponse {
        block_bodies: vec![Default::default()],
    });
    assert_eq!(
        codes(&one(&mut a, S2C, &success(5, short), now)),
        vec![DeviationCode::EthCount]
    );
    // An undefined code; a parse error for a valid request.
    one(&mut a, C2S, &request(6, roots_request(1)), now);
    assert_eq!(
        codes(&one(&mut a, S2C, &error(6, 55), now)),
        vec![DeviationCode::EthResponseCode]
    );
    one(&mut a, C2S, &request(7, roots_request(1)), now);
    assert_eq!(
        codes(&one(&mut a, S2C, &error(7, 10), now)),
        vec![DeviationCode::EthWrongCode]
    );
    // An application code (>= 1000) is the peer's own business.
    one(&mut a, C2S, &request(8, roots_request(1)), now);
    assert!(codes(&one(&mut a, S2C, &error(8, 1001), now)).is_empty());
}

#[test]
fn unknown_methods_bad_bodies_and_kinds() {
    let now = Instant::now();
    let mut a = analyzer();
    let unknown = bytes(EthRequest {
        id: RequestId(1),
        method: hobbits_codec::eth::EthMethod::Unknown(99),
        body: bytes::Bytes::new(),
    });
    assert_eq!(
        codes(&one(&mut a, C2S, &unknown, now)),
        vec![DeviationCode::UnknownMethod]
    );
    let answered = one(&mut a, S2C, &error(1, 30), now);
    assert!(answered.deviations.is_empty(), "{answered}");
    assert!(matches!(
        answered.message,
        super::record::FrameMessage::Eth {
            role: RpcRole::Response { .. },
            ..
        }
    ));
    // A hello body cut short: BAD_MESSAGE, earns 10.
    let bad = bytes(EthRequest {
        id: RequestId(2),
        method: hobbits_codec::eth::EthMethod::Hello,
        body: bytes::Bytes::from_static(&[1, 2, 3]),
    });
    assert_eq!(
        codes(&one(&mut a, C2S, &bad, now)),
        vec![DeviationCode::BadMessage]
    );
    assert!(codes(&one(&mut a, S2C, &error(2, 10), now)).is_empty());
    // Kind byte 7.
    let mut odd = EthFrame::new(vec![7u8; 15])
        .to_bytes()
        .expect("frame")
        .to_vec();
    assert_eq!(
        codes(&one(&mut a, C2S, &odd, now)),
        vec![DeviationCode::EthKind]
    );
    // A wrong prefix stops decoding this direction only.
    odd[0] = b'X';
    let events = a.on_bytes(C2S, &odd, now, 0);
    assert!(
        matches!(&events[..], [RelayEvent::DeviationFound { deviation, .. }] if deviation.code == DeviationCode::FramingError),
        "{events:?}"
    );
    assert!(!a.is_decoding(C2S) && a.is_decoding(S2C));
    assert!(a.on_bytes(C2S, &unknown, now, 0).is_empty());
}

#[test]
fn arbitrary_bytes_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    for _ in 0..300 {
        let mut a = analyzer();
        let mut m = request(1, roots_request(3));
        let len = rng.gen_range(0..m.len());
        for _ in 0..3 {
            let i = rng.gen_range(0..m.len());
            m[i] = rng.gen();
        }
        let _ = a.on_bytes(C2S, &m[..len], Instant::now(), 0);
        let _ = a.on_bytes(S2C, &m, Instant::now(), 0);
        let _ = a.finish(Instant::now());
    }
}
