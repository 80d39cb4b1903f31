//! The ETH checks of the sync methods, judged against the peer's own chain as its
//! beacon_block_roots list it (never against ours): roots ascending, inside the range asked and
//! naming the hello's head; `count` capped at 32768; headers by root linking up and following the
//! skip_slots collapse rule; bodies in request order, each matching its header's body_root, with a
//! zero-value body for an unknown root.
//!
//! Sends: beacon_block_roots, beacon_block_headers, beacon_block_bodies. Handles their results.

use std::collections::HashMap;

use hobbits_chain::{BeaconBlockBody, BeaconBlockHeader, HashTreeRoot, Root, Slot};
use hobbits_codec::eth::{
    BlockBodiesRequest, BlockHeadersRequest, BlockRootSlot, BlockRootsRequest, EthHello,
    EthRequestBody, EthResponseBody, ResponseCode, MAX_BLOCK_ROOTS_COUNT,
};

use super::conn::EthProbe;
use super::EthContext;
use crate::conformance::conn::short_root;
use crate::conformance::header_checks::MIN_BLOCKS_FOR_SKIP;
use crate::conformance::ranges::{
    check_linked, compare_selection, expected_selection, HeaderSummary, Order,
};
use crate::conformance::CheckOutcome;

/// Most roots of the peer's chain the bodies check asks for (plus one unknown root).
pub const BODIES_ASKED: usize = 8;

/// Sends `body` and unwraps its result with `pick` (the result is already decoded as the
/// method's response; `pick` names the variant).
async fn fetch<T>(
    probe: &mut EthProbe,
    body: EthRequestBody,
    pick: impl FnOnce(EthResponseBody) -> Option<T>,
) -> Result<T, String> {
    let method = body.method();
    let result = probe.ask(&body).await?;
    pick(result).ok_or_else(|| format!("{}: another method's result", method.name()))
}

/// beacon_block_roots `(start_slot, count)`.
pub async fn fetch_roots(
    probe: &mut EthProbe,
    start_slot: Slot,
    count: u64,
) -> Result<Vec<BlockRootSlot>, String> {
    let body = EthRequestBody::BeaconBlockRoots(BlockRootsRequest { start_slot, count });
    fetch(probe, body, |r| match r {
        EthResponseBody::BeaconBlockRoots(r) => Some(r.roots),
        _ => None,
    })
    .await
}

/// beacon_block_headers from `first` (by root and slot), `max`, `skip`.
pub async fn fetch_headers(
    probe: &mut EthProbe,
    first: &BlockRootSlot,
    max: usize,
    skip: u64,
) -> Result<Vec<BeaconBlockHeader>, String> {
    let body = EthRequestBody::BeaconBlockHeaders(BlockHeadersRequest {
        start_root: first.block_root,
        start_slot: first.slot,
        max_headers: max as u64,
        skip_slots: skip,
    });
    fetch(probe, body, |r| match r {
        EthResponseBody::BeaconBlockHeaders(h) => Some(h.headers.to_vec()),
        _ => None,
    })
    .await
}

/// beacon_block_bodies for `roots`.
pub async fn fetch_bodies(
    probe: &mut EthProbe,
    roots: Vec<Root>,
) -> Result<Vec<BeaconBlockBody>, String> {
    let body = EthRequestBody::BeaconBlockBodies(BlockBodiesRequest { block_roots: roots });
    fetch(probe, body, |r| match r {
        EthResponseBody::BeaconBlockBodies(b) => Some(b.block_bodies),
        _ => None,
    })
    .await
}

/// The peer's roots up to the head its hello names: the last `page_size × max_pages` slots (at
/// most 32768), checked: inside the range asked, no root twice, and the hello's best slot listed
/// with its best_root.
async fn chain_window(
    ctx: &EthContext,
    probe: &mut EthProbe,
    hello: &EthHello,
) -> Result<Vec<BlockRootSlot>, String> {
    let window =
        (ctx.config.page_size * u64::from(ctx.config.max_pages)).min(MAX_BLOCK_ROOTS_COUNT);
    let start = Slot(hello.best_slot.0.saturating_sub(window - 1));
    let roots = fetch_roots(probe, start, window).await?;
    check_in_range(&roots, start, window)?;
    match roots.iter().find(|p| p.slot == hello.best_slot) {
        Some(p) if p.block_root == hello.best_root => Ok(roots),
        Some(p) => Err(format!(
            "slot {} is listed with root {}, the hello's best_root is {}",
            p.slot.0,
            short_root(&p.block_root.0),
            short_root(&hello.best_root.0)
        )),
        None => Err(format!(
            "the hello's best slot {} is not among the {} roots from slot {}",
            hello.best_slot.0,
            roots.len(),
            start.0
        )),
    }
}

