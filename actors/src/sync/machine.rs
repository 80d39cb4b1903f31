//! `SyncMachine`: the sync decisions as a plain struct. Events in (peer status, peer gone, RPC
//! results, import results, orphan blocks), [`SyncAction`]s out (requests to send, blocks to import,
//! peers to penalise). No runtime, no I/O: the `SyncActor` performs the actions.
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
//!
//! Parent lookup: an orphan block from gossip whose slot is close to our head asks its sender for
//! the missing parent by root (GET_BLOCK_BODIES, `start_root` = parent, max 1), then tries to import
//! the chain fetched so far, going one parent further back each time the store still misses one, up
//! to `max_lookup_depth`. An orphan far ahead of our head means its sender is ahead: it raises that
//! peer's known best slot, which starts (or extends) a range sync instead.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use hobbits_chain::rpc::{BlockBodies, BlockHeaders, GetBlockBodies, GetBlockHeaders, Hello};
use hobbits_chain::{BeaconBlock, BeaconBlockHeader, Epoch, Root, Slot};

use crate::peer_table::PeerId;
use crate::rpc::{RpcRequest, RpcResponse};
use crate::rpc_tracker::RpcError;

/// Why a sync configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// A count that must be positive is zero, or one above its ceiling.
    #[error("sync config `{field}` must be in {min}..={max}, got {value}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// Lowest accepted.
        min: u64,
        /// Highest accepted.
        max: u64,
        /// Given.
        value: u64,
    },
}

/// Tuning of sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    /// Slots per batch (one GET_BLOCK_HEADERS + one GET_BLOCK_BODIES). Default 32 (≤ the 64
    /// items a node serves per response by default). 1..=1024.
    pub batch_size: u64,
    /// Batches requested or waiting for import at once (the look-ahead window). Default 8.
    pub max_batches: usize,
    /// Requests one peer has outstanding for sync at once. Default 2.
    pub requests_per_peer: usize,
    /// Attempts of one batch before the range sync restarts from the last imported slot.
    /// Default 5.
    pub max_batch_attempts: u32,
    /// Parents fetched for one orphan before the lookup gives up. Default 32.
    pub max_lookup_depth: usize,
    /// Parent lookups running at once; more orphans are dropped (counted). Default 16.
    pub max_lookups: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            batch_size: 32,
            max_batches: 8,
            requests_per_peer: 2,
            max_batch_attempts: 5,
            max_lookup_depth: 32,
            max_lookups: 16,
        }
    }
}

impl SyncConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), SyncError> {
        let check = |field, value: u64, min, max| {
            if value < min || value > max {
                Err(SyncError::OutOfRange {
                    field,
                    min,
                    max,
                    value,
                })
            } else {
                Ok(())
            }
        };
        check("batch_size", self.batch_size, 1, 1024)?;
        check("max_batches", self.max_batches as u64, 1, 1024)?;
        check("requests_per_peer", self.requests_per_peer as u64, 1, 64)?;
        check(
            "max_batch_attempts",
            u64::from(self.max_batch_attempts),
            1,
            1000,
        )?;
        check("max_lookup_depth", self.max_lookup_depth as u64, 1, 1024)?;
        check("max_lookups", self.max_lookups as u64, 1, 1024)
    }
}

/// Id of a request sync sent (matches the result to the batch or lookup).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SyncRequestId(pub u64);

/// Id of a range batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchId(pub u64);

/// Id of a parent lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub u64);

/// What a peer told us about its chain (from its HELLO, raised by what it gossips).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerStatus {
    /// Its latest finalized epoch.
    pub finalized_epoch: Epoch,
    /// Its best slot.
    pub best_slot: Slot,
}

impl From<&Hello> for PeerStatus {
    fn from(h: &Hello) -> Self {
        PeerStatus {
            finalized_epoch: h.latest_finalized_epoch,
            best_slot: h.best_slot,
        }
    }
}

/// Our own chain, as the store reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalStatus {
    /// Our finalized epoch.
    pub finalized_epoch: Epoch,
    /// Our head slot.
    pub head_slot: Slot,
}

impl From<&Hello> for LocalStatus {
    fn from(h: &Hello) -> Self {
        LocalStatus {
            finalized_epoch: h.latest_finalized_epoch,
            head_slot: h.best_slot,
        }
    }
}

