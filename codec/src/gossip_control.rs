//! The gossip overlay's wire additions (docs/PROTOCOL.md, "Gossip overlay"): the control verbs the
//! spec reserves, sent as GOSSIP-protocol frames beside GOSSIP (method 0) — PRUNE (1), GRAFT (2),
//! IHAVE (3), IWANT (4) — as typed [`ControlMessage`]s with their caps; the `origin` header key of a
//! GOSSIP message ([`Origin`]); and the `gossip_overlay` HELLO header key that advertises the
//! overlay ([`overlay_version`], [`advertise_overlay`]).
//!
//! A control frame is header BSON `{method_id: int32}` (other keys ignored) and body BSON
//! `{message_hashes: [binary(32), …]}`, or an empty body for a PRUNE or GRAFT without hashes. Read
//! also: Artemis' 2019 shape, one `message_hash` in the header (hex or binary) and an empty body.
//! Caps: [`MAX_CONTROL_HASHES`] hashes, header [`MAX_CONTROL_HEADER_LEN`], body
//! [`MAX_CONTROL_BODY_LEN`], each checked before anything is parsed. A GOSSIP message under a
//! control number (Tuweni's Plumtree put GOSSIP at 3) is told apart ([`ControlError::GossipNumbering`]).
//! Every error concerns one whole frame: none breaks the byte stream. Handles no messages itself:
//! `ControlEnvelope::from_frame` reads, `ControlEnvelope::to_frame` writes.

use bson::raw::RawDocument;
use bson::{Bson, Document};
use bytes::Bytes;
use thiserror::Error;

use crate::bson_compat::{self, get_uint, get_uint_opt, read_hash};
use crate::error::CodecError;
use crate::frame::{Frame, Protocol};
use crate::gossip::{GossipHeader, MessageHash, GOSSIP_METHOD_ID};

/// `method_id` of PRUNE: "stop pushing me objects like these".
pub const PRUNE_METHOD_ID: u16 = 1;
/// `method_id` of GRAFT: "push me objects like these again".
pub const GRAFT_METHOD_ID: u16 = 2;
/// `method_id` of IHAVE: "I have these objects".
pub const IHAVE_METHOD_ID: u16 = 3;
/// `method_id` of IWANT: "send me these objects".
pub const IWANT_METHOD_ID: u16 = 4;
/// Most hashes one control frame carries.
pub const MAX_CONTROL_HASHES: usize = 256;
/// Longest control header accepted (ours is 20 bytes; room for a few extra keys).
pub const MAX_CONTROL_HEADER_LEN: usize = 1024;
/// Longest control body accepted: 256 hashes written as we write them take 10.8 KB.
pub const MAX_CONTROL_BODY_LEN: usize = 12 * 1024;
/// The body key holding the hashes.
pub const HASHES_KEY: &str = "message_hashes";
/// The GOSSIP header key naming the node that published the object (an int64).
pub const ORIGIN_KEY: &str = "origin";
/// The HELLO header key (request and reply) by which a node advertises the overlay (an int32).
pub const HELLO_OVERLAY_KEY: &str = "gossip_overlay";
/// The overlay version this codec speaks, the value written under [`HELLO_OVERLAY_KEY`].
pub const OVERLAY_VERSION: u32 = 1;

