//! Relay deviation codes: [`DeviationCode`] (a stable short code per way a peer departs from the
//! EWP v3 spec or the ETH raw-TCP dialect or from request/response discipline) and [`Deviation`] (a code with a one-line
//! explanation of this occurrence). Plain data; handles and sends no messages. The codes are listed
//! with their meaning in docs/PROTOCOL.md, "Relay deviation codes".

use std::fmt;

/// A way traffic departs from the spec, with a stable code for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviationCode {
    /// HELLO body is `{body: document}` (Artemis shape) instead of `{body: binary SSZ}`.
    HelloNestedDoc,
    /// HELLO body is a flat document with no `body` key (Prysm shape).
    HelloFlatDoc,
    /// A non-HELLO RPC body is `{body: document}` instead of `{body: binary SSZ}`.
    NestedDocBody,
    /// A non-HELLO RPC body is a flat document with no `body` key.
    FlatDocBody,
    /// A document body leaves out container fields (read as 0 / empty).
    MissingField,
    /// The RPC header `id` (spec uint64, written as int64) has another BSON type.
    IdType,
    /// The `method_id` (spec uint16, written as int32) has another BSON type.
    MethodIdType,
    /// Another integer field is not in the BSON type of its spec type.
    IntType,
    /// A hash or root is a hex string instead of 32 bytes of binary.
    HexHash,
    /// An RPC method id (or GOSSIP method id) the spec does not define.
    UnknownMethod,
    /// A response-only method with a request id no outstanding request of the other side has.
    UnmatchedResponse,
    /// A response to an outstanding request id carries a method other than the expected one.
    ResponseMethodMismatch,
    /// A request got no response within the request timeout.
    UnansweredRequest,
    /// A `ping` got no `pong` with the same body within the ping timeout.
    PingUnanswered,
    /// A `pong` that answers no outstanding `ping` of the other side (or echoes another body).
    UnsolicitedPong,
    /// A GOSSIP `message_hash` that is not SHA-256 of the body.
    MessageHash,
    /// An EWP version other than 3.
    Version,
    /// A header or body length above the frame limits; decoding of that direction stops.
    FrameTooLarge,
    /// Bytes that do not frame (bad preamble, unknown protocol byte); decoding of that direction
    /// stops.
    FramingError,
    /// Lodestar's 2019 text framing line instead of the binary prefix: decoded when the relay
    /// accepts text framing, otherwise decoding of that direction stops. Reported either way.
    TextFraming,
    /// A whole frame whose header or body does not decode as its protocol's message.
    BadMessage,
    /// A GOSSIP message (a `topic`, a non-BSON body) under a control verb's method id (1-4):
    /// another numbering of the gossip verbs (Tuweni's Plumtree put GOSSIP at 3).
    GossipNumbering,
    /// ETH: a message whose kind byte is neither 1 (request) nor 0 (response), or empty.
    EthKind,
    /// ETH: a count over a cap: a request above the spec's or the limits' caps (count > 32768,
    /// too many roots or hashes, a long user agent), or a response with more roots than `count`,
    /// more headers than `max_headers`, or not one body per root asked.
    EthCount,
    /// ETH: a request reusing the id of a request of the same sender still unanswered.
    EthIdReuse,
    /// ETH: a response code the spec does not define (below 1000 and not 0/10/20/30/40).
    EthResponseCode,
    /// ETH: a response code that is not the one the request earns.
    EthWrongCode,
    /// ETH: beacon_block_roots pairs not in ascending slot order.
    EthRootsOrder,
}

impl DeviationCode {
    /// Every code, in documentation order.
    pub const ALL: [DeviationCode; 28] = [
        Self::HelloNestedDoc,
        Self::HelloFlatDoc,
        Self::NestedDocBody,
        Self::FlatDocBody,
        Self::MissingField,
        Self::IdType,
        Self::MethodIdType,
        Self::IntType,
        Self::HexHash,
        Self::UnknownMethod,
        Self::UnmatchedResponse,
        Self::ResponseMethodMismatch,
        Self::UnansweredRequest,
        Self::PingUnanswered,
        Self::UnsolicitedPong,
        Self::MessageHash,
        Self::Version,
        Self::FrameTooLarge,
        Self::FramingError,
        Self::TextFraming,
        Self::BadMessage,
        Self::GossipNumbering,
        Self::EthKind,
        Self::EthCount,
        Self::EthIdReuse,
        Self::EthResponseCode,
        Self::EthWrongCode,
        Self::EthRootsOrder,
    ];

