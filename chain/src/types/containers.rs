//! The SSZ containers of the beacon chain spec v0.8.1 that travel in blocks and attestations, with
//! their roots (`hash_tree_root`, `signing_root`). List limits are those of the presets (the minimal
//! and mainnet presets agree on every limit used here). No messages are handled or sent here.

use ssz::BitList;
use ssz_derive::{Decode, Encode};
use ssz_types::typenum::{U0, U1, U128, U16, U33, U4096};
use ssz_types::{FixedVector, VariableList};
use tree_hash::TreeHash;
use tree_hash_derive::TreeHash;

use super::primitives::{BlsPubkey, Epoch, Root, Signature, Slot, Version};
use super::roots;

/// MAX_VALIDATORS_PER_COMMITTEE (4096 in both presets).
pub type MaxValidatorsPerCommittee = U4096;
/// MAX_PROPOSER_SLASHINGS.
pub type MaxProposerSlashings = U16;
/// MAX_ATTESTER_SLASHINGS.
pub type MaxAttesterSlashings = U1;
/// MAX_ATTESTATIONS.
pub type MaxAttestations = U128;
/// MAX_DEPOSITS.
pub type MaxDeposits = U16;
/// MAX_VOLUNTARY_EXITS.
pub type MaxVoluntaryExits = U16;
/// MAX_TRANSFERS (0: transfers are disabled in v0.8.1).
pub type MaxTransfers = U0;
/// DEPOSIT_CONTRACT_TREE_DEPTH + 1.
pub type DepositProofLength = U33;

/// A bit per committee member.
pub type CommitteeBits = BitList<MaxValidatorsPerCommittee>;

/// Validator index in the registry.
pub type ValidatorIndex = u64;
/// An amount in Gwei.
pub type Gwei = u64;
/// A shard number.
pub type Shard = u64;

/// A fork: the versions before and after `epoch`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct Fork {
    pub previous_version: Version,
    pub current_version: Version,
    pub epoch: Epoch,
}

/// An (epoch, root) pair: a justification or finality checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Encode, Decode, TreeHash)]
pub struct Checkpoint {
    pub epoch: Epoch,
    pub root: Root,
}

/// A validator's registry record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct Validator {
    pub pubkey: BlsPubkey,
    pub withdrawal_credentials: Root,
    pub effective_balance: Gwei,
    pub slashed: bool,
    pub activation_eligibility_epoch: Epoch,
    pub activation_epoch: Epoch,
    pub exit_epoch: Epoch,
    pub withdrawable_epoch: Epoch,
}

/// A crosslink to shard data.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct Crosslink {
    pub shard: Shard,
    pub parent_root: Root,
    pub start_epoch: Epoch,
    pub end_epoch: Epoch,
    pub data_root: Root,
}

/// What an attestation votes for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct AttestationData {
    pub beacon_block_root: Root,
    pub source: Checkpoint,
    pub target: Checkpoint,
    pub crosslink: Crosslink,
}

/// An attestation with validator indices instead of bits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct IndexedAttestation {
    pub custody_bit_0_indices: VariableList<ValidatorIndex, MaxValidatorsPerCommittee>,
    pub custody_bit_1_indices: VariableList<ValidatorIndex, MaxValidatorsPerCommittee>,
    pub data: AttestationData,
    pub signature: Signature,
}

/// An attestation kept in the state.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct PendingAttestation {
    pub aggregation_bits: CommitteeBits,
    pub data: AttestationData,
    pub inclusion_delay: Slot,
    pub proposer_index: ValidatorIndex,
}

impl Default for PendingAttestation {
    fn default() -> Self {
        PendingAttestation {
            aggregation_bits: empty_bits(),
            data: AttestationData::default(),
            inclusion_delay: Slot(0),
            proposer_index: 0,
        }
    }
}

/// The eth1 chain data a block votes for.
/// Its `TreeHash` is written by hand in `roots.rs` (fewer hashes; same root).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct Eth1Data {
    pub deposit_root: Root,
    pub deposit_count: u64,
    pub block_hash: Root,
}

/// A deposit's payload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct DepositData {
    pub pubkey: BlsPubkey,
    pub withdrawal_credentials: Root,
    pub amount: Gwei,
    pub signature: Signature,
}

/// A block header: the block with its body replaced by the body's root.
/// Its `TreeHash` is written by hand in `roots.rs` (fewer hashes; same root).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct BeaconBlockHeader {
    pub slot: Slot,
    pub parent_root: Root,
    pub state_root: Root,
    pub body_root: Root,
    pub signature: Signature,
}

impl BeaconBlockHeader {
    /// hash_tree_root of the whole header (equal to the block's hash_tree_root).
    pub fn hash_tree_root(&self) -> Root {
        Root::from(self.tree_hash_root())
    }

    /// Root of the header without its signature: the block's identity (equal to the block's
    /// signing_root).
    pub fn signing_root(&self) -> Root {
        Root(roots::header_signing_root(self))
    }

    /// Both roots at once, sharing the hashes of the first four fields:
    /// `(signing_root, hash_tree_root)`.
    pub fn roots(&self) -> BlockRoots {
        roots::header_roots(self)
    }
}

/// Two conflicting headers signed by the same proposer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct ProposerSlashing {
    pub proposer_index: ValidatorIndex,
    pub header_1: BeaconBlockHeader,
    pub header_2: BeaconBlockHeader,
}

/// Two conflicting attestations.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct AttesterSlashing {
    pub attestation_1: IndexedAttestation,
    pub attestation_2: IndexedAttestation,
}

/// A committee's vote (gossiped; identified by its hash_tree_root).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct Attestation {
    pub aggregation_bits: CommitteeBits,
    pub data: AttestationData,
    pub custody_bits: CommitteeBits,
    pub signature: Signature,
}

