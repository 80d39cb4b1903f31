//! Gossip over sockets on 127.0.0.1: three nodes in a line (every block and attestation reaches
//! the far node exactly once), the spec's Flow with announce-only gossip, and a lying
//! `message_hash` that is dropped, penalised and not relayed.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use hobbits_actors::gossip::{GossipConfig, PublishAttestation, PublishBlock};
use hobbits_actors::{NodeParts, PeerPenalized, Penalty, SendFrameToPeer, SubscribeChainEvents};
use hobbits_chain::BlockProducer;
use hobbits_codec::{GossipEnvelope, MessageHash, Topic};
use ssz::Encode;
use support::wait_for;
use support::{node_config, start, TestNode};

const DEADLINE: Duration = Duration::from_secs(20);

/// Sync and gossip with their defaults on each of three nodes.
fn full() -> [NodeParts; 3] {
    [NodeParts::full(), NodeParts::full(), NodeParts::full()]
}

/// A, B, C with B dialing A and C dialing B; waits for the handshakes.
async fn line(parts: [NodeParts; 3]) -> (TestNode, TestNode, TestNode) {
    let [sa, sb, sc] = parts;
    let a = start(node_config(1, &[]), sa, &[]).await;
    let b = start(node_config(2, &[a.addr()]), sb, &[]).await;
    let c = start(node_config(3, &[b.addr()]), sc, &[]).await;
    for (n, want) in [(&a, 1), (&b, 2), (&c, 1)] {
        wait_for("line handshakes", DEADLINE, || async {
            (n.handshaked().await == want).then_some(())
        })
        .await;
    }
    (a, b, c)
}

#[actix_rt::test]
async fn blocks_and_attestations_reach_the_far_node_exactly_once() {
    support::init_tracing();
    let (a, b, c) = line(full()).await;
    let mut roots = Vec::new();
    for _ in 0..5 {
        roots.push(a.produce_and_publish("line").await.signing_root());
    }
    for i in 0..3u64 {
        let head = a.head().await;
        let att = a
            .node
            .store
            .build_attestation(BlockProducer::new("attester", 10 + i), head)
            .await
            .expect("attestation");
        a.gossip()
            .send(PublishAttestation { attestation: att })
            .await
            .expect("gossip");
    }
    let stats = wait_for(
        "C imports 5 blocks and 3 attestations",
        DEADLINE,
        || async {
            let s = c.gossip_stats().await;
            (s.blocks_imported == 5 && s.attestations_imported == 3).then_some(s)
        },
    )
    .await;
    for r in &roots {
        assert!(c.has_block(*r).await);
    }
    assert_eq!(c.head().await, a.head().await);
    // Exactly once at C: no duplicates, nothing invalid, nothing fetched.
    assert_eq!((stats.received, stats.imported, stats.duplicate), (8, 8, 0));
    assert_eq!(stats.invalid, 0);
    // B relayed each object once, to C only (not back to A).
    let sb = b.gossip_stats().await;
    assert_eq!(
        (sb.received, sb.imported, sb.relayed, sb.frames_sent),
        (8, 8, 8, 8)
    );
    // A published 8 objects to B and heard nothing back.
    let sa = a.gossip_stats().await;
    assert_eq!((sa.published, sa.frames_sent, sa.received), (8, 8, 0));
    // C relays to nobody (its only peer sent it).
    assert_eq!(stats.frames_sent, 0);
}

#[actix_rt::test]
async fn flow_announce_only_gossip_is_fetched_by_rpc_then_relayed_in_full() {
    support::init_tracing();
    let announce = NodeParts {
        gossip: Some(GossipConfig {
            announce_only: true,
            ..GossipConfig::default()
        }),
        ..NodeParts::full()
    };
    // Line 1 - 2 - 3: node 1 announces; node 2 must fetch by RPC and relay in full to node 3.
    let (n1, n2, n3) = line([announce, NodeParts::full(), NodeParts::full()]).await;
    let block = n1.produce_and_publish("flow").await;
    wait_for("node 3 imports the block", DEADLINE, || async {
        n3.has_block(block.signing_root()).await.then_some(())
    })
    .await;
    let s2 = n2.gossip_stats().await;
    assert_eq!(
        (s2.announced_fetched, s2.blocks_imported, s2.relayed),
        (1, 1, 1)
    );
    let s3 = n3.gossip_stats().await;
    // Node 3 got the full block from node 2: nothing to fetch.
    assert_eq!(
        (s3.announced_fetched, s3.blocks_imported, s3.invalid),
        (0, 1, 0)
    );
    assert_eq!(n3.head().await, n1.head().await);
}