/// Why a control frame (or an overlay header key) could not be read or written.
#[derive(Debug, Error)]
pub enum ControlError {
    /// The frame is not a GOSSIP-protocol frame.
    #[error("frame protocol is {found}, expected GOSSIP")]
    NotGossip {
        /// The protocol found.
        found: &'static str,
    },
    /// `method_id` 0: a GOSSIP message, not a control verb.
    #[error("gossip method_id 0 is GOSSIP, not a control verb")]
    NotControl,
    /// A `method_id` no one defines.
    #[error("gossip method_id {method_id} is not defined (0 GOSSIP, 1 PRUNE, 2 GRAFT, 3 IHAVE, 4 IWANT)")]
    UnknownMethod {
        /// The id received.
        method_id: u16,
    },
    /// A GOSSIP message (a `topic` in the header, a body that is not BSON) under a control number:
    /// Tuweni's Plumtree numbered GOSSIP 3.
    #[error("gossip method_id {method_id} carries a GOSSIP message (topic header, non-BSON body): another numbering (Tuweni's Plumtree put GOSSIP at 3)")]
    GossipNumbering {
        /// The id received.
        method_id: u16,
    },
    /// The header is longer than a control header may be.
    #[error("control header of {len} bytes exceeds {max}")]
    HeaderTooLarge {
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The body is longer than a control body may be.
    #[error("control body of {len} bytes exceeds {max}")]
    BodyTooLarge {
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// More hashes than one control frame may carry.
    #[error("{verb} carries {count} hashes, more than {max}")]
    TooManyHashes {
        /// The verb.
        verb: ControlVerb,
        /// How many (at least; counting stops past the cap).
        count: usize,
        /// The cap.
        max: usize,
    },
    /// An IHAVE or IWANT without a hash.
    #[error("{verb} carries no hash")]
    NoHashes {
        /// The verb.
        verb: ControlVerb,
    },
    /// A field, BSON or hash error (the codec's own, with its field).
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// A gossip `method_id` read as one of the five gossip methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GossipMethod {
    /// 0: a gossiped object (or its announcement).
    Gossip,
    /// 1..=4: a control verb.
    Control(ControlVerb),
    /// Anything else.
    Unknown(u16),
}

impl GossipMethod {
    /// Reads a `method_id`.
    pub fn from_id(id: u16) -> Self {
        match id {
            GOSSIP_METHOD_ID => Self::Gossip,
            PRUNE_METHOD_ID => Self::Control(ControlVerb::Prune),
            GRAFT_METHOD_ID => Self::Control(ControlVerb::Graft),
            IHAVE_METHOD_ID => Self::Control(ControlVerb::IHave),
            IWANT_METHOD_ID => Self::Control(ControlVerb::IWant),
            other => Self::Unknown(other),
        }
    }

    /// Reads the `method_id` of a GOSSIP frame's header without decoding the rest of it, so a
    /// session can dispatch GOSSIP and control frames before the full decode.
    pub fn of_header(header: &[u8]) -> Result<Self, ControlError> {
        let raw = bson_compat::raw_document(header, "header")?;
        let value = raw
            .get("method_id")
            .map_err(|e| CodecError::InvalidBson {
                part: "header",
                reason: e.to_string(),
            })?
            .ok_or(CodecError::MissingField { field: "method_id" })?;
        let value = Bson::try_from(value).map_err(|e| CodecError::InvalidBson {
            part: "header",
            reason: e.to_string(),
        })?;
        let id = bson_compat::read_uint(&value, "method_id", u64::from(u16::MAX))?;
        Ok(Self::from_id(id as u16))
    }
}

/// The four control verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ControlVerb {
    /// 1: the sender stops wanting objects like these pushed to it (hashes optional; none means
    /// every kind).
    Prune,
    /// 2: the sender wants objects like these pushed to it again (hashes optional; none means
    /// every kind).
    Graft,
    /// 3: the sender has these objects (at least one hash).
    IHave,
    /// 4: the sender wants these objects sent (at least one hash).
    IWant,
}

impl ControlVerb {
    /// All four, in method id order.
    pub const ALL: [ControlVerb; 4] = [Self::Prune, Self::Graft, Self::IHave, Self::IWant];

    /// The `method_id` written on the wire.
    pub fn method_id(self) -> u16 {
        match self {
            Self::Prune => PRUNE_METHOD_ID,
            Self::Graft => GRAFT_METHOD_ID,
            Self::IHave => IHAVE_METHOD_ID,
            Self::IWant => IWANT_METHOD_ID,
        }
    }

