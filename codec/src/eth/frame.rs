//! ETH framing: [`EthFrame`] (one message's bytes), [`EthLimits`] and [`EthCodec`], the
//! tokio-util `Decoder`/`Encoder` for `<"ETH"><u32 LE length><message>`. Knows nothing about the
//! envelope inside: the message is opaque `Bytes` (see `message.rs`).
//!
//! Decoding is incremental (`Ok(None)` until a whole message is buffered), rejects a wrong prefix
//! from its first byte, checks the length against the limit as soon as the 7-byte prefix is known
//! (before reserving anything), reserves at most 1 MiB at a time while a message arrives, and hands
//! the message out as a zero-copy slice of the receive buffer.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::EthError;

/// The prefix every message starts with (`0x455448`).
pub const ETH_PREFIX: &[u8; 3] = b"ETH";
/// Length of the prefix: `ETH` 3 + u32 length 4.
pub const ETH_PREFIX_LEN: usize = 7;
/// Default maximum message length: 16 MiB, as for a Hobbits body (room for a batch of mainnet block
/// bodies, bounded memory per peer).
pub const DEFAULT_MAX_MESSAGE_LEN: u32 = 16 * 1024 * 1024;
/// Smallest `max_message_len` accepted: a hello response (1 + 14 + 89 bytes) must fit.
pub const MIN_MAX_MESSAGE_LEN: u32 = 128;
/// Default most block roots in one beacon_block_bodies request (and bodies in its response): the
/// Hobbits dialect's list bound (`hobbits_chain::rpc::MaxBlocksOnWire`).
pub const DEFAULT_MAX_BODIES_PER_REQUEST: u32 = 4096;
/// Default most hashes in one beacon_chain_state request.
pub const DEFAULT_MAX_STATE_HASHES: u32 = 1024;
/// Default longest get_status `user_agent`: the Hobbits dialect's bound
/// (`hobbits_chain::rpc::MaxUserAgentLen`).
pub const DEFAULT_MAX_USER_AGENT_LEN: u32 = 1024;
/// Most the decoder reserves at once for a message still arriving.
const RESERVE_CHUNK: usize = 1024 * 1024;

/// Size limits of the ETH dialect: the message length (framing) and the lists the spec leaves
/// unbounded (typed decoding). `count` of beacon_block_roots is bounded by the spec itself
/// ([`super::MAX_BLOCK_ROOTS_COUNT`]) and is not configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthLimits {
    /// Largest message (kind byte + envelope) accepted or written, in bytes. Default
    /// [`DEFAULT_MAX_MESSAGE_LEN`] (16 MiB); at least [`MIN_MAX_MESSAGE_LEN`].
    pub max_message_len: u32,
    /// Most `block_roots` in a beacon_block_bodies request and `block_bodies` in its response.
    /// Default [`DEFAULT_MAX_BODIES_PER_REQUEST`] (4096); a request above it is answered with 20.
    pub max_bodies_per_request: u32,
    /// Most `hashes` in a beacon_chain_state request. Default [`DEFAULT_MAX_STATE_HASHES`] (1024);
    /// a request above it is answered with 20.
    pub max_state_hashes: u32,
    /// Longest get_status `user_agent`, in bytes. Default [`DEFAULT_MAX_USER_AGENT_LEN`] (1024); a
    /// request above it is answered with 20.
    pub max_user_agent_len: u32,
}

impl Default for EthLimits {
    fn default() -> Self {
        Self {
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            max_bodies_per_request: DEFAULT_MAX_BODIES_PER_REQUEST,
            max_state_hashes: DEFAULT_MAX_STATE_HASHES,
            max_user_agent_len: DEFAULT_MAX_USER_AGENT_LEN,
        }
    }
}

impl EthLimits {
    /// Checks that the limits can carry every fixed-size message and at least one list item.
    pub fn validate(&self) -> Result<(), EthError> {
        if self.max_message_len < MIN_MAX_MESSAGE_LEN {
            return Err(EthError::InvalidLimits {
                reason: "max_message_len must be at least 128 (a hello response)",
            });
        }
        if self.max_bodies_per_request == 0 || self.max_state_hashes == 0 {
            return Err(EthError::InvalidLimits {
                reason: "max_bodies_per_request and max_state_hashes must be at least 1",
            });
        }
        Ok(())
    }
}

/// One ETH message as framed: the bytes after `ETH` and the length (kind byte + SSZ envelope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthFrame {
    /// The message bytes (a zero-copy slice of the receive buffer when decoded).
    pub message: Bytes,
}

