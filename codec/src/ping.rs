//! PING (protocol 2): `PingKind`, `PingFrame` and the pong for a ping.
//!
//! Header the raw UTF-8 bytes `ping` or `pong`, body opaque (32 random bytes in practice). Messages
//! handled: `ping` (answered by `pong` with the same body) and `pong` (never answered, so two nodes
//! cannot loop; see docs/PROTOCOL.md).

use bytes::Bytes;

use crate::error::CodecError;
use crate::frame::{Frame, Protocol};

/// Header of a ping.
pub const PING_HEADER: &[u8; 4] = b"ping";
/// Header of a pong.
pub const PONG_HEADER: &[u8; 4] = b"pong";

/// `ping` or `pong`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PingKind {
    /// Header `ping`: must be answered.
    Ping,
    /// Header `pong`: an answer, never answered itself.
    Pong,
}

/// One PING-protocol frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingFrame {
    /// `ping` or `pong`.
    pub kind: PingKind,
    /// The opaque body.
    pub body: Bytes,
}

impl PingFrame {
    /// A ping with `body`.
    pub fn ping(body: impl Into<Bytes>) -> Self {
        Self {
            kind: PingKind::Ping,
            body: body.into(),
        }
    }

    /// A pong with `body`.
    pub fn pong(body: impl Into<Bytes>) -> Self {
        Self {
            kind: PingKind::Pong,
            body: body.into(),
        }
    }

    /// Reads a PING frame; a header other than `ping`/`pong` is `UnknownPingHeader`.
    pub fn from_frame(frame: &Frame) -> Result<Self, CodecError> {
        if frame.protocol != Protocol::Ping {
            return Err(CodecError::WrongProtocol {
                expected: "PING",
                found: frame.protocol.name(),
            });
        }
        let kind = match &frame.header[..] {
            h if h == PING_HEADER => PingKind::Ping,
            h if h == PONG_HEADER => PingKind::Pong,
            other => {
                return Err(CodecError::UnknownPingHeader {
                    header: other[..other.len().min(16)].to_vec(),
                })
            }
        };
        Ok(Self {
            kind,
            body: frame.body.clone(),
        })
    }

    /// The frame (version 3).
    pub fn to_frame(&self) -> Frame {
        let header: &'static [u8] = match self.kind {
            PingKind::Ping => PING_HEADER,
            PingKind::Pong => PONG_HEADER,
        };
        Frame::new(
            Protocol::Ping,
            Bytes::from_static(header),
            self.body.clone(),
        )
    }

    /// The reply: a pong with the same body for a ping, nothing for a pong.
    pub fn reply(&self) -> Option<PingFrame> {
        match self.kind {
            PingKind::Ping => Some(Self::pong(self.body.clone())),
            PingKind::Pong => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pong_echoes_the_body_and_pong_is_not_answered() {
        let ping = PingFrame::ping(vec![9u8; 32]);
        let pong = ping.reply().expect("ping is answered");
        assert_eq!(pong.kind, PingKind::Pong);
        assert_eq!(pong.body, ping.body);
        assert_eq!(pong.reply(), None);
        let frame = pong.to_frame();
        assert_eq!(PingFrame::from_frame(&frame).expect("decode"), pong);
    }
}
