//! [`StoreClient`]: the handle every actor (sessions, manager, sync, gossip, producer, the metrics
//! collector) and every test holds on the `ChainStoreActor`: one method per store message, each
//! returning a `'static` future (so an actor can `into_actor` it) with a typed [`StoreError`].
//! Sends the store's messages; handles none.

use std::future::Future;

use actix::prelude::*;
use hobbits_chain::rpc::Hello;
use hobbits_chain::store::{Head, ImportOutcome};
use hobbits_chain::{
    Attestation, AttestationImported, BeaconBlock, BlockProducer, ChainError, HashedBlock, Root,
    Slot, Snapshot,
};

use super::{
    BuildAttestation, BuildBlock, ChainImport, ChainStoreActor, CheckHello, GetBlock,
    GetGenesisRoot, GetHead, GetHello, GetKnown, GetSnapshot, GetStoreStatus, HelloChecked,
    ImportAttestation, ImportBlock, ImportBlocks, ImportHashedBlock, ProduceBlock, ProduceBlockAt,
    ServeRpc, SlotProduction, StoreStatus,
};
use crate::rpc::{RpcRequest, RpcResponse};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store actor is gone (the node is shutting down).
    #[error("chain store actor gone")]
    Gone,
    /// The store refused the operation.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// The handle on a node's chain store actor.
#[derive(Debug, Clone)]
pub struct StoreClient {
    addr: Addr<ChainStoreActor>,
}

impl StoreClient {
    /// A client of the store actor at `addr`.
    pub fn new(addr: Addr<ChainStoreActor>) -> Self {
        StoreClient { addr }
    }

    /// Sends `msg` and waits for the answer; `Gone` when the actor has stopped.
    fn ask<M>(&self, msg: M) -> impl Future<Output = Result<M::Result, StoreError>> + 'static
    where
        M: Message + Send + 'static,
        M::Result: Send,
        ChainStoreActor: Handler<M>,
    {
        let request = self.addr.send(msg);
        async move { request.await.map_err(|_| StoreError::Gone) }
    }

    /// Like [`Self::ask`] for messages whose answer is itself a store result.
    fn ask_chain<M, T>(&self, msg: M) -> impl Future<Output = Result<T, StoreError>> + 'static
    where
        M: Message<Result = Result<T, ChainError>> + Send + 'static,
        T: Send + 'static,
        ChainStoreActor: Handler<M>,
    {
        let answer = self.ask(msg);
        async move { Ok(answer.await??) }
    }

