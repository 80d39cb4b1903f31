//! `GossipActor`: the thin wrapper that drives the [`GossipRouter`]. It learns peers from
//! `PeerHandshaked` / `PeerDisconnected`, receives `GossipReceived` (subscribe it on the
//! `PeerManager`), imports through the store, fetches announced objects by RPC from their sender,
//! relays with `SessionHandle::send_frame` (try_send: a full per-peer queue is counted and, when it
//! stays full, the peer is disconnected with a logged reason), hands orphans to sync and publishes
//! this node's blocks (`BlockProduced`, [`PublishBlock`]) and attestations
//! ([`PublishAttestation`]).
//!
//! Handles: `PeerHandshaked`, `PeerDisconnected`, `GossipReceived`, `BlockProduced`,
//! [`PublishBlock`], [`PublishAttestation`], [`GetGossipStats`], `SubscribeChainEvents`.
//! Sends: frames and RPC requests (sessions), `Disconnect` (slow sessions), `WithStore` (store),
//! `OrphanBlockReceived` (sync), `BlockImported`, `PeerPenalized` (subscribers).

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use hobbits_chain::rpc::{GetAttestation, GetBlockBodies};
use hobbits_chain::store::ImportOutcome;
use hobbits_chain::{Attestation, BeaconBlock, ChainError, Root};
use hobbits_codec::{GossipObject, Topic};
use tracing::{debug, info, warn};

use crate::chain_store::ChainStoreActor;
use crate::events::{BlockProduced, GossipReceived, PeerDisconnected, PeerHandshaked};
use crate::gossip::events::{
    BlockImported, ChainEventSubscribers, ImportSource, PeerPenalized, PenaltyReason,
    SubscribeChainEvents,
};
use crate::gossip::router::{
    CheckedObject, GossipConfig, GossipError, GossipRouter, GossipStats, ImportVerdict, Relay,
    Verdict,
};
use crate::peer_session::{Disconnect, SessionHandle};
use crate::peer_table::PeerId;
use crate::rpc::{RpcRequest, RpcResponse};
use crate::sync::actor::OrphanBlockReceived;
use crate::sync::store_ops::{import_attestation, import_hashed_block, is_known};

/// GOODBYE code sent to a peer disconnected for staying slow (custom codes are above 1000).
pub const GOODBYE_SLOW_PEER: u64 = 1002;

/// What the gossip actor talks to.
#[derive(Debug, Clone)]
pub struct GossipLinks {
    /// The chain store.
    pub store: Addr<ChainStoreActor>,
    /// Receives orphan blocks (the sync actor), if any.
    pub orphans: Option<Recipient<OrphanBlockReceived>>,
}

/// Command: gossip a block this node already imported.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct PublishBlock {
    /// The block.
    pub block: BeaconBlock,
}

/// Command: import an attestation locally and gossip it.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct PublishAttestation {
    /// The attestation.
    pub attestation: Attestation,
}

/// Query: the counters.
#[derive(Debug, Message)]
#[rtype(result = "GossipStats")]
pub struct GetGossipStats;

/// The actor.
#[derive(Debug)]
pub struct GossipActor {
    router: GossipRouter,
    links: GossipLinks,
    sessions: HashMap<PeerId, SessionHandle>,
    subscribers: ChainEventSubscribers,
    mailbox: usize,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn block_verdict(result: &Result<ImportOutcome, ChainError>) -> ImportVerdict {
    match result {
        Ok(_) => ImportVerdict::Imported,
        Err(ChainError::AlreadyKnown { .. }) => ImportVerdict::AlreadyKnown,
        Err(ChainError::UnknownParent { .. }) => ImportVerdict::Orphan,
        Err(e @ ChainError::SlotNotAfterParent { .. }) => ImportVerdict::Invalid {
            reason: e.to_string(),
        },
        Err(_) => ImportVerdict::Failed,
    }
}

impl GossipActor {
    /// A gossip actor (validates `config`); `mailbox` bounds its queue.
    pub fn new(
        config: GossipConfig,
        links: GossipLinks,
        mailbox: usize,
    ) -> Result<Self, GossipError> {
        config.validate()?;
        Ok(GossipActor {
            router: GossipRouter::new(config),
            links,
            sessions: HashMap::new(),
            subscribers: ChainEventSubscribers::default(),
            mailbox,
        })
    }

