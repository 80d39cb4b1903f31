//! The chain store's answers to the ETH dialect's range and root queries ([`ServeEth`]):
//! beacon_block_roots (canonical `(block_root, slot)` pairs, ascending, count ≤ 32768),
//! beacon_block_headers (the Hobbits range query ascending, so `skip_slots` collapses the same
//! way) and beacon_block_bodies (in request order, a zero-value body for an unknown root). Handles
//! `ServeEth`; sends nothing. hello, goodbye, get_status and beacon_chain_state are the session's.

use actix::prelude::*;
use hobbits_chain::rpc::GetBlockHeaders;
use hobbits_chain::ChainRead;
use hobbits_codec::eth::{
    BlockBodiesResponse, BlockRootSlot, BlockRootsResponse, EthRequestBody, EthResponseBody,
    MAX_BLOCK_ROOTS_COUNT,
};

use super::ChainStoreActor;

/// Query: the answer to an ETH request the store serves; `None` for the methods it does not
/// (hello, goodbye, get_status, beacon_chain_state).
#[derive(Debug, Message)]
#[rtype(result = "Option<EthResponseBody>")]
pub struct ServeEth {
    /// The decoded request body (already checked against the codec's limits).
    pub request: EthRequestBody,
}

impl Handler<ServeEth> for ChainStoreActor {
    type Result = MessageResult<ServeEth>;
    fn handle(&mut self, msg: ServeEth, _: &mut Context<Self>) -> Self::Result {
        MessageResult(serve_eth(self.store.as_ref(), msg.request, self.max_items))
    }
}

/// Answers an ETH request from `store`: headers are capped at `max_items` per response
/// (as Hobbits responses), roots at the spec's 32768, bodies are as many as the roots asked
/// (the codec has already bounded them).
pub fn serve_eth<S: ChainRead + ?Sized>(
    store: &S,
    request: EthRequestBody,
    max_items: u64,
) -> Option<EthResponseBody> {
    Some(match request {
        EthRequestBody::BeaconBlockRoots(r) => {
            let count = r.count.min(MAX_BLOCK_ROOTS_COUNT);
            let roots = store
                .block_roots(r.start_slot, count)
                .into_iter()
                .map(Into::into)
                .collect();
            EthResponseBody::BeaconBlockRoots(BlockRootsResponse { roots })
        }
        EthRequestBody::BeaconBlockHeaders(r) => {
            let mut query = GetBlockHeaders::from(&r);
            query.max = query.max.min(max_items);
            EthResponseBody::BeaconBlockHeaders(store.block_headers(&query))
        }
        EthRequestBody::BeaconBlockBodies(r) => {
            EthResponseBody::BeaconBlockBodies(BlockBodiesResponse {
                block_bodies: store.bodies_by_roots(&r.block_roots),
            })
        }
        EthRequestBody::Hello(_)
        | EthRequestBody::Goodbye(_)
        | EthRequestBody::GetStatus(_)
        | EthRequestBody::BeaconChainState(_) => return None,
    })
}

/// Query: the pairs whose block the store lacks (either root kind known counts as known), in
/// the order given.
#[derive(Debug, Message)]
#[rtype(result = "Vec<BlockRootSlot>")]
pub struct GetUnknownRoots {
    /// A peer's `(block_root, slot)` pairs.
    pub roots: Vec<BlockRootSlot>,
}

impl Handler<GetUnknownRoots> for ChainStoreActor {
    type Result = MessageResult<GetUnknownRoots>;
    fn handle(&mut self, msg: GetUnknownRoots, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            msg.roots
                .into_iter()
                .filter(|r| !self.store.contains_block(&r.block_root))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hobbits_chain::{
        BeaconBlockBody, BlockProducer, ChainStore, GenesisConfig, MemoryStore, Root, Slot,
        StoreConfig,
    };
    use hobbits_codec::eth::{BlockBodiesRequest, BlockHeadersRequest, BlockRootsRequest};

    fn chain(blocks: u64) -> MemoryStore {
        let mut store = GenesisConfig::new(1, 1, std::time::Duration::from_secs(0), None)
            .and_then(|g| g.memory_store(StoreConfig::default()))
            .expect("genesis");
        let producer = BlockProducer::new("eth-test", 1);
        for slot in 1..=blocks {
            let block = producer
                .produce_on_head(&store, Slot(slot))
                .expect("produce");
            store.import_block(block).expect("import");
        }
        store
    }

    #[test]
    fn roots_are_canonical_ascending_and_capped_by_count() {
        let store = chain(10);
        let Some(EthResponseBody::BeaconBlockRoots(r)) = serve_eth(
            &store,
            EthRequestBody::BeaconBlockRoots(BlockRootsRequest {
                start_slot: Slot(3),
                count: 4,
            }),
            64,
        ) else {
            panic!("roots answered");
        };
        let slots: Vec<u64> = r.roots.iter().map(|p| p.slot.0).collect();
        assert_eq!(slots, vec![3, 4, 5, 6]);
        for pair in &r.roots {
            assert_eq!(
                store.header(&pair.block_root).map(|h| h.slot),
                Some(pair.slot)
            );
        }
    }

    #[test]
    fn headers_skip_and_max_and_bodies_in_request_order_with_zero_for_unknown() {
        let store = chain(12);
        let start = store.block_roots(Slot(2), 1)[0].root;
        let Some(EthResponseBody::BeaconBlockHeaders(h)) = serve_eth(
            &store,
            EthRequestBody::BeaconBlockHeaders(BlockHeadersRequest {
                start_root: start,
                start_slot: Slot(2),
                max_headers: 3,
                skip_slots: 2,
            }),
            64,
        ) else {
            panic!("headers answered");
        };
        let slots: Vec<u64> = h.headers.iter().map(|h| h.slot.0).collect();
        assert_eq!(slots, vec![2, 5, 8]);

        let r5 = store.block_roots(Slot(5), 1)[0].root;
        let r1 = store.block_roots(Slot(1), 1)[0].root;
        let unknown = Root([0xab; 32]);
        let Some(EthResponseBody::BeaconBlockBodies(b)) = serve_eth(
            &store,
            EthRequestBody::BeaconBlockBodies(BlockBodiesRequest {
                block_roots: vec![r5, unknown, r1],
            }),
            64,
        ) else {
            panic!("bodies answered");
        };
        assert_eq!(b.block_bodies.len(), 3);
        assert_eq!(b.block_bodies[0], store.block(&r5).expect("r5").body);
        assert_eq!(b.block_bodies[1], BeaconBlockBody::default());
        assert_eq!(b.block_bodies[2], store.block(&r1).expect("r1").body);
        assert_ne!(b.block_bodies[0], b.block_bodies[2]);
    }
}
