//! Inbound RPC of a [`PeerSession`]: GOODBYE, the HELLO exchange (check with the store, reply,
//! admission by the manager), responses matched to our requests, and requests served from the
//! store (GET_STATUS by the session itself) within the per-peer rate limit. Part of the session
//! actor; handles no messages of its own. Sends `CheckHello`, `GetHello`, `ServeRpc` (store) and `ReportHandshake` (manager).

use actix::prelude::*;
use hobbits_chain::rpc::{GetStatus, Goodbye, Hello};
use hobbits_codec::bson_compat::get_uint_opt;
use hobbits_codec::gossip_control::overlay_version;
use hobbits_codec::rpc::{RequestId, RpcEnvelope, RpcMethod, RpcPayload};
use tracing::{debug, info, warn};

use super::{now_ms, PeerSession, ReportHandshake};
use crate::events::{DisconnectReason, Penalty, GOODBYE_DUPLICATE, GOODBYE_TOO_MANY_PEERS};
use crate::handshake::Admission;
use crate::metrics::RpcRole;
use crate::peer_table::{HandshakeAdmission, NodeId};
use crate::rpc::{RpcRequest, RpcResponse};
use crate::rpc_tracker::RpcError;

impl PeerSession {
    pub(super) fn on_rpc(&mut self, env: RpcEnvelope, ctx: &mut Context<Self>) {
        let id = env.header.id;
        let method = env.header.method;
        match method {
            RpcMethod::Unknown(m) => {
                self.stats.unknown_methods += 1;
                warn!(
                    method_id = m,
                    id = id.0,
                    count = self.stats.unknown_methods,
                    "unknown RPC method ignored"
                );
            }
            RpcMethod::Goodbye => {
                let reason = match env.decode_payload() {
                    Ok(d) => match d.payload {
                        RpcPayload::Goodbye(g) => Some(g.reason),
                        _ => None,
                    },
                    Err(_) => None,
                };
                info!(reason, "peer said GOODBYE");
                self.close(ctx, DisconnectReason::Goodbye { reason }, None);
            }
            RpcMethod::Hello => match env.decode_payload() {
                Ok(d) => {
                    if let RpcPayload::Hello(hello) = d.payload {
                        let node_id = get_uint_opt(&env.header.extra, "node_id", i64::MAX as u64)
                            .ok()
                            .flatten()
                            .map(NodeId);
                        self.peer_overlay = matches!(
                            overlay_version(&env.header.extra),
                            Ok(Some(v)) if v >= 1
                        );
                        let ids_absent = d
                            .defaulted
                            .iter()
                            .any(|f| *f == "network_id" || *f == "chain_id");
                        self.on_hello(id, node_id, hello, ids_absent, ctx);
                    }
                }
                Err(e) => self.bad_message(ctx, "HELLO", &e),
            },
            m if self.is_response(m, id) => self.on_response(env, ctx),
            _ => self.on_request(env, ctx),
        }
    }

    /// A frame is a response when it uses a response-only method, or GET_STATUS with the id of our
    /// outstanding GET_STATUS (the method serves both ways).
    fn is_response(&self, method: RpcMethod, id: RequestId) -> bool {
        match method {
            RpcMethod::BlockHeaders
            | RpcMethod::BlockBodies
            | RpcMethod::Attestation
            | RpcMethod::BeaconStates => true,
            RpcMethod::GetStatus => self
                .tracker
                .get(id.0)
                .is_some_and(|p| p.expect == RpcMethod::GetStatus),
            _ => false,
        }
    }

    fn on_response(&mut self, env: RpcEnvelope, ctx: &mut Context<Self>) {
        let id = env.header.id;
        let Some(pending) = self.tracker.complete(id.0) else {
            debug!(id = id.0, method = %env.header.method, "response to no outstanding request ignored");
            return;
        };
        let (method, sent) = (pending.method, pending.sent);
        let result = if pending.expect != env.header.method {
            Err(RpcError::BadResponse {
                reason: format!("expected {}, got {}", pending.expect, env.header.method),
            })
        } else {
            match env.decode_payload() {
                Ok(d) => RpcResponse::from_payload(d.payload).ok_or(RpcError::BadResponse {
                    reason: "not a response payload".into(),
                }),
                Err(e) => {
                    let r = Err(RpcError::BadResponse {
                        reason: e.to_string(),
                    });
                    self.bad_message(ctx, "RPC response", &e);
                    r
                }
            }
        };
        self.measure_rpc(RpcRole::Client, method, sent, result.is_ok());
        let _ = pending.reply.send(result);
    }

