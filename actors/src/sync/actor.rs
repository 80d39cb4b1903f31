//! `SyncActor`: the thin wrapper that drives the [`SyncMachine`]. It learns peers from
//! `PeerHandshaked` / `PeerDisconnected` (the `PeerManager`), orphans (`OrphanBlockReceived`) from
//! the gossip actor, reads our status from the store before each decision, performs the machine's
//! requests through the peers' `SessionHandle`s and its imports through the store, and logs every
//! state change.
//!
//! Handles: `PeerHandshaked`, `PeerDisconnected`, `OrphanBlockReceived`, [`GetSyncState`],
//! `SubscribeChainEvents`. Sends: `SendRequest` (sessions), `GetHello`, `ImportBlocks` (store),
//! `BlockImported` (subscribers), `PeerPenalized` (the manager, and subscribers).

use std::collections::HashMap;

use actix::prelude::*;
use tracing::{debug, info, warn};

use crate::events::{
    BlockImported, ChainEventSubscribers, ImportSource, OrphanBlockReceived, PeerDisconnected,
    PeerHandshaked, PeerPenalized, Penalty, SessionHandle, SubscribeChainEvents,
};
use crate::peer_table::PeerId;
use crate::store::{ChainImport, ImportResult, StoreClient};
use crate::sync::machine::{
    LocalStatus, PeerStatus, SyncAction, SyncConfig, SyncError, SyncMachine, SyncState, SyncStatus,
};

/// What the sync actor talks to.
#[derive(Debug, Clone)]
pub struct SyncLinks {
    /// The chain store.
    pub store: StoreClient,
    /// Receives every penalty sync issues (the peer manager), if any.
    pub penalized: Option<Recipient<PeerPenalized>>,
}

/// Imports a chain through the store; a store that is gone fails the import.
async fn import_blocks(store: StoreClient, blocks: Vec<hobbits_chain::BeaconBlock>) -> ChainImport {
    store
        .import_blocks(blocks)
        .await
        .unwrap_or_else(|e| ChainImport {
            result: ImportResult::Failed {
                reason: e.to_string(),
            },
            imported: Vec::new(),
        })
}

/// Query: sync state, lookups and counters.
#[derive(Debug, Message)]
#[rtype(result = "SyncStatus")]
pub struct GetSyncState;

/// The actor.
#[derive(Debug)]
pub struct SyncActor {
    machine: SyncMachine,
    links: SyncLinks,
    sessions: HashMap<PeerId, SessionHandle>,
    subscribers: ChainEventSubscribers,
    last_state: SyncState,
    mailbox: usize,
}

impl SyncActor {
    /// A sync actor (validates `config`); `mailbox` bounds its queue.
    pub fn new(config: SyncConfig, links: SyncLinks, mailbox: usize) -> Result<Self, SyncError> {
        config.validate()?;
        let mut subscribers = ChainEventSubscribers::default();
        subscribers.add(SubscribeChainEvents {
            imported: None,
            penalized: links.penalized.clone(),
        });
        Ok(SyncActor {
            machine: SyncMachine::new(config, LocalStatus::default()),
            links,
            sessions: HashMap::new(),
            subscribers,
            last_state: SyncState::Idle,
            mailbox,
        })
    }

