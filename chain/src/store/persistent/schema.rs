//! The on-disk layout of the persistent chain store (redb tables and value encodings) and the one
//! function that writes an import plan into a write transaction. No messages are handled or sent
//! here.
//!
//! Tables (schema 1, integers big-endian):
//! - `meta`: `&str` → bytes: `schema` (u32), `genesis_root` (32), `slots_per_epoch` (u64),
//!   `head` (root 32 ‖ slot u64), `finalized` (epoch u64 ‖ root 32);
//! - `blocks`: signing_root → SSZ `BeaconBlock`;
//! - `hash_tree_roots`: hash_tree_root → signing_root;
//! - `canonical`: slot (u64) → signing_root.

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::error::{DbContext, PersistError};
use crate::store::memory::ImportPlan;
use crate::store::Head;
use crate::types::{Checkpoint, Epoch, Root, Slot};

/// The schema version written and read.
pub const SCHEMA_VERSION: u32 = 1;

pub(crate) const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
pub(crate) const BLOCKS: TableDefinition<'_, [u8; 32], &[u8]> = TableDefinition::new("blocks");
pub(crate) const HASH_TREE_ROOTS: TableDefinition<'_, [u8; 32], [u8; 32]> =
    TableDefinition::new("hash_tree_roots");
pub(crate) const CANONICAL: TableDefinition<'_, u64, [u8; 32]> = TableDefinition::new("canonical");

pub(crate) const KEY_SCHEMA: &str = "schema";
pub(crate) const KEY_GENESIS: &str = "genesis_root";
pub(crate) const KEY_SLOTS_PER_EPOCH: &str = "slots_per_epoch";
pub(crate) const KEY_HEAD: &str = "head";
pub(crate) const KEY_FINALIZED: &str = "finalized";

pub(crate) fn encode_head(head: Head) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(&head.root.0);
    out[32..].copy_from_slice(&head.slot.0.to_be_bytes());
    out
}

pub(crate) fn encode_finalized(checkpoint: Checkpoint) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..8].copy_from_slice(&checkpoint.epoch.0.to_be_bytes());
    out[8..].copy_from_slice(&checkpoint.root.0);
    out
}

/// Reads a fixed-length metadata value.
pub(crate) fn meta_array<const N: usize, T: ReadableTable<&'static str, &'static [u8]>>(
    table: &T,
    key: &'static str,
) -> Result<[u8; N], PersistError> {
    let value = table
        .get(key)
        .ctx("reading metadata")?
        .ok_or(PersistError::MissingMetadata { key })?;
    let bytes = value.value();
    bytes
        .try_into()
        .map_err(|_| PersistError::MalformedMetadata {
            key,
            len: bytes.len(),
        })
}

pub(crate) fn decode_head(bytes: [u8; 40]) -> Head {
    let (root, slot) = bytes.split_at(32);
    Head {
        root: Root(root.try_into().unwrap_or([0; 32])),
        slot: Slot(u64::from_be_bytes(slot.try_into().unwrap_or([0; 8]))),
    }
}

pub(crate) fn decode_finalized(bytes: [u8; 40]) -> Checkpoint {
    let (epoch, root) = bytes.split_at(8);
    Checkpoint {
        epoch: Epoch(u64::from_be_bytes(epoch.try_into().unwrap_or([0; 8]))),
        root: Root(root.try_into().unwrap_or([0; 32])),
    }
}

/// Writes one planned import (the block, its hash_tree_root, and when the head changes the
/// canonical entries, the head and the finalized checkpoint) into `txn`.
pub(crate) fn write_import(
    txn: &WriteTransaction,
    ssz_block: &[u8],
    plan: &ImportPlan,
) -> Result<(), PersistError> {
    const WRITING: &str = "writing a block";
    txn.open_table(BLOCKS)
        .ctx(WRITING)?
        .insert(plan.root.0, ssz_block)
        .ctx(WRITING)?;
    txn.open_table(HASH_TREE_ROOTS)
        .ctx(WRITING)?
        .insert(plan.hash_tree_root.0, plan.root.0)
        .ctx(WRITING)?;
    let Some(change) = &plan.head_change else {
        return Ok(());
    };
    {
        let mut canonical = txn.open_table(CANONICAL).ctx(WRITING)?;
        canonical
            .retain_in(change.keep_to.0.saturating_add(1).., |_, _| false)
            .ctx(WRITING)?;
        for b in &change.branch {
            canonical.insert(b.slot.0, b.root.0).ctx(WRITING)?;
        }
    }
    let mut meta = txn.open_table(META).ctx(WRITING)?;
    meta.insert(KEY_HEAD, encode_head(change.head).as_slice())
        .ctx(WRITING)?;
    if let Some(f) = change.finalized {
        meta.insert(KEY_FINALIZED, encode_finalized(f).as_slice())
            .ctx(WRITING)?;
    }
    Ok(())
}
