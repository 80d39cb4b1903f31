//! Fast SSZ merkleization for the roots this node computes on every block and attestation:
//! `hash_pair` (one SHA-256 of two 32-byte nodes), a table of zero-subtree roots, `merkleize`
//! (chunks padded with zero subtrees to a power-of-two limit, hashing only the non-zero part), and
//! the root of an empty list of a given limit. They give the same roots as `tree_hash`'s
//! `MerkleHasher`, with fewer hashes: a zero subtree is looked up, not recomputed (an empty
//! `List[T, 4096]` costs no hash instead of 13), and no allocation or byte copying. No messages
//! are handled or sent here.

use std::sync::OnceLock;

use sha2::digest::generic_array::GenericArray;
use sha2::digest::typenum::U64;

/// A 32-byte node of a Merkle tree.
pub(crate) type Chunk = [u8; 32];

/// Deepest zero subtree in the table: enough for any list limit up to 2^40 chunks.
const MAX_ZERO_DEPTH: usize = 40;

/// SHA-256 initial state (FIPS 180-4, 5.3.3).
const SHA256_H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The padding block of a 64-byte message: `0x80`, zeros, then the bit length 512 big-endian.
const PAD_64: [u8; 64] = {
    let mut b = [0u8; 64];
    b[0] = 0x80;
    b[62] = 0x02;
    b
};

/// SHA-256 of `left ‖ right`: the two compressions of a 64-byte message (the data block and the
/// constant padding block) in one call of `sha2`'s block function (SHA-NI when the CPU has it),
/// without a streaming context's buffering.
pub(crate) fn hash_pair(left: &Chunk, right: &Chunk) -> Chunk {
    let mut data = GenericArray::<u8, U64>::default();
    data[..32].copy_from_slice(left);
    data[32..].copy_from_slice(right);
    let mut state = SHA256_H0;
    sha2::compress256(&mut state, &[data, GenericArray::from(PAD_64)]);
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// The root of a subtree of `2^depth` zero chunks (`depth` ≤ 40).
pub(crate) fn zero_hash(depth: usize) -> &'static Chunk {
    static TABLE: OnceLock<[Chunk; MAX_ZERO_DEPTH + 1]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [[0u8; 32]; MAX_ZERO_DEPTH + 1];
        for d in 1..=MAX_ZERO_DEPTH {
            t[d] = hash_pair(&t[d - 1], &t[d - 1]);
        }
        t
    });
    &table[depth.min(MAX_ZERO_DEPTH)]
}

/// Depth of a tree with room for `limit` leaves: ceil(log2(limit)), 0 for 0 or 1 leaf.
pub(crate) const fn depth_for(limit: usize) -> usize {
    if limit <= 1 {
        0
    } else {
        (usize::BITS - (limit - 1).leading_zeros()) as usize
    }
}

/// The Merkle root of `chunks` as the first leaves of a tree of `2^depth` leaves, the rest zero.
/// Works in place: `chunks` is scratch space afterwards. `chunks.len()` must be ≤ `2^depth`
/// (more chunks than leaves is a caller bug; the extra chunks are then hashed as if the tree
/// were deeper, never silently dropped).
pub(crate) fn merkleize_in_place(chunks: &mut [Chunk], depth: usize) -> Chunk {
    debug_assert!(depth >= MAX_ZERO_DEPTH || chunks.len() <= 1usize << depth);
    let mut n = chunks.len();
    if n == 0 {
        return *zero_hash(depth);
    }
    for level in 0..depth {
        let pairs = n / 2;
        for i in 0..pairs {
            chunks[i] = hash_pair(&chunks[2 * i], &chunks[2 * i + 1]);
        }
        if n % 2 == 1 {
            chunks[pairs] = hash_pair(&chunks[n - 1], zero_hash(level));
            n = pairs + 1;
        } else {
            n = pairs;
        }
    }
    chunks[0]
}

/// The root of up to 16 field roots as a container of those fields (padded to a power of two).
pub(crate) fn container_root(fields: &[Chunk]) -> Chunk {
    let mut buf = [[0u8; 32]; 16];
    assert!(
        fields.len() <= buf.len(),
        "containers here have at most 16 fields"
    );
    buf[..fields.len()].copy_from_slice(fields);
    merkleize_in_place(&mut buf[..fields.len()], depth_for(fields.len()))
}

/// The root of a byte vector of `N` bytes (`N` ≤ 512): its bytes packed into 32-byte chunks, the
/// last one zero-padded, merkleized to the next power of two of the chunk count.
pub(crate) fn bytes_root<const N: usize>(bytes: &[u8; N]) -> Chunk {
    let mut buf = [[0u8; 32]; 16];
    let count = N.div_ceil(32);
    assert!(
        count <= buf.len(),
        "byte vectors here are at most 512 bytes"
    );
    for (chunk, src) in buf.iter_mut().zip(bytes.chunks(32)) {
        chunk[..src.len()].copy_from_slice(src);
    }
    merkleize_in_place(&mut buf[..count], depth_for(count))
}

