//! `CodecError`: every way bytes from a peer can fail to become a frame or a typed message.
//!
//! Two families, told apart by [`CodecError::breaks_stream`]: frame errors (bad preamble, version,
//! protocol byte, lengths) leave the byte stream unsynchronised, so the connection must close;
//! message errors (BSON, missing or mistyped fields, SSZ) concern one whole frame whose boundaries are
//! known, so a session may drop that frame and keep the connection.

use thiserror::Error;

/// Errors of the hobbits-codec crate.
#[derive(Debug, Error)]
pub enum CodecError {
    // ---- frame layer: the stream cannot continue ----
    /// The first three bytes are not `EWP`.
    #[error("preamble is not EWP: found {found:02x?}")]
    BadPreamble {
        /// The three bytes found.
        found: [u8; 3],
    },
    /// The version is not the one this node speaks (and other versions are not accepted).
    #[error("EWP version {version} is not supported (expected {expected})")]
    UnsupportedVersion {
        /// The version read from the frame.
        version: u32,
        /// The version this node speaks.
        expected: u32,
    },
    /// Text framing (`EWP 3 2 4 32\n`) was received while it is not accepted, or its line is malformed.
    #[error("text framing is not accepted or malformed: {reason}")]
    TextFraming {
        /// What was wrong.
        reason: &'static str,
    },
    /// The protocol byte is not 0 (RPC), 1 (GOSSIP) or 2 (PING).
    #[error("protocol byte {byte} is unknown (expected 0 RPC, 1 GOSSIP or 2 PING)")]
    UnknownProtocol {
        /// The byte read.
        byte: u8,
    },
    /// The header length exceeds the configured maximum.
    #[error("header length {len} exceeds the limit of {max} bytes")]
    HeaderTooLarge {
        /// Declared (or, when encoding, actual) header length.
        len: u64,
        /// Configured maximum.
        max: u32,
    },
    /// The body length exceeds the configured maximum.
    #[error("body length {len} exceeds the limit of {max} bytes")]
    BodyTooLarge {
        /// Declared (or, when encoding, actual) body length.
        len: u64,
        /// Configured maximum.
        max: u32,
    },
    /// A frame limit configuration is unusable.
    #[error("invalid frame limits: {reason}")]
    InvalidLimits {
        /// What is wrong with the limits.
        reason: &'static str,
    },
    /// A buffer parsed as exactly one frame ends before the frame does.
    #[error("incomplete frame: {have} bytes present, {need} needed")]
    Incomplete {
        /// Bytes available.
        have: usize,
        /// Bytes the frame needs (a lower bound while the prefix itself is incomplete).
        need: usize,
    },
    /// A buffer parsed as exactly one frame continues after it.
    #[error("{extra} bytes follow the frame")]
    TrailingBytes {
        /// Number of bytes after the frame.
        extra: usize,
    },
    /// An I/O error from the transport underneath the codec.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),

    // ---- message layer: one frame is bad, the stream is intact ----
    /// A header or body that must be BSON is not a well-formed BSON document.
    #[error("{part} is not a valid BSON document: {reason}")]
    InvalidBson {
        /// `"header"` or `"body"` (or a nested field name).
        part: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// A BSON document nests deeper than the codec allows.
    #[error("{part} nests BSON documents deeper than {max} levels")]
    BsonTooDeep {
        /// `"header"` or `"body"`.
        part: &'static str,
        /// The depth limit.
        max: usize,
    },
    /// A required field is absent.
    #[error("field `{field}` is missing")]
    MissingField {
        /// Field name.
        field: &'static str,
    },
    /// A field has a BSON type the codec cannot read as the expected kind.
    #[error("field `{field}` has BSON type {found}, expected {expected}")]
    WrongType {
        /// Field name.
        field: &'static str,
        /// What the field should hold.
        expected: &'static str,
        /// The BSON element type found.
        found: String,
    },
    /// An integer field is negative, fractional, not finite or too large for its type.
    #[error("field `{field}` value {value} is not an integer in 0..={max}")]
    IntegerOutOfRange {
        /// Field name.
        field: &'static str,
        /// The value as read (rendered as text).
        value: String,
        /// The largest allowed value.
        max: u64,
    },
    /// A hash/root field does not hold exactly 32 bytes.
    #[error("field `{field}` must hold 32 bytes, found {len}")]
    WrongHashLength {
        /// Field name.
        field: &'static str,
        /// Byte length found.
        len: usize,
    },
    /// A hash given as a string is not valid hex.
    #[error("field `{field}` is not valid hex: {reason}")]
    BadHex {
        /// Field name.
        field: &'static str,
        /// The hex decoder's message.
        reason: String,
    },
    /// A gossip topic other than `BLOCK` or `ATTESTATION`.
    #[error("gossip topic {topic:?} is unknown (expected BLOCK or ATTESTATION)")]
    UnknownTopic {
        /// The topic string received.
        topic: String,
    },
    /// A PING frame whose header is neither `ping` nor `pong`.
    #[error("PING header {header:02x?} is neither `ping` nor `pong`")]
    UnknownPingHeader {
        /// The header bytes (at most the first 16).
        header: Vec<u8>,
    },
    /// The frame's protocol is not the one the caller expected.
    #[error("frame protocol is {found}, expected {expected}")]
    WrongProtocol {
        /// Expected protocol name.
        expected: &'static str,
        /// Found protocol name.
        found: &'static str,
    },
    /// An SSZ payload does not decode into the method's container.
    #[error("SSZ payload of {method} does not decode: {reason}")]
    BadSsz {
        /// The method (or gossip topic) name.
        method: String,
        /// The SSZ decoder's message.
        reason: String,
    },
    /// The body's shape cannot be read as a typed payload of this method.
    #[error("{method} body in shape {shape} cannot be decoded into a typed payload")]
    UnsupportedBodyShape {
        /// The method name.
        method: String,
        /// The body shape seen.
        shape: &'static str,
    },
    /// A typed payload was paired with a method it does not belong to, or the method is unknown.
    #[error("payload does not belong to method {method}")]
    PayloadMismatch {
        /// The method name.
        method: String,
    },
    /// JSON given to a tool does not describe a frame.
    #[error("JSON field `{field}`: {reason}")]
    InvalidJson {
        /// The field at fault.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A value could not be written (e.g. a list longer than its SSZ limit, a BSON key with NUL).
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

impl CodecError {
    /// True when the error leaves the byte stream unsynchronised (a frame-layer error or I/O):
    /// the connection must be closed. False for errors confined to one whole frame.
    pub fn breaks_stream(&self) -> bool {
        matches!(
            self,
            Self::BadPreamble { .. }
                | Self::UnsupportedVersion { .. }
                | Self::TextFraming { .. }
                | Self::UnknownProtocol { .. }
                | Self::HeaderTooLarge { .. }
                | Self::BodyTooLarge { .. }
                | Self::Incomplete { .. }
                | Self::TrailingBytes { .. }
                | Self::Io(_)
        )
    }
}
