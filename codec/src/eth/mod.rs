//! The ETH raw-TCP dialect of the eth2 RPC interface v0.8.1 (the spec's "alternative for
//! non-libp2p clients", port 9000): method ids ([`EthMethod`]), response codes ([`ResponseCode`])
//! and the layers below. No runtime, no actix.
//!
//! On the wire (positions in docs/PROTOCOL.md, "The ETH raw-TCP dialect"):
//! `"ETH" | u32 LE length | kind (1 request, 0 response) | SSZ envelope`, where the envelope is
//! `(id: uint64, method_id: uint16, body: bytes)` for a request and `(id: uint64, response_code:
//! uint16, result: bytes)` for a response; `body` and a success `result` hold the SSZ of the
//! method's container.
//!
//! Files: `frame.rs` ([`EthFrame`], [`EthLimits`], the tokio-util [`EthCodec`]); `message.rs` (the
//! envelopes: [`EthMessage`], [`EthRequest`], [`EthResponse`]); `methods.rs` (each method's
//! containers and the typed [`EthRequestBody`] / [`EthResponseBody`]); `error.rs` ([`EthError`]);
//! `json.rs` (the JSON view for `hobbits-node decode`). Messages handled: every method of the spec,
//! requests and responses; an unknown method id is a value ([`EthMethod::Unknown`]) until its body
//! is asked for (then [`EthError::UnknownMethod`], answered with 30).

mod error;
mod frame;
pub mod json;
mod message;
mod methods;

pub use error::EthError;
pub use frame::{
    EthCodec, EthFrame, EthLimits, DEFAULT_MAX_BODIES_PER_REQUEST, DEFAULT_MAX_MESSAGE_LEN,
    DEFAULT_MAX_STATE_HASHES, DEFAULT_MAX_USER_AGENT_LEN, ETH_PREFIX, ETH_PREFIX_LEN,
    MIN_MAX_MESSAGE_LEN,
};
pub use message::{
    EthMessage, EthRequest, EthResponse, MessageKind, ENVELOPE_FIXED_LEN, MIN_MESSAGE_LEN,
};
pub use methods::{
    BlockBodiesRequest, BlockBodiesResponse, BlockHeadersRequest, BlockRootSlot, BlockRootsRequest,
    BlockRootsResponse, ChainStateRequest, EthHello, EthRequestBody, EthResponseBody, EthStatus,
    CHAIN_STATE_NOT_SERVED, MAX_BLOCK_ROOTS_COUNT,
};

/// The TCP port the spec names for the raw-TCP option.
pub const ETH_DEFAULT_PORT: u16 = 9000;

/// A method of the eth2 RPC interface v0.8.1 (the `method_id` of a request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EthMethod {
    /// 0 `hello`: the two-phase handshake; answered by the receiver's own hello.
    Hello,
    /// 1 `goodbye`: sent before disconnecting; never answered.
    Goodbye,
    /// 2 `get_status`: metadata (`sha`, `user_agent`, `timestamp`) both ways.
    GetStatus,
    /// 10 `beacon_block_roots`: `(start_slot, count)` → ascending `(block_root, slot)` pairs.
    BeaconBlockRoots,
    /// 11 `beacon_block_headers`: `(start_root, start_slot, max_headers, skip_slots)` → headers.
    BeaconBlockHeaders,
    /// 12 `beacon_block_bodies`: `block_roots` → bodies in request order.
    BeaconBlockBodies,
    /// 13 `beacon_chain_state`: `hashes` → TBD in the spec (answered with
    /// [`CHAIN_STATE_NOT_SERVED`]).
    BeaconChainState,
    /// Any other id: carried as a value, answered with 30.
    Unknown(u16),
}

const KNOWN_METHODS: [EthMethod; 7] = [
    EthMethod::Hello,
    EthMethod::Goodbye,
    EthMethod::GetStatus,
    EthMethod::BeaconBlockRoots,
    EthMethod::BeaconBlockHeaders,
    EthMethod::BeaconBlockBodies,
    EthMethod::BeaconChainState,
];

impl EthMethod {
    /// Every method the spec defines, in id order.
    pub const ALL: [EthMethod; 7] = KNOWN_METHODS;

    /// The method of a wire id.
    pub fn from_id(id: u16) -> Self {
        KNOWN_METHODS
            .into_iter()
            .find(|m| m.id() == id)
            .unwrap_or(Self::Unknown(id))
    }

    /// The wire id.
    pub fn id(self) -> u16 {
        match self {
            Self::Hello => 0,
            Self::Goodbye => 1,
            Self::GetStatus => 2,
            Self::BeaconBlockRoots => 10,
            Self::BeaconBlockHeaders => 11,
            Self::BeaconBlockBodies => 12,
            Self::BeaconChainState => 13,
            Self::Unknown(id) => id,
        }
    }

