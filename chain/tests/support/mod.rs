//! Support for the tests of this directory: the consistency check a reopened persistent store must
//! pass.

use hobbits_chain::{ChainStore, Slot};

/// Every block's parent stored, the head a stored block, the canonical chain contiguous by parent
/// links from the head down to genesis.
pub fn assert_consistent(store: &impl ChainStore) {
    let genesis = store.genesis_root();
    for block in store.blocks_in_slot_order(Slot(u64::MAX)) {
        let root = block.signing_root();
        if root != genesis {
            assert!(store.contains_block(&block.parent_root), "parent stored");
        }
    }
    let head = store.head();
    assert!(store.contains_block(&head.root), "head stored");
    let canonical = store.canonical_in_range(Slot(0), Slot(u64::MAX), usize::MAX);
    assert_eq!(canonical.first().map(|b| b.root), Some(genesis));
    assert_eq!(canonical.last().map(|b| b.root), Some(head.root));
    for pair in canonical.windows(2) {
        let child = store.header(&pair[1].root).expect("canonical block");
        assert_eq!(
            child.parent_root, pair[0].root,
            "canonical chain contiguous"
        );
    }
    let finalized = store.finalized_checkpoint();
    assert!(
        store.is_canonical(&finalized.root),
        "finalized block canonical"
    );
}
