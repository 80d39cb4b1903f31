//! Hand-written `TreeHash` for the containers hashed on every block (`Eth1Data`,
//! `BeaconBlockBody`, `BeaconBlockHeader`, `BeaconBlock`) and the header's two roots computed
//! together. Same roots as `tree_hash_derive` (checked below against derived mirror types and by
//! the reference vectors in `tests/ssz_vectors.rs`), with fewer hashes: field roots go into a
//! stack buffer, zero padding and empty lists come from precomputed zero-subtree roots, and the
//! header's `hash_tree_root` reuses its `signing_root` (the root of its first four fields). No
//! messages are handled or sent here.

use ssz_types::typenum::Unsigned;
use ssz_types::VariableList;
use tree_hash::{Hash256, PackedEncoding, TreeHash, TreeHashType};

use super::containers::{BeaconBlock, BeaconBlockBody, BeaconBlockHeader, BlockRoots, Eth1Data};
use super::merkle::{self, Chunk};
use super::primitives::Root;

/// The root of a `uint64`: its little-endian bytes in one chunk.
fn u64_chunk(v: u64) -> Chunk {
    let mut c = [0u8; 32];
    c[..8].copy_from_slice(&v.to_le_bytes());
    c
}

/// The root of a `List[T, N]` of containers: the precomputed empty-list root when empty (the
/// common case: no hashing), otherwise the generic path.
fn container_list_root<T: TreeHash, N: Unsigned>(list: &VariableList<T, N>) -> Chunk {
    if list.is_empty() {
        merkle::empty_list_root(N::to_usize())
    } else {
        list.tree_hash_root().0
    }
}

/// signing_root of a header: the root of its first four fields.
pub(crate) fn header_signing_root(h: &BeaconBlockHeader) -> Chunk {
    merkle::container_root(&[
        u64_chunk(h.slot.0),
        h.parent_root.0,
        h.state_root.0,
        h.body_root.0,
    ])
}

/// Both roots of a header. Its five fields pad to eight leaves: the left half is the signing
/// root, the right half is `signature, 0, 0, 0`.
pub(crate) fn header_roots(h: &BeaconBlockHeader) -> BlockRoots {
    let signing_root = header_signing_root(h);
    let sig = merkle::bytes_root(&h.signature.0);
    let right = merkle::hash_pair(
        &merkle::hash_pair(&sig, merkle::zero_hash(0)),
        merkle::zero_hash(1),
    );
    BlockRoots {
        signing_root: Root(signing_root),
        hash_tree_root: Root(merkle::hash_pair(&signing_root, &right)),
    }
}

/// The `TreeHash` methods every container has; `tree_hash_root` is given.
macro_rules! container_tree_hash {
    ($name:ty, |$this:ident| $root:expr) => {
        impl TreeHash for $name {
            fn tree_hash_type() -> TreeHashType {
                TreeHashType::Container
            }
            fn tree_hash_packed_encoding(&self) -> PackedEncoding {
                unreachable!("a container is never packed")
            }
            fn tree_hash_packing_factor() -> usize {
                unreachable!("a container is never packed")
            }
            fn tree_hash_root(&self) -> Hash256 {
                let $this = self;
                Hash256::from($root)
            }
        }
    };
}

container_tree_hash!(Eth1Data, |e| merkle::container_root(&[
    e.deposit_root.0,
    u64_chunk(e.deposit_count),
    e.block_hash.0,
]));

container_tree_hash!(BeaconBlockBody, |b| merkle::container_root(&[
    merkle::bytes_root(&b.randao_reveal.0),
    b.eth1_data.tree_hash_root().0,
    b.graffiti,
    container_list_root(&b.proposer_slashings),
    container_list_root(&b.attester_slashings),
    container_list_root(&b.attestations),
    container_list_root(&b.deposits),
    container_list_root(&b.voluntary_exits),
    container_list_root(&b.transfers),
]));

container_tree_hash!(BeaconBlockHeader, |h| header_roots(h).hash_tree_root.0);

