//! Opening a persistent chain store: initialising a new database from genesis, or rebuilding the
//! in-memory index from an existing one and checking that everything stored agrees (genesis,
//! schema, every block's parent, the finalized block, the head, the canonical and
//! hash_tree_root indexes). No messages are handled or sent here.

use redb::{Database, ReadableTable, ReadableTableMetadata, TableError};
use ssz::Decode;

use super::error::{DbContext, PersistError};
use super::schema::{
    decode_finalized, decode_head, encode_finalized, encode_head, meta_array, BLOCKS, CANONICAL,
    HASH_TREE_ROOTS, KEY_FINALIZED, KEY_GENESIS, KEY_HEAD, KEY_SCHEMA, KEY_SLOTS_PER_EPOCH, META,
    SCHEMA_VERSION,
};
use crate::error::ChainError;
use crate::genesis::Genesis;
use crate::store::{ChainRead, ChainStore, MemoryStore, StoreConfig};
use crate::types::{BeaconBlock, Root, Slot};

/// True when the database holds no table at all (a new or empty file).
pub(crate) fn is_empty(db: &Database) -> Result<bool, PersistError> {
    let txn = db.begin_read().ctx("reading the table list")?;
    let empty = txn
        .list_tables()
        .ctx("reading the table list")?
        .next()
        .is_none();
    Ok(empty)
}

/// Writes schema, genesis and the genesis block into an empty database (one transaction).
pub(crate) fn initialise(db: &Database, store: &MemoryStore) -> Result<(), PersistError> {
    const INIT: &str = "initialising the database";
    let genesis_root = store.genesis_root();
    let genesis = store
        .block(&genesis_root)
        .ok_or(PersistError::MissingGenesis { root: genesis_root })?;
    let txn = db.begin_write().ctx(INIT)?;
    {
        let mut meta = txn.open_table(META).ctx(INIT)?;
        meta.insert(KEY_SCHEMA, SCHEMA_VERSION.to_be_bytes().as_slice())
            .ctx(INIT)?;
        meta.insert(KEY_GENESIS, genesis_root.0.as_slice())
            .ctx(INIT)?;
        meta.insert(
            KEY_SLOTS_PER_EPOCH,
            store.slots_per_epoch().to_be_bytes().as_slice(),
        )
        .ctx(INIT)?;
        meta.insert(KEY_HEAD, encode_head(store.head()).as_slice())
            .ctx(INIT)?;
        meta.insert(
            KEY_FINALIZED,
            encode_finalized(store.finalized_checkpoint()).as_slice(),
        )
        .ctx(INIT)?;
        let ssz = ssz::Encode::as_ssz_bytes(&genesis);
        txn.open_table(BLOCKS)
            .ctx(INIT)?
            .insert(genesis_root.0, ssz.as_slice())
            .ctx(INIT)?;
        txn.open_table(HASH_TREE_ROOTS)
            .ctx(INIT)?
            .insert(genesis.hash_tree_root().0, genesis_root.0)
            .ctx(INIT)?;
        txn.open_table(CANONICAL)
            .ctx(INIT)?
            .insert(genesis.slot.0, genesis_root.0)
            .ctx(INIT)?;
    }
    txn.commit().ctx(INIT)?;
    Ok(())
}

