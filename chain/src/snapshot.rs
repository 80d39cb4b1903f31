//! Snapshots: the store's blocks (or the chain up to a slot) and its finalized checkpoint in one
//! file, and a store rebuilt from it. Loading validates everything and never panics on a corrupt
//! file. No messages are handled or sent here.
//!
//! File format, version 1 (integers big-endian, like EWP frames):
//! ```text
//! magic          8 bytes   "HOBSNAP\0"
//! version        u32       1
//! finalized      u64 epoch, 32-byte root
//! block_count    u64
//! blocks         block_count × (u32 length, SSZ BeaconBlock), parents before children
//!                (ascending slot); the first block is the genesis block
//! checksum       32 bytes  sha256 of every byte before it
//! ```
//! Bounds: a block is at most [`MAX_SNAPSHOT_BLOCK_LEN`] bytes, a file at most
//! [`MAX_SNAPSHOT_FILE_LEN`]; the block count is checked against the bytes present before any
//! allocation.

use std::path::Path;

use sha2::{Digest, Sha256};
use ssz::{Decode, Encode};

use crate::error::ChainError;
use crate::store::{ChainRead, ChainStore, MemoryStore, StoreConfig};
use crate::types::{BeaconBlock, Checkpoint, Epoch, Root, Slot};

/// The 8 magic bytes opening a snapshot.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"HOBSNAP\0";
/// The format version written.
pub const SNAPSHOT_VERSION: u32 = 1;
/// Largest SSZ block accepted in a snapshot.
pub const MAX_SNAPSHOT_BLOCK_LEN: usize = 1 << 20;
/// Largest snapshot file read.
pub const MAX_SNAPSHOT_FILE_LEN: u64 = 1 << 32;

const HEADER_LEN: usize = 8 + 4 + 8 + 32 + 8;
const CHECKSUM_LEN: usize = 32;

/// Why a snapshot could not be read or applied.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading or writing the file failed.
    #[error("snapshot i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The file is larger than [`MAX_SNAPSHOT_FILE_LEN`].
    #[error("snapshot is {len} bytes, more than the {max} allowed")]
    FileTooLarge {
        /// File length.
        len: u64,
        /// The bound.
        max: u64,
    },
    /// The file does not start with the magic bytes.
    #[error("not a hobbits snapshot (bad magic)")]
    BadMagic,
    /// A version this code does not read.
    #[error("unsupported snapshot version {found} (this build reads {SNAPSHOT_VERSION})")]
    UnsupportedVersion {
        /// Version found in the file.
        found: u32,
    },
    /// The file ends before a field it announces.
    #[error("snapshot truncated: {needed} bytes needed at offset {at}, file is {len} bytes")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Offset where they were needed.
        at: usize,
        /// File length.
        len: usize,
    },
    /// The checksum does not match the content.
    #[error("snapshot checksum mismatch (corrupt file)")]
    ChecksumMismatch,
    /// A block length over [`MAX_SNAPSHOT_BLOCK_LEN`].
    #[error("block {index} is {len} bytes, more than the {max} allowed")]
    BlockTooLarge {
        /// Index of the block in the file.
        index: u64,
        /// Its announced length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A block is not valid SSZ.
    #[error("block {index} is not a valid SSZ BeaconBlock: {reason}")]
    BadBlock {
        /// Index of the block in the file.
        index: u64,
        /// The decoder's complaint.
        reason: String,
    },
    /// Bytes left between the last block and the checksum.
    #[error("{extra} unexpected bytes after the last block")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// No blocks at all.
    #[error("snapshot holds no blocks (a genesis block is required)")]
    Empty,
    /// The store refused a block or the checkpoint.
    #[error("block {index}: {source}")]
    Chain {
        /// Index of the block in the file (`u64::MAX` for the finalized checkpoint).
        index: u64,
        /// The store's refusal.
        source: ChainError,
    },
}

/// The content of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The finalized checkpoint to restore.
    pub finalized: Checkpoint,
    /// Blocks, genesis first, parents before children.
    pub blocks: Vec<BeaconBlock>,
}

impl Snapshot {
    /// The store's blocks with slot ≤ `up_to` (all when `None`) and its finalized checkpoint; when
    /// the finalized block lies after `up_to`, genesis (epoch 0) is recorded as finalized.
    pub fn from_store<S: ChainRead + ?Sized>(store: &S, up_to: Option<Slot>) -> Snapshot {
        let max_slot = up_to.unwrap_or(Slot(u64::MAX));
        let blocks = store.blocks_in_slot_order(max_slot);
        let finalized = store.finalized_checkpoint();
        let finalized_slot = store.header(&finalized.root).map(|h| h.slot);
        let finalized = if finalized_slot.is_some_and(|s| s <= max_slot) {
            finalized
        } else {
            Checkpoint {
                epoch: Epoch(0),
                root: store.genesis_root(),
            }
        };
        Snapshot { finalized, blocks }
    }

