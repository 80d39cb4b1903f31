//! GOSSIP (protocol 1): `Topic`, `MessageHash`, `GossipHeader` (extra application headers kept as
//! received), `GossipEnvelope` and typed decoding of the body into a block or an attestation.
//!
//! Header BSON `{method_id, topic, timestamp (ms), message_hash (32 bytes), hash (32 bytes)}`; body
//! the SSZ of the object, or empty for an announcement. `message_hash` = SHA-256 of the body
//! (see docs/PROTOCOL.md). Messages handled: GOSSIP (method 0); other method ids are carried.
//!
//! Hot path: the header is read from the raw BSON and written straight to bytes for the usual
//! shape (`GossipHeader::from_bson`, `to_bson`), with the `Document` path as the reference both
//! agree with (tests) and the fallback for every other shape.

use bson::raw::{RawBsonRef, RawDocument};
use bson::spec::BinarySubtype;
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

    /// Reads a header from its BSON bytes: the same header, or the same error, as
    /// [`GossipHeader::from_document`] of the parsed document. The usual shape (the five keys once
    /// each, integers as int32/int64, hashes as 32-byte binaries, scalar extra headers) is read
    /// straight from the raw bytes without building a `Document`; anything else (hex hashes,
    /// doubles, nested extras, repeated keys, errors) goes through the tolerant document path.
    pub fn from_bson(bytes: &[u8]) -> Result<Self, CodecError> {
        if let Some(header) = Self::from_raw_usual(bytes) {
            return Ok(header);
        }
        Self::from_document(bson_compat::parse_document(bytes, "header")?)
    }

    /// The fast path of [`GossipHeader::from_bson`]: `None` whenever the header is not of the usual
    /// shape, so the document path decides (and reports any error).
    fn from_raw_usual(bytes: &[u8]) -> Option<Self> {
        fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
            if slot.is_some() {
                return None;
            }
            *slot = Some(value?);
            Some(())
        }
        fn uint(value: RawBsonRef<'_>, max: u64) -> Option<u64> {
            let v = match value {
                RawBsonRef::Int32(v) => u64::try_from(v).ok()?,
                RawBsonRef::Int64(v) => u64::try_from(v).ok()?,
                _ => return None,
            };
            (v <= max).then_some(v)
        }
        fn hash(value: RawBsonRef<'_>) -> Option<[u8; 32]> {
            match value {
                RawBsonRef::Binary(b)
                    if matches!(b.subtype, BinarySubtype::Generic | BinarySubtype::BinaryOld) =>
                {
                    b.bytes.try_into().ok()
                }
                _ => None,
            }
        }
        let raw = RawDocument::from_bytes(bytes).ok()?;
        let (mut method_id, mut topic, mut timestamp, mut message_hash, mut hash_) =
            (None, None, None, None, None);
        let mut extra = Document::new();
        for element in raw.iter() {
            let (key, value) = element.ok()?;
            match key.as_str() {
                "method_id" => once(&mut method_id, uint(value, u64::from(u16::MAX)))?,
                "topic" => once(
                    &mut topic,
                    match value {
                        RawBsonRef::String(s) => Topic::from_name(s).ok(),
                        _ => None,
                    },
                )?,
                "timestamp" => once(&mut timestamp, uint(value, u64::MAX))?,
                "message_hash" => once(&mut message_hash, hash(value))?,
                "hash" => once(&mut hash_, hash(value))?,
                other => {
                    let scalar = matches!(
                        value,
                        RawBsonRef::Int32(_)
                            | RawBsonRef::Int64(_)
                            | RawBsonRef::Double(_)
                            | RawBsonRef::String(_)
                            | RawBsonRef::Boolean(_)
                            | RawBsonRef::Null
                            | RawBsonRef::Binary(_)
                    );
                    if !scalar || extra.contains_key(other) {
                        return None;
                    }
                    extra.insert(other, Bson::try_from(value).ok()?);
                }
            }
        }
        Some(Self {
            method_id: method_id? as u16,
            topic: topic?,
            timestamp_ms: timestamp?,
            message_hash: MessageHash(message_hash?),
            hash: Root(hash_?),
            extra,
        })
    }

    /// The header's BSON bytes: byte for byte what [`GossipHeader::to_document`] serialises to,
    /// written without building a `Document` for the five spec keys (the extra headers, if any,
    /// are serialised by the BSON library and appended).
    pub fn to_bson(&self) -> Result<Vec<u8>, CodecError> {
        fn key(out: &mut Vec<u8>, kind: u8, name: &str) {
            out.push(kind);
            out.extend_from_slice(name.as_bytes());
            out.push(0);
        }
        fn binary32(out: &mut Vec<u8>, name: &str, bytes: &[u8; 32]) {
            key(out, 0x05, name);
            out.extend_from_slice(&32i32.to_le_bytes());
            out.push(0); // subtype 0, generic
            out.extend_from_slice(bytes);
        }
        let timestamp = i64::try_from(self.timestamp_ms).map_err(|_| CodecError::Encode {
            what: "gossip timestamp",
            reason: format!("{} does not fit a BSON int64", self.timestamp_ms),
        })?;
        let mut extra = Document::new();
        for (k, v) in &self.extra {
            if !GOSSIP_KEYS.contains(&k.as_str()) {
                extra.insert(k.clone(), v.clone());
            }
        }
        let extra = if extra.is_empty() {
            Vec::new()
        } else {
            bson_compat::write_document(&extra, "gossip header")?
        };
        let topic = self.topic.name();
        let mut out = Vec::with_capacity(160 + extra.len());
        out.extend_from_slice(&[0; 4]);
        key(&mut out, 0x10, "method_id");
        out.extend_from_slice(&i32::from(self.method_id).to_le_bytes());
        key(&mut out, 0x02, "topic");
        out.extend_from_slice(&(topic.len() as i32 + 1).to_le_bytes());
        out.extend_from_slice(topic.as_bytes());
        out.push(0);
        key(&mut out, 0x12, "timestamp");
        out.extend_from_slice(&timestamp.to_le_bytes());
        binary32(&mut out, "message_hash", &self.message_hash.0);
        binary32(&mut out, "hash", &self.hash.0);
        // The extras' elements: their document without its length prefix and final NUL.
        if let Some(elements) = extra.get(4..extra.len().saturating_sub(1)) {
            out.extend_from_slice(elements);
        }
        out.push(0);
        let len = i32::try_from(out.len()).map_err(|_| CodecError::Encode {
            what: "gossip header",
            reason: "longer than a BSON document can be".into(),
        })?;
        out[..4].copy_from_slice(&len.to_le_bytes());
        Ok(out)
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
        let header = GossipHeader::from_bson(&frame.header)?;
        Ok(Self {
            header,
            body: frame.body.clone(),
        })
    }

    /// The frame (version 3) for this envelope.
    pub fn to_frame(&self) -> Result<Frame, CodecError> {
        Ok(Frame::new(
            Protocol::Gossip,
            self.header.to_bson()?,
            self.body.clone(),
        ))
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

    /// The document path `from_bson` must agree with, result for result.
    fn slow(bytes: &[u8]) -> Result<GossipHeader, CodecError> {
        GossipHeader::from_document(bson_compat::parse_document(bytes, "header")?)
    }

    fn same(bytes: &[u8]) {
        let (fast, slow) = (GossipHeader::from_bson(bytes), slow(bytes));
        assert_eq!(
            format!("{fast:?}"),
            format!("{slow:?}"),
            "{}",
            hex::encode(bytes)
        );
    }

    #[test]
    fn the_usual_header_is_read_without_the_document_path() {
        let mut env = GossipEnvelope::new(Topic::Block, Root([9; 32]), Bytes::from_static(b"x"), 7);
        env.header.extra.insert("origin", 12i64);
        let bytes = env.to_frame().expect("encode").header;
        let fast = GossipHeader::from_raw_usual(&bytes).expect("usual shape");
        assert_eq!(fast, env.header);
        same(&bytes);
    }

    #[test]
    fn unusual_shapes_fall_back_to_the_same_result() {
        let h = bson_compat::binary(vec![3u8; 32]);
        let docs = [
            // hex hashes, a double, a nested extra, a repeated key, missing keys, bad types
            bson::doc! { "method_id": 0, "topic": "BLOCK", "timestamp": 1.0f64,
            "message_hash": format!("0x{}", hex::encode([3u8; 32])), "hash": h.clone() },
            bson::doc! { "method_id": 0, "topic": "BLOCK", "timestamp": 1i64,
            "message_hash": h.clone(), "hash": h.clone(), "x": { "y": 1 } },
            bson::doc! { "method_id": 0, "topic": "BLOCK", "timestamp": 1i64, "hash": h.clone() },
            bson::doc! { "method_id": 70000, "topic": "BLOCK", "timestamp": 1i64,
            "message_hash": h.clone(), "hash": h.clone() },
            bson::doc! { "method_id": -1, "topic": "BLOCK", "timestamp": 1i64,
            "message_hash": h.clone(), "hash": h.clone() },
            bson::doc! { "method_id": 0, "topic": 5, "timestamp": 1i64,
            "message_hash": h.clone(), "hash": h.clone() },
            bson::doc! { "method_id": 0, "topic": "block", "timestamp": 1i64,
            "message_hash": h.clone(), "hash": h.clone() },
            bson::doc! { "method_id": 0, "topic": "BLOCK", "timestamp": -5i64,
            "message_hash": h.clone(), "hash": bson_compat::binary(vec![1u8; 31]) },
        ];
        for doc in docs {
            same(&bson_compat::write_document(&doc, "test").expect("encode"));
        }
        // A key written twice (the document path keeps the last value in the first position).
        let mut raw = vec![0u8; 4];
        for (k, v) in [("method_id", 0i32), ("topic", 0), ("method_id", 1)] {
            raw.push(0x10);
            raw.extend_from_slice(k.as_bytes());
            raw.push(0);
            raw.extend_from_slice(&v.to_le_bytes());
        }
        raw.push(0);
        let len = raw.len() as i32;
        raw[..4].copy_from_slice(&len.to_le_bytes());
        same(&raw);
        same(b"");
        same(&[5, 0, 0, 0, 0]);
    }

    #[test]
    fn the_direct_writer_matches_the_document_writer() {
        let doc_bytes = |h: &GossipHeader| {
            bson_compat::write_document(&h.to_document().expect("doc"), "gossip header")
        };
        let mut env =
            GossipEnvelope::new(Topic::Block, Root([5; 32]), Bytes::new(), i64::MAX as u64);
        assert_eq!(env.header.to_bson().ok(), doc_bytes(&env.header).ok());
        env.header.method_id = u16::MAX;
        env.header.extra.insert("origin", 77i64);
        env.header
            .extra
            .insert("nested", bson::doc! { "a": [1, 2] });
        // A spec key left in `extra` is written once, from the typed field.
        env.header.extra.insert("hash", "ignored");
        assert_eq!(env.header.to_bson().ok(), doc_bytes(&env.header).ok());
        env.header.timestamp_ms = i64::MAX as u64 + 1;
        assert!(matches!(
            env.header.to_bson(),
            Err(CodecError::Encode { .. })
        ));
        assert!(env.header.to_document().is_err());
    }

    proptest::proptest! {
        /// Random headers encode to the same bytes both ways and read back as themselves.
        #[test]
        fn direct_writer_round_trips(
            method_id in proptest::prelude::any::<u16>(),
            ts in 0u64..=i64::MAX as u64,
            mh in proptest::prelude::any::<[u8; 32]>(),
            hash in proptest::prelude::any::<[u8; 32]>(),
            extras in proptest::collection::vec(("[a-z]{1,8}", proptest::prelude::any::<i64>()), 0..4),
            block in proptest::prelude::any::<bool>(),
        ) {
            let mut extra = Document::new();
            for (k, v) in extras {
                if !GOSSIP_KEYS.contains(&k.as_str()) {
                    extra.insert(k, v);
                }
            }
            let header = GossipHeader {
                method_id,
                topic: if block { Topic::Block } else { Topic::Attestation },
                timestamp_ms: ts,
                message_hash: MessageHash(mh),
                hash: Root(hash),
                extra,
            };
            let direct = header.to_bson().expect("direct");
            let via_doc = bson_compat::write_document(&header.to_document().expect("doc"), "h")
                .expect("doc bytes");
            proptest::prop_assert_eq!(&direct, &via_doc);
            let back = GossipHeader::from_bson(&direct).expect("read back");
            proptest::prop_assert_eq!(back, header);
        }
    }

    proptest::proptest! {
        /// Any bytes, and every single-byte corruption of a valid header (with extras), read the
        /// same through both paths.
        #[test]
        fn fast_and_document_paths_agree(
            junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            at in 0usize..400,
            byte in proptest::prelude::any::<u8>(),
            ts in proptest::prelude::any::<u64>(),
            extra in proptest::prelude::any::<i32>(),
        ) {
            same(&junk);
            let mut env = GossipEnvelope::new(
                Topic::Attestation, Root([4; 32]), Bytes::from_static(b"abc"), ts >> 1);
            env.header.extra.insert("hops", extra);
            env.header.extra.insert("note", "n");
            let mut bytes = env.to_frame().expect("encode").header.to_vec();
            same(&bytes);
            let i = at % bytes.len();
            bytes[i] = byte;
            same(&bytes);
        }
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
