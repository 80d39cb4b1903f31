//! RPC (protocol 0): `RpcMethod`, `RequestId`, `RpcHeader`, `RpcBody`/`BodyShape`, `RpcEnvelope`
//! and the typed `RpcPayload` (each method's `hobbits_chain::rpc` container).
//!
//! Header BSON `{method_id, id}`; body BSON `{body: binary SSZ}` (spec), also read as
//! `{body: document}` (Artemis) and a flat document without `body` (Prysm); see docs/PROTOCOL.md.
//! Messages handled: all RPC methods, requests and responses; an unknown method id is a value
//! (`RpcMethod::Unknown`), not an error.

use bson::raw::RawBsonRef;
use bson::spec::BinarySubtype;
use bson::{Bson, Document};
use bytes::Bytes;
use hobbits_chain::rpc::{
    AttestationResponse, BeaconStates, BlockBodies, BlockHeaders, GetAttestation, GetBeaconStates,
    GetBlockBodies, GetBlockHeaders, GetStatus, Goodbye, Hello,
};
use hobbits_chain::{Epoch, Root, Slot};
use ssz::{Decode, Encode};

use crate::bson_compat::{self, get_hash, get_uint, get_uint_opt, read_bytes};
use crate::error::CodecError;
use crate::frame::{Frame, Protocol};

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

/// Which of the 2019 body shapes an RPC body had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyShape {
    /// `{body: binary}` holding SSZ: the spec's shape, the one this node writes.
    SpecSsz,
    /// `{body: document}` with the container's fields by name (Artemis).
    NestedDocument,
    /// The container's fields by name at the top level, no `body` key (Prysm).
    FlatDocument,
    /// A zero-length body.
    Empty,
}

impl BodyShape {
    /// A stable name (`SpecSsz`, `NestedDocument`, `FlatDocument`, `Empty`).
    pub fn name(self) -> &'static str {
        match self {
            Self::SpecSsz => "SpecSsz",
            Self::NestedDocument => "NestedDocument",
            Self::FlatDocument => "FlatDocument",
            Self::Empty => "Empty",
        }
    }
}

/// An RPC body as received, before typed decoding.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcBody {
    /// SSZ bytes from `{body: binary}` (a zero-copy slice of the frame body when decoded).
    Ssz(Bytes),
    /// The document under `body`.
    NestedDocument(Document),
    /// The whole body document (no `body` key).
    FlatDocument(Document),
    /// No body bytes at all.
    Empty,
}

impl RpcBody {
    /// The shape of this body.
    pub fn shape(&self) -> BodyShape {
        match self {
            Self::Ssz(_) => BodyShape::SpecSsz,
            Self::NestedDocument(_) => BodyShape::NestedDocument,
            Self::FlatDocument(_) => BodyShape::FlatDocument,
            Self::Empty => BodyShape::Empty,
        }
    }

    /// Reads a frame body. `body` binary is sliced out of `bytes` without copying.
    pub fn from_bytes(bytes: &Bytes) -> Result<Self, CodecError> {
        if bytes.is_empty() {
            return Ok(Self::Empty);
        }
        let raw = bson_compat::raw_document(bytes, "body")?;
        let invalid = |e: bson::error::Error| CodecError::InvalidBson {
            part: "body",
            reason: e.to_string(),
        };
        match raw.get("body").map_err(invalid)? {
            Some(RawBsonRef::Binary(bin))
                if matches!(
                    bin.subtype,
                    BinarySubtype::Generic | BinarySubtype::BinaryOld
                ) =>
            {
                Ok(Self::Ssz(bytes.slice_ref(bin.bytes)))
            }
            Some(RawBsonRef::Document(_)) => {
                let mut doc = bson_compat::parse_document(bytes, "body")?;
                match doc.remove("body") {
                    Some(Bson::Document(inner)) => Ok(Self::NestedDocument(inner)),
                    _ => Err(CodecError::InvalidBson {
                        part: "body",
                        reason: "`body` changed type while parsing".into(),
                    }),
                }
            }
            Some(other) => Err(CodecError::WrongType {
                field: "body",
                expected: "binary SSZ or a document",
                found: format!("{:?}", other.element_type()),
            }),
            None => Ok(Self::FlatDocument(bson_compat::parse_document(
                bytes, "body",
            )?)),
        }
    }

