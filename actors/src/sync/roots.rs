//! Sync through block roots, for peers of the ETH dialect (the eth2 RPC interface's handshake
//! section), spread over every ETH peer that is ahead. A round cuts the slots from where we might
//! differ up to the best tip the peers showed into pieces ([`plan_pieces`]): the first from
//! `max(finalized start slot, head slot − lookback_slots)` to `range_slots` past our head, the
//! others `range_slots` each; each piece goes to one peer ([`assign`], rotating every round among
//! the peers whose tip reaches it), which serves all of it: its canonical `(block_root, slot)`
//! pairs, the headers of the roots we lack (checked: each is the root asked, in order, each links
//! to the one before), then their bodies by root (checked: each belongs to its header). The
//! pieces are fetched at once and imported in slot order, each in one store turn.
//!
//! A [`RootsSyncError::Peer`] is the peer's fault (wrong body, broken chain, roots out of order or
//! out of the piece): it is reported to the peer manager as `PeerPenalized` (`BadSyncResponse`,
//! scored like a Hobbits sync fault, banned at the threshold), the peer gets no more pieces this
//! round, and its piece goes to the next peer; a request that fails (timeout, refusal,
//! disconnection) moves the piece the same way without a penalty. One peer serving a whole piece
//! keeps every check attributable to one peer. [`check_headers`], [`assemble`], [`plan_pieces`]
//! and [`assign`] are plain functions; [`coordinate`] runs the rounds (the dialect has no gossip:
//! this is also how new blocks arrive). Sends `GetPeers` (manager), `SendEthRequest` (sessions),
//! `PeerPenalized` (manager) and store queries; handles no messages.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use actix::Recipient;
use hobbits_chain::{BeaconBlock, BeaconBlockBody, BeaconBlockHeader, Root};
use hobbits_codec::eth::{
    BlockBodiesRequest, BlockHeadersRequest, BlockRootSlot, BlockRootsRequest, EthRequestBody,
    EthResponseBody, MAX_BLOCK_ROOTS_COUNT,
};

use crate::config::ConfigError;
use crate::events::{PeerPenalized, Penalty};
use crate::peer_manager::GetPeers;
use crate::peer_session::eth::{EthRequestError, SendEthRequest};
use crate::peer_table::{Dialect, PeerId};
use crate::store::{ImportResult, StoreClient, StoreError};
use tracing::{debug, info, warn};

/// Tuning of sync through roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootsSyncConfig {
    /// Time between two rounds with one peer (the dialect has no gossip: this is how new blocks
    /// arrive).
    pub poll_interval: Duration,
    /// Roots are asked from `max(finalized start slot, head slot − lookback_slots)`: a fork
    /// deeper than this below our head is not followed over this dialect.
    pub lookback_slots: u64,
    /// Headers (and bodies) asked per request, at least 1.
    pub blocks_per_request: usize,
    /// Slots of one piece of a round, the part one peer serves, at least 1.
    pub range_slots: u64,
    /// Pieces of one round per ETH peer (so a round holds at most `peers × this × range_slots`
    /// slots of blocks), at least 1.
    pub pieces_per_peer: usize,
}

impl Default for RootsSyncConfig {
    fn default() -> Self {
        RootsSyncConfig {
            poll_interval: Duration::from_millis(500),
            lookback_slots: 1024,
            blocks_per_request: 64,
            range_slots: 512,
            pieces_per_peer: 2,
        }
    }
}

impl RootsSyncConfig {
    /// Checks every field against its bounds (the first piece of a round, at most
    /// `lookback_slots + 1 + range_slots` slots, stays within the spec's 32768 roots).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bound = |field, value: u64, min: u64, max: u64| {
            if value < min {
                Err(ConfigError::TooSmall { field, min, value })
            } else if value > max {
                Err(ConfigError::TooLarge { field, max, value })
            } else {
                Ok(())
            }
        };
        if self.poll_interval.is_zero() {
            return Err(ConfigError::ZeroDuration {
                field: "eth.poll_interval",
            });
        }
        bound("eth.lookback_slots", self.lookback_slots, 0, 16_383)?;
        bound("eth.range_slots", self.range_slots, 1, 16_384)?;
        bound(
            "eth.blocks_per_request",
            self.blocks_per_request as u64,
            1,
            1024,
        )?;
        bound("eth.pieces_per_peer", self.pieces_per_peer as u64, 1, 16)
    }
}

