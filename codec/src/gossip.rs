//! GOSSIP (protocol 1): `Topic`, `MessageHash`, `GossipHeader` (extra application headers kept as
//! received), `GossipEnvelope` and typed decoding of the body into a block or an attestation.
//!
//! Header BSON `{method_id, topic, timestamp (ms), message_hash (32 bytes), hash (32 bytes)}`; body
//! the SSZ of the object, or empty for an announcement. `message_hash` = SHA-256 of the body
//! (see docs/PROTOCOL.md). Messages handled: GOSSIP (method 0); other method ids are carried.

use bson::{Bson, Document};
use bytes::Bytes;
use hobbits_chain::{Attestation, BeaconBlock, Root};
use sha2::{Digest, Sha256};
use ssz::Decode;

use crate::bson_compat::{self, get_hash, get_uint};
use crate::error::CodecError;
use crate::frame::{Frame, Protocol};

/// The only gossip method the spec defines.
pub const GOSSIP_METHOD_ID: u16 = 0;

/// What a gossip message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `BLOCK`: a `BeaconBlock`.
    Block,
    /// `ATTESTATION`: an `Attestation`.
    Attestation,
}

impl Topic {
    /// The wire string.
    pub fn name(self) -> &'static str {
        match self {
            Self::Block => "BLOCK",
            Self::Attestation => "ATTESTATION",
        }
    }

    /// Parses the wire string (exact, upper case as the spec writes it).
    pub fn from_name(name: &str) -> Result<Self, CodecError> {
        match name {
            "BLOCK" => Ok(Self::Block),
            "ATTESTATION" => Ok(Self::Attestation),
            other => Err(CodecError::UnknownTopic {
                topic: other.chars().take(64).collect(),
            }),
        }
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The `message_hash` of a gossip message: SHA-256 of its body (dedup key).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MessageHash(pub [u8; 32]);

impl MessageHash {
    /// SHA-256 of `body`, the function this node uses for `message_hash`.
    pub fn of_body(body: &[u8]) -> Self {
        Self(Sha256::digest(body).into())
    }
}

impl std::fmt::Debug for MessageHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MessageHash(0x{})", hex::encode(self.0))
    }
}

impl std::fmt::Display for MessageHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

/// The gossip header.
#[derive(Debug, Clone, PartialEq)]
pub struct GossipHeader {
    /// `method_id` (0 GOSSIP; others carried as received).
    pub method_id: u16,
    /// `topic`.
    pub topic: Topic,
    /// `timestamp`, milliseconds since the Unix epoch as the sender wrote it.
    pub timestamp_ms: u64,
    /// `message_hash`.
    pub message_hash: MessageHash,
    /// `hash`: hash_tree_root of the object.
    pub hash: Root,
    /// Any other application headers (hops, metrics...), kept in received order.
    pub extra: Document,
}

const GOSSIP_KEYS: [&str; 5] = ["method_id", "topic", "timestamp", "message_hash", "hash"];

impl GossipHeader {
    /// Reads a header document (tolerant integers and hashes).
    pub fn from_document(mut doc: Document) -> Result<Self, CodecError> {
        let method_id = get_uint(&doc, "method_id", u64::from(u16::MAX))? as u16;
        let topic = match doc.get("topic") {
            Some(Bson::String(s)) => Topic::from_name(s)?,
            Some(other) => {
                return Err(CodecError::WrongType {
                    field: "topic",
                    expected: "a string",
                    found: bson_compat::type_name(other),
                })
            }
            None => return Err(CodecError::MissingField { field: "topic" }),
        };
        let timestamp_ms = get_uint(&doc, "timestamp", u64::MAX)?;
        let message_hash = MessageHash(get_hash(&doc, "message_hash")?);
        let hash = Root(get_hash(&doc, "hash")?);
        for key in GOSSIP_KEYS {
            doc.remove(key);
        }
        Ok(Self {
            method_id,
            topic,
            timestamp_ms,
            message_hash,
            hash,
            extra: doc,
        })
    }

    /// The header document as written: `method_id` int32, `topic` string, `timestamp` int64,
    /// hashes binary subtype 0, then the extra headers.
    pub fn to_document(&self) -> Result<Document, CodecError> {
        let mut doc = Document::new();
        doc.insert("method_id", Bson::Int32(i32::from(self.method_id)));
        doc.insert("topic", self.topic.name());
        doc.insert(
            "timestamp",
            bson_compat::int64(self.timestamp_ms, "gossip timestamp")?,
        );
        doc.insert(
            "message_hash",
            bson_compat::binary(self.message_hash.0.to_vec()),
        );
        doc.insert("hash", bson_compat::binary(self.hash.0.to_vec()));
        for (k, v) in &self.extra {
            if !GOSSIP_KEYS.contains(&k.as_str()) {
                doc.insert(k.clone(), v.clone());
            }
        }
        Ok(doc)
    }
}

