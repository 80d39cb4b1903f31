//! Fake peers for the conformance tests, each a raw TCP server on 127.0.0.1 port 0 that serves
//! every connection until the test ends:
//! - [`echo_peer`]: writes every frame back unchanged (a Hobbits library's echo demo);
//! - [`replay_peer`]: answers each request with a reply recorded from a real node
//!   ([`record_replies`]), the reply's id rewritten to the request's or left as recorded;
//! - [`wrong_peer`]: answers HELLO correctly (so the other checks run) and everything else wrongly,
//!   each method and gossip in its own way (see [`wrong_peer`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hobbits_chain::rpc::{
    AttestationResponse, BeaconStates, BlockBodies, BlockHeaders, GetBlockHeaders, GetStatus, Hello,
};
use hobbits_chain::{Attestation, BeaconBlock, BeaconBlockHeader, BeaconState, Epoch, Root, Slot};
use hobbits_codec::rpc::{RequestId, RpcEnvelope, RpcMethod, RpcPayload};
use hobbits_codec::{Envelope, Frame, FrameCodec, MessageHash, PingFrame, PingKind};
use hobbits_tools::conformance::{ConformanceConfig, Probe};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

/// Serves every accepted connection with `serve` on a fresh task.
async fn serve_all<F, Fut>(serve: F) -> SocketAddr
where
    F: Fn(Framed<TcpStream, FrameCodec>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(Framed::new(stream, FrameCodec::default())));
        }
    });
    addr
}

/// Writes every frame back unchanged; closes on bytes that do not frame.
pub async fn echo_peer() -> SocketAddr {
    serve_all(|mut framed| async move {
        while let Some(Ok(frame)) = framed.next().await {
            if framed.send(frame).await.is_err() {
                return;
            }
        }
    })
    .await
}

/// Replies recorded from a real node: per request method, the reply frame, plus a pong.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The reply to the first request of each method.
    pub replies: HashMap<RpcMethod, Frame>,
    /// The node's pong to a PING.
    pub pong: Frame,
}

/// Records a real node's replies to HELLO, GET_STATUS, GET_BLOCK_HEADERS (ascending from slot 0,
/// skip 0, `max` 64) and a PING, as a dialer at genesis would ask them.
pub async fn record_replies(target: SocketAddr) -> Recording {
    let config = ConformanceConfig {
        seed: 99,
        ..ConformanceConfig::default()
    };
    let mut probe = Probe::connect(target, None, Duration::from_secs(3))
        .await
        .expect("connect");
    let mut replies = HashMap::new();
    let ours = config.initial_hello();
    let requests = [
        (RpcPayload::Hello(ours.clone()), RpcMethod::Hello),
        (
            RpcPayload::GetStatus(GetStatus::new("recorder/1", 1_700_000_000_000)),
            RpcMethod::GetStatus,
        ),
        (
            RpcPayload::GetBlockHeaders(GetBlockHeaders {
                start_root: Root::ZERO,
                start_slot: Slot(0),
                max: 64,
                skip: 0,
                direction: 1, // ascending
            }),
            RpcMethod::BlockHeaders,
        ),
    ];
    for (payload, reply_method) in requests {
        let id = probe.send_request(&payload).await.expect("send");
        let env = probe
            .expect_rpc(reply_method, id, Some(&ours))
            .await
            .expect("recorded reply");
        replies.insert(payload.method(), env.to_frame().expect("frame"));
    }
    let pong = probe.ping(&[7u8; 32]).await.expect("pong");
    Recording {
        replies,
        pong: pong.to_frame(),
    }
}

