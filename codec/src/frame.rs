//! EWP v3 frames: `Frame`, `Protocol`, `FrameLimits` and `FrameCodec`, the tokio-util
//! `Decoder`/`Encoder` for `<"EWP"><u32 version><u8 protocol><u32 header_len><u32 body_len><header><body>`
//! (big endian). Knows nothing about BSON: header and body are opaque `Bytes`.
//!
//! Decoding is incremental (`Ok(None)` until a whole frame is buffered), checks every length against
//! the limits as soon as the 16-byte prefix is known (before reserving anything, without wrapping
//! arithmetic), and hands out header and body as zero-copy slices of the receive buffer.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::CodecError;

/// The preamble every frame starts with.
pub const PREAMBLE: &[u8; 3] = b"EWP";
/// The EWP version this node speaks and writes.
pub const EWP_VERSION: u32 = 3;
/// Length of the binary prefix: preamble 3 + version 4 + protocol 1 + header_len 4 + body_len 4.
pub const PREFIX_LEN: usize = 16;
/// Default maximum header length: 64 KiB (headers are small BSON documents or `ping`).
pub const DEFAULT_MAX_HEADER_LEN: u32 = 64 * 1024;
/// Default maximum body length: 16 MiB (room for a batch of mainnet blocks, bounded memory per peer).
pub const DEFAULT_MAX_BODY_LEN: u32 = 16 * 1024 * 1024;
/// Most the decoder reserves at once for a frame still arriving.
const RESERVE_CHUNK: usize = 1024 * 1024;
/// Longest text-framing line (`EWP 3 2 4 32\n`) accepted when text framing is enabled.
pub const MAX_TEXT_LINE_LEN: usize = 64;

/// The protocol byte of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// 0: request/response between two peers; BSON header and body.
    Rpc,
    /// 1: propagation of blocks and attestations; BSON header, SSZ (or empty) body.
    Gossip,
    /// 2: liveness; header `ping` / `pong`, opaque body.
    Ping,
}

impl Protocol {
    /// Reads a protocol byte; `None` for anything but 0, 1, 2.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::Rpc),
            1 => Some(Self::Gossip),
            2 => Some(Self::Ping),
            _ => None,
        }
    }

    /// The byte written on the wire.
    pub fn as_byte(self) -> u8 {
        match self {
            Self::Rpc => 0,
            Self::Gossip => 1,
            Self::Ping => 2,
        }
    }

    /// Upper-case name as the spec writes it (`RPC`, `GOSSIP`, `PING`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Rpc => "RPC",
            Self::Gossip => "GOSSIP",
            Self::Ping => "PING",
        }
    }

    /// Parses a name, case-insensitively (`rpc`, `GOSSIP`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Rpc, Self::Gossip, Self::Ping]
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One EWP frame with opaque header and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// EWP version (3 unless other versions were explicitly accepted).
    pub version: u32,
    /// Which protocol the header and body belong to.
    pub protocol: Protocol,
    /// Header bytes (BSON for RPC/GOSSIP, `ping`/`pong` for PING).
    pub header: Bytes,
    /// Body bytes.
    pub body: Bytes,
}

impl Frame {
    /// A version-3 frame.
    pub fn new(protocol: Protocol, header: impl Into<Bytes>, body: impl Into<Bytes>) -> Self {
        Self {
            version: EWP_VERSION,
            protocol,
            header: header.into(),
            body: body.into(),
        }
    }

    /// Total encoded length (prefix + header + body).
    pub fn encoded_len(&self) -> usize {
        PREFIX_LEN + self.header.len() + self.body.len()
    }

    /// Writes the binary encoding into `dst` without checking limits (see [`FrameCodec`] for that).
    /// Fails only if header or body is longer than `u32::MAX`.
    pub fn write_to(&self, dst: &mut BytesMut) -> Result<(), CodecError> {
        let header_len =
            u32::try_from(self.header.len()).map_err(|_| CodecError::HeaderTooLarge {
                len: self.header.len() as u64,
                max: u32::MAX,
            })?;
        let body_len = u32::try_from(self.body.len()).map_err(|_| CodecError::BodyTooLarge {
            len: self.body.len() as u64,
            max: u32::MAX,
        })?;
        dst.reserve(self.encoded_len());
        dst.put_slice(PREAMBLE);
        dst.put_u32(self.version);
        dst.put_u8(self.protocol.as_byte());
        dst.put_u32(header_len);
        dst.put_u32(body_len);
        dst.put_slice(&self.header);
        dst.put_slice(&self.body);
        Ok(())
    }