/// What the machine asks its driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncAction {
    /// Send `request` to `peer`; report the result with [`SyncMachine::on_response`].
    SendRequest {
        /// Id to report back.
        id: SyncRequestId,
        /// The peer.
        peer: PeerId,
        /// The request.
        request: RpcRequest,
    },
    /// Import these blocks in order; report with [`SyncMachine::on_batch_imported`].
    ImportBatch {
        /// The batch.
        batch: BatchId,
        /// Parents first.
        blocks: Vec<BeaconBlock>,
    },
    /// Import the chain a lookup fetched (oldest first, the orphan last); report with
    /// [`SyncMachine::on_lookup_imported`].
    ImportLookup {
        /// The lookup.
        lookup: LookupId,
        /// Parents first.
        blocks: Vec<BeaconBlock>,
    },
    /// The peer sent garbage.
    PenalizePeer {
        /// The peer.
        peer: PeerId,
        /// What it did.
        reason: String,
    },
}

/// How an import of several blocks ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportResult {
    /// Every block is in the store now (imported, or already known).
    Imported {
        /// Our head slot afterwards.
        head_slot: Slot,
    },
    /// The first block's parent is unknown to the store.
    MissingParent {
        /// The missing root.
        parent_root: Root,
    },
    /// The store refused a block for another reason.
    Failed {
        /// Why.
        reason: String,
    },
}

/// Where sync stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncState {
    /// No peer is ahead of us.
    Idle,
    /// Range sync running.
    Syncing {
        /// The best peer (the one whose best slot is the target).
        peer: PeerId,
        /// Slot we sync up to.
        target_slot: Slot,
        /// Every slot below this is imported (progress).
        imported_slot: Slot,
        /// First slot of this sync.
        start_slot: Slot,
        /// Peers serving batches.
        peers: usize,
        /// Batches requested or waiting.
        batches: usize,
    },
}

impl fmt::Display for SyncState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncState::Idle => f.write_str("idle"),
            SyncState::Syncing {
                peer,
                target_slot,
                imported_slot,
                ..
            } => write!(
                f,
                "syncing from {peer} to slot {target_slot} (imported below {imported_slot})"
            ),
        }
    }
}

/// Counters of sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Range syncs started.
    pub syncs_started: u64,
    /// Range syncs that reached their target.
    pub syncs_completed: u64,
    /// Batches imported.
    pub batches_imported: u64,
    /// Blocks handed to the store by batches.
    pub blocks_imported: u64,
    /// Batches retried (failed request, garbage, or not linking).
    pub batches_retried: u64,
    /// Range syncs restarted after a batch failed too often.
    pub restarts: u64,
    /// Responses refused as garbage.
    pub garbage: u64,
    /// Parent lookups started.
    pub lookups_started: u64,
    /// Parent lookups that imported their orphan.
    pub lookups_completed: u64,
    /// Parent lookups given up (depth, failures) or refused (too many).
    pub lookups_failed: u64,
}

/// Answer to `GetSyncState`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// The state.
    pub state: SyncState,
    /// Parent lookups running.
    pub lookups: usize,
    /// Counters.
    pub stats: SyncStats,
}

