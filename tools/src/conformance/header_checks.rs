//! GET_BLOCK_HEADERS checks, judged against the peer's own HELLO: `headers_ascending` (from slot 0,
//! skip 0, paged: increasing, linked by parent_root, reaching best_root at best_slot, not past the
//! peer's head), `headers_descending` (from best_root and from best_slot: starts at best_root,
//! decreasing, linked), `headers_skip` (skip 1 and 2, both directions, against the skip_slots
//! rule applied to the chain read with skip 0), `headers_max` (small `max` respected).
//!
//! Sends: HELLO, GET_BLOCK_HEADERS. Expects: HELLO, BLOCK_HEADERS with our request ids.

use hobbits_chain::rpc::{GetBlockHeaders, Hello};
use hobbits_chain::{BeaconBlockHeader, Root, Slot};
use hobbits_codec::rpc::{RpcMethod, RpcPayload};

use super::conn::{decode_hello, short_root};
use super::ranges::{
    check_linked, check_monotone, compare_selection, expected_selection, HeaderSummary, Order,
};
use super::{CheckContext, CheckOutcome, Probe};

/// Blocks (genesis included) the skip checks need to say anything.
pub const MIN_BLOCKS_FOR_SKIP: usize = 3;

/// One range query.
#[derive(Debug, Clone, Copy)]
pub struct RangeQuery {
    /// Start root (zero: use the slot).
    pub start_root: Root,
    /// Start slot.
    pub start_slot: Slot,
    /// `max`.
    pub max: u64,
    /// `skip`.
    pub skip: u64,
    /// `direction`.
    pub order: Order,
}

impl RangeQuery {
    /// From a slot, by slot only.
    pub fn from_slot(start_slot: Slot, max: u64, skip: u64, order: Order) -> Self {
        RangeQuery {
            start_root: Root::ZERO,
            start_slot,
            max,
            skip,
            order,
        }
    }

    /// One line naming the query, for evidence.
    pub fn describe(&self) -> String {
        let from = if self.start_root.is_zero() {
            format!("slot {}", self.start_slot.0)
        } else {
            format!("root {}", short_root(&self.start_root.0))
        };
        format!(
            "{} from {from} skip {} max {}",
            self.order.arrow(),
            self.skip,
            self.max
        )
    }
}

/// Sends one GET_BLOCK_HEADERS and reads its BLOCK_HEADERS; fails when it holds more than `max`.
pub async fn fetch(
    probe: &mut Probe,
    hello: &Hello,
    q: RangeQuery,
) -> Result<Vec<HeaderSummary>, String> {
    let headers = fetch_headers(probe, hello, q).await?;
    Ok(headers.iter().map(HeaderSummary::from).collect())
}

/// [`fetch`], keeping the whole headers.
pub async fn fetch_headers(
    probe: &mut Probe,
    hello: &Hello,
    q: RangeQuery,
) -> Result<Vec<BeaconBlockHeader>, String> {
    let request = RpcPayload::GetBlockHeaders(GetBlockHeaders {
        start_root: q.start_root,
        start_slot: q.start_slot,
        max: q.max,
        skip: q.skip,
        direction: q.order.wire(),
    });
    let what = q.describe();
    let reply = request_reply(probe, hello, &request, RpcMethod::BlockHeaders, &what).await?;
    let RpcPayload::BlockHeaders(headers) = reply else {
        return Err(format!("{what}: reply is not BLOCK_HEADERS"));
    };
    at_most(headers.headers.to_vec(), q.max, &what, "headers")
}

/// Sends `request` and reads the `reply` method's answer with its id, decoded (the send, expect
/// and decode every range request shares); `what` starts each error.
pub async fn request_reply(
    probe: &mut Probe,
    hello: &Hello,
    request: &RpcPayload,
    reply: RpcMethod,
    what: &str,
) -> Result<RpcPayload, String> {
    let id = probe.send_request(request).await?;
    let env = probe
        .expect_rpc(reply, id, Some(hello))
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    let decoded = env
        .decode_payload()
        .map_err(|e| format!("{what}: {} does not decode: {e}", reply.name()))?;
    Ok(decoded.payload)
}