    /// The binary encoding as one buffer (no limit check).
    pub fn to_bytes(&self) -> Result<Bytes, CodecError> {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.write_to(&mut buf)?;
        Ok(buf.freeze())
    }

    /// Parses a buffer that must hold exactly one frame (used by tools; connections use
    /// [`FrameCodec`]). Errors with `Incomplete` or `TrailingBytes` otherwise.
    pub fn parse(bytes: &[u8], limits: FrameLimits) -> Result<Frame, CodecError> {
        let mut codec = FrameCodec::new(limits);
        let mut buf = BytesMut::from(bytes);
        match codec.decode(&mut buf)? {
            Some(frame) if buf.is_empty() => Ok(frame),
            Some(_) => Err(CodecError::TrailingBytes { extra: buf.len() }),
            None => Err(CodecError::Incomplete {
                have: bytes.len(),
                need: codec
                    .pending_len()
                    .unwrap_or(PREFIX_LEN.max(bytes.len() + 1)),
            }),
        }
    }
}

/// Size limits and version policy of a [`FrameCodec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest header accepted or written, in bytes. Default [`DEFAULT_MAX_HEADER_LEN`] (64 KiB).
    pub max_header_len: u32,
    /// Largest body accepted or written, in bytes. Default [`DEFAULT_MAX_BODY_LEN`] (16 MiB).
    pub max_body_len: u32,
    /// Accept frames of any version (they are still written as their own version). Default `false`:
    /// only version 3 is accepted, since other versions mean another wire format.
    pub accept_any_version: bool,
    /// Accept Lodestar's 2019 text framing line `EWP <version> <protocol> <header_len> <body_len>\n`
    /// in place of the binary prefix. Default `false`. Frames are always written in binary.
    pub accept_text_framing: bool,
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self {
            max_header_len: DEFAULT_MAX_HEADER_LEN,
            max_body_len: DEFAULT_MAX_BODY_LEN,
            accept_any_version: false,
            accept_text_framing: false,
        }
    }
}

impl FrameLimits {
    /// Checks that the limits can carry the smallest useful frames (a PING header is 4 bytes).
    pub fn validate(&self) -> Result<(), CodecError> {
        if self.max_header_len < 4 {
            return Err(CodecError::InvalidLimits {
                reason: "max_header_len must be at least 4 (a PING header)",
            });
        }
        Ok(())
    }
}

/// The fields of a frame prefix once read and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Prefix {
    /// Bytes taken by the prefix (16 in binary, the line length in text framing).
    len: usize,
    version: u32,
    protocol: Protocol,
    header_len: usize,
    body_len: usize,
}

impl Prefix {
    fn total(&self) -> usize {
        // Each term is bounded by a u32 limit or MAX_TEXT_LINE_LEN, so the sum fits in u64 and, on
        // the 64-bit targets we build for, in usize; saturate rather than wrap on anything smaller.
        self.len
            .saturating_add(self.header_len)
            .saturating_add(self.body_len)
    }
}

/// How the frames of one connection are framed: the binary prefix of EWP v3, or Lodestar's 2019
/// text line (only with [`FrameLimits::accept_text_framing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `EWP` + version, protocol and lengths as big-endian integers.
    Binary,
    /// `EWP <version> <protocol> <header_len> <body_len>\n`.
    Text,
}

/// tokio-util codec for EWP frames (`Decoder<Item = Frame>`, `Encoder<Frame>`).
///
/// One codec reads one connection: with text framing accepted, the framing of the first frame is
/// the connection's, and a frame in the other framing is refused ([`CodecError::TextFraming`]).
#[derive(Debug, Clone, Default)]
pub struct FrameCodec {
    limits: FrameLimits,
    /// Prefix of the frame being received, kept so a split frame is not re-parsed on every read.
    pending: Option<Prefix>,
    /// The framing of the first frame read (set when its prefix is read).
    framing: Option<Framing>,
}

