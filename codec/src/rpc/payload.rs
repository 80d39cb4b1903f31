//! Typed RPC payloads: [`RpcPayload`] (each method's `hobbits_chain::rpc` container, to and from
//! SSZ) and [`DecodedPayload`] (a payload decoded from any body shape, with the fields defaulted
//! or ignored on the way).

use hobbits_chain::rpc::{
    AttestationResponse, BeaconStates, BlockBodies, BlockHeaders, GetAttestation, GetBeaconStates,
    GetBlockBodies, GetBlockHeaders, GetStatus, Goodbye, Hello,
};
use hobbits_chain::{Epoch, Root, Slot};
use ssz::{Decode, Encode};

use super::{BodyShape, RpcBody, RpcMethod};
use crate::bson_compat::{get_hash, get_uint, get_uint_opt, read_bytes};
use crate::error::CodecError;

/// The typed payload of an RPC method.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "payloads are built once per frame; boxing buys nothing here"
)]
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
    use crate::rpc::{RequestId, RpcEnvelope};

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
}