/// Why a round ended early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootsSyncError {
    /// The request failed (timeout, refused, disconnected).
    #[error(transparent)]
    Request(#[from] EthRequestError),
    /// The peer's answer is provably wrong.
    #[error("peer fault: {0}")]
    Peer(String),
    /// Our store failed or refused the blocks.
    #[error("store: {0}")]
    Store(String),
}

impl From<StoreError> for RootsSyncError {
    fn from(e: StoreError) -> Self {
        RootsSyncError::Store(e.to_string())
    }
}

/// Checks `headers` answering a request for the blocks `asked` (ascending): as many, each with
/// the signing_root asked, each linking to the one before.
pub fn check_headers(
    asked: &[BlockRootSlot],
    headers: &[BeaconBlockHeader],
) -> Result<(), RootsSyncError> {
    if headers.len() != asked.len() {
        return Err(RootsSyncError::Peer(format!(
            "{} headers for {} roots",
            headers.len(),
            asked.len()
        )));
    }
    let mut previous: Option<Root> = None;
    for (want, header) in asked.iter().zip(headers) {
        let root = header.signing_root();
        if root != want.block_root || header.slot != want.slot {
            return Err(RootsSyncError::Peer(format!(
                "header at slot {} is not the root it listed at slot {}",
                header.slot.0, want.slot.0
            )));
        }
        if previous.is_some_and(|p| p != header.parent_root) {
            return Err(RootsSyncError::Peer(format!(
                "header at slot {} does not link to the one before",
                header.slot.0
            )));
        }
        previous = Some(root);
    }
    Ok(())
}

/// The blocks of `headers` with `bodies` (same order): each body must be its header's.
pub fn assemble(
    headers: &[BeaconBlockHeader],
    bodies: Vec<BeaconBlockBody>,
) -> Result<Vec<BeaconBlock>, RootsSyncError> {
    if bodies.len() != headers.len() {
        return Err(RootsSyncError::Peer(format!(
            "{} bodies for {} roots",
            bodies.len(),
            headers.len()
        )));
    }
    headers
        .iter()
        .zip(bodies)
        .map(|(h, body)| {
            let block = BeaconBlock {
                slot: h.slot,
                parent_root: h.parent_root,
                state_root: h.state_root,
                body,
                signature: h.signature,
            };
            if block.header() == *h {
                Ok(block)
            } else {
                Err(RootsSyncError::Peer(format!(
                    "body for slot {} is not its header's",
                    h.slot.0
                )))
            }
        })
        .collect()
}

async fn ask(
    peer: &Recipient<SendEthRequest>,
    request: EthRequestBody,
) -> Result<EthResponseBody, RootsSyncError> {
    peer.send(SendEthRequest { request })
        .await
        .map_err(|_| EthRequestError::Disconnected)?
        .map_err(RootsSyncError::from)
}

/// The slots `[start, start + count)` of a round, served by one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// First slot.
    pub start: u64,
    /// Slots (the `count` of the roots request).
    pub count: u64,
}

/// Pieces of one round: the first from `start` (our lookback) to `range_slots` past `head`, then
/// `range_slots` each while they start at or below `target` (the best tip the peers showed), at
/// most `peers × pieces_per_peer`; every count at most the spec's 32768.
pub fn plan_pieces(
    start: u64,
    head: u64,
    target: u64,
    peers: usize,
    config: &RootsSyncConfig,
) -> Vec<Piece> {
    let range = config.range_slots.clamp(1, MAX_BLOCK_ROOTS_COUNT);
    let first_end = head.saturating_add(1).saturating_add(range).max(start + 1);
    let most = peers.max(1).saturating_mul(config.pieces_per_peer.max(1));
    let mut pieces = vec![Piece {
        start,
        count: (first_end - start).min(MAX_BLOCK_ROOTS_COUNT),
    }];
    let mut next = start + pieces[0].count;
    while next <= target && pieces.len() < most {
        pieces.push(Piece {
            start: next,
            count: range,
        });
        next = next.saturating_add(range);
    }
    pieces
}

/// The peer (index into `tips`, the peers' best slots in a fixed order) asked first for each
/// piece: the peers whose tip reaches the piece's last slot (or `target`, the best tip, when that
/// comes first), in turn from `round` (so no peer holds the same piece every round); the
/// best-tipped peer when none does.
pub fn assign(pieces: &[Piece], tips: &[u64], target: u64, round: usize) -> Vec<usize> {
    let best = (0..tips.len()).max_by_key(|&i| tips[i]).unwrap_or(0);
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let last = (piece.start + piece.count.max(1) - 1).min(target);
            let able: Vec<usize> = (0..tips.len()).filter(|&p| tips[p] >= last).collect();
            if able.is_empty() {
                best
            } else {
                able[(i + round) % able.len()]
            }
        })
        .collect()
}