#[derive(Debug)]
struct PeerEntry {
    status: PeerStatus,
    in_flight: usize,
    /// Sent garbage: not asked again while connected.
    excluded: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum BatchState {
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
struct Batch {
    id: BatchId,
    start: Slot,
    /// Exclusive.
    end: Slot,
    state: BatchState,
    attempts: u32,
    failed_peers: HashSet<PeerId>,
    /// Peers whose blocks for this batch did not link to our chain.
    unlinked_peers: HashSet<PeerId>,
}

#[derive(Debug)]
struct RangeSync {
    best_peer: PeerId,
    target: Slot,
    start: Slot,
    /// Every slot below is imported.
    imported: Slot,
    /// First slot not yet covered by a batch.
    next_start: Slot,
    /// Keyed by start slot.
    batches: BTreeMap<Slot, Batch>,
}

#[derive(Debug)]
struct Lookup {
    peer: PeerId,
    /// Oldest first; the orphan last.
    chain: Vec<BeaconBlock>,
    missing: Root,
    request: Option<SyncRequestId>,
}

#[derive(Debug, Clone, Copy)]
enum Pending {
    Headers(BatchId),
    Bodies(BatchId),
    Lookup(LookupId),
}

/// The sync state machine.
#[derive(Debug)]
pub struct SyncMachine {
    config: SyncConfig,
    local: LocalStatus,
    peers: HashMap<PeerId, PeerEntry>,
    requests: HashMap<SyncRequestId, (PeerId, Pending)>,
    range: Option<RangeSync>,
    lookups: HashMap<LookupId, Lookup>,
    next_id: u64,
    stats: SyncStats,
}

fn is_ahead(peer: PeerStatus, local: LocalStatus) -> bool {
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

    /// An orphan block arrived by gossip from `peer` (its parent is unknown to the store).
    pub fn on_orphan_block(&mut self, peer: PeerId, block: BeaconBlock) -> Vec<SyncAction> {
        let far = block.slot.0
            > self
                .local
                .head_slot
                .0
                .saturating_add(self.config.max_lookup_depth as u64);
        if far {
            // The sender has this block, so its chain is at least that long: range sync.
            self.raise_best_slot(peer, block.slot);
        }
        let covered = self.range.as_ref().is_some_and(|r| block.slot <= r.target);
        let known = self
            .lookups
            .values()
            .any(|l| l.missing == block.parent_root || l.chain.iter().any(|b| b == &block));
        if far || covered || known {
            return self.drive();
        }
        if self.lookups.len() >= self.config.max_lookups {
            self.stats.lookups_failed += 1;
            return self.drive();
        }
        let id = LookupId(self.take_id());
        self.stats.lookups_started += 1;
        self.lookups.insert(
            id,
            Lookup {
                peer,
                missing: block.parent_root,
                chain: vec![block],
                request: None,
            },
        );
        let mut out = Vec::new();
        self.request_parent(id, &mut out);
        out.extend(self.drive());
        out
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

    /// The result of a [`SyncAction::ImportBatch`].
    pub fn on_batch_imported(&mut self, batch: BatchId, result: ImportResult) -> Vec<SyncAction> {
        let Some(r) = &mut self.range else {
            return Vec::new();
        };
        let Some((&start, b)) = r.batches.iter_mut().find(|(_, b)| b.id == batch) else {
            return Vec::new();
        };
        let BatchState::Importing { peer } = b.state else {
            return Vec::new();
        };
        match result {
            ImportResult::Imported { head_slot } => {
                let end = b.end;
                if let Some(done) = r.batches.remove(&start) {
                    let _ = done;
                }
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

    /// The result of a [`SyncAction::ImportLookup`].
    pub fn on_lookup_imported(
        &mut self,
        lookup: LookupId,
        result: ImportResult,
    ) -> Vec<SyncAction> {
        let mut out = Vec::new();
        match result {
            ImportResult::Imported { head_slot } => {
                if self.lookups.remove(&lookup).is_some() {
                    self.stats.lookups_completed += 1;
                }
                if head_slot > self.local.head_slot {
                    self.local.head_slot = head_slot;
                }
            }
            ImportResult::MissingParent { parent_root } => {
                let depth_left = match self.lookups.get_mut(&lookup) {
                    Some(l) if l.chain.len() < self.config.max_lookup_depth + 1 => {
                        l.missing = parent_root;
                        true
                    }
                    Some(_) => false,
                    None => return Vec::new(),
                };
                if depth_left {
                    self.request_parent(lookup, &mut out);
                } else {
                    self.lookup_failed(lookup);
                }
            }
            ImportResult::Failed { .. } => self.lookup_failed(lookup),
        }
        out.extend(self.drive());
        out
    }

    // ----- internals -----

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn send(&mut self, peer: PeerId, pending: Pending, request: RpcRequest) -> SyncAction {
        let id = SyncRequestId(self.take_id());
        self.requests.insert(id, (peer, pending));
        if let Some(e) = self.peers.get_mut(&peer) {
            e.in_flight += 1;
        }
        SyncAction::SendRequest { id, peer, request }
    }

    fn request_parent(&mut self, lookup: LookupId, out: &mut Vec<SyncAction>) {
        let Some(l) = self.lookups.get(&lookup) else {
            return;
        };
        let (peer, missing) = (l.peer, l.missing);
        let request = RpcRequest::BlockBodies(GetBlockBodies {
            start_root: missing,
            start_slot: Slot(0),
            max: 1,
            skip: 0,
            direction: 1,
        });
        let action = self.send(peer, Pending::Lookup(lookup), request);
        if let SyncAction::SendRequest { id, .. } = &action {
            if let Some(l) = self.lookups.get_mut(&lookup) {
                l.request = Some(*id);
            }
        }
        out.push(action);
    }

    fn on_lookup_bodies(
        &mut self,
        lookup: LookupId,
        id: SyncRequestId,
        bodies: BlockBodies,
        out: &mut Vec<SyncAction>,
    ) {
        let Some(l) = self.lookups.get_mut(&lookup) else {
            return;
        };
        if l.request != Some(id) {
            return;
        }
        l.request = None;
        // The peer may not have it (a store answers an unknown root from slot 0): no penalty.
        match bodies.bodies.first() {
            Some(b) if b.signing_root() == l.missing => {
                l.chain.insert(0, b.clone());
                out.push(SyncAction::ImportLookup {
                    lookup,
                    blocks: l.chain.clone(),
                });
            }
            _ => self.lookup_failed(lookup),
        }
    }

    fn lookup_failed(&mut self, lookup: LookupId) {
        if let Some(l) = self.lookups.remove(&lookup) {
            self.stats.lookups_failed += 1;
            // Too deep or not served by root: the sender's chain is still worth a range sync.
            if let Some(orphan) = l.chain.last() {
                self.raise_best_slot(l.peer, orphan.slot);
            }
        }
    }

    fn raise_best_slot(&mut self, peer: PeerId, slot: Slot) {
        if let Some(e) = self.peers.get_mut(&peer) {
            if slot > e.status.best_slot {
                e.status.best_slot = slot;
            }
        }
    }

    fn batch_start(&self, batch: BatchId) -> Option<Slot> {
        let r = self.range.as_ref()?;
        r.batches
            .iter()
            .find(|(_, b)| b.id == batch)
            .map(|(s, _)| *s)
    }

    fn on_headers(
        &mut self,
        batch: BatchId,
        peer: PeerId,
        id: SyncRequestId,
        response: BlockHeaders,
        out: &mut Vec<SyncAction>,
    ) {
        let Some(start) = self.batch_start(batch) else {
            return;
        };
        let Some(r) = &mut self.range else { return };
        let Some(b) = r.batches.get_mut(&start) else {
            return;
        };
        if b.state != (BatchState::Headers { peer, request: id }) {
            return;
        }
        // The skip_slots rule may put the block before our first slot at the front, and a peer
        // may send more than the range: keep the batch's slots only.
        let headers: Vec<BeaconBlockHeader> = response
            .headers
            .iter()
            .filter(|h| h.slot >= b.start && h.slot < b.end)
            .cloned()
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

    fn on_bodies(
        &mut self,
        batch: BatchId,
        peer: PeerId,
        id: SyncRequestId,
        response: BlockBodies,
        out: &mut Vec<SyncAction>,
    ) {
        let Some(start) = self.batch_start(batch) else {
            return;
        };
        let Some(r) = &mut self.range else { return };
        let Some(b) = r.batches.get_mut(&start) else {
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
        let blocks: Vec<BeaconBlock> = response
            .bodies
            .iter()
            .take(headers.len())
            .cloned()
            .collect();
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

    fn batch_garbage(
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

    fn batch_failed(&mut self, batch: BatchId, peer: PeerId, _reason: &str) {
        if let Some(start) = self.batch_start(batch) {
            self.retry_batch(start, peer);
        }
    }

    fn retry_batch(&mut self, start: Slot, peer: PeerId) {
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

    fn best_peer(&self) -> Option<(PeerId, PeerStatus)> {
        self.peers
            .iter()
            .filter(|(_, e)| !e.excluded && is_ahead(e.status, self.local))
            .map(|(p, e)| (*p, e.status))
            .max_by_key(|(p, s)| (s.finalized_epoch, s.best_slot, std::cmp::Reverse(*p)))
    }

    /// Starts, extends, assigns, imports, finishes.
    fn drive(&mut self) -> Vec<SyncAction> {
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
        if let Some(b) = r.batches.values_mut().next() {
            if let BatchState::Ready { peer, blocks } = &b.state {
                let (peer, blocks) = (*peer, blocks.clone());
                self.stats.blocks_imported += blocks.len() as u64;
                b.state = BatchState::Importing { peer };
                out.push(SyncAction::ImportBatch {
                    batch: b.id,
                    blocks,
                });
            }
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
