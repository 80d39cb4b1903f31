//! `PersistError`: why a persistent chain store could not be opened, rebuilt or written. No
//! messages are handled or sent here.

use std::path::PathBuf;

use crate::error::ChainError;
use crate::store::Head;
use crate::types::{Checkpoint, Root, Slot};

/// A refusal or failure of the persistent store. Never a panic: a corrupt, truncated, foreign or
/// inconsistent database file maps to one of these.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// The database file could not be opened (missing directory, locked by another process,
    /// not a redb file, corrupt or truncated beyond repair).
    #[error("cannot open chain database {path:?}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The database's reason.
        #[source]
        source: Box<redb::DatabaseError>,
    },
    /// The database engine gave up on the file while opening or reading it (it asserts on some
    /// truncated or corrupt files; the store contains that and reports it here).
    #[error("chain database {path:?} is corrupt: {reason}")]
    CorruptFile {
        /// The file.
        path: PathBuf,
        /// The engine's message.
        reason: String,
    },
    /// Creating the data directory failed.
    #[error("cannot create data directory {path:?}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS reason.
        #[source]
        source: std::io::Error,
    },
    /// A read or write inside the database failed.
    #[error("chain database failure while {context}: {source}")]
    Database {
        /// What the store was doing.
        context: &'static str,
        /// The database's reason.
        #[source]
        source: Box<redb::Error>,
    },
    /// The file is a redb database without the chain store's metadata.
    #[error("not a hobbits chain database (metadata `{key}` missing)")]
    MissingMetadata {
        /// The key looked for.
        key: &'static str,
    },
    /// A metadata value of the wrong length.
    #[error("chain database metadata `{key}` is malformed ({len} bytes)")]
    MalformedMetadata {
        /// The key.
        key: &'static str,
        /// Its length.
        len: usize,
    },
    /// A schema this build does not read.
    #[error("chain database schema {found} is not supported (this build reads {supported})")]
    UnsupportedSchema {
        /// Found in the file.
        found: u32,
        /// Read by this build.
        supported: u32,
    },
    /// The database was created for another chain.
    #[error("chain database belongs to genesis {found}, not {expected}")]
    GenesisMismatch {
        /// Our genesis root.
        expected: Root,
        /// The database's genesis root.
        found: Root,
    },
    /// The database was created with another slots-per-epoch (epochs would change meaning).
    #[error("chain database uses {stored} slots per epoch, configuration says {configured}")]
    SlotsPerEpochMismatch {
        /// In the file.
        stored: u64,
        /// In the configuration.
        configured: u64,
    },
    /// A stored block does not decode, or is stored under a root that is not its signing_root.
    #[error("stored block {root} is corrupt: {reason}")]
    CorruptBlock {
        /// The key it is stored under.
        root: Root,
        /// What is wrong.
        reason: String,
    },
    /// The genesis block is not stored.
    #[error("genesis block {root} is not stored")]
    MissingGenesis {
        /// The genesis root.
        root: Root,
    },
    /// A stored block's parent is not stored.
    #[error("stored block {root} at slot {slot} has no stored parent {parent_root}")]
    MissingParent {
        /// The block.
        root: Root,
        /// Its slot.
        slot: Slot,
        /// The missing parent.
        parent_root: Root,
    },
    /// The stored finalized checkpoint names a block that is not stored (or goes backwards).
    #[error("stored finalized checkpoint {checkpoint:?} is invalid: {reason}")]
    InvalidFinalized {
        /// The checkpoint.
        checkpoint: Checkpoint,
        /// Why.
        reason: String,
    },
    /// The stored head is not the head rebuilt from the stored blocks.
    #[error("stored head {stored:?} differs from the rebuilt head {rebuilt:?}")]
    HeadMismatch {
        /// In the file.
        stored: Head,
        /// Rebuilt from the blocks.
        rebuilt: Head,
    },
    /// The stored canonical index differs from the one rebuilt from the blocks.
    #[error("stored canonical chain differs from the rebuilt one at slot {slot}")]
    CanonicalMismatch {
        /// First slot that differs.
        slot: Slot,
    },
    /// The stored hash_tree_root index differs from the stored blocks.
    #[error("stored hash_tree_root index is inconsistent: {reason}")]
    IndexMismatch {
        /// What differs.
        reason: String,
    },
    /// Rebuilding the in-memory index refused a stored block or the configuration.
    #[error("rebuilding the chain from the database failed: {0}")]
    Chain(#[from] ChainError),
}

impl PersistError {
    pub(crate) fn db(context: &'static str) -> impl FnOnce(redb::Error) -> PersistError {
        move |source| PersistError::Database {
            context,
            source: Box::new(source),
        }
    }
}

/// Wraps any redb error with what the store was doing.
pub(crate) trait DbContext<T> {
    fn ctx(self, context: &'static str) -> Result<T, PersistError>;
}

impl<T, E: Into<redb::Error>> DbContext<T> for Result<T, E> {
    fn ctx(self, context: &'static str) -> Result<T, PersistError> {
        self.map_err(|e| PersistError::db(context)(e.into()))
    }
}
