//! `GossipActor`: the thin wrapper that drives the [`GossipRouter`]. It learns peers from
//! `PeerHandshaked` / `PeerDisconnected` and receives `GossipReceived` (the `PeerManager` and the
//! sessions), imports through the store, fetches announced objects by RPC from their sender,
//! relays with `SessionHandle::send_frame` (try_send: a full per-peer queue is counted and, when it
//! stays full, the peer is disconnected with a logged reason), hands orphans to sync and publishes
//! this node's blocks (`BlockProduced`, [`PublishBlock`]) and attestations
//! ([`PublishAttestation`]).
//!
//! With the overlay on (`GossipConfig::overlay`, docs/PROTOCOL.md "Gossip overlay"), relays and
//! publications go through the [`Overlay`] router instead of to every peer: it picks the peers
//! an object is pushed to, and its control messages (`GossipControlReceived` in, control frames
//! out through `SendFrame`) and 100 ms ticks do the rest. Peers whose HELLO lacked
//! `gossip_overlay` are flood peers: they get every object pushed and no control message.
//!
//! Handles: `PeerHandshaked`, `PeerDisconnected`, `GossipReceived`, `GossipControlReceived`,
//! `BlockProduced`, [`PublishBlock`], [`PublishAttestation`], [`GetGossipStats`],
//! [`GetOverlayStats`], `SubscribeChainEvents`.
//! Sends: `SendFrame`, `SendRequest`, `Disconnect` (sessions; disconnect for slow ones),
//! `ImportHashedBlock`, `ImportAttestation`, `GetKnown` (store), `OrphanBlockReceived` (sync),
//! `BlockImported` (subscribers), `PeerPenalized` (the manager, and subscribers).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use hobbits_chain::rpc::{GetAttestation, GetBlockBodies};
use hobbits_chain::store::ImportOutcome;
use hobbits_chain::{Attestation, BeaconBlock, ChainError, Root};
use hobbits_codec::{Frame, GossipObject, Origin, Topic};
use tracing::{debug, info, warn};

use crate::events::{
    BlockImported, BlockProduced, ChainEventSubscribers, GossipControlReceived, GossipReceived,
    ImportSource, OrphanBlockReceived, PeerDisconnected, PeerHandshaked, PeerPenalized, Penalty,
    SessionHandle, SubscribeChainEvents, GOODBYE_SLOW_PEER,
};
use crate::gossip::overlay::{
    Action, Arrival, ObjectMeta, Overlay, OverlayPenalty, OverlayStats, PeerKind,
};
use crate::gossip::router::{
    CheckedObject, GossipConfig, GossipError, GossipRouter, GossipStats, ImportVerdict, Relay,
    Verdict,
};
use crate::peer_table::{NodeId, PeerId};
use crate::rpc::{RpcRequest, RpcResponse};
use crate::store::{StoreClient, StoreError};