/// Rebuilds a [`MemoryStore`] from the database and checks it against everything stored.
pub(crate) fn rebuild(
    db: &Database,
    genesis: &Genesis,
    config: StoreConfig,
) -> Result<MemoryStore, PersistError> {
    const READ: &str = "reading the chain";
    let txn = db.begin_read().ctx(READ)?;
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => {
            return Err(PersistError::MissingMetadata { key: KEY_SCHEMA })
        }
        Err(e) => return Err(PersistError::db(READ)(e.into())),
    };
    let schema = u32::from_be_bytes(meta_array(&meta, KEY_SCHEMA)?);
    if schema != SCHEMA_VERSION {
        return Err(PersistError::UnsupportedSchema {
            found: schema,
            supported: SCHEMA_VERSION,
        });
    }
    let found = Root(meta_array(&meta, KEY_GENESIS)?);
    if found != genesis.root {
        return Err(PersistError::GenesisMismatch {
            expected: genesis.root,
            found,
        });
    }
    let stored_spe = u64::from_be_bytes(meta_array(&meta, KEY_SLOTS_PER_EPOCH)?);
    if stored_spe != config.slots_per_epoch {
        return Err(PersistError::SlotsPerEpochMismatch {
            stored: stored_spe,
            configured: config.slots_per_epoch,
        });
    }
    let stored_head = decode_head(meta_array(&meta, KEY_HEAD)?);
    let stored_finalized = decode_finalized(meta_array(&meta, KEY_FINALIZED)?);

    // Every block, decoded, in slot order (parents before children).
    let blocks_table = txn.open_table(BLOCKS).ctx(READ)?;
    let mut blocks: Vec<(Root, BeaconBlock)> = Vec::new();
    let mut genesis_stored = false;
    for item in blocks_table.iter().ctx(READ)? {
        let (key, value) = item.ctx(READ)?;
        let root = Root(key.value());
        if root == genesis.root {
            genesis_stored = true;
            continue;
        }
        let block =
            BeaconBlock::from_ssz_bytes(value.value()).map_err(|e| PersistError::CorruptBlock {
                root,
                reason: format!("SSZ: {e:?}"),
            })?;
        blocks.push((root, block));
    }
    if !genesis_stored {
        return Err(PersistError::MissingGenesis { root: genesis.root });
    }
    blocks.sort_by_key(|(root, block)| (block.slot, *root));

    let mut store = MemoryStore::new(genesis.block.clone(), config)?;
    store.freeze_finality(true);
    for (key, block) in blocks {
        let slot = block.slot;
        match store.import_block(block) {
            Ok(outcome) if outcome.root == key => {}
            Ok(outcome) => {
                return Err(PersistError::CorruptBlock {
                    root: key,
                    reason: format!("its signing_root is {}", outcome.root),
                })
            }
            Err(ChainError::UnknownParent { parent_root, .. }) => {
                return Err(PersistError::MissingParent {
                    root: key,
                    slot,
                    parent_root,
                })
            }
            Err(ChainError::AlreadyKnown { .. }) => {
                return Err(PersistError::CorruptBlock {
                    root: key,
                    reason: "a duplicate of another stored block".to_string(),
                })
            }
            Err(e) => return Err(e.into()),
        }
    }
    store.freeze_finality(false);
    store
        .set_finalized(stored_finalized)
        .map_err(|e| PersistError::InvalidFinalized {
            checkpoint: stored_finalized,
            reason: e.to_string(),
        })?;
    let rebuilt = store.head();
    if rebuilt != stored_head {
        return Err(PersistError::HeadMismatch {
            stored: stored_head,
            rebuilt,
        });
    }

    // The canonical index must be exactly the rebuilt canonical chain.
    let canonical = txn.open_table(CANONICAL).ctx(READ)?;
    let mut ours = store.canonical_entries();
    for item in canonical.iter().ctx(READ)? {
        let (slot, root) = item.ctx(READ)?;
        let (slot, root) = (Slot(slot.value()), Root(root.value()));
        match ours.next() {
            Some((s, r)) if s == slot && r == root => {}
            Some((s, _)) => return Err(PersistError::CanonicalMismatch { slot: s.min(slot) }),
            None => return Err(PersistError::CanonicalMismatch { slot }),
        }
    }
    if let Some((slot, _)) = ours.next() {
        return Err(PersistError::CanonicalMismatch { slot });
    }
    drop(ours);

    // The hash_tree_root index must name every stored block once.
    let index = txn.open_table(HASH_TREE_ROOTS).ctx(READ)?;
    let entries = index.len().ctx(READ)?;
    if entries != store.block_count() as u64 {
        return Err(PersistError::IndexMismatch {
            reason: format!("{entries} entries for {} blocks", store.block_count()),
        });
    }
    for item in index.iter().ctx(READ)? {
        let (hash, root) = item.ctx(READ)?;
        let (hash, root) = (Root(hash.value()), Root(root.value()));
        if store.resolve_root(&hash) != Some(root) {
            return Err(PersistError::IndexMismatch {
                reason: format!("{hash} does not name block {root}"),
            });
        }
    }
    Ok(store)
}
