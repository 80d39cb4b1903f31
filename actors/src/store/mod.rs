//! The one way to talk to the chain store. [`ChainStoreActor`] owns a `Box<dyn ChainStore + Send>`
//! (the chain crate's trait, so an embedding client can bring its own store) and handles typed
//! messages, one per operation; [`StoreClient`] (in `client.rs`) is the handle every other actor
//! holds, with one async method per message and a typed [`StoreError`]; the operations that are
//! more than one store call are plain functions in [`ops`], tested without a runtime.
//!
//! Handles: queries [`GetHello`], [`CheckHello`], [`ServeRpc`], [`GetHead`], [`GetGenesisRoot`],
//! [`GetBlock`], [`GetKnown`], [`GetStoreStatus`], [`GetSnapshot`]; commands [`ImportBlock`],
//! [`ImportHashedBlock`], [`ImportBlocks`], [`ImportAttestation`], [`ProduceBlock`] (head + 1, for
//! tests and examples), [`ProduceBlockAt`] (the producer's clock slot), [`BuildBlock`] and
//! [`BuildAttestation`] (built on the stored chain, not imported); [`GetBlockAt`] and
//! [`GetCheckpoints`] for the HTTP API (in `lookup.rs`); [`GetStoreFault`]. Sends nothing. Every
//! write is contained (`fault.rs`): a panic or storage failure stops importing and is reported;
//! reads go on.

use actix::prelude::*;
use hobbits_chain::rpc::Hello;
use hobbits_chain::store::{ChainStore, Head, ImportOutcome};
use hobbits_chain::{
    Attestation, AttestationImported, BeaconBlock, BlockProducer, ChainError, Checkpoint,
    HashedBlock, Root, Slot, Snapshot,
};

use crate::handshake::{check_hello, HelloRejection};
use crate::rpc::{RpcRequest, RpcResponse};

mod client;
mod eth;
mod fault;
pub mod lookup;
pub mod ops;

pub use client::{StoreClient, StoreError};
pub use eth::{serve_eth, GetUnknownRoots, ServeEth};
pub use fault::{FaultKind, GetStoreFault, StoreFault};
pub use lookup::{BlockAt, Checkpoints, FoundBlock, GetBlockAt, GetCheckpoints};
pub use ops::{ChainImport, ImportResult};

/// The actor.
pub struct ChainStoreActor {
    store: Box<dyn ChainStore + Send>,
    network_id: u8,
    chain_id: u8,
    max_items: u64,
    mailbox: usize,
    faults: fault::FaultState,
}

impl std::fmt::Debug for ChainStoreActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainStoreActor")
            .field("network_id", &self.network_id)
            .field("chain_id", &self.chain_id)
            .finish_non_exhaustive()
    }
}

impl ChainStoreActor {
    /// Wraps `store`; HELLOs carry `network_id` / `chain_id`; responses hold at most `max_items`
    /// headers / bodies / states; the mailbox holds `mailbox` messages.
    pub fn new(
        store: Box<dyn ChainStore + Send>,
        network_id: u8,
        chain_id: u8,
        max_items: u64,
        mailbox: usize,
    ) -> Self {
        ChainStoreActor {
            store,
            network_id,
            chain_id,
            max_items,
            mailbox,
            faults: fault::FaultState::new(),
        }
    }

    fn hello(&self) -> Hello {
        self.store.hello(self.network_id, self.chain_id)
    }
}

impl Actor for ChainStoreActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox);
    }
}

/// Query: our HELLO (head and finality).
#[derive(Debug, Message)]
#[rtype(result = "Hello")]
pub struct GetHello;

impl Handler<GetHello> for ChainStoreActor {
    type Result = MessageResult<GetHello>;
    fn handle(&mut self, _: GetHello, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.hello())
    }
}

/// Query: is a peer's HELLO acceptable? Replies with our HELLO and the verdict.
#[derive(Debug, Message)]
#[rtype(result = "HelloChecked")]
pub struct CheckHello {
    /// The peer's HELLO.
    pub theirs: Hello,
    /// The peer's HELLO had no `network_id` / `chain_id` (Prysm's 2019 shape): those are not
    /// judged, only the finalized root is.
    pub ids_absent: bool,
}

/// Reply to [`CheckHello`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloChecked {
    /// Our HELLO, to send back.
    pub ours: Hello,
    /// `Err` means GOODBYE 2.
    pub verdict: Result<(), HelloRejection>,
}

impl Handler<CheckHello> for ChainStoreActor {
    type Result = MessageResult<CheckHello>;
    fn handle(&mut self, msg: CheckHello, _: &mut Context<Self>) -> Self::Result {
        let ours = self.hello();
        let store = &self.store;
        let mut theirs = msg.theirs;
        if msg.ids_absent {
            theirs.network_id = ours.network_id;
            theirs.chain_id = ours.chain_id;
        }
        let verdict = check_hello(&ours, &theirs, |root, epoch| {
            store.check_finalized(root, epoch)
        });
        MessageResult(HelloChecked { ours, verdict })
    }
}