    /// Writes the body in its own shape (`Ssz` as `{body: binary subtype 0}`).
    pub fn to_bytes(&self) -> Result<Vec<u8>, CodecError> {
        match self {
            Self::Ssz(ssz) => {
                let mut doc = Document::new();
                doc.insert("body", bson_compat::binary(ssz.to_vec()));
                bson_compat::write_document(&doc, "RPC body")
            }
            Self::NestedDocument(inner) => {
                let mut doc = Document::new();
                doc.insert("body", inner.clone());
                bson_compat::write_document(&doc, "RPC body")
            }
            Self::FlatDocument(doc) => bson_compat::write_document(doc, "RPC body"),
            Self::Empty => Ok(Vec::new()),
        }
    }
}

/// One RPC frame: header and (undecoded) body.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcEnvelope {
    /// Method, request id, extra keys.
    pub header: RpcHeader,
    /// The body as received or to be written.
    pub body: RpcBody,
}

impl RpcEnvelope {
    /// A spec-shaped envelope carrying `payload` (the method is the payload's).
    pub fn new(id: RequestId, payload: &RpcPayload) -> Self {
        Self {
            header: RpcHeader::new(payload.method(), id),
            body: RpcBody::Ssz(Bytes::from(payload.to_ssz())),
        }
    }

    /// Reads an RPC frame (header must be BSON with `method_id` and `id`).
    pub fn from_frame(frame: &Frame) -> Result<Self, CodecError> {
        if frame.protocol != Protocol::Rpc {
            return Err(CodecError::WrongProtocol {
                expected: "RPC",
                found: frame.protocol.name(),
            });
        }
        let header =
            RpcHeader::from_document(bson_compat::parse_document(&frame.header, "header")?)?;
        let body = RpcBody::from_bytes(&frame.body)?;
        Ok(Self { header, body })
    }

    /// The frame (version 3) for this envelope.
    pub fn to_frame(&self) -> Result<Frame, CodecError> {
        let header = bson_compat::write_document(&self.header.to_document()?, "RPC header")?;
        Ok(Frame::new(Protocol::Rpc, header, self.body.to_bytes()?))
    }

    /// Decodes the body into the method's container, whatever its shape.
    pub fn decode_payload(&self) -> Result<DecodedPayload, CodecError> {
        DecodedPayload::decode(self.header.method, &self.body)
    }
}

/// The typed payload of an RPC method.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // payloads are built once per frame; boxing buys nothing here
pub enum RpcPayload {
    /// 0 HELLO.
    Hello(Hello),
    /// 1 GOODBYE.
    Goodbye(Goodbye),
    /// 2 GET_STATUS.
    GetStatus(GetStatus),
    /// 10 GET_BLOCK_HEADERS.
    GetBlockHeaders(GetBlockHeaders),
    /// 11 BLOCK_HEADERS.
    BlockHeaders(BlockHeaders),
    /// 12 GET_BLOCK_BODIES.
    GetBlockBodies(GetBlockBodies),
    /// 13 BLOCK_BODIES.
    BlockBodies(BlockBodies),
    /// 14 GET_ATTESTATION.
    GetAttestation(GetAttestation),
    /// 15 ATTESTATION.
    Attestation(AttestationResponse),
    /// 16 GET_BEACON_STATES.
    GetBeaconStates(GetBeaconStates),
    /// 17 BEACON_STATES.
    BeaconStates(BeaconStates),
}

impl RpcPayload {
    /// The method this payload belongs to.
    pub fn method(&self) -> RpcMethod {
        match self {
            Self::Hello(_) => RpcMethod::Hello,
            Self::Goodbye(_) => RpcMethod::Goodbye,
            Self::GetStatus(_) => RpcMethod::GetStatus,
            Self::GetBlockHeaders(_) => RpcMethod::GetBlockHeaders,
            Self::BlockHeaders(_) => RpcMethod::BlockHeaders,
            Self::GetBlockBodies(_) => RpcMethod::GetBlockBodies,
            Self::BlockBodies(_) => RpcMethod::BlockBodies,
            Self::GetAttestation(_) => RpcMethod::GetAttestation,
            Self::Attestation(_) => RpcMethod::Attestation,
            Self::GetBeaconStates(_) => RpcMethod::GetBeaconStates,
            Self::BeaconStates(_) => RpcMethod::BeaconStates,
        }
    }

