//! Range sync, the part of [`SyncMachine`] that catches up with a peer that is ahead: batch state,
//! creating and assigning batches (`drive`), checking header and body responses, importing in slot
//! order, retrying and restarting. Handles no messages itself; returns [`SyncAction`]s.
//!
//! Range sync: when a peer is ahead (higher finalized epoch, or equal epochs and a higher best
//! slot), the slots after our head up to the best peer's best slot are cut into batches of
//! `batch_size` slots. Each batch asks one peer for its headers (GET_BLOCK_HEADERS from the batch's
//! first slot, skip 0, ascending), then for the full blocks (GET_BLOCK_BODIES from the first
//! header's root); every block must have the signing_root of the header at its place and every
//! header must name the previous one as its parent. Batches are spread over the peers that reach
//! them (`requests_per_peer` at a time each), completed batches wait in slot order and are imported
//! one at a time, lowest first, so none is imported twice and none is skipped. A failed request
//! (timeout, disconnect, error) or a batch whose first block does not link to our chain is retried
//! from another peer; a peer that sends garbage is penalised and left out of this sync.

use std::collections::{BTreeMap, HashSet};

use hobbits_chain::rpc::{BlockBodies, BlockHeaders, GetBlockBodies, GetBlockHeaders};
use hobbits_chain::{BeaconBlock, BeaconBlockHeader, Root, Slot};

use crate::peer_table::PeerId;
use crate::rpc::RpcRequest;

use super::machine::{PeerEntry, Pending, SyncMachine};
use super::types::{BatchId, ImportResult, SyncAction, SyncRequestId};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum BatchState {
    Pending,
    Headers {
        peer: PeerId,
        request: SyncRequestId,
    },
    Bodies {
        peer: PeerId,
        request: SyncRequestId,
        headers: Vec<BeaconBlockHeader>,
    },
    Ready {
        peer: PeerId,
        blocks: Vec<BeaconBlock>,
    },
    Importing {
        peer: PeerId,
    },
}

#[derive(Debug)]
pub(super) struct Batch {
    pub(super) id: BatchId,
    pub(super) start: Slot,
    /// Exclusive.
    pub(super) end: Slot,
    pub(super) state: BatchState,
    pub(super) attempts: u32,
    pub(super) failed_peers: HashSet<PeerId>,
    /// Peers whose blocks for this batch did not link to our chain.
    pub(super) unlinked_peers: HashSet<PeerId>,
}

#[derive(Debug)]
pub(super) struct RangeSync {
    pub(super) best_peer: PeerId,
    pub(super) target: Slot,
    pub(super) start: Slot,
    /// Every slot below is imported.
    pub(super) imported: Slot,
    /// First slot not yet covered by a batch.
    pub(super) next_start: Slot,
    /// Keyed by start slot.
    pub(super) batches: BTreeMap<Slot, Batch>,
}

impl RangeSync {
    /// The batch with this id and its start slot (its key in `batches`).
    fn batch_mut(&mut self, batch: BatchId) -> Option<(Slot, &mut Batch)> {
        self.batches
            .iter_mut()
            .find(|(_, b)| b.id == batch)
            .map(|(start, b)| (*start, b))
    }
}

impl SyncMachine {
    /// The result of a [`SyncAction::ImportBatch`].
    pub fn on_batch_imported(&mut self, batch: BatchId, result: ImportResult) -> Vec<SyncAction> {
        let Some(r) = &mut self.range else {
            return Vec::new();
        };
        let Some((start, b)) = r.batch_mut(batch) else {
            return Vec::new();
        };
        let BatchState::Importing { peer } = b.state else {
            return Vec::new();
        };
        match result {
            ImportResult::Imported { head_slot } => {
                let end = b.end;
                r.batches.remove(&start);
                r.imported = end;
                self.stats.batches_imported += 1;
                if head_slot > self.local.head_slot {
                    self.local.head_slot = head_slot;
                }
            }
            ImportResult::MissingParent { .. } | ImportResult::Failed { .. } => {
                // The peer's blocks do not extend our chain (another fork, or a previous batch
                // that was short): ask someone else.
                b.unlinked_peers.insert(peer);
                self.retry_batch(start, peer);
            }
        }
        self.drive()
    }

    pub(super) fn batch_start(&self, batch: BatchId) -> Option<Slot> {
        let r = self.range.as_ref()?;
        r.batches
            .iter()
            .find(|(_, b)| b.id == batch)
            .map(|(s, _)| *s)
    }