/// Query: answer a peer's RPC request from the store.
#[derive(Debug, Message)]
#[rtype(result = "RpcResponse")]
pub struct ServeRpc {
    /// The request.
    pub request: RpcRequest,
}

impl Handler<ServeRpc> for ChainStoreActor {
    type Result = MessageResult<ServeRpc>;
    fn handle(&mut self, msg: ServeRpc, _: &mut Context<Self>) -> Self::Result {
        MessageResult(ops::serve(self.store.as_ref(), msg.request, self.max_items))
    }
}

/// Query: the head.
#[derive(Debug, Message)]
#[rtype(result = "Head")]
pub struct GetHead;

impl Handler<GetHead> for ChainStoreActor {
    type Result = MessageResult<GetHead>;
    fn handle(&mut self, _: GetHead, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.store.head())
    }
}

/// Query: signing_root of the genesis block.
#[derive(Debug, Message)]
#[rtype(result = "Root")]
pub struct GetGenesisRoot;

impl Handler<GetGenesisRoot> for ChainStoreActor {
    type Result = MessageResult<GetGenesisRoot>;
    fn handle(&mut self, _: GetGenesisRoot, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.store.genesis_root())
    }
}

/// Query: a block by root.
#[derive(Debug, Message)]
#[rtype(result = "Option<BeaconBlock>")]
pub struct GetBlock {
    /// signing_root or hash_tree_root.
    pub root: Root,
}

impl Handler<GetBlock> for ChainStoreActor {
    type Result = Option<BeaconBlock>;
    fn handle(&mut self, msg: GetBlock, _: &mut Context<Self>) -> Self::Result {
        self.store.block(&msg.root)
    }
}

/// Query: is a block (either root) or an attestation (hash_tree_root) with this root stored?
#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub struct GetKnown {
    /// The root.
    pub root: Root,
}

impl Handler<GetKnown> for ChainStoreActor {
    type Result = bool;
    fn handle(&mut self, msg: GetKnown, _: &mut Context<Self>) -> bool {
        ops::is_known(self.store.as_ref(), &msg.root)
    }
}

/// Reply to [`GetStoreStatus`]: what the metrics show of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStatus {
    /// The head.
    pub head: Head,
    /// The finalized checkpoint.
    pub finalized: Checkpoint,
    /// Slots per epoch of the chain.
    pub slots_per_epoch: u64,
    /// Blocks stored.
    pub blocks: usize,
}

/// Query: head, finality and size of the store.
#[derive(Debug, Message)]
#[rtype(result = "StoreStatus")]
pub struct GetStoreStatus;

impl Handler<GetStoreStatus> for ChainStoreActor {
    type Result = MessageResult<GetStoreStatus>;
    fn handle(&mut self, _: GetStoreStatus, _: &mut Context<Self>) -> Self::Result {
        let s = &self.store;
        MessageResult(StoreStatus {
            head: s.head(),
            finalized: s.finalized_checkpoint(),
            slots_per_epoch: s.slots_per_epoch(),
            blocks: s.block_count(),
        })
    }
}

/// Query: a snapshot of the whole store (the testnet starts late joiners from one).
#[derive(Debug, Message)]
#[rtype(result = "Snapshot")]
pub struct GetSnapshot;

impl Handler<GetSnapshot> for ChainStoreActor {
    type Result = MessageResult<GetSnapshot>;
    fn handle(&mut self, _: GetSnapshot, _: &mut Context<Self>) -> Self::Result {
        MessageResult(Snapshot::from_store(self.store.as_ref(), None))
    }
}

/// Command: import a block.
#[derive(Debug, Message)]
#[rtype(result = "Result<ImportOutcome, ChainError>")]
pub struct ImportBlock {
    /// The block.
    pub block: BeaconBlock,
}

impl Handler<ImportBlock> for ChainStoreActor {
    type Result = Result<ImportOutcome, ChainError>;
    fn handle(&mut self, msg: ImportBlock, _: &mut Context<Self>) -> Self::Result {
        self.write("importing a block", |s| s.import_block(msg.block))
    }
}

/// Command: import a block whose body was already hashed (gossip checked its root), without
/// hashing the body again.
#[derive(Debug, Message)]
#[rtype(result = "Result<ImportOutcome, ChainError>")]
pub struct ImportHashedBlock {
    /// The block with its header.
    pub block: HashedBlock,
}

impl Handler<ImportHashedBlock> for ChainStoreActor {
    type Result = Result<ImportOutcome, ChainError>;
    fn handle(&mut self, msg: ImportHashedBlock, _: &mut Context<Self>) -> Self::Result {
        self.write("importing a block", |s| s.import_hashed_block(msg.block))
    }
}

/// Command: import a chain of blocks in order, in one store turn and one transaction (see
/// [`ops::import_chain`]).
#[derive(Debug, Message)]
#[rtype(result = "ChainImport")]
pub struct ImportBlocks {
    /// Parents first.
    pub blocks: Vec<BeaconBlock>,
}