/// A gossiped object, decoded from the body.
#[derive(Debug, Clone, PartialEq)]
pub enum GossipObject {
    /// A block (topic BLOCK).
    Block(BeaconBlock),
    /// An attestation (topic ATTESTATION).
    Attestation(Attestation),
}

/// One GOSSIP frame.
#[derive(Debug, Clone, PartialEq)]
pub struct GossipEnvelope {
    /// The header.
    pub header: GossipHeader,
    /// SSZ of the object, or empty for an announcement.
    pub body: Bytes,
}

impl GossipEnvelope {
    /// A GOSSIP message carrying `body` (SSZ of the object whose hash_tree_root is `hash`), with
    /// `message_hash` = SHA-256 of the body.
    pub fn new(topic: Topic, hash: Root, body: Bytes, timestamp_ms: u64) -> Self {
        Self {
            header: GossipHeader {
                method_id: GOSSIP_METHOD_ID,
                topic,
                timestamp_ms,
                message_hash: MessageHash::of_body(&body),
                hash,
                extra: Document::new(),
            },
            body,
        }
    }

    /// Reads a GOSSIP frame.
    pub fn from_frame(frame: &Frame) -> Result<Self, CodecError> {
        if frame.protocol != Protocol::Gossip {
            return Err(CodecError::WrongProtocol {
                expected: "GOSSIP",
                found: frame.protocol.name(),
            });
        }
        let header =
            GossipHeader::from_document(bson_compat::parse_document(&frame.header, "header")?)?;
        Ok(Self {
            header,
            body: frame.body.clone(),
        })
    }

    /// The frame (version 3) for this envelope.
    pub fn to_frame(&self) -> Result<Frame, CodecError> {
        let header = bson_compat::write_document(&self.header.to_document()?, "gossip header")?;
        Ok(Frame::new(Protocol::Gossip, header, self.body.clone()))
    }

    /// True for an announcement (empty body).
    pub fn is_announcement(&self) -> bool {
        self.body.is_empty()
    }

    /// True when `message_hash` is the SHA-256 of the body (other 2019 clients used other
    /// functions, so a mismatch is information, not an error).
    pub fn message_hash_matches(&self) -> bool {
        self.header.message_hash == MessageHash::of_body(&self.body)
    }

    /// Decodes the body as the topic's object; `Ok(None)` for an announcement.
    pub fn decode_object(&self) -> Result<Option<GossipObject>, CodecError> {
        if self.body.is_empty() {
            return Ok(None);
        }
        let bad = |e: ssz::DecodeError| CodecError::BadSsz {
            method: format!("GOSSIP {}", self.header.topic),
            reason: format!("{e:?}"),
        };
        Ok(Some(match self.header.topic {
            Topic::Block => {
                GossipObject::Block(BeaconBlock::from_ssz_bytes(&self.body).map_err(bad)?)
            }
            Topic::Attestation => {
                GossipObject::Attestation(Attestation::from_ssz_bytes(&self.body).map_err(bad)?)
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_headers_round_trip_after_the_spec_keys() {
        let mut env = GossipEnvelope::new(
            Topic::Attestation,
            Root([1; 32]),
            Bytes::from_static(b"abc"),
            42,
        );
        env.header.extra.insert("hops", 3i32);
        let frame = env.to_frame().expect("encode");
        let back = GossipEnvelope::from_frame(&frame).expect("decode");
        assert_eq!(back, env);
        assert!(back.message_hash_matches());
        assert_eq!(back.to_frame().expect("re-encode"), frame);
    }

    #[test]
    fn unknown_topic_is_typed() {
        let doc = bson::doc! {
            "method_id": 0, "topic": "TX", "timestamp": 0i64,
            "message_hash": bson_compat::binary(vec![0u8; 32]), "hash": bson_compat::binary(vec![0u8; 32]),
        };
        assert!(matches!(
            GossipHeader::from_document(doc),
            Err(CodecError::UnknownTopic { .. })
        ));
    }

    #[test]
    fn message_hash_is_sha256_of_body() {
        // sha256("") is a well-known constant.
        assert_eq!(
            MessageHash::of_body(b"").to_string(),
            "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
