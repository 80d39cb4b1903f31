//! The relay between two peers of the ETH raw-TCP dialect on 127.0.0.1: two real nodes sync
//! through it by roots (every message decoded, matched and clean), and a fake ETH upstream that
//! answers wrongly is reported by deviation code.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hobbits_actors::node::{start_node, NodeParts};
use hobbits_actors::sync::SyncConfig;
use hobbits_actors::NodeConfig;
use hobbits_chain::{Epoch, Root, Slot};
use hobbits_codec::eth::{
    BlockRootsRequest, EthCodec, EthHello, EthMessage, EthRequest, EthRequestBody, EthResponse,
    EthResponseBody, ResponseCode,
};
use hobbits_codec::rpc::RequestId;
use hobbits_tools::relay::{DeviationCode, RelayDialect, RelayDirection};
use support::{seed_blocks, start_relay, DEADLINE};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

use RelayDirection::{ClientToServer as C2S, ServerToClient as S2C};

/// B starts empty with no Hobbits peer and dials A's ETH listener through the relay: it reaches
/// A's head by roots, headers and bodies, and the relay decodes every message as ETH, matches
/// every response and reports no deviation.
#[actix_rt::test]
async fn two_nodes_sync_over_eth_through_the_relay() {
    let eth_any = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let a = start_node(
        NodeConfig::local_test(),
        NodeParts {
            eth_listen: eth_any,
            ..NodeParts::default()
        },
    )
    .await
    .expect("node a");
    seed_blocks(&a, 40).await;
    let a_head = a.store.head().await.expect("a head");
    let mut relay = start_relay(a.eth_listen_addr.expect("eth listener"), |c| {
        c.dialect = RelayDialect::Eth;
    })
    .await;
    let b = start_node(
        NodeConfig::local_test(),
        NodeParts {
            sync: Some(SyncConfig::default()),
            eth_peers: vec![relay.listen_addr()],
            ..NodeParts::default()
        },
    )
    .await
    .expect("node b");
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        let head = b.store.head().await.expect("b head");
        if head == a_head {
            break;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "b stuck at {head:?}, a at {a_head:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b.shutdown(Duration::from_secs(2)).await;
    a.shutdown(Duration::from_secs(2)).await;
    let (summary, log) = support::shut_down_relay(&mut relay).await;
    for (dir, label) in [
        (C2S, "hello(0)"),
        (S2C, "hello(0) -> 0"),
        (C2S, "beacon_block_roots(10)"),
        (S2C, "beacon_block_roots(10) -> 0"),
        (C2S, "beacon_block_headers(11)"),
        (S2C, "beacon_block_headers(11) -> 0"),
        (C2S, "beacon_block_bodies(12)"),
        (S2C, "beacon_block_bodies(12) -> 0"),
    ] {
        assert!(
            summary.frame_count(dir, "ETH", label) >= 1,
            "{label}: {summary}"
        );
    }
    assert!(summary.deviations.is_empty(), "{summary}");
    assert!(
        log.iter()
            .any(|l| l.contains("ETH beacon_block_bodies(12) -> 0") && l.contains("bodies=")),
        "bodies decoded: {log:?}"
    );
}

fn hello() -> EthHello {
    EthHello {
        network_id: 1,
        chain_id: 1,
        finalized_root: Root::default(),
        finalized_epoch: Epoch(0),
        best_root: Root::default(),
        best_slot: Slot(0),
    }
}

/// A fake ETH upstream answers every request wrongly in turn: a success to a request over the
/// cap, a response to an id never asked, an undefined code; the client reuses an id. Each is
/// reported by its code, and the bytes still pass unchanged (the client reads the answers).
#[actix_rt::test]
async fn a_fake_eth_peer_is_reported_by_deviation_code() {
    let server = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let upstream = server.local_addr().expect("addr");
    let fake = tokio::spawn(async move {
        let (stream, _) = server.accept().await.expect("accept");
        let mut wire = Framed::new(stream, EthCodec::default());
        let mut n = 0u64;
        while let Some(Ok(frame)) = wire.next().await {
            let Ok(EthMessage::Request(req)) = EthMessage::from_frame(&frame) else {
                continue;
            };
            n += 1;
            let reply = match n {
                // Over the cap, yet answered with success.
                1 => EthResponse::success(req.id, &EthResponseBody::Hello(hello())),
                // An id nobody asked.
                2 => EthResponse::error(RequestId(999), ResponseCode::ServerError, "?"),
                // An undefined code.
                _ => EthResponse::error(req.id, ResponseCode::from_u16(77), "odd"),
            };
            if wire.send(EthMessage::from(reply).to_frame()).await.is_err() {
                break;
            }
        }
    });
    let mut relay = start_relay(upstream, |c| c.dialect = RelayDialect::Eth).await;
    let stream = TcpStream::connect(relay.listen_addr())
        .await
        .expect("connect");
    let mut client = Framed::new(stream, EthCodec::default());
    let roots = |count| {
        EthRequestBody::BeaconBlockRoots(BlockRootsRequest {
            start_slot: Slot(0),
            count,
        })
    };
    for (id, count) in [(1, 40_000), (2, 4), (2, 4)] {
        let req = EthRequest::new(RequestId(id), &roots(count));
        client
            .send(EthMessage::from(req).to_frame())
            .await
            .expect("send");
    }
    for _ in 0..3 {
        let got = tokio::time::timeout(DEADLINE, client.next()).await;
        assert!(matches!(got, Ok(Some(Ok(_)))), "answer forwarded: {got:?}");
    }
    drop(client);
    let (summary, _log) = support::shut_down_relay(&mut relay).await;
    fake.abort();
    for code in [
        DeviationCode::EthCount,
        DeviationCode::EthWrongCode,
        DeviationCode::EthIdReuse,
        DeviationCode::UnmatchedResponse,
        DeviationCode::EthResponseCode,
    ] {
        assert!(summary.deviation_count(code) >= 1, "{code}: {summary}");
    }
}