    /// The spec's name (`hello`, `beacon_block_roots`, ...; `unknown` for other ids).
    pub fn name(self) -> &'static str {
        match self {
            Self::Hello => "hello",
            Self::Goodbye => "goodbye",
            Self::GetStatus => "get_status",
            Self::BeaconBlockRoots => "beacon_block_roots",
            Self::BeaconBlockHeaders => "beacon_block_headers",
            Self::BeaconBlockBodies => "beacon_block_bodies",
            Self::BeaconChainState => "beacon_chain_state",
            Self::Unknown(_) => "unknown",
        }
    }

    /// Parses a spec name (case-insensitive) or a decimal id.
    pub fn from_name(name: &str) -> Option<Self> {
        if let Ok(id) = name.parse::<u16>() {
            return Some(Self::from_id(id));
        }
        KNOWN_METHODS
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// True when a request of this method expects a response (all known methods but goodbye).
    pub fn expects_response(self) -> bool {
        !matches!(self, Self::Goodbye | Self::Unknown(_))
    }
}

impl std::fmt::Display for EthMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.name(), self.id())
    }
}

/// The `response_code` of a response. Unknown codes are kept: [`ResponseCode::Reserved`] below
/// 1000 (the spec reserves the first 1000 values for system use), [`ResponseCode::Application`]
/// from 1000 on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseCode {
    /// 0: no error; `result` holds the method's response container.
    Success,
    /// 10: parse error (the request or its body is not valid SSZ).
    ParseError,
    /// 20: invalid request (valid SSZ that breaks a rule, e.g. `count` above 32768).
    InvalidRequest,
    /// 30: method not found (an unknown method id, or a method this node does not serve).
    MethodNotFound,
    /// 40: server error (the request was valid and could not be served).
    ServerError,
    /// Another code below 1000: reserved for system use by the spec, not defined by it.
    Reserved(u16),
    /// A code of 1000 or more: left to applications.
    Application(u16),
}

/// First code left to applications (the spec reserves 0..1000).
pub const FIRST_APPLICATION_CODE: u16 = 1000;

impl ResponseCode {
    /// The code of a wire value.
    pub fn from_u16(code: u16) -> Self {
        match code {
            0 => Self::Success,
            10 => Self::ParseError,
            20 => Self::InvalidRequest,
            30 => Self::MethodNotFound,
            40 => Self::ServerError,
            c if c < FIRST_APPLICATION_CODE => Self::Reserved(c),
            c => Self::Application(c),
        }
    }

    /// The wire value.
    pub fn as_u16(self) -> u16 {
        match self {
            Self::Success => 0,
            Self::ParseError => 10,
            Self::InvalidRequest => 20,
            Self::MethodNotFound => 30,
            Self::ServerError => 40,
            Self::Reserved(c) | Self::Application(c) => c,
        }
    }

    /// A stable name (`success`, `parse_error`, `invalid_request`, `method_not_found`,
    /// `server_error`, `reserved`, `application`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::ParseError => "parse_error",
            Self::InvalidRequest => "invalid_request",
            Self::MethodNotFound => "method_not_found",
            Self::ServerError => "server_error",
            Self::Reserved(_) => "reserved",
            Self::Application(_) => "application",
        }
    }

    /// True for 0.
    pub fn is_success(self) -> bool {
        self == Self::Success
    }
}

impl std::fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.name(), self.as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_ids_match_the_spec_and_unknown_is_a_value() {
        let ids: Vec<u16> = EthMethod::ALL.iter().map(|m| m.id()).collect();
        assert_eq!(ids, [0, 1, 2, 10, 11, 12, 13]);
        for id in 0..=40u16 {
            assert_eq!(EthMethod::from_id(id).id(), id);
        }
        assert_eq!(EthMethod::from_id(3), EthMethod::Unknown(3));
        assert_eq!(EthMethod::from_id(14), EthMethod::Unknown(14));
        assert_eq!(
            EthMethod::from_name("BEACON_BLOCK_ROOTS"),
            Some(EthMethod::BeaconBlockRoots)
        );
        assert_eq!(
            EthMethod::from_name("12"),
            Some(EthMethod::BeaconBlockBodies)
        );
        assert_eq!(EthMethod::from_name("nope"), None);
        assert!(!EthMethod::Goodbye.expects_response());
        assert!(EthMethod::BeaconChainState.expects_response());
    }

    #[test]
    fn response_codes_keep_unknown_values() {
        for code in [0u16, 10, 20, 30, 40, 1, 999, 1000, 65535] {
            assert_eq!(ResponseCode::from_u16(code).as_u16(), code);
        }
        assert_eq!(ResponseCode::from_u16(999), ResponseCode::Reserved(999));
        assert_eq!(
            ResponseCode::from_u16(1000),
            ResponseCode::Application(1000)
        );
        assert_eq!(
            ResponseCode::from_u16(30).to_string(),
            "method_not_found(30)"
        );
        assert!(ResponseCode::Success.is_success());
        assert!(!ResponseCode::ServerError.is_success());
    }
}
