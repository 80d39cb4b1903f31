//! Sync through block roots, for peers of the ETH dialect (the eth2 RPC interface's handshake
//! section): ask the peer's canonical `(block_root, slot)` pairs from where we might differ, keep
//! the roots we lack, fetch their headers (checked: each is the root asked, in order, each links
//! to the one before), then their bodies by root (checked: each belongs to its header), and import
//! the blocks in one store turn. [`check_headers`] and [`assemble`] are plain functions; the round
//! ([`sync_round`]) drives one ETH session through [`SendEthRequest`]; [`follow`] runs rounds
//! with one session while it lives. A [`RootsSyncError::Peer`] is the peer's fault (wrong body,
//! broken chain, roots it cannot serve): it is reported to the peer manager as `PeerPenalized`
//! (`BadSyncResponse`, scored like a Hobbits sync fault, banned at the threshold), and what it
//! should have given is fetched from the next peer's round. Sends `SendEthRequest`,
//! `GetEthPeerHello` (session), `PeerPenalized` (manager) and store queries; handles no messages.

use std::time::Duration;

use actix::{Addr, Recipient};
use hobbits_chain::{BeaconBlock, BeaconBlockBody, BeaconBlockHeader, Root};
use hobbits_codec::eth::{
    BlockBodiesRequest, BlockHeadersRequest, BlockRootSlot, BlockRootsRequest, EthRequestBody,
    EthResponseBody, MAX_BLOCK_ROOTS_COUNT,
};

use crate::events::{PeerPenalized, Penalty};
use crate::peer_session::eth::{EthRequestError, EthSession, GetEthPeerHello, SendEthRequest};
use crate::peer_table::PeerId;
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
}

