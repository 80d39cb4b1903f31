//! The line to one connection: [`SessionHandle`] (held by the peer manager, and by sync and gossip
//! from [`PeerHandshaked`](super::PeerHandshaked)) and the commands it sends, handled by the
//! `PeerSession`: [`SendFrame`], [`SendRequest`], [`Disconnect`]. The handle holds a `Recipient`
//! of each, so this module (and the events that carry a handle) need not know the session actor.

use actix::prelude::*;
use hobbits_codec::Frame;

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

/// Command: send an RPC request and wait for the matching response (or a typed error).
#[derive(Debug, Message)]
#[rtype(result = "Result<RpcResponse, RpcError>")]
pub struct SendRequest {
    /// The request.
    pub request: RpcRequest,
}

/// Command: close the connection with a GOODBYE.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    /// GOODBYE reason code sent.
    pub goodbye: u64,
}

/// A handle on one session for other actors: bounded, never blocking.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    /// The connection.
    pub peer: PeerId,
    frames: Recipient<SendFrame>,
    requests: Recipient<SendRequest>,
    disconnect: Recipient<Disconnect>,
}

impl SessionHandle {
    /// A handle on the session of `peer` that handles the three commands (the session builds
    /// its own from its address).
    pub fn new(
        peer: PeerId,
        frames: Recipient<SendFrame>,
        requests: Recipient<SendRequest>,
        disconnect: Recipient<Disconnect>,
    ) -> Self {
        SessionHandle {
            peer,
            frames,
            requests,
            disconnect,
        }
    }

    /// Queues a frame for the peer; `QueueFull` when its mailbox is full (a slow peer),
    /// `Disconnected` when the session is gone.
    pub fn send_frame(&self, frame: Frame) -> Result<(), RpcError> {
        self.frames
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
        let fut = self.requests.send(SendRequest { request });
        async move {
            match fut.await {
                Ok(result) => result,
                Err(_) => Err(RpcError::Disconnected),
            }
        }
    }

    /// Closes the connection with GOODBYE `goodbye` (a local control message: never refused
    /// for a full mailbox).
    pub fn disconnect(&self, goodbye: u64) {
        self.disconnect.do_send(Disconnect { goodbye });
    }
}