    fn on_request(&mut self, env: RpcEnvelope, ctx: &mut Context<Self>) {
        let id = env.header.id;
        let method = env.header.method;
        if self.handshake.admit_request() == Admission::Refuse {
            self.stats.refused_before_hello += 1;
            warn!(%method, id = id.0, "RPC request before HELLO ignored");
            return;
        }
        // Rate limit before decoding: an excess request costs the node as little as possible.
        if !self.rpc_bucket.try_take(std::time::Instant::now()) {
            self.stats.refused_rate_limited += 1;
            let count = self.stats.refused_rate_limited;
            if count.is_power_of_two() {
                warn!(%method, id = id.0, count, "RPC rate limit exceeded: request dropped");
            }
            self.report(Penalty::RateLimited {
                reason: format!("{method} over the rate limit"),
            });
            // Stop reading this peer until the next token is due: its flood then waits in the
            // socket buffers (TCP backpressure) instead of costing this node decoding time.
            let resume = std::time::Instant::now() + self.rpc_bucket.refill_interval();
            self.read_pause.pause_until(resume);
            return;
        }
        let request = match env.decode_payload() {
            Ok(d) => match RpcRequest::from_payload(d.payload) {
                Some(r) => r,
                None => return,
            },
            Err(e) => return self.bad_message(ctx, "RPC request", &e),
        };
        let received = std::time::Instant::now();
        if let RpcRequest::Status(_) = request {
            let status = GetStatus::new(&self.settings.user_agent, now_ms());
            self.write_rpc(id, &RpcPayload::GetStatus(status));
            return self.measure_rpc(RpcRole::Server, method, received, true);
        }
        if self.inbound_in_flight >= self.settings.limits.max_inbound_requests {
            self.stats.refused_busy += 1;
            warn!(%method, id = id.0, "too many requests in flight from this peer: ignored");
            return;
        }
        self.inbound_in_flight += 1;
        let fut = self.links.store.serve_rpc(request);
        ctx.spawn(fut.into_actor(self).map(move |res, act, _ctx| {
            act.inbound_in_flight = act.inbound_in_flight.saturating_sub(1);
            match res {
                Ok(response) => {
                    act.write_rpc(id, &response.into_payload());
                    act.measure_rpc(RpcRole::Server, method, received, true);
                }
                Err(e) => warn!(error = %e, "store unavailable; request dropped"),
            }
        }));
    }

    fn on_hello(
        &mut self,
        id: RequestId,
        node_id: Option<NodeId>,
        theirs: Hello,
        ids_absent: bool,
        ctx: &mut Context<Self>,
    ) {
        let arrival = self.handshake.on_hello(id.0);
        debug!(
            id = id.0,
            ?node_id,
            network_id = theirs.network_id,
            best_slot = theirs.best_slot.0,
            ?arrival,
            "HELLO received"
        );
        if !arrival.check {
            if arrival.reply {
                let fut = self.links.store.hello();
                ctx.spawn(fut.into_actor(self).map(move |res, act, _| {
                    if let Ok(ours) = res {
                        act.write_hello(id, ours);
                    }
                }));
            }
            return;
        }
        let fut = self.links.store.check_hello(theirs.clone(), ids_absent);
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            let Ok(checked) = res else {
                return act.close(ctx, DisconnectReason::Internal, None);
            };
            if checked.verdict.is_ok() {
                // Accepted BEFORE our reply is written: a request the peer sends the moment it
                // reads the reply must be served, not ignored as "before HELLO" while the manager
                // decides on duplicates (if it refuses, the connection closes).
                act.handshake.accept();
            }
            if arrival.reply {
                act.write_hello(id, checked.ours);
            }
            match checked.verdict {
                Err(rejection) => {
                    warn!(%rejection, "HELLO refused");
                    act.close(
                        ctx,
                        DisconnectReason::IrrelevantNetwork(rejection),
                        Some(Goodbye::IRRELEVANT_NETWORK),
                    );
                }
                Ok(()) => act.report_handshake(node_id, theirs, ctx),
            }
        }));
    }

    fn report_handshake(&mut self, node_id: Option<NodeId>, hello: Hello, ctx: &mut Context<Self>) {
        let report = ReportHandshake {
            peer: self.peer,
            node_id,
            hello,
            session: PeerSession::handle_of(self.peer, ctx.address()),
            gossip_overlay: self.settings.gossip_overlay && self.peer_overlay,
        };
        let fut = self.links.handshake.send(report);
        ctx.spawn(fut.into_actor(self).map(|res, act, ctx| match res {
            Ok(
                HandshakeAdmission::Accept
                | HandshakeAdmission::Replaces { .. }
                | HandshakeAdmission::Displaces { .. },
            ) => {
                act.handshake.accept();
                info!("handshake complete");
                act.start_pinging(ctx);
            }
            Ok(HandshakeAdmission::Duplicate { kept }) => {
                info!(%kept, "duplicate connection to the same node");
                act.close(ctx, DisconnectReason::Duplicate, Some(GOODBYE_DUPLICATE));
            }
            Ok(HandshakeAdmission::Banned { remaining }) => {
                warn!(?remaining, "node id is banned: closing");
                act.close(ctx, DisconnectReason::Banned, Some(Goodbye::FAULT_ERROR));
            }
            Ok(HandshakeAdmission::Full { max } | HandshakeAdmission::AddressFull { max }) => {
                info!(max, "no peer slot: closing");
                act.close(
                    ctx,
                    DisconnectReason::Local {
                        goodbye: GOODBYE_TOO_MANY_PEERS,
                    },
                    Some(GOODBYE_TOO_MANY_PEERS),
                );
            }
            Ok(HandshakeAdmission::SelfConnection) => {
                act.close(
                    ctx,
                    DisconnectReason::SelfConnection,
                    Some(GOODBYE_DUPLICATE),
                );
            }
            Err(_) => act.close(ctx, DisconnectReason::Internal, None),
        }));
    }
}
