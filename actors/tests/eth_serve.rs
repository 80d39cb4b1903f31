//! The ETH raw-TCP dialect served by a node (`NodeParts::eth_listen`) on 127.0.0.1: a raw client
//! speaking `hobbits_codec::eth` checks every method (hello first, get_status, roots ascending and
//! capped, headers with skip, bodies in request order with a zero body for an unknown root,
//! beacon_chain_state 30, unknown method 30, malformed 10, and the connection surviving them), a
//! hello from another network earning goodbye 2 and a close, and one node dialing another over
//! ETH (`NodeParts::eth_peers`) and reading its roots through its `EthSession`.

mod support;

use std::net::SocketAddr;

use futures_util::SinkExt;
use hobbits_actors::peer_session::eth::{GetEthPeerHello, SendEthRequest};
use hobbits_actors::peer_table::{Dialect, Direction};
use hobbits_actors::NodeParts;
use hobbits_chain::{BeaconBlockBody, Root, Slot};
use hobbits_codec::eth::{
    BlockBodiesRequest, BlockHeadersRequest, BlockRootsRequest, ChainStateRequest, EthCodec,
    EthHello, EthLimits, EthMessage, EthMethod, EthRequest, EthRequestBody, EthResponse,
    EthResponseBody, EthStatus,
};
use hobbits_codec::rpc::RequestId;
use hobbits_codec::ResponseCode;
use support::{chain, node_config, start, wait_for, TestNode, DEADLINE};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

struct EthClient {
    io: Framed<TcpStream, EthCodec>,
    next_id: u64,
}

impl EthClient {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        EthClient {
            io: Framed::new(stream, EthCodec::new(EthLimits::default())),
            next_id: 1,
        }
    }

    async fn send_raw(&mut self, id: u64, method: u16, body: Vec<u8>) {
        let req = EthRequest {
            id: RequestId(id),
            method: EthMethod::from_id(method),
            body: body.into(),
        };
        self.io
            .send(EthMessage::Request(req).to_frame())
            .await
            .expect("send");
    }

    async fn next(&mut self) -> Option<EthMessage> {
        let frame = tokio::time::timeout(DEADLINE, futures_util::StreamExt::next(&mut self.io))
            .await
            .expect("a message in time")?
            .expect("frames");
        Some(EthMessage::from_frame(&frame).expect("message"))
    }

    async fn ask(&mut self, body: EthRequestBody) -> EthResponse {
        let id = self.next_id;
        self.next_id += 1;
        self.send_raw(id, body.method().id(), body.to_ssz()).await;
        self.response(id).await
    }

    async fn response(&mut self, id: u64) -> EthResponse {
        match self.next().await {
            Some(EthMessage::Response(r)) => {
                assert_eq!(r.id, RequestId(id), "response to our request");
                r
            }
            other => panic!("expected a response, got {other:?}"),
        }
    }
}

fn result(resp: &EthResponse, method: EthMethod) -> EthResponseBody {
    resp.decode_result(method, &EthLimits::default())
        .expect("success result")
}

async fn eth_node(id: u64, blocks: u64, eth_peers: Vec<SocketAddr>) -> TestNode {
    let config = node_config(id, &[]);
    let chain = chain(&config, blocks);
    let parts = NodeParts {
        eth_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        eth_peers,
        ..NodeParts::default()
    };
    start(config, parts, &chain).await
}

async fn our_hello(node: &TestNode) -> EthHello {
    EthHello::from(&node.node.store.hello().await.expect("hello"))
}