    /// Reads our status from the store, then runs `step` on the machine and performs its actions.
    fn with_local_status(
        &mut self,
        ctx: &mut Context<Self>,
        step: impl FnOnce(&mut SyncMachine) -> Vec<SyncAction> + 'static,
    ) {
        let fut = self.links.store.hello();
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            if let Ok(hello) = res {
                let a = act.machine.on_local_status(LocalStatus::from(&hello));
                act.perform(a, ctx);
            }
            let a = step(&mut act.machine);
            act.perform(a, ctx);
        }));
    }

    fn perform(&mut self, actions: Vec<SyncAction>, ctx: &mut Context<Self>) {
        for action in actions {
            match action {
                SyncAction::SendRequest { id, peer, request } => {
                    let Some(session) = self.sessions.get(&peer).cloned() else {
                        // The peer left before the machine learnt it (it disconnected while the
                        // store answered our status, then its status arrived): tell the machine
                        // it is gone. Failing the request instead would have the machine ask the
                        // same peer again, and again, recursing here without end.
                        debug!(%peer, ?id, "sync: request for a peer already gone");
                        let a = self.machine.on_peer_disconnected(peer);
                        self.perform(a, ctx);
                        continue;
                    };
                    debug!(%peer, ?request, "sync request");
                    let fut = session.request(request);
                    ctx.spawn(fut.into_actor(self).map(move |result, act, ctx| {
                        if let Err(e) = &result {
                            debug!(%peer, error = %e, "sync request failed");
                        }
                        let a = act.machine.on_response(id, result);
                        act.perform(a, ctx);
                    }));
                }
                SyncAction::ImportBatch { batch, blocks } => {
                    let fut = import_blocks(self.links.store.clone(), blocks);
                    ctx.spawn(fut.into_actor(self).map(move |done, act, ctx| {
                        act.publish(&done.imported, ImportSource::RangeSync, None);
                        let a = act.machine.on_batch_imported(batch, done.result);
                        act.perform(a, ctx);
                    }));
                }
                SyncAction::ImportLookup { lookup, blocks } => {
                    let fut = import_blocks(self.links.store.clone(), blocks);
                    ctx.spawn(fut.into_actor(self).map(move |done, act, ctx| {
                        act.publish(&done.imported, ImportSource::ParentLookup, None);
                        let a = act.machine.on_lookup_imported(lookup, done.result);
                        act.perform(a, ctx);
                    }));
                }
                SyncAction::PenalizePeer { peer, reason } => {
                    warn!(%peer, %reason, "sync: bad response, peer penalised");
                    self.subscribers.penalized(&PeerPenalized {
                        peer,
                        penalty: Penalty::BadSyncResponse { reason },
                    });
                }
            }
        }
        self.log_state();
    }

    fn publish(
        &mut self,
        outcomes: &[hobbits_chain::store::ImportOutcome],
        source: ImportSource,
        from: Option<PeerId>,
    ) {
        for outcome in outcomes {
            self.subscribers.imported(&BlockImported {
                outcome: outcome.clone(),
                source,
                from,
            });
        }
    }

    fn log_state(&mut self) {
        let state = self.machine.state();
        let changed = match (&self.last_state, &state) {
            (SyncState::Idle, SyncState::Idle) => false,
            (
                SyncState::Syncing {
                    peer: a,
                    target_slot: t,
                    imported_slot: i,
                    ..
                },
                SyncState::Syncing {
                    peer: b,
                    target_slot: u,
                    imported_slot: j,
                    ..
                },
            ) => {
                if i != j {
                    debug!(imported = j.0, target = u.0, "sync progress");
                }
                a != b || t != u
            }
            _ => true,
        };
        if changed {
            let stats = self.machine.status().stats;
            info!(state = %state, blocks_imported = stats.blocks_imported, "sync state");
        }
        self.last_state = state;
    }
}

impl Actor for SyncActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox);
    }
}

impl Handler<PeerHandshaked> for SyncActor {
    type Result = ();
    fn handle(&mut self, msg: PeerHandshaked, ctx: &mut Context<Self>) {
        self.sessions.insert(msg.peer, msg.session);
        let (peer, status) = (msg.peer, PeerStatus::from(&msg.hello));
        self.with_local_status(ctx, move |m| m.on_peer_status(peer, status));
    }
}

impl Handler<PeerDisconnected> for SyncActor {
    type Result = ();
    fn handle(&mut self, msg: PeerDisconnected, ctx: &mut Context<Self>) {
        self.sessions.remove(&msg.peer);
        let a = self.machine.on_peer_disconnected(msg.peer);
        self.perform(a, ctx);
    }
}

impl Handler<OrphanBlockReceived> for SyncActor {
    type Result = ();
    fn handle(&mut self, msg: OrphanBlockReceived, ctx: &mut Context<Self>) {
        if !self.sessions.contains_key(&msg.peer) {
            return;
        }
        let (peer, block) = (msg.peer, msg.block);
        self.with_local_status(ctx, move |m| m.on_orphan_block(peer, block));
    }
}

impl Handler<GetSyncState> for SyncActor {
    type Result = MessageResult<GetSyncState>;
    fn handle(&mut self, _: GetSyncState, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.machine.status())
    }
}

impl Handler<SubscribeChainEvents> for SyncActor {
    type Result = ();
    fn handle(&mut self, msg: SubscribeChainEvents, _: &mut Context<Self>) {
        self.subscribers.add(msg);
    }
}
