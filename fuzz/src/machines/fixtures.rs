//! Chains and gossip objects the state-machine harnesses share, built once per process (block
//! production and hashing cost far more than one fuzz input may). Handles no messages.
//!
//! Four chains from one genesis: `0` genesis only; `1` every slot 1..=40; `2` a fork from genesis
//! with empty slots (no block at slots divisible by 3); `3` chain 1 up to slot 20, then a fork
//! with every slot up to 44. Each with the `signing_root` of every block, so the sync harness's
//! simulated local store links blocks by root without hashing the known ones again.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use hobbits_chain::{
    Attestation, BeaconBlock, BlockProducer, ChainRead, ChainStore, GenesisConfig, MemoryStore,
    Root, Slot, StoreConfig,
};

/// One chain: the store that serves it and its blocks in slot order (genesis excluded).
pub(crate) struct Chain {
    pub(crate) store: MemoryStore,
    pub(crate) blocks: Vec<BeaconBlock>,
}

/// Everything the harnesses share.
pub(crate) struct Fixtures {
    /// The chains, by index (see the module doc).
    pub(crate) chains: Vec<Chain>,
    /// The genesis block's root.
    pub(crate) genesis_root: Root,
    /// `signing_root` of every block of every chain, by (slot, parent, state root).
    roots: HashMap<BlockKey, Vec<(BeaconBlock, Root)>>,
    /// Attestations to a few heads.
    pub(crate) attestations: Vec<Attestation>,
}

type BlockKey = (u64, [u8; 32], [u8; 32]);

fn key(block: &BeaconBlock) -> BlockKey {
    (block.slot.0, block.parent_root.0, block.state_root.0)
}

/// Number of chains in [`Fixtures::chains`].
pub(crate) const CHAINS: usize = 4;

fn genesis() -> MemoryStore {
    GenesisConfig::new(1, 1, Duration::from_secs(0), None)
        .and_then(|g| g.memory_store(StoreConfig::default()))
        .expect("genesis of the fixtures")
}

fn extend(store: &mut MemoryStore, blocks: &mut Vec<BeaconBlock>, name: &str, slots: &[u64]) {
    let producer = BlockProducer::new(name, 1);
    for &slot in slots {
        let block = producer
            .produce_on_head(store, Slot(slot))
            .expect("fixture block");
        store.import_block(block.clone()).expect("fixture import");
        blocks.push(block);
    }
}

fn build() -> Fixtures {
    let base = genesis();
    let genesis_root = base.head().root;
    let mut chains = vec![Chain {
        store: base.clone(),
        blocks: Vec::new(),
    }];
    let every: Vec<u64> = (1..=40).collect();
    let gaps: Vec<u64> = (1..=40).filter(|s| s % 3 != 0).collect();
    for (name, slots) in [("a", &every), ("b", &gaps)] {
        let mut store = base.clone();
        let mut blocks = Vec::new();
        extend(&mut store, &mut blocks, name, slots);
        chains.push(Chain { store, blocks });
    }
    // Chain 3: chain 1 up to slot 20, then its own blocks.
    let mut store = base.clone();
    let mut blocks = Vec::new();
    for b in chains[1].blocks.iter().take(20) {
        store.import_block(b.clone()).expect("fixture import");
        blocks.push(b.clone());
    }
    let rest: Vec<u64> = (21..=44).collect();
    extend(&mut store, &mut blocks, "c", &rest);
    chains.push(Chain { store, blocks });

    let mut roots: HashMap<BlockKey, Vec<(BeaconBlock, Root)>> = HashMap::new();
    for b in chains.iter().flat_map(|c| c.blocks.iter()) {
        let known = roots.entry(key(b)).or_default();
        if !known.iter().any(|(k, _)| k == b) {
            known.push((b.clone(), b.signing_root()));
        }
    }
    let attestations = (1..=3)
        .map(|v| {
            let chain = &chains[v as usize];
            BlockProducer::new("att", v).attest(&chain.store, chain.store.head())
        })
        .collect();
    Fixtures {
        chains,
        genesis_root,
        roots,
        attestations,
    }
}

/// The shared fixtures (built on first use).
pub(crate) fn get() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(build)
}

impl Fixtures {
    /// `signing_root` of `block` (looked up for the fixtures' blocks, computed for others).
    pub(crate) fn root_of(&self, block: &BeaconBlock) -> Root {
        self.roots
            .get(&key(block))
            .and_then(|known| known.iter().find(|(k, _)| k == block))
            .map_or_else(|| block.signing_root(), |(_, r)| *r)
    }
}
