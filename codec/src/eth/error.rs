//! `EthError`: every way bytes of the ETH raw-TCP dialect can fail to become a message, and the
//! response code a request that failed earns (`reply`).
//!
//! Three families, told apart by their methods: framing errors ([`EthError::breaks_stream`]: bad
//! prefix, a length over the limit, I/O) leave the byte stream unsynchronised, so the connection
//! must close; request errors ([`EthError::response_code`] is `Some`: parse error 10, invalid
//! request 20, method not found 30) are answered with that code and the request's id; every other
//! error concerns one whole message whose boundaries are known and is not answered (a response is
//! never answered, so two peers cannot loop on each other's error responses).

use thiserror::Error;

use super::{EthMethod, EthResponse, ResponseCode};
use crate::rpc::RequestId;

/// Errors of the ETH dialect (`hobbits_codec::eth`).
#[derive(Debug, Error)]
pub enum EthError {
    // ---- framing: the stream cannot continue ----
    /// The first three bytes of a message are not `ETH` (0x455448).
    #[error("prefix is not ETH (455448): found {found:02x?}")]
    BadPrefix {
        /// The bytes found (fewer than three when the stream ended or the bytes differ early).
        found: Vec<u8>,
    },
    /// The length after the prefix exceeds the configured maximum.
    #[error("message length {len} exceeds the limit of {max} bytes")]
    MessageTooLarge {
        /// Declared (or, when encoding, actual) message length.
        len: u64,
        /// Configured maximum.
        max: u32,
    },
    /// A limit configuration is unusable.
    #[error("invalid ETH limits: {reason}")]
    InvalidLimits {
        /// What is wrong with the limits.
        reason: &'static str,
    },
    /// A buffer parsed as exactly one message ends before the message does.
    #[error("incomplete ETH message: {have} bytes present, {need} needed")]
    Incomplete {
        /// Bytes available.
        have: usize,
        /// Bytes the message needs (a lower bound while the prefix itself is incomplete).
        need: usize,
    },
    /// A buffer parsed as exactly one message continues after it.
    #[error("{extra} bytes follow the ETH message")]
    TrailingBytes {
        /// Number of bytes after the message.
        extra: usize,
    },
    /// An I/O error from the transport underneath the codec.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),

    // ---- one whole message is bad, the stream is intact ----
    /// The message is empty or its first byte is neither 1 (request) nor 0 (response): its id
    /// cannot be trusted, so it cannot be answered.
    #[error("message kind byte {found:?} is neither 1 (request) nor 0 (response)")]
    UnknownKind {
        /// The kind byte, `None` for an empty message.
        found: Option<u8>,
    },
    /// A request envelope `(id: uint64, method_id: uint16, body: bytes)` is not valid SSZ (too
    /// short, or its body offset is not 14). Answered with 10 when the id could be read.
    #[error("malformed request envelope: {reason}")]
    MalformedRequest {
        /// The id, when the first 8 bytes were present.
        id: Option<RequestId>,
        /// What is wrong.
        reason: String,
    },
    /// A response envelope `(id: uint64, response_code: uint16, result: bytes)` is not valid SSZ.
    #[error("malformed response envelope: {reason}")]
    MalformedResponse {
        /// The id, when the first 8 bytes were present.
        id: Option<RequestId>,
        /// What is wrong.
        reason: String,
    },
    /// A request names a method id this dialect does not define. Answered with 30.
    #[error("method id {method_id} is not an ETH method (request id {})", id.0)]
    UnknownMethod {
        /// The request id.
        id: RequestId,
        /// The method id received.
        method_id: u16,
    },
    /// A request body does not decode as its method's SSZ container. Answered with 10.
    #[error("{method} request body is not valid SSZ: {reason}")]
    BadRequestBody {
        /// The request id.
        id: RequestId,
        /// The method.
        method: EthMethod,
        /// The SSZ decoder's message.
        reason: String,
    },
    /// A request body is valid SSZ but breaks a rule (e.g. `count` above 32768, more block roots
    /// than the limit). Answered with 20.
    #[error("invalid {method} request: {reason}")]
    InvalidRequest {
        /// The request id.
        id: RequestId,
        /// The method.
        method: EthMethod,
        /// The rule broken.
        reason: String,
    },
    /// A success result does not decode as its method's response container.
    #[error("{method} response result is not valid SSZ: {reason}")]
    BadResponseBody {
        /// The response id.
        id: RequestId,
        /// The method of the request it answers.
        method: EthMethod,
        /// The SSZ decoder's message.
        reason: String,
    },
    /// A success result is valid SSZ but breaks a rule (e.g. roots not in ascending slot order,
    /// more items than the limit).
    #[error("invalid {method} response: {reason}")]
    InvalidResponse {
        /// The response id.
        id: RequestId,
        /// The method of the request it answers.
        method: EthMethod,
        /// The rule broken.
        reason: String,
    },
    /// A typed result was asked of a response that carries an error code.
    #[error("response {} is an error: {code} {message:?}", id.0)]
    ErrorResponse {
        /// The response id.
        id: RequestId,
        /// The code received.
        code: ResponseCode,
        /// The result read as text (lossy UTF-8), the spec's "additional information".
        message: String,
    },
    /// A typed result was asked for a method whose response has no defined container (goodbye
    /// has no response; beacon_chain_state's is TBD in the spec) or for an unknown method.
    #[error("{method} has no response container")]
    NoResponseContainer {
        /// The method.
        method: EthMethod,
    },
    /// A value could not be written (a list longer than its limit).
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

impl EthError {
    /// True when the error leaves the byte stream unsynchronised (prefix, length, I/O): the
    /// connection must be closed. False for errors confined to one whole message.
    pub fn breaks_stream(&self) -> bool {
        matches!(
            self,
            Self::BadPrefix { .. }
                | Self::MessageTooLarge { .. }
                | Self::Incomplete { .. }
                | Self::TrailingBytes { .. }
                | Self::Io(_)
        )
    }

    /// The response code a request that failed this way earns: 10 parse error (a malformed
    /// envelope whose id was read, a body that is not the method's SSZ), 20 invalid request, 30
    /// method not found. `None` for everything else, which is not answered.
    pub fn response_code(&self) -> Option<ResponseCode> {
        match self {
            Self::MalformedRequest { id: Some(_), .. } | Self::BadRequestBody { .. } => {
                Some(ResponseCode::ParseError)
            }
            Self::InvalidRequest { .. } => Some(ResponseCode::InvalidRequest),
            Self::UnknownMethod { .. } => Some(ResponseCode::MethodNotFound),
            _ => None,
        }
    }

    /// The request or response id the error is about, when it was read.
    pub fn request_id(&self) -> Option<RequestId> {
        match self {
            Self::MalformedRequest { id, .. } | Self::MalformedResponse { id, .. } => *id,
            Self::UnknownMethod { id, .. }
            | Self::BadRequestBody { id, .. }
            | Self::InvalidRequest { id, .. }
            | Self::BadResponseBody { id, .. }
            | Self::InvalidResponse { id, .. }
            | Self::ErrorResponse { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// The error response to send for a request that failed this way (its id, the code of
    /// [`EthError::response_code`], this error's text as the result), or `None` when the error
    /// must not be answered.
    pub fn reply(&self) -> Option<EthResponse> {
        let code = self.response_code()?;
        let id = self.request_id()?;
        Some(EthResponse::error(id, code, &self.to_string()))
    }
}
