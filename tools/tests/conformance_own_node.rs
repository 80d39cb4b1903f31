//! The conformance checker against our own node on 127.0.0.1 (port 0): every check passes on a
//! node producing blocks, on a node whose chain has empty slots (the skip_slots collapse rule),
//! and on a genesis-only node (where the skip check is skipped with its reason).

use std::time::{Duration, Instant};

use hobbits_actors::node::{start_node, NodeParts};
use hobbits_actors::{NodeConfig, NodeHandle, ProducerConfig};
use hobbits_chain::{BlockProducer, Slot};
use hobbits_tools::conformance::{run_conformance, CheckId, ConformanceConfig, ConformanceReport};

fn config() -> ConformanceConfig {
    ConformanceConfig {
        timeout: Duration::from_secs(3),
        quiet: Duration::from_millis(300),
        page_size: 8, // small pages so the walk crosses page boundaries
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

async fn head_slot(node: &NodeHandle) -> Slot {
    node.store.head().await.expect("store").slot
}

async fn seed_blocks_at(node: &NodeHandle, slots: &'static [u64]) {
    let p = BlockProducer::new("seed", 0);
    for &slot in slots {
        node.store
            .produce_block_at(p.clone(), Slot(slot))
            .await
            .expect("produce");
    }
}

#[actix_rt::test]
async fn producing_node_passes_every_check() {
    let mut node_config = NodeConfig::local_test();
    node_config.producer = Some(ProducerConfig {
        slot_duration: Duration::from_millis(100),
    });
    let node = start_node(node_config, NodeParts::full())
        .await
        .expect("node");
    let end = Instant::now() + Duration::from_secs(20);
    while head_slot(&node).await < Slot(12) {
        assert!(Instant::now() < end, "the producer made no blocks");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The chain keeps growing while the checks run: they must cope with a moving head.
    let report = run_conformance(node.listen_addr, config())
        .await
        .expect("reachable");
    let text = summary(&report);
    for r in &report.results {
        assert_eq!(r.outcome.status(), "pass", "{}\n---\n{text}", r.id);
    }
    assert!(report.passed());
    let hello = report.peer_hello.expect("hello");
    assert_eq!(hello.shape.name(), "SpecSsz");
    assert!(hello.hello.best_slot >= Slot(12));
}

#[actix_rt::test]
async fn chain_with_empty_slots_follows_the_skip_rule() {
    let node = start_node(NodeConfig::local_test(), NodeParts::full())
        .await
        .expect("node");
    // Empty slots 3, 5, 6, 9..=11: skip 1 must collapse (e.g. from 0: blocks 0, 2, 4, 4→dup, ...).
    seed_blocks_at(&node, &[1, 2, 4, 7, 8, 12, 13, 14, 17, 20]).await;
    let report = run_conformance(node.listen_addr, config())
        .await
        .expect("reachable");
    let text = summary(&report);
    assert!(report.passed(), "{text}");
    let skip = report.result(CheckId::HeadersSkip).expect("ran");
    assert_eq!(skip.outcome.status(), "pass", "{text}");
    let asc = report.result(CheckId::HeadersAscending).expect("ran");
    assert!(asc.outcome.evidence().contains("11 headers"), "{text}");
}

#[actix_rt::test]
async fn genesis_only_node_skips_the_skip_check_with_a_reason() {
    let node = start_node(NodeConfig::local_test(), NodeParts::full())
        .await
        .expect("node");
    let report = run_conformance(node.listen_addr, config())
        .await
        .expect("reachable");
    let text = summary(&report);
    assert!(report.passed(), "{text}");
    let skip = report.result(CheckId::HeadersSkip).expect("ran");
    assert_eq!(skip.outcome.status(), "skipped", "{text}");
    assert!(skip.outcome.evidence().contains("too short"), "{text}");
    for id in CheckId::ALL
        .into_iter()
        .filter(|id| *id != CheckId::HeadersSkip)
    {
        assert_eq!(
            report.result(id).expect("ran").outcome.status(),
            "pass",
            "{id}\n{text}"
        );
    }
}