impl FrameCodec {
    /// A codec enforcing `limits`.
    pub fn new(limits: FrameLimits) -> Self {
        Self {
            limits,
            pending: None,
            framing: None,
        }
    }

    /// The framing of this connection, once its first frame's prefix was read.
    pub fn framing(&self) -> Option<Framing> {
        self.framing
    }

    /// Records the framing of a prefix just read; refuses a change of framing.
    fn latch(&mut self, framing: Framing) -> Result<(), CodecError> {
        match self.framing {
            None => {
                self.framing = Some(framing);
                Ok(())
            }
            Some(f) if f == framing => Ok(()),
            Some(_) => Err(CodecError::TextFraming {
                reason: "binary and text framing mixed on one connection",
            }),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &FrameLimits {
        &self.limits
    }

    /// Total length of the frame being received, once its prefix is known.
    pub fn pending_len(&self) -> Option<usize> {
        self.pending.map(|p| p.total())
    }

    fn check(&self, prefix: Prefix) -> Result<Prefix, CodecError> {
        if prefix.version != EWP_VERSION && !self.limits.accept_any_version {
            return Err(CodecError::UnsupportedVersion {
                version: prefix.version,
                expected: EWP_VERSION,
            });
        }
        if prefix.header_len as u64 > u64::from(self.limits.max_header_len) {
            return Err(CodecError::HeaderTooLarge {
                len: prefix.header_len as u64,
                max: self.limits.max_header_len,
            });
        }
        if prefix.body_len as u64 > u64::from(self.limits.max_body_len) {
            return Err(CodecError::BodyTooLarge {
                len: prefix.body_len as u64,
                max: self.limits.max_body_len,
            });
        }
        Ok(prefix)
    }

    /// Reads and checks the prefix at the start of `src`; `Ok(None)` if more bytes are needed.
    fn read_prefix(&self, src: &[u8]) -> Result<Option<Prefix>, CodecError> {
        // Reject a wrong preamble from its first byte on: no need to wait for 16 bytes of garbage.
        let seen = src.len().min(3);
        if src[..seen] != PREAMBLE[..seen] {
            let mut found = [0u8; 3];
            found[..seen].copy_from_slice(&src[..seen]);
            return Err(CodecError::BadPreamble { found });
        }
        if src.len() >= 4 && src[3] == b' ' {
            return self.read_text_prefix(src);
        }
        if src.len() < PREFIX_LEN {
            return Ok(None);
        }
        let be = |i: usize| u32::from_be_bytes([src[i], src[i + 1], src[i + 2], src[i + 3]]);
        let version = be(3);
        // Version first: a frame of another version may not even have our protocol byte.
        if version != EWP_VERSION && !self.limits.accept_any_version {
            return Err(CodecError::UnsupportedVersion {
                version,
                expected: EWP_VERSION,
            });
        }
        let protocol =
            Protocol::from_byte(src[7]).ok_or(CodecError::UnknownProtocol { byte: src[7] })?;
        let prefix = Prefix {
            len: PREFIX_LEN,
            version,
            protocol,
            header_len: be(8) as usize,
            body_len: be(12) as usize,
        };
        self.check(prefix).map(Some)
    }

    /// Reads Lodestar's text line `EWP 3 2 4 32\n` (only when enabled).
    fn read_text_prefix(&self, src: &[u8]) -> Result<Option<Prefix>, CodecError> {
        if !self.limits.accept_text_framing {
            return Err(CodecError::TextFraming {
                reason: "the frame starts with a text line `EWP ...`; text framing is disabled",
            });
        }
        let window = &src[..src.len().min(MAX_TEXT_LINE_LEN)];
        let Some(end) = window.iter().position(|&b| b == b'\n') else {
            if src.len() >= MAX_TEXT_LINE_LEN {
                return Err(CodecError::TextFraming {
                    reason: "text framing line is longer than 64 bytes",
                });
            }
            return Ok(None);
        };
        let line = std::str::from_utf8(&src[4..end]).map_err(|_| CodecError::TextFraming {
            reason: "text framing line is not UTF-8",
        })?;
        let malformed = CodecError::TextFraming {
            reason: "text framing line is not `EWP <version> <protocol> <header_len> <body_len>`",
        };
        let mut fields = line.split(' ');
        let mut next_u32 = || -> Option<u32> { fields.next()?.parse::<u32>().ok() };
        let (Some(version), Some(protocol), Some(header_len), Some(body_len)) =
            (next_u32(), next_u32(), next_u32(), next_u32())
        else {
            return Err(malformed);
        };
        if fields.next().is_some() {
            return Err(malformed);
        }
        if version != EWP_VERSION && !self.limits.accept_any_version {
            return Err(CodecError::UnsupportedVersion {
                version,
                expected: EWP_VERSION,
            });
        }
        let byte = u8::try_from(protocol).unwrap_or(u8::MAX);
        let protocol = Protocol::from_byte(byte).ok_or(CodecError::UnknownProtocol { byte })?;
        self.check(Prefix {
            len: end + 1,
            version,
            protocol,
            header_len: header_len as usize,
            body_len: body_len as usize,
        })
        .map(Some)
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        let prefix = match self.pending {
            Some(prefix) => prefix,
            None => {
                if src.is_empty() {
                    return Ok(None);
                }
                match self.read_prefix(src)? {
                    Some(prefix) => {
                        let framing = if prefix.len == PREFIX_LEN && src[3] != b' ' {
                            Framing::Binary
                        } else {
                            Framing::Text
                        };
                        self.latch(framing)?;
                        prefix
                    }
                    None => return Ok(None),
                }
            }
        };
        let total = prefix.total();
        if src.len() < total {
            // Lengths are checked, so this is bounded by the limits; reserve at most a chunk at a
            // time so a peer announcing a huge body costs memory only as its bytes arrive.
            src.reserve((total - src.len()).min(RESERVE_CHUNK));
            self.pending = Some(prefix);
            return Ok(None);
        }
        self.pending = None;
        let mut bytes = src.split_to(total).freeze();
        bytes.advance(prefix.len);
        let header = bytes.split_to(prefix.header_len);
        Ok(Some(Frame {
            version: prefix.version,
            protocol: prefix.protocol,
            header,
            body: bytes,
        }))
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode(&frame, dst)
    }
}

impl Encoder<&Frame> for FrameCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        // Never send what we would refuse to receive.
        if frame.header.len() as u64 > u64::from(self.limits.max_header_len) {
            return Err(CodecError::HeaderTooLarge {
                len: frame.header.len() as u64,
                max: self.limits.max_header_len,
            });
        }
        if frame.body.len() as u64 > u64::from(self.limits.max_body_len) {
            return Err(CodecError::BodyTooLarge {
                len: frame.body.len() as u64,
                max: self.limits.max_body_len,
            });
        }
        frame.write_to(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test hex")
    }

    #[test]
    fn decodes_byte_by_byte() {
        let frame = Frame::new(Protocol::Ping, &b"ping"[..], vec![7u8; 32]);
        let wire = frame.to_bytes().expect("encode");
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &b in wire.iter() {
            buf.put_u8(b);
            if let Some(f) = codec.decode(&mut buf).expect("decode") {
                out.push(f);
            }
        }
        assert_eq!(out, vec![frame]);
        assert!(buf.is_empty());
    }

    #[test]
    fn decodes_several_frames_in_one_buffer() {
        let frames: Vec<Frame> = (0..5u8)
            .map(|i| Frame::new(Protocol::Rpc, vec![i; i as usize], vec![i; 3]))
            .collect();
        let mut buf = BytesMut::new();
        let mut codec = FrameCodec::default();
        for f in &frames {
            codec.encode(f, &mut buf).expect("encode");
        }
        let mut out = Vec::new();
        while let Some(f) = codec.decode(&mut buf).expect("decode") {
            out.push(f);
        }
        assert_eq!(out, frames);
    }

    #[test]
    fn wrapping_lengths_are_rejected_from_the_prefix() {
        // header_len 0xFFFFFFFF, body_len 1: the u32 sum wraps to 0 in go-hobbits.
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::from(&unhex("4557500000000300ffffffff00000001")[..]);
        let err = codec.decode(&mut buf).expect_err("must reject");
        assert!(matches!(
            err,
            CodecError::HeaderTooLarge {
                len: 0xFFFF_FFFF,
                ..
            }
        ));
        assert!(buf.capacity() < 1024, "nothing reserved");
    }

    #[test]
    fn limits_at_u32_max_still_do_not_wrap() {
        let limits = FrameLimits {
            max_header_len: u32::MAX,
            max_body_len: u32::MAX,
            ..FrameLimits::default()
        };
        let mut codec = FrameCodec::new(limits);
        let mut buf = BytesMut::from(&unhex("4557500000000300ffffffff00000001")[..]);
        // Accepted by these (absurd) limits: waits for 4 GiB + 17 bytes instead of wrapping to 16,
        // and reserves only a bounded chunk meanwhile.
        assert!(codec.decode(&mut buf).expect("prefix is valid").is_none());
        assert_eq!(codec.pending_len(), Some(16 + 0xFFFF_FFFF + 1));
        assert!(buf.capacity() <= 16 + RESERVE_CHUNK * 2);
    }

    #[test]
    fn bad_preamble_detected_on_first_byte() {
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::from(&b"X"[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(CodecError::BadPreamble { .. })
        ));
    }

    #[test]
    fn the_first_frame_sets_the_connections_framing() {
        let limits = FrameLimits {
            accept_text_framing: true,
            ..FrameLimits::default()
        };
        let text = unhex("4557502033203220342033320a70696e67000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        let binary = Frame::new(Protocol::Ping, &b"ping"[..], vec![0u8; 32])
            .to_bytes()
            .expect("encode");
        // Text first: text frames read, a binary one refused.
        let mut codec = FrameCodec::new(limits);
        assert_eq!(codec.framing(), None);
        let mut buf = BytesMut::from(&text[..]);
        buf.extend_from_slice(&text);
        assert!(codec.decode(&mut buf).expect("text").is_some());
        assert_eq!(codec.framing(), Some(Framing::Text));
        assert!(codec.decode(&mut buf).expect("text again").is_some());
        buf.extend_from_slice(&binary);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(CodecError::TextFraming { .. })
        ));
        // Binary first: a text frame after it is refused.
        let mut codec = FrameCodec::new(limits);
        let mut buf = BytesMut::from(&binary[..]);
        buf.extend_from_slice(&text);
        assert!(codec.decode(&mut buf).expect("binary").is_some());
        assert_eq!(codec.framing(), Some(Framing::Binary));
        assert!(matches!(
            codec.decode(&mut buf),
            Err(CodecError::TextFraming { .. })
        ));
    }