// A block's hash_tree_root equals its header's: the body's subtree is replaced by its root.
container_tree_hash!(BeaconBlock, |b| header_roots(&b.header()).hash_tree_root.0);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::containers::Attestation;
    use crate::types::containers::{
        AttesterSlashing, Deposit, MaxAttestations, MaxAttesterSlashings, MaxDeposits,
        MaxProposerSlashings, MaxTransfers, MaxVoluntaryExits, ProposerSlashing, Transfer,
        VoluntaryExit,
    };
    use crate::types::primitives::{Epoch, Signature, Slot};
    use proptest::prelude::*;
    use tree_hash_derive::TreeHash;

    // Mirrors of the hand-hashed containers with the derived (generic) tree hash, and plain byte
    // arrays instead of the fast-path newtypes.
    #[derive(TreeHash)]
    struct RefEth1Data {
        deposit_root: [u8; 32],
        deposit_count: u64,
        block_hash: [u8; 32],
    }

    #[derive(TreeHash)]
    struct RefBody {
        randao_reveal: [u8; 96],
        eth1_data: RefEth1Data,
        graffiti: [u8; 32],
        proposer_slashings: VariableList<ProposerSlashing, MaxProposerSlashings>,
        attester_slashings: VariableList<AttesterSlashing, MaxAttesterSlashings>,
        attestations: VariableList<Attestation, MaxAttestations>,
        deposits: VariableList<Deposit, MaxDeposits>,
        voluntary_exits: VariableList<VoluntaryExit, MaxVoluntaryExits>,
        transfers: VariableList<Transfer, MaxTransfers>,
    }

    #[derive(TreeHash)]
    struct RefHeader {
        slot: u64,
        parent_root: [u8; 32],
        state_root: [u8; 32],
        body_root: [u8; 32],
        signature: [u8; 96],
    }

    #[derive(TreeHash)]
    struct RefSigningHeader {
        slot: u64,
        parent_root: [u8; 32],
        state_root: [u8; 32],
        body_root: [u8; 32],
    }

    fn reference_body_root(b: &BeaconBlockBody) -> Hash256 {
        RefBody {
            randao_reveal: b.randao_reveal.0,
            eth1_data: RefEth1Data {
                deposit_root: b.eth1_data.deposit_root.0,
                deposit_count: b.eth1_data.deposit_count,
                block_hash: b.eth1_data.block_hash.0,
            },
            graffiti: b.graffiti,
            proposer_slashings: b.proposer_slashings.clone(),
            attester_slashings: b.attester_slashings.clone(),
            attestations: b.attestations.clone(),
            deposits: b.deposits.clone(),
            voluntary_exits: b.voluntary_exits.clone(),
            transfers: b.transfers.clone(),
        }
        .tree_hash_root()
    }

    fn sig(bytes: Vec<u8>) -> Signature {
        Signature(bytes.try_into().expect("96 bytes"))
    }

    prop_compose! {
        fn arb_body()(
            randao in proptest::collection::vec(any::<u8>(), 96),
            deposit_root in any::<[u8; 32]>(),
            deposit_count in any::<u64>(),
            block_hash in any::<[u8; 32]>(),
            graffiti in any::<[u8; 32]>(),
            exits in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..4),
            slashings in proptest::collection::vec((any::<u64>(), any::<[u8; 32]>()), 0..3),
            attestations in 0usize..3,
        ) -> BeaconBlockBody {
            BeaconBlockBody {
                randao_reveal: sig(randao),
                eth1_data: Eth1Data {
                    deposit_root: Root(deposit_root),
                    deposit_count,
                    block_hash: Root(block_hash),
                },
                graffiti,
                voluntary_exits: VariableList::new(
                    exits
                        .into_iter()
                        .map(|(e, i)| VoluntaryExit {
                            epoch: Epoch(e),
                            validator_index: i,
                            signature: Signature([e as u8; 96]),
                        })
                        .collect(),
                )
                .expect("< 16"),
                proposer_slashings: VariableList::new(
                    slashings
                        .into_iter()
                        .map(|(i, r)| ProposerSlashing {
                            proposer_index: i,
                            header_1: BeaconBlockHeader {
                                parent_root: Root(r),
                                ..BeaconBlockHeader::default()
                            },
                            header_2: BeaconBlockHeader::default(),
                        })
                        .collect(),
                )
                .expect("< 16"),
                attestations: VariableList::new(vec![Attestation::default(); attestations])
                    .expect("< 128"),
                ..BeaconBlockBody::default()
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn body_root_matches_derived(body in arb_body()) {
            prop_assert_eq!(body.tree_hash_root(), reference_body_root(&body));
        }

        #[test]
        fn header_roots_match_derived(
            slot in any::<u64>(),
            parent in any::<[u8; 32]>(),
            state in any::<[u8; 32]>(),
            body in any::<[u8; 32]>(),
            signature in proptest::collection::vec(any::<u8>(), 96),
        ) {
            let h = BeaconBlockHeader {
                slot: Slot(slot),
                parent_root: Root(parent),
                state_root: Root(state),
                body_root: Root(body),
                signature: sig(signature),
            };
            let full = RefHeader {
                slot,
                parent_root: parent,
                state_root: state,
                body_root: body,
                signature: h.signature.0,
            };
            let signing = RefSigningHeader {
                slot,
                parent_root: parent,
                state_root: state,
                body_root: body,
            };
            let roots = h.roots();
            prop_assert_eq!(roots.hash_tree_root.0, full.tree_hash_root().0);
            prop_assert_eq!(roots.signing_root.0, signing.tree_hash_root().0);
            prop_assert_eq!(h.tree_hash_root().0, full.tree_hash_root().0);
            prop_assert_eq!(h.signing_root(), roots.signing_root);
        }

        #[test]
        fn block_root_is_header_root(body in arb_body(), slot in any::<u64>()) {
            let block = BeaconBlock { slot: Slot(slot), body, ..BeaconBlock::default() };
            let header = block.header();
            prop_assert_eq!(header.body_root.0, reference_body_root(&block.body).0);
            prop_assert_eq!(block.tree_hash_root(), header.tree_hash_root());
        }
    }
}
