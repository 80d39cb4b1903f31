//! Block range selection for GET_BLOCK_HEADERS / GET_BLOCK_BODIES: where to start, which chain to
//! walk, and the eth2 `skip_slots` rule. No messages are handled or sent here.
//!
//! Rules:
//! - start: `start_root` when it is non-zero and names a known block (by signing_root or
//!   hash_tree_root); otherwise `start_slot` on the canonical chain;
//! - chain walked: the canonical chain, except when `start_root` names a non-canonical (fork) block:
//!   then the fork's own chain, i.e. the ancestry of the fork's best descendant (highest slot, ties
//!   by lower root) when ascending, the ancestry of the start block when descending;
//! - targets: slots `s0, s0 ± step, …` with `step = skip + 1` (`s0` is `start_slot`, or the start
//!   block's slot); each target yields the closest block at or before it on the walked chain (an
//!   empty slot yields the previous block), duplicates collapse, so `skip = 0` returns every block;
//! - ascending stops past the walked chain's tip, descending below slot 0;
//! - at most `min(max, MAX_BLOCKS_PER_RESPONSE)` results.
//!
//! Large slot gaps cost nothing: the walk jumps from one block to the next target that can yield a
//! different block, so the work is proportional to the number of results.

use crate::rpc::{Direction, GetBlockBodies, GetBlockHeaders, MAX_BLOCKS_PER_RESPONSE};
use crate::store::{BlockRootSlot, ChainRead};
use crate::types::{Root, Slot};

/// A block range query (the common fields of GET_BLOCK_HEADERS and GET_BLOCK_BODIES).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeRequest {
    /// Start block (either root kind); zero means "use `start_slot`".
    pub start_root: Root,
    /// Start slot on the canonical chain when `start_root` is zero or unknown.
    pub start_slot: Slot,
    /// Most results wanted.
    pub max: u64,
    /// Slots skipped between results (`skip_slots`).
    pub skip: u64,
    /// Walk order.
    pub direction: Direction,
}

impl From<&GetBlockHeaders> for RangeRequest {
    fn from(r: &GetBlockHeaders) -> Self {
        RangeRequest {
            start_root: r.start_root,
            start_slot: r.start_slot,
            max: r.max,
            skip: r.skip,
            direction: Direction::from_wire(r.direction),
        }
    }
}

impl From<&GetBlockBodies> for RangeRequest {
    fn from(r: &GetBlockBodies) -> Self {
        RangeRequest::from(&GetBlockHeaders::from(r.clone()))
    }
}

/// The chain a query walks: the canonical chain up to `base_slot`, then (for a fork) `segment`, the
/// fork's non-canonical blocks in ascending order.
struct ChainView<'a, S: ?Sized> {
    store: &'a S,
    base_slot: Slot,
    segment: Vec<BlockRootSlot>,
}

impl<S: ChainRead + ?Sized> ChainView<'_, S> {
    fn tip_slot(&self) -> Slot {
        self.segment.last().map_or(self.base_slot, |b| b.slot)
    }

    /// The block at the highest slot ≤ `t` on this chain.
    fn at_or_before(&self, t: Slot) -> Option<BlockRootSlot> {
        if let Some(first) = self.segment.first() {
            if t >= first.slot {
                let idx = self.segment.partition_point(|b| b.slot <= t);
                return self.segment.get(idx.saturating_sub(1)).copied();
            }
        }
        self.store.canonical_at_or_before(t.min(self.base_slot))
    }

    /// The first block on this chain with a slot > `s`.
    fn after(&self, s: Slot) -> Option<BlockRootSlot> {
        if s < self.base_slot {
            let next = self.store.canonical_in_range(
                Slot(s.0 + 1),
                Slot(self.base_slot.0.saturating_add(1)),
                1,
            );
            if let Some(b) = next.first() {
                return Some(*b);
            }
        }
        let idx = self.segment.partition_point(|b| b.slot <= s);
        self.segment.get(idx).copied()
    }
}

