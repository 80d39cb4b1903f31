//! hobbits-codec: bytes <-> typed Hobbits messages (EWP v3), and peer addresses. No actix, no
//! runtime, no database.
//!
//! Layers, bottom up: [`frame`] (the tokio-util codec for EWP frames and its limits),
//! [`bson_compat`] (tolerant readers for the BSON shapes 2019 clients sent), then one module per
//! protocol: [`rpc`], [`gossip`], [`ping`], and [`gossip_control`] (the gossip overlay's control
//! verbs and header keys). [`Envelope`] ties the three protocols together:
//! `Envelope::from_frame(&frame)` / `envelope.to_frame()`. [`uri`] parses peer addresses
//! (`hob+tcp://[identity@]host:port`). [`json`] maps frames to and from JSON for tools. Every
//! error is a [`CodecError`] (or a [`UriError`] for an address, a [`ControlError`], which wraps
//! it, for the overlay's control frames).
//!
//! [`eth`] is the other wire: the eth2 RPC interface's raw-TCP dialect (`ETH` prefix, SSZ
//! envelopes, response codes), with its own codec, limits and error enum ([`EthError`]).

#![warn(missing_docs, unreachable_pub)]

pub mod bson_compat;
pub mod envelope;
pub mod error;
pub mod eth;
pub mod frame;
pub mod gossip;
pub mod gossip_control;
pub mod json;
pub mod ping;
pub mod rpc;
pub mod uri;

pub use envelope::Envelope;
pub use error::CodecError;
pub use eth::{
    EthCodec, EthError, EthFrame, EthLimits, EthMessage, EthMethod, EthRequest, EthRequestBody,
    EthResponse, EthResponseBody, ResponseCode,
};
pub use frame::{Frame, FrameCodec, FrameLimits, Framing, Protocol};
pub use gossip::{GossipEnvelope, GossipHeader, GossipObject, MessageHash, Topic};
pub use gossip_control::{
    ControlEnvelope, ControlError, ControlMessage, ControlShape, ControlVerb, GossipMethod, Origin,
};
pub use ping::{PingFrame, PingKind};
pub use rpc::{
    BodyShape, DecodedPayload, RequestId, RpcBody, RpcEnvelope, RpcHeader, RpcMethod, RpcPayload,
};
pub use uri::{PeerUri, UriError};