    /// The file bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.blocks.len() * 240 + CHECKSUM_LEN);
        out.extend_from_slice(&SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&self.finalized.epoch.0.to_be_bytes());
        out.extend_from_slice(&self.finalized.root.0);
        out.extend_from_slice(&(self.blocks.len() as u64).to_be_bytes());
        for block in &self.blocks {
            let bytes = block.as_ssz_bytes();
            out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(&bytes);
        }
        let checksum: [u8; 32] = Sha256::digest(&out).into();
        out.extend_from_slice(&checksum);
        out
    }

    /// Parses and validates file bytes.
    pub fn decode(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(8)? != SNAPSHOT_MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        let version = u32::from_be_bytes(r.array()?);
        if version != SNAPSHOT_VERSION {
            return Err(SnapshotError::UnsupportedVersion { found: version });
        }
        if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
            return Err(SnapshotError::Truncated {
                needed: HEADER_LEN + CHECKSUM_LEN,
                at: 0,
                len: bytes.len(),
            });
        }
        let (content, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if Sha256::digest(content).as_slice() != checksum {
            return Err(SnapshotError::ChecksumMismatch);
        }
        let mut r = Reader {
            bytes: content,
            at: r.at,
        };
        let epoch = Epoch(u64::from_be_bytes(r.array()?));
        let root = Root(r.array()?);
        let count = u64::from_be_bytes(r.array()?);
        // Each block needs at least its 4-byte length: bound the count before allocating.
        let room = (content.len() - r.at) as u64 / 4;
        if count > room {
            return Err(SnapshotError::Truncated {
                needed: usize::try_from(count.saturating_mul(4)).unwrap_or(usize::MAX),
                at: r.at,
                len: bytes.len(),
            });
        }
        let mut blocks = Vec::with_capacity(count as usize);
        for index in 0..count {
            let len = u32::from_be_bytes(r.array()?) as usize;
            if len > MAX_SNAPSHOT_BLOCK_LEN {
                return Err(SnapshotError::BlockTooLarge {
                    index,
                    len,
                    max: MAX_SNAPSHOT_BLOCK_LEN,
                });
            }
            let block =
                BeaconBlock::from_ssz_bytes(r.take(len)?).map_err(|e| SnapshotError::BadBlock {
                    index,
                    reason: format!("{e:?}"),
                })?;
            blocks.push(block);
        }
        if r.at != content.len() {
            return Err(SnapshotError::TrailingBytes {
                extra: content.len() - r.at,
            });
        }
        Ok(Snapshot {
            finalized: Checkpoint { epoch, root },
            blocks,
        })
    }

    /// Rebuilds a store: the first block is genesis, the others are imported in order (with the
    /// finality rule paused so forks are kept), then the recorded finalized checkpoint is set.
    pub fn into_store(self, config: StoreConfig) -> Result<MemoryStore, SnapshotError> {
        let mut blocks = self.blocks.into_iter();
        let genesis = blocks.next().ok_or(SnapshotError::Empty)?;
        let mut store = MemoryStore::new(genesis, config)
            .map_err(|source| SnapshotError::Chain { index: 0, source })?;
        store.freeze_finality(true);
        for (i, block) in blocks.enumerate() {
            store
                .import_block(block)
                .map_err(|source| SnapshotError::Chain {
                    index: i as u64 + 1,
                    source,
                })?;
        }
        store.freeze_finality(false);
        store
            .set_finalized(self.finalized)
            .map_err(|source| SnapshotError::Chain {
                index: u64::MAX,
                source,
            })?;
        Ok(store)
    }

    /// Writes the snapshot to `path`.
    pub fn write_file(&self, path: &Path) -> Result<(), SnapshotError> {
        std::fs::write(path, self.encode())?;
        Ok(())
    }

    /// Reads and validates a snapshot file.
    pub fn read_file(path: &Path) -> Result<Snapshot, SnapshotError> {
        let len = std::fs::metadata(path)?.len();
        if len > MAX_SNAPSHOT_FILE_LEN {
            return Err(SnapshotError::FileTooLarge {
                len,
                max: MAX_SNAPSHOT_FILE_LEN,
            });
        }
        Snapshot::decode(&std::fs::read(path)?)
    }
}