/// Every pair inside `[start, start + count)` and no root listed twice (ascending order is
/// checked when the result is decoded).
pub fn check_in_range(roots: &[BlockRootSlot], start: Slot, count: u64) -> Result<(), String> {
    let end = start.0.saturating_add(count);
    if let Some(p) = roots.iter().find(|p| p.slot.0 < start.0 || p.slot.0 >= end) {
        return Err(format!(
            "slot {} listed for the range [{}, {end})",
            p.slot.0, start.0
        ));
    }
    if let Some(w) = roots
        .windows(2)
        .find(|w| w[0].block_root == w[1].block_root)
    {
        return Err(format!(
            "root {} listed twice (slots {} and {})",
            short_root(&w[0].block_root.0),
            w[0].slot.0,
            w[1].slot.0
        ));
    }
    Ok(())
}

/// beacon_block_roots: the window up to the head is ascending, in range and names the head; a
/// count of 2 gives at most the two slots asked, the same pairs as the window.
pub async fn roots(ctx: &mut EthContext) -> CheckOutcome {
    let (mut probe, hello) = try_or_fail!(ctx.connect_handshaked().await);
    let window = try_or_fail!(chain_window(ctx, &mut probe, &hello).await);
    let first = window[0];
    let two = try_or_fail!(fetch_roots(&mut probe, first.slot, 2).await);
    try_or_fail!(check_in_range(&two, first.slot, 2).map_err(|e| format!("count 2: {e}")));
    let expected: Vec<BlockRootSlot> = window
        .iter()
        .copied()
        .take_while(|p| p.slot.0 < first.slot.0 + 2)
        .collect();
    if two != expected {
        return CheckOutcome::fail(format!(
            "count 2 from slot {} gave slots {:?}, the window lists {:?}",
            first.slot.0,
            slots(&two),
            slots(&expected)
        ));
    }
    CheckOutcome::pass(format!(
        "{} roots, slots {}..={} ascending, the head's root at slot {}; count 2 gave slots {:?}",
        window.len(),
        first.slot.0,
        window[window.len() - 1].slot.0,
        hello.best_slot.0,
        slots(&two)
    ))
}

fn slots(roots: &[BlockRootSlot]) -> Vec<u64> {
    roots.iter().map(|p| p.slot.0).collect()
}

/// beacon_block_roots with count 32769 earns 20 (docs/PROTOCOL.md); 32768 is served; the
/// connection stays.
pub async fn roots_cap(ctx: &mut EthContext) -> CheckOutcome {
    let (mut probe, hello) = try_or_fail!(ctx.connect_handshaked().await);
    let body = EthRequestBody::BeaconBlockRoots(BlockRootsRequest {
        start_slot: Slot(0),
        count: MAX_BLOCK_ROOTS_COUNT + 1,
    });
    let id = try_or_fail!(probe.send(&body).await);
    let over = try_or_fail!(probe.response(id).await);
    if over.code != ResponseCode::InvalidRequest {
        return CheckOutcome::fail(format!(
            "count {} answered {}, not invalid_request(20)",
            MAX_BLOCK_ROOTS_COUNT + 1,
            over.code
        ));
    }
    let start = Slot(hello.best_slot.0.saturating_sub(MAX_BLOCK_ROOTS_COUNT - 1));
    let at_cap = try_or_fail!(fetch_roots(&mut probe, start, MAX_BLOCK_ROOTS_COUNT)
        .await
        .map_err(|e| format!("count {MAX_BLOCK_ROOTS_COUNT}: {e}")));
    try_or_fail!(check_in_range(&at_cap, start, MAX_BLOCK_ROOTS_COUNT));
    CheckOutcome::pass(format!(
        "count {} answered {} ({:?}); count {MAX_BLOCK_ROOTS_COUNT} gave {} roots",
        MAX_BLOCK_ROOTS_COUNT + 1,
        over.code,
        over.message(),
        at_cap.len()
    ))
}

fn summaries(roots: &[BlockRootSlot]) -> Vec<HeaderSummary> {
    roots
        .iter()
        .map(|p| HeaderSummary {
            slot: p.slot,
            root: p.block_root,
            parent: Root::ZERO,
        })
        .collect()
}

/// Headers by root from the first of `roots` with skip 0 are exactly those roots (a shorter
/// prefix for a capped answer), in order, each the parent of the next.
async fn headers_of(
    probe: &mut EthProbe,
    roots: &[BlockRootSlot],
) -> Result<Vec<BeaconBlockHeader>, String> {
    let headers = fetch_headers(probe, &roots[0], roots.len(), 0).await?;
    if headers.is_empty() {
        return Err(format!("no header where {} blocks are listed", roots.len()));
    }
    if headers.len() > roots.len() {
        return Err(format!(
            "{} headers for max_headers {}",
            headers.len(),
            roots.len()
        ));
    }
    let got: Vec<HeaderSummary> = headers.iter().map(HeaderSummary::from).collect();
    for (i, (h, p)) in got.iter().zip(roots).enumerate() {
        if h.root != p.block_root || h.slot != p.slot {
            return Err(format!(
                "#{i}: header at slot {} with signing_root {}, the roots list slot {} root {}",
                h.slot.0,
                short_root(&h.root.0),
                p.slot.0,
                short_root(&p.block_root.0)
            ));
        }
    }
    check_linked(&got, Order::Ascending)?;
    Ok(headers)
}

