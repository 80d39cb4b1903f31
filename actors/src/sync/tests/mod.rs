//! Rig tests of the sync state machine: no runtime, no sockets. Remote peers are `MemoryStore`s
//! answering the requests the machine emits; imports go into a local `MemoryStore`, so the links
//! between blocks are checked by the real store.
//!
//! This file owns the rig ([`Rig`], chain builders, `serve`, `import_all`) and the config test; the
//! scenarios are by theme: `range.rs` (range sync), `failures.rs` (peers that leave, time out, send
//! garbage or another fork), `lookup.rs` (parent lookups of orphans).

mod failures;
mod lookup;
mod range;

use std::collections::VecDeque;

use hobbits_chain::rpc::{BlockBodies, GetBlockBodies, GetBlockHeaders};
use hobbits_chain::{
    BeaconBlock, BlockProducer, ChainError, ChainRead, ChainStore, Epoch, GenesisConfig,
    MemoryStore, Slot, StoreConfig,
};

use super::machine::*;
use crate::peer_table::PeerId;
use crate::rpc::{RpcRequest, RpcResponse};
use crate::rpc_tracker::RpcError;

fn genesis_store() -> MemoryStore {
    GenesisConfig::new(1, 1, std::time::Duration::from_secs(0), None)
        .and_then(|g| g.memory_store(StoreConfig::default()))
        .expect("genesis")
}

/// A store with blocks at slots 1..=n (every slot filled) by `name`.
fn chain(n: u64, name: &str) -> MemoryStore {
    let mut s = genesis_store();
    extend(&mut s, n, name);
    s
}

fn extend(s: &mut MemoryStore, upto: u64, name: &str) {
    let p = BlockProducer::new(name, 1);
    for slot in s.head().slot.0 + 1..=upto {
        let b = p.produce_on_head(s, Slot(slot)).expect("produce");
        s.import_block(b).expect("import");
    }
}

fn status_of(s: &MemoryStore) -> PeerStatus {
    PeerStatus::from(&s.hello(1, 1))
}

fn local_of(s: &MemoryStore) -> LocalStatus {
    LocalStatus::from(&s.hello(1, 1))
}

fn serve(s: &MemoryStore, req: &RpcRequest) -> RpcResponse {
    match req {
        RpcRequest::BlockHeaders(r) => RpcResponse::BlockHeaders(s.block_headers(r)),
        RpcRequest::BlockBodies(r) => RpcResponse::BlockBodies(s.block_bodies(r)),
        other => panic!("unexpected request {other:?}"),
    }
}

/// Imports blocks into `store` the way the actor does.
fn import_all(store: &mut MemoryStore, blocks: &[BeaconBlock]) -> ImportResult {
    for (i, b) in blocks.iter().enumerate() {
        match store.import_block(b.clone()) {
            Ok(_) | Err(ChainError::AlreadyKnown { .. }) => {}
            Err(ChainError::UnknownParent { parent_root, .. }) if i == 0 => {
                return ImportResult::MissingParent { parent_root }
            }
            Err(e) => {
                return ImportResult::Failed {
                    reason: e.to_string(),
                }
            }
        }
    }
    ImportResult::Imported {
        head_slot: store.head().slot,
    }
}

struct Rig {
    machine: SyncMachine,
    local: MemoryStore,
    actions: VecDeque<SyncAction>,
    /// Slots of every block handed over by ImportBatch, in order.
    batch_slots: Vec<u64>,
    penalties: Vec<PeerId>,
    /// Actions taken by `expect_*`; `run` performs those the test left unanswered.
    taken: Vec<SyncAction>,
    answered: std::collections::HashSet<SyncRequestId>,
}

impl Rig {
    fn new(config: SyncConfig, local: MemoryStore) -> Self {
        config.validate().expect("config");
        let machine = SyncMachine::new(config, local_of(&local));
        Rig {
            machine,
            local,
            actions: VecDeque::new(),
            batch_slots: Vec::new(),
            penalties: Vec::new(),
            taken: Vec::new(),
            answered: Default::default(),
        }
    }

    fn small(local: MemoryStore) -> Self {
        Rig::new(
            SyncConfig {
                batch_size: 8,
                max_batches: 4,
                requests_per_peer: 1,
                ..SyncConfig::default()
            },
            local,
        )
    }

    fn push(&mut self, actions: Vec<SyncAction>) {
        self.actions.extend(actions);
    }

    fn add_peer(&mut self, peer: u64, remote: &MemoryStore) {
        let a = self.machine.on_peer_status(PeerId(peer), status_of(remote));
        self.push(a);
    }

