//! ETH peers are peers like any other (issue 14, item 3), on 127.0.0.1: a connection of the ETH
//! raw-TCP dialect takes a pending slot until its hello and counts against the per-address caps
//! of the one peer table (so a Hobbits connection from the same address is refused), an ETH peer
//! fills a `max_peers_per_ip` slot (a Hobbits newcomer from its address is then refused), a fault on
//! the ETH wire is scored and, at the threshold, bans the address for both wires, and the HTTP API
//! lists ETH peers with their dialect and counts them.

mod support;

use std::net::SocketAddr;

use futures_util::SinkExt;
use hobbits_actors::peer_manager::{GetManagerStats, ManagerStats};
use hobbits_actors::peer_table::Dialect;
use hobbits_actors::test_support::http::get;
use hobbits_actors::NodeParts;
use hobbits_codec::eth::{EthCodec, EthHello, EthLimits, EthMessage, EthRequest, EthRequestBody};
use hobbits_codec::rpc::RequestId;
use support::{hello_as, node_config, start, wait_for, RawClient, TestNode, DEADLINE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

async fn stats(node: &TestNode) -> ManagerStats {
    node.node
        .manager
        .send(GetManagerStats)
        .await
        .expect("manager")
}

/// Whether the node closes `stream` (EOF or reset) within the deadline, whatever it sent first.
async fn closed_by_node(mut stream: TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(DEADLINE, read_to_end).await.is_ok()
}

async fn eth_listening(id: u64, config: impl FnOnce(&mut hobbits_actors::NodeConfig)) -> TestNode {
    let mut c = node_config(id, &[]);
    config(&mut c);
    let parts = NodeParts {
        eth_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..NodeParts::default()
    };
    start(c, parts, &[]).await
}

#[actix_rt::test]
async fn a_pending_eth_connection_holds_the_address_pending_slot_for_both_wires() {
    support::init_tracing();
    let node = eth_listening(91, |c| c.limits.max_pending_per_ip = 1).await;
    let eth = node.node.eth_listen_addr.expect("eth listener");
    // No hello: the ETH connection stays pending.
    let _pending = TcpStream::connect(eth).await.expect("connect");
    wait_for("the ETH connection is pending", DEADLINE, || async {
        let peers = node.node.peers().await;
        peers
            .iter()
            .any(|p| p.dialect == Dialect::Eth && !p.handshaked)
            .then_some(())
    })
    .await;
    let hobbits = TcpStream::connect(node.addr()).await.expect("connect");
    assert!(closed_by_node(hobbits).await, "refused: one pending per IP");
    let second_eth = TcpStream::connect(eth).await.expect("connect");
    assert!(
        closed_by_node(second_eth).await,
        "refused on the ETH wire too"
    );
    assert_eq!(stats(&node).await.refused_pending_per_ip, 2);
    node.stop().await;
}

/// Sends our hello on `io` (the node's own, so it is accepted).
async fn eth_hello(node: &TestNode, io: &mut Framed<TcpStream, EthCodec>) {
    let hello = EthHello::from(&node.node.store.hello().await.expect("hello"));
    let req = EthRequest::new(RequestId(1), &EthRequestBody::Hello(hello));
    io.send(EthMessage::Request(req).to_frame())
        .await
        .expect("hello");
}

#[actix_rt::test]
async fn an_eth_peer_fills_the_address_peer_slot_for_both_wires() {
    support::init_tracing();
    let node = eth_listening(94, |c| c.limits.max_peers_per_ip = 1).await;
    let eth = node.node.eth_listen_addr.expect("eth listener");
    let mut io = Framed::new(
        TcpStream::connect(eth).await.expect("connect"),
        EthCodec::new(EthLimits::default()),
    );
    eth_hello(&node, &mut io).await;
    wait_for("the ETH peer", DEADLINE, || async {
        let peers = node.node.peers().await;
        peers
            .iter()
            .any(|p| p.dialect == Dialect::Eth && p.handshaked)
            .then_some(())
    })
    .await;
    // A Hobbits peer from the same address: its HELLO is answered, then the slot is refused.
    let mut raw = RawClient::connect(node.addr()).await.expect("connect");
    let _ = hello_as(&mut raw, &node.node, 4242).await;
    assert!(
        raw.closed_within(DEADLINE).await,
        "no second peer from 127.0.0.1"
    );
    assert_eq!(stats(&node).await.refused_peers_per_ip, 1);
    let peers = node.node.peers().await;
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers[0].dialect, Dialect::Eth);
    drop(io);
    node.stop().await;
}

#[actix_rt::test]
async fn a_fault_on_the_eth_wire_bans_the_address_on_both_wires() {
    support::init_tracing();
    // Loopback IPs are bannable here, so the ban is by address.
    let node = eth_listening(92, |c| c.scoring.ban_loopback_ips = true).await;
    let eth = node.node.eth_listen_addr.expect("eth listener");
    let mut liar = TcpStream::connect(eth).await.expect("connect");
    // Not the `ETH` prefix: the stream cannot be framed (a malformed frame: a ban at once).
    liar.write_all(b"XYZ\x00\x00\x00\x00\x00\x00\x00\x00")
        .await
        .expect("write");
    assert!(closed_by_node(liar).await, "the liar is disconnected");
    wait_for("the ban", DEADLINE, || async {
        (stats(&node).await.bans == 1).then_some(())
    })
    .await;
    let hobbits = TcpStream::connect(node.addr()).await.expect("connect");
    assert!(closed_by_node(hobbits).await, "banned on the Hobbits wire");
    let again = TcpStream::connect(eth).await.expect("connect");
    assert!(closed_by_node(again).await, "banned on the ETH wire");
    let s = stats(&node).await;
    assert_eq!((s.refused_banned, s.penalties), (2, 1), "{s:?}");
    assert!(node.node.peers().await.is_empty());
    node.stop().await;
}

#[actix_rt::test]
async fn the_api_lists_eth_peers_with_their_dialect_and_counts_them() {
    support::init_tracing();
    let mut c = node_config(93, &[]);
    c.limits.max_pending_per_ip = 4;
    let node = start(
        c,
        NodeParts {
            eth_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            http_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..NodeParts::default()
        },
        &[],
    )
    .await;
    let http = node.node.http_server.as_ref().expect("http").local_addr();
    let eth = node.node.eth_listen_addr.expect("eth listener");
    let stream = TcpStream::connect(eth).await.expect("connect");
    let mut io = Framed::new(stream, EthCodec::new(EthLimits::default()));
    eth_hello(&node, &mut io).await;
    let peers = wait_for("the ETH peer in the API", DEADLINE, || async {
        let reply = get(http, "/eth/v1/node/peers", None).await.json();
        let connected = reply["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|p| p["state"] == "connected"));
        connected.then_some(reply)
    })
    .await;
    let p = &peers["data"][0];
    assert_eq!(p["dialect"], "eth");
    assert_eq!(p["direction"], "inbound");
    let address = p["last_seen_p2p_address"].as_str().expect("address");
    assert!(address.starts_with("eth+tcp://127.0.0.1:"), "{address}");
    let count = get(http, "/eth/v1/node/peer_count", None).await.json();
    assert_eq!(count["data"]["connected"], "1");
    // The metrics count it as a peer like any other.
    let metrics = get(http, "/metrics", None).await.text();
    let peers_line = metrics
        .lines()
        .find(|l| l.starts_with("hobbits_peers "))
        .unwrap_or("");
    assert_eq!(peers_line, "hobbits_peers 1", "{metrics}");
    drop(io);
    node.stop().await;
}