/// `items` unless there are more than `max` of them (`noun` names them in the error).
pub fn at_most<T>(items: Vec<T>, max: u64, what: &str, noun: &str) -> Result<Vec<T>, String> {
    if items.len() as u64 > max {
        return Err(format!("{what}: {} {noun}, more than max", items.len()));
    }
    Ok(items)
}

/// The chain read ascending from slot 0 with skip 0, page by page.
#[derive(Debug, Clone)]
pub struct ChainWalk {
    /// Every header read, ascending and linked.
    pub chain: Vec<HeaderSummary>,
    /// Pages requested.
    pub pages: u32,
    /// Whether the walk reached the HELLO's best_slot.
    pub reached_best: bool,
}

/// Reads the peer's chain from slot 0 until `best_slot` (or an empty page, or the page budget).
/// Checks order and linkage within and across pages.
pub async fn walk_chain(
    probe: &mut Probe,
    ctx: &CheckContext,
    hello: &Hello,
) -> Result<ChainWalk, String> {
    let mut walk = ChainWalk {
        chain: Vec::new(),
        pages: 0,
        reached_best: false,
    };
    let mut next = Slot(0);
    while walk.pages < ctx.config.max_pages {
        let q = RangeQuery::from_slot(next, ctx.config.page_size, 0, Order::Ascending);
        let page = fetch(probe, hello, q).await?;
        walk.pages += 1;
        if page.is_empty() {
            break;
        }
        let before = walk.chain.len();
        walk.chain.extend(page);
        // Check this page together with the last header of the previous one.
        check_linked(&walk.chain[before.saturating_sub(1)..], Order::Ascending)
            .map_err(|e| format!("{} (page {}): {e}", q.describe(), walk.pages))?;
        let last = walk.chain[walk.chain.len() - 1].slot;
        if last >= hello.best_slot {
            walk.reached_best = true;
            break;
        }
        next = Slot(last.0 + 1);
    }
    Ok(walk)
}

/// A handshaked connection, or the skip reason when the peer gave no HELLO.
pub async fn open(ctx: &CheckContext) -> Result<(Probe, Hello), CheckOutcome> {
    if ctx.peer_hello.is_none() {
        return Err(CheckOutcome::skipped(
            "the peer answered no HELLO (see `hello`): its best block is unknown",
        ));
    }
    match ctx.connect_handshaked().await {
        Ok((probe, hello)) => Ok((probe, hello.hello)),
        Err(e) => Err(CheckOutcome::fail(e)),
    }
}

/// Sends HELLO again on an established connection to learn the peer's head after the queries.
async fn hello_again(probe: &mut Probe, ours: &Hello) -> Option<Hello> {
    let id = probe
        .send_request(&RpcPayload::Hello(ours.clone()))
        .await
        .ok()?;
    let env = probe
        .expect_rpc(RpcMethod::Hello, id, Some(ours))
        .await
        .ok()?;
    decode_hello(&env).ok().map(|h| h.hello)
}

