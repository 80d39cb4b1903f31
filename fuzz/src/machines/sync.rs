//! The sync harness: a `SyncMachine` driven the way the `SyncActor` drives it, against peers that
//! serve one of the fixture chains (honestly, or with the answer the fuzzer mangles), a local
//! store simulated by block roots (a block imports when its parent is known), imports finishing
//! in any order, late and repeated responses, failed requests, orphans and disconnects. Handles
//! and sends no messages.
//!
//! Invariants, after every event:
//! - a request goes only to a peer that is connected (status seen, no disconnect since), is a
//!   GET_BLOCK_HEADERS or GET_BLOCK_BODIES, and never reuses a request id;
//! - a peer is penalised only while its response is being handled, and only if that connection
//!   sent at least one answer that was not what its chain serves (an honest peer never is);
//! - the blocks of an import are a chain (ascending slots, each the child of the one before);
//!   a lookup's chain ends with an orphan it was given and holds at most `max_lookup_depth + 1`
//!   blocks;
//! - bounded state: at most `max_lookups` lookups, at most `max_batches * batch_size` batches
//!   (each covers at least one slot of a window of at most that many), counters consistent.

use std::collections::{HashMap, HashSet};

use arbitrary::Arbitrary;
use hobbits_actors::rpc::{RpcRequest, RpcResponse};
use hobbits_actors::rpc_tracker::RpcError;
use hobbits_actors::sync::{
    BatchId, ImportResult, LocalStatus, LookupId, PeerStatus, SyncAction, SyncConfig, SyncMachine,
    SyncRequestId, SyncState,
};
use hobbits_actors::PeerId;
use hobbits_chain::rpc::{BlockBodies, BlockHeaders};
use hobbits_chain::{BeaconBlock, ChainRead, Epoch, Root, Slot};
use ssz_types::VariableList;

use super::fixtures::{self, Fixtures, CHAINS};
use super::Peers;

/// The sync scenario: the machine's configuration, where the local chain starts, the events.
#[derive(Debug, Arbitrary)]
pub struct Script {
    config: Config,
    events: Vec<Event>,
}

/// Small values, mapped into the valid ranges (small, so that batches split, retries run out
/// and lookups fill up within a short input).
#[derive(Debug, Arbitrary)]
struct Config {
    batch_size: u8,
    max_batches: u8,
    requests_per_peer: u8,
    max_batch_attempts: u8,
    max_lookup_depth: u8,
    max_lookups: u8,
    /// The local store starts with this chain's blocks up to `local_blocks`.
    local_chain: u8,
    local_blocks: u8,
}

#[derive(Debug, Arbitrary)]
enum Event {
    /// A peer serving `chain` handshakes.
    Connect { chain: u8, claim: Claim },
    /// A connected peer tells its status again.
    Status { peer: u8, claim: Claim },
    /// `peer` disconnects.
    Disconnect { peer: u8 },
    /// An unanswered request gets its answer.
    Respond { pick: u8, answer: Answer },
    /// Any request ever sent gets an answer (again, late, or after its peer left).
    Replay { pick: u16, answer: Answer },
    /// An answer to a request id never sent.
    Unknown { id: u16 },
    /// A pending import finishes (`fail`: the store refuses it).
    Import { pick: u8, fail: bool },
    /// Block `index` of `chain`, gossiped by `peer`, is an orphan.
    Orphan { peer: u8, chain: u8, index: u8 },
    /// The local store imported `chain`'s blocks up to `index` (gossip, the producer).
    Local { chain: u8, index: u8 },
}

/// The status a peer claims.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Claim {
    /// Its chain's HELLO.
    Honest,
    /// A best slot.
    Slot(u8),
    /// A finalized epoch and a best slot.
    Finalized(u8, u8),
}

/// How a peer answers a request.
#[derive(Debug, Clone, Arbitrary)]
enum Answer {
    Honest,
    /// The first n items.
    Truncate(u8),
    /// Without item i.
    Drop(u8),
    Swap(u8, u8),
    Reverse,
    /// Item i twice.
    Repeat(u8),
    /// One field of item i changed.
    Corrupt(u8, u8),
    /// What another chain serves.
    FromChain(u8),
    /// The other response kind.
    WrongKind,
    Empty,
    Error(ErrorKind),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum ErrorKind {
    Timeout,
    Disconnected,
    QueueFull,
    Code(u16),
    Bad,
}

struct Sent {
    id: SyncRequestId,
    peer: PeerId,
    request: RpcRequest,
    answered: bool,
}

struct Conn {
    chain: usize,
    /// Sent at least one answer its chain would not have.
    lied: bool,
}

enum Job {
    Batch(BatchId, Vec<BeaconBlock>),
    Lookup(LookupId, Vec<BeaconBlock>),
}

/// The local store, by block root.
struct Local {
    known: HashMap<Root, Slot>,
    head: Slot,
}

impl Local {
    fn import(&mut self, fx: &Fixtures, blocks: &[BeaconBlock]) -> ImportResult {
        for (i, b) in blocks.iter().enumerate() {
            let root = fx.root_of(b);
            if self.known.contains_key(&root) {
                continue;
            }
            match self.known.get(&b.parent_root) {
                None if i == 0 => {
                    return ImportResult::MissingParent {
                        parent_root: b.parent_root,
                    }
                }
                Some(parent) if *parent < b.slot => {}
                _ => {
                    return ImportResult::Failed {
                        reason: format!("block at slot {} refused", b.slot.0),
                    }
                }
            }
            self.known.insert(root, b.slot);
            self.head = self.head.max(b.slot);
        }
        ImportResult::Imported {
            head_slot: self.head,
        }
    }