    /// The store's fault, if it had one (importing stopped then).
    pub fn fault(
        &self,
    ) -> impl Future<Output = Result<Option<super::StoreFault>, StoreError>> + 'static {
        self.ask(super::GetStoreFault)
    }

    /// Our HELLO (head and finality).
    pub fn hello(&self) -> impl Future<Output = Result<Hello, StoreError>> + 'static {
        self.ask(GetHello)
    }

    /// Whether a peer's HELLO is acceptable, with our HELLO to send back.
    pub fn check_hello(
        &self,
        theirs: Hello,
        ids_absent: bool,
    ) -> impl Future<Output = Result<HelloChecked, StoreError>> + 'static {
        self.ask(CheckHello { theirs, ids_absent })
    }

    /// The answer to a peer's RPC request.
    pub fn serve_rpc(
        &self,
        request: RpcRequest,
    ) -> impl Future<Output = Result<RpcResponse, StoreError>> + 'static {
        self.ask(ServeRpc { request })
    }

    /// The answer to a peer's ETH range or roots request (`None`: not a store method).
    pub fn serve_eth(
        &self,
        request: hobbits_codec::eth::EthRequestBody,
    ) -> impl Future<Output = Result<Option<hobbits_codec::eth::EthResponseBody>, StoreError>> + 'static
    {
        self.ask(super::ServeEth { request })
    }

    /// The pairs of `roots` whose block we lack, in order.
    pub fn unknown_roots(
        &self,
        roots: Vec<hobbits_codec::eth::BlockRootSlot>,
    ) -> impl Future<Output = Result<Vec<hobbits_codec::eth::BlockRootSlot>, StoreError>> + 'static
    {
        self.ask(super::GetUnknownRoots { roots })
    }

    /// The head.
    pub fn head(&self) -> impl Future<Output = Result<Head, StoreError>> + 'static {
        self.ask(GetHead)
    }

    /// signing_root of the genesis block.
    pub fn genesis_root(&self) -> impl Future<Output = Result<Root, StoreError>> + 'static {
        self.ask(GetGenesisRoot)
    }

    /// The block with this root (either kind), if stored.
    pub fn block(
        &self,
        root: Root,
    ) -> impl Future<Output = Result<Option<BeaconBlock>, StoreError>> + 'static {
        self.ask(GetBlock { root })
    }

    /// Whether a block (either root) or an attestation with this root is stored.
    pub fn is_known(&self, root: Root) -> impl Future<Output = Result<bool, StoreError>> + 'static {
        self.ask(GetKnown { root })
    }

    /// Head, finality and size of the store.
    pub fn status(&self) -> impl Future<Output = Result<StoreStatus, StoreError>> + 'static {
        self.ask(GetStoreStatus)
    }

    /// A block by the HTTP API's block id, with whether it is canonical and finalized.
    pub fn block_at(
        &self,
        at: super::BlockAt,
    ) -> impl Future<Output = Result<Option<super::FoundBlock>, StoreError>> + 'static {
        self.ask(super::GetBlockAt { at })
    }

    /// The justified and finalized checkpoints the head knows.
    pub fn checkpoints(
        &self,
    ) -> impl Future<Output = Result<super::Checkpoints, StoreError>> + 'static {
        self.ask(super::GetCheckpoints)
    }

    /// A snapshot of the whole store.
    pub fn snapshot(&self) -> impl Future<Output = Result<Snapshot, StoreError>> + 'static {
        self.ask(GetSnapshot)
    }

    /// Imports a block.
    pub fn import_block(
        &self,
        block: BeaconBlock,
    ) -> impl Future<Output = Result<ImportOutcome, StoreError>> + 'static {
        self.ask_chain(ImportBlock { block })
    }

    /// Imports a block whose body was already hashed.
    pub fn import_hashed_block(
        &self,
        block: HashedBlock,
    ) -> impl Future<Output = Result<ImportOutcome, StoreError>> + 'static {
        self.ask_chain(ImportHashedBlock { block })
    }

    /// Imports a chain of blocks in order, in one transaction.
    pub fn import_blocks(
        &self,
        blocks: Vec<BeaconBlock>,
    ) -> impl Future<Output = Result<ChainImport, StoreError>> + 'static {
        self.ask(ImportBlocks { blocks })
    }

    /// Stores an attestation.
    pub fn import_attestation(
        &self,
        attestation: Attestation,
    ) -> impl Future<Output = Result<AttestationImported, StoreError>> + 'static {
        self.ask_chain(ImportAttestation { attestation })
    }

    /// Builds a block on the head at the next slot and imports it.
    pub fn produce_block(
        &self,
        producer: BlockProducer,
    ) -> impl Future<Output = Result<(BeaconBlock, ImportOutcome), StoreError>> + 'static {
        self.ask_chain(ProduceBlock { producer })
    }

    /// Builds a block at `slot` on the head and imports it, unless the head is already there.
    pub fn produce_block_at(
        &self,
        producer: BlockProducer,
        slot: Slot,
    ) -> impl Future<Output = Result<SlotProduction, StoreError>> + 'static {
        self.ask_chain(ProduceBlockAt { producer, slot })
    }

    /// Builds (does not import) a block at `slot` on the head.
    pub fn build_block(
        &self,
        producer: BlockProducer,
        slot: Slot,
    ) -> impl Future<Output = Result<BeaconBlock, StoreError>> + 'static {
        self.ask_chain(BuildBlock { producer, slot })
    }

    /// Builds (does not import) `producer`'s attestation to `head`.
    pub fn build_attestation(
        &self,
        producer: BlockProducer,
        head: Head,
    ) -> impl Future<Output = Result<Attestation, StoreError>> + 'static {
        self.ask(BuildAttestation { producer, head })
    }
}
