//! A raw EWP connection for tests ([`RawClient`]: connect from any 127.0.0.0/8 source address,
//! send frames or bytes, wait for replies with a deadline), RPC frame builders, and a node that
//! dials a raw peer. Sends whatever frames a test asks for; handles no actor messages.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hobbits_chain::rpc::{GetStatus, Hello};
use hobbits_chain::{Epoch, Root, Slot};
use hobbits_codec::rpc::{RequestId, RpcEnvelope, RpcMethod, RpcPayload};
use hobbits_codec::{Frame, FrameCodec, PeerUri, PingFrame};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::codec::Framed;

use super::DEADLINE;
use crate::node::{start_node, NodeParts};
use crate::{NodeConfig, NodeHandle};

/// Starts a memory node with `cfg` whose only configured peer is a raw listener on 127.0.0.1, and
/// accepts the node's dial. Returns the node and the raw end (nothing exchanged yet: the node, as
/// the dialer, sends HELLO first).
pub async fn start_node_dialing_raw_peer(mut cfg: NodeConfig) -> (NodeHandle, RawClient) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    cfg.peers = vec![PeerUri::from_socket_addr(
        listener.local_addr().expect("addr"),
    )];
    let node = start_node(cfg, NodeParts::default()).await.expect("node");
    let (stream, _) = tokio::time::timeout(DEADLINE, listener.accept())
        .await
        .expect("dialed in time")
        .expect("accept");
    let raw = RawClient {
        framed: Framed::new(stream, FrameCodec::default()),
    };
    (node, raw)
}

/// A raw EWP connection.
#[derive(Debug)]
pub struct RawClient {
    /// The framed socket.
    pub framed: Framed<TcpStream, FrameCodec>,
}

impl RawClient {
    /// Connects from `source` (any 127.0.0.0/8 address) to `target`.
    pub async fn connect_from(source: IpAddr, target: SocketAddr) -> std::io::Result<Self> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source, 0))?;
        let stream = socket.connect(target).await?;
        stream.set_nodelay(true)?;
        Ok(RawClient {
            framed: Framed::new(stream, FrameCodec::default()),
        })
    }

    /// Connects from 127.0.0.1.
    pub async fn connect(target: SocketAddr) -> std::io::Result<Self> {
        Self::connect_from([127, 0, 0, 1].into(), target).await
    }

    /// Sends a frame.
    pub async fn send(&mut self, frame: Frame) {
        self.framed.send(frame).await.expect("send frame");
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.framed.get_mut().write_all(bytes).await
    }

    /// The next frame, `None` on EOF / error / deadline.
    pub async fn next(&mut self, deadline: Duration) -> Option<Frame> {
        match tokio::time::timeout(deadline, self.framed.next()).await {
            Ok(Some(Ok(f))) => Some(f),
            _ => None,
        }
    }

    /// Waits for the next RPC frame with `method`, skipping others; `None` if the stream ends.
    pub async fn next_rpc(&mut self, method: RpcMethod, deadline: Duration) -> Option<RpcEnvelope> {
        let end = Instant::now() + deadline;
        loop {
            let left = end.checked_duration_since(Instant::now())?;
            let frame = self.next(left).await?;
            if let Ok(env) = RpcEnvelope::from_frame(&frame) {
                if env.header.method == method {
                    return Some(env);
                }
            }
        }
    }

    /// Whether the peer closed the connection within `deadline` (EOF or reset), ignoring frames.
    pub async fn closed_within(&mut self, deadline: Duration) -> bool {
        let end = Instant::now() + deadline;
        loop {
            let Some(left) = end.checked_duration_since(Instant::now()) else {
                return false;
            };
            match tokio::time::timeout(left, self.framed.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Ping with `body`; returns the pong body.
    pub async fn ping(&mut self, body: &[u8]) -> Option<Bytes> {
        self.send(PingFrame::ping(Bytes::copy_from_slice(body)).to_frame())
            .await;
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.checked_duration_since(Instant::now())?;
            let f = self.next(left).await?;
            if let Ok(p) = PingFrame::from_frame(&f) {
                if p.reply().is_none() {
                    return Some(p.body);
                }
            }
        }
    }

    /// Sends HELLO (request id `id`) and waits for the HELLO reply.
    pub async fn hello(&mut self, id: u64, hello: Hello) -> Option<(RpcEnvelope, Hello)> {
        self.send(rpc_frame(id, RpcPayload::Hello(hello))).await;
        let env = self.next_rpc(RpcMethod::Hello, DEADLINE).await?;
        match env.decode_payload().ok()?.payload {
            RpcPayload::Hello(h) => Some((env, h)),
            _ => None,
        }
    }

    /// GET_STATUS round trip.
    pub async fn status(&mut self, id: u64) -> Option<GetStatus> {
        self.send(rpc_frame(
            id,
            RpcPayload::GetStatus(GetStatus::new("raw-test", 1)),
        ))
        .await;
        let env = self.next_rpc(RpcMethod::GetStatus, DEADLINE).await?;
        assert_eq!(env.header.id, RequestId(id));
        match env.decode_payload().ok()?.payload {
            RpcPayload::GetStatus(s) => Some(s),
            _ => None,
        }
    }
}

/// An RPC frame in the spec shape.
pub fn rpc_frame(id: u64, payload: RpcPayload) -> Frame {
    RpcEnvelope::new(RequestId(id), &payload)
        .to_frame()
        .expect("encode")
}

/// A HELLO at genesis with a zero finalized root.
pub fn genesis_hello(network_id: u8, genesis: Root) -> Hello {
    Hello {
        network_id,
        chain_id: 1,
        latest_finalized_root: Root::ZERO,
        latest_finalized_epoch: Epoch(0),
        best_root: genesis,
        best_slot: Slot(0),
    }
}
