//! Test rig for multi-node scenarios: `wait_for` with a deadline, a raw EWP client on any
//! 127.0.0.0/8 source address, frame builders, the reference vectors, seeding a node's store
//! (`seed_blocks`), a node that dials a raw peer (`start_node_dialing_raw_peer`), starting a relay
//! in front of a node (`start_relay`) and closing it with its log (`shut_down_relay`).
#![allow(dead_code)]

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hobbits_actors::chain_store::WithStore;
use hobbits_actors::node::start_memory_node;
use hobbits_actors::relay::{Relay, RelayConfig, RelayHandle, RelaySummary};
use hobbits_actors::{NodeConfig, NodeHandle, NodeHooks};
use hobbits_chain::rpc::{GetStatus, Hello};
use hobbits_chain::{BlockProducer, Epoch, Root, Slot};
use hobbits_codec::rpc::{RequestId, RpcEnvelope, RpcMethod, RpcPayload};
use hobbits_codec::PeerUri;
use hobbits_codec::{Frame, FrameCodec, PingFrame};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::codec::Framed;

/// Default deadline for conditions in tests.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Polls `cond` until it returns `Some`, or fails the test after `deadline`.
pub async fn wait_for<T, F, Fut>(what: &str, deadline: Duration, mut cond: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = cond().await {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Logs to the test output when RUST_LOG is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Imports blocks at slots 1..=`n` (every slot filled, by producer "seed") into `node`'s store.
pub async fn seed_blocks(node: &NodeHandle, n: u64) {
    node.store
        .send(WithStore {
            f: Box::new(move |store| {
                let p = BlockProducer::new("seed", 0);
                for slot in 1..=n {
                    let b = p.produce_on_head(store, Slot(slot)).expect("produce");
                    store.import_block(b).expect("import");
                }
            }),
        })
        .await
        .expect("store");
}

/// Shuts the relay down and returns its summary and its event log (one line per event, also
/// printed for the test output).
pub async fn shut_down_relay(relay: &mut RelayHandle) -> (RelaySummary, Vec<String>) {
    let summary = relay.shutdown().await;
    let mut log = Vec::new();
    while let Some(e) = relay.try_next_event() {
        log.push(e.to_string());
    }
    println!("{}", log.join("\n"));
    (summary, log)
}

/// A local test node configuration.
pub fn config() -> NodeConfig {
    NodeConfig::local_test()
}

/// A reference vector by name (copied from the shared vectors into tests/data).
pub fn vector(name: &str) -> Vec<u8> {
    let data = include_str!("../data/frames.tsv");
    let line = data
        .lines()
        .find(|l| l.split('\t').next() == Some(name))
        .unwrap_or_else(|| panic!("vector {name} missing"));
    let hex_field = line.split('\t').nth(2).expect("hex column");
    hex::decode(hex_field).expect("hex")
}

/// Starts a relay on 127.0.0.1 (port 0) in front of `upstream`; `tune` adjusts its config first.
pub async fn start_relay(upstream: SocketAddr, tune: impl FnOnce(&mut RelayConfig)) -> RelayHandle {
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let mut config = RelayConfig::new(listen, PeerUri::from_socket_addr(upstream));
    tune(&mut config);
    Relay::start(config).await.expect("relay starts")
}

/// Starts a memory node with `cfg` whose only configured peer is a raw listener on 127.0.0.1, and
/// accepts the node's dial. Returns the node and the raw end (nothing exchanged yet: the node, as
/// the dialer, sends HELLO first).
pub async fn start_node_dialing_raw_peer(mut cfg: NodeConfig) -> (NodeHandle, RawClient) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    cfg.peers = vec![PeerUri::from_socket_addr(
        listener.local_addr().expect("addr"),
    )];
    let node = start_memory_node(cfg, NodeHooks::default())
        .await
        .expect("node");
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
pub struct RawClient {
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
