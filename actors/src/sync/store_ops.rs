//! Store operations sync and gossip run as one turn of the `ChainStoreActor` (through its
//! `WithStore` command and a oneshot reply): importing a chain of blocks in order, importing an
//! attestation, asking whether an object is known. Sends `WithStore`; handles nothing.

use actix::Addr;
use hobbits_chain::store::ImportOutcome;
use hobbits_chain::{Attestation, AttestationImported, BeaconBlock, ChainError, ChainStore, Root};
use tokio::sync::oneshot;

use crate::chain_store::{ChainStoreActor, WithStore};
use crate::sync::machine::ImportResult;

/// Runs `f` on the store; `None` when the store actor is gone.
pub async fn with_store<R: Send + 'static>(
    store: &Addr<ChainStoreActor>,
    f: impl FnOnce(&mut dyn ChainStore) -> R + Send + 'static,
) -> Option<R> {
    let (tx, rx) = oneshot::channel();
    let msg = WithStore {
        f: Box::new(move |s| {
            let _ = tx.send(f(s));
        }),
    };
    store.send(msg).await.ok()?;
    rx.await.ok()
}

/// What importing a chain of blocks did: the summary for sync and the outcome of every block
/// newly imported (for `BlockImported` events).
#[derive(Debug, Clone)]
pub struct ChainImport {
    /// Summary.
    pub result: ImportResult,
    /// Blocks newly imported, in order.
    pub imported: Vec<ImportOutcome>,
}

/// Imports `blocks` in order in one store turn; blocks already known count as imported; stops at
/// the first refusal.
pub fn import_chain(store: &mut dyn ChainStore, blocks: Vec<BeaconBlock>) -> ChainImport {
    let mut imported = Vec::new();
    for (i, block) in blocks.into_iter().enumerate() {
        match store.import_block(block) {
            Ok(outcome) => imported.push(outcome),
            Err(ChainError::AlreadyKnown { .. }) => {}
            Err(ChainError::UnknownParent { parent_root, .. }) if i == 0 => {
                return ChainImport {
                    result: ImportResult::MissingParent { parent_root },
                    imported,
                }
            }
            Err(e) => {
                return ChainImport {
                    result: ImportResult::Failed {
                        reason: e.to_string(),
                    },
                    imported,
                }
            }
        }
    }
    ChainImport {
        result: ImportResult::Imported {
            head_slot: store.head().slot,
        },
        imported,
    }
}

/// Imports a chain through the store actor.
pub async fn import_blocks(store: Addr<ChainStoreActor>, blocks: Vec<BeaconBlock>) -> ChainImport {
    with_store(&store, move |s| import_chain(s, blocks))
        .await
        .unwrap_or(ChainImport {
            result: ImportResult::Failed {
                reason: "chain store actor gone".to_string(),
            },
            imported: Vec::new(),
        })
}

/// Imports one block through the store actor.
pub async fn import_block(
    store: &Addr<ChainStoreActor>,
    block: BeaconBlock,
) -> Result<ImportOutcome, ChainError> {
    with_store(store, move |s| s.import_block(block))
        .await
        .unwrap_or(Err(ChainError::InvalidConfig {
            reason: "chain store actor gone".to_string(),
        }))
}

/// Imports an attestation through the store actor (`None`: the store is gone).
pub async fn import_attestation(
    store: &Addr<ChainStoreActor>,
    attestation: Attestation,
) -> Option<Result<AttestationImported, ChainError>> {
    with_store(store, move |s| s.import_attestation(attestation)).await
}

/// Is a block (either root) or an attestation (hash_tree_root) with this root stored?
pub async fn is_known(store: &Addr<ChainStoreActor>, root: Root) -> bool {
    with_store(store, move |s| {
        s.contains_block(&root) || s.attestation(&root).is_some()
    })
    .await
    .unwrap_or(false)
}
