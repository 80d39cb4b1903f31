//! The in-process engine: each node's actors on the current actix system (the node with sync and
//! gossip, plus an [`Attester`]), observed through its chain store and gossip actors. Sends
//! `GetHello`, `GetSnapshot` (store), `GetGossipStats`, `SubscribeChainEvents` (gossip, sync),
//! `StopProducer` (producer); handles no messages.

use std::net::SocketAddr;
use std::time::Duration;

use actix::prelude::*;
use hobbits_actors::gossip::{GetGossipStats, GossipActor, GossipStats};
use hobbits_actors::producer::StopProducer;
use hobbits_actors::{
    start_node, NodeConfig, NodeHandle, NodeParts, ProducerConfig, SubscribeChainEvents,
};
use hobbits_chain::rpc::Hello;
use hobbits_chain::{Snapshot, StoreConfig};
use hobbits_codec::PeerUri;

use super::{NodeLaunch, RunningNode};
use crate::attester::Attester;
use crate::TestnetError;

/// A node running on this actix system.
#[derive(Debug)]
pub struct InProcessNode {
    handle: NodeHandle,
    gossip: Addr<GossipActor>,
    attester: Option<Addr<Attester>>,
}

fn node_config(launch: &NodeLaunch) -> NodeConfig {
    let mut c = NodeConfig::local_test();
    c.node_id = launch.node_id;
    c.peers = launch
        .peers
        .iter()
        .map(|a| PeerUri::from_socket_addr(*a))
        .collect();
    c.producer = launch
        .produce
        .map(|slot_duration| ProducerConfig { slot_duration });
    // Bans would make a cut-and-healed link (or a killed node's half-written frame) stick.
    c.timeouts.ban = Duration::ZERO;
    c
}

/// Starts a node in-process, from genesis or from `snapshot`.
pub async fn start_in_process(
    launch: &NodeLaunch,
    snapshot: Option<Snapshot>,
) -> Result<RunningNode, TestnetError> {
    let config = node_config(launch);
    let failed = |reason: String| TestnetError::NodeStart {
        node: launch.index,
        reason,
    };
    let mut parts = NodeParts::full();
    if launch.dialect.speaks_eth() {
        parts.eth_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    }
    parts.eth_peers = launch.eth_peers.clone();
    if let Some(gossip) = parts.gossip.as_mut().filter(|_| launch.gossip_overlay) {
        gossip.overlay = hobbits_actors::gossip::overlay::OverlayConfig::default();
    }
    if let Some(s) = snapshot {
        let store = s
            .into_store(StoreConfig::default())
            .map_err(|e| failed(format!("snapshot: {e}")))?;
        parts = parts.with_store(store);
    }
    let handle = start_node(config, parts)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let (Some(gossip), Some(sync)) = (handle.gossip.clone(), handle.sync.clone()) else {
        return Err(failed("started without sync or gossip".into()));
    };
    let attester = launch.attest.then(|| {
        Attester::new(
            launch.index as u64,
            handle.store.clone(),
            gossip.clone().recipient(),
        )
        .start()
    });
    if let Some(attester) = &attester {
        let imported = || SubscribeChainEvents {
            imported: Some(attester.clone().recipient()),
            penalized: None,
        };
        gossip.do_send(imported());
        sync.do_send(imported());
    }
    Ok(RunningNode::InProcess(InProcessNode {
        handle,
        gossip,
        attester,
    }))
}

impl InProcessNode {
    /// Where the node listens.
    pub fn listen_addr(&self) -> SocketAddr {
        self.handle.listen_addr
    }

    /// Where the node listens on the ETH dialect, when it speaks it.
    pub fn eth_addr(&self) -> Option<SocketAddr> {
        self.handle.eth_listen_addr
    }

    /// The node's HELLO (head, finality), `None` when its store does not answer.
    pub async fn status(&self) -> Option<Hello> {
        self.handle.store.hello().await.ok()
    }

    /// The node's gossip counters.
    pub async fn gossip_stats(&self) -> Option<GossipStats> {
        self.gossip.send(GetGossipStats).await.ok()
    }

    /// A snapshot of the node's store.
    pub async fn snapshot(&self) -> Option<Snapshot> {
        self.handle.store.snapshot().await.ok()
    }

    /// Stops block production.
    pub fn stop_producing(&self) {
        if let Some(p) = &self.handle.producer {
            p.do_send(StopProducer);
        }
    }

    /// GOODBYE to every peer, then the actors stop once their queues drain.
    pub async fn stop(self) {
        self.handle.shutdown(Duration::from_millis(500)).await;
        // Dropping the last addresses stops the actors once their queues drain.
        drop((self.gossip, self.attester));
    }
}
