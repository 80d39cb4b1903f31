//! What a link proxy reads and writes, by the wire of its link ([`Wire`]): [`LinkCodec`] frames
//! EWP v3 frames or ETH raw-TCP messages into [`WireFrame`]s, so the same proxy (unshaped or held
//! by the [`crate::shaper::Shaper`]) carries either dialect whole. Plain codec; no messages.

use hobbits_codec::eth::{EthCodec, EthFrame};
use hobbits_codec::{Frame, FrameCodec, GossipEnvelope, Protocol};
use tokio_util::bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::spec::Wire;

/// One whole message of either wire.
#[derive(Debug, Clone)]
pub enum WireFrame {
    /// An EWP v3 frame.
    Ewp(Frame),
    /// An ETH message.
    Eth(EthFrame),
}

impl WireFrame {
    /// The bytes the shaper charges for it: header and body, or the ETH message after its prefix.
    pub fn len(&self) -> usize {
        match self {
            WireFrame::Ewp(f) => f.header.len() + f.body.len(),
            WireFrame::Eth(f) => f.message.len(),
        }
    }

    /// True for an empty message (never on either wire; for clippy's `len` pairing).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A GOSSIP frame's topic and hash (what the wire log records); ETH has no gossip.
    pub fn gossip_key(&self) -> Option<(hobbits_codec::Topic, hobbits_chain::Root)> {
        let WireFrame::Ewp(frame) = self else {
            return None;
        };
        (frame.protocol == Protocol::Gossip)
            .then(|| GossipEnvelope::from_frame(frame).ok())
            .flatten()
            .map(|env| (env.header.topic, env.header.hash))
    }
}

/// The codec of one direction of a link.
#[derive(Debug)]
pub enum LinkCodec {
    /// EWP v3 frames, with the codec's default limits.
    Ewp(FrameCodec),
    /// ETH messages, with the codec's default limits.
    Eth(EthCodec),
}

impl LinkCodec {
    /// The codec of `wire`.
    pub fn new(wire: Wire) -> Self {
        match wire {
            Wire::Hobbits => LinkCodec::Ewp(FrameCodec::default()),
            Wire::Eth => LinkCodec::Eth(EthCodec::default()),
        }
    }
}

fn other(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl Decoder for LinkCodec {
    type Item = WireFrame;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<WireFrame>, std::io::Error> {
        match self {
            LinkCodec::Ewp(c) => c.decode(src).map(|f| f.map(WireFrame::Ewp)).map_err(other),
            LinkCodec::Eth(c) => c.decode(src).map(|f| f.map(WireFrame::Eth)).map_err(other),
        }
    }
}

impl Encoder<WireFrame> for LinkCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: WireFrame, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        match (self, item) {
            (LinkCodec::Ewp(c), WireFrame::Ewp(f)) => c.encode(f, dst).map_err(other),
            (LinkCodec::Eth(c), WireFrame::Eth(f)) => c.encode(f, dst).map_err(other),
            _ => Err(other("a frame of the other wire")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hobbits_codec::eth::{EthMessage, EthRequest, EthRequestBody};
    use hobbits_codec::rpc::RequestId;

    #[test]
    fn each_wire_frames_its_own_messages_split_anywhere() {
        let req = EthRequest::new(
            RequestId(1),
            &EthRequestBody::Goodbye(hobbits_chain::rpc::Goodbye { reason: 1 }),
        );
        let bytes = EthMessage::from(req).to_frame().to_bytes().expect("bytes");
        let mut codec = LinkCodec::new(Wire::Eth);
        let mut buf = BytesMut::new();
        let mut got = None;
        for b in bytes.iter() {
            buf.extend_from_slice(&[*b]);
            if let Some(f) = codec.decode(&mut buf).expect("frames") {
                got = Some(f);
            }
        }
        let frame = got.expect("one message");
        assert_eq!(frame.len(), bytes.len() - 7);
        assert!(frame.gossip_key().is_none());
        let mut out = BytesMut::new();
        codec.encode(frame.clone(), &mut out).expect("encode");
        assert_eq!(&out[..], &bytes[..]);
        // The Hobbits codec refuses ETH bytes, and an ETH frame on a Hobbits link.
        let mut ewp = LinkCodec::new(Wire::Hobbits);
        assert!(ewp.decode(&mut BytesMut::from(&bytes[..])).is_err());
        assert!(ewp.encode(frame, &mut out).is_err());
    }
}
