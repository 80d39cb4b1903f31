//! Sync over the ETH wire through roots (roots, then headers, then bodies by root), on 127.0.0.1:
//! 10 000 blocks from a node dialed by `eth+tcp` (no Hobbits peer), and a sync spread over three
//! ETH peers, one of them lying, that still completes from the other two while the liar is
//! penalised.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hobbits_actors::peer_manager::GetManagerStats;
use hobbits_actors::store::StoreClient;
use hobbits_actors::sync::roots::RootsSyncConfig;
use hobbits_chain::BeaconBlockBody;
use hobbits_codec::eth::{
    BlockBodiesResponse, EthCodec, EthHello, EthLimits, EthMessage, EthRequestBody, EthResponse,
    EthResponseBody,
};
use tokio::net::TcpListener;
use tokio::sync::Barrier;
use tokio_util::codec::Framed;

use hobbits_actors::peer_table::Dialect;
use hobbits_actors::NodeParts;
use support::{chain, node_config, start, wait_for, DEADLINE};

#[actix_rt::test]
async fn two_nodes_sync_10000_blocks_over_eth_through_roots() {
    support::init_tracing();
    let config = node_config(91, &[]);
    let blocks = chain(&config, 10_000);
    let source = start(
        config,
        NodeParts {
            eth_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..NodeParts::default()
        },
        &blocks,
    )
    .await;
    let tip = source.head().await;
    let t0 = Instant::now();
    let node = start(
        node_config(92, &[]),
        NodeParts {
            eth_peers: vec![source.node.eth_listen_addr.expect("eth listener")],
            ..NodeParts::full()
        },
        &[],
    )
    .await;
    wait_for(
        "10 000 blocks over ETH",
        Duration::from_secs(300),
        || async { (node.head().await == tip).then_some(()) },
    )
    .await;
    eprintln!("10 000 blocks over ETH in {:?}", t0.elapsed());
    let peers = node.node.peers().await;
    assert!(
        peers.iter().all(|p| p.dialect == Dialect::Eth),
        "no Hobbits peer: {peers:?}"
    );
    node.stop().await;
    source.stop().await;
}

/// An ETH peer serving `reference`'s chain to the one node that dials it; a liar answers bodies
/// with zero bodies (its roots and headers are true). Counts the bodies requests it answered; once
/// it has answered the hello it waits for the other peers' (`hellos`), so the node knows all of
/// them before any roots are served.
async fn fake_peer(
    listener: TcpListener,
    reference: StoreClient,
    lie: bool,
    bodies_served: Arc<AtomicUsize>,
    hellos: Arc<Barrier>,
) {
    let Ok((stream, _)) = listener.accept().await else {
        return;
    };
    let limits = EthLimits::default();
    let mut io = Framed::new(stream, EthCodec::new(limits));
    while let Some(Ok(frame)) = io.next().await {
        let Ok(EthMessage::Request(req)) = EthMessage::from_frame(&frame) else {
            continue;
        };
        let Ok(body) = req.decode_body(&limits) else {
            continue;
        };
        let answer = match body {
            EthRequestBody::Hello(_) => {
                EthResponseBody::Hello(EthHello::from(&reference.hello().await.expect("hello")))
            }
            EthRequestBody::Goodbye(_) => return,
            EthRequestBody::BeaconBlockBodies(r) if lie => {
                bodies_served.fetch_add(1, Ordering::SeqCst);
                EthResponseBody::BeaconBlockBodies(BlockBodiesResponse {
                    block_bodies: vec![BeaconBlockBody::default(); r.block_roots.len()],
                })
            }
            other => {
                if matches!(other, EthRequestBody::BeaconBlockBodies(_)) {
                    bodies_served.fetch_add(1, Ordering::SeqCst);
                }
                let served = reference.serve_eth(other).await.expect("store");
                served.expect("a served method")
            }
        };
        let hello = matches!(answer, EthResponseBody::Hello(_));
        let resp = EthResponse::success(req.id, &answer);
        if io
            .send(EthMessage::Response(resp).to_frame())
            .await
            .is_err()
        {
            return;
        }
        if hello {
            hellos.wait().await;
        }
    }
}

#[actix_rt::test]
async fn sync_is_spread_over_three_eth_peers_and_survives_a_liar() {
    support::init_tracing();
    let config = node_config(96, &[]);
    let blocks = chain(&config, 300);
    let reference = start(config, NodeParts::default(), &blocks).await;
    let tip = reference.head().await;
    let hellos = Arc::new(Barrier::new(3));
    let mut addrs = vec![];
    let mut served = vec![];
    for lie in [false, true, false] {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        addrs.push(listener.local_addr().expect("addr"));
        let count = Arc::new(AtomicUsize::new(0));
        served.push(count.clone());
        let store = reference.node.store.clone();
        actix::spawn(fake_peer(listener, store, lie, count, hellos.clone()));
    }
    let node = start(
        node_config(97, &[]),
        NodeParts {
            eth_peers: addrs,
            roots_sync: Some(RootsSyncConfig {
                poll_interval: Duration::from_millis(100),
                range_slots: 32,
                blocks_per_request: 16,
                ..RootsSyncConfig::default()
            }),
            ..NodeParts::full()
        },
        &[],
    )
    .await;
    wait_for("the node reaches the tip", DEADLINE * 3, || async {
        (node.head().await == tip).then_some(())
    })
    .await;
    let counts: Vec<usize> = served.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert!(
        counts.iter().all(|&c| c > 0),
        "every peer was given part of the work: {counts:?}"
    );
    let stats = node
        .node
        .manager
        .send(GetManagerStats)
        .await
        .expect("manager");
    assert!(stats.penalties >= 1, "the liar is penalised: {stats:?}");
    node.stop().await;
    reference.stop().await;
}
