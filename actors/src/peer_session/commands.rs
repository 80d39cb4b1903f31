//! The session's handlers of the commands a `SessionHandle` sends: `SendFrame`, `SendRequest`,
//! `Disconnect` (the messages and the handle are in `crate::events::session`, below every actor
//! that holds a handle). Part of the session actor; writes frames to the socket.

use std::time::Instant;

use actix::prelude::*;
use hobbits_codec::rpc::{RequestId, RpcEnvelope};
use tokio::sync::oneshot;

use super::{PeerSession, PendingRequest};
use crate::events::{Disconnect, DisconnectReason, SendFrame, SendRequest};
use crate::rpc::RpcResponse;
use crate::rpc_tracker::RpcError;

impl Handler<SendFrame> for PeerSession {
    type Result = ();
    fn handle(&mut self, msg: SendFrame, _: &mut Context<Self>) {
        self.write(msg.frame);
    }
}

impl Handler<SendRequest> for PeerSession {
    type Result = ResponseFuture<Result<RpcResponse, RpcError>>;

    fn handle(&mut self, msg: SendRequest, ctx: &mut Context<Self>) -> Self::Result {
        if self.closing() {
            return Box::pin(async { Err(RpcError::Disconnected) });
        }
        let (tx, rx) = oneshot::channel();
        let pending = PendingRequest {
            expect: msg.request.response_method(),
            method: msg.request.method(),
            sent: Instant::now(),
            reply: tx,
        };
        let id = match self.tracker.start(Instant::now(), pending) {
            Ok(id) => id,
            Err((e, _)) => return Box::pin(async move { Err(e) }),
        };
        let env = RpcEnvelope::new(RequestId(id), &msg.request.into_payload());
        match env.to_frame() {
            Ok(frame) => self.write(frame),
            Err(e) => {
                self.tracker.complete(id);
                let reason = e.to_string();
                return Box::pin(async move { Err(RpcError::Encode { reason }) });
            }
        }
        ctx.run_later(self.tracker.timeout(), |act, _| act.expire_requests());
        Box::pin(async move { rx.await.unwrap_or(Err(RpcError::Disconnected)) })
    }
}

impl Handler<Disconnect> for PeerSession {
    type Result = ();
    fn handle(&mut self, msg: Disconnect, ctx: &mut Context<Self>) {
        let _g = self.span.clone().entered();
        self.close(
            ctx,
            DisconnectReason::Local {
                goodbye: msg.goodbye,
            },
            Some(msg.goodbye),
        );
    }
}
