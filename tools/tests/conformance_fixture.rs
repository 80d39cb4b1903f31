//! Fixture mode: the checker listens with a known chain (seeded, or a snapshot file) and our own
//! node, pointed at it, syncs to the fixture's head; the report says so and lists how it asked
//! (ranges, skips). A peer that never connects, and one that connects but stays at genesis, fail.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use hobbits_actors::node::{start_node, NodeParts};
use hobbits_actors::NodeConfig;
use hobbits_chain::snapshot::Snapshot;
use hobbits_chain::ChainRead;
use hobbits_codec::PeerUri;
use hobbits_tools::conformance::fixture::{Fixture, FixtureChain, FixtureConfig};
use hobbits_tools::conformance::{CheckId, ConformanceReport};

fn summary(report: &ConformanceReport) -> String {
    report
        .results
        .iter()
        .map(|r| format!("{} {}: {}", r.outcome.status(), r.id, r.outcome.evidence()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn fixture_config(timeout: Duration) -> FixtureConfig {
    FixtureConfig {
        sync_timeout: timeout,
        poll: Duration::from_millis(100),
        ..FixtureConfig::new("127.0.0.1:0".parse::<SocketAddr>().expect("addr"))
    }
}

fn seeded(blocks: u64) -> FixtureChain {
    let genesis_time = NodeConfig::local_test().genesis_time;
    FixtureChain::Seeded {
        seed: 7,
        blocks,
        genesis_time,
    }
}

/// Starts our node dialing `fixture`.
async fn node_dialing(fixture: SocketAddr) -> hobbits_actors::NodeHandle {
    let mut config = NodeConfig::local_test();
    config.peers = vec![PeerUri::from_socket_addr(fixture)];
    start_node(config, NodeParts::full()).await.expect("node")
}

#[actix_rt::test]
async fn our_node_syncs_to_a_seeded_fixture() {
    let store = seeded(40).load(1, 1).expect("chain");
    let fixture = Fixture::bind(fixture_config(Duration::from_secs(20)), store)
        .await
        .expect("bind");
    let addr = fixture.local_addr().expect("addr");
    let head = fixture.head();
    let node = node_dialing(addr).await;
    let report = fixture.run().await;
    let text = summary(&report);
    println!("{text}");
    assert!(report.passed(), "{text}");
    assert_eq!(
        report.peer_hello.as_ref().expect("hello").hello.best_root,
        head.root
    );
    assert_eq!(node.store.head().await.expect("head").root, head.root);
    let asked = report.result(CheckId::FixtureRequests).expect("ran");
    assert!(asked.outcome.evidence().contains("skips used"), "{text}");
    assert!(asked.outcome.evidence().contains("BODIES"), "{text}");
}

#[actix_rt::test]
async fn a_snapshot_file_is_served_too() {
    let store = seeded(12).load(1, 1).expect("chain");
    let dir = std::env::temp_dir().join(format!("hobbits-fixture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("chain.snap");
    Snapshot::from_store(&store, None)
        .write_file(&path)
        .expect("write");
    let from_file = FixtureChain::File(path.clone()).load(1, 1).expect("load");
    assert_eq!(from_file.head(), store.head());
    let fixture = Fixture::bind(fixture_config(Duration::from_secs(20)), from_file)
        .await
        .expect("bind");
    let _node = node_dialing(fixture.local_addr().expect("addr")).await;
    let report = fixture.run().await;
    assert!(report.passed(), "{}", summary(&report));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[tokio::test]
async fn no_peer_and_a_peer_that_does_not_sync_fail() {
    let store = seeded(5).load(1, 1).expect("chain");
    let fixture = Fixture::bind(fixture_config(Duration::from_millis(300)), store)
        .await
        .expect("bind");
    let report = fixture.run().await;
    let synced = report.result(CheckId::FixtureSynced).expect("ran");
    assert_eq!(synced.outcome.status(), "fail");
    assert!(
        synced.outcome.evidence().contains("no peer connected"),
        "{}",
        summary(&report)
    );

    // A peer that says HELLO from genesis and never asks for anything.
    let store = seeded(5).load(1, 1).expect("chain");
    let genesis = store.genesis_root();
    let fixture = Fixture::bind(fixture_config(Duration::from_millis(800)), store)
        .await
        .expect("bind");
    let addr = fixture.local_addr().expect("addr");
    let lazy = tokio::spawn(async move {
        let mut client = support::RawClient::connect(addr).await.expect("connect");
        let _ = client.hello(1, support::genesis_hello(1, genesis)).await;
        // Keep answering nothing until the fixture gives up.
        client.closed_within(Duration::from_secs(3)).await
    });
    let report = fixture.run().await;
    let text = summary(&report);
    assert!(!report.passed(), "{text}");
    let synced = report.result(CheckId::FixtureSynced).expect("ran");
    assert!(
        synced.outcome.evidence().contains("not the fixture's"),
        "{text}"
    );
    let asked = report.result(CheckId::FixtureRequests).expect("ran");
    assert!(asked.outcome.evidence().contains("no range"), "{text}");
    lazy.abort();
}