#[actix_rt::test]
async fn every_method_is_served_and_faults_earn_their_codes() {
    support::init_tracing();
    let node = eth_node(71, 20, vec![]).await;
    let addr = node.node.eth_listen_addr.expect("eth listener");
    let mut c = EthClient::connect(addr).await;

    // Before hello: refused with 20, not served.
    let early = c
        .ask(EthRequestBody::GetStatus(EthStatus::new([0; 32], "t", 1)))
        .await;
    assert_eq!(early.code, ResponseCode::InvalidRequest);

    // hello: the node answers with its own (head at slot 20).
    let mut hello = our_hello(&node).await;
    hello.best_slot = Slot(0);
    let answer = c.ask(EthRequestBody::Hello(hello)).await;
    let EthResponseBody::Hello(theirs) = result(&answer, EthMethod::Hello) else {
        panic!("hello");
    };
    assert_eq!(theirs.best_slot, Slot(20));
    assert_eq!(theirs.best_root, node.head().await.root);

    let status = c
        .ask(EthRequestBody::GetStatus(EthStatus::new([0; 32], "t", 1)))
        .await;
    let EthResponseBody::GetStatus(s) = result(&status, EthMethod::GetStatus) else {
        panic!("status");
    };
    assert!(!s.user_agent.is_empty());

    // Roots: ascending, as many as asked; a count beyond 32768 is 20.
    let roots = c
        .ask(EthRequestBody::BeaconBlockRoots(BlockRootsRequest {
            start_slot: Slot(5),
            count: 4,
        }))
        .await;
    let EthResponseBody::BeaconBlockRoots(r) = result(&roots, EthMethod::BeaconBlockRoots) else {
        panic!("roots");
    };
    let slots: Vec<u64> = r.roots.iter().map(|p| p.slot.0).collect();
    assert_eq!(slots, vec![5, 6, 7, 8]);
    let too_many = c
        .ask(EthRequestBody::BeaconBlockRoots(BlockRootsRequest {
            start_slot: Slot(0),
            count: 32769,
        }))
        .await;
    assert_eq!(too_many.code, ResponseCode::InvalidRequest);

    // Headers from slot 5 with skip 1: slots 5, 7, 9.
    let headers = c
        .ask(EthRequestBody::BeaconBlockHeaders(BlockHeadersRequest {
            start_root: r.roots[0].block_root,
            start_slot: Slot(5),
            max_headers: 3,
            skip_slots: 1,
        }))
        .await;
    let EthResponseBody::BeaconBlockHeaders(h) = result(&headers, EthMethod::BeaconBlockHeaders)
    else {
        panic!("headers");
    };
    let slots: Vec<u64> = h.headers.iter().map(|h| h.slot.0).collect();
    assert_eq!(slots, vec![5, 7, 9]);

    // Bodies in request order, a zero body for an unknown root.
    let unknown = Root([0x5a; 32]);
    let bodies = c
        .ask(EthRequestBody::BeaconBlockBodies(BlockBodiesRequest {
            block_roots: vec![r.roots[3].block_root, unknown, r.roots[0].block_root],
        }))
        .await;
    let EthResponseBody::BeaconBlockBodies(b) = result(&bodies, EthMethod::BeaconBlockBodies)
    else {
        panic!("bodies");
    };
    assert_eq!(b.block_bodies.len(), 3);
    assert_eq!(b.block_bodies[1], BeaconBlockBody::default());
    for (i, header) in [(0, 3), (2, 0)] {
        let block = node.node.store.block(r.roots[header].block_root).await;
        let block = block.expect("store").expect("block");
        assert_eq!(b.block_bodies[i], block.body);
    }

    // beacon_chain_state: 30 with a text; unknown method 30; malformed body 10.
    let state = c
        .ask(EthRequestBody::BeaconChainState(ChainStateRequest {
            hashes: vec![unknown],
        }))
        .await;
    assert_eq!(state.code, ResponseCode::MethodNotFound);
    assert!(state.message().contains("TBD"), "{}", state.message());
    c.send_raw(900, 99, vec![1, 2, 3]).await;
    assert_eq!(c.response(900).await.code, ResponseCode::MethodNotFound);
    c.send_raw(901, 10, vec![1, 2, 3]).await;
    assert_eq!(c.response(901).await.code, ResponseCode::ParseError);

    // The connection survives them.
    let again = c
        .ask(EthRequestBody::GetStatus(EthStatus::new([0; 32], "t", 2)))
        .await;
    assert_eq!(again.code, ResponseCode::Success);
    node.stop().await;
}

