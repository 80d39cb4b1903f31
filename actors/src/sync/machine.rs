//! `SyncMachine`: the sync decisions as a plain struct. Events in (peer status, peer gone, RPC
//! results, import results, orphan blocks), [`SyncAction`]s out (requests to send, blocks to import,
//! peers to penalise). No runtime, no I/O: the `SyncActor` performs the actions.
//!
//! This file owns the machine's state, the peer bookkeeping and the routing of RPC results; range
//! sync (batches, `drive`) lives in `range.rs`, parent lookups of gossiped orphans in `lookup.rs`,
//! the public types in `types.rs` (re-exported here so `sync::machine::SyncConfig` keeps working).

use std::collections::{HashMap, HashSet};

use hobbits_chain::Slot;

use crate::peer_table::PeerId;
use crate::rpc::{RpcRequest, RpcResponse};
use crate::rpc_tracker::RpcError;

use super::lookup::Lookup;
use super::range::{BatchState, RangeSync};
pub use super::types::{
    BatchId, ImportResult, LocalStatus, LookupId, PeerStatus, SyncAction, SyncConfig, SyncError,
    SyncRequestId, SyncState, SyncStats, SyncStatus,
};

#[derive(Debug)]
pub(super) struct PeerEntry {
    pub(super) status: PeerStatus,
    pub(super) in_flight: usize,
    /// Sent garbage: not asked again while connected.
    pub(super) excluded: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Pending {
    Headers(BatchId),
    Bodies(BatchId),
    Lookup(LookupId),
}

/// The sync state machine.
#[derive(Debug)]
pub struct SyncMachine {
    pub(super) config: SyncConfig,
    pub(super) local: LocalStatus,
    pub(super) peers: HashMap<PeerId, PeerEntry>,
    pub(super) requests: HashMap<SyncRequestId, (PeerId, Pending)>,
    pub(super) range: Option<RangeSync>,
    pub(super) lookups: HashMap<LookupId, Lookup>,
    pub(super) next_id: u64,
    pub(super) stats: SyncStats,
}

pub(super) fn is_ahead(peer: PeerStatus, local: LocalStatus) -> bool {
    (peer.finalized_epoch, peer.best_slot) > (local.finalized_epoch, local.head_slot)
        && peer.best_slot > local.head_slot
}

impl SyncMachine {
    /// A machine starting from `local` (validate the config first).
    pub fn new(config: SyncConfig, local: LocalStatus) -> Self {
        SyncMachine {
            config,
            local,
            peers: HashMap::new(),
            requests: HashMap::new(),
            range: None,
            lookups: HashMap::new(),
            next_id: 1,
            stats: SyncStats::default(),
        }
    }

    /// The config.
    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    /// Current state, lookups and counters.
    pub fn status(&self) -> SyncStatus {
        SyncStatus {
            state: self.state(),
            lookups: self.lookups.len(),
            stats: self.stats,
        }
    }

    /// Current state.
    pub fn state(&self) -> SyncState {
        match &self.range {
            None => SyncState::Idle,
            Some(r) => {
                let serving: HashSet<PeerId> = r
                    .batches
                    .values()
                    .filter_map(|b| match &b.state {
                        BatchState::Headers { peer, .. } | BatchState::Bodies { peer, .. } => {
                            Some(*peer)
                        }
                        _ => None,
                    })
                    .collect();
                SyncState::Syncing {
                    peer: r.best_peer,
                    target_slot: r.target,
                    imported_slot: r.imported,
                    start_slot: r.start,
                    peers: serving.len(),
                    batches: r.batches.len(),
                }
            }
        }
    }

    /// Our chain moved (an import by gossip or the producer).
    pub fn on_local_status(&mut self, local: LocalStatus) -> Vec<SyncAction> {
        self.local = local;
        self.drive()
    }

