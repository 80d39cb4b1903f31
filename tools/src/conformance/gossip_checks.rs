//! Gossip checks, each on two handshaked connections A and B: `gossip_relayed` (a new block
//! published on A reaches B exactly once, with message_hash the SHA-256 of its body and hash its
//! hash_tree_root), `gossip_lying_hash` (a block with a lying message_hash is not relayed; the same
//! block published honestly afterwards is, so silence is not taken from a dead peer), and
//! `get_attestation` (an attestation published on A is served by GET_ATTESTATION with its hash).
//!
//! The blocks are children of the peer's head, made with the seeded name of this run (a new block
//! every run). Sends: HELLO, GET_BLOCK_HEADERS, GOSSIP (BLOCK, ATTESTATION), GET_ATTESTATION.
//! Expects: HELLO, BLOCK_HEADERS, GOSSIP, ATTESTATION.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hobbits_chain::rpc::{GetAttestation, Hello};
use hobbits_chain::{Attestation, BeaconBlock, BeaconBlockHeader, BlockProducer, Root, Slot};
use hobbits_codec::rpc::{RpcMethod, RpcPayload};
use hobbits_codec::{Envelope, GossipEnvelope, MessageHash, Topic};
use ssz::Encode;

use super::conn::{short_root, Received, ECHO};
use super::header_checks::{fetch_headers, open, RangeQuery};
use super::ranges::Order;
use super::{CheckContext, CheckOutcome, Probe};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Two handshaked connections and the peer's head header (read on A).
async fn two_connections(
    ctx: &CheckContext,
) -> Result<(Probe, Probe, Hello, BeaconBlockHeader), CheckOutcome> {
    let (mut a, hello) = open(ctx).await?;
    let (b, _) = open(ctx).await?;
    let q = RangeQuery {
        start_root: hello.best_root,
        ..RangeQuery::from_slot(hello.best_slot, 1, 0, Order::Descending)
    };
    let head = fetch_headers(&mut a, &hello, q)
        .await
        .map_err(CheckOutcome::fail)?;
    let Some(head) = head.into_iter().next() else {
        return Err(CheckOutcome::fail("no header for the HELLO's best_root"));
    };
    Ok((a, b, hello, head))
}

/// A new child of `parent` for this run (`tag` tells two blocks of one run apart).
fn new_block(ctx: &CheckContext, parent: &BeaconBlockHeader, tag: u8) -> BeaconBlock {
    let name = format!("conformance-{:x}-{tag}", ctx.config.seed);
    let producer = BlockProducer::new(&name, u64::from(tag));
    let slot = Slot(parent.slot.0 + 1);
    // `produce_block` refuses only a slot not after the parent's, which cannot happen here.
    producer
        .produce_block(parent, slot)
        .unwrap_or_else(|_| BeaconBlock {
            slot,
            parent_root: parent.signing_root(),
            ..BeaconBlock::default()
        })
}

/// An honest GOSSIP of `block`.
fn block_gossip(block: &BeaconBlock) -> GossipEnvelope {
    GossipEnvelope::new(
        Topic::Block,
        block.hash_tree_root(),
        Bytes::from(block.as_ssz_bytes()),
        now_ms(),
    )
}

/// What B received within `wait`: the GOSSIP frames naming `hash` (other frames are answered or
/// noted).
async fn gossip_for(
    probe: &mut Probe,
    hash: Root,
    wait: Duration,
) -> Result<Vec<GossipEnvelope>, String> {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match probe.recv_within(left).await {
            Received::TimedOut => return Ok(got),
            Received::Closed { error } => {
                return Err(format!(
                    "connection B closed ({})",
                    error.unwrap_or_else(|| "EOF".into())
                ))
            }
            Received::Malformed { reason } => {
                return Err(format!("malformed frame on B: {reason}"))
            }
            Received::Frame(f) => match Envelope::from_frame(&f) {
                Ok(Envelope::Gossip(g)) if g.header.hash == hash => got.push(g),
                Ok(Envelope::Ping(p)) => {
                    if let Some(pong) = p.reply() {
                        probe.send(pong.to_frame()).await?;
                    }
                }
                _ => {}
            },
        }
    }
}

/// Waits on B for the first GOSSIP naming `hash` (until the timeout), then `quiet` more for copies.
async fn relayed(
    ctx: &CheckContext,
    b: &mut Probe,
    hash: Root,
) -> Result<Vec<GossipEnvelope>, String> {
    let deadline = Instant::now() + ctx.config.timeout;
    let mut got = Vec::new();
    while got.is_empty() && Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        got = gossip_for(b, hash, left.min(Duration::from_millis(100))).await?;
    }
    if !got.is_empty() {
        got.extend(gossip_for(b, hash, ctx.config.quiet).await?);
    }
    Ok(got)
}

