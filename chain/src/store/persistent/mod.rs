//! `PersistentStore`: a [`ChainStore`] whose blocks and chain indexes live in an embedded redb
//! database, so a node restarted with the same data directory resumes where it stopped. No
//! messages are handled or sent here: the actors crate wraps any store in an actor.
//!
//! Design (docs/PROTOCOL.md, "Persistence"):
//! - a [`MemoryStore`] is the in-memory index and serves every read; the database is written
//!   through;
//! - an import is first *planned* on the memory store (all checks, the new head, the canonical
//!   chain change, finality) without changing it; the plan is written in ONE redb write
//!   transaction (block, hash_tree_root index, canonical entries, head, finalized checkpoint) and
//!   committed; only then is the same plan applied in memory. A failed write or commit returns
//!   [`ChainError::Storage`] and leaves memory unchanged; a crash at any point leaves the block
//!   either fully stored or absent;
//! - [`ChainStore::import_blocks`] imports a batch in one transaction (for sync); on a failed
//!   commit every block of the batch is taken back from memory;
//! - attestations and states are memory-only (gossip objects and test data, bounded FIFO caches);
//! - opening rebuilds the memory index from the stored blocks and checks it against the stored
//!   head, finalized checkpoint and indexes (see `load.rs`).

mod error;
mod load;
mod schema;

pub use error::PersistError;
pub use schema::SCHEMA_VERSION;

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use redb::{Database, Durability};
use ssz::Encode;

use self::error::DbContext;
use crate::error::ChainError;
use crate::genesis::Genesis;
use crate::store::{
    AttestationImported, ChainRead, ChainStore, ImportOutcome, MemoryStore, ReadThrough,
    StoreConfig,
};
use crate::types::{Attestation, BeaconBlock, BeaconBlockHeader, BeaconState, HashedBlock, Root};

/// File name of the chain database inside a data directory.
pub const CHAIN_DB_FILE: &str = "chain.redb";

/// When a commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitDurability {
    /// Every commit is fsynced before the import returns (the default): nothing acknowledged is
    /// lost on a crash or power cut.
    #[default]
    Immediate,
    /// Commits are not fsynced until [`PersistentStore::flush`] (or a later `Immediate` commit):
    /// a crash may lose the imports since then, but the database stays consistent. For tests
    /// and benchmarks.
    Deferred,
}

/// A chain store persisted in a redb database file.
pub struct PersistentStore {
    db: Database,
    path: PathBuf,
    memory: MemoryStore,
    durability: CommitDurability,
}

