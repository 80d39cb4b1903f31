//! [`MetricsSources`]: the actors whose own state the metrics copy (peers, head, finality, gossip
//! and sync counters), and [`MetricsSources::refresh`], which queries them (each answer bounded by
//! `MetricsConfig::query_timeout`) and stores the values in the registry. Sends `GetPeers`
//! (manager), `WithStore` (store), `GetGossipStats` (gossip), `GetSyncState` (sync); handles none.

use std::future::Future;
use std::time::Duration;

use actix::prelude::*;
use hobbits_chain::{Checkpoint, Head};
use tokio::sync::oneshot;

use super::{Metrics, SyncGauges};
use crate::chain_store::{ChainStoreActor, WithStore};
use crate::gossip::{GetGossipStats, GossipActor, SyncGossip};
use crate::node::NodeHandle;
use crate::peer_manager::{GetPeers, PeerManager};
use crate::sync::actor::{GetSyncState, SyncActor};
use crate::sync::machine::{SyncState, SyncStatus};

/// The actors a refresh reads.
#[derive(Debug, Clone)]
pub struct MetricsSources {
    /// Peers.
    pub manager: Addr<PeerManager>,
    /// Head, finality, block count.
    pub store: Addr<ChainStoreActor>,
    /// Gossip counters, if gossip runs.
    pub gossip: Option<Addr<GossipActor>>,
    /// Sync progress, if sync runs.
    pub sync: Option<Addr<SyncActor>>,
}

struct StoreView {
    head: Head,
    finalized: Checkpoint,
    slots_per_epoch: u64,
    blocks: usize,
}

async fn bounded<T>(
    after: Duration,
    f: impl Future<Output = Result<T, MailboxError>>,
) -> Option<T> {
    tokio::time::timeout(after, f).await.ok()?.ok()
}

/// Sync progress from the sync actor's answer; `head` stands in for the target when idle.
pub(crate) fn sync_gauges(status: &SyncStatus, head_slot: u64) -> SyncGauges {
    let (syncing, target, imported, start) = match status.state {
        SyncState::Idle => (false, head_slot, head_slot, head_slot),
        SyncState::Syncing {
            target_slot,
            imported_slot,
            start_slot,
            ..
        } => (true, target_slot.0, imported_slot.0, start_slot.0),
    };
    let progress = if target > start {
        (imported.saturating_sub(start) as f64 / (target - start) as f64).min(1.0)
    } else {
        1.0
    };
    SyncGauges {
        syncing,
        target_slot: target,
        imported_slot: imported,
        progress,
        blocks_imported: status.stats.blocks_imported,
        syncs_completed: status.stats.syncs_completed,
    }
}

impl MetricsSources {
    /// The sources of a node started with `start_node` (no gossip, no sync).
    pub fn of_node(node: &NodeHandle) -> Self {
        MetricsSources {
            manager: node.manager.clone(),
            store: node.store.clone(),
            gossip: None,
            sync: None,
        }
    }

    /// The sources of a node started with `start_node_with_sync_gossip`.
    pub fn of_sync_gossip(node: &NodeHandle, sg: &SyncGossip) -> Self {
        MetricsSources {
            gossip: Some(sg.gossip.clone()),
            sync: Some(sg.sync.clone()),
            ..Self::of_node(node)
        }
    }

    /// Queries the actors and stores their values in `metrics`. An actor that does not answer in
    /// time leaves its values as they were.
    pub async fn refresh(&self, metrics: &Metrics) {
        let t = metrics.config().query_timeout;
        let mut node = metrics.snapshot().node;
        if let Some(peers) = bounded(t, self.manager.send(GetPeers)).await {
            node.connections = peers.len() as u64;
            node.peers = peers.iter().filter(|p| p.handshaked).count() as u64;
        }
        let (tx, rx) = oneshot::channel();
        let read = WithStore {
            f: Box::new(move |s| {
                let _ = tx.send(StoreView {
                    head: s.head(),
                    finalized: s.finalized_checkpoint(),
                    slots_per_epoch: s.slots_per_epoch(),
                    blocks: s.block_count(),
                });
            }),
        };
        if bounded(t, self.store.send(read)).await.is_some() {
            if let Ok(Ok(v)) = tokio::time::timeout(t, rx).await {
                node.head_slot = v.head.slot.0;
                node.finalized_epoch = v.finalized.epoch.0;
                node.finalized_slot = v.finalized.epoch.start_slot(v.slots_per_epoch).0;
                node.blocks_stored = v.blocks as u64;
            }
        }
        if let Some(g) = &self.gossip {
            if let Some(stats) = bounded(t, g.send(GetGossipStats)).await {
                node.gossip = Some(stats);
            }
        }
        if let Some(s) = &self.sync {
            if let Some(status) = bounded(t, s.send(GetSyncState)).await {
                node.sync = Some(sync_gauges(&status, node.head_slot));
            }
        }
        metrics.set_node(node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer_table::PeerId;
    use hobbits_chain::Slot;

    #[test]
    fn progress_is_the_done_fraction_of_the_range() {
        let mut status = SyncStatus {
            state: SyncState::Syncing {
                peer: PeerId(1),
                target_slot: Slot(110),
                imported_slot: Slot(35),
                start_slot: Slot(10),
                peers: 1,
                batches: 2,
            },
            lookups: 0,
            stats: Default::default(),
        };
        let g = sync_gauges(&status, 10);
        assert!(g.syncing);
        assert!((g.progress - 0.25).abs() < 1e-9);
        assert_eq!((g.target_slot, g.imported_slot), (110, 35));
        status.state = SyncState::Idle;
        let g = sync_gauges(&status, 42);
        assert!(!g.syncing);
        assert_eq!((g.progress, g.target_slot), (1.0, 42));
    }
}