impl EthFrame {
    /// A frame holding `message`.
    pub fn new(message: impl Into<Bytes>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// Total encoded length (prefix + message).
    pub fn encoded_len(&self) -> usize {
        ETH_PREFIX_LEN + self.message.len()
    }

    /// Writes `ETH`, the length and the message into `dst` without checking limits (see
    /// [`EthCodec`] for that). Fails only for a message longer than `u32::MAX`.
    pub fn write_to(&self, dst: &mut BytesMut) -> Result<(), EthError> {
        let len = u32::try_from(self.message.len()).map_err(|_| EthError::MessageTooLarge {
            len: self.message.len() as u64,
            max: u32::MAX,
        })?;
        dst.reserve(self.encoded_len());
        dst.put_slice(ETH_PREFIX);
        dst.put_u32_le(len);
        dst.put_slice(&self.message);
        Ok(())
    }

    /// The encoding as one buffer (no limit check).
    pub fn to_bytes(&self) -> Result<Bytes, EthError> {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.write_to(&mut buf)?;
        Ok(buf.freeze())
    }

    /// Parses a buffer that must hold exactly one message (tools; connections use [`EthCodec`]).
    /// Errors with `Incomplete` or `TrailingBytes` otherwise.
    pub fn parse(bytes: &[u8], limits: EthLimits) -> Result<EthFrame, EthError> {
        let mut codec = EthCodec::new(limits);
        let mut buf = BytesMut::from(bytes);
        match codec.decode(&mut buf)? {
            Some(frame) if buf.is_empty() => Ok(frame),
            Some(_) => Err(EthError::TrailingBytes { extra: buf.len() }),
            None => Err(EthError::Incomplete {
                have: bytes.len(),
                need: codec
                    .pending_len()
                    .unwrap_or(ETH_PREFIX_LEN.max(bytes.len() + 1)),
            }),
        }
    }
}

/// tokio-util codec for the ETH dialect (`Decoder<Item = EthFrame>`, `Encoder<EthFrame>`).
#[derive(Debug, Clone, Default)]
pub struct EthCodec {
    limits: EthLimits,
    /// Message length of the message being received, kept so a split message is not re-parsed.
    pending: Option<usize>,
}

impl EthCodec {
    /// A codec enforcing `limits`.
    pub fn new(limits: EthLimits) -> Self {
        Self {
            limits,
            pending: None,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &EthLimits {
        &self.limits
    }

    /// Total length (prefix included) of the message being received, once its prefix is known.
    pub fn pending_len(&self) -> Option<usize> {
        self.pending.map(|len| ETH_PREFIX_LEN.saturating_add(len))
    }

    fn check_len(&self, len: u64) -> Result<(), EthError> {
        if len > u64::from(self.limits.max_message_len) {
            return Err(EthError::MessageTooLarge {
                len,
                max: self.limits.max_message_len,
            });
        }
        Ok(())
    }

    /// Reads and checks the prefix at the start of `src`: the message length, or `None` if more
    /// bytes are needed.
    fn read_prefix(&self, src: &[u8]) -> Result<Option<usize>, EthError> {
        let seen = &src[..src.len().min(ETH_PREFIX.len())];
        if seen != &ETH_PREFIX[..seen.len()] {
            return Err(EthError::BadPrefix {
                found: seen.to_vec(),
            });
        }
        let Some(len) = src.get(3..ETH_PREFIX_LEN) else {
            return Ok(None);
        };
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]);
        self.check_len(u64::from(len))?;
        // A u32 fits usize on every target we build for; saturate rather than wrap elsewhere.
        Ok(Some(usize::try_from(len).unwrap_or(usize::MAX)))
    }
}

impl Decoder for EthCodec {
    type Item = EthFrame;
    type Error = EthError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<EthFrame>, EthError> {
        let len = match self.pending {
            Some(len) => len,
            None => {
                if src.is_empty() {
                    return Ok(None);
                }
                match self.read_prefix(src)? {
                    Some(len) => len,
                    None => return Ok(None),
                }
            }
        };
        let total = ETH_PREFIX_LEN.saturating_add(len);
        if src.len() < total {
            // The length is checked, so this is bounded by the limit; a chunk at a time, so a
            // peer announcing a large message costs memory only as its bytes arrive.
            src.reserve((total - src.len()).min(RESERVE_CHUNK));
            self.pending = Some(len);
            return Ok(None);
        }
        self.pending = None;
        let mut bytes = src.split_to(total).freeze();
        bytes.advance(ETH_PREFIX_LEN);
        Ok(Some(EthFrame { message: bytes }))
    }
}

impl Encoder<EthFrame> for EthCodec {
    type Error = EthError;

    fn encode(&mut self, frame: EthFrame, dst: &mut BytesMut) -> Result<(), EthError> {
        self.encode(&frame, dst)
    }
}

impl Encoder<&EthFrame> for EthCodec {
    type Error = EthError;