    fn status(&self) -> LocalStatus {
        LocalStatus {
            finalized_epoch: Epoch(0),
            head_slot: self.head,
        }
    }
}

struct Harness {
    fx: &'static Fixtures,
    machine: SyncMachine,
    config: SyncConfig,
    peers: Peers,
    conns: HashMap<PeerId, Conn>,
    sent: Vec<Sent>,
    ids: HashSet<SyncRequestId>,
    jobs: Vec<Job>,
    local: Local,
    orphans: HashSet<Root>,
}

/// Runs the scenario (panics on a broken invariant).
pub fn run(script: Script) {
    let mut h = Harness::new(&script.config);
    for event in script.events {
        h.step(event);
        h.check_bounds();
    }
}

impl Harness {
    fn new(c: &Config) -> Self {
        let fx = fixtures::get();
        let config = SyncConfig {
            batch_size: 1 + u64::from(c.batch_size % 16),
            max_batches: 1 + usize::from(c.max_batches % 8),
            requests_per_peer: 1 + usize::from(c.requests_per_peer % 4),
            max_batch_attempts: 1 + u32::from(c.max_batch_attempts % 6),
            max_lookup_depth: 1 + usize::from(c.max_lookup_depth % 8),
            max_lookups: 1 + usize::from(c.max_lookups % 4),
        };
        config.validate().expect("harness config in range");
        let mut local = Local {
            known: HashMap::from([(fx.genesis_root, Slot(0))]),
            head: Slot(0),
        };
        let chain = &fx.chains[usize::from(c.local_chain) % CHAINS];
        let upto = usize::from(c.local_blocks).min(chain.blocks.len());
        local.import(fx, &chain.blocks[..upto]);
        Harness {
            fx,
            machine: SyncMachine::new(config.clone(), local.status()),
            config,
            peers: Peers::default(),
            conns: HashMap::new(),
            sent: Vec::new(),
            ids: HashSet::new(),
            jobs: Vec::new(),
            local,
            orphans: HashSet::new(),
        }
    }

    fn step(&mut self, event: Event) {
        match event {
            Event::Connect { chain, claim } => {
                let Some(p) = self.peers.connect() else {
                    return;
                };
                let conn = Conn {
                    chain: usize::from(chain) % CHAINS,
                    lied: false,
                };
                self.conns.insert(PeerId(p), conn);
                self.status(PeerId(p), claim);
            }
            Event::Status { peer, claim } => {
                if let Some(p) = self.peers.pick(peer) {
                    self.status(PeerId(p), claim);
                }
            }
            Event::Disconnect { peer } => {
                if let Some(p) = self.peers.disconnect(peer) {
                    self.conns.remove(&PeerId(p));
                    let a = self.machine.on_peer_disconnected(PeerId(p));
                    self.apply(a, None);
                }
            }
            Event::Respond { pick, answer } => {
                let open: Vec<usize> = (0..self.sent.len())
                    .filter(|i| !self.sent[*i].answered)
                    .collect();
                if !open.is_empty() {
                    self.respond(open[usize::from(pick) % open.len()], answer);
                }
            }
            Event::Replay { pick, answer } => {
                if !self.sent.is_empty() {
                    self.respond(usize::from(pick) % self.sent.len(), answer);
                }
            }
            Event::Unknown { id } => {
                let id = SyncRequestId(u64::from(id) + 1_000_000);
                let a = self.machine.on_response(id, Err(RpcError::Disconnected));
                self.apply(a, None);
            }
            Event::Import { pick, fail } => {
                if self.jobs.is_empty() {
                    return;
                }
                let job = self.jobs.remove(usize::from(pick) % self.jobs.len());
                let (Job::Batch(_, blocks) | Job::Lookup(_, blocks)) = &job;
                let result = if fail {
                    ImportResult::Failed {
                        reason: "store refused".into(),
                    }
                } else {
                    self.local.import(self.fx, blocks)
                };
                let a = match job {
                    Job::Batch(b, _) => self.machine.on_batch_imported(b, result),
                    Job::Lookup(l, _) => self.machine.on_lookup_imported(l, result),
                };
                self.apply(a, None);
            }
            Event::Orphan { peer, chain, index } => {
                let blocks = &self.fx.chains[usize::from(chain) % CHAINS].blocks;
                // The actor hands over orphans from connected peers only.
                let Some(p) = self.peers.pick(peer).filter(|_| !blocks.is_empty()) else {
                    return;
                };
                let p = PeerId(p);
                let block = blocks[usize::from(index) % blocks.len()].clone();
                self.orphans.insert(self.fx.root_of(&block));
                let a = self.machine.on_orphan_block(p, block);
                self.apply(a, None);
            }
            Event::Local { chain, index } => {
                let blocks = &self.fx.chains[usize::from(chain) % CHAINS].blocks;
                let upto = (usize::from(index) + 1).min(blocks.len());
                // Block by block, as gossip imports them: those that link.
                for b in &blocks[..upto] {
                    self.local.import(self.fx, std::slice::from_ref(b));
                }
                let a = self.machine.on_local_status(self.local.status());
                self.apply(a, None);
            }
        }
    }