    fn penalize(&mut self, peer: PeerId, reason: PenaltyReason) {
        warn!(%peer, ?reason, "gossip: invalid message dropped, peer penalised");
        self.subscribers.penalized(&PeerPenalized { peer, reason });
    }

    fn send_all(&mut self, relay: Relay) {
        let frame = match relay.envelope.to_frame() {
            Ok(f) => f,
            Err(e) => {
                warn!(error = %e, "gossip frame not encodable");
                return;
            }
        };
        let mut slow = Vec::new();
        for (peer, session) in &self.sessions {
            if relay.except.contains(peer) {
                continue;
            }
            let queued = session.send_frame(frame.clone()).is_ok();
            if self.router.on_send(*peer, queued) {
                slow.push(session.clone());
            }
        }
        for session in slow {
            warn!(peer = %session.peer, "send queue stayed full: disconnecting slow peer");
            session.addr.do_send(Disconnect {
                goodbye: GOODBYE_SLOW_PEER,
            });
        }
    }

    fn import(
        &mut self,
        hash: Root,
        object: CheckedObject,
        from: PeerId,
        source: ImportSource,
        ctx: &mut Context<Self>,
    ) {
        let store = self.links.store.clone();
        match object {
            CheckedObject::Block(block) => {
                let orphan = block.block().clone();
                let fut = async move { import_hashed_block(&store, block).await };
                ctx.spawn(fut.into_actor(self).map(move |result, act, _| {
                    let verdict = block_verdict(&result);
                    match (&verdict, result) {
                        (ImportVerdict::Imported, Ok(outcome)) => {
                            debug!(slot = outcome.slot.0, root = %outcome.root, %from, "gossip block imported");
                            act.subscribers.imported(&BlockImported {
                                outcome,
                                source,
                                from: Some(from),
                            });
                        }
                        (ImportVerdict::Orphan, _) => {
                            if let Some(r) = &act.links.orphans {
                                let _ = r.try_send(OrphanBlockReceived {
                                    peer: from,
                                    block: orphan,
                                });
                            }
                        }
                        (ImportVerdict::Invalid { reason }, _) => act.penalize(
                            from,
                            PenaltyReason::InvalidObject {
                                reason: reason.clone(),
                            },
                        ),
                        _ => {}
                    }
                    if let Some(relay) = act.router.on_imported(hash, Topic::Block, &verdict) {
                        act.send_all(relay);
                    }
                }));
            }
            CheckedObject::Attestation(attestation) => {
                let fut = async move { import_attestation(&store, attestation).await };
                ctx.spawn(fut.into_actor(self).map(move |result, act, _| {
                    let verdict = match result {
                        Some(Ok(a)) if a.is_new => ImportVerdict::Imported,
                        Some(Ok(_)) => ImportVerdict::AlreadyKnown,
                        _ => ImportVerdict::Failed,
                    };
                    if let Some(relay) = act.router.on_imported(hash, Topic::Attestation, &verdict)
                    {
                        act.send_all(relay);
                    }
                }));
            }
        }
    }