    fn take(&mut self, pred: impl Fn(&SyncAction) -> bool, what: &str) -> SyncAction {
        let i = self
            .actions
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("expected {what}, have {:?}", self.actions));
        let a = self.actions.remove(i).expect("index valid");
        self.taken.push(a.clone());
        a
    }

    fn expect_headers_request(&mut self) -> (SyncRequestId, PeerId, GetBlockHeaders) {
        match self.take(
            |a| {
                matches!(
                    a,
                    SyncAction::SendRequest {
                        request: RpcRequest::BlockHeaders(_),
                        ..
                    }
                )
            },
            "a headers request",
        ) {
            SyncAction::SendRequest {
                id,
                peer,
                request: RpcRequest::BlockHeaders(r),
            } => (id, peer, r),
            _ => unreachable!(),
        }
    }

    fn expect_bodies_request(&mut self) -> (SyncRequestId, PeerId, GetBlockBodies) {
        match self.take(
            |a| {
                matches!(
                    a,
                    SyncAction::SendRequest {
                        request: RpcRequest::BlockBodies(_),
                        ..
                    }
                )
            },
            "a bodies request",
        ) {
            SyncAction::SendRequest {
                id,
                peer,
                request: RpcRequest::BlockBodies(r),
            } => (id, peer, r),
            _ => unreachable!(),
        }
    }

    fn expect_import_batch(&mut self) -> (BatchId, Vec<BeaconBlock>) {
        match self.take(
            |a| matches!(a, SyncAction::ImportBatch { .. }),
            "a batch import",
        ) {
            SyncAction::ImportBatch { batch, blocks } => (batch, blocks),
            _ => unreachable!(),
        }
    }

    fn expect_penalty(&mut self, peer: PeerId) {
        self.take(
            |a| matches!(a, SyncAction::PenalizePeer { peer: p, .. } if *p == peer),
            "a penalty",
        );
    }

    fn expect_no_action(&self) {
        assert!(self.actions.is_empty(), "unexpected {:?}", self.actions);
    }

    fn respond(&mut self, id: SyncRequestId, result: Result<RpcResponse, RpcError>) {
        self.answered.insert(id);
        let a = self.machine.on_response(id, result);
        self.push(a);
    }

    fn import_batch(&mut self, batch: BatchId, blocks: &[BeaconBlock]) {
        self.batch_slots.extend(blocks.iter().map(|b| b.slot.0));
        let result = import_all(&mut self.local, blocks);
        let a = self.machine.on_batch_imported(batch, result);
        self.push(a);
    }

    /// Answers everything from `remotes[peer]` until no action is left.
    fn run(&mut self, remote: impl Fn(PeerId) -> Option<MemoryStore>) {
        for a in std::mem::take(&mut self.taken).into_iter().rev() {
            if let SyncAction::SendRequest { id, .. } = &a {
                if !self.answered.contains(id) {
                    self.actions.push_front(a);
                }
            }
        }
        let mut steps = 0;
        while let Some(action) = self.actions.pop_front() {
            steps += 1;
            assert!(steps < 100_000, "sync does not converge");
            match action {
                SyncAction::SendRequest { id, peer, request } => {
                    let result = match remote(peer) {
                        Some(s) => Ok(serve(&s, &request)),
                        None => Err(RpcError::Disconnected),
                    };
                    self.respond(id, result);
                }
                SyncAction::ImportBatch { batch, blocks } => self.import_batch(batch, &blocks),
                SyncAction::ImportLookup { lookup, blocks } => {
                    let result = import_all(&mut self.local, &blocks);
                    let a = self.machine.on_lookup_imported(lookup, result);
                    self.push(a);
                }
                SyncAction::PenalizePeer { peer, .. } => self.penalties.push(peer),
            }
        }
    }

    fn assert_imported_once_in_order(&self, from: u64, to: u64) {
        let want: Vec<u64> = (from..=to).collect();
        assert_eq!(self.batch_slots, want, "every block once, in order");
    }
}

/// The id of the first request the rig took.
fn rig_first_id(rig: &Rig) -> SyncRequestId {
    match rig.taken.first() {
        Some(SyncAction::SendRequest { id, .. }) => *id,
        other => panic!("no request taken: {other:?}"),
    }
}

#[test]
fn config_is_validated() {
    let bad = SyncConfig {
        batch_size: 0,
        ..SyncConfig::default()
    };
    assert!(matches!(
        bad.validate(),
        Err(SyncError::OutOfRange {
            field: "batch_size",
            ..
        })
    ));
    assert!(SyncConfig::default().validate().is_ok());
}