    pub(super) fn on_headers(
        &mut self,
        batch: BatchId,
        peer: PeerId,
        id: SyncRequestId,
        response: BlockHeaders,
        out: &mut Vec<SyncAction>,
    ) {
        let Some(r) = &mut self.range else { return };
        let Some((start, b)) = r.batch_mut(batch) else {
            return;
        };
        if b.state != (BatchState::Headers { peer, request: id }) {
            return;
        }
        // The skip_slots rule may put the block before our first slot at the front, and a peer
        // may send more than the range: keep the batch's slots only.
        let headers: Vec<BeaconBlockHeader> = response
            .headers
            .into_iter()
            .filter(|h| h.slot >= b.start && h.slot < b.end)
            .collect();
        if let Some(reason) = check_header_chain(&headers) {
            self.batch_garbage(batch, peer, reason, out);
            return;
        }
        let Some(first) = headers.first() else {
            // Nothing in these slots (all empty on that peer's chain).
            b.state = BatchState::Ready {
                peer,
                blocks: Vec::new(),
            };
            return;
        };
        // The response may stop short of the range (a server capping its answers): the rest of
        // the range becomes a batch of its own.
        let last = headers.last().map_or(first.slot, |h| h.slot);
        if last.0 + 1 < b.end.0 {
            let rest_start = Slot(last.0 + 1);
            let rest = Batch {
                id: BatchId(self.next_id),
                start: rest_start,
                end: b.end,
                state: BatchState::Pending,
                attempts: 0,
                failed_peers: HashSet::new(),
                unlinked_peers: HashSet::new(),
            };
            self.next_id += 1;
            b.end = rest_start;
            r.batches.insert(rest_start, rest);
        }
        let request = RpcRequest::BlockBodies(GetBlockBodies {
            start_root: first.signing_root(),
            start_slot: first.slot,
            max: headers.len() as u64,
            skip: 0,
            direction: 1,
        });
        let action = self.send(peer, Pending::Bodies(batch), request);
        if let (SyncAction::SendRequest { id, .. }, Some(r)) = (&action, &mut self.range) {
            if let Some(b) = r.batches.get_mut(&start) {
                b.state = BatchState::Bodies {
                    peer,
                    request: *id,
                    headers,
                };
            }
        }
        out.push(action);
    }

    pub(super) fn on_bodies(
        &mut self,
        batch: BatchId,
        peer: PeerId,
        id: SyncRequestId,
        response: BlockBodies,
        out: &mut Vec<SyncAction>,
    ) {
        let Some((_, b)) = self.range.as_mut().and_then(|r| r.batch_mut(batch)) else {
            return;
        };
        let BatchState::Bodies {
            peer: p,
            request,
            headers,
        } = &b.state
        else {
            return;
        };
        if *p != peer || *request != id {
            return;
        }
        let blocks: Vec<BeaconBlock> = response.bodies.into_iter().take(headers.len()).collect();
        let mismatch = if blocks.len() != headers.len() {
            Some(format!(
                "sent {} blocks for {} headers",
                blocks.len(),
                headers.len()
            ))
        } else {
            headers
                .iter()
                .zip(&blocks)
                .position(|(h, b)| h.signing_root() != b.signing_root())
                .map(|i| format!("block {i} does not match the header asked for"))
        };
        if let Some(reason) = mismatch {
            self.batch_garbage(batch, peer, reason, out);
            return;
        }
        b.state = BatchState::Ready { peer, blocks };
    }

    pub(super) fn batch_garbage(
        &mut self,
        batch: BatchId,
        peer: PeerId,
        reason: String,
        out: &mut Vec<SyncAction>,
    ) {
        self.stats.garbage += 1;
        if let Some(e) = self.peers.get_mut(&peer) {
            e.excluded = true;
        }
        out.push(SyncAction::PenalizePeer { peer, reason });
        if let Some(start) = self.batch_start(batch) {
            self.retry_batch(start, peer);
        }
    }

    pub(super) fn batch_failed(&mut self, batch: BatchId, peer: PeerId, _reason: &str) {
        if let Some(start) = self.batch_start(batch) {
            self.retry_batch(start, peer);
        }
    }

    pub(super) fn retry_batch(&mut self, start: Slot, peer: PeerId) {
        let Some(r) = &mut self.range else { return };
        let Some(b) = r.batches.get_mut(&start) else {
            return;
        };
        b.state = BatchState::Pending;
        b.failed_peers.insert(peer);
        b.attempts += 1;
        self.stats.batches_retried += 1;
        if b.attempts >= self.config.max_batch_attempts {
            // Something earlier is wrong (a short batch from a liar, a reorg): start again from
            // what is imported, every batch fresh.
            self.stats.restarts += 1;
            // Peers whose blocks never linked cannot take us further on this chain.
            for p in &b.unlinked_peers {
                if let Some(e) = self.peers.get_mut(p) {
                    e.excluded = true;
                }
            }
            let imported = r.imported;
            r.batches.clear();
            r.next_start = imported;
            self.requests
                .retain(|_, (_, p)| matches!(p, Pending::Lookup(_)));
            for e in self.peers.values_mut() {
                e.in_flight = 0;
            }
        }
    }

