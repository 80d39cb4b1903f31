//! The ETH conformance checks (`conformance eth+tcp://`) against our own node's ETH listener
//! (`NodeParts::eth_listen`, 127.0.0.1 port 0): every check passes on a node producing blocks, on
//! a chain with empty slots (the skip_slots collapse rule) and on a genesis-only node.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hobbits_actors::node::{start_node, NodeParts};
use hobbits_actors::{NodeConfig, NodeHandle, ProducerConfig};
use hobbits_chain::{BlockProducer, Slot};
use hobbits_tools::conformance::eth::run_eth_conformance;
use hobbits_tools::conformance::{CheckId, ConformanceConfig, ConformanceReport};

fn config() -> ConformanceConfig {
    ConformanceConfig {
        timeout: Duration::from_secs(3),
        quiet: Duration::from_millis(300),
        page_size: 8, // headers over the last 8 roots
        seed: 14,
        ..ConformanceConfig::default()
    }
}

fn summary(report: &ConformanceReport) -> String {
    report
        .results
        .iter()
        .map(|r| format!("{} {}: {}", r.outcome.status(), r.id, r.outcome.evidence()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn parts() -> NodeParts {
    NodeParts {
        eth_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..NodeParts::full()
    }
}

async fn check_all_pass(node: &NodeHandle) -> ConformanceReport {
    let target = node.eth_listen_addr.expect("eth listener");
    let report = run_eth_conformance(target, config())
        .await
        .expect("reachable");
    let text = summary(&report);
    println!("{text}");
    assert_eq!(report.results.len(), CheckId::ETH.len());
    for r in &report.results {
        assert_eq!(r.outcome.status(), "pass", "{}\n---\n{text}", r.id);
    }
    report
}

#[actix_rt::test]
async fn producing_node_passes_every_eth_check() {
    let mut node_config = NodeConfig::local_test();
    node_config.producer = Some(ProducerConfig {
        slot_duration: Duration::from_millis(100),
    });
    let node = start_node(node_config, parts()).await.expect("node");
    let end = Instant::now() + Duration::from_secs(20);
    while node.store.head().await.expect("store").slot < Slot(12) {
        assert!(Instant::now() < end, "the producer made no blocks");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = check_all_pass(&node).await;
    let hello = report.peer_hello.expect("hello");
    assert!(hello.hello.best_slot >= Slot(12));
}

#[actix_rt::test]
async fn chain_with_empty_slots_follows_the_skip_rule() {
    let node = start_node(NodeConfig::local_test(), parts())
        .await
        .expect("node");
    let p = BlockProducer::new("seed", 0);
    // Empty slots 3, 5, 6, 9..=11, 15, 16: skip 1 and 2 must collapse.
    for slot in [1u64, 2, 4, 7, 8, 12, 13, 14, 17, 20] {
        node.store
            .produce_block_at(p.clone(), Slot(slot))
            .await
            .expect("produce");
    }
    let report = check_all_pass(&node).await;
    let headers = report.result(CheckId::EthHeaders).expect("ran");
    assert!(
        headers.outcome.evidence().contains("skip 2"),
        "{}",
        headers.outcome.evidence()
    );
}

#[actix_rt::test]
async fn genesis_only_node_passes_every_eth_check() {
    let node = start_node(NodeConfig::local_test(), parts())
        .await
        .expect("node");
    let report = check_all_pass(&node).await;
    let headers = report.result(CheckId::EthHeaders).expect("ran");
    assert!(headers.outcome.evidence().contains("too short"));
}
