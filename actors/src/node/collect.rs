//! [`MetricsCollector`]: the metrics' view of every actor of a node, beside the assembly because
//! it knows them all. Before each scrape it queries the manager (peers), the store (head,
//! finality, block count), gossip and sync (counters, progress), each answer bounded by
//! `MetricsConfig::query_timeout`, and stores the values in the registry (the registry's
//! [`Refresh`]). Sends `GetPeers` and `GetManagerStats` (manager: peers; refusals and evictions
//! by reason), `GetStoreStatus` (store), `GetGossipStats` and `GetOverlayStats` (gossip),
//! `GetSyncState` (sync); handles none.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix::prelude::*;

use super::NodeHandle;
use crate::gossip::{GetGossipStats, GetOverlayStats, GossipActor, GossipStats};
use crate::metrics::{ControlCounters, GossipGauges, Metrics, Refresh, SlotCounters, SyncGauges};
use crate::peer_manager::{GetManagerStats, GetPeers, ManagerStats, PeerManager};
use crate::store::StoreClient;
use crate::sync::{GetSyncState, SyncActor, SyncState, SyncStatus};

/// The actors a scrape reads.
#[derive(Debug, Clone)]
pub struct MetricsCollector {
    /// Peers.
    pub manager: Addr<PeerManager>,
    /// Head, finality, block count.
    pub store: StoreClient,
    /// Gossip counters, if gossip runs.
    pub gossip: Option<Addr<GossipActor>>,
    /// Sync progress, if sync runs.
    pub sync: Option<Addr<SyncActor>>,
}

async fn bounded<T, E>(after: Duration, f: impl Future<Output = Result<T, E>>) -> Option<T> {
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

/// The manager's refusals and evictions, by reason.
fn slot_counters(s: &ManagerStats) -> SlotCounters {
    SlotCounters {
        refused: vec![
            ("accept_rate", s.refused_accept_rate),
            ("pending_per_address", s.refused_pending_per_ip),
            ("peers_per_address", s.refused_peers_per_ip),
            ("banned", s.refused_banned),
            ("banned_node", s.refused_banned_node),
            ("slots_full", s.refused_full),
        ],
        evicted: vec![("pending", s.evicted_pending), ("displaced", s.displaced)],
    }
}

/// The gossip counters the metrics show.
fn gossip_gauges(s: &GossipStats) -> GossipGauges {
    GossipGauges {
        received: s.received,
        relayed: s.relayed,
        duplicate: s.duplicate,
        invalid: s.invalid,
        imported: s.imported,
        published: s.published,
        announced_fetched: s.announced_fetched,
    }
}

impl MetricsCollector {
    /// The actors of `node` (gossip and sync when it runs them).
    pub fn of(node: &NodeHandle) -> Self {
        MetricsCollector {
            manager: node.manager.clone(),
            store: node.store.clone(),
            gossip: node.gossip.clone(),
            sync: node.sync.clone(),
        }
    }

    /// Queries the actors and stores their values in `metrics`. An actor that does not answer in
    /// time leaves its values as they were.
    pub async fn collect(&self, metrics: &Metrics) {
        let t = metrics.config().query_timeout;
        let mut node = metrics.node();
        if let Some(peers) = bounded(t, self.manager.send(GetPeers)).await {
            node.connections = peers.len() as u64;
            node.peers = peers.iter().filter(|p| p.handshaked).count() as u64;
        }
        if let Some(stats) = bounded(t, self.manager.send(GetManagerStats)).await {
            node.slots = Some(slot_counters(&stats));
        }
        if let Some(v) = bounded(t, self.store.status()).await {
            node.head_slot = v.head.slot.0;
            node.finalized_epoch = v.finalized.epoch.0;
            node.finalized_slot = v.finalized.epoch.start_slot(v.slots_per_epoch).0;
            node.blocks_stored = v.blocks as u64;
        }
        if let Some(g) = &self.gossip {
            if let Some(stats) = bounded(t, g.send(GetGossipStats)).await {
                node.gossip = Some(gossip_gauges(&stats));
            }
            if let Some(Some(o)) = bounded(t, g.send(GetOverlayStats)).await {
                node.overlay = Some(ControlCounters {
                    frames_sent: o.control_sent,
                    bytes_sent: o.control_bytes_sent,
                    frames_received: o.control_received_by_verb,
                    bytes_received: o.control_bytes_received,
                    pulls: o.repaired,
                });
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

impl Refresh for MetricsCollector {
    fn refresh<'a>(&'a self, metrics: &'a Metrics) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
        Box::pin(self.collect(metrics))
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
