//! `ChainStoreActor`: the actor around a `Box<dyn ChainStore + Send>` (the chain crate's trait), so
//! an embedding client can supply its own store. Serves the RPC queries of every session and the
//! imports of the producer, sync and gossip.
//!
//! Handles: [`GetHello`], [`CheckHello`], [`ServeRpc`], [`ImportBlock`], [`GetHead`],
//! [`GetGenesisRoot`], [`WithStore`], [`ProduceBlock`] (head + 1, for tests and examples),
//! [`ProduceBlockAt`] (the producer's clock slot). Sends nothing.

use actix::prelude::*;
use hobbits_chain::rpc::Hello;
use hobbits_chain::store::{ChainStore, Head, ImportOutcome};
use hobbits_chain::{BeaconBlock, ChainError, Root};

use crate::handshake::{check_hello, HelloRejection};
use crate::rpc::{RpcRequest, RpcResponse};

/// The actor.
pub struct ChainStoreActor {
    store: Box<dyn ChainStore + Send>,
    network_id: u8,
    chain_id: u8,
    max_items: u64,
    mailbox: usize,
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
        }
    }

    fn hello(&self) -> Hello {
        self.store.hello(self.network_id, self.chain_id)
    }

    fn serve(&self, request: RpcRequest) -> RpcResponse {
        match request {
            RpcRequest::Status(s) => RpcResponse::Status(s),
            RpcRequest::BlockHeaders(mut r) => {
                r.max = r.max.min(self.max_items);
                RpcResponse::BlockHeaders(self.store.block_headers(&r))
            }
            RpcRequest::BlockBodies(mut r) => {
                r.max = r.max.min(self.max_items);
                RpcResponse::BlockBodies(self.store.block_bodies(&r))
            }
            RpcRequest::Attestation(r) => match self.store.attestation_response(&r) {
                Some(a) => RpcResponse::Attestation(a),
                None => RpcResponse::Attestation(Default::default()),
            },
            RpcRequest::BeaconStates(r) => RpcResponse::BeaconStates(self.store.beacon_states(&r)),
        }
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
        MessageResult(self.serve(msg.request))
    }
}

/// Command: import a block (from the producer, sync or gossip).
#[derive(Debug, Message)]
#[rtype(result = "Result<ImportOutcome, ChainError>")]
pub struct ImportBlock {
    /// The block.
    pub block: BeaconBlock,
}

impl Handler<ImportBlock> for ChainStoreActor {
    type Result = Result<ImportOutcome, ChainError>;
    fn handle(&mut self, msg: ImportBlock, _: &mut Context<Self>) -> Self::Result {
        self.store.import_block(msg.block)
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

/// A closure run against the store by [`WithStore`].
pub type StoreFn = Box<dyn FnOnce(&mut dyn ChainStore) + Send>;

/// Runs a closure against the store (for embedding clients and tests: inspection, seeding).
#[derive(Message)]
#[rtype(result = "()")]
pub struct WithStore {
    /// The closure.
    pub f: StoreFn,
}

impl std::fmt::Debug for WithStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WithStore")
    }
}

impl Handler<WithStore> for ChainStoreActor {
    type Result = ();
    fn handle(&mut self, msg: WithStore, _: &mut Context<Self>) {
        (msg.f)(self.store.as_mut());
    }
}

/// Command: build a block on the head at the next slot with `producer` and import it.
#[derive(Debug, Message)]
#[rtype(result = "Result<(BeaconBlock, ImportOutcome), ChainError>")]
pub struct ProduceBlock {
    /// The producer (graffiti, validator index).
    pub producer: hobbits_chain::BlockProducer,
}

impl Handler<ProduceBlock> for ChainStoreActor {
    type Result = Result<(BeaconBlock, ImportOutcome), ChainError>;
    fn handle(&mut self, msg: ProduceBlock, _: &mut Context<Self>) -> Self::Result {
        let slot = hobbits_chain::Slot(self.store.head().slot.0 + 1);
        let block = msg.producer.produce_on_head(self.store.as_ref(), slot)?;
        let outcome = self.store.import_block(block.clone())?;
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
        head_slot: hobbits_chain::Slot,
    },
}

/// Command: build a block at `slot` on the head with `producer` and import it, unless the head
/// is already at or past `slot` (the producer's slot clock; see `producer.rs`). The check and
/// the build happen in one handler, so no import can slip in between.
#[derive(Debug, Message)]
#[rtype(result = "Result<SlotProduction, ChainError>")]
pub struct ProduceBlockAt {
    /// The producer (graffiti, validator index).
    pub producer: hobbits_chain::BlockProducer,
    /// The slot of the block.
    pub slot: hobbits_chain::Slot,
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
        let outcome = self.store.import_block(block.clone())?;
        Ok(SlotProduction::Produced {
            block: Box::new(block),
            outcome,
        })
    }
}
