//! The conformance checker cannot be fooled: against an echo server, a peer replaying replies
//! recorded from a real node (with ids rewritten to ours, or as recorded) and a peer that answers
//! every method wrongly in its own way, no check passes unless what it checks really holds. The
//! checks each fake passes are listed exactly, with why that pass is true.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use hobbits_actors::node::{start_node, NodeParts};
use hobbits_actors::NodeConfig;
use hobbits_chain::{BlockProducer, Slot};
use hobbits_tools::conformance::{
    run_conformance, CheckId, ConformanceConfig, ConformanceReport, ECHO,
};
use support::fake_peers::{echo_peer, record_replies, replay_peer, wrong_peer};

fn config(seed: u64) -> ConformanceConfig {
    ConformanceConfig {
        timeout: Duration::from_millis(800),
        quiet: Duration::from_millis(200),
        page_size: 8,
        max_pages: 8,
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

fn passed(report: &ConformanceReport) -> BTreeSet<&'static str> {
    report
        .results
        .iter()
        .filter(|r| r.outcome.status() == "pass")
        .map(|r| r.id.name())
        .collect()
}

#[tokio::test]
async fn echo_server_passes_nothing_and_is_named_an_echo() {
    let addr = echo_peer().await;
    let report = run_conformance(addr, config(1)).await.expect("reachable");
    let text = summary(&report);
    assert!(passed(&report).is_empty(), "{text}");
    assert!(report.peer_hello.is_none(), "{text}");
    for id in [CheckId::PingEcho, CheckId::Hello, CheckId::GetStatus] {
        let r = report.result(id).expect("ran");
        assert_eq!(r.outcome.status(), "fail", "{text}");
        assert!(r.outcome.evidence().contains(ECHO), "{id}: {text}");
    }
    // A different seed: still recognised (the nonce, not a fixed value, is what gives it away).
    let again = run_conformance(addr, config(2)).await.expect("reachable");
    assert!(passed(&again).is_empty(), "{}", summary(&again));
}

#[actix_rt::test]
async fn replayed_replies_pass_only_what_holds_for_them() {
    let node = start_node(NodeConfig::local_test(), NodeParts::default())
        .await
        .expect("node");
    let p = BlockProducer::new("seed", 0);
    for slot in 1..=12 {
        node.store
            .produce_block_at(p.clone(), Slot(slot))
            .await
            .expect("produce");
    }
    let recording = record_replies(node.listen_addr).await;

    // Ids as recorded: our ids are random per run, so no reply is taken for ours.
    let verbatim = replay_peer(recording.clone(), false).await;
    let report = run_conformance(verbatim, config(3))
        .await
        .expect("reachable");
    let text = summary(&report);
    assert!(passed(&report).is_empty(), "{text}");

    // Ids rewritten: `hello` passes (a real node's HELLO, in a valid shape, with our id: what the
    // check claims is true) and so does `get_status` (a real user agent; the recorded timestamp is
    // seconds old, within the check's day). Nothing else: the recorded pong has another body, the
    // recorded headers answer no other query (direction, skip, max are all wrong for them).
    let rewriting = replay_peer(recording, true).await;
    let report = run_conformance(rewriting, config(4))
        .await
        .expect("reachable");
    let text = summary(&report);
    assert_eq!(
        passed(&report),
        BTreeSet::from(["hello", "get_status"]),
        "{text}"
    );
    let max = report.result(CheckId::HeadersAscending).expect("ran");
    assert!(max.outcome.evidence().contains("more than max"), "{text}");
}

#[tokio::test]
async fn a_peer_wrong_in_every_method_fails_every_check_but_hello() {
    let addr = wrong_peer().await;
    let report = run_conformance(addr, config(5)).await.expect("reachable");
    let text = summary(&report);
    assert_eq!(passed(&report), BTreeSet::from(["hello"]), "{text}");
    let expect = [
        (CheckId::PingEcho, "pong body differs"),
        (CheckId::PongIgnored, "was answered"),
        (CheckId::GetStatus, "seconds"),
        (CheckId::HeadersAscending, "not strictly increasing"),
        (CheckId::HeadersDescending, "not at best_root"),
        (CheckId::HeadersMax, "not genesis"),
        (CheckId::UnknownMethod, "closed"),
        (CheckId::BlockBodies, "body root"),
        (CheckId::BeaconStates, "not asked for"),
        (CheckId::RequestIds, "answered twice"),
        (CheckId::GossipRelayed, "not the SHA-256"),
        (CheckId::GossipLyingHash, "lying message_hash reached B"),
        (CheckId::GetAttestation, "another attestation"),
        (CheckId::GoodbyeWrongNetwork, "no GOODBYE"),
        (CheckId::GoodbyeUnknownFinalized, "no GOODBYE"),
    ];
    for (id, evidence) in expect {
        let r = report.result(id).expect("ran");
        assert_eq!(r.outcome.status(), "fail", "{id}\n{text}");
        assert!(r.outcome.evidence().contains(evidence), "{id}\n{text}");
    }
}