/// Answers each request with the recorded reply to its method (`rewrite_ids`: with the request's
/// id; otherwise with the recorded id), a PING with the recorded pong; ignores everything else.
pub async fn replay_peer(recording: Recording, rewrite_ids: bool) -> SocketAddr {
    serve_all(move |mut framed| {
        let recording = recording.clone();
        async move {
            while let Some(Ok(frame)) = framed.next().await {
                let reply = match Envelope::from_frame(&frame) {
                    Ok(Envelope::Ping(p)) if p.kind == PingKind::Ping => {
                        Some(recording.pong.clone())
                    }
                    Ok(Envelope::Rpc(req)) => {
                        recording.replies.get(&req.header.method).map(|recorded| {
                            let mut env = RpcEnvelope::from_frame(recorded).expect("recorded");
                            if rewrite_ids {
                                env.header.id = req.header.id;
                            }
                            env.to_frame().expect("frame")
                        })
                    }
                    _ => None,
                };
                if let Some(reply) = reply {
                    if framed.send(reply).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
    .await
}

/// A chain of `n` linked headers from slot 0 (for the wrong peer's HELLO and headers).
fn fake_chain(n: u64) -> Vec<BeaconBlockHeader> {
    let mut out: Vec<BeaconBlockHeader> = Vec::new();
    for slot in 0..n {
        let parent_root = out.last().map_or(Root::ZERO, |h| h.signing_root());
        out.push(BeaconBlockHeader {
            slot: Slot(slot),
            parent_root,
            state_root: Root([slot as u8; 32]),
            body_root: Root([0xb0 ^ slot as u8; 32]),
            signature: Default::default(),
        });
    }
    out
}

/// Answers HELLO correctly (network 1, chain 1, a head at slot 5 of a linked fake chain), on any
/// network and finalized root (never GOODBYE), and each other method wrongly in its own way:
/// - PING with a `pong` whose body is reversed; `pong` with a `pong` (two such peers loop);
/// - GET_STATUS with the time in seconds; the second GET_STATUS of a connection with the first's id;
/// - GET_BLOCK_HEADERS with the chain from the wrong end (`max` respected);
/// - GET_BLOCK_BODIES with blocks whose bodies are not the headers' (body roots differ);
/// - GET_BEACON_STATES with a state nobody asked for; GET_ATTESTATION with another attestation;
/// - GOSSIP relayed to every connection, the sender's included, with a zero message_hash;
/// - an unknown method by closing the connection; bytes that do not frame by keeping it open.
pub async fn wrong_peer() -> SocketAddr {
    let (gossip_tx, _) = tokio::sync::broadcast::channel::<Frame>(64);
    serve_all(move |framed| wrong_connection(framed, gossip_tx.clone())).await
}

async fn wrong_connection(
    mut framed: Framed<TcpStream, FrameCodec>,
    gossip_tx: tokio::sync::broadcast::Sender<Frame>,
) {
    let mut gossip_rx = gossip_tx.subscribe();
    let chain = fake_chain(6);
    let head = chain[chain.len() - 1].signing_root();
    let mut first_status_id: Option<RequestId> = None;
    loop {
        let frame = tokio::select! {
            item = framed.next() => match item {
                Some(Ok(f)) => f,
                Some(Err(_)) => {
                    // Garbage: hold the connection open, reading nothing more.
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
                None => return,
            },
            relayed = gossip_rx.recv() => match relayed {
                Ok(f) => {
                    if framed.send(f).await.is_err() {
                        return;
                    }
                    continue;
                }
                Err(_) => continue,
            },
        };
        let reply = match Envelope::from_frame(&frame) {
            Ok(Envelope::Ping(p)) => {
                let mut body = p.body.to_vec();
                body.reverse();
                Some(PingFrame::pong(Bytes::from(body)).to_frame())
            }
            Ok(Envelope::Gossip(mut g)) => {
                g.header.message_hash = MessageHash([0; 32]);
                let _ = gossip_tx.send(g.to_frame().expect("frame"));
                None
            }
            Ok(Envelope::Rpc(req)) => {
                let mut id = req.header.id;
                let payload = match req.header.method {
                    RpcMethod::Hello => Some(RpcPayload::Hello(Hello {
                        network_id: 1,
                        chain_id: 1,
                        latest_finalized_root: Root::ZERO,
                        latest_finalized_epoch: Epoch(0),
                        best_root: head,
                        best_slot: Slot(5),
                    })),
                    RpcMethod::GetStatus => {
                        id = *first_status_id.get_or_insert(id);
                        Some(RpcPayload::GetStatus(GetStatus::new(
                            "wrong-peer/1",
                            1_700_000_000,
                        )))
                    }
                    RpcMethod::GetBlockHeaders => {
                        let mut headers = chain.clone();
                        if let Ok(RpcPayload::GetBlockHeaders(q)) =
                            req.decode_payload().map(|d| d.payload)
                        {
                            if q.direction == 1 {
                                headers.reverse();
                            }
                            headers.truncate(q.max.min(64) as usize);
                        }
                        let mut reply = BlockHeaders::default();
                        for h in headers {
                            reply.headers.push(h).expect("within the list limit");
                        }
                        Some(RpcPayload::BlockHeaders(reply))
                    }
                    RpcMethod::GetBlockBodies => {
                        let mut reply = BlockBodies::default();
                        for h in chain.iter().take(1) {
                            let block = BeaconBlock {
                                slot: h.slot,
                                parent_root: h.parent_root,
                                state_root: h.state_root,
                                ..BeaconBlock::default()
                            };
                            reply.bodies.push(block).expect("within the list limit");
                        }
                        Some(RpcPayload::BlockBodies(reply))
                    }
                    RpcMethod::GetBeaconStates => {
                        let mut reply = BeaconStates::default();
                        let state = BeaconState {
                            slot: Slot(77),
                            ..BeaconState::default()
                        };
                        reply.states.push(state).expect("within the list limit");
                        Some(RpcPayload::BeaconStates(reply))
                    }
                    RpcMethod::GetAttestation => {
                        let mut attestation = Attestation::default();
                        attestation.data.beacon_block_root = head;
                        Some(RpcPayload::Attestation(AttestationResponse { attestation }))
                    }
                    RpcMethod::Unknown(_) => return,
                    _ => None,
                };
                payload.map(|p| reply_frame(id, &p))
            }
            _ => None,
        };
        if let Some(reply) = reply {
            if framed.send(reply).await.is_err() {
                return;
            }
        }
    }
}

fn reply_frame(id: RequestId, payload: &RpcPayload) -> Frame {
    RpcEnvelope::new(id, payload).to_frame().expect("frame")
}
