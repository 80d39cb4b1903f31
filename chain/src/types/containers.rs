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
    /// Fork version before `epoch`.
    pub previous_version: Version,
    /// Fork version from `epoch` on.
    pub current_version: Version,
    /// Epoch of the fork.
    pub epoch: Epoch,
}

/// An (epoch, root) pair: a justification or finality checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Encode, Decode, TreeHash)]
pub struct Checkpoint {
    /// The epoch.
    pub epoch: Epoch,
    /// signing_root of the epoch-boundary block.
    pub root: Root,
}

/// A validator's registry record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct Validator {
    /// BLS public key.
    pub pubkey: BlsPubkey,
    /// Commitment to the withdrawal key.
    pub withdrawal_credentials: Root,
    /// Balance used in reward and penalty computations (Gwei).
    pub effective_balance: Gwei,
    /// Whether the validator was slashed.
    pub slashed: bool,
    /// When it became eligible for activation.
    pub activation_eligibility_epoch: Epoch,
    /// When it was activated.
    pub activation_epoch: Epoch,
    /// When it exited.
    pub exit_epoch: Epoch,
    /// When its balance can be withdrawn.
    pub withdrawable_epoch: Epoch,
}

/// A crosslink to shard data.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct Crosslink {
    /// The shard.
    pub shard: Shard,
    /// hash_tree_root of the previous crosslink.
    pub parent_root: Root,
    /// First epoch covered.
    pub start_epoch: Epoch,
    /// Epoch after the last one covered.
    pub end_epoch: Epoch,
    /// Root of the shard data.
    pub data_root: Root,
}

/// What an attestation votes for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct AttestationData {
    /// The head block voted for (LMD GHOST vote).
    pub beacon_block_root: Root,
    /// The source checkpoint (FFG vote).
    pub source: Checkpoint,
    /// The target checkpoint (FFG vote).
    pub target: Checkpoint,
    /// The crosslink voted for.
    pub crosslink: Crosslink,
}

/// An attestation with validator indices instead of bits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct IndexedAttestation {
    /// Attesting validators with custody bit 0.
    pub custody_bit_0_indices: VariableList<ValidatorIndex, MaxValidatorsPerCommittee>,
    /// Attesting validators with custody bit 1.
    pub custody_bit_1_indices: VariableList<ValidatorIndex, MaxValidatorsPerCommittee>,
    /// What was attested.
    pub data: AttestationData,
    /// Aggregate BLS signature.
    pub signature: Signature,
}

/// An attestation kept in the state.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct PendingAttestation {
    /// Which committee members attested.
    pub aggregation_bits: CommitteeBits,
    /// What was attested.
    pub data: AttestationData,
    /// Slots between the attestation and its inclusion.
    pub inclusion_delay: Slot,
    /// Proposer of the block that included it.
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
    /// Root of the deposit tree.
    pub deposit_root: Root,
    /// Number of deposits.
    pub deposit_count: u64,
    /// The eth1 block voted for.
    pub block_hash: Root,
}

/// A deposit's payload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct DepositData {
    /// BLS public key of the depositor.
    pub pubkey: BlsPubkey,
    /// Commitment to the withdrawal key.
    pub withdrawal_credentials: Root,
    /// Amount deposited (Gwei).
    pub amount: Gwei,
    /// Proof of possession of the key.
    pub signature: Signature,
}

/// A block header: the block with its body replaced by the body's root.
/// Its `TreeHash` is written by hand in `roots.rs` (fewer hashes; same root).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct BeaconBlockHeader {
    /// Slot of the block.
    pub slot: Slot,
    /// signing_root of the parent block.
    pub parent_root: Root,
    /// hash_tree_root of the post-state.
    pub state_root: Root,
    /// hash_tree_root of the block body.
    pub body_root: Root,
    /// Proposer signature (not part of the signing_root).
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
    /// The proposer who signed both headers.
    pub proposer_index: ValidatorIndex,
    /// First signed header.
    pub header_1: BeaconBlockHeader,
    /// Second, conflicting signed header.
    pub header_2: BeaconBlockHeader,
}

/// Two conflicting attestations.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct AttesterSlashing {
    /// First attestation.
    pub attestation_1: IndexedAttestation,
    /// Second, conflicting attestation.
    pub attestation_2: IndexedAttestation,
}

/// A committee's vote (gossiped; identified by its hash_tree_root).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct Attestation {
    /// Which committee members attested.
    pub aggregation_bits: CommitteeBits,
    /// What was attested.
    pub data: AttestationData,
    /// Custody bit of each attester.
    pub custody_bits: CommitteeBits,
    /// Aggregate BLS signature.
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
    /// Merkle branch from the deposit data to the deposit root.
    pub proof: FixedVector<Root, DepositProofLength>,
    /// The deposit.
    pub data: DepositData,
}

/// A validator's request to exit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct VoluntaryExit {
    /// Earliest epoch of the exit.
    pub epoch: Epoch,
    /// The exiting validator.
    pub validator_index: ValidatorIndex,
    /// The validator's signature.
    pub signature: Signature,
}

/// A balance transfer (disabled in v0.8.1: MAX_TRANSFERS is 0).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct Transfer {
    /// Sending validator.
    pub sender: ValidatorIndex,
    /// Receiving validator.
    pub recipient: ValidatorIndex,
    /// Amount transferred (Gwei).
    pub amount: Gwei,
    /// Fee to the proposer (Gwei).
    pub fee: Gwei,
    /// Slot at which the transfer is valid.
    pub slot: Slot,
    /// Withdrawal public key of the sender.
    pub pubkey: BlsPubkey,
    /// Signature with that key.
    pub signature: Signature,
}

/// The block body: randao, eth1 vote, graffiti and operations.
/// Its `TreeHash` is written by hand in `roots.rs` (fewer hashes; same root).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct BeaconBlockBody {
    /// The proposer's RANDAO reveal.
    pub randao_reveal: Signature,
    /// The eth1 data voted for.
    pub eth1_data: Eth1Data,
    /// 32 free bytes.
    pub graffiti: [u8; 32],
    /// Proposer slashings included.
    pub proposer_slashings: VariableList<ProposerSlashing, MaxProposerSlashings>,
    /// Attester slashings included.
    pub attester_slashings: VariableList<AttesterSlashing, MaxAttesterSlashings>,
    /// Attestations included.
    pub attestations: VariableList<Attestation, MaxAttestations>,
    /// Deposits included.
    pub deposits: VariableList<Deposit, MaxDeposits>,
    /// Voluntary exits included.
    pub voluntary_exits: VariableList<VoluntaryExit, MaxVoluntaryExits>,
    /// Transfers included (always empty: disabled in v0.8.1).
    pub transfers: VariableList<Transfer, MaxTransfers>,
}

/// A beacon block. Identified by its `signing_root` (what a child's `parent_root` names); gossip
/// announces it by `hash_tree_root`.
/// Its `TreeHash` is written by hand in `roots.rs` (fewer hashes; same root).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct BeaconBlock {
    /// Slot of the block.
    pub slot: Slot,
    /// signing_root of the parent block.
    pub parent_root: Root,
    /// hash_tree_root of the post-state.
    pub state_root: Root,
    /// The body.
    pub body: BeaconBlockBody,
    /// Proposer signature (not part of the signing_root).
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
