//! The `snapshot_decode` target: `Snapshot::decode` of chain snapshot files, then rebuilding a
//! store from what decodes. Handles no messages.
//!
//! Input layout: `[mode] [bytes...]`.
//! - mode bit 0 clear: `bytes` is the whole file (the fuzzer must get past the SHA-256 checksum,
//!   so this mostly exercises the header checks);
//! - mode bit 0 set: `bytes` is the content after magic and version; the harness adds the magic,
//!   version 1 and a valid checksum, so the fuzzer reaches the block list and block SSZ.
//!
//! Invariants: a decoded snapshot encodes back to exactly the file; snapshots of at most
//! [`MAX_BLOCKS_TO_IMPORT`] blocks are rebuilt into a `MemoryStore` (an error or a store, no panic),
//! and a rebuilt store has at most that many blocks.

use hobbits_chain::snapshot::{SNAPSHOT_MAGIC, SNAPSHOT_VERSION};
use hobbits_chain::{ChainRead, Snapshot, StoreConfig};
use sha2::{Digest, Sha256};

/// Largest snapshot rebuilt into a store per input (import is the slow part).
pub const MAX_BLOCKS_TO_IMPORT: usize = 16;

/// Wraps snapshot content (everything after the version) into a file with a valid checksum.
pub fn with_checksum(content: &[u8]) -> Vec<u8> {
    let mut file = Vec::with_capacity(12 + content.len() + 32);
    file.extend_from_slice(&SNAPSHOT_MAGIC);
    file.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
    file.extend_from_slice(content);
    let sum: [u8; 32] = Sha256::digest(&file).into();
    file.extend_from_slice(&sum);
    file
}

/// The `snapshot_decode` check (see the module doc).
pub fn check(data: &[u8]) {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let file = if mode & 1 == 0 {
        bytes.to_vec()
    } else {
        with_checksum(bytes)
    };
    let Ok(snapshot) = Snapshot::decode(&file) else {
        return;
    };
    assert_eq!(
        hex::encode(snapshot.encode()),
        hex::encode(&file),
        "snapshot does not encode back to its file"
    );
    let count = snapshot.blocks.len();
    if count <= MAX_BLOCKS_TO_IMPORT {
        if let Ok(store) = snapshot.into_store(StoreConfig::default()) {
            assert!(store.block_count() <= count);
            let head = store.head();
            assert!(store.header(&head.root).is_some(), "head block missing");
        }
    }
}
