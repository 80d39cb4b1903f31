//! Queries for the node's HTTP API: [`GetBlockAt`] (a block by the Beacon API's block ids: head,
//! genesis, finalized, a slot, a root — with whether it is canonical and finalized) and
//! [`GetCheckpoints`] (the justified and finalized checkpoints the head knows). The resolution
//! is a plain function over `ChainRead` ([`find_block`]); the handlers only call it. Handles
//! those two queries; sends nothing.

use actix::prelude::*;
use hobbits_chain::store::ChainRead;
use hobbits_chain::{BeaconBlock, Checkpoint, Root, Slot};

use super::ChainStoreActor;

/// Which block: the Beacon API's `block_id` once parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockAt {
    /// The head.
    Head,
    /// The genesis block.
    Genesis,
    /// The block of the finalized checkpoint (genesis while nothing is finalized).
    Finalized,
    /// The canonical block at exactly this slot (none when the slot is empty).
    Slot(Slot),
    /// The block with this root (signing_root or hash_tree_root), canonical or not.
    Root(Root),
}

/// A block found by [`GetBlockAt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundBlock {
    /// Its signing_root (its identity).
    pub root: Root,
    /// The block.
    pub block: BeaconBlock,
    /// On the chain of the head.
    pub canonical: bool,
    /// Canonical and at or before the finalized checkpoint's block.
    pub finalized: bool,
}

/// Query: a block by id.
#[derive(Debug, Message)]
#[rtype(result = "Option<FoundBlock>")]
pub struct GetBlockAt {
    /// Which block.
    pub at: BlockAt,
}

/// The checkpoints the head knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoints {
    /// Previous justified (from the head's post-state when stored; else the finalized one).
    pub previous_justified: Checkpoint,
    /// Current justified (likewise).
    pub current_justified: Checkpoint,
    /// Finalized (the store's).
    pub finalized: Checkpoint,
}

/// Query: the checkpoints the head knows.
#[derive(Debug, Message)]
#[rtype(result = "Checkpoints")]
pub struct GetCheckpoints;

/// The slot of the finalized checkpoint's block (0 while nothing is finalized).
fn finalized_slot<S: ChainRead + ?Sized>(store: &S) -> Slot {
    let f = store.finalized_checkpoint();
    store
        .header(&f.root)
        .map_or_else(|| f.epoch.start_slot(store.slots_per_epoch()), |h| h.slot)
}

/// Resolves `at` in `store`.
pub fn find_block<S: ChainRead + ?Sized>(store: &S, at: BlockAt) -> Option<FoundBlock> {
    let root = match at {
        BlockAt::Head => store.head().root,
        BlockAt::Genesis => store.genesis_root(),
        BlockAt::Finalized => {
            let f = store.finalized_checkpoint();
            if f.root == Root::default() {
                store.genesis_root()
            } else {
                store.resolve_root(&f.root)?
            }
        }
        BlockAt::Slot(slot) => {
            store
                .canonical_at_or_before(slot)
                .filter(|b| b.slot == slot)?
                .root
        }
        BlockAt::Root(r) => store.resolve_root(&r)?,
    };
    let block = store.block(&root)?;
    let canonical = store.is_canonical(&root);
    let finalized = canonical && block.slot <= finalized_slot(store);
    Some(FoundBlock {
        root,
        block,
        canonical,
        finalized,
    })
}

/// The checkpoints the head knows.
pub fn checkpoints<S: ChainRead + ?Sized>(store: &S) -> Checkpoints {
    let finalized = store.finalized_checkpoint();
    let state = store
        .block(&store.head().root)
        .and_then(|b| store.state(&b.state_root));
    match state {
        Some(s) => Checkpoints {
            previous_justified: s.previous_justified_checkpoint,
            current_justified: s.current_justified_checkpoint,
            finalized,
        },
        None => Checkpoints {
            previous_justified: finalized,
            current_justified: finalized,
            finalized,
        },
    }
}

impl Handler<GetBlockAt> for ChainStoreActor {
    type Result = MessageResult<GetBlockAt>;
    fn handle(&mut self, msg: GetBlockAt, _: &mut Context<Self>) -> Self::Result {
        MessageResult(find_block(&*self.store, msg.at))
    }
}

impl Handler<GetCheckpoints> for ChainStoreActor {
    type Result = MessageResult<GetCheckpoints>;
    fn handle(&mut self, _: GetCheckpoints, _: &mut Context<Self>) -> Self::Result {
        MessageResult(checkpoints(&*self.store))
    }
}

#[cfg(test)]
mod tests {
    use hobbits_chain::store::ChainStore;
    use hobbits_chain::{BlockProducer, GenesisConfig, StoreConfig};
    use std::time::Duration;

    use super::*;

    #[test]
    fn ids_resolve_to_canonical_blocks() {
        let mut store = GenesisConfig::new(1, 1, Duration::ZERO, None)
            .expect("genesis")
            .memory_store(StoreConfig::default())
            .expect("store");
        let genesis = store.genesis_root();
        let producer = BlockProducer::new("lookup", 1);
        let mut roots = vec![genesis];
        for slot in [1u64, 2, 4] {
            let block = producer.produce_on_head(&store, Slot(slot)).expect("build");
            roots.push(store.import_block(block).expect("import").root);
        }
        let head = find_block(&store, BlockAt::Head).expect("head");
        assert_eq!(
            (head.root, head.block.slot, head.canonical),
            (roots[3], Slot(4), true)
        );
        let g = find_block(&store, BlockAt::Genesis).expect("genesis");
        assert_eq!(g.root, genesis);
        assert!(g.finalized, "genesis is always finalized");
        assert_eq!(
            find_block(&store, BlockAt::Finalized).map(|b| b.root),
            Some(genesis)
        );
        assert_eq!(
            find_block(&store, BlockAt::Slot(Slot(2))).map(|b| b.root),
            Some(roots[2])
        );
        assert_eq!(
            find_block(&store, BlockAt::Slot(Slot(3))),
            None,
            "an empty slot"
        );
        assert_eq!(
            find_block(&store, BlockAt::Slot(Slot(9))),
            None,
            "past the head"
        );
        let by_root = find_block(&store, BlockAt::Root(roots[1])).expect("by root");
        assert_eq!(by_root.block.slot, Slot(1));
        assert!(!by_root.finalized);
        assert_eq!(find_block(&store, BlockAt::Root(Root([7; 32]))), None);
        let c = checkpoints(&store);
        assert_eq!(c.finalized.epoch.0, 0);
    }
}