    /// Starts, extends, assigns, imports, finishes.
    pub(super) fn drive(&mut self) -> Vec<SyncAction> {
        let mut out = Vec::new();
        let best = self.best_peer();
        match (&mut self.range, best) {
            (None, Some((peer, status))) => {
                let start = Slot(self.local.head_slot.0 + 1);
                self.stats.syncs_started += 1;
                self.range = Some(RangeSync {
                    best_peer: peer,
                    target: status.best_slot,
                    start,
                    imported: start,
                    next_start: start,
                    batches: BTreeMap::new(),
                });
            }
            (Some(r), Some((peer, status))) if status.best_slot > r.target => {
                r.best_peer = peer;
                r.target = status.best_slot;
            }
            _ => {}
        }
        let Some(r) = &mut self.range else {
            return out;
        };
        // Create batches within the window.
        while r.next_start <= r.target && r.batches.len() < self.config.max_batches {
            let start = r.next_start;
            let end = Slot((start.0 + self.config.batch_size).min(r.target.0 + 1));
            let id = BatchId(self.next_id);
            self.next_id += 1;
            r.batches.insert(
                start,
                Batch {
                    id,
                    start,
                    end,
                    state: BatchState::Pending,
                    attempts: 0,
                    failed_peers: HashSet::new(),
                    unlinked_peers: HashSet::new(),
                },
            );
            r.next_start = end;
        }
        // Assign pending batches to peers that reach them.
        let pending: Vec<(Slot, BatchId, Slot, HashSet<PeerId>)> = r
            .batches
            .values()
            .filter(|b| b.state == BatchState::Pending)
            .map(|b| (b.start, b.id, b.end, b.failed_peers.clone()))
            .collect();
        for (start, id, end, failed) in pending {
            let reach = |e: &PeerEntry| {
                !e.excluded
                    && e.status.best_slot >= start
                    && e.in_flight < self.config.requests_per_peer
            };
            let mut candidates: Vec<(PeerId, usize)> = self
                .peers
                .iter()
                .filter(|(_, e)| reach(e))
                .map(|(p, e)| (*p, e.in_flight))
                .collect();
            if candidates.iter().any(|(p, _)| !failed.contains(p)) {
                candidates.retain(|(p, _)| !failed.contains(p));
            }
            let Some((peer, _)) = candidates.into_iter().min_by_key(|(p, n)| (*n, *p)) else {
                continue;
            };
            let request = RpcRequest::BlockHeaders(GetBlockHeaders {
                start_root: Root::ZERO,
                start_slot: start,
                max: end.0 - start.0,
                skip: 0,
                direction: 1,
            });
            let action = self.send(peer, Pending::Headers(id), request);
            if let (SyncAction::SendRequest { id: req, .. }, Some(r)) = (&action, &mut self.range) {
                if let Some(b) = r.batches.get_mut(&start) {
                    b.state = BatchState::Headers {
                        peer,
                        request: *req,
                    };
                }
            }
            out.push(action);
        }
        let Some(r) = &mut self.range else {
            return out;
        };
        // Import the lowest batch once it is ready (one import at a time, in slot order).
        // The blocks move out of the batch (no copy): it keeps only who served them.
        if let Some(b) = r.batches.values_mut().next() {
            b.state = match std::mem::replace(&mut b.state, BatchState::Pending) {
                BatchState::Ready { peer, blocks } => {
                    self.stats.blocks_imported += blocks.len() as u64;
                    out.push(SyncAction::ImportBatch {
                        batch: b.id,
                        blocks,
                    });
                    BatchState::Importing { peer }
                }
                other => other,
            };
        }
        // Done: every slot up to the target is imported.
        if r.batches.is_empty() && r.next_start > r.target {
            self.stats.syncs_completed += 1;
            if r.imported.0 > 0 && Slot(r.imported.0 - 1) > self.local.head_slot {
                self.local.head_slot = Slot(r.imported.0 - 1);
            }
            self.range = None;
            // A peer may have moved on meanwhile (learned from gossip): go again.
            if self.best_peer().is_some() {
                out.extend(self.drive());
            }
        } else if !r.batches.is_empty()
            && r.batches.values().all(|b| b.state == BatchState::Pending)
            && !self
                .peers
                .values()
                .any(|e| !e.excluded && e.status.best_slot >= r.imported)
        {
            // Nobody left to ask: stop; a peer that comes back restarts from here.
            self.range = None;
        }
        out
    }
}

/// Ascending slots, each header the parent of the next; `None` when fine.
fn check_header_chain(headers: &[BeaconBlockHeader]) -> Option<String> {
    for pair in headers.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if b.slot <= a.slot {
            return Some(format!(
                "headers not ascending ({} then {})",
                a.slot, b.slot
            ));
        }
        if b.parent_root != a.signing_root() {
            return Some(format!(
                "header at slot {} does not link to its predecessor",
                b.slot
            ));
        }
    }
    None
}