/// Builds the view for a chain ending at `tip` (a non-canonical block): walks back to the first
/// canonical ancestor.
fn fork_view<'a, S: ChainRead + ?Sized>(store: &'a S, tip: Root) -> ChainView<'a, S> {
    let mut segment = Vec::new();
    let mut cursor = tip;
    let base_slot = loop {
        let Some(header) = store.header(&cursor) else {
            break Slot(0);
        };
        if store.is_canonical(&cursor) {
            break header.slot;
        }
        segment.push(BlockRootSlot {
            root: cursor,
            slot: header.slot,
        });
        cursor = header.parent_root;
    };
    segment.reverse();
    ChainView {
        store,
        base_slot,
        segment,
    }
}

/// Selects the signing_roots a range request returns.
pub(crate) fn select<S: ChainRead + ?Sized>(store: &S, req: &RangeRequest) -> Vec<Root> {
    let limit = req.max.min(MAX_BLOCKS_PER_RESPONSE) as usize;
    if limit == 0 {
        return Vec::new();
    }
    let step = req.skip.saturating_add(1);
    let start = if req.start_root.is_zero() {
        None
    } else {
        store.resolve_root(&req.start_root)
    };
    let canonical = || ChainView {
        store,
        base_slot: store.head().slot,
        segment: Vec::new(),
    };
    let (view, s0) = match start.and_then(|r| store.header(&r).map(|h| (r, h.slot))) {
        Some((root, slot)) if !store.is_canonical(&root) => {
            let tip = match req.direction {
                Direction::Ascending => store.best_descendant(&root).unwrap_or(root),
                Direction::Descending => root,
            };
            (fork_view(store, tip), slot)
        }
        Some((_, slot)) => (canonical(), slot),
        None => (canonical(), req.start_slot),
    };
    match req.direction {
        Direction::Ascending => ascending(&view, s0, step, limit),
        Direction::Descending => descending(&view, s0, step, limit),
    }
}

/// The first target `s0 + k*step` that is ≥ `slot` (None on overflow).
fn target_at_or_after(s0: Slot, step: u64, slot: Slot) -> Option<Slot> {
    if slot <= s0 {
        return Some(s0);
    }
    let k = (slot.0 - s0.0).div_ceil(step);
    k.checked_mul(step)
        .and_then(|d| s0.0.checked_add(d))
        .map(Slot)
}

fn ascending<S: ChainRead + ?Sized>(
    view: &ChainView<'_, S>,
    s0: Slot,
    step: u64,
    limit: usize,
) -> Vec<Root> {
    let tip = view.tip_slot();
    let mut out: Vec<Root> = Vec::new();
    let mut t = s0;
    while out.len() < limit && t <= tip {
        // Invariant: no block on the view in (b.slot, t], so the next block after b is past t.
        let from = match view.at_or_before(t) {
            Some(b) => {
                if out.last() != Some(&b.root) {
                    out.push(b.root);
                }
                b.slot
            }
            None => t,
        };
        let Some(next) = view.after(from) else {
            break;
        };
        match target_at_or_after(s0, step, next.slot) {
            Some(nt) if nt > t => t = nt,
            _ => break,
        }
    }
    out
}

fn descending<S: ChainRead + ?Sized>(
    view: &ChainView<'_, S>,
    s0: Slot,
    step: u64,
    limit: usize,
) -> Vec<Root> {
    let mut out: Vec<Root> = Vec::new();
    let mut t = s0;
    while out.len() < limit {
        let Some(b) = view.at_or_before(t) else {
            break;
        };
        out.push(b.root);
        // Next target strictly below b.slot: s0 - k*step with k = (s0 - b.slot) / step + 1.
        let k = (s0.0.saturating_sub(b.slot.0) / step).checked_add(1);
        match k
            .and_then(|k| k.checked_mul(step))
            .and_then(|d| s0.0.checked_sub(d))
        {
            Some(nt) => t = Slot(nt),
            None => break,
        }
    }
    out
}
