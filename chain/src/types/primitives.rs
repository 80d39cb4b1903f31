//! Primitive newtypes of the beacon chain: `Root`, `Slot`, `Epoch`, `Signature`, `BlsPubkey`,
//! `Version`. Each encodes, decodes and tree-hashes exactly like the value it wraps, so it can be a
//! field of an SSZ container. No messages are handled or sent here.

use std::fmt;
use std::str::FromStr;

use tree_hash::{Hash256, PackedEncoding, TreeHash, TreeHashType};

use super::merkle;

/// Implements `ssz::Encode`, `ssz::Decode` and `tree_hash::TreeHash` for a one-field tuple struct by
/// delegating to the wrapped value (SSZ "transparent" behaviour); with `bytes`, the root of the
/// wrapped byte array is computed by the fast `merkle::bytes_root` (same root).
macro_rules! transparent_ssz {
    ($name:ident, $inner:ty) => {
        transparent_ssz!(@codec $name, $inner);
        transparent_ssz!(@tree_hash $name, $inner, |v| v.0.tree_hash_root());
    };
    // A byte vector (`[u8; N]`) whose root is computed by `merkle::bytes_root`: the same root as
    // the generic `[u8; N]` path, without its per-call allocation and byte-by-byte hasher.
    ($name:ident, $inner:ty, bytes) => {
        transparent_ssz!(@codec $name, $inner);
        transparent_ssz!(@tree_hash $name, $inner, |v| Hash256::from(merkle::bytes_root(&v.0)));
    };
    // `TreeHash` delegating to the wrapped value, with `$root` (of `$v: &Self`) as the root.
    (@tree_hash $name:ident, $inner:ty, |$v:ident| $root:expr) => {
        impl TreeHash for $name {
            fn tree_hash_type() -> TreeHashType {
                <$inner as TreeHash>::tree_hash_type()
            }
            fn tree_hash_packed_encoding(&self) -> PackedEncoding {
                self.0.tree_hash_packed_encoding()
            }
            fn tree_hash_packing_factor() -> usize {
                <$inner as TreeHash>::tree_hash_packing_factor()
            }
            fn tree_hash_root(&self) -> Hash256 {
                let $v = self;
                $root
            }
        }
    };
    (@codec $name:ident, $inner:ty) => {
        impl ssz::Encode for $name {
            fn is_ssz_fixed_len() -> bool {
                <$inner as ssz::Encode>::is_ssz_fixed_len()
            }
            fn ssz_fixed_len() -> usize {
                <$inner as ssz::Encode>::ssz_fixed_len()
            }
            fn ssz_bytes_len(&self) -> usize {
                ssz::Encode::ssz_bytes_len(&self.0)
            }
            fn ssz_append(&self, buf: &mut Vec<u8>) {
                ssz::Encode::ssz_append(&self.0, buf)
            }
        }

        impl ssz::Decode for $name {
            fn is_ssz_fixed_len() -> bool {
                <$inner as ssz::Decode>::is_ssz_fixed_len()
            }
            fn ssz_fixed_len() -> usize {
                <$inner as ssz::Decode>::ssz_fixed_len()
            }
            fn from_ssz_bytes(bytes: &[u8]) -> Result<Self, ssz::DecodeError> {
                <$inner as ssz::Decode>::from_ssz_bytes(bytes).map(Self)
            }
        }
    };
}

/// A 32-byte hash: a block's signing_root, an object's hash_tree_root, a state root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Root(pub [u8; 32]);
transparent_ssz!(Root, [u8; 32]);

impl Root {
    /// The all-zero root (used by the protocol as "no root given").
    pub const ZERO: Root = Root([0; 32]);

    /// A root from exactly 32 bytes; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Root> {
        <[u8; 32]>::try_from(bytes).ok().map(Root)
    }

    /// True for the all-zero root.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 32]
    }

    /// The bytes of the root.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<Hash256> for Root {
    fn from(h: Hash256) -> Self {
        Root(h.0)
    }
}

impl From<Root> for Hash256 {
    fn from(r: Root) -> Self {
        Hash256::from(r.0)
    }
}