/// beacon_block_headers: with skip 0 the last `page_size` roots' headers, linked; with skip 1 and
/// 2 the blocks the collapse rule selects from those roots.
pub async fn headers(ctx: &mut EthContext) -> CheckOutcome {
    let (mut probe, hello) = try_or_fail!(ctx.connect_handshaked().await);
    let window = try_or_fail!(chain_window(ctx, &mut probe, &hello).await);
    let take = window.len().min(ctx.config.page_size as usize);
    let roots = &window[window.len() - take..];
    let headers = try_or_fail!(headers_of(&mut probe, roots).await);
    let mut evidence = format!(
        "skip 0 from slot {}: {} headers linked",
        roots[0].slot.0,
        headers.len()
    );
    if roots.len() < MIN_BLOCKS_FOR_SKIP {
        evidence.push_str("; skip 1 and 2 not asked: chain too short");
        return CheckOutcome::pass(evidence);
    }
    let chain = summaries(roots);
    let known_tip = roots[roots.len() - 1].slot;
    for skip in [1u64, 2] {
        let got = try_or_fail!(fetch_headers(&mut probe, &roots[0], roots.len(), skip)
            .await
            .map_err(|e| format!("skip {skip}: {e}")));
        let got: Vec<HeaderSummary> = got.iter().map(HeaderSummary::from).collect();
        let expected = expected_selection(&chain, roots[0].slot, skip, Order::Ascending, take);
        let compared = try_or_fail!(compare_selection(&got, &expected, known_tip)
            .map_err(|e| format!("skip {skip} from slot {}: {e}", roots[0].slot.0)));
        evidence.push_str(&format!("; skip {skip}: {compared}"));
    }
    CheckOutcome::pass(evidence)
}

/// beacon_block_bodies for up to [`BODIES_ASKED`] of the peer's roots, newest first, with an
/// unknown root second: one body per root in request order, each hashing to its header's
/// body_root, the unknown root's the zero-value body.
pub async fn bodies(ctx: &mut EthContext) -> CheckOutcome {
    let (mut probe, hello) = try_or_fail!(ctx.connect_handshaked().await);
    let window = try_or_fail!(chain_window(ctx, &mut probe, &hello).await);
    let take = window.len().min(BODIES_ASKED);
    let roots = &window[window.len() - take..];
    let headers = try_or_fail!(headers_of(&mut probe, roots)
        .await
        .map_err(|e| format!("headers: {e}")));
    let body_roots: HashMap<Root, Root> = headers
        .iter()
        .map(|h| (h.signing_root(), h.body_root))
        .collect();
    let mut unknown = ctx.config.nonce_root().0;
    unknown[0] ^= 0xff;
    let unknown = Root(unknown);
    let mut asked: Vec<Root> = headers.iter().rev().map(|h| h.signing_root()).collect();
    asked.insert(1.min(asked.len()), unknown);
    let bodies = try_or_fail!(fetch_bodies(&mut probe, asked.clone()).await);
    if bodies.len() != asked.len() {
        return CheckOutcome::fail(format!(
            "{} bodies for {} roots (one per root, a zero body for an unknown one)",
            bodies.len(),
            asked.len()
        ));
    }
    for (i, (root, body)) in asked.iter().zip(&bodies).enumerate() {
        match body_roots.get(root) {
            None if *body != BeaconBlockBody::default() => {
                return CheckOutcome::fail(format!(
                    "#{i}: the unknown root {} got a body that is not the zero-value body",
                    short_root(&root.0)
                ))
            }
            None => {}
            Some(expected) if body.hash_tree_root() != *expected => {
                return CheckOutcome::fail(format!(
                    "#{i}: the body for {} hashes to {}, its header's body_root is {}",
                    short_root(&root.0),
                    short_root(&body.hash_tree_root().0),
                    short_root(&expected.0)
                ))
            }
            Some(_) => {}
        }
    }
    CheckOutcome::pass(format!(
        "{} bodies in request order (newest first), each its header's; the zero body at #1 for \
         unknown root {}",
        bodies.len(),
        short_root(&unknown.0)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(byte: u8, slot: u64) -> BlockRootSlot {
        BlockRootSlot {
            block_root: Root([byte; 32]),
            slot: Slot(slot),
        }
    }

    #[test]
    fn roots_must_be_inside_the_range_and_listed_once() {
        let ok = [pair(1, 4), pair(2, 5), pair(3, 7)];
        assert!(check_in_range(&ok, Slot(4), 4).is_ok());
        assert!(check_in_range(&[], Slot(4), 4).is_ok());
        let before = check_in_range(&ok, Slot(5), 4).expect_err("slot 4 is before 5");
        assert!(before.contains("slot 4 listed"), "{before}");
        let after = check_in_range(&ok, Slot(4), 3).expect_err("slot 7 is past 4 + 3");
        assert!(after.contains("slot 7 listed"), "{after}");
        let twice = check_in_range(&[pair(1, 4), pair(1, 5)], Slot(4), 4).expect_err("twice");
        assert!(twice.contains("listed twice"), "{twice}");
    }
}
