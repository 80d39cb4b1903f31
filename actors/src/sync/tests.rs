//! Rig tests of the sync state machine: no runtime, no sockets. Remote peers are `MemoryStore`s
//! answering the requests the machine emits; imports go into a local `MemoryStore`, so the links
//! between blocks are checked by the real store.

use std::collections::VecDeque;

use hobbits_chain::rpc::{BlockBodies, GetBlockBodies, GetBlockHeaders};
use hobbits_chain::{
    BeaconBlock, BlockProducer, ChainError, ChainStore, Epoch, GenesisConfig, MemoryStore, Slot,
    StoreConfig,
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

#[test]
fn a_peer_ahead_is_synced_in_batches_and_each_block_imported_once() {
    let remote = chain(100, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    let (_, peer, req) = rig.expect_headers_request();
    assert_eq!(peer, PeerId(1));
    assert_eq!(
        (req.start_slot, req.max, req.skip, req.direction),
        (Slot(1), 8, 0, 1)
    );
    assert!(matches!(
        rig.machine.state(),
        SyncState::Syncing {
            target_slot: Slot(100),
            peer: PeerId(1),
            ..
        }
    ));
    let (id, _, req) = {
        let (id, p, r) = (rig_first_id(&rig), PeerId(1), req);
        (id, p, r)
    };
    rig.respond(id, Ok(serve(&remote, &RpcRequest::BlockHeaders(req))));
    let (id, _, req) = rig.expect_bodies_request();
    assert_eq!(req.max, 8);
    rig.respond(id, Ok(serve(&remote, &RpcRequest::BlockBodies(req))));
    let (batch, blocks) = rig.expect_import_batch();
    let slots: Vec<u64> = blocks.iter().map(|b| b.slot.0).collect();
    assert_eq!(slots, (1..=8).collect::<Vec<_>>());
    rig.import_batch(batch, &blocks);
    let r = remote.clone();
    rig.run(move |_| Some(r.clone()));
    assert_eq!(rig.local.head(), remote.head());
    rig.assert_imported_once_in_order(1, 100);
    assert_eq!(rig.machine.state(), SyncState::Idle);
    let st = rig.machine.status().stats;
    assert_eq!(
        (st.syncs_started, st.syncs_completed, st.batches_imported),
        (1, 1, 13)
    );
    assert_eq!(st.blocks_imported, 100);
}

/// The id of the first request the rig took.
fn rig_first_id(rig: &Rig) -> SyncRequestId {
    match rig.taken.first() {
        Some(SyncAction::SendRequest { id, .. }) => *id,
        other => panic!("no request taken: {other:?}"),
    }
}

#[test]
fn a_peer_behind_or_level_starts_nothing() {
    let local = chain(10, "a");
    let mut rig = Rig::small(local.clone());
    rig.add_peer(1, &chain(10, "a"));
    rig.add_peer(2, &chain(5, "a"));
    rig.expect_no_action();
    assert_eq!(rig.machine.state(), SyncState::Idle);
}

#[test]
fn a_higher_finalized_epoch_wins_over_best_slot() {
    let mut rig = Rig::small(genesis_store());
    let peer = PeerStatus {
        finalized_epoch: Epoch(1),
        best_slot: Slot(3),
    };
    let a = rig.machine.on_peer_status(PeerId(7), peer);
    rig.push(a);
    let (_, p, req) = rig.expect_headers_request();
    assert_eq!((p, req.start_slot, req.max), (PeerId(7), Slot(1), 3));
}

#[test]
fn batches_are_spread_over_peers_sharing_the_chain() {
    let remote = chain(64, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    rig.add_peer(2, &remote);
    rig.add_peer(3, &remote);
    let mut asked: Vec<PeerId> = (0..3).map(|_| rig.expect_headers_request().1).collect();
    asked.sort();
    assert_eq!(asked, vec![PeerId(1), PeerId(2), PeerId(3)]);
    let r = remote.clone();
    rig.run(move |_| Some(r.clone()));
    rig.assert_imported_once_in_order(1, 64);
}

#[test]
fn the_best_peer_sets_the_target() {
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &chain(20, "a"));
    rig.add_peer(2, &chain(50, "a"));
    assert!(matches!(
        rig.machine.state(),
        SyncState::Syncing {
            target_slot: Slot(50),
            peer: PeerId(2),
            ..
        }
    ));
}

#[test]
fn a_peer_disconnecting_mid_sync_hands_its_batch_to_another() {
    let remote = chain(40, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    let (_, p, _) = rig.expect_headers_request();
    assert_eq!(p, PeerId(1));
    rig.add_peer(2, &remote);
    let (id2, p2, _) = rig.expect_headers_request();
    assert_eq!(p2, PeerId(2));
    // Peer 2 answers its headers, then peer 1 leaves with its batch (slots 1..9) outstanding.
    rig.respond(
        id2,
        Ok(serve(
            &remote,
            &RpcRequest::BlockHeaders(GetBlockHeaders {
                start_slot: Slot(9),
                max: 8,
                direction: 1,
                ..Default::default()
            }),
        )),
    );
    let a = rig.machine.on_peer_disconnected(PeerId(1));
    rig.push(a);
    // The lost batch goes to peer 2 once it has room; run everything from peer 2.
    let r = remote.clone();
    rig.run(move |p| (p == PeerId(2)).then(|| r.clone()));
    assert_eq!(rig.local.head(), remote.head());
    rig.assert_imported_once_in_order(1, 40);
    assert!(rig.machine.status().stats.batches_retried >= 1);
}

#[test]
fn a_timeout_retries_the_batch_from_another_peer() {
    let remote = chain(8, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    let (id, _, _) = rig.expect_headers_request();
    rig.add_peer(2, &remote);
    rig.expect_no_action(); // one batch only, already assigned
    rig.respond(
        id,
        Err(RpcError::Timeout {
            after: std::time::Duration::from_secs(1),
        }),
    );
    let (_, p, req) = rig.expect_headers_request();
    assert_eq!((p, req.start_slot), (PeerId(2), Slot(1)));
    let r = remote.clone();
    rig.run(move |_| Some(r.clone()));
    rig.assert_imported_once_in_order(1, 8);
}

#[test]
fn bodies_not_matching_their_headers_are_garbage_and_retried_elsewhere() {
    let remote = chain(8, "a");
    let liar = chain(8, "b"); // same slots, other blocks
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    rig.add_peer(2, &remote);
    let (id, p, req) = rig.expect_headers_request();
    assert_eq!(p, PeerId(1));
    rig.respond(id, Ok(serve(&remote, &RpcRequest::BlockHeaders(req))));
    let (id, _, req) = rig.expect_bodies_request();
    rig.respond(id, Ok(serve(&liar, &RpcRequest::BlockBodies(req))));
    rig.expect_penalty(PeerId(1));
    let (_, p, _) = rig.expect_headers_request();
    assert_eq!(p, PeerId(2));
    let r = remote.clone();
    rig.run(move |_| Some(r.clone()));
    rig.assert_imported_once_in_order(1, 8);
    assert_eq!(rig.machine.status().stats.garbage, 1);
}

#[test]
fn headers_that_do_not_link_are_garbage() {
    let remote = chain(8, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    let (id, _, req) = rig.expect_headers_request();
    let RpcResponse::BlockHeaders(mut h) = serve(&remote, &RpcRequest::BlockHeaders(req)) else {
        unreachable!()
    };
    h.headers[3].parent_root = hobbits_chain::Root([9; 32]);
    rig.respond(id, Ok(RpcResponse::BlockHeaders(h)));
    rig.expect_penalty(PeerId(1));
    // Peer 1 is left out; nobody else can serve: sync stops until a peer comes.
    assert_eq!(rig.machine.state(), SyncState::Idle);
    rig.add_peer(2, &remote);
    let r = remote.clone();
    rig.run(move |_| Some(r.clone()));
    rig.assert_imported_once_in_order(1, 8);
}

#[test]
fn a_wrong_response_kind_is_garbage() {
    let remote = chain(8, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    let (id, _, _) = rig.expect_headers_request();
    rig.respond(id, Ok(RpcResponse::BlockBodies(BlockBodies::default())));
    rig.expect_penalty(PeerId(1));
}

#[test]
fn a_capped_answer_leaves_the_rest_of_the_range_to_a_new_batch() {
    let remote = chain(30, "a");
    let mut rig = Rig::new(
        SyncConfig {
            batch_size: 16,
            max_batches: 2,
            requests_per_peer: 2,
            ..SyncConfig::default()
        },
        genesis_store(),
    );
    rig.add_peer(1, &remote);
    // A server that answers at most 5 items.
    let r = remote.clone();
    let capped = move |_: PeerId| Some(r.clone());
    let mut steps = 0;
    while let Some(action) = rig.actions.pop_front() {
        steps += 1;
        assert!(steps < 10_000);
        match action {
            SyncAction::SendRequest { id, request, .. } => {
                let request = match request {
                    RpcRequest::BlockHeaders(mut r) => {
                        r.max = r.max.min(5);
                        RpcRequest::BlockHeaders(r)
                    }
                    other => other,
                };
                let s = capped(PeerId(1)).expect("remote");
                rig.respond(id, Ok(serve(&s, &request)));
            }
            SyncAction::ImportBatch { batch, blocks } => rig.import_batch(batch, &blocks),
            other => panic!("unexpected {other:?}"),
        }
    }
    rig.assert_imported_once_in_order(1, 30);
}

#[test]
fn a_batch_not_linking_to_our_chain_is_retried_and_a_stubborn_failure_restarts() {
    let remote = chain(16, "a");
    let fork = chain(16, "b");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &fork);
    // The first batch comes from the fork peer, the second from the honest one: it does not link,
    // is retried elsewhere, and the result is one consistent chain.
    rig.add_peer(2, &remote);
    let honest = remote.clone();
    let other = fork.clone();
    rig.run(move |p| {
        Some(if p == PeerId(2) {
            honest.clone()
        } else {
            other.clone()
        })
    });
    // Whatever was mixed, the local chain is one consistent chain of 16 blocks.
    assert_eq!(rig.local.head().slot, Slot(16));
    let head = rig.local.head().root;
    assert!(head == remote.head().root || head == fork.head().root);
    assert_eq!(rig.machine.state(), SyncState::Idle);
}

#[test]
fn stale_responses_after_a_disconnect_are_ignored() {
    let remote = chain(8, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &remote);
    let (id, _, req) = rig.expect_headers_request();
    let a = rig.machine.on_peer_disconnected(PeerId(1));
    rig.push(a);
    assert_eq!(rig.machine.state(), SyncState::Idle);
    rig.respond(id, Ok(serve(&remote, &RpcRequest::BlockHeaders(req))));
    rig.expect_no_action();
}

#[test]
fn an_orphan_triggers_a_parent_lookup_by_root() {
    let remote = chain(13, "a");
    let mut local = genesis_store();
    for slot in 1..=10 {
        let b = remote
            .block(
                &remote
                    .canonical_at_or_before(Slot(slot))
                    .expect("canonical")
                    .root,
            )
            .expect("block");
        local.import_block(b).expect("import");
    }
    let mut rig = Rig::small(local);
    rig.add_peer(1, &chain(10, "a")); // level with us
    rig.expect_no_action();
    let orphan = remote.block(&remote.head().root).expect("head");
    let a = rig.machine.on_orphan_block(PeerId(1), orphan);
    rig.push(a);
    let (id, p, req) = rig.expect_bodies_request();
    assert_eq!(p, PeerId(1));
    assert_eq!(req.max, 1);
    assert_eq!(
        Some(req.start_root),
        remote.canonical_at_or_before(Slot(12)).map(|b| b.root)
    );
    rig.respond(id, Ok(serve(&remote, &RpcRequest::BlockBodies(req))));
    // Slot 12 alone does not link (11 is missing too): one more parent, then the chain imports.
    let r = remote.clone();
    rig.run(move |_| Some(r.clone()));
    assert_eq!(rig.local.head(), remote.head());
    let st = rig.machine.status();
    assert_eq!(
        (
            st.stats.lookups_started,
            st.stats.lookups_completed,
            st.lookups
        ),
        (1, 1, 0)
    );
}

#[test]
fn a_parent_lookup_is_bounded_in_depth() {
    // Our chain: 10 blocks of "a". The orphan is on a fork "b" that left "a" at slot 2 and has
    // blocks at 3..=12: 9 ancestors missing, more than the depth bound of 4.
    let local = chain(10, "a");
    let mut fork = genesis_store();
    for slot in 1..=2 {
        let b = local
            .block(&local.canonical_at_or_before(Slot(slot)).expect("c").root)
            .expect("b");
        fork.import_block(b).expect("import");
    }
    extend(&mut fork, 12, "b");
    let mut rig = Rig::new(
        SyncConfig {
            max_lookup_depth: 4,
            ..SyncConfig::default()
        },
        local,
    );
    rig.add_peer(1, &chain(10, "a"));
    let orphan = fork.block(&fork.head().root).expect("head");
    let a = rig.machine.on_orphan_block(PeerId(1), orphan);
    rig.push(a);
    let mut fetched = 0;
    let f = fork.clone();
    while let Some(action) = rig.actions.pop_front() {
        match action {
            SyncAction::SendRequest { id, request, .. } => {
                if matches!(&request, RpcRequest::BlockBodies(r) if r.max == 1 && !r.start_root.is_zero())
                {
                    fetched += 1;
                }
                rig.respond(id, Ok(serve(&f, &request)));
            }
            SyncAction::ImportLookup { lookup, blocks } => {
                let result = import_all(&mut rig.local, &blocks);
                let a = rig.machine.on_lookup_imported(lookup, result);
                rig.push(a);
            }
            SyncAction::ImportBatch { batch, blocks } => rig.import_batch(batch, &blocks),
            SyncAction::PenalizePeer { .. } => {}
        }
    }
    assert_eq!(fetched, 4);
    let st = rig.machine.status();
    assert_eq!((st.lookups, st.stats.lookups_failed), (0, 1));
    // The failed lookup tried a range sync from the sender, whose blocks never link: it ends.
    assert_eq!(rig.machine.state(), SyncState::Idle);
    assert!(st.stats.restarts >= 1);
    assert!(rig.batch_slots.is_empty() || rig.local.head().slot == Slot(10));
}

#[test]
fn an_orphan_far_ahead_starts_a_range_sync_from_its_sender() {
    let remote = chain(80, "a");
    let mut rig = Rig::small(genesis_store());
    rig.add_peer(1, &genesis_store()); // level at handshake
    rig.expect_no_action();
    let orphan = remote.block(&remote.head().root).expect("head");
    let a = rig.machine.on_orphan_block(PeerId(1), orphan);
    rig.push(a);
    let (_, p, req) = rig.expect_headers_request();
    assert_eq!((p, req.start_slot), (PeerId(1), Slot(1)));
    let r = remote.clone();
    rig.run(move |_| Some(r.clone()));
    assert_eq!(rig.local.head(), remote.head());
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