    #[test]
    fn text_framing_when_enabled() {
        let limits = FrameLimits {
            accept_text_framing: true,
            ..FrameLimits::default()
        };
        let mut wire = b"EWP 3 2 4 32\nping".to_vec();
        wire.extend(0u8..32);
        let frame = Frame::parse(&wire, limits).expect("text frame");
        assert_eq!(frame.protocol, Protocol::Ping);
        assert_eq!(&frame.header[..], b"ping");
        assert_eq!(frame.body.len(), 32);
        let err = Frame::parse(&wire, FrameLimits::default()).expect_err("disabled by default");
        assert!(matches!(err, CodecError::TextFraming { .. }));
        let old = b"EWP 0.2 RPC 5 5\nhellohello";
        assert!(Frame::parse(old, limits).is_err());
    }

    #[test]
    fn encoder_refuses_oversized_frames() {
        let limits = FrameLimits {
            max_body_len: 8,
            ..FrameLimits::default()
        };
        let mut codec = FrameCodec::new(limits);
        let mut buf = BytesMut::new();
        let frame = Frame::new(Protocol::Ping, &b"ping"[..], vec![0u8; 9]);
        assert!(matches!(
            codec.encode(&frame, &mut buf),
            Err(CodecError::BodyTooLarge { len: 9, max: 8 })
        ));
        assert!(buf.is_empty());
    }

    #[test]
    fn large_body_is_not_copied() {
        let frame = Frame::new(Protocol::Rpc, &b"h"[..], vec![0xabu8; 128 * 1024]);
        let mut buf = BytesMut::new();
        frame.write_to(&mut buf).expect("encode");
        let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
        let decoded = FrameCodec::default()
            .decode(&mut buf)
            .expect("ok")
            .expect("whole");
        let body_ptr = decoded.body.as_ptr() as usize;
        assert!(
            range.contains(&body_ptr),
            "body points into the receive buffer"
        );
        assert!(range.contains(&(body_ptr + decoded.body.len() - 1)));
    }
}
