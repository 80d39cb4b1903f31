//! RPC bodies as received: [`BodyShape`] (the three 2019 shapes and empty), [`RpcBody`] (read
//! zero-copy from a frame body, written back in its own shape) and [`RpcEnvelope`] (header + body
//! to and from a [`Frame`]). Typed decoding of a body is in `payload.rs`.

use bson::raw::RawBsonRef;
use bson::spec::BinarySubtype;
use bson::{Bson, Document};
use bytes::Bytes;

use super::{DecodedPayload, RequestId, RpcHeader, RpcPayload};
use crate::bson_compat;
use crate::error::CodecError;
use crate::frame::{Frame, Protocol};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::RpcMethod;

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
}