/// Ascending from slot 0, skip 0.
pub async fn headers_ascending(ctx: &mut CheckContext) -> CheckOutcome {
    let (mut probe, hello) = match open(ctx).await {
        Ok(v) => v,
        Err(outcome) => return outcome,
    };
    let walk = try_or_fail!(walk_chain(&mut probe, ctx, &hello).await);
    let Some(first) = walk.chain.first().copied() else {
        return CheckOutcome::fail(format!(
            "no header at all from slot 0 (HELLO best_slot {})",
            hello.best_slot.0
        ));
    };
    let last = walk.chain[walk.chain.len() - 1];
    if walk.reached_best {
        match walk.chain.iter().find(|h| h.slot >= hello.best_slot) {
            Some(h) if h.slot == hello.best_slot && h.root == hello.best_root => {}
            Some(h) if h.slot == hello.best_slot => {
                return CheckOutcome::fail(format!(
                    "header at best_slot {} has signing_root {}, HELLO best_root is {}",
                    h.slot.0,
                    short_root(&h.root.0),
                    short_root(&hello.best_root.0)
                ))
            }
            Some(h) => {
                return CheckOutcome::fail(format!(
                    "no header at best_slot {} (next is slot {}): best_root {} missing",
                    hello.best_slot.0,
                    h.slot.0,
                    short_root(&hello.best_root.0)
                ))
            }
            None => return unreachable_reached(),
        }
    } else if walk.pages < ctx.config.max_pages {
        return CheckOutcome::fail(format!(
            "the chain ends at slot {} below HELLO best_slot {}",
            last.slot.0, hello.best_slot.0
        ));
    }
    // The peer's head may have moved on: judge "not past the head" against a fresh HELLO.
    let (head, which) = match hello_again(&mut probe, &hello).await {
        Some(h) => (h.best_slot, "a second HELLO"),
        None => (hello.best_slot, "the first HELLO"),
    };
    if last.slot > head {
        return CheckOutcome::fail(format!(
            "last header at slot {} is past best_slot {} of {which}",
            last.slot.0, head.0
        ));
    }
    let reach = if walk.reached_best {
        format!(
            "best_root {} at best_slot {}",
            short_root(&hello.best_root.0),
            hello.best_slot.0
        )
    } else {
        format!(
            "stopped after {} pages before best_slot {}",
            walk.pages, hello.best_slot.0
        )
    };
    CheckOutcome::pass(format!(
        "{} headers in {} pages, slots {}..={}, increasing and linked; {reach}",
        walk.chain.len(),
        walk.pages,
        first.slot.0,
        last.slot.0
    ))
}

/// Descending from the best block, by root and by slot.
pub async fn headers_descending(ctx: &mut CheckContext) -> CheckOutcome {
    let (mut probe, hello) = match open(ctx).await {
        Ok(v) => v,
        Err(outcome) => return outcome,
    };
    let max = ctx.config.page_size;
    let queries = [
        RangeQuery {
            start_root: hello.best_root,
            ..RangeQuery::from_slot(hello.best_slot, max, 0, Order::Descending)
        },
        RangeQuery::from_slot(hello.best_slot, max, 0, Order::Descending),
    ];
    let mut lines = Vec::new();
    for q in queries {
        let got = try_or_fail!(fetch(&mut probe, &hello, q).await);
        let Some(first) = got.first() else {
            return CheckOutcome::fail(format!("{}: empty answer", q.describe()));
        };
        if first.root != hello.best_root {
            return CheckOutcome::fail(format!(
                "{}: starts at slot {} {}, not at best_root {}",
                q.describe(),
                first.slot.0,
                short_root(&first.root.0),
                short_root(&hello.best_root.0)
            ));
        }
        try_or_fail!(
            check_linked(&got, Order::Descending).map_err(|e| format!("{}: {e}", q.describe()))
        );
        let by = if q.start_root.is_zero() {
            "slot"
        } else {
            "root"
        };
        lines.push(format!(
            "by {by}: {} headers, slots {}..={}",
            got.len(),
            got[got.len() - 1].slot.0,
            first.slot.0
        ));
    }
    CheckOutcome::pass(format!(
        "start at best_root, decreasing and linked; {}",
        lines.join("; ")
    ))
}