#[actix_rt::test]
async fn a_hello_from_another_network_earns_goodbye_2_and_a_close() {
    support::init_tracing();
    let node = eth_node(72, 3, vec![]).await;
    let addr = node.node.eth_listen_addr.expect("eth listener");
    let mut c = EthClient::connect(addr).await;
    let mut hello = our_hello(&node).await;
    hello.network_id = hello.network_id.wrapping_add(1);
    c.send_raw(1, 0, EthRequestBody::Hello(hello).to_ssz())
        .await;
    let Some(EthMessage::Request(bye)) = c.next().await else {
        panic!("goodbye expected");
    };
    let body = bye
        .decode_body(&EthLimits::default())
        .expect("goodbye body");
    let EthRequestBody::Goodbye(g) = body else {
        panic!("goodbye expected, got {body:?}");
    };
    assert_eq!(g.reason, 2);
    assert!(c.next().await.is_none(), "the node closes the connection");
    node.stop().await;
}

#[actix_rt::test]
async fn a_node_dials_an_eth_peer_and_reads_its_roots() {
    support::init_tracing();
    let server = eth_node(73, 12, vec![]).await;
    let addr = server.node.eth_listen_addr.expect("eth listener");
    let client = eth_node(74, 0, vec![addr]).await;
    // Both ends list the other as a handshaked ETH peer of their one peer manager.
    let dialed = wait_for("the dialed ETH peer", DEADLINE, || async {
        let peers = client.node.peers().await;
        peers.into_iter().find(|p| p.handshaked)
    })
    .await;
    assert_eq!(
        (dialed.dialect, dialed.direction, dialed.addr),
        (Dialect::Eth, Direction::Outbound, addr)
    );
    assert_eq!(dialed.hello.as_ref().map(|h| h.best_slot), Some(Slot(12)));
    let accepted = wait_for("the accepted ETH peer", DEADLINE, || async {
        let peers = server.node.peers().await;
        peers.into_iter().find(|p| p.handshaked)
    })
    .await;
    assert_eq!(
        (accepted.dialect, accepted.direction),
        (Dialect::Eth, Direction::Inbound)
    );
    assert!(
        accepted
            .session
            .request(hobbits_actors::RpcRequest::Status(
                hobbits_chain::rpc::GetStatus::new("t", 1)
            ))
            .await
            .is_err(),
        "no Hobbits RPC on the ETH wire"
    );
    let session = dialed.eth.expect("the ETH session");
    let hello = wait_for("the hello exchange", DEADLINE, || async {
        session.send(GetEthPeerHello).await.ok().flatten()
    })
    .await;
    assert_eq!(hello.best_slot, Slot(12));
    let answer = session
        .send(SendEthRequest {
            request: EthRequestBody::BeaconBlockRoots(BlockRootsRequest {
                start_slot: Slot(1),
                count: 100,
            }),
        })
        .await
        .expect("session")
        .expect("roots");
    let EthResponseBody::BeaconBlockRoots(r) = answer else {
        panic!("roots");
    };
    assert_eq!(r.roots.len(), 12);
    assert!(r.roots.windows(2).all(|w| w[0].slot < w[1].slot));
    client.stop().await;
    server.stop().await;
}

/// The bridge: a Hobbits-only producer, a node speaking both wires that dials it by Hobbits, and
/// an ETH-only node that dials the bridge by ETH; the ETH-only node follows the producer's head
/// (sync through roots, then polling, since the dialect has no gossip).
#[actix_rt::test]
async fn a_hobbits_only_and_an_eth_only_node_converge_through_a_bridge() {
    support::init_tracing();
    let mut pc = node_config(81, &[]);
    pc.producer = Some(hobbits_actors::ProducerConfig {
        slot_duration: std::time::Duration::from_millis(200),
    });
    let blocks = chain(&pc, 40);
    let producer = start(pc, NodeParts::full(), &blocks).await;
    let bridge = start(
        node_config(82, &[producer.addr()]),
        NodeParts {
            eth_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..NodeParts::full()
        },
        &[],
    )
    .await;
    let bridge_eth = bridge.node.eth_listen_addr.expect("bridge eth");
    let eth_only = start(
        node_config(83, &[]),
        NodeParts {
            eth_peers: vec![bridge_eth],
            ..NodeParts::full()
        },
        &[],
    )
    .await;
    let deadline = std::time::Duration::from_secs(60);
    let met = wait_for(
        "the ETH-only node reaches the producer's head",
        deadline,
        || async {
            let (mine, theirs) = (eth_only.head().await, producer.head().await);
            (mine == theirs && mine.slot > Slot(40)).then_some(mine)
        },
    )
    .await;
    let later = Slot(met.slot.0 + 3);
    wait_for("the ETH-only node follows by polling", deadline, || async {
        let (mine, theirs) = (eth_only.head().await, producer.head().await);
        (mine.slot >= later && mine == theirs).then_some(())
    })
    .await;
    let dialects: Vec<_> = eth_only
        .node
        .peers()
        .await
        .iter()
        .filter(|p| p.handshaked)
        .map(|p| p.dialect)
        .collect();
    assert_eq!(
        dialects,
        vec![Dialect::Eth],
        "the ETH-only node's one peer is the bridge, over ETH"
    );
    eth_only.stop().await;
    bridge.stop().await;
    producer.stop().await;
}