/// One ETH peer of a round.
#[derive(Debug, Clone)]
pub struct EthPeer {
    /// Its connection.
    pub id: PeerId,
    /// Its session.
    pub session: Recipient<SendEthRequest>,
    /// The best slot it showed (hello, or the last root it listed).
    pub tip: u64,
}

/// What one piece's fetch gave: the blocks we lacked, and the last slot the peer listed.
#[derive(Debug)]
struct Fetched {
    blocks: Vec<BeaconBlock>,
    last_slot: Option<u64>,
}

/// One piece from one peer: its roots (ascending, inside the piece), the ones we lack, their
/// headers, their bodies; nothing imported.
async fn fetch_piece(
    peer: &Recipient<SendEthRequest>,
    piece: Piece,
    store: &StoreClient,
    config: &RootsSyncConfig,
) -> Result<Fetched, RootsSyncError> {
    let roots = match ask(
        peer,
        EthRequestBody::BeaconBlockRoots(BlockRootsRequest {
            start_slot: hobbits_chain::Slot(piece.start),
            count: piece.count,
        }),
    )
    .await?
    {
        EthResponseBody::BeaconBlockRoots(r) => r.roots,
        other => return Err(RootsSyncError::Peer(format!("not roots: {other:?}"))),
    };
    let end = piece.start.saturating_add(piece.count);
    let inside = roots.iter().all(|r| (piece.start..end).contains(&r.slot.0));
    if !inside || !roots.windows(2).all(|w| w[0].slot < w[1].slot) {
        return Err(RootsSyncError::Peer(format!(
            "roots not ascending inside slots {}..{end}",
            piece.start
        )));
    }
    let last_slot = roots.last().map(|r| r.slot.0);
    let lacking = store.unknown_roots(roots).await?;
    let mut blocks = Vec::with_capacity(lacking.len());
    for chunk in lacking.chunks(config.blocks_per_request.max(1)) {
        let headers = match ask(
            peer,
            EthRequestBody::BeaconBlockHeaders(BlockHeadersRequest {
                start_root: chunk[0].block_root,
                start_slot: chunk[0].slot,
                max_headers: chunk.len() as u64,
                skip_slots: 0,
            }),
        )
        .await?
        {
            EthResponseBody::BeaconBlockHeaders(h) => h.headers.to_vec(),
            other => return Err(RootsSyncError::Peer(format!("not headers: {other:?}"))),
        };
        check_headers(chunk, &headers)?;
        let bodies = match ask(
            peer,
            EthRequestBody::BeaconBlockBodies(BlockBodiesRequest {
                block_roots: chunk.iter().map(|r| r.block_root).collect(),
            }),
        )
        .await?
        {
            EthResponseBody::BeaconBlockBodies(b) => b.block_bodies,
            other => return Err(RootsSyncError::Peer(format!("not bodies: {other:?}"))),
        };
        blocks.extend(assemble(&headers, bodies)?);
    }
    Ok(Fetched { blocks, last_slot })
}

/// What a round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoundOutcome {
    /// Blocks imported.
    pub imported: usize,
    /// The last slot each peer listed (their tips as of now).
    pub tips: Vec<(PeerId, u64)>,
    /// Peers penalised for a wrong answer.
    pub penalised: Vec<PeerId>,
}