impl Handler<ImportBlocks> for ChainStoreActor {
    type Result = MessageResult<ImportBlocks>;
    fn handle(&mut self, msg: ImportBlocks, _: &mut Context<Self>) -> Self::Result {
        let chain = match self.write("importing blocks", |s| s.import_blocks(msg.blocks)) {
            Ok(results) => ops::summarize_import(self.store.as_ref(), results),
            Err(e) => ops::failed_import(&e),
        };
        MessageResult(chain)
    }
}

/// Command: store an attestation.
#[derive(Debug, Message)]
#[rtype(result = "Result<AttestationImported, ChainError>")]
pub struct ImportAttestation {
    /// The attestation.
    pub attestation: Attestation,
}

impl Handler<ImportAttestation> for ChainStoreActor {
    type Result = Result<AttestationImported, ChainError>;
    fn handle(&mut self, msg: ImportAttestation, _: &mut Context<Self>) -> Self::Result {
        self.write("importing an attestation", |s| {
            s.import_attestation(msg.attestation)
        })
    }
}

/// Command: build a block on the head at the next slot with `producer` and import it.
#[derive(Debug, Message)]
#[rtype(result = "Result<(BeaconBlock, ImportOutcome), ChainError>")]
pub struct ProduceBlock {
    /// The producer (graffiti, validator index).
    pub producer: BlockProducer,
}

impl Handler<ProduceBlock> for ChainStoreActor {
    type Result = Result<(BeaconBlock, ImportOutcome), ChainError>;
    fn handle(&mut self, msg: ProduceBlock, _: &mut Context<Self>) -> Self::Result {
        let slot = Slot(self.store.head().slot.0 + 1);
        let block = msg.producer.produce_on_head(self.store.as_ref(), slot)?;
        let outcome = self.write("importing a produced block", |s| {
            s.import_block(block.clone())
        })?;
        Ok((block, outcome))
    }
}

/// What [`ProduceBlockAt`] did.
#[derive(Debug, Clone)]
pub enum SlotProduction {
    /// A block at the requested slot was built on the head and imported.
    Produced {
        /// The block (boxed: a block is large next to the other variant).
        block: Box<BeaconBlock>,
        /// Its import.
        outcome: ImportOutcome,
    },
    /// The head already has a block at or after the requested slot: nothing built.
    HeadAhead {
        /// The head's slot.
        head_slot: Slot,
    },
}

/// Command: build a block at `slot` on the head with `producer` and import it, unless the head
/// is already at or past `slot` (the producer's slot clock; see `producer.rs`). The check and
/// the build happen in one handler, so no import can slip in between.
#[derive(Debug, Message)]
#[rtype(result = "Result<SlotProduction, ChainError>")]
pub struct ProduceBlockAt {
    /// The producer (graffiti, validator index).
    pub producer: BlockProducer,
    /// The slot of the block.
    pub slot: Slot,
}

impl Handler<ProduceBlockAt> for ChainStoreActor {
    type Result = Result<SlotProduction, ChainError>;
    fn handle(&mut self, msg: ProduceBlockAt, _: &mut Context<Self>) -> Self::Result {
        let head_slot = self.store.head().slot;
        if head_slot >= msg.slot {
            return Ok(SlotProduction::HeadAhead { head_slot });
        }
        let block = msg
            .producer
            .produce_on_head(self.store.as_ref(), msg.slot)?;
        let outcome = self.write("importing a produced block", |s| {
            s.import_block(block.clone())
        })?;
        Ok(SlotProduction::Produced {
            block: Box::new(block),
            outcome,
        })
    }
}

/// Command: build (not import) a block at `slot` on the head with `producer`.
#[derive(Debug, Message)]
#[rtype(result = "Result<BeaconBlock, ChainError>")]
pub struct BuildBlock {
    /// The producer (graffiti, validator index).
    pub producer: BlockProducer,
    /// The slot of the block.
    pub slot: Slot,
}

impl Handler<BuildBlock> for ChainStoreActor {
    type Result = Result<BeaconBlock, ChainError>;
    fn handle(&mut self, msg: BuildBlock, _: &mut Context<Self>) -> Self::Result {
        msg.producer.produce_on_head(self.store.as_ref(), msg.slot)
    }
}

/// Command: build (not import) `producer`'s attestation to `head`, with the checkpoints the
/// stored chain gives.
#[derive(Debug, Message)]
#[rtype(result = "Attestation")]
pub struct BuildAttestation {
    /// The attester (validator index).
    pub producer: BlockProducer,
    /// The head voted for.
    pub head: Head,
}

impl Handler<BuildAttestation> for ChainStoreActor {
    type Result = MessageResult<BuildAttestation>;
    fn handle(&mut self, msg: BuildAttestation, _: &mut Context<Self>) -> Self::Result {
        MessageResult(msg.producer.attest(self.store.as_ref(), msg.head))
    }
}
