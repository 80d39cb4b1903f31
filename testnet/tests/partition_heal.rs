//! Faults during sync, over real sockets on 127.0.0.1: a peer that never answers (requests time
//! out and their batches are retried from an honest peer), a peer killed in the middle of a
//! response frame (the request fails, the batch is retried elsewhere), and a partition that cuts a
//! syncing node off mid-sync while its source keeps producing, then heals (the node redials,
//! resumes and converges on the source's head). The partition uses the testnet's `LinkProxy`.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hobbits_actors::NodeParts;
use hobbits_chain::rpc::Hello;
use hobbits_codec::rpc::{RpcEnvelope, RpcMethod};
use hobbits_testnet::link::LinkProxy;
use hobbits_testnet::wire::WireLog;

use support::{chain, node_config, start, TestNode};
use support::{wait_for, RawClient};

const CONVERGE: Duration = Duration::from_secs(60);

async fn hello_of(node: &TestNode) -> Hello {
    node.node.store.hello().await.expect("store answers")
}

/// A fake peer dialing `target` that sends `hello` (copied from an honest node, so it looks
/// exactly as far ahead) and waits for the first sync request.
async fn fake_peer(target: &TestNode, hello: Hello) -> (RawClient, RpcEnvelope) {
    let mut raw = RawClient::connect(target.addr()).await.expect("connect");
    raw.hello(1, hello).await.expect("the node answers HELLO");
    let request = raw
        .next_rpc(RpcMethod::GetBlockHeaders, support::DEADLINE)
        .await
        .expect("the syncing node asks the fake peer for headers");
    (raw, request)
}

/// Node 1 holding a chain of `blocks` blocks: the honest source the syncing node catches up with.
async fn source(blocks: u64) -> TestNode {
    let config = node_config(1, &[]);
    start(config.clone(), NodeParts::full(), &chain(&config, blocks)).await
}

/// `honest` dials `syncing`, which must reach its head having retried at least one batch (the
/// ones the faulty peer was given).
async fn catch_up_with_retries(honest: &TestNode, syncing: &TestNode) {
    honest.dial(syncing.addr()).await;
    wait_same_head(honest, syncing, "syncing node reaches the honest head").await;
    let stats = syncing.sync_status().await.stats;
    assert!(stats.batches_retried >= 1, "{stats:?}");
}

async fn wait_same_head(a: &TestNode, b: &TestNode, what: &str) {
    wait_for(what, CONVERGE, || async {
        let (ha, hb) = (a.head().await, b.head().await);
        (ha == hb).then_some(ha)
    })
    .await;
}

#[actix_rt::test]
async fn requests_to_a_silent_peer_time_out_and_are_retried_elsewhere() {
    support::init_tracing();
    let honest = source(200).await;
    let mut config = node_config(2, &[]);
    config.timeouts.request = Duration::from_millis(400);
    let syncing = start(config, NodeParts::full(), &[]).await;

    // The silent peer gets the first batches and never answers them.
    let (mut silent, _request) = fake_peer(&syncing, hello_of(&honest).await).await;
    // Then the honest peer connects: the timed-out batches move to it.
    catch_up_with_retries(&honest, &syncing).await;
    // The silent peer was asked and kept silent: its connection is still there (a timeout is
    // not garbage), it just got no more than it could not answer.
    assert!(!silent.closed_within(Duration::from_millis(50)).await);
    honest.stop().await;
    syncing.stop().await;
}

#[actix_rt::test]
async fn a_peer_killed_mid_response_fails_the_request_and_another_serves_it() {
    support::init_tracing();
    let honest = source(200).await;
    let syncing = start(node_config(2, &[]), NodeParts::full(), &[]).await;

    let (mut dying, _request) = fake_peer(&syncing, hello_of(&honest).await).await;
    // Half a frame: a valid preamble announcing a 4096-byte body, 100 bytes of it, then the
    // connection dies.
    let mut partial = Vec::new();
    partial.extend_from_slice(b"EWP");
    partial.extend_from_slice(&3u32.to_be_bytes());
    partial.push(0);
    partial.extend_from_slice(&16u32.to_be_bytes());
    partial.extend_from_slice(&4096u32.to_be_bytes());
    partial.extend_from_slice(&[0u8; 100]);
    dying.send_raw(&partial).await.expect("write");
    drop(dying);

    catch_up_with_retries(&honest, &syncing).await;
    honest.stop().await;
    syncing.stop().await;
}

#[actix_rt::test]
async fn a_partition_mid_sync_heals_and_the_nodes_converge() {
    support::init_tracing();
    let source = source(1500).await;
    let proxy = LinkProxy::bind(
        1,
        0,
        Arc::new(Mutex::new(WireLog::new())),
        Instant::now(),
        None,
    )
    .await
    .expect("proxy");
    proxy.set_target(Some(source.addr()));
    let syncing = start(node_config(2, &[proxy.addr()]), NodeParts::full(), &[]).await;

    // Cut the link once part of the chain is imported.
    wait_for("sync under way", CONVERGE, || async {
        (syncing.head().await.slot.0 >= 100).then_some(())
    })
    .await;
    proxy.set_cut(true);
    wait_for("link down", support::DEADLINE, || async {
        (syncing.handshaked().await == 0).then_some(())
    })
    .await;
    let cut_at = syncing.head().await;
    assert!(cut_at.slot.0 < 1500, "the cut came mid-sync: {cut_at:?}");
    // The source moves on during the partition.
    for _ in 0..20 {
        source.produce_and_publish("partitioned source").await;
    }
    assert_eq!(source.head().await.slot.0, 1520);

    proxy.set_cut(false);
    wait_same_head(&source, &syncing, "converged after the heal").await;
    assert_eq!(syncing.head().await.slot.0, 1520);
    let stats = syncing.sync_status().await.stats;
    assert!(
        stats.blocks_imported < 1520 + 64,
        "resumed rather than refetched everything: {stats:?}"
    );
    source.stop().await;
    syncing.stop().await;
}
