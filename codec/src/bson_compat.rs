//! Tolerant readers for the BSON shapes 2019 clients sent, and the strict writers the node uses.
//!
//! Reading accepts integers as int32, int64 or integral double (range-checked: negative, fractional,
//! non-finite or too large is a typed error), hashes as binary (subtype 0, or the old subtype 2) or
//! `"0x…"` hex strings, byte strings as binary or UTF-8 text. Writing follows the spec exactly (see
//! docs/PROTOCOL.md). Handles no messages; used by `rpc` and `gossip`.

use bson::raw::{RawBsonRef, RawDocument};
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Document};

use crate::error::CodecError;

/// Deepest nesting of documents/arrays accepted (the shapes we read nest at most 2 levels; the
/// bound keeps the recursive BSON parser far from the stack limit on hostile input).
pub const MAX_BSON_DEPTH: usize = 32;

/// Parses `bytes` as exactly one BSON document, checking its nesting depth first.
pub fn parse_document(bytes: &[u8], part: &'static str) -> Result<Document, CodecError> {
    let raw = raw_document(bytes, part)?;
    Document::try_from(raw).map_err(|e| CodecError::InvalidBson {
        part,
        reason: e.to_string(),
    })
}

/// Borrows `bytes` as one BSON document after checking its framing and nesting depth.
pub fn raw_document<'a>(
    bytes: &'a [u8],
    part: &'static str,
) -> Result<&'a RawDocument, CodecError> {
    let invalid = |e: bson::error::Error| CodecError::InvalidBson {
        part,
        reason: e.to_string(),
    };
    let raw = RawDocument::from_bytes(bytes).map_err(invalid)?;
    check_depth(raw, part, 1)?;
    Ok(raw)
}

fn check_depth(raw: &RawDocument, part: &'static str, depth: usize) -> Result<(), CodecError> {
    if depth > MAX_BSON_DEPTH {
        return Err(CodecError::BsonTooDeep {
            part,
            max: MAX_BSON_DEPTH,
        });
    }
    for element in raw.iter() {
        let (_, value) = element.map_err(|e| CodecError::InvalidBson {
            part,
            reason: e.to_string(),
        })?;
        match value {
            RawBsonRef::Document(d) => check_depth(d, part, depth + 1)?,
            RawBsonRef::Array(a) => {
                let doc =
                    RawDocument::from_bytes(a.as_bytes()).map_err(|e| CodecError::InvalidBson {
                        part,
                        reason: e.to_string(),
                    })?;
                check_depth(doc, part, depth + 1)?
            }
            RawBsonRef::JavaScriptCodeWithScope(c) => check_depth(c.scope, part, depth + 1)?,
            _ => {}
        }
    }
    Ok(())
}

/// Serialises a document (fails only on keys containing NUL).
pub fn write_document(doc: &Document, what: &'static str) -> Result<Vec<u8>, CodecError> {
    doc.to_vec().map_err(|e| CodecError::Encode {
        what,
        reason: e.to_string(),
    })
}

/// A short name of a BSON value's type, for error messages.
pub fn type_name(value: &Bson) -> String {
    format!("{:?}", value.element_type())
}

/// Reads an unsigned integer no larger than `max` from int32, int64 or an integral double.
pub fn read_uint(value: &Bson, field: &'static str, max: u64) -> Result<u64, CodecError> {
    let out_of_range = |value: String| CodecError::IntegerOutOfRange { field, value, max };
    let v = match value {
        Bson::Int32(v) => u64::try_from(*v).map_err(|_| out_of_range(v.to_string()))?,
        Bson::Int64(v) => u64::try_from(*v).map_err(|_| out_of_range(v.to_string()))?,
        Bson::Double(d) => {
            // 2^64 as f64 is exact; anything at or above it does not fit.
            if !d.is_finite() || d.fract() != 0.0 || *d < 0.0 || *d >= 18_446_744_073_709_551_616.0
            {
                return Err(out_of_range(d.to_string()));
            }
            *d as u64
        }
        other => {
            return Err(CodecError::WrongType {
                field,
                expected: "an integer (int32, int64 or integral double)",
                found: type_name(other),
            })
        }
    };
    if v > max {
        return Err(out_of_range(v.to_string()));
    }
    Ok(v)
}

/// Reads a required unsigned integer field.
pub fn get_uint(doc: &Document, field: &'static str, max: u64) -> Result<u64, CodecError> {
    let value = doc.get(field).ok_or(CodecError::MissingField { field })?;
    read_uint(value, field, max)
}

/// Reads an optional unsigned integer field (`None` when absent or null).
pub fn get_uint_opt(
    doc: &Document,
    field: &'static str,
    max: u64,
) -> Result<Option<u64>, CodecError> {
    match doc.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(value) => read_uint(value, field, max).map(Some),
    }
}