/// Judges what B received for one honest publication: exactly one GOSSIP, topic BLOCK, correct
/// message_hash, hash the block's hash_tree_root, body the block (or empty: an announcement).
fn judge_relay(got: &[GossipEnvelope], block: &BeaconBlock) -> Result<String, String> {
    let hash = block.hash_tree_root();
    match got {
        [] => Err(format!(
            "block {} (slot {}) published on A never reached B",
            short_root(&hash.0),
            block.slot.0
        )),
        [g] => {
            if g.header.topic != Topic::Block {
                return Err(format!("relayed with topic {}", g.header.topic.name()));
            }
            if !g.message_hash_matches() {
                return Err(format!(
                    "relayed with message_hash {:?}, not the SHA-256 of its {}-byte body",
                    g.header.message_hash,
                    g.body.len()
                ));
            }
            if !g.body.is_empty() && g.body.as_ref() != block.as_ssz_bytes().as_slice() {
                return Err("relayed with another body than the block published".into());
            }
            let form = if g.body.is_empty() {
                "announcement"
            } else {
                "full block"
            };
            Ok(format!(
                "block {} (slot {}) reached B once as a {form}, message_hash = SHA-256 of the body",
                short_root(&hash.0),
                block.slot.0
            ))
        }
        many => Err(format!("the block reached B {} times", many.len())),
    }
}

/// A new block published on A reaches B exactly once, correctly hashed.
pub async fn gossip_relayed(ctx: &mut CheckContext) -> CheckOutcome {
    let (mut a, mut b, _, head) = match two_connections(ctx).await {
        Ok(v) => v,
        Err(o) => return o,
    };
    let block = new_block(ctx, &head, 1);
    let frame = try_or_fail!(block_gossip(&block).to_frame().map_err(|e| e.to_string()));
    try_or_fail!(a.send(frame).await);
    let got = try_or_fail!(relayed(ctx, &mut b, block.hash_tree_root()).await);
    let verdict = try_or_fail!(judge_relay(&got, &block));
    CheckOutcome::pass(verdict)
}

/// A block whose message_hash lies is not relayed; published honestly afterwards, it is.
pub async fn gossip_lying_hash(ctx: &mut CheckContext) -> CheckOutcome {
    let (mut a, mut b, _, head) = match two_connections(ctx).await {
        Ok(v) => v,
        Err(o) => return o,
    };
    let block = new_block(ctx, &head, 2);
    let hash = block.hash_tree_root();
    let mut liar = block_gossip(&block);
    liar.header.message_hash = MessageHash(ctx.config.nonce_root().0);
    let frame = try_or_fail!(liar.to_frame().map_err(|e| e.to_string()));
    try_or_fail!(a.send(frame).await);
    let lies =
        try_or_fail!(gossip_for(&mut b, hash, ctx.config.timeout.min(ctx.config.quiet * 2)).await);
    if !lies.is_empty() {
        return CheckOutcome::fail(format!(
            "the block with a lying message_hash reached B ({} time(s))",
            lies.len()
        ));
    }
    // Silence proves nothing from a dead peer: the honest copy must now get through.
    let frame = try_or_fail!(block_gossip(&block).to_frame().map_err(|e| e.to_string()));
    try_or_fail!(a.send(frame).await);
    let got = try_or_fail!(relayed(ctx, &mut b, hash).await);
    let verdict = try_or_fail!(judge_relay(&got, &block)
        .map_err(|e| format!("the lie was dropped, but the honest copy after it: {e}")));
    CheckOutcome::pass(format!(
        "lying message_hash not relayed; honest copy: {verdict}"
    ))
}

/// An attestation published on A, then GET_ATTESTATION by its hash: ATTESTATION with that
/// hash_tree_root. Skipped when the peer never serves it (it may reject attestations it cannot
/// verify).
pub async fn get_attestation(ctx: &mut CheckContext) -> CheckOutcome {
    let (mut a, _b, hello, head) = match two_connections(ctx).await {
        Ok(v) => v,
        Err(o) => return o,
    };
    let mut attestation = Attestation::default();
    attestation.data.beacon_block_root = head.signing_root();
    attestation.signature.0[..32].copy_from_slice(&ctx.config.nonce_root().0);
    let hash = attestation.hash_tree_root();
    let gossip = GossipEnvelope::new(
        Topic::Attestation,
        hash,
        Bytes::from(attestation.as_ssz_bytes()),
        now_ms(),
    );
    let frame = try_or_fail!(gossip.to_frame().map_err(|e| e.to_string()));
    try_or_fail!(a.send(frame).await);
    let deadline = Instant::now() + ctx.config.timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        let id = try_or_fail!(
            a.send_request(&RpcPayload::GetAttestation(GetAttestation { hash }))
                .await
        );
        let env = match a.expect_rpc(RpcMethod::Attestation, id, Some(&hello)).await {
            Ok(env) => env,
            Err(e) if e.starts_with(ECHO) => return CheckOutcome::fail(e),
            Err(e) => {
                last = e;
                break;
            }
        };
        let decoded = try_or_fail!(env
            .decode_payload()
            .map_err(|e| format!("ATTESTATION does not decode: {e}")));
        let RpcPayload::Attestation(got) = decoded.payload else {
            return CheckOutcome::fail("reply is not ATTESTATION");
        };
        let root = got.attestation.hash_tree_root();
        if root == hash {
            return CheckOutcome::pass(format!(
                "the attestation gossiped on A served by hash {}",
                short_root(&hash.0)
            ));
        }
        if got.attestation != Attestation::default() {
            return CheckOutcome::fail(format!(
                "asked for {}, served another attestation {}",
                short_root(&hash.0),
                short_root(&root.0)
            ));
        }
        last = "only an empty ATTESTATION (unknown hash)".into();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    CheckOutcome::skipped(format!(
        "the peer never served the attestation gossiped to it within {:?} ({last}): it may reject unsigned attestations",
        ctx.config.timeout
    ))
}