impl Default for RootsSyncConfig {
    fn default() -> Self {
        RootsSyncConfig {
            poll_interval: Duration::from_millis(500),
            lookback_slots: 1024,
            blocks_per_request: 64,
        }
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

/// One round with one peer: roots, the ones we lack, headers, bodies, import. Returns the
/// number of blocks imported.
pub async fn sync_round(
    peer: Recipient<SendEthRequest>,
    store: StoreClient,
    config: RootsSyncConfig,
) -> Result<usize, RootsSyncError> {
    let status = store.status().await?;
    let finalized_start = status.finalized.epoch.start_slot(status.slots_per_epoch);
    let start = finalized_start
        .0
        .max(status.head.slot.0.saturating_sub(config.lookback_slots));
    let roots = match ask(
        &peer,
        EthRequestBody::BeaconBlockRoots(BlockRootsRequest {
            start_slot: hobbits_chain::Slot(start),
            count: MAX_BLOCK_ROOTS_COUNT,
        }),
    )
    .await?
    {
        EthResponseBody::BeaconBlockRoots(r) => r.roots,
        other => return Err(RootsSyncError::Peer(format!("not roots: {other:?}"))),
    };
    let lacking = store.unknown_roots(roots).await?;
    let mut imported = 0;
    for chunk in lacking.chunks(config.blocks_per_request.max(1)) {
        let headers = match ask(
            &peer,
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
            &peer,
            EthRequestBody::BeaconBlockBodies(BlockBodiesRequest {
                block_roots: chunk.iter().map(|r| r.block_root).collect(),
            }),
        )
        .await?
        {
            EthResponseBody::BeaconBlockBodies(b) => b.block_bodies,
            other => return Err(RootsSyncError::Peer(format!("not bodies: {other:?}"))),
        };
        let blocks = assemble(&headers, bodies)?;
        let n = blocks.len();
        match store.import_blocks(blocks).await?.result {
            ImportResult::Imported { .. } => imported += n,
            other => return Err(RootsSyncError::Store(format!("{other:?}"))),
        }
    }
    Ok(imported)
}

/// Sync rounds with one session while it lives: the dialect has no gossip, so this is also how
/// new blocks arrive. Until the hello is done it looks again soon; after a round that imported it
/// goes on at once (the peer may have more than one page of roots); otherwise it waits
/// `poll_interval`. A peer fault is reported to `penalized` and the next round waits as usual.
pub async fn follow(
    peer: PeerId,
    session: Addr<EthSession>,
    store: StoreClient,
    config: RootsSyncConfig,
    penalized: Recipient<PeerPenalized>,
) {
    let soon = config.poll_interval.min(Duration::from_millis(10));
    let mut wait = soon;
    loop {
        tokio::time::sleep(wait).await;
        if !session.connected() {
            return;
        }
        match session.send(GetEthPeerHello).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                wait = soon;
                continue;
            }
            Err(_) => return,
        }
        wait = config.poll_interval;
        match sync_round(session.clone().recipient(), store.clone(), config.clone()).await {
            Ok(0) => {}
            Ok(blocks) => {
                info!(%peer, blocks, "imported through roots");
                wait = Duration::ZERO;
            }
            Err(RootsSyncError::Peer(reason)) => {
                warn!(%peer, %reason, "ETH peer gave a wrong answer; penalised");
                let _ = penalized.try_send(PeerPenalized {
                    peer,
                    penalty: Penalty::BadSyncResponse { reason },
                });
            }
            Err(e) => debug!(%peer, error = %e, "roots round ended early"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hobbits_chain::{BlockProducer, ChainStore, GenesisConfig, Slot, StoreConfig};

    fn blocks(n: u64) -> Vec<BeaconBlock> {
        let mut s = GenesisConfig::new(1, 1, Duration::from_secs(0), None)
            .and_then(|g| g.memory_store(StoreConfig::default()))
            .expect("genesis");
        let p = BlockProducer::new("roots", 1);
        (1..=n)
            .map(|slot| {
                let b = p.produce_on_head(&s, Slot(slot)).expect("produce");
                s.import_block(b.clone()).expect("import");
                b
            })
            .collect()
    }

    fn pairs(blocks: &[BeaconBlock]) -> Vec<BlockRootSlot> {
        blocks
            .iter()
            .map(|b| BlockRootSlot {
                block_root: b.signing_root(),
                slot: b.slot,
            })
            .collect()
    }

    #[test]
    fn honest_headers_and_bodies_make_the_blocks() {
        let chain = blocks(5);
        let headers: Vec<_> = chain.iter().map(BeaconBlock::header).collect();
        check_headers(&pairs(&chain), &headers).expect("honest headers");
        let bodies = chain.iter().map(|b| b.body.clone()).collect();
        assert_eq!(assemble(&headers, bodies).expect("assembled"), chain);
    }

    #[test]
    fn wrong_roots_broken_links_and_foreign_bodies_are_peer_faults() {
        let chain = blocks(4);
        let asked = pairs(&chain);
        let headers: Vec<_> = chain.iter().map(BeaconBlock::header).collect();
        // A header missing, or another block's header in its place.
        assert!(matches!(
            check_headers(&asked, &headers[..3]),
            Err(RootsSyncError::Peer(_))
        ));
        let mut swapped = headers.clone();
        swapped.swap(1, 2);
        assert!(matches!(
            check_headers(&asked, &swapped),
            Err(RootsSyncError::Peer(_))
        ));
        // Roots listed as the peer's canonical chain that do not link.
        let gap = [asked[0], asked[2]];
        assert!(matches!(
            check_headers(&gap, &[headers[0].clone(), headers[2].clone()]),
            Err(RootsSyncError::Peer(m)) if m.contains("link")
        ));
        // A zero body (what a peer sends for a root it lacks) or another block's body.
        let mut bodies: Vec<_> = chain.iter().map(|b| b.body.clone()).collect();
        bodies[1] = BeaconBlockBody::default();
        assert!(matches!(
            assemble(&headers, bodies),
            Err(RootsSyncError::Peer(m)) if m.contains("slot 2")
        ));
        let mut bodies: Vec<_> = chain.iter().map(|b| b.body.clone()).collect();
        bodies.swap(0, 3);
        assert!(assemble(&headers, bodies).is_err());
    }
}