/// A bounds-checked cursor.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let Some(end) = end else {
            return Err(SnapshotError::Truncated {
                needed: n,
                at: self.at,
                len: self.bytes.len(),
            });
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesis::GenesisConfig;
    use crate::producer::BlockProducer;
    use std::time::Duration;

    fn sample_store() -> MemoryStore {
        let config =
            GenesisConfig::new(3, 1, Duration::from_secs(1_600_000_000), None).expect("valid");
        let mut store = config.memory_store(StoreConfig::default()).expect("store");
        let alice = BlockProducer::new("alice", 0);
        for slot in 1..=40u64 {
            if slot % 7 == 0 {
                continue;
            }
            let b = alice.produce_on_head(&store, Slot(slot)).expect("block");
            store.import_block(b).expect("import");
        }
        // A fork from the head's grandparent that stays a fork.
        let head = store.head();
        let parent = store.header(&head.root).expect("head").parent_root;
        let grand = store.header(&parent).expect("parent").parent_root;
        let grand_header = store.header(&grand).expect("grand");
        let fork = BlockProducer::new("bob", 1)
            .produce_block(&grand_header, Slot(grand_header.slot.0 + 1))
            .expect("fork");
        store.import_block(fork).expect("fork kept");
        store
    }

    #[test]
    fn round_trip_keeps_every_block_and_the_finalized_checkpoint() {
        let store = sample_store();
        assert!(store.finalized_checkpoint().epoch >= Epoch(2));
        let dir = std::env::temp_dir().join(format!("hobbits-snap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("chain.snap");
        Snapshot::from_store(&store, None)
            .write_file(&path)
            .expect("write");
        let loaded = Snapshot::read_file(&path)
            .expect("read")
            .into_store(StoreConfig::default())
            .expect("rebuild");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(loaded.block_count(), store.block_count());
        assert_eq!(
            loaded.blocks_in_slot_order(Slot(u64::MAX)),
            store.blocks_in_slot_order(Slot(u64::MAX))
        );
        assert_eq!(loaded.finalized_checkpoint(), store.finalized_checkpoint());
        assert_eq!(loaded.head(), store.head());
        assert_eq!(loaded.genesis_root(), store.genesis_root());
        assert_eq!(
            loaded.block_roots(Slot(0), 100),
            store.block_roots(Slot(0), 100)
        );
    }

    #[test]
    fn chain_up_to_a_slot() {
        let store = sample_store();
        let snap = Snapshot::from_store(&store, Some(Slot(20)));
        assert!(snap.blocks.iter().all(|b| b.slot <= Slot(20)));
        let loaded = snap.into_store(StoreConfig::default()).expect("rebuild");
        assert!(loaded.head().slot <= Slot(20));
        assert_eq!(
            loaded.block_roots(Slot(0), 21),
            store.block_roots(Slot(0), 21)
        );
    }

    #[test]
    fn corrupt_files_are_errors_never_panics() {
        let bytes = Snapshot::from_store(&sample_store(), None).encode();
        assert!(matches!(
            Snapshot::decode(b"nope"),
            Err(SnapshotError::Truncated { .. })
        ));
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert!(matches!(
            Snapshot::decode(&magic),
            Err(SnapshotError::BadMagic)
        ));
        let mut version = bytes.clone();
        version[11] = 9;
        assert!(matches!(
            Snapshot::decode(&version),
            Err(SnapshotError::UnsupportedVersion { found: 9 })
        ));
        let mut flipped = bytes.clone();
        flipped[500] ^= 1;
        assert!(matches!(
            Snapshot::decode(&flipped),
            Err(SnapshotError::ChecksumMismatch)
        ));
        // Every truncation is an error.
        for cut in (0..bytes.len()).step_by(97) {
            assert!(Snapshot::decode(&bytes[..cut]).is_err(), "cut {cut}");
        }
        // A huge block count with a valid checksum: refused before allocating.
        let mut huge = bytes[..HEADER_LEN].to_vec();
        huge[52..60].copy_from_slice(&u64::MAX.to_be_bytes());
        let sum: [u8; 32] = Sha256::digest(&huge).into();
        huge.extend_from_slice(&sum);
        assert!(matches!(
            Snapshot::decode(&huge),
            Err(SnapshotError::Truncated { .. })
        ));
        // A block that is not SSZ, with a valid checksum.
        let mut bad = bytes[..HEADER_LEN].to_vec();
        bad[52..60].copy_from_slice(&1u64.to_be_bytes());
        bad.extend_from_slice(&3u32.to_be_bytes());
        bad.extend_from_slice(&[1, 2, 3]);
        let sum: [u8; 32] = Sha256::digest(&bad).into();
        bad.extend_from_slice(&sum);
        assert!(matches!(
            Snapshot::decode(&bad),
            Err(SnapshotError::BadBlock { index: 0, .. })
        ));
        // An empty block list decodes but cannot make a store.
        let mut empty = bytes[..HEADER_LEN].to_vec();
        empty[52..60].copy_from_slice(&0u64.to_be_bytes());
        let sum: [u8; 32] = Sha256::digest(&empty).into();
        empty.extend_from_slice(&sum);
        let snap = Snapshot::decode(&empty).expect("well formed");
        assert!(matches!(
            snap.into_store(StoreConfig::default()),
            Err(SnapshotError::Empty)
        ));
    }

    #[test]
    fn a_block_without_its_parent_is_reported() {
        let mut snap = Snapshot::from_store(&sample_store(), None);
        snap.blocks.remove(3);
        let err = snap.into_store(StoreConfig::default()).expect_err("gap");
        assert!(matches!(
            err,
            SnapshotError::Chain {
                source: ChainError::UnknownParent { .. },
                ..
            }
        ));
    }
}