/// What the gossip actor talks to.
#[derive(Debug, Clone)]
pub struct GossipLinks {
    /// The chain store.
    pub store: StoreClient,
    /// Receives orphan blocks (the sync actor), if any.
    pub orphans: Option<Recipient<OrphanBlockReceived>>,
    /// Receives every penalty gossip issues (the peer manager), if any.
    pub penalized: Option<Recipient<PeerPenalized>>,
    /// This node's id: the `origin` of the objects it publishes through the overlay.
    pub node_id: NodeId,
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

/// Query: the overlay's counters (`None` when the node floods).
#[derive(Debug, Message)]
#[rtype(result = "Option<OverlayStats>")]
pub struct GetOverlayStats;

/// How often the overlay's batches (IHAVE, PRUNE, GRAFT, IWANT) and timers run.
const OVERLAY_TICK: Duration = Duration::from_millis(100);

/// The actor.
#[derive(Debug)]
pub struct GossipActor {
    router: GossipRouter,
    links: GossipLinks,
    sessions: HashMap<PeerId, SessionHandle>,
    subscribers: ChainEventSubscribers,
    mailbox: usize,
    /// The overlay router; `None` in plain flood mode.
    overlay: Option<Overlay<PeerId, Frame>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn block_verdict(result: &Result<ImportOutcome, StoreError>) -> ImportVerdict {
    match result {
        Ok(_) => ImportVerdict::Imported,
        Err(StoreError::Chain(ChainError::AlreadyKnown { .. })) => ImportVerdict::AlreadyKnown,
        Err(StoreError::Chain(ChainError::UnknownParent { .. })) => ImportVerdict::Orphan,
        Err(StoreError::Chain(e @ ChainError::SlotNotAfterParent { .. })) => {
            ImportVerdict::Invalid {
                reason: e.to_string(),
            }
        }
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
        let overlay = if config.overlay.flood {
            None
        } else {
            Some(Overlay::new(config.overlay.clone())?)
        };
        let mut subscribers = ChainEventSubscribers::default();
        subscribers.add(SubscribeChainEvents {
            imported: None,
            penalized: links.penalized.clone(),
        });
        Ok(GossipActor {
            router: GossipRouter::new(config),
            links,
            sessions: HashMap::new(),
            subscribers,
            mailbox,
            overlay,
        })
    }

    fn penalize(&mut self, peer: PeerId, penalty: Penalty) {
        warn!(%peer, ?penalty, "gossip: invalid message dropped, peer penalised");
        self.subscribers.penalized(&PeerPenalized { peer, penalty });
    }

    fn send_all(&mut self, relay: Relay) {
        let frame = match relay.envelope.to_frame() {
            Ok(f) => f,
            Err(e) => {
                warn!(error = %e, "gossip frame not encodable");
                return;
            }
        };
        // The overlay routes objects with a body (announcements are flooded as before).
        if let (Some(overlay), false) = (self.overlay.as_mut(), relay.envelope.body.is_empty()) {
            if let Ok(meta) = ObjectMeta::of_header(&relay.envelope.header) {
                let actions = overlay.publish(Instant::now(), meta, frame);
                self.apply(actions);
                return;
            }
        }
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
            session.disconnect(GOODBYE_SLOW_PEER);
        }
    }

    /// Carries out what the overlay decided.
    fn apply(&mut self, actions: Vec<Action<PeerId, Frame>>) {
        let mut slow = Vec::new();
        for action in actions {
            match action {
                Action::SendObject { to, object, .. } => {
                    for peer in to {
                        self.send_to(peer, object.clone(), &mut slow);
                    }
                }
                Action::SendControl { to, message } => match message.to_frame() {
                    Ok(frame) => self.send_to(to, frame, &mut slow),
                    Err(e) => warn!(error = %e, "control frame not encodable"),
                },
                Action::Penalize { peer, reason } => {
                    let penalty = match reason {
                        OverlayPenalty::ControlFlood { frames, window } => Penalty::RateLimited {
                            reason: format!("{frames} gossip control frames within {window:?}"),
                        },
                        OverlayPenalty::BrokenPromise { id } => Penalty::BadMessage {
                            reason: format!("announced {id:?} by IHAVE, did not send it on IWANT"),
                        },
                    };
                    self.penalize(peer, penalty);
                }
            }
        }
        for session in slow {
            warn!(peer = %session.peer, "send queue stayed full: disconnecting slow peer");
            session.disconnect(GOODBYE_SLOW_PEER);
        }
    }