/// Reads a 32-byte hash from binary (subtype 0 or 2) or a hex string (`0x` optional).
pub fn read_hash(value: &Bson, field: &'static str) -> Result<[u8; 32], CodecError> {
    let bytes = read_bytes(value, field, true)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| CodecError::WrongHashLength {
        field,
        len: bytes.len(),
    })
}

/// Reads a required 32-byte hash field.
pub fn get_hash(doc: &Document, field: &'static str) -> Result<[u8; 32], CodecError> {
    let value = doc.get(field).ok_or(CodecError::MissingField { field })?;
    read_hash(value, field)
}

/// Reads bytes from binary (subtype 0 or 2); strings are read as hex when `hex_strings`, else as
/// their UTF-8 bytes.
pub fn read_bytes(
    value: &Bson,
    field: &'static str,
    hex_strings: bool,
) -> Result<Vec<u8>, CodecError> {
    match value {
        Bson::Binary(Binary {
            subtype: BinarySubtype::Generic | BinarySubtype::BinaryOld,
            bytes,
        }) => Ok(bytes.clone()),
        Bson::String(s) if hex_strings => {
            let digits = s
                .strip_prefix("0x")
                .or_else(|| s.strip_prefix("0X"))
                .unwrap_or(s);
            hex::decode(digits).map_err(|e| CodecError::BadHex {
                field,
                reason: e.to_string(),
            })
        }
        Bson::String(s) => Ok(s.as_bytes().to_vec()),
        other => Err(CodecError::WrongType {
            field,
            expected: if hex_strings {
                "binary or a hex string"
            } else {
                "binary or a string"
            },
            found: type_name(other),
        }),
    }
}

/// A BSON binary of subtype 0 (generic), as the node writes hashes and SSZ.
pub fn binary(bytes: impl Into<Vec<u8>>) -> Bson {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Generic,
        bytes: bytes.into(),
    })
}

/// A u64 written as int64 (BSON has no unsigned types); values above `i64::MAX` cannot be written.
pub fn int64(value: u64, what: &'static str) -> Result<Bson, CodecError> {
    i64::try_from(value)
        .map(Bson::Int64)
        .map_err(|_| CodecError::Encode {
            what,
            reason: format!("{value} does not fit a BSON int64"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn integers_in_every_2019_shape() {
        let d = doc! { "a": 5i32, "b": 5i64, "c": 5.0f64, "d": -1i32, "e": 1.5f64, "f": f64::NAN, "g": "5" };
        assert_eq!(get_uint(&d, "a", 10).ok(), Some(5));
        assert_eq!(get_uint(&d, "b", 10).ok(), Some(5));
        assert_eq!(get_uint(&d, "c", 10).ok(), Some(5));
        assert!(matches!(
            get_uint(&d, "d", 10),
            Err(CodecError::IntegerOutOfRange { .. })
        ));
        assert!(matches!(
            get_uint(&d, "e", 10),
            Err(CodecError::IntegerOutOfRange { .. })
        ));
        assert!(matches!(
            get_uint(&d, "f", 10),
            Err(CodecError::IntegerOutOfRange { .. })
        ));
        assert!(matches!(
            get_uint(&d, "g", 10),
            Err(CodecError::WrongType { .. })
        ));
        assert!(matches!(
            get_uint(&d, "a", 4),
            Err(CodecError::IntegerOutOfRange { .. })
        ));
        assert!(matches!(
            get_uint(&d, "zz", 4),
            Err(CodecError::MissingField { .. })
        ));
        let big = doc! { "x": 18_446_744_073_709_551_616.0f64 };
        assert!(get_uint(&big, "x", u64::MAX).is_err());
    }

    #[test]
    fn hashes_as_binary_or_hex() {
        let h = [0xabu8; 32];
        let d = doc! {
            "bin": binary(h.to_vec()),
            "hex": format!("0x{}", hex::encode(h)),
            "bare": hex::encode(h),
            "short": binary(vec![1u8; 31]),
            "nothex": "0xzz",
        };
        assert_eq!(get_hash(&d, "bin").ok(), Some(h));
        assert_eq!(get_hash(&d, "hex").ok(), Some(h));
        assert_eq!(get_hash(&d, "bare").ok(), Some(h));
        assert!(matches!(
            get_hash(&d, "short"),
            Err(CodecError::WrongHashLength { len: 31, .. })
        ));
        assert!(matches!(
            get_hash(&d, "nothex"),
            Err(CodecError::BadHex { .. })
        ));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut d = doc! { "x": 1 };
        for _ in 0..100 {
            d = doc! { "x": d };
        }
        let bytes = d.to_vec().expect("serialise");
        assert!(matches!(
            parse_document(&bytes, "body"),
            Err(CodecError::BsonTooDeep { .. })
        ));
    }

    #[test]
    fn trailing_or_truncated_bytes_are_invalid() {
        let mut bytes = doc! { "a": 1 }.to_vec().expect("serialise");
        bytes.push(0);
        assert!(parse_document(&bytes, "header").is_err());
        bytes.truncate(bytes.len() - 2);
        assert!(parse_document(&bytes, "header").is_err());
    }
}
