//! Wiring of sync and gossip into a node: [`start_node_with_sync_gossip`] starts the node's own
//! actors (`start_node`), a [`GossipActor`] fed with the produced blocks and a [`SyncActor`] fed
//! with gossip's orphans, subscribes both to the peer manager's events and the manager to their
//! `PeerPenalized` events (peer scoring). Handles no messages; sends `Subscribe` (manager),
//! `SubscribeChainEvents` (both actors) and, for peers already handshaked, `PeerHandshaked`.

use actix::prelude::*;
use hobbits_chain::ChainStore;

use crate::config::NodeConfig;
use crate::events::PeerHandshaked;
use crate::gossip::actor::{GossipActor, GossipLinks};
use crate::gossip::events::SubscribeChainEvents;
use crate::gossip::router::{GossipConfig, GossipError};
use crate::node::{start_node, NodeError, NodeHandle, NodeHooks};
use crate::peer_manager::Subscribe;
use crate::sync::actor::{SyncActor, SyncLinks};
use crate::sync::machine::{SyncConfig, SyncError};

/// Configuration of sync and gossip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncGossipConfig {
    /// Sync tuning.
    pub sync: SyncConfig,
    /// Gossip tuning.
    pub gossip: GossipConfig,
}

/// Why a node with sync and gossip did not start.
#[derive(Debug, thiserror::Error)]
pub enum SyncGossipError {
    /// The node itself did not start.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The sync configuration is invalid.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The gossip configuration is invalid.
    #[error(transparent)]
    Gossip(#[from] GossipError),
}

/// The sync and gossip actors of a node.
#[derive(Debug, Clone)]
pub struct SyncGossip {
    /// The sync actor (`GetSyncState`).
    pub sync: Addr<SyncActor>,
    /// The gossip actor (`GetGossipStats`, `PublishBlock`, `PublishAttestation`).
    pub gossip: Addr<GossipActor>,
}

/// Starts a node (see `start_node`) with sync and gossip attached. Produced blocks go to gossip
/// unless `hooks.produced` is already set (then the caller publishes them).
pub async fn start_node_with_sync_gossip(
    config: NodeConfig,
    store: Box<dyn ChainStore + Send>,
    mut hooks: NodeHooks,
    sg: SyncGossipConfig,
) -> Result<(NodeHandle, SyncGossip), SyncGossipError> {
    sg.sync.validate()?;
    sg.gossip.validate()?;
    let mailbox = config.limits.actor_mailbox;
    // The gossip actor's address exists before it runs, so the producer can be given it.
    let gossip_ctx: Context<GossipActor> = Context::new();
    let gossip_addr = gossip_ctx.address();
    if hooks.produced.is_none() {
        hooks.produced = Some(gossip_addr.clone().recipient());
    }
    let node = start_node(config, store, hooks).await?;
    let sync = SyncActor::new(
        sg.sync,
        SyncLinks {
            store: node.store.clone(),
        },
        mailbox,
    )?
    .start();
    let gossip = gossip_ctx.run(GossipActor::new(
        sg.gossip,
        GossipLinks {
            store: node.store.clone(),
            orphans: Some(sync.clone().recipient()),
        },
        mailbox,
    )?);
    let _ = node
        .manager
        .send(Subscribe {
            handshaked: Some(sync.clone().recipient()),
            disconnected: Some(sync.clone().recipient()),
            gossip: None,
        })
        .await;
    let _ = node
        .manager
        .send(Subscribe {
            handshaked: Some(gossip.clone().recipient()),
            disconnected: Some(gossip.clone().recipient()),
            gossip: Some(gossip.clone().recipient()),
        })
        .await;
    // Provably wrong gossip and sync responses count against the peer's score.
    gossip.do_send(SubscribeChainEvents {
        imported: None,
        penalized: Some(node.manager.clone().recipient()),
    });
    sync.do_send(SubscribeChainEvents {
        imported: None,
        penalized: Some(node.manager.clone().recipient()),
    });
    // Peers that handshaked before the subscriptions took effect.
    for p in node.peers().await {
        let Some(hello) = p.hello.filter(|_| p.handshaked) else {
            continue;
        };
        let event = PeerHandshaked {
            peer: p.peer,
            addr: p.addr,
            direction: p.direction,
            node_id: p.node_id,
            hello,
            session: p.session,
        };
        sync.do_send(event.clone());
        gossip.do_send(event);
    }
    Ok((node, SyncGossip { sync, gossip }))
}
