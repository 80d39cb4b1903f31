//! The ETH conformance checks cannot be fooled: an echo peer passes none of them (the hello check
//! says `echo:`); a replay of a real node's responses passes none with the recorded ids, and with
//! ids rewritten only what is then true of it; a peer wrong in one way ([`EthFault`], a proxy in front of our own node) is
//! caught by the check about that way, while the same proxy without a fault passes everything.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use hobbits_actors::node::{start_node, NodeParts};
use hobbits_actors::{NodeConfig, NodeHandle};
use hobbits_chain::{BlockProducer, Slot};
use hobbits_tools::conformance::eth::run_eth_conformance;
use hobbits_tools::conformance::{CheckId, ConformanceConfig, ConformanceReport, ECHO};
use support::eth_fakes::{
    eth_echo_peer, eth_faulty_proxy, eth_record_replies, eth_replay_peer, EthFault,
};

fn config(seed: u64) -> ConformanceConfig {
    ConformanceConfig {
        timeout: Duration::from_millis(1500),
        quiet: Duration::from_millis(200),
        page_size: 8,
        seed,
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

/// Our node with an ETH listener and a chain with empty slots (so skips collapse).
async fn node() -> NodeHandle {
    let parts = NodeParts {
        eth_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..NodeParts::full()
    };
    let node = start_node(NodeConfig::local_test(), parts)
        .await
        .expect("node");
    let p = BlockProducer::new("fake-peers", 0);
    for slot in [1u64, 2, 4, 7, 8, 12, 13, 14, 17, 20] {
        node.store
            .produce_block_at(p.clone(), Slot(slot))
            .await
            .expect("produce");
    }
    node
}

#[actix_rt::test]
async fn an_echo_peer_passes_no_eth_check() {
    let echo = eth_echo_peer().await;
    let report = run_eth_conformance(echo, config(3))
        .await
        .expect("reachable");
    let text = summary(&report);
    println!("{text}");
    for r in &report.results {
        assert_eq!(r.outcome.status(), "fail", "{}\n{text}", r.id);
    }
    let hello = report.result(CheckId::EthHello).expect("ran");
    assert!(hello.outcome.evidence().contains(ECHO), "{text}");
    assert!(report.peer_hello.is_none());
}

fn passed(report: &ConformanceReport) -> Vec<CheckId> {
    report
        .results
        .iter()
        .filter(|r| r.outcome.status() == "pass")
        .map(|r| r.id)
        .collect()
}

#[actix_rt::test]
async fn a_replay_of_a_real_node_passes_only_true_claims() {
    let node = node().await;
    let recording = eth_record_replies(node.eth_listen_addr.expect("eth listener")).await;
    // The recorded ids are not the run's: nothing is taken as an answer.
    let verbatim = eth_replay_peer(recording.clone(), false).await;
    let quick = ConformanceConfig {
        timeout: Duration::from_millis(500),
        ..config(11)
    };
    let report = run_eth_conformance(verbatim, quick)
        .await
        .expect("reachable");
    assert_eq!(passed(&report), [], "{}", summary(&report));
    // Ids rewritten: the recorded hello and status are a real node's, so those claims are true;
    // so is closing on bytes that do not frame and serving the next connection. Every check of
    // what a real peer does with a request (roots asked, headers, bodies, codes, goodbye) fails.
    let rewriting = eth_replay_peer(recording, true).await;
    let quicker = ConformanceConfig {
        timeout: Duration::from_secs(1),
        ..config(13)
    };
    let report = run_eth_conformance(rewriting, quicker)
        .await
        .expect("reachable");
    let text = summary(&report);
    println!("{text}");
    assert_eq!(
        passed(&report),
        [
            CheckId::EthHello,
            CheckId::EthGetStatus,
            CheckId::EthBadPrefixCloses,
            CheckId::EthAcceptsAfterBadPrefix
        ],
        "{text}"
    );
}

#[actix_rt::test]
async fn a_transparent_proxy_passes_and_each_fault_is_caught_by_its_check() {
    let node = node().await;
    let upstream = node.eth_listen_addr.expect("eth listener");
    let network = NodeConfig::local_test().network_id;
    let clean = eth_faulty_proxy(upstream, EthFault::None, network).await;
    let report = run_eth_conformance(clean, config(5))
        .await
        .expect("reachable");
    assert!(report.passed(), "{}", summary(&report));
    assert_eq!(report.counts(), (CheckId::ETH.len(), 0, 0));

    let runs = EthFault::CAUGHT_BY.map(|(fault, check)| async move {
        let proxy = eth_faulty_proxy(upstream, fault, network).await;
        let report = run_eth_conformance(proxy, config(7))
            .await
            .expect("reachable");
        (fault, check, report)
    });
    for (fault, check, report) in futures_util::future::join_all(runs).await {
        let text = summary(&report);
        let result = report.result(check).expect("ran");
        assert_eq!(
            result.outcome.status(),
            "fail",
            "{fault:?} not caught by {check}\n{text}"
        );
        let failed: Vec<&str> = report
            .results
            .iter()
            .filter(|r| r.outcome.is_fail())
            .map(|r| r.id.name())
            .collect();
        println!(
            "{fault:?}: {check} fails with {:?}; failing: {failed:?}",
            result.outcome.evidence()
        );
    }
}
