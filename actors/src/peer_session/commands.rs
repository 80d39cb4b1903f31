//! Commands to one session and the handle other actors hold: [`SendFrame`], [`SendRequest`],
//! [`Disconnect`] (handled by [`PeerSession`]) and [`SessionHandle`] (`try_send` for frames,
//! request/response with a typed error). Part of the session actor; writes frames to the socket.

use std::time::Instant;

use actix::prelude::*;
use hobbits_codec::rpc::{RequestId, RpcEnvelope};
use hobbits_codec::Frame;
use tokio::sync::oneshot;

use super::{PeerSession, PendingRequest};
use crate::events::DisconnectReason;
use crate::peer_table::PeerId;
use crate::rpc::{RpcRequest, RpcResponse};
use crate::rpc_tracker::RpcError;

/// Command: write a frame to the peer (for gossip relays; use [`SessionHandle::send_frame`] for
/// `try_send` semantics).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SendFrame {
    /// The frame.
    pub frame: Frame,
}

impl Handler<SendFrame> for PeerSession {
    type Result = ();
    fn handle(&mut self, msg: SendFrame, _: &mut Context<Self>) {
        self.write(msg.frame);
    }
}

/// Command: send an RPC request and wait for the matching response (or a typed error).
#[derive(Debug, Message)]
#[rtype(result = "Result<RpcResponse, RpcError>")]
pub struct SendRequest {
    /// The request.
    pub request: RpcRequest,
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

/// Command: close the connection with a GOODBYE.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    /// GOODBYE reason code sent.
    pub goodbye: u64,
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

/// A handle on one session for other actors: bounded, never blocking.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    /// The connection.
    pub peer: PeerId,
    /// The actor.
    pub addr: Addr<PeerSession>,
}

impl SessionHandle {
    /// Queues a frame for the peer; `QueueFull` when its mailbox is full (a slow peer),
    /// `Disconnected` when the session is gone.
    pub fn send_frame(&self, frame: Frame) -> Result<(), RpcError> {
        self.addr
            .try_send(SendFrame { frame })
            .map_err(|e| match e {
                SendError::Full(_) => RpcError::QueueFull,
                SendError::Closed(_) => RpcError::Disconnected,
            })
    }

    /// Sends an RPC request and waits for its response or a typed error (the session enforces
    /// the per-peer cap and the request timeout; a full mailbox delays the enqueue).
    pub fn request(
        &self,
        request: RpcRequest,
    ) -> impl std::future::Future<Output = Result<RpcResponse, RpcError>> + 'static {
        let fut = self.addr.send(SendRequest { request });
        async move {
            match fut.await {
                Ok(result) => result,
                Err(_) => Err(RpcError::Disconnected),
            }
        }
    }
}