    /// The SSZ encoding of the container.
    pub fn to_ssz(&self) -> Vec<u8> {
        match self {
            Self::Hello(p) => p.as_ssz_bytes(),
            Self::Goodbye(p) => p.as_ssz_bytes(),
            Self::GetStatus(p) => p.as_ssz_bytes(),
            Self::GetBlockHeaders(p) => p.as_ssz_bytes(),
            Self::BlockHeaders(p) => p.as_ssz_bytes(),
            Self::GetBlockBodies(p) => p.as_ssz_bytes(),
            Self::BlockBodies(p) => p.as_ssz_bytes(),
            Self::GetAttestation(p) => p.as_ssz_bytes(),
            Self::Attestation(p) => p.as_ssz_bytes(),
            Self::GetBeaconStates(p) => p.as_ssz_bytes(),
            Self::BeaconStates(p) => p.as_ssz_bytes(),
        }
    }

    /// Decodes SSZ bytes as `method`'s container.
    pub fn from_ssz(method: RpcMethod, bytes: &[u8]) -> Result<Self, CodecError> {
        fn ssz<T: Decode>(method: RpcMethod, bytes: &[u8]) -> Result<T, CodecError> {
            T::from_ssz_bytes(bytes).map_err(|e| CodecError::BadSsz {
                method: method.to_string(),
                reason: format!("{e:?}"),
            })
        }
        Ok(match method {
            RpcMethod::Hello => Self::Hello(ssz(method, bytes)?),
            RpcMethod::Goodbye => Self::Goodbye(ssz(method, bytes)?),
            RpcMethod::GetStatus => Self::GetStatus(ssz(method, bytes)?),
            RpcMethod::GetBlockHeaders => Self::GetBlockHeaders(ssz(method, bytes)?),
            RpcMethod::BlockHeaders => Self::BlockHeaders(ssz(method, bytes)?),
            RpcMethod::GetBlockBodies => Self::GetBlockBodies(ssz(method, bytes)?),
            RpcMethod::BlockBodies => Self::BlockBodies(ssz(method, bytes)?),
            RpcMethod::GetAttestation => Self::GetAttestation(ssz(method, bytes)?),
            RpcMethod::Attestation => Self::Attestation(ssz(method, bytes)?),
            RpcMethod::GetBeaconStates => Self::GetBeaconStates(ssz(method, bytes)?),
            RpcMethod::BeaconStates => Self::BeaconStates(ssz(method, bytes)?),
            RpcMethod::Unknown(_) => {
                return Err(CodecError::PayloadMismatch {
                    method: method.to_string(),
                })
            }
        })
    }
}

/// A typed payload and how it was found: the body shape, fields filled with a default because the
/// sender left them out, and fields the sender added that the container does not have.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedPayload {
    /// The container.
    pub payload: RpcPayload,
    /// The body shape it came in.
    pub shape: BodyShape,
    /// Fields absent from a document body and set to 0 / empty (e.g. Prysm's HELLO has no
    /// `network_id` and `chain_id`).
    pub defaulted: Vec<&'static str>,
    /// Keys of a document body that the container does not have (e.g. Prysm's `node_id`).
    pub ignored: Vec<String>,
}

