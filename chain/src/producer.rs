//! A block and attestation producer for test networks: builds valid children of a given parent and
//! attestations to the head. No BLS: every signature and the randao reveal are placeholder bytes
//! derived with sha256 (documented, never checked by anyone). No messages are handled or sent here.
//!
//! Determinism: the block's `state_root` is sha256("hobbits-state" ‖ parent_root ‖ slot ‖ graffiti)
//! and its `randao_reveal` repeats sha256("hobbits-randao" ‖ name ‖ slot); the graffiti names the
//! producer, so two producers make distinct blocks at the same slot and one producer makes the same
//! block twice.

use sha2::{Digest, Sha256};

use crate::error::ChainError;
use crate::store::{ChainRead, Head};
use crate::types::{
    Attestation, AttestationData, BeaconBlock, BeaconBlockHeader, Checkpoint, CommitteeBits,
    Crosslink, Root, Signature, Slot,
};

/// Committee size used for produced attestations (TARGET_COMMITTEE_SIZE of the minimal preset).
pub const TEST_COMMITTEE_SIZE: usize = 4;

/// Builds blocks and attestations for a test network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockProducer {
    name: String,
    graffiti: [u8; 32],
    validator_index: u64,
}

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// A placeholder "signature": sha256(tag ‖ message) repeated to 96 bytes. Not BLS.
fn placeholder_signature(tag: &[u8], message: &[u8]) -> Signature {
    let d = sha(&[tag, message]);
    let mut s = [0u8; 96];
    for chunk in s.chunks_mut(32) {
        chunk.copy_from_slice(&d);
    }
    Signature(s)
}

impl BlockProducer {
    /// A producer named `name` (its first 32 bytes become the graffiti) attesting as
    /// `validator_index`.
    pub fn new(name: &str, validator_index: u64) -> Self {
        let mut graffiti = [0u8; 32];
        let bytes = name.as_bytes();
        let n = bytes.len().min(32);
        graffiti[..n].copy_from_slice(&bytes[..n]);
        BlockProducer {
            name: name.to_string(),
            graffiti,
            validator_index,
        }
    }

    /// The producer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A child of `parent` at `slot` (must be after the parent's slot).
    pub fn produce_block(
        &self,
        parent: &BeaconBlockHeader,
        slot: Slot,
    ) -> Result<BeaconBlock, ChainError> {
        let parent_root = parent.signing_root();
        if slot <= parent.slot {
            return Err(ChainError::SlotNotAfterParent {
                root: Root::ZERO,
                slot,
                parent_slot: parent.slot,
            });
        }
        let slot_bytes = slot.0.to_le_bytes();
        let mut block = BeaconBlock {
            slot,
            parent_root,
            state_root: Root(sha(&[
                b"hobbits-state",
                &parent_root.0,
                &slot_bytes,
                &self.graffiti,
            ])),
            ..BeaconBlock::default()
        };
        block.body.graffiti = self.graffiti;
        block.body.randao_reveal = placeholder_signature(
            b"hobbits-randao",
            &[self.name.as_bytes(), &slot_bytes].concat(),
        );
        block.signature = placeholder_signature(b"hobbits-block", &block.signing_root().0);
        Ok(block)
    }

    /// A child of the store's head at `slot`.
    pub fn produce_on_head<S: ChainRead + ?Sized>(
        &self,
        store: &S,
        slot: Slot,
    ) -> Result<BeaconBlock, ChainError> {
        let head = store.head();
        let parent = store.header(&head.root).ok_or(ChainError::UnknownParent {
            root: Root::ZERO,
            slot,
            parent_root: head.root,
        })?;
        self.produce_block(&parent, slot)
    }

    /// An attestation to `head`: source the store's finalized checkpoint, target the head's epoch
    /// boundary block, this producer's bit set in a committee of [`TEST_COMMITTEE_SIZE`].
    pub fn attest<S: ChainRead + ?Sized>(&self, store: &S, head: Head) -> Attestation {
        let epoch = head.slot.epoch(store.slots_per_epoch());
        let target_root = store.root_at_epoch_boundary(epoch).unwrap_or(head.root);
        let mut bits = CommitteeBits::with_capacity(TEST_COMMITTEE_SIZE)
            .unwrap_or_else(|_| crate::types::empty_bits());
        // The index is reduced modulo the capacity, so `set` cannot fail.
        let _ = bits.set(self.validator_index as usize % TEST_COMMITTEE_SIZE, true);
        let custody_bits = CommitteeBits::with_capacity(TEST_COMMITTEE_SIZE)
            .unwrap_or_else(|_| crate::types::empty_bits());
        let data = AttestationData {
            beacon_block_root: head.root,
            source: store.finalized_checkpoint(),
            target: Checkpoint {
                epoch,
                root: target_root,
            },
            crosslink: Crosslink {
                shard: self.validator_index % 8,
                ..Crosslink::default()
            },
        };
        let message = [&head.root.0[..], &self.validator_index.to_le_bytes()].concat();
        Attestation {
            aggregation_bits: bits,
            data,
            custody_bits,
            signature: placeholder_signature(b"hobbits-attestation", &message),
        }
    }
}