impl From<[u8; 32]> for Root {
    fn from(b: [u8; 32]) -> Self {
        Root(b)
    }
}

impl AsRef<[u8]> for Root {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root(0x{})", hex::encode(self.0))
    }
}

/// Error parsing a [`Root`] from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid root {input:?}: expected 64 hex digits with an optional 0x prefix")]
pub struct ParseRootError {
    /// The text that failed to parse (truncated to 80 characters).
    pub input: String,
}

impl FromStr for Root {
    type Err = ParseRootError;

    /// Parses 64 hex digits, with or without a `0x` prefix.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseRootError {
            input: s.chars().take(80).collect(),
        };
        let digits = s.strip_prefix("0x").unwrap_or(s);
        let bytes = hex::decode(digits).map_err(|_| err())?;
        Root::from_slice(&bytes).ok_or_else(err)
    }
}

/// A slot number (one block opportunity every SECONDS_PER_SLOT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Slot(pub u64);
transparent_ssz!(Slot, u64);

impl Slot {
    /// The epoch this slot belongs to.
    pub fn epoch(self, slots_per_epoch: u64) -> Epoch {
        Epoch(self.0 / slots_per_epoch.max(1))
    }

    /// The slot as a plain integer.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u64> for Slot {
    fn from(v: u64) -> Self {
        Slot(v)
    }
}

/// An epoch number (SLOTS_PER_EPOCH slots).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Epoch(pub u64);
transparent_ssz!(Epoch, u64);

impl Epoch {
    /// The first slot of this epoch (saturating).
    pub fn start_slot(self, slots_per_epoch: u64) -> Slot {
        Slot(self.0.saturating_mul(slots_per_epoch))
    }

    /// The epoch as a plain integer.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u64> for Epoch {
    fn from(v: u64) -> Self {
        Epoch(v)
    }
}

/// A BLS signature (96 bytes). This node does no BLS: signatures are carried, never checked.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 96]);
transparent_ssz!(Signature, [u8; 96], bytes);

impl Default for Signature {
    fn default() -> Self {
        Signature([0; 96])
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(0x{}..)", hex::encode(&self.0[..8]))
    }
}

/// A BLS public key (48 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlsPubkey(pub [u8; 48]);
transparent_ssz!(BlsPubkey, [u8; 48], bytes);

impl Default for BlsPubkey {
    fn default() -> Self {
        BlsPubkey([0; 48])
    }
}

impl fmt::Debug for BlsPubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlsPubkey(0x{}..)", hex::encode(&self.0[..8]))
    }
}

/// A fork version (4 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Version(pub [u8; 4]);
transparent_ssz!(Version, [u8; 4]);

#[cfg(test)]
mod tests {
    use super::*;
    use ssz::{Decode, Encode};

    #[test]
    fn newtypes_encode_like_their_inner_value() {
        assert_eq!(Slot(7).as_ssz_bytes(), 7u64.as_ssz_bytes());
        assert_eq!(Root([3; 32]).as_ssz_bytes(), vec![3; 32]);
        assert_eq!(Root([3; 32]).tree_hash_root(), [3u8; 32].tree_hash_root());
        assert_eq!(Epoch(9).tree_hash_root(), 9u64.tree_hash_root());
        assert_eq!(Signature([1; 96]).as_ssz_bytes().len(), 96);
        assert!(Root::from_ssz_bytes(&[0; 31]).is_err());
    }

    #[test]
    fn root_text_round_trip() {
        let r = Root([0xab; 32]);
        let text = r.to_string();
        assert!(text.starts_with("0xabab"));
        assert_eq!(text.parse::<Root>(), Ok(r));
        assert!("0x1234".parse::<Root>().is_err());
        assert_eq!(Root::from_slice(&[1; 32]), Some(Root([1; 32])));
        assert_eq!(Root::from_slice(&[1; 33]), None);
    }

    #[test]
    fn slot_epoch_conversion() {
        assert_eq!(Slot(17).epoch(8), Epoch(2));
        assert_eq!(Epoch(2).start_slot(8), Slot(16));
        assert_eq!(Slot(5).epoch(0), Epoch(5));
    }
}