    /// Upper-case name (`PRUNE`, `GRAFT`, `IHAVE`, `IWANT`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Prune => "PRUNE",
            Self::Graft => "GRAFT",
            Self::IHave => "IHAVE",
            Self::IWant => "IWANT",
        }
    }

    /// True for the verbs that mean nothing without a hash (IHAVE, IWANT).
    pub fn needs_hashes(self) -> bool {
        matches!(self, Self::IHave | Self::IWant)
    }
}

impl std::fmt::Display for ControlVerb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One control message: a verb and the `message_hash`es it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlMessage {
    /// What is asked or told.
    pub verb: ControlVerb,
    /// The objects, by `message_hash` (at most [`MAX_CONTROL_HASHES`]).
    pub hashes: Vec<MessageHash>,
}

impl ControlMessage {
    /// A message after checking the caps: at most [`MAX_CONTROL_HASHES`], at least one for IHAVE
    /// and IWANT.
    pub fn new(verb: ControlVerb, hashes: Vec<MessageHash>) -> Result<Self, ControlError> {
        let message = Self { verb, hashes };
        message.check()?;
        Ok(message)
    }

    /// Checks the caps of a message built by hand.
    pub fn check(&self) -> Result<(), ControlError> {
        if self.hashes.len() > MAX_CONTROL_HASHES {
            return Err(ControlError::TooManyHashes {
                verb: self.verb,
                count: self.hashes.len(),
                max: MAX_CONTROL_HASHES,
            });
        }
        if self.hashes.is_empty() && self.verb.needs_hashes() {
            return Err(ControlError::NoHashes { verb: self.verb });
        }
        Ok(())
    }

    /// The header document as written: `{method_id: int32}`.
    fn header(&self) -> Document {
        let mut doc = Document::new();
        doc.insert("method_id", Bson::Int32(i32::from(self.verb.method_id())));
        doc
    }

    /// The body as written: empty without hashes, else `{message_hashes: [binary(32), …]}`.
    fn body(&self) -> Result<Bytes, ControlError> {
        if self.hashes.is_empty() {
            return Ok(Bytes::new());
        }
        let list = self
            .hashes
            .iter()
            .map(|h| bson_compat::binary(h.0.to_vec()))
            .collect();
        let mut doc = Document::new();
        doc.insert(HASHES_KEY, Bson::Array(list));
        Ok(Bytes::from(bson_compat::write_document(
            &doc,
            "control body",
        )?))
    }

    /// The version-3 GOSSIP frame for this message (caps checked).
    pub fn to_frame(&self) -> Result<Frame, ControlError> {
        self.check()?;
        let header = bson_compat::write_document(&self.header(), "control header")?;
        Ok(Frame::new(Protocol::Gossip, header, self.body()?))
    }
}

/// Where a received control frame carried its hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlShape {
    /// Ours: the body's `message_hashes` list (or no hash at all).
    Body,
    /// Artemis' 2019 shape: one `message_hash` in the header, empty body.
    HeaderHash,
    /// Both a header `message_hash` and a body list (read as the header's hash first).
    Both,
}

/// A received control frame: the message and the shape it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlEnvelope {
    /// The message.
    pub message: ControlMessage,
    /// The shape it was read from.
    pub shape: ControlShape,
}