    fn send_to(&mut self, peer: PeerId, frame: Frame, slow: &mut Vec<SessionHandle>) {
        if let Some(session) = self.sessions.get(&peer) {
            let queued = session.send_frame(frame).is_ok();
            if self.router.on_send(peer, queued) {
                slow.push(session.clone());
            }
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
                let fut = store.import_hashed_block(block);
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
                            // Decoded again from the message kept for the relay, in this rare
                            // case only, rather than a copy of every block kept for it.
                            let orphan = act.router.block_in_progress(&hash);
                            if let (Some(r), Some(block)) = (&act.links.orphans, orphan) {
                                let _ = r.try_send(OrphanBlockReceived { peer: from, block });
                            }
                        }
                        (ImportVerdict::Invalid { reason }, _) => act.penalize(
                            from,
                            Penalty::InvalidObject {
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
                let fut = store.import_attestation(attestation);
                ctx.spawn(fut.into_actor(self).map(move |result, act, _| {
                    let verdict = match result {
                        Ok(a) if a.is_new => ImportVerdict::Imported,
                        Ok(_) => ImportVerdict::AlreadyKnown,
                        Err(_) => ImportVerdict::Failed,
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
            if store.is_known(hash).await.unwrap_or(false) {
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
        let mut relay = self.router.publish(&object, now_ms(), Instant::now());
        if self.overlay.is_some() {
            let origin = Origin(self.links.node_id.0 & (i64::MAX as u64));
            if let Err(e) = origin.write(&mut relay.envelope.header) {
                warn!(error = %e, "origin not written");
            }
        }
        self.send_all(relay);
    }
}

impl Actor for GossipActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox);
        if self.overlay.is_some() {
            ctx.run_interval(OVERLAY_TICK, |act, _| {
                if let Some(overlay) = act.overlay.as_mut() {
                    let actions = overlay.on_tick(Instant::now());
                    act.apply(actions);
                }
            });
        }
    }
}

impl Handler<PeerHandshaked> for GossipActor {
    type Result = ();
    fn handle(&mut self, msg: PeerHandshaked, _: &mut Context<Self>) {
        if let Some(overlay) = self.overlay.as_mut() {
            let kind = if msg.gossip_overlay {
                PeerKind::Overlay
            } else {
                PeerKind::Flood
            };
            overlay.add_peer(msg.peer, kind);
        }
        self.sessions.insert(msg.peer, msg.session);
    }
}

impl Handler<PeerDisconnected> for GossipActor {
    type Result = ();
    fn handle(&mut self, msg: PeerDisconnected, _: &mut Context<Self>) {
        self.sessions.remove(&msg.peer);
        self.router.on_peer_disconnected(msg.peer);
        if let Some(overlay) = self.overlay.as_mut() {
            overlay.remove_peer(msg.peer);
        }
    }
}

impl Handler<GossipReceived> for GossipActor {
    type Result = ();
    fn handle(&mut self, msg: GossipReceived, ctx: &mut Context<Self>) {
        let peer = msg.peer;
        // What the overlay reads of a copy with a body (the object's id, origin, timestamp).
        let meta = match (&self.overlay, msg.body.is_empty()) {
            (Some(_), false) => match ObjectMeta::of_header(&msg.header) {
                Ok(meta) => Some(meta),
                Err(e) => {
                    let reason = format!("gossip origin: {e}");
                    return self.penalize(peer, Penalty::BadMessage { reason });
                }
            },
            _ => None,
        };
        let verdict = self
            .router
            .on_gossip(peer, msg.header, msg.body, Instant::now());
        // Only copies whose body matched their hashes count for the overlay (a lying copy must
        // not make the honest one a duplicate).
        if let (Some(overlay), Some(meta)) = (self.overlay.as_mut(), meta) {
            if matches!(verdict, Verdict::Duplicate | Verdict::Import { .. })
                && overlay.on_object(Instant::now(), peer, meta) == Arrival::Duplicate
            {
                debug!(%peer, "overlay: duplicate copy");
            }
        }
        match verdict {
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

impl Handler<GossipControlReceived> for GossipActor {
    type Result = ();
    fn handle(&mut self, msg: GossipControlReceived, _: &mut Context<Self>) {
        let Some(overlay) = self.overlay.as_mut() else {
            debug!(peer = %msg.peer, "control message ignored: plain flood");
            return;
        };
        let actions = overlay.on_control(Instant::now(), msg.peer, msg.message);
        self.apply(actions);
    }
}

impl Handler<GetOverlayStats> for GossipActor {
    type Result = MessageResult<GetOverlayStats>;
    fn handle(&mut self, _: GetOverlayStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.overlay.as_ref().map(Overlay::stats))
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
        let fut = store.import_attestation(copy);
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok(_) => act.publish(GossipObject::Attestation(attestation)),
            Err(e @ StoreError::Chain(_)) => {
                warn!(error = %e, "attestation not published: store refused it")
            }
            Err(StoreError::Gone) => warn!("attestation not published: store gone"),
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