    /// A peer handshaked (or told us its status again).
    pub fn on_peer_status(&mut self, peer: PeerId, status: PeerStatus) -> Vec<SyncAction> {
        self.peers
            .entry(peer)
            .and_modify(|e| {
                e.status = status;
                e.excluded = false;
            })
            .or_insert(PeerEntry {
                status,
                in_flight: 0,
                excluded: false,
            });
        self.drive()
    }

    /// A peer is gone: its batches go back to the queue, its lookups end.
    pub fn on_peer_disconnected(&mut self, peer: PeerId) -> Vec<SyncAction> {
        self.peers.remove(&peer);
        self.requests.retain(|_, (p, _)| *p != peer);
        if let Some(r) = &mut self.range {
            for b in r.batches.values_mut() {
                let lost = match &b.state {
                    BatchState::Headers { peer: p, .. } | BatchState::Bodies { peer: p, .. } => {
                        *p == peer
                    }
                    _ => false,
                };
                if lost {
                    b.state = BatchState::Pending;
                    b.failed_peers.insert(peer);
                    self.stats.batches_retried += 1;
                }
            }
        }
        let before = self.lookups.len();
        self.lookups.retain(|_, l| l.peer != peer);
        self.stats.lookups_failed += (before - self.lookups.len()) as u64;
        self.drive()
    }

    /// The result of a request sent for [`SyncAction::SendRequest`].
    pub fn on_response(
        &mut self,
        id: SyncRequestId,
        result: Result<RpcResponse, RpcError>,
    ) -> Vec<SyncAction> {
        let Some((peer, pending)) = self.requests.remove(&id) else {
            return Vec::new(); // stale: the peer left or the sync restarted
        };
        if let Some(e) = self.peers.get_mut(&peer) {
            e.in_flight = e.in_flight.saturating_sub(1);
        }
        let mut out = Vec::new();
        match (pending, result) {
            (Pending::Headers(b), Ok(RpcResponse::BlockHeaders(h))) => {
                self.on_headers(b, peer, id, h, &mut out)
            }
            (Pending::Bodies(b), Ok(RpcResponse::BlockBodies(bodies))) => {
                self.on_bodies(b, peer, id, bodies, &mut out)
            }
            (Pending::Lookup(l), Ok(RpcResponse::BlockBodies(bodies))) => {
                self.on_lookup_bodies(l, id, bodies, &mut out)
            }
            (Pending::Headers(b) | Pending::Bodies(b), Ok(other)) => self.batch_garbage(
                b,
                peer,
                format!("answered a sync request with {:?}", other.method()),
                &mut out,
            ),
            (Pending::Headers(b) | Pending::Bodies(b), Err(e)) => {
                self.batch_failed(b, peer, &e.to_string())
            }
            (Pending::Lookup(l), _) => self.lookup_failed(l),
        }
        out.extend(self.drive());
        out
    }

    // ----- internals -----

    pub(super) fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(super) fn send(
        &mut self,
        peer: PeerId,
        pending: Pending,
        request: RpcRequest,
    ) -> SyncAction {
        let id = SyncRequestId(self.take_id());
        self.requests.insert(id, (peer, pending));
        if let Some(e) = self.peers.get_mut(&peer) {
            e.in_flight += 1;
        }
        SyncAction::SendRequest { id, peer, request }
    }

    pub(super) fn raise_best_slot(&mut self, peer: PeerId, slot: Slot) {
        if let Some(e) = self.peers.get_mut(&peer) {
            if slot > e.status.best_slot {
                e.status.best_slot = slot;
            }
        }
    }

    pub(super) fn best_peer(&self) -> Option<(PeerId, PeerStatus)> {
        self.peers
            .iter()
            .filter(|(_, e)| !e.excluded && is_ahead(e.status, self.local))
            .map(|(p, e)| (*p, e.status))
            .max_by_key(|(p, s)| (s.finalized_epoch, s.best_slot, std::cmp::Reverse(*p)))
    }
}