#[actix_rt::test]
async fn flow_in_a_triangle_each_node_imports_the_announced_block_once() {
    support::init_tracing();
    let announce = NodeParts {
        gossip: Some(GossipConfig {
            announce_only: true,
            ..GossipConfig::default()
        }),
        ..NodeParts::full()
    };
    let n1 = start(node_config(11, &[]), announce, &[]).await;
    let n2 = start(node_config(12, &[n1.addr()]), NodeParts::full(), &[]).await;
    let n3 = start(
        node_config(13, &[n1.addr(), n2.addr()]),
        NodeParts::full(),
        &[],
    )
    .await;
    for n in [&n1, &n2, &n3] {
        wait_for("triangle handshakes", DEADLINE, || async {
            (n.handshaked().await == 2).then_some(())
        })
        .await;
    }
    let block = n1.produce_and_publish("flow").await;
    for n in [&n2, &n3] {
        wait_for("block everywhere", DEADLINE, || async {
            n.has_block(block.signing_root()).await.then_some(())
        })
        .await;
    }
    // Let any late copies arrive, then count: each imported once, at least one fetch by RPC.
    wait_for("relays settle", DEADLINE, || async {
        let (s2, s3) = (n2.gossip_stats().await, n3.gossip_stats().await);
        (s2.relayed + s3.relayed >= 1).then_some(())
    })
    .await;
    let (s2, s3) = (n2.gossip_stats().await, n3.gossip_stats().await);
    assert_eq!((s2.blocks_imported, s3.blocks_imported), (1, 1));
    assert!(s2.announced_fetched + s3.announced_fetched >= 1);
    assert_eq!(s2.invalid + s3.invalid, 0);
}

/// Records penalties.
#[derive(Debug, Default)]
struct Recorder {
    penalties: Arc<Mutex<Vec<PeerPenalized>>>,
}

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<PeerPenalized> for Recorder {
    type Result = ();
    fn handle(&mut self, msg: PeerPenalized, _: &mut Context<Self>) {
        self.penalties.lock().expect("lock").push(msg);
    }
}

#[actix_rt::test]
async fn a_mismatched_message_hash_is_dropped_penalised_and_not_relayed() {
    support::init_tracing();
    let (a, b, c) = line(full()).await;
    let penalties = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder {
        penalties: penalties.clone(),
    }
    .start();
    b.gossip()
        .send(SubscribeChainEvents {
            imported: None,
            penalized: Some(recorder.recipient()),
        })
        .await
        .expect("subscribe");
    let next = hobbits_chain::Slot(a.head().await.slot.0 + 1);
    let block = a
        .node
        .store
        .build_block(BlockProducer::new("liar", 5), next)
        .await
        .expect("block");
    let body = Bytes::from(block.as_ssz_bytes());
    let mut lie = GossipEnvelope::new(Topic::Block, block.hash_tree_root(), body, 1);
    lie.header.message_hash = MessageHash([0x5A; 32]);
    // A's session to B sends the lying frame over the socket.
    let to_b = a.node.peers().await[0].peer;
    a.node
        .manager
        .send(SendFrameToPeer {
            peer: to_b,
            frame: lie.to_frame().expect("frame"),
        })
        .await
        .expect("manager")
        .expect("queued");
    let sb = wait_for("B drops the lie", DEADLINE, || async {
        let s = b.gossip_stats().await;
        (s.invalid == 1).then_some(s)
    })
    .await;
    assert_eq!((sb.imported, sb.relayed, sb.duplicate), (0, 0, 0));
    let p = wait_for("penalty event", DEADLINE, || async {
        penalties.lock().expect("lock").first().cloned()
    })
    .await;
    assert_eq!(p.penalty, Penalty::MessageHashMismatch);
    // The honest message with the same hash is not a duplicate: imported and relayed to C.
    a.node
        .store
        .import_block(block.clone())
        .await
        .expect("import at A");
    a.gossip()
        .send(PublishBlock {
            block: block.clone(),
        })
        .await
        .expect("gossip");
    wait_for("C imports the honest block", DEADLINE, || async {
        c.has_block(block.signing_root()).await.then_some(())
    })
    .await;
    let sb = b.gossip_stats().await;
    assert_eq!(
        (sb.invalid, sb.imported, sb.relayed, sb.duplicate),
        (1, 1, 1, 0)
    );
    let sc = c.gossip_stats().await;
    // C never saw the lie: one message received, the honest one.
    assert_eq!((sc.received, sc.invalid, sc.imported), (1, 0, 1));
}