impl DecodedPayload {
    /// Decodes `body` as `method`'s container. SSZ for the spec shape; field names for document
    /// shapes of HELLO, GOODBYE, GET_STATUS, GET_BLOCK_HEADERS, GET_BLOCK_BODIES and GET_ATTESTATION.
    pub fn decode(method: RpcMethod, body: &RpcBody) -> Result<Self, CodecError> {
        let doc = match body {
            RpcBody::Ssz(bytes) => {
                return Ok(Self {
                    payload: RpcPayload::from_ssz(method, bytes)?,
                    shape: BodyShape::SpecSsz,
                    defaulted: Vec::new(),
                    ignored: Vec::new(),
                })
            }
            RpcBody::NestedDocument(doc) | RpcBody::FlatDocument(doc) => doc,
            RpcBody::Empty => {
                return Err(CodecError::MissingField { field: "body" });
            }
        };
        let mut out = Self {
            payload: RpcPayload::Goodbye(Goodbye::default()),
            shape: body.shape(),
            defaulted: Vec::new(),
            ignored: Vec::new(),
        };
        let mut opt = |field: &'static str, max: u64| -> Result<u64, CodecError> {
            Ok(get_uint_opt(doc, field, max)?.unwrap_or_else(|| {
                out.defaulted.push(field);
                0
            }))
        };
        let (payload, fields): (RpcPayload, &[&str]) = match method {
            RpcMethod::Hello => (
                RpcPayload::Hello(Hello {
                    network_id: opt("network_id", u8::MAX.into())? as u8,
                    chain_id: opt("chain_id", u8::MAX.into())? as u8,
                    latest_finalized_root: Root(get_hash(doc, "latest_finalized_root")?),
                    latest_finalized_epoch: Epoch(get_uint(
                        doc,
                        "latest_finalized_epoch",
                        u64::MAX,
                    )?),
                    best_root: Root(get_hash(doc, "best_root")?),
                    best_slot: Slot(get_uint(doc, "best_slot", u64::MAX)?),
                }),
                &[
                    "network_id",
                    "chain_id",
                    "latest_finalized_root",
                    "latest_finalized_epoch",
                    "best_root",
                    "best_slot",
                ],
            ),
            RpcMethod::Goodbye => (
                RpcPayload::Goodbye(Goodbye {
                    reason: opt("reason", u64::MAX)?,
                }),
                &["reason"],
            ),
            RpcMethod::GetStatus => {
                let timestamp = opt("timestamp", u64::MAX)?;
                let user_agent = match doc.get("user_agent") {
                    Some(v) => read_bytes(v, "user_agent", false)?,
                    None => {
                        out.defaulted.push("user_agent");
                        Vec::new()
                    }
                };
                let user_agent =
                    ssz_types::VariableList::new(user_agent).map_err(|e| CodecError::BadSsz {
                        method: method.to_string(),
                        reason: format!("user_agent: {e:?}"),
                    })?;
                (
                    RpcPayload::GetStatus(GetStatus {
                        user_agent,
                        timestamp,
                    }),
                    &["user_agent", "timestamp"],
                )
            }
            RpcMethod::GetBlockHeaders | RpcMethod::GetBlockBodies => {
                let request = GetBlockHeaders {
                    start_root: Root(get_hash(doc, "start_root")?),
                    start_slot: Slot(get_uint(doc, "start_slot", u64::MAX)?),
                    max: get_uint(doc, "max", u64::MAX)?,
                    skip: get_uint(doc, "skip", u64::MAX)?,
                    direction: get_uint(doc, "direction", u8::MAX.into())? as u8,
                };
                let payload = if method == RpcMethod::GetBlockHeaders {
                    RpcPayload::GetBlockHeaders(request)
                } else {
                    RpcPayload::GetBlockBodies(request.into())
                };
                (
                    payload,
                    &["start_root", "start_slot", "max", "skip", "direction"],
                )
            }
            RpcMethod::GetAttestation => (
                RpcPayload::GetAttestation(GetAttestation {
                    hash: Root(get_hash(doc, "hash")?),
                }),
                &["hash"],
            ),
            _ => {
                return Err(CodecError::UnsupportedBodyShape {
                    method: method.to_string(),
                    shape: body.shape().name(),
                })
            }
        };
        out.payload = payload;
        out.ignored = doc
            .keys()
            .filter(|k| !fields.contains(&k.as_str()))
            .cloned()
            .collect();
        Ok(out)
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
    fn unknown_method_envelope_decodes() {
        let env = RpcEnvelope {
            header: RpcHeader::new(RpcMethod::Unknown(99), RequestId(7)),
            body: RpcBody::Ssz(Bytes::from_static(b"\x01")),
        };
        let back = RpcEnvelope::from_frame(&env.to_frame().expect("encode")).expect("decode");
        assert_eq!(back, env);
        assert!(matches!(
            back.decode_payload(),
            Err(CodecError::PayloadMismatch { .. })
        ));
    }

    #[test]
    fn hello_round_trip_spec_shape() {
        let hello = Hello {
            network_id: 5,
            chain_id: 1,
            best_slot: Slot(77),
            ..Hello::default()
        };
        let env = RpcEnvelope::new(RequestId(3), &RpcPayload::Hello(hello.clone()));
        let frame = env.to_frame().expect("encode");
        let back = RpcEnvelope::from_frame(&frame).expect("decode");
        let decoded = back.decode_payload().expect("payload");
        assert_eq!(decoded.payload, RpcPayload::Hello(hello));
        assert_eq!(decoded.shape, BodyShape::SpecSsz);
        assert_eq!(back.to_frame().expect("re-encode"), frame);
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