impl ControlEnvelope {
    /// Reads a control frame. Sizes are checked before any parsing; see the module doc for the
    /// shapes read.
    pub fn from_frame(frame: &Frame) -> Result<Self, ControlError> {
        if frame.protocol != Protocol::Gossip {
            return Err(ControlError::NotGossip {
                found: frame.protocol.name(),
            });
        }
        if frame.header.len() > MAX_CONTROL_HEADER_LEN {
            return Err(ControlError::HeaderTooLarge {
                len: frame.header.len(),
                max: MAX_CONTROL_HEADER_LEN,
            });
        }
        let header = bson_compat::parse_document(&frame.header, "header")?;
        let method_id = get_uint(&header, "method_id", u64::from(u16::MAX))? as u16;
        let verb = match GossipMethod::from_id(method_id) {
            GossipMethod::Control(verb) => verb,
            GossipMethod::Gossip => return Err(ControlError::NotControl),
            GossipMethod::Unknown(method_id) => {
                return Err(ControlError::UnknownMethod { method_id })
            }
        };
        // A GOSSIP message under another numbering: a topic and an SSZ (not BSON) body. Checked
        // before the body cap, since such a body is usually larger than a control body.
        if header.contains_key("topic")
            && !frame.body.is_empty()
            && RawDocument::from_bytes(&frame.body).is_err()
        {
            return Err(ControlError::GossipNumbering { method_id });
        }
        if frame.body.len() > MAX_CONTROL_BODY_LEN {
            return Err(ControlError::BodyTooLarge {
                len: frame.body.len(),
                max: MAX_CONTROL_BODY_LEN,
            });
        }
        let mut hashes = Vec::new();
        if let Some(value) = header.get("message_hash") {
            hashes.push(MessageHash(read_hash(value, "message_hash")?));
        }
        let from_header = !hashes.is_empty();
        let from_body = !frame.body.is_empty();
        if from_body {
            read_body_hashes(&frame.body, verb, &mut hashes)?;
        }
        let shape = match (from_header, from_body) {
            (true, true) => ControlShape::Both,
            (true, false) => ControlShape::HeaderHash,
            (false, _) => ControlShape::Body,
        };
        Ok(Self {
            message: ControlMessage::new(verb, hashes)?,
            shape,
        })
    }
}

/// Appends the body's `message_hashes` to `hashes`, refusing more than the cap before reading any.
fn read_body_hashes(
    body: &[u8],
    verb: ControlVerb,
    hashes: &mut Vec<MessageHash>,
) -> Result<(), ControlError> {
    let doc = bson_compat::parse_document(body, "body")?;
    let list = match doc.get(HASHES_KEY) {
        Some(Bson::Array(list)) => list,
        Some(other) => {
            return Err(CodecError::WrongType {
                field: HASHES_KEY,
                expected: "an array of 32-byte hashes",
                found: bson_compat::type_name(other),
            }
            .into())
        }
        None => return Err(CodecError::MissingField { field: HASHES_KEY }.into()),
    };
    let count = hashes.len() + list.len();
    if count > MAX_CONTROL_HASHES {
        return Err(ControlError::TooManyHashes {
            verb,
            count,
            max: MAX_CONTROL_HASHES,
        });
    }
    for value in list {
        hashes.push(MessageHash(read_hash(value, HASHES_KEY)?));
    }
    Ok(())
}

/// The node that published a gossiped object, as the GOSSIP header key `origin` names it (the
/// publisher's HELLO `node_id`). The overlay keeps one push tree per origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin(pub u64);

impl Origin {
    /// The `origin` of a GOSSIP header: `None` when absent (2019 clients never wrote one).
    /// Integers are read as anywhere else (int32, int64, integral double; non-negative).
    pub fn read(header: &GossipHeader) -> Result<Option<Self>, ControlError> {
        Ok(get_uint_opt(&header.extra, ORIGIN_KEY, i64::MAX as u64)?.map(Origin))
    }