#[actix_rt::test]
async fn a_hello_naming_a_finalized_root_not_in_our_chain_earns_goodbye_2() {
    support::init_tracing();
    let node = eth_node(75, 3, vec![]).await;
    let mut c = EthClient::connect(node.node.eth_listen_addr.expect("eth listener")).await;
    let mut hello = our_hello(&node).await;
    hello.finalized_root = Root([0x77; 32]);
    c.send_raw(1, 0, EthRequestBody::Hello(hello).to_ssz())
        .await;
    let Some(EthMessage::Request(bye)) = c.next().await else {
        panic!("goodbye expected");
    };
    let body = bye.decode_body(&EthLimits::default()).expect("body");
    assert!(
        matches!(body, EthRequestBody::Goodbye(g) if g.reason == 2),
        "{body:?}"
    );
    node.stop().await;
}

/// A fake ETH peer that lists real roots and headers but answers bodies with zero bodies: the
/// syncing node imports nothing from it, penalises it each round in the manager's score book
/// and, at the ban threshold, leaves with goodbye 3.
#[actix_rt::test]
async fn a_peer_sending_bodies_that_are_not_its_headers_is_left_with_goodbye_3() {
    support::init_tracing();
    let reference = eth_node(76, 5, vec![]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let fake = listener.local_addr().expect("addr");
    let node = start(
        node_config(77, &[]),
        NodeParts {
            eth_peers: vec![fake],
            ..NodeParts::full()
        },
        &[],
    )
    .await;
    let (stream, _) = listener.accept().await.expect("the node dials");
    let mut c = EthClient {
        io: Framed::new(stream, EthCodec::new(EthLimits::default())),
        next_id: 1,
    };
    let limits = EthLimits::default();
    let goodbye = loop {
        let Some(EthMessage::Request(req)) = c.next().await else {
            panic!("the node closed without goodbye");
        };
        let body = req.decode_body(&limits).expect("request body");
        let honest = |b: EthRequestBody| async {
            reference
                .node
                .store
                .serve_eth(b)
                .await
                .expect("store")
                .expect("served")
        };
        let answer = match body {
            EthRequestBody::Hello(_) => EthResponseBody::Hello(our_hello(&reference).await),
            EthRequestBody::Goodbye(g) => break g.reason,
            EthRequestBody::BeaconBlockBodies(r) => {
                EthResponseBody::BeaconBlockBodies(hobbits_codec::eth::BlockBodiesResponse {
                    block_bodies: vec![BeaconBlockBody::default(); r.block_roots.len()],
                })
            }
            other => honest(other).await,
        };
        let resp = EthResponse::success(req.id, &answer);
        c.io.send(EthMessage::Response(resp).to_frame())
            .await
            .expect("send");
    };
    assert_eq!(goodbye, 3);
    assert_eq!(node.head().await.slot, Slot(0), "nothing imported");
    let stats = node
        .node
        .manager
        .send(hobbits_actors::peer_manager::GetManagerStats)
        .await
        .expect("manager");
    assert_eq!(stats.bans, 1, "banned by the score book: {stats:?}");
    assert!(
        stats.penalties >= 10,
        "one penalty per lying round: {stats:?}"
    );
    node.stop().await;
    reference.stop().await;
}