    /// Connected peer `p` tells its status (`claim`).
    fn status(&mut self, p: PeerId, claim: Claim) {
        let chain = &self.fx.chains[self.conns[&p].chain].store;
        let honest = PeerStatus::from(&chain.hello(1, 1));
        let status = match claim {
            Claim::Honest => honest,
            Claim::Slot(s) => PeerStatus {
                best_slot: Slot(u64::from(s)),
                ..honest
            },
            Claim::Finalized(e, s) => PeerStatus {
                finalized_epoch: Epoch(u64::from(e % 4)),
                best_slot: Slot(u64::from(s)),
            },
        };
        let a = self.machine.on_peer_status(p, status);
        self.apply(a, None);
    }

    /// Answers request `index` of `sent`.
    fn respond(&mut self, index: usize, answer: Answer) {
        let sent = &mut self.sent[index];
        sent.answered = true;
        let (id, p) = (sent.id, sent.peer);
        let request = sent.request.clone();
        let live = self.conns.get(&p).map(|c| c.chain);
        // A request of a connection that is gone is answered from chain 0 (it does not matter:
        // the machine must ignore it, or treat it as failed).
        let chain = live.unwrap_or(0);
        let result = answer_with(self.fx, chain, &request, &answer);
        let lied = match &result {
            Ok(r) => *r != serve(self.fx, chain, &request),
            Err(_) => false,
        };
        if lied && live.is_some() {
            if let Some(c) = self.conns.get_mut(&p) {
                c.lied = true;
            }
        }
        let a = self.machine.on_response(id, result);
        self.apply(a, Some(p));
    }

    /// Performs the machine's actions, checking each.
    fn apply(&mut self, actions: Vec<SyncAction>, responder: Option<PeerId>) {
        for action in actions {
            match action {
                SyncAction::SendRequest { id, peer, request } => {
                    assert!(
                        self.conns.contains_key(&peer),
                        "request {id:?} to {peer}, which is not connected: {request:?}"
                    );
                    assert!(
                        matches!(
                            request,
                            RpcRequest::BlockHeaders(_) | RpcRequest::BlockBodies(_)
                        ),
                        "sync sent {request:?}"
                    );
                    assert!(self.ids.insert(id), "request id {id:?} used twice");
                    self.sent.push(Sent {
                        id,
                        peer,
                        request,
                        answered: false,
                    });
                }
                SyncAction::ImportBatch { batch, blocks } => {
                    self.check_chain(&blocks);
                    self.jobs.push(Job::Batch(batch, blocks));
                }
                SyncAction::ImportLookup { lookup, blocks } => {
                    self.check_chain(&blocks);
                    assert!(
                        blocks.len() <= self.config.max_lookup_depth + 1,
                        "lookup of {} blocks",
                        blocks.len()
                    );
                    let last = blocks.last().expect("a lookup imports its orphan");
                    assert!(
                        self.orphans.contains(&self.fx.root_of(last)),
                        "a lookup imports a chain that does not end with an orphan"
                    );
                    self.jobs.push(Job::Lookup(lookup, blocks));
                }
                SyncAction::PenalizePeer { peer, reason } => {
                    assert_eq!(
                        responder,
                        Some(peer),
                        "{peer} penalised ({reason}) outside its own response"
                    );
                    let lied = self.conns.get(&peer).is_some_and(|c| c.lied);
                    assert!(lied, "honest {peer} penalised: {reason}");
                }
            }
        }
    }

