//! BSON shape checks the codec does not expose: which BSON type each integer field and each hash
//! field was written with, compared with the spec's types (uint8/uint16 written as int32, uint64 as
//! int64, hashes as 32 bytes of binary). Works on `bson::Document`s parsed by the codec's
//! depth-checked reader. Plain functions; no messages handled or sent.

use bson::{Bson, Document};

use super::deviation::{Deviation, DeviationCode};

/// The BSON integer type a spec integer type is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntWidth {
    /// uint8 / uint16: int32 holds every value.
    Int32,
    /// uint64: int64 (BSON has no unsigned type).
    Int64,
}

/// Which part of a frame a document came from (for messages and for the `id`/`method_id` codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// An RPC or GOSSIP header.
    Header,
    /// An RPC body document (nested under `body` or flat).
    Body,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Body => "body",
        }
    }
}

/// Integer fields of the spec's headers and RPC bodies: name, spec type, BSON type expected.
const INT_FIELDS: [(&str, &str, IntWidth); 12] = [
    ("method_id", "uint16", IntWidth::Int32),
    ("id", "uint64", IntWidth::Int64),
    ("timestamp", "uint64", IntWidth::Int64),
    ("network_id", "uint8", IntWidth::Int32),
    ("chain_id", "uint8", IntWidth::Int32),
    ("direction", "uint8", IntWidth::Int32),
    ("latest_finalized_epoch", "uint64", IntWidth::Int64),
    ("best_slot", "uint64", IntWidth::Int64),
    ("reason", "uint64", IntWidth::Int64),
    ("start_slot", "uint64", IntWidth::Int64),
    ("max", "uint64", IntWidth::Int64),
    ("skip", "uint64", IntWidth::Int64),
];

/// Fields the spec types `bytes32`.
const HASH_FIELDS: [&str; 5] = [
    "latest_finalized_root",
    "best_root",
    "start_root",
    "hash",
    "message_hash",
];

/// A short BSON type name (`int32`, `int64`, `double`, `string`, `binary`, ...).
pub fn bson_type_name(value: &Bson) -> &'static str {
    match value {
        Bson::Int32(_) => "int32",
        Bson::Int64(_) => "int64",
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Binary(_) => "binary",
        Bson::Document(_) => "document",
        Bson::Array(_) => "array",
        Bson::Boolean(_) => "bool",
        Bson::Null => "null",
        _ => "other",
    }
}

/// Appends a deviation for each known integer field in a BSON type other than its spec type's
/// and each hash field written as a string. Fields of a wholly wrong type (a string for an
/// integer) are left to the decoder, which reports them as `BAD_MESSAGE`.
pub fn check_field_types(doc: &Document, part: Part, out: &mut Vec<Deviation>) {
    for (key, value) in doc {
        if let Some((_, spec, width)) = INT_FIELDS.iter().find(|(name, _, _)| name == key) {
            let fits = matches!(
                (width, value),
                (IntWidth::Int32, Bson::Int32(_)) | (IntWidth::Int64, Bson::Int64(_))
            );
            if !fits && matches!(value, Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_)) {
                let code = match (part, key.as_str()) {
                    (Part::Header, "id") => DeviationCode::IdType,
                    (_, "method_id") => DeviationCode::MethodIdType,
                    _ => DeviationCode::IntType,
                };
                let want = match width {
                    IntWidth::Int32 => "int32",
                    IntWidth::Int64 => "int64",
                };
                out.push(Deviation::new(
                    code,
                    format!(
                        "{} `{key}` is a BSON {} ({}); the spec's {spec} is written as {want}",
                        part.name(),
                        bson_type_name(value),
                        short_value(value),
                    ),
                ));
            }
        }
        if HASH_FIELDS.contains(&key.as_str()) {
            if let Bson::String(s) = value {
                out.push(Deviation::new(
                    DeviationCode::HexHash,
                    format!(
                        "{} `{key}` is the string {:?}, not 32 bytes of binary",
                        part.name(),
                        shorten(s, 20)
                    ),
                ));
            }
        }
    }
}

fn short_value(value: &Bson) -> String {
    match value {
        Bson::Int32(v) => v.to_string(),
        Bson::Int64(v) => v.to_string(),
        Bson::Double(v) => v.to_string(),
        other => bson_type_name(other).to_string(),
    }
}

/// The first `max` characters of `s`, with `…` when cut.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn codes(doc: &Document, part: Part) -> Vec<DeviationCode> {
        let mut out = Vec::new();
        check_field_types(doc, part, &mut out);
        out.into_iter().map(|d| d.code).collect()
    }

    #[test]
    fn spec_types_pass() {
        let d = doc! { "method_id": 0i32, "id": 1i64, "extra": "x" };
        assert!(codes(&d, Part::Header).is_empty());
        let b = doc! { "network_id": 1i32, "best_slot": 5i64, "best_root": bson::Binary {
        subtype: bson::spec::BinarySubtype::Generic, bytes: vec![0; 32] } };
        assert!(codes(&b, Part::Body).is_empty());
    }

    #[test]
    fn integer_types_are_flagged_by_field() {
        let d = doc! { "method_id": 0i64, "id": 1i32 };
        assert_eq!(
            codes(&d, Part::Header),
            vec![DeviationCode::MethodIdType, DeviationCode::IdType]
        );
        let d = doc! { "method_id": 0.0f64, "id": 1.5e15f64 };
        assert_eq!(
            codes(&d, Part::Header),
            vec![DeviationCode::MethodIdType, DeviationCode::IdType]
        );
        let b = doc! { "best_slot": 0i32, "network_id": 1i64, "id": 3i32 };
        assert_eq!(codes(&b, Part::Body), vec![DeviationCode::IntType; 3]);
    }

    #[test]
    fn hex_hashes_and_wrong_kinds() {
        let d = doc! { "message_hash": "0x9d68", "hash": "0x00", "timestamp": "soon" };
        assert_eq!(
            codes(&d, Part::Header),
            vec![DeviationCode::HexHash, DeviationCode::HexHash]
        );
        assert_eq!(shorten("abcdef", 3), "abc…");
    }
}