impl std::fmt::Debug for PersistentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistentStore")
            .field("path", &self.path)
            .field("blocks", &self.memory.block_count())
            .field("head", &self.memory.head())
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl PersistentStore {
    /// Opens the database at `path`, creating it (holding only `genesis`) when the file is new
    /// or empty. An existing database must belong to the same genesis and slots-per-epoch; its
    /// blocks are loaded and checked. The genesis state is kept in memory.
    pub fn open(
        path: impl AsRef<Path>,
        genesis: &Genesis,
        config: StoreConfig,
    ) -> Result<Self, PersistError> {
        config.validate()?;
        let path = path.as_ref().to_path_buf();
        // redb 2.6 asserts (panics) on some truncated or corrupt files instead of returning an
        // error; a bad file must never bring the node down, so opening runs inside
        // `catch_unwind` and a panic becomes `PersistError::CorruptFile`.
        let opened = panic::catch_unwind(AssertUnwindSafe(|| {
            Self::open_unchecked(&path, genesis, config)
        }));
        opened.unwrap_or_else(|payload| {
            let reason = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "database engine panicked".to_string());
            tracing::error!(path = %path.display(), %reason, "corrupt chain database");
            Err(PersistError::CorruptFile { path, reason })
        })
    }

    fn open_unchecked(
        path: &Path,
        genesis: &Genesis,
        config: StoreConfig,
    ) -> Result<Self, PersistError> {
        let path = path.to_path_buf();
        let db = Database::builder()
            .create_with_file_format_v3(true)
            .create(&path)
            .map_err(|source| PersistError::Open {
                path: path.clone(),
                source: Box::new(source),
            })?;
        let mut memory = if load::is_empty(&db)? {
            let memory = MemoryStore::new(genesis.block.clone(), config)?;
            load::initialise(&db, &memory)?;
            memory
        } else {
            load::rebuild(&db, genesis, config)?
        };
        memory.insert_state(genesis.state.clone());
        tracing::info!(
            path = %path.display(),
            blocks = memory.block_count(),
            head_slot = %memory.head().slot,
            "chain database opened"
        );
        Ok(PersistentStore {
            db,
            path,
            memory,
            durability: CommitDurability::default(),
        })
    }

    /// Opens (or creates) [`CHAIN_DB_FILE`] inside `data_dir`, creating the directory if needed:
    /// what `--data-dir` uses.
    pub fn open_in_dir(
        data_dir: impl AsRef<Path>,
        genesis: &Genesis,
        config: StoreConfig,
    ) -> Result<Self, PersistError> {
        let dir = data_dir.as_ref();
        fs::create_dir_all(dir).map_err(|source| PersistError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        Self::open(dir.join(CHAIN_DB_FILE), genesis, config)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store configuration.
    pub fn config(&self) -> &StoreConfig {
        self.memory.config()
    }

    /// Sets when later commits reach the disk.
    pub fn set_durability(&mut self, durability: CommitDurability) {
        self.durability = durability;
    }

    /// Makes every commit so far durable (an empty fsynced commit).
    pub fn flush(&mut self) -> Result<(), PersistError> {
        let mut txn = self.db.begin_write().ctx("flushing")?;
        txn.set_durability(Durability::Immediate);
        txn.commit().ctx("flushing")
    }

    fn begin(&self) -> Result<redb::WriteTransaction, PersistError> {
        let mut txn = self.db.begin_write().ctx("starting a write")?;
        txn.set_durability(match self.durability {
            CommitDurability::Immediate => Durability::Immediate,
            CommitDurability::Deferred => Durability::None,
        });
        Ok(txn)
    }

    fn import_batch(
        &mut self,
        blocks: Vec<BeaconBlock>,
    ) -> Result<Vec<Result<ImportOutcome, ChainError>>, PersistError> {
        let txn = self.begin()?;
        let mut results = Vec::with_capacity(blocks.len());
        let mut undo = Vec::new();
        let mut failure = None;
        for block in blocks {
            let plan = match self.memory.plan_import(&block) {
                Ok(plan) => plan,
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            };
            if let Err(e) = schema::write_import(&txn, &block.as_ssz_bytes(), &plan) {
                failure = Some(e);
                break;
            }
            let (outcome, u) = self.memory.apply_import(block, plan);
            undo.push(u);
            results.push(Ok(outcome));
        }
        let committed = match failure {
            Some(e) => Err(e),
            None => txn.commit().ctx("committing a batch"),
        };
        if let Err(e) = committed {
            while let Some(u) = undo.pop() {
                self.memory.undo_import(u);
            }
            return Err(e);
        }
        Ok(results)
    }

    fn import_one(
        &mut self,
        block: BeaconBlock,
        header: BeaconBlockHeader,
    ) -> Result<ImportOutcome, ChainError> {
        let plan = self.memory.plan_import_with(&block, header)?;
        let storage = |e: PersistError| ChainError::Storage {
            reason: e.to_string(),
        };
        let txn = self.begin().map_err(storage)?;
        schema::write_import(&txn, &block.as_ssz_bytes(), &plan).map_err(storage)?;
        txn.commit().ctx("committing a block").map_err(storage)?;
        Ok(self.memory.apply_import(block, plan).0)
    }
}

/// Reads are answered by the in-memory index, which holds the whole chain.
impl ReadThrough for PersistentStore {
    type Reader = MemoryStore;

    fn reader(&self) -> &MemoryStore {
        &self.memory
    }
}

impl ChainStore for PersistentStore {
    fn import_block(&mut self, block: BeaconBlock) -> Result<ImportOutcome, ChainError> {
        let header = block.header();
        self.import_one(block, header)
    }

    fn import_hashed_block(&mut self, block: HashedBlock) -> Result<ImportOutcome, ChainError> {
        let (block, header) = block.into_parts();
        self.import_one(block, header)
    }

    /// All in one database transaction (much faster than one commit per block during sync).
    /// `Err` ([`ChainError::Storage`]) means the transaction failed: none of the batch is stored
    /// and memory is as before the call.
    fn import_blocks(
        &mut self,
        blocks: Vec<BeaconBlock>,
    ) -> Result<Vec<Result<ImportOutcome, ChainError>>, ChainError> {
        self.import_batch(blocks).map_err(|e| ChainError::Storage {
            reason: e.to_string(),
        })
    }

    /// Memory-only: attestations are not persisted.
    fn import_attestation(
        &mut self,
        attestation: Attestation,
    ) -> Result<AttestationImported, ChainError> {
        self.memory.import_attestation(attestation)
    }

    /// Memory-only: states are not persisted (the genesis state is re-added on open).
    fn insert_state(&mut self, state: BeaconState) -> Root {
        self.memory.insert_state(state)
    }
}

#[cfg(test)]
mod tests;