    fn check_chain(&self, blocks: &[BeaconBlock]) {
        for pair in blocks.windows(2) {
            assert!(pair[0].slot < pair[1].slot, "import not in slot order");
            assert_eq!(
                pair[1].parent_root,
                self.fx.root_of(&pair[0]),
                "import of blocks that do not link"
            );
        }
    }

    fn check_bounds(&self) {
        let status = self.machine.status();
        assert!(status.lookups <= self.config.max_lookups, "{status:?}");
        let s = status.stats;
        assert!(s.syncs_completed <= s.syncs_started, "{s:?}");
        assert!(s.lookups_completed <= s.lookups_started, "{s:?}");
        if let SyncState::Syncing {
            batches,
            peers,
            imported_slot,
            start_slot,
            ..
        } = status.state
        {
            let window = self.config.max_batches as u64 * self.config.batch_size;
            assert!(batches as u64 <= window, "{batches} batches");
            assert!(peers <= self.conns.len(), "{peers} peers serving");
            assert!(imported_slot >= start_slot, "{:?}", status.state);
        }
    }
}

/// What `chain` serves for `request` (the honest answer).
fn serve(fx: &Fixtures, chain: usize, request: &RpcRequest) -> RpcResponse {
    let store = &fx.chains[chain].store;
    match request {
        RpcRequest::BlockHeaders(r) => RpcResponse::BlockHeaders(store.block_headers(r)),
        RpcRequest::BlockBodies(r) => RpcResponse::BlockBodies(store.block_bodies(r)),
        // Checked in `apply`: sync sends nothing else.
        _ => RpcResponse::BlockBodies(BlockBodies::default()),
    }
}

fn mangle<T: Clone>(items: &mut Vec<T>, answer: &Answer, corrupt: impl Fn(&mut T, u8)) {
    let n = items.len();
    match *answer {
        Answer::Truncate(k) => items.truncate(usize::from(k) % (n + 1)),
        Answer::Drop(i) if n > 0 => {
            items.remove(usize::from(i) % n);
        }
        Answer::Swap(i, j) if n > 0 => items.swap(usize::from(i) % n, usize::from(j) % n),
        Answer::Reverse => items.reverse(),
        Answer::Repeat(i) if n > 0 => {
            let i = usize::from(i) % n;
            items.insert(i, items[i].clone());
        }
        Answer::Corrupt(i, field) if n > 0 => corrupt(&mut items[usize::from(i) % n], field),
        _ => {}
    }
}

/// `chain`'s answer to `request`, changed as `answer` says.
fn answer_with(
    fx: &Fixtures,
    chain: usize,
    request: &RpcRequest,
    answer: &Answer,
) -> Result<RpcResponse, RpcError> {
    let honest = serve(fx, chain, request);
    let response = match answer {
        Answer::Honest => honest,
        Answer::Error(kind) => {
            return Err(match *kind {
                ErrorKind::Timeout => RpcError::Timeout {
                    after: std::time::Duration::from_secs(10),
                },
                ErrorKind::Disconnected => RpcError::Disconnected,
                ErrorKind::QueueFull => RpcError::QueueFull,
                ErrorKind::Code(code) => RpcError::ErrorResponse { code },
                ErrorKind::Bad => RpcError::BadResponse {
                    reason: "undecodable".into(),
                },
            })
        }
        Answer::FromChain(c) => serve(fx, usize::from(*c) % CHAINS, request),
        Answer::Empty => match honest {
            RpcResponse::BlockHeaders(_) => RpcResponse::BlockHeaders(BlockHeaders::default()),
            _ => RpcResponse::BlockBodies(BlockBodies::default()),
        },
        Answer::WrongKind => match honest {
            RpcResponse::BlockHeaders(_) => RpcResponse::BlockBodies(BlockBodies::default()),
            _ => RpcResponse::BlockHeaders(BlockHeaders::default()),
        },
        other => match honest {
            RpcResponse::BlockHeaders(h) => {
                let mut items = h.headers.to_vec();
                mangle(&mut items, other, |h, f| match f % 4 {
                    0 => h.slot = Slot(h.slot.0 ^ 1),
                    1 => h.parent_root = Root([f; 32]),
                    2 => h.state_root = Root([f; 32]),
                    _ => h.body_root = Root([f; 32]),
                });
                RpcResponse::BlockHeaders(BlockHeaders {
                    headers: VariableList::new(items).unwrap_or_default(),
                })
            }
            RpcResponse::BlockBodies(b) => {
                let mut items = b.bodies.to_vec();
                mangle(&mut items, other, |b, f| match f % 3 {
                    0 => b.slot = Slot(b.slot.0 ^ 1),
                    1 => b.parent_root = Root([f; 32]),
                    _ => b.state_root = Root([f; 32]),
                });
                RpcResponse::BlockBodies(BlockBodies {
                    bodies: VariableList::new(items).unwrap_or_default(),
                })
            }
            r => r,
        },
    };
    Ok(response)
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