impl Default for Attestation {
    fn default() -> Self {
        Attestation {
            aggregation_bits: empty_bits(),
            data: AttestationData::default(),
            custody_bits: empty_bits(),
            signature: Signature::default(),
        }
    }
}

impl Attestation {
    /// hash_tree_root: the attestation's identity in gossip and GET_ATTESTATION.
    pub fn hash_tree_root(&self) -> Root {
        Root::from(self.tree_hash_root())
    }
}

/// An empty bit list (length 0).
pub fn empty_bits() -> CommitteeBits {
    // Capacity 0 is always within the limit.
    BitList::with_capacity(0).unwrap_or_else(|_| unreachable!("0 <= 4096"))
}

/// A deposit with its Merkle proof.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct Deposit {
    pub proof: FixedVector<Root, DepositProofLength>,
    pub data: DepositData,
}

/// A validator's request to exit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct VoluntaryExit {
    pub epoch: Epoch,
    pub validator_index: ValidatorIndex,
    pub signature: Signature,
}

/// A balance transfer (disabled in v0.8.1: MAX_TRANSFERS is 0).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct Transfer {
    pub sender: ValidatorIndex,
    pub recipient: ValidatorIndex,
    pub amount: Gwei,
    pub fee: Gwei,
    pub slot: Slot,
    pub pubkey: BlsPubkey,
    pub signature: Signature,
}

/// The block body: randao, eth1 vote, graffiti and operations.
/// Its `TreeHash` is written by hand in `roots.rs` (fewer hashes; same root).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct BeaconBlockBody {
    pub randao_reveal: Signature,
    pub eth1_data: Eth1Data,
    pub graffiti: [u8; 32],
    pub proposer_slashings: VariableList<ProposerSlashing, MaxProposerSlashings>,
    pub attester_slashings: VariableList<AttesterSlashing, MaxAttesterSlashings>,
    pub attestations: VariableList<Attestation, MaxAttestations>,
    pub deposits: VariableList<Deposit, MaxDeposits>,
    pub voluntary_exits: VariableList<VoluntaryExit, MaxVoluntaryExits>,
    pub transfers: VariableList<Transfer, MaxTransfers>,
}

/// A beacon block. Identified by its `signing_root` (what a child's `parent_root` names); gossip
/// announces it by `hash_tree_root`.
/// Its `TreeHash` is written by hand in `roots.rs` (fewer hashes; same root).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct BeaconBlock {
    pub slot: Slot,
    pub parent_root: Root,
    pub state_root: Root,
    pub body: BeaconBlockBody,
    pub signature: Signature,
}

impl BeaconBlock {
    /// hash_tree_root of the block (equal to its header's hash_tree_root).
    pub fn hash_tree_root(&self) -> Root {
        Root::from(self.tree_hash_root())
    }

    /// Root without the signature: the block's identity.
    pub fn signing_root(&self) -> Root {
        self.header().signing_root()
    }

    /// The header: the block with its body replaced by the body's hash_tree_root.
    pub fn header(&self) -> BeaconBlockHeader {
        BeaconBlockHeader {
            slot: self.slot,
            parent_root: self.parent_root,
            state_root: self.state_root,
            body_root: Root::from(self.body.tree_hash_root()),
            signature: self.signature,
        }
    }

    /// Both roots at once, hashing the body only once: `(signing_root, hash_tree_root)`.
    pub fn roots(&self) -> BlockRoots {
        self.header().roots()
    }
}

/// A block with its header, the body hashed once (hashing the body is most of the cost of either
/// root). Built only by [`HashedBlock::new`], so the header always matches the block: gossip
/// checks a block's `hash` with it, then hands it to [`crate::store::ChainStore::import_hashed_block`]
/// so the store does not hash the body again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedBlock {
    block: BeaconBlock,
    header: BeaconBlockHeader,
}

impl HashedBlock {
    /// Hashes the block's body once.
    pub fn new(block: BeaconBlock) -> Self {
        let header = block.header();
        HashedBlock { block, header }
    }

    /// The block.
    pub fn block(&self) -> &BeaconBlock {
        &self.block
    }

    /// Its header (body replaced by the body's root).
    pub fn header(&self) -> &BeaconBlockHeader {
        &self.header
    }

    /// hash_tree_root of the block (from the header: no body hashing).
    pub fn hash_tree_root(&self) -> Root {
        self.header.hash_tree_root()
    }

    /// The block and its header.
    pub fn into_parts(self) -> (BeaconBlock, BeaconBlockHeader) {
        (self.block, self.header)
    }
}

/// The two roots of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockRoots {
    /// Root without the signature: the block's identity, named by children's `parent_root`.
    pub signing_root: Root,
    /// Root of the whole block: what gossip announces as the message `hash`.
    pub hash_tree_root: Root,
}

/// A value's hash_tree_root as a [`Root`], for any tree-hashable type.
pub trait HashTreeRoot {
    /// The SSZ hash_tree_root.
    fn hash_tree_root(&self) -> Root;
}

impl<T: TreeHash> HashTreeRoot for T {
    fn hash_tree_root(&self) -> Root {
        Root::from(self.tree_hash_root())
    }
}

/// Types signed over their root without the trailing `signature` field.
pub trait SignedRoot {
    /// hash_tree_root of the value without its signature.
    fn signing_root(&self) -> Root;
}

impl SignedRoot for BeaconBlock {
    fn signing_root(&self) -> Root {
        BeaconBlock::signing_root(self)
    }
}

impl SignedRoot for BeaconBlockHeader {
    fn signing_root(&self) -> Root {
        BeaconBlockHeader::signing_root(self)
    }
}