    fn fetch(&mut self, hash: Root, topic: Topic, peer: PeerId, ctx: &mut Context<Self>) {
        let Some(session) = self.sessions.get(&peer).cloned() else {
            let _ = self.router.on_fetched(hash, None, now_ms(), Instant::now());
            return;
        };
        let store = self.links.store.clone();
        let request = match topic {
            Topic::Block => RpcRequest::BlockBodies(GetBlockBodies {
                start_root: hash,
                start_slot: hobbits_chain::Slot(0),
                max: 1,
                skip: 0,
                direction: 1,
            }),
            Topic::Attestation => RpcRequest::Attestation(GetAttestation { hash }),
        };
        let fut = async move {
            if is_known(&store, hash).await {
                return None;
            }
            Some(session.request(request).await)
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            let object = match res {
                None => {
                    act.router.on_fetch_known(hash, Instant::now());
                    return;
                }
                Some(Ok(RpcResponse::BlockBodies(b))) => {
                    b.bodies.first().cloned().map(GossipObject::Block)
                }
                Some(Ok(RpcResponse::Attestation(a))) => {
                    Some(GossipObject::Attestation(a.attestation))
                }
                Some(Ok(_)) => None,
                Some(Err(e)) => {
                    debug!(%peer, error = %e, "announced object not fetched");
                    None
                }
            };
            match act
                .router
                .on_fetched(hash, object, now_ms(), Instant::now())
            {
                Some(Verdict::Import { hash, object }) => {
                    act.import(hash, object, peer, ImportSource::Announced, ctx)
                }
                _ => debug!(%peer, %hash, "announced object not served"),
            }
        }));
    }

    fn publish(&mut self, object: GossipObject) {
        let relay = self.router.publish(&object, now_ms(), Instant::now());
        self.send_all(relay);
    }
}

impl Actor for GossipActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox);
    }
}

impl Handler<PeerHandshaked> for GossipActor {
    type Result = ();
    fn handle(&mut self, msg: PeerHandshaked, _: &mut Context<Self>) {
        self.sessions.insert(msg.peer, msg.session);
    }
}

impl Handler<PeerDisconnected> for GossipActor {
    type Result = ();
    fn handle(&mut self, msg: PeerDisconnected, _: &mut Context<Self>) {
        self.sessions.remove(&msg.peer);
        self.router.on_peer_disconnected(msg.peer);
    }
}

impl Handler<GossipReceived> for GossipActor {
    type Result = ();
    fn handle(&mut self, msg: GossipReceived, ctx: &mut Context<Self>) {
        let peer = msg.peer;
        match self
            .router
            .on_gossip(peer, msg.header, msg.body, Instant::now())
        {
            Verdict::Invalid { reason } => self.penalize(peer, reason),
            Verdict::Duplicate => {}
            Verdict::Overloaded => debug!(%peer, "gossip dropped: too many objects in progress"),
            Verdict::Import { hash, object } => {
                self.import(hash, object, peer, ImportSource::Gossip, ctx)
            }
            Verdict::Fetch { hash, topic, peer } => self.fetch(hash, topic, peer, ctx),
        }
    }
}

impl Handler<BlockProduced> for GossipActor {
    type Result = ();
    fn handle(&mut self, msg: BlockProduced, _: &mut Context<Self>) {
        info!(slot = msg.outcome.slot.0, root = %msg.outcome.root, peers = self.sessions.len(), "publishing produced block");
        self.subscribers.imported(&BlockImported {
            outcome: msg.outcome,
            source: ImportSource::Produced,
            from: None,
        });
        self.publish(GossipObject::Block(msg.block));
    }
}

impl Handler<PublishBlock> for GossipActor {
    type Result = ();
    fn handle(&mut self, msg: PublishBlock, _: &mut Context<Self>) {
        self.publish(GossipObject::Block(msg.block));
    }
}

impl Handler<PublishAttestation> for GossipActor {
    type Result = ();
    fn handle(&mut self, msg: PublishAttestation, ctx: &mut Context<Self>) {
        let store = self.links.store.clone();
        let attestation = msg.attestation;
        let copy = attestation.clone();
        let fut = async move { import_attestation(&store, copy).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Some(Ok(_)) => act.publish(GossipObject::Attestation(attestation)),
            Some(Err(e)) => warn!(error = %e, "attestation not published: store refused it"),
            None => warn!("attestation not published: store gone"),
        }));
    }
}

impl Handler<GetGossipStats> for GossipActor {
    type Result = MessageResult<GetGossipStats>;
    fn handle(&mut self, _: GetGossipStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.router.stats())
    }
}

impl Handler<SubscribeChainEvents> for GossipActor {
    type Result = ();
    fn handle(&mut self, msg: SubscribeChainEvents, _: &mut Context<Self>) {
        self.subscribers.add(msg);
    }
}