/// Skip 1 and 2 in both directions, compared with the rule applied to the chain read with skip 0.
pub async fn headers_skip(ctx: &mut CheckContext) -> CheckOutcome {
    if let Some(p) = &ctx.peer_hello {
        if p.hello.best_slot.0 + 1 < MIN_BLOCKS_FOR_SKIP as u64 {
            return CheckOutcome::skipped(format!(
                "the peer's chain is too short (best_slot {}): skip needs at least {MIN_BLOCKS_FOR_SKIP} blocks",
                p.hello.best_slot.0
            ));
        }
    }
    let (mut probe, hello) = match open(ctx).await {
        Ok(v) => v,
        Err(outcome) => return outcome,
    };
    let walk = try_or_fail!(walk_chain(&mut probe, ctx, &hello).await);
    let chain = walk.chain;
    if chain.len() < MIN_BLOCKS_FOR_SKIP {
        return CheckOutcome::skipped(format!(
            "the peer's chain has {} block(s): skip needs at least {MIN_BLOCKS_FOR_SKIP}",
            chain.len()
        ));
    }
    let tip = chain[chain.len() - 1].slot;
    let max = ctx.config.page_size;
    let queries = [
        RangeQuery::from_slot(Slot(0), max, 1, Order::Ascending),
        RangeQuery::from_slot(Slot(1), max, 2, Order::Ascending),
        RangeQuery::from_slot(tip, max, 1, Order::Descending),
        RangeQuery::from_slot(Slot(tip.0.saturating_sub(1)), max, 2, Order::Descending),
    ];
    let mut lines = Vec::new();
    let mut min_gap: Option<u64> = None;
    for q in queries {
        let got = try_or_fail!(fetch(&mut probe, &hello, q).await);
        try_or_fail!(check_monotone(&got, q.order).map_err(|e| format!("{}: {e}", q.describe())));
        let expected = expected_selection(&chain, q.start_slot, q.skip, q.order, q.max as usize);
        let verdict =
            try_or_fail!(compare_selection(&got, &expected, tip)
                .map_err(|e| format!("{}: {e}", q.describe())));
        for w in got.windows(2) {
            let gap = w[0].slot.0.abs_diff(w[1].slot.0);
            min_gap = Some(min_gap.map_or(gap, |g: u64| g.min(gap)));
        }
        lines.push(format!("{} {}", q.describe(), verdict));
    }
    CheckOutcome::pass(format!(
        "{}; smallest slot gap {}",
        lines.join("; "),
        min_gap.map_or("-".into(), |g| g.to_string())
    ))
}

/// `max` 1 and 2 ascending from slot 0 and 1 descending from best: never more than asked, and
/// (so that a peer replaying any one reply cannot pass) exactly the blocks asked for: genesis,
/// genesis and its child, the head of the HELLO on this connection.
pub async fn headers_max(ctx: &mut CheckContext) -> CheckOutcome {
    let (mut probe, hello) = match open(ctx).await {
        Ok(v) => v,
        Err(outcome) => return outcome,
    };
    let queries = [
        RangeQuery::from_slot(Slot(0), 1, 0, Order::Ascending),
        RangeQuery::from_slot(Slot(0), 2, 0, Order::Ascending),
        RangeQuery::from_slot(hello.best_slot, 1, 0, Order::Descending),
    ];
    let mut counts = Vec::new();
    let mut genesis = None;
    for (i, q) in queries.into_iter().enumerate() {
        // `fetch` fails when the answer exceeds `max`.
        let got = try_or_fail!(fetch(&mut probe, &hello, q).await);
        try_or_fail!(judge_max_answer(i, &q, &got, genesis, &hello)
            .map_err(|e| format!("{}: {e}", q.describe())));
        if i == 0 {
            genesis = got.first().map(|h| h.root);
        }
        counts.push(format!("max {} {} → {}", q.max, q.order.arrow(), got.len()));
    }
    CheckOutcome::pass(format!(
        "{}; genesis first, its child next, the head last",
        counts.join(", ")
    ))
}

/// What the `i`th query of `headers_max` must have answered.
fn judge_max_answer(
    i: usize,
    q: &RangeQuery,
    got: &[HeaderSummary],
    genesis: Option<Root>,
    hello: &Hello,
) -> Result<(), String> {
    let Some(first) = got.first() else {
        return Err("empty answer (the block at the start slot exists)".into());
    };
    match i {
        0 if first.slot != Slot(0) => Err(format!(
            "first header at slot {}, not genesis",
            first.slot.0
        )),
        1 => {
            if Some(first.root) != genesis {
                return Err("does not start with the genesis header of the max 1 answer".into());
            }
            if hello.best_slot.0 >= 1 && got.len() != q.max as usize {
                return Err(format!(
                    "{} header(s) where the chain (best_slot {}) has {}",
                    got.len(),
                    hello.best_slot.0,
                    q.max
                ));
            }
            check_linked(got, Order::Ascending)
        }
        2 if first.root != hello.best_root && first.slot <= hello.best_slot => Err(format!(
            "starts at slot {} {}, not at the HELLO's best_root {}",
            first.slot.0,
            short_root(&first.root.0),
            short_root(&hello.best_root.0)
        )),
        _ => Ok(()),
    }
}

fn unreachable_reached() -> CheckOutcome {
    CheckOutcome::fail("internal: walk reached best_slot without a header at or past it")
}