    /// The stable short code printed and counted (`HELLO_NESTED_DOC`, `ID_TYPE`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Self::HelloNestedDoc => "HELLO_NESTED_DOC",
            Self::HelloFlatDoc => "HELLO_FLAT_DOC",
            Self::NestedDocBody => "NESTED_DOC_BODY",
            Self::FlatDocBody => "FLAT_DOC_BODY",
            Self::MissingField => "MISSING_FIELD",
            Self::IdType => "ID_TYPE",
            Self::MethodIdType => "METHOD_ID_TYPE",
            Self::IntType => "INT_TYPE",
            Self::HexHash => "HEX_HASH",
            Self::UnknownMethod => "UNKNOWN_METHOD",
            Self::UnmatchedResponse => "UNMATCHED_RESPONSE",
            Self::ResponseMethodMismatch => "RESPONSE_METHOD_MISMATCH",
            Self::UnansweredRequest => "UNANSWERED_REQUEST",
            Self::PingUnanswered => "PING_UNANSWERED",
            Self::UnsolicitedPong => "UNSOLICITED_PONG",
            Self::MessageHash => "MESSAGE_HASH",
            Self::Version => "VERSION",
            Self::FrameTooLarge => "FRAME_TOO_LARGE",
            Self::FramingError => "FRAMING_ERROR",
            Self::TextFraming => "TEXT_FRAMING",
            Self::BadMessage => "BAD_MESSAGE",
            Self::GossipNumbering => "GOSSIP_NUMBERING",
            Self::EthKind => "ETH_KIND",
            Self::EthCount => "ETH_COUNT",
            Self::EthIdReuse => "ETH_ID_REUSE",
            Self::EthResponseCode => "ETH_RESPONSE_CODE",
            Self::EthWrongCode => "ETH_WRONG_CODE",
            Self::EthRootsOrder => "ETH_ROOTS_ORDER",
        }
    }

    /// Parses a code as printed.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// What the code means in general (the per-occurrence detail is in [`Deviation::detail`]).
    pub fn meaning(self) -> &'static str {
        match self {
            Self::HelloNestedDoc => {
                "HELLO body is {body: document} (Artemis 2019 shape), not {body: binary SSZ}"
            }
            Self::HelloFlatDoc => {
                "HELLO body is a flat document without `body` (Prysm 2019 shape), not {body: binary SSZ}"
            }
            Self::NestedDocBody => "RPC body is {body: document}, not {body: binary SSZ}",
            Self::FlatDocBody => "RPC body is a flat document without `body`, not {body: binary SSZ}",
            Self::MissingField => "document body leaves out container fields (read as 0 / empty)",
            Self::IdType => "RPC `id` (uint64) is not a BSON int64",
            Self::MethodIdType => "`method_id` (uint16) is not a BSON int32",
            Self::IntType => "integer field is not in the BSON type of its spec type",
            Self::HexHash => "hash is a \"0x...\" hex string, not 32 bytes of binary",
            Self::UnknownMethod => "method id is not one the spec defines",
            Self::UnmatchedResponse => "response matches no outstanding request of the other side",
            Self::ResponseMethodMismatch => "response to a request carries an unexpected method id",
            Self::UnansweredRequest => "request not answered within the request timeout",
            Self::PingUnanswered => "ping not answered by a pong within the ping timeout",
            Self::UnsolicitedPong => "pong answers no outstanding ping of the other side",
            Self::MessageHash => "GOSSIP message_hash is not SHA-256 of the body",
            Self::Version => "EWP version is not 3",
            Self::FrameTooLarge => "length above the frame limits; decoding of this direction stops",
            Self::FramingError => "bytes do not frame; decoding of this direction stops",
            Self::TextFraming => {
                "2019 text framing line `EWP 3 ...` instead of the binary prefix (decoded only with --accept-text-framing)"
            }
            Self::BadMessage => "frame does not decode as its protocol's message",
            Self::GossipNumbering => {
                "GOSSIP message under a control verb's method id (Tuweni's Plumtree numbering: GOSSIP at 3)"
            }
            Self::EthKind => "ETH message kind byte is neither 1 (request) nor 0 (response)",
            Self::EthCount => "ETH count over a cap, or a response with more items than asked",
            Self::EthIdReuse => "ETH request reuses the id of an outstanding request",
            Self::EthResponseCode => "ETH response code not defined by the spec",
            Self::EthWrongCode => "ETH response code is not the one the request earns",
            Self::EthRootsOrder => "ETH beacon_block_roots not in ascending slot order",
        }
    }
}

impl fmt::Display for DeviationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One occurrence of a deviation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deviation {
    /// Which deviation.
    pub code: DeviationCode,
    /// One line saying what was seen this time (field names, values, types).
    pub detail: String,
}

impl Deviation {
    /// A deviation with its detail.
    pub fn new(code: DeviationCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for code in DeviationCode::ALL {
            assert!(seen.insert(code.code()), "duplicate {code}");
            assert_eq!(DeviationCode::from_code(code.code()), Some(code));
            assert!(!code.meaning().is_empty());
        }
        assert_eq!(DeviationCode::from_code("NOPE"), None);
    }
}