/// One round over `peers` (see the module doc); `round` turns the assignment. Penalties go to
/// `penalized` as they happen.
pub async fn spread_round(
    peers: &[EthPeer],
    store: &StoreClient,
    config: &RootsSyncConfig,
    round: usize,
    penalized: Option<&Recipient<PeerPenalized>>,
) -> Result<RoundOutcome, RootsSyncError> {
    let mut outcome = RoundOutcome::default();
    if peers.is_empty() {
        return Ok(outcome);
    }
    let status = store.status().await?;
    let finalized_start = status.finalized.epoch.start_slot(status.slots_per_epoch);
    let head = status.head.slot.0;
    let start = finalized_start
        .0
        .max(head.saturating_sub(config.lookback_slots));
    let tips: Vec<u64> = peers.iter().map(|p| p.tip).collect();
    let target = tips.iter().copied().max().unwrap_or(0);
    let pieces = plan_pieces(start, head, target, peers.len(), config);
    let first = assign(&pieces, &tips, target, round);
    // Peers out of this round (a fault or a failed request), shared by the pieces in flight.
    let out: RefCell<HashSet<PeerId>> = RefCell::new(HashSet::new());
    let learned: RefCell<Vec<(PeerId, u64)>> = RefCell::new(Vec::new());
    let faults: RefCell<Vec<PeerId>> = RefCell::new(Vec::new());
    let fetches = pieces.iter().zip(&first).map(|(&piece, &first)| {
        let (out, learned, faults) = (&out, &learned, &faults);
        async move {
            for k in 0..peers.len() {
                let peer = &peers[(first + k) % peers.len()];
                if out.borrow().contains(&peer.id) {
                    continue;
                }
                match fetch_piece(&peer.session, piece, store, config).await {
                    Ok(f) => {
                        if let Some(slot) = f.last_slot {
                            learned.borrow_mut().push((peer.id, slot));
                        }
                        return Some(f.blocks);
                    }
                    Err(RootsSyncError::Peer(reason)) => {
                        warn!(peer = %peer.id, %reason, piece.start, "ETH peer gave a wrong answer; penalised, piece moved");
                        out.borrow_mut().insert(peer.id);
                        faults.borrow_mut().push(peer.id);
                        if let Some(p) = penalized {
                            let _ = p.try_send(PeerPenalized {
                                peer: peer.id,
                                penalty: Penalty::BadSyncResponse { reason },
                            });
                        }
                    }
                    Err(RootsSyncError::Store(e)) => {
                        debug!(error = %e, "store failed during a roots round");
                        return None;
                    }
                    Err(RootsSyncError::Request(e)) => {
                        debug!(peer = %peer.id, error = %e, piece.start, "piece moved to another peer");
                        out.borrow_mut().insert(peer.id);
                    }
                }
            }
            None
        }
    });
    let fetched = futures_util::future::join_all(fetches).await;
    outcome.tips = learned.into_inner();
    outcome.penalised = faults.into_inner();
    for blocks in fetched {
        let Some(blocks) = blocks else {
            break; // a piece nobody served: the ones after it would not link
        };
        if blocks.is_empty() {
            continue;
        }
        let n = blocks.len();
        match store.import_blocks(blocks).await?.result {
            ImportResult::Imported { .. } => outcome.imported += n,
            other => {
                // Pieces from different peers that do not link (a fork between them): nobody
                // is provably wrong; the next round asks again with the pieces turned.
                debug!(result = ?other, "roots round: a piece did not import");
                break;
            }
        }
    }
    Ok(outcome)
}

/// Runs rounds while the manager lives: every `poll_interval`, or at once after a round that
/// imported, over the handshaked ETH peers `GetPeers` lists (their tips: the hello's best slot,
/// then the last root each listed).
pub async fn coordinate(
    manager: Recipient<GetPeers>,
    store: StoreClient,
    config: RootsSyncConfig,
    penalized: Option<Recipient<PeerPenalized>>,
) {
    let mut tips: HashMap<PeerId, u64> = HashMap::new();
    let mut round = 0usize;
    let mut wait = config.poll_interval;
    loop {
        tokio::time::sleep(wait).await;
        wait = config.poll_interval;
        let Ok(listed) = manager.send(GetPeers).await else {
            return;
        };
        let peers: Vec<EthPeer> = listed
            .into_iter()
            .filter(|p| p.handshaked && p.dialect == Dialect::Eth)
            .filter_map(|p| {
                let hello = p.hello.as_ref().map_or(0, |h| h.best_slot.0);
                let tip = tips.get(&p.peer).copied().unwrap_or(0).max(hello);
                Some(EthPeer {
                    id: p.peer,
                    session: p.eth?.recipient(),
                    tip,
                })
            })
            .collect();
        tips.retain(|id, _| peers.iter().any(|p| p.id == *id));
        if peers.is_empty() {
            continue;
        }
        round = round.wrapping_add(1);
        match spread_round(&peers, &store, &config, round, penalized.as_ref()).await {
            Ok(o) => {
                for (id, slot) in o.tips {
                    let tip = tips.entry(id).or_default();
                    *tip = (*tip).max(slot);
                }
                if o.imported > 0 {
                    info!(
                        blocks = o.imported,
                        peers = peers.len(),
                        "imported through roots"
                    );
                    wait = Duration::ZERO;
                }
            }
            Err(e) => debug!(error = %e, "roots round ended early"),
        }
    }
}

#[cfg(test)]
mod tests;