/// `hash(root ‖ length as a little-endian uint256)`: the root of an SSZ list from the root of its
/// contents.
pub(crate) fn mix_in_length(root: &Chunk, length: usize) -> Chunk {
    let mut len = [0u8; 32];
    len[..8].copy_from_slice(&(length as u64).to_le_bytes());
    hash_pair(root, &len)
}

/// The root of an empty SSZ list whose contents have room for `limit_chunks` chunks.
/// Looked up in a table built once (no hashing per call).
pub(crate) fn empty_list_root(limit_chunks: usize) -> Chunk {
    static TABLE: OnceLock<[Chunk; MAX_ZERO_DEPTH + 1]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [[0u8; 32]; MAX_ZERO_DEPTH + 1];
        for (d, root) in t.iter_mut().enumerate() {
            *root = mix_in_length(zero_hash(d), 0);
        }
        t
    });
    table[depth_for(limit_chunks).min(MAX_ZERO_DEPTH)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tree_hash::TreeHash;

    #[test]
    fn hash_pair_is_sha256_of_the_concatenation() {
        use sha2::{Digest, Sha256};
        for (l, r) in [
            ([0u8; 32], [0u8; 32]),
            ([1; 32], [0xff; 32]),
            ([0x80; 32], [7; 32]),
        ] {
            let expected: Chunk = Sha256::digest([l, r].concat()).into();
            assert_eq!(hash_pair(&l, &r), expected);
        }
    }

    #[test]
    fn depth_for_limits() {
        assert_eq!(depth_for(0), 0);
        assert_eq!(depth_for(1), 0);
        assert_eq!(depth_for(2), 1);
        assert_eq!(depth_for(3), 2);
        assert_eq!(depth_for(16), 4);
        assert_eq!(depth_for(17), 5);
        assert_eq!(depth_for(4096), 12);
    }

    #[test]
    fn zero_hashes_match_merkle_root_of_zeros() {
        for d in 0..6 {
            let zeros = vec![0u8; 32 << d];
            assert_eq!(
                zero_hash(d),
                &tree_hash::merkle_root(&zeros, 1 << d).0,
                "depth {d}"
            );
        }
    }

    #[test]
    fn empty_list_root_matches_tree_hash() {
        use ssz_types::typenum::{U128, U16, U4096};
        use ssz_types::VariableList;
        let l16: VariableList<[u8; 32], U16> = VariableList::empty();
        let l128: VariableList<[u8; 32], U128> = VariableList::empty();
        let l4096: VariableList<[u8; 32], U4096> = VariableList::empty();
        assert_eq!(empty_list_root(16), l16.tree_hash_root().0);
        assert_eq!(empty_list_root(128), l128.tree_hash_root().0);
        assert_eq!(empty_list_root(4096), l4096.tree_hash_root().0);
    }

    fn generic_bytes_root<const N: usize>(bytes: &[u8; N]) -> Chunk {
        bytes.tree_hash_root().0
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn bytes_root_matches_generic_path(
            b96 in proptest::collection::vec(any::<u8>(), 96),
            b48 in proptest::collection::vec(any::<u8>(), 48),
            b32 in proptest::collection::vec(any::<u8>(), 32),
            b4 in proptest::collection::vec(any::<u8>(), 4),
        ) {
            let b96: [u8; 96] = b96.try_into().expect("sized by the strategy");
            let b48: [u8; 48] = b48.try_into().expect("sized by the strategy");
            let b32: [u8; 32] = b32.try_into().expect("sized by the strategy");
            let b4: [u8; 4] = b4.try_into().expect("sized by the strategy");
            prop_assert_eq!(bytes_root(&b96), generic_bytes_root(&b96));
            prop_assert_eq!(bytes_root(&b48), generic_bytes_root(&b48));
            prop_assert_eq!(bytes_root(&b32), generic_bytes_root(&b32));
            prop_assert_eq!(bytes_root(&b4), generic_bytes_root(&b4));
        }

        #[test]
        fn merkleize_matches_merkle_root(
            chunks in proptest::collection::vec(any::<[u8; 32]>(), 0..20),
            extra_depth in 0usize..4,
        ) {
            let depth = depth_for(chunks.len()) + extra_depth;
            let flat: Vec<u8> = chunks.concat();
            let expected = tree_hash::merkle_root(&flat, 1 << depth).0;
            let mut scratch = chunks.clone();
            prop_assert_eq!(merkleize_in_place(&mut scratch, depth), expected);
        }
    }
}
