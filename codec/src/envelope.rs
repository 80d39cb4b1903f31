//! `Envelope`: a frame read as its protocol's typed message (RPC, GOSSIP or PING), and back.
//! Handles every protocol by delegating to `rpc`, `gossip` and `ping`.

use crate::error::CodecError;
use crate::frame::{Frame, Protocol};
use crate::gossip::GossipEnvelope;
use crate::ping::PingFrame;
use crate::rpc::RpcEnvelope;

/// A typed Hobbits message of any protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum Envelope {
    /// Protocol 0.
    Rpc(RpcEnvelope),
    /// Protocol 1.
    Gossip(GossipEnvelope),
    /// Protocol 2.
    Ping(PingFrame),
}

impl Envelope {
    /// Reads a frame as its protocol's message. Errors here never break the stream
    /// (`CodecError::breaks_stream` is false): the frame can be dropped and the connection kept.
    pub fn from_frame(frame: &Frame) -> Result<Self, CodecError> {
        Ok(match frame.protocol {
            Protocol::Rpc => Self::Rpc(RpcEnvelope::from_frame(frame)?),
            Protocol::Gossip => Self::Gossip(GossipEnvelope::from_frame(frame)?),
            Protocol::Ping => Self::Ping(PingFrame::from_frame(frame)?),
        })
    }

    /// The version-3 frame for this message.
    pub fn to_frame(&self) -> Result<Frame, CodecError> {
        match self {
            Self::Rpc(m) => m.to_frame(),
            Self::Gossip(m) => m.to_frame(),
            Self::Ping(m) => Ok(m.to_frame()),
        }
    }

    /// The protocol of this message.
    pub fn protocol(&self) -> Protocol {
        match self {
            Self::Rpc(_) => Protocol::Rpc,
            Self::Gossip(_) => Protocol::Gossip,
            Self::Ping(_) => Protocol::Ping,
        }
    }
}
