//! Fake peers of the ETH conformance tests, each a TCP server on 127.0.0.1 port 0 serving every
//! connection until the test ends:
//! - [`eth_echo_peer`]: writes every ETH message back unchanged;
//! - [`eth_replay_peer`]: answers hello, get_status and beacon_block_roots with responses
//!   recorded from a real node ([`eth_record_replies`]), ids rewritten to the request's or not;
//! - [`eth_faulty_proxy`]: sits in front of a real node's ETH listener and passes everything
//!   through except one [`EthFault`], so each check can be shown to catch the fault it is about
//!   (and, with [`EthFault::None`], that the proxy alone breaks nothing).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hobbits_chain::{BeaconBlockBody, Epoch, Root, Slot};
use hobbits_codec::eth::{
    BlockRootsRequest, EthCodec, EthFrame, EthHello, EthLimits, EthMessage, EthMethod, EthRequest,
    EthRequestBody, EthResponse, EthResponseBody, EthStatus, ResponseCode, MAX_BLOCK_ROOTS_COUNT,
};
use hobbits_codec::rpc::RequestId;
use hobbits_tools::conformance::eth::EthProbe;
use hobbits_tools::conformance::{CheckId, ConformanceConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

/// Writes every ETH message back unchanged; closes on bytes that do not frame.
pub async fn eth_echo_peer() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut framed = Framed::new(stream, EthCodec::new(EthLimits::default()));
                while let Some(Ok(frame)) = framed.next().await {
                    if framed.send(frame).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Responses recorded from a real node, per method.
#[derive(Debug, Clone)]
pub struct EthRecording {
    /// The response to the first request of each method asked.
    pub replies: HashMap<EthMethod, EthResponse>,
}

/// Records a real node's responses to hello (as a dialer at genesis), get_status and
/// beacon_block_roots from slot 0 with the largest count.
pub async fn eth_record_replies(target: SocketAddr) -> EthRecording {
    let config = ConformanceConfig {
        seed: 99,
        ..ConformanceConfig::default()
    };
    let hello = EthHello::from(&config.initial_hello());
    let mut probe = EthProbe::connect(target, Duration::from_secs(3), hello.clone())
        .await
        .expect("connect");
    let requests = [
        EthRequestBody::Hello(hello),
        EthRequestBody::GetStatus(EthStatus::new([0; 32], "recorder/1", 1_700_000_000_000)),
        EthRequestBody::BeaconBlockRoots(BlockRootsRequest {
            start_slot: Slot(0),
            count: MAX_BLOCK_ROOTS_COUNT,
        }),
    ];
    let mut replies = HashMap::new();
    for body in requests {
        let id = probe.send(&body).await.expect("send");
        let response = probe.response(id).await.expect("recorded response");
        assert!(response.code.is_success(), "{response:?}");
        replies.insert(body.method(), response);
    }
    EthRecording { replies }
}

/// Answers each request with the recorded response to its method (`rewrite_ids`: with the
/// request's id; otherwise with the recorded one); ignores the rest; closes on bytes that do not
/// frame.
pub async fn eth_replay_peer(recording: EthRecording, rewrite_ids: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let recording = recording.clone();
            tokio::spawn(async move {
                let mut framed = Framed::new(stream, EthCodec::new(EthLimits::default()));
                while let Some(Ok(frame)) = framed.next().await {
                    let Ok(EthMessage::Request(req)) = EthMessage::from_frame(&frame) else {
                        continue;
                    };
                    let Some(recorded) = recording.replies.get(&req.method) else {
                        continue;
                    };
                    let mut reply = recorded.clone();
                    if rewrite_ids {
                        reply.id = req.id;
                    }
                    if framed
                        .send(EthMessage::Response(reply).to_frame())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// One way of being wrong, each the subject of one ETH check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EthFault {
    /// Nothing: the proxy is transparent.
    None,
    /// Sends a hello request as soon as a connection is accepted (the acceptor speaking first).
    AcceptorSpeaksFirst,
    /// get_status timestamps in seconds.
    StatusInSeconds,
    /// beacon_block_roots pairs in descending order.
    RootsDescending,
    /// A count above 32768 is clamped and served instead of refused with 20.
    RootsUncapped,
    /// beacon_block_headers served as if skip_slots were 0.
    HeadersIgnoreSkip,
    /// beacon_block_bodies without the zero bodies of unknown roots.
    BodiesNoZero,
    /// beacon_chain_state never answered.
    ChainStateSilent,
    /// An unknown method id never answered.
    UnknownMethodIgnored,
    /// A malformed body answered 20 instead of 10.
    MalformedAnswered20,
    /// A hello on another network is served as if it were on the node's network.
    WrongNetworkAccepted,
    /// A hello naming an unknown finalized root is served as if it named none.
    UnknownFinalizedAccepted,
    /// Every response written twice.
    DuplicateResponses,
    /// A wrong prefix leaves the connection open (and silent).
    BadPrefixKeptOpen,
    /// After a wrong prefix, every new connection is closed at once.
    RefusesAfterBadPrefix,
}

impl EthFault {
    /// Every fault, with the check that must catch it.
    pub const CAUGHT_BY: [(EthFault, CheckId); 14] = [
        (EthFault::AcceptorSpeaksFirst, CheckId::EthHello),
        (EthFault::StatusInSeconds, CheckId::EthGetStatus),
        (EthFault::RootsDescending, CheckId::EthRoots),
        (EthFault::RootsUncapped, CheckId::EthRootsCap),
        (EthFault::HeadersIgnoreSkip, CheckId::EthHeaders),
        (EthFault::BodiesNoZero, CheckId::EthBodies),
        (EthFault::ChainStateSilent, CheckId::EthChainState),
        (EthFault::DuplicateResponses, CheckId::EthPipelined),
        (EthFault::UnknownMethodIgnored, CheckId::EthUnknownMethod),
        (EthFault::MalformedAnswered20, CheckId::EthMalformedSsz),
        (
            EthFault::WrongNetworkAccepted,
            CheckId::EthGoodbyeWrongNetwork,
        ),
        (
            EthFault::UnknownFinalizedAccepted,
            CheckId::EthGoodbyeUnknownFinalized,
        ),
        (EthFault::BadPrefixKeptOpen, CheckId::EthBadPrefixCloses),
        (
            EthFault::RefusesAfterBadPrefix,
            CheckId::EthAcceptsAfterBadPrefix,
        ),
    ];
}

/// A proxy in front of the ETH listener `upstream` (on network `network_id`) with `fault`.
pub async fn eth_faulty_proxy(upstream: SocketAddr, fault: EthFault, network_id: u8) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let poisoned = Arc::new(AtomicBool::new(false));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if fault == EthFault::RefusesAfterBadPrefix && poisoned.load(Ordering::Relaxed) {
                continue; // dropped: closed at once
            }
            let poisoned = poisoned.clone();
            tokio::spawn(proxy(stream, upstream, fault, network_id, poisoned));
        }
    });
    addr
}

async fn proxy(
    client: TcpStream,
    upstream: SocketAddr,
    fault: EthFault,
    network_id: u8,
    poisoned: Arc<AtomicBool>,
) {
    let Ok(up) = TcpStream::connect(upstream).await else {
        return;
    };
    let limits = EthLimits::default();
    let (mut to_client, mut from_client) = Framed::new(client, EthCodec::new(limits)).split();
    let (mut to_node, mut from_node) = Framed::new(up, EthCodec::new(limits)).split();
    // Methods of the client's requests by id, to read the node's responses.
    let mut methods: HashMap<RequestId, EthMethod> = HashMap::new();
    if fault == EthFault::AcceptorSpeaksFirst {
        let hello = EthRequest::new(RequestId(1), &EthRequestBody::Hello(EthHello::default()));
        let _ = to_client.send(EthMessage::Request(hello).to_frame()).await;
    }
    loop {
        tokio::select! {
            from = from_client.next() => match from {
                Some(Ok(frame)) => {
                    let Some(frame) = client_request(frame, fault, network_id, &mut methods) else {
                        continue;
                    };
                    if to_node.send(frame).await.is_err() {
                        return;
                    }
                }
                Some(Err(_)) => {
                    poisoned.store(true, Ordering::Relaxed);
                    if fault == EthFault::BadPrefixKeptOpen {
                        // Hold the connection open, silent, until the test ends.
                        tokio::time::sleep(Duration::from_secs(120)).await;
                    }
                    return;
                }
                None => return,
            },
            from = from_node.next() => match from {
                Some(Ok(frame)) => {
                    let frame = node_response(frame, fault, &methods);
                    let copies = if fault == EthFault::DuplicateResponses { 2 } else { 1 };
                    for frame in std::iter::repeat_n(frame, copies).flatten() {
                        if to_client.send(frame).await.is_err() {
                            return;
                        }
                    }
                }
                _ => return,
            },
        }
    }
}

/// The client's message as forwarded to the node (`None`: dropped).
fn client_request(
    frame: EthFrame,
    fault: EthFault,
    network_id: u8,
    methods: &mut HashMap<RequestId, EthMethod>,
) -> Option<EthFrame> {
    let Ok(EthMessage::Request(req)) = EthMessage::from_frame(&frame) else {
        return Some(frame);
    };
    methods.insert(req.id, req.method);
    if fault == EthFault::UnknownMethodIgnored && matches!(req.method, EthMethod::Unknown(_)) {
        return None;
    }
    let Ok(mut body) = req.decode_body(&EthLimits::default()) else {
        // Over the cap: decode refuses it, so rebuild it clamped from its bytes.
        if fault == EthFault::RootsUncapped && req.method == EthMethod::BeaconBlockRoots {
            let mut bytes = req.body.to_vec();
            if bytes.len() == 16 {
                bytes[8..].copy_from_slice(&MAX_BLOCK_ROOTS_COUNT.to_le_bytes());
            }
            let clamped = EthRequest {
                body: bytes.into(),
                ..req
            };
            return Some(EthMessage::Request(clamped).to_frame());
        }
        return Some(frame);
    };
    match (&mut body, fault) {
        (EthRequestBody::BeaconBlockHeaders(h), EthFault::HeadersIgnoreSkip) => h.skip_slots = 0,
        (EthRequestBody::Hello(h), EthFault::WrongNetworkAccepted) => h.network_id = network_id,
        (EthRequestBody::Hello(h), EthFault::UnknownFinalizedAccepted) => {
            h.finalized_root = Root::ZERO;
            h.finalized_epoch = Epoch(0);
        }
        _ => return Some(frame),
    }
    Some(EthMessage::Request(EthRequest::new(req.id, &body)).to_frame())
}

/// The node's message as forwarded to the client (`None`: dropped).
fn node_response(
    frame: EthFrame,
    fault: EthFault,
    methods: &HashMap<RequestId, EthMethod>,
) -> Option<EthFrame> {
    let Ok(EthMessage::Response(resp)) = EthMessage::from_frame(&frame) else {
        return Some(frame);
    };
    let method = methods.get(&resp.id).copied()?;
    if fault == EthFault::ChainStateSilent && method == EthMethod::BeaconChainState {
        return None;
    }
    if fault == EthFault::MalformedAnswered20 && resp.code == ResponseCode::ParseError {
        let changed = EthResponse {
            code: ResponseCode::InvalidRequest,
            ..resp
        };
        return Some(EthMessage::Response(changed).to_frame());
    }
    let Ok(mut body) = resp.decode_result(method, &EthLimits::default()) else {
        return Some(frame);
    };
    match (&mut body, fault) {
        (EthResponseBody::GetStatus(s), EthFault::StatusInSeconds) => s.timestamp /= 1000,
        (EthResponseBody::BeaconBlockRoots(r), EthFault::RootsDescending) => r.roots.reverse(),
        (EthResponseBody::BeaconBlockBodies(b), EthFault::BodiesNoZero) => {
            b.block_bodies.retain(|b| *b != BeaconBlockBody::default())
        }
        _ => return Some(frame),
    }
    Some(EthMessage::Response(EthResponse::success(resp.id, &body)).to_frame())
}
