//! RPC (protocol 0): `RpcMethod`, `RequestId`, `RpcHeader`, `RpcBody`/`BodyShape`, `RpcEnvelope`
//! and the typed `RpcPayload` (each method's `hobbits_chain::rpc` container).
//!
//! Header BSON `{method_id, id}`; body BSON `{body: binary SSZ}` (spec), also read as
//! `{body: document}` (Artemis) and a flat document without `body` (Prysm); see docs/PROTOCOL.md.
//! Messages handled: all RPC methods, requests and responses; an unknown method id is a value
//! (`RpcMethod::Unknown`), not an error.
//!
//! Files: this one holds the method ids and the header; `body.rs` the body shapes and the envelope;
//! `payload.rs` the typed payloads and their decoding from every shape.

use bson::{Bson, Document};

use crate::bson_compat::{self, get_uint};
use crate::error::CodecError;

mod body;
mod payload;

pub use body::{BodyShape, RpcBody, RpcEnvelope};
pub use payload::{DecodedPayload, RpcPayload};

/// An RPC method id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RpcMethod {
    /// 0 HELLO (request and response).
    Hello,
    /// 1 GOODBYE (no response).
    Goodbye,
    /// 2 GET_STATUS (request and response).
    GetStatus,
    /// 10 GET_BLOCK_HEADERS.
    GetBlockHeaders,
    /// 11 BLOCK_HEADERS.
    BlockHeaders,
    /// 12 GET_BLOCK_BODIES.
    GetBlockBodies,
    /// 13 BLOCK_BODIES.
    BlockBodies,
    /// 14 GET_ATTESTATION.
    GetAttestation,
    /// 15 ATTESTATION.
    Attestation,
    /// 16 GET_BEACON_STATES (extension).
    GetBeaconStates,
    /// 17 BEACON_STATES (extension).
    BeaconStates,
    /// Any other id: carried, never fatal.
    Unknown(u16),
}

const KNOWN_METHODS: [RpcMethod; 11] = [
    RpcMethod::Hello,
    RpcMethod::Goodbye,
    RpcMethod::GetStatus,
    RpcMethod::GetBlockHeaders,
    RpcMethod::BlockHeaders,
    RpcMethod::GetBlockBodies,
    RpcMethod::BlockBodies,
    RpcMethod::GetAttestation,
    RpcMethod::Attestation,
    RpcMethod::GetBeaconStates,
    RpcMethod::BeaconStates,
];

impl RpcMethod {
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
            Self::GetBlockHeaders => 10,
            Self::BlockHeaders => 11,
            Self::GetBlockBodies => 12,
            Self::BlockBodies => 13,
            Self::GetAttestation => 14,
            Self::Attestation => 15,
            Self::GetBeaconStates => 16,
            Self::BeaconStates => 17,
            Self::Unknown(id) => id,
        }
    }

    /// The spec's name (`HELLO`, `GET_BLOCK_HEADERS`, ...; `UNKNOWN` for unknown ids).
    pub fn name(self) -> &'static str {
        match self {
            Self::Hello => "HELLO",
            Self::Goodbye => "GOODBYE",
            Self::GetStatus => "GET_STATUS",
            Self::GetBlockHeaders => "GET_BLOCK_HEADERS",
            Self::BlockHeaders => "BLOCK_HEADERS",
            Self::GetBlockBodies => "GET_BLOCK_BODIES",
            Self::BlockBodies => "BLOCK_BODIES",
            Self::GetAttestation => "GET_ATTESTATION",
            Self::Attestation => "ATTESTATION",
            Self::GetBeaconStates => "GET_BEACON_STATES",
            Self::BeaconStates => "BEACON_STATES",
            Self::Unknown(_) => "UNKNOWN",
        }
    }

    /// Parses a spec name (case-insensitive) of a known method.
    pub fn from_name(name: &str) -> Option<Self> {
        KNOWN_METHODS
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The method a response to this request carries (HELLO → HELLO, GET_BLOCK_HEADERS →
    /// BLOCK_HEADERS, ...); `None` for GOODBYE, responses and unknown ids.
    pub fn response(self) -> Option<Self> {
        match self {
            Self::Hello => Some(Self::Hello),
            Self::GetStatus => Some(Self::GetStatus),
            Self::GetBlockHeaders => Some(Self::BlockHeaders),
            Self::GetBlockBodies => Some(Self::BlockBodies),
            Self::GetAttestation => Some(Self::Attestation),
            Self::GetBeaconStates => Some(Self::BeaconStates),
            _ => None,
        }
    }
}

impl std::fmt::Display for RpcMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown(id) => write!(f, "UNKNOWN({id})"),
            m => write!(f, "{}({})", m.name(), m.id()),
        }
    }
}

/// The `id` of an RPC request, echoed by its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RequestId(pub u64);

/// The RPC header: method and request id, plus any other keys kept as received.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcHeader {
    /// `method_id`.
    pub method: RpcMethod,
    /// `id`.
    pub id: RequestId,
    /// Keys other than `method_id` and `id`, in received order (written after them).
    pub extra: Document,
}

impl RpcHeader {
    /// A header with no extra keys.
    pub fn new(method: RpcMethod, id: RequestId) -> Self {
        Self {
            method,
            id,
            extra: Document::new(),
        }
    }

    /// Reads a header document (tolerant integers; `method_id` must fit u16, `id` u64).
    pub fn from_document(mut doc: Document) -> Result<Self, CodecError> {
        let method = RpcMethod::from_id(get_uint(&doc, "method_id", u64::from(u16::MAX))? as u16);
        let id = RequestId(get_uint(&doc, "id", u64::MAX)?);
        doc.remove("method_id");
        doc.remove("id");
        Ok(Self {
            method,
            id,
            extra: doc,
        })
    }

    /// The header document as written: `method_id` int32, `id` int64, then the extra keys.
    pub fn to_document(&self) -> Result<Document, CodecError> {
        let mut doc = Document::new();
        doc.insert("method_id", Bson::Int32(i32::from(self.method.id())));
        doc.insert("id", bson_compat::int64(self.id.0, "RPC id")?);
        for (k, v) in &self.extra {
            if k != "method_id" && k != "id" {
                doc.insert(k.clone(), v.clone());
            }
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_ids_round_trip_and_unknown_is_a_value() {
        for id in 0..=20u16 {
            assert_eq!(RpcMethod::from_id(id).id(), id);
        }
        assert_eq!(RpcMethod::from_id(3), RpcMethod::Unknown(3));
        assert_eq!(
            RpcMethod::GetBlockHeaders.response(),
            Some(RpcMethod::BlockHeaders)
        );
        assert_eq!(RpcMethod::Hello.response(), Some(RpcMethod::Hello));
        assert_eq!(RpcMethod::Goodbye.response(), None);
        assert_eq!(
            RpcMethod::from_name("get_block_bodies"),
            Some(RpcMethod::GetBlockBodies)
        );
    }

    #[test]
    fn method_id_out_of_u16_range_is_typed_error() {
        let doc = bson::doc! { "method_id": 70000i32, "id": 1i64 };
        assert!(matches!(
            RpcHeader::from_document(doc),
            Err(CodecError::IntegerOutOfRange {
                field: "method_id",
                ..
            })
        ));
    }
}