    /// Writes this origin into a GOSSIP header as an int64 (replacing any).
    pub fn write(self, header: &mut GossipHeader) -> Result<(), ControlError> {
        let value = bson_compat::int64(self.0, "gossip origin")?;
        header.extra.insert(ORIGIN_KEY, value);
        Ok(())
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// The overlay version a HELLO header advertises under [`HELLO_OVERLAY_KEY`]; `None` when the key
/// is absent (a flood peer). A value that is not a small non-negative integer is an error.
pub fn overlay_version(hello_header_extra: &Document) -> Result<Option<u32>, ControlError> {
    Ok(get_uint_opt(hello_header_extra, HELLO_OVERLAY_KEY, u64::from(u32::MAX))?.map(|v| v as u32))
}

/// Adds `gossip_overlay: int32 OVERLAY_VERSION` to a HELLO header's extra keys.
pub fn advertise_overlay(hello_header_extra: &mut Document) {
    hello_header_extra.insert(HELLO_OVERLAY_KEY, Bson::Int32(OVERLAY_VERSION as i32));
}

#[cfg(test)]
mod tests {
    use super::*;
    use hobbits_chain::Root;

    use crate::gossip::{GossipEnvelope, Topic};

    fn hashes(n: usize) -> Vec<MessageHash> {
        (0..n).map(|i| MessageHash([i as u8; 32])).collect()
    }

    #[test]
    fn every_verb_round_trips_with_and_without_hashes() {
        for verb in ControlVerb::ALL {
            for n in [0, 1, 2, MAX_CONTROL_HASHES] {
                let Ok(message) = ControlMessage::new(verb, hashes(n)) else {
                    assert!(n == 0 && verb.needs_hashes());
                    continue;
                };
                let frame = message.to_frame().expect("encode");
                assert!(frame.header.len() <= MAX_CONTROL_HEADER_LEN);
                assert!(
                    frame.body.len() <= MAX_CONTROL_BODY_LEN,
                    "{}",
                    frame.body.len()
                );
                assert_eq!(frame.body.is_empty(), n == 0);
                let back = ControlEnvelope::from_frame(&frame).expect("decode");
                assert_eq!(back.message, message);
                assert_eq!(back.shape, ControlShape::Body);
                assert_eq!(
                    GossipMethod::of_header(&frame.header).expect("method"),
                    GossipMethod::Control(verb)
                );
            }
        }
    }

    #[test]
    fn caps_are_checked_when_writing_too() {
        let over = ControlMessage {
            verb: ControlVerb::IHave,
            hashes: hashes(MAX_CONTROL_HASHES + 1),
        };
        assert!(matches!(
            over.to_frame(),
            Err(ControlError::TooManyHashes { count: 257, .. })
        ));
        let empty = ControlMessage {
            verb: ControlVerb::IWant,
            hashes: Vec::new(),
        };
        assert!(matches!(
            empty.to_frame(),
            Err(ControlError::NoHashes {
                verb: ControlVerb::IWant
            })
        ));
    }

    #[test]
    fn a_gossip_frame_is_not_control() {
        let gossip = GossipEnvelope::new(Topic::Block, Root([1; 32]), Bytes::from_static(b"x"), 1)
            .to_frame()
            .expect("encode");
        assert_eq!(
            GossipMethod::of_header(&gossip.header).expect("method"),
            GossipMethod::Gossip
        );
        assert!(matches!(
            ControlEnvelope::from_frame(&gossip),
            Err(ControlError::NotControl)
        ));
    }

    #[test]
    fn origin_round_trips_in_the_gossip_header() {
        let mut env = GossipEnvelope::new(
            Topic::Attestation,
            Root([2; 32]),
            Bytes::from_static(b"a"),
            7,
        );
        assert_eq!(Origin::read(&env.header).expect("absent"), None);
        Origin(0x1234).write(&mut env.header).expect("write");
        let back = GossipEnvelope::from_frame(&env.to_frame().expect("encode")).expect("decode");
        assert_eq!(
            Origin::read(&back.header).expect("read"),
            Some(Origin(0x1234))
        );
        assert!(Origin(u64::MAX).write(&mut env.header).is_err());
        env.header.extra.insert(ORIGIN_KEY, "me");
        assert!(Origin::read(&env.header).is_err());
    }

    #[test]
    fn hello_advertises_the_overlay() {
        let mut extra = Document::new();
        assert_eq!(overlay_version(&extra).expect("absent"), None);
        advertise_overlay(&mut extra);
        assert_eq!(
            overlay_version(&extra).expect("read"),
            Some(OVERLAY_VERSION)
        );
        extra.insert(HELLO_OVERLAY_KEY, -1i32);
        assert!(overlay_version(&extra).is_err());
    }
}