    fn encode(&mut self, frame: &EthFrame, dst: &mut BytesMut) -> Result<(), EthError> {
        // Never send what we would refuse to receive.
        self.check_len(frame.message.len() as u64)?;
        frame.write_to(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_byte_by_byte_and_several_in_one_buffer() {
        let frames: Vec<EthFrame> = (0..4u8)
            .map(|i| EthFrame::new(vec![i; i as usize * 7]))
            .collect();
        let mut wire = BytesMut::new();
        let mut codec = EthCodec::default();
        for f in &frames {
            codec.encode(f, &mut wire).expect("encode");
        }
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &b in wire.iter() {
            buf.put_u8(b);
            while let Some(f) = codec.decode(&mut buf).expect("decode") {
                out.push(f);
            }
        }
        assert_eq!(out, frames);
        let mut all = wire.clone();
        let mut again = Vec::new();
        while let Some(f) = codec.decode(&mut all).expect("decode") {
            again.push(f);
        }
        assert_eq!(again, frames);
    }

    #[test]
    fn length_is_little_endian() {
        let wire = EthFrame::new(vec![0xaa; 0x0102]).to_bytes().expect("bytes");
        assert_eq!(&wire[..7], &[0x45, 0x54, 0x48, 0x02, 0x01, 0x00, 0x00]);
    }

    #[test]
    fn bad_prefix_detected_on_first_byte() {
        let mut codec = EthCodec::default();
        let mut buf = BytesMut::from(&b"E"[..]);
        assert!(codec.decode(&mut buf).expect("a prefix of ETH").is_none());
        let mut buf = BytesMut::from(&b"EW"[..]);
        let err = codec.decode(&mut buf).expect_err("EW is not ETH");
        assert!(matches!(&err, EthError::BadPrefix { found } if found == b"EW"));
        assert!(err.breaks_stream());
    }

    #[test]
    fn over_long_length_rejected_before_reserving() {
        let mut codec = EthCodec::default();
        let mut buf = BytesMut::from(&[0x45, 0x54, 0x48, 0xff, 0xff, 0xff, 0xff][..]);
        let err = codec.decode(&mut buf).expect_err("4 GiB");
        assert!(matches!(
            err,
            EthError::MessageTooLarge {
                len: 0xFFFF_FFFF,
                ..
            }
        ));
        assert!(buf.capacity() < 1024, "nothing reserved");
    }

    #[test]
    fn limit_at_u32_max_reserves_a_bounded_chunk() {
        let limits = EthLimits {
            max_message_len: u32::MAX,
            ..EthLimits::default()
        };
        let mut codec = EthCodec::new(limits);
        let mut buf = BytesMut::from(&[0x45, 0x54, 0x48, 0xff, 0xff, 0xff, 0xff, 1][..]);
        assert!(codec.decode(&mut buf).expect("valid prefix").is_none());
        assert_eq!(codec.pending_len(), Some(7 + 0xFFFF_FFFF));
        assert!(buf.capacity() <= 8 + RESERVE_CHUNK * 2);
    }

    #[test]
    fn encoder_refuses_what_the_decoder_would() {
        let limits = EthLimits {
            max_message_len: 200,
            ..EthLimits::default()
        };
        let mut codec = EthCodec::new(limits);
        let mut buf = BytesMut::new();
        let err = codec
            .encode(EthFrame::new(vec![0u8; 201]), &mut buf)
            .expect_err("too large");
        assert!(matches!(
            err,
            EthError::MessageTooLarge { len: 201, max: 200 }
        ));
        assert!(buf.is_empty());
        assert!(EthLimits {
            max_message_len: 100,
            ..limits
        }
        .validate()
        .is_err());
        assert!(limits.validate().is_ok());
    }

    #[test]
    fn parse_reports_incomplete_and_trailing() {
        let wire = EthFrame::new(vec![1u8; 10]).to_bytes().expect("bytes");
        assert!(matches!(
            EthFrame::parse(&wire[..12], EthLimits::default()),
            Err(EthError::Incomplete { have: 12, need: 17 })
        ));
        assert!(matches!(
            EthFrame::parse(&wire[..2], EthLimits::default()),
            Err(EthError::Incomplete { have: 2, need: 7 })
        ));
        let mut two = wire.to_vec();
        two.push(0x45);
        assert!(matches!(
            EthFrame::parse(&two, EthLimits::default()),
            Err(EthError::TrailingBytes { extra: 1 })
        ));
        assert_eq!(
            EthFrame::parse(&wire, EthLimits::default())
                .expect("one")
                .message
                .len(),
            10
        );
    }
}
