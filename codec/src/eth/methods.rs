//! The ETH methods' SSZ containers, field for field in the spec's order, and the typed bodies:
//! [`EthRequestBody`] (a request's `body`, chosen by `method_id`) and [`EthResponseBody`] (a
//! success `result`, chosen by the method of the request answered).
//!
//! Reused from `hobbits_chain` where the data is the same: `Goodbye` (reason u64),
//! `BlockHeaders` (the headers response, at most 4096 by its SSZ type), `BeaconBlockHeader`,
//! `BeaconBlockBody`, `Root`, `Slot`, `Epoch`. New here where the spec differs from the Hobbits
//! containers: hello (`chain_id` is uint64, not uint8), get_status (a `sha` first), the roots
//! method, headers by `(start_root, start_slot, max_headers, skip_slots)` without a direction,
//! bodies by root, and the chain-state request.
//!
//! Rules checked on decoding (and by `check` for senders): beacon_block_roots `count` ≤ 32768 and
//! its response ascending and ≤ 32768 pairs (the spec's); the lists the spec leaves unbounded are
//! bounded by [`EthLimits`]. A request breaking a rule earns 20, a body that is not its container's
//! SSZ earns 10; list lengths are checked from the byte length before anything is decoded.

use hobbits_chain::rpc::{BlockHeaders, GetBlockHeaders, Goodbye, Hello};
use hobbits_chain::{BeaconBlockBody, Epoch, Root, Slot};
use ssz::{Decode, Encode};
use ssz_derive::{Decode, Encode};

use super::{EthError, EthLimits, EthMethod, ResponseCode};
use crate::rpc::RequestId;

/// The spec's bound on beacon_block_roots `count` (and so on the pairs of its response).
pub const MAX_BLOCK_ROOTS_COUNT: u64 = 32768;

/// The code this node answers beacon_chain_state (13) with: the spec defines its request but
/// leaves the response "TBD", so no success result could be read by anyone. 30 "method not found"
/// in JSON-RPC's sense ("does not exist / is not available"), with a text saying why.
pub const CHAIN_STATE_NOT_SERVED: ResponseCode = ResponseCode::MethodNotFound;

/// `0` hello (request and response): 89 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct EthHello {
    /// Network id; a different one means the peers cannot sync.
    pub network_id: u8,
    /// Chain id (uint64 in this dialect; the Hobbits HELLO has uint8).
    pub chain_id: u64,
    /// Root of the latest finalized block.
    pub finalized_root: Root,
    /// Epoch of the latest finalized block.
    pub finalized_epoch: Epoch,
    /// Root of the best (head) block.
    pub best_root: Root,
    /// Slot of the best (head) block.
    pub best_slot: Slot,
}

impl From<&Hello> for EthHello {
    fn from(h: &Hello) -> Self {
        Self {
            network_id: h.network_id,
            chain_id: u64::from(h.chain_id),
            finalized_root: h.latest_finalized_root,
            finalized_epoch: h.latest_finalized_epoch,
            best_root: h.best_root,
            best_slot: h.best_slot,
        }
    }
}

impl EthHello {
    /// The same status as a Hobbits HELLO (whose checks the node already has); `None` when
    /// `chain_id` does not fit the Hobbits uint8.
    pub fn to_hobbits(&self) -> Option<Hello> {
        Some(Hello {
            network_id: self.network_id,
            chain_id: u8::try_from(self.chain_id).ok()?,
            latest_finalized_root: self.finalized_root,
            latest_finalized_epoch: self.finalized_epoch,
            best_root: self.best_root,
            best_slot: self.best_slot,
        })
    }
}

/// `2` get_status (request and response): metadata about the sender.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct EthStatus {
    /// A 32-byte hash identifying the sender's build (e.g. its source revision); opaque.
    pub sha: [u8; 32],
    /// Client name and version (bytes; at most [`EthLimits::max_user_agent_len`]).
    pub user_agent: Vec<u8>,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
}

impl EthStatus {
    /// A status with the given build hash, user agent and timestamp.
    pub fn new(sha: [u8; 32], user_agent: &str, timestamp: u64) -> Self {
        Self {
            sha,
            user_agent: user_agent.as_bytes().to_vec(),
            timestamp,
        }
    }

    /// The user agent as text (lossy UTF-8).
    pub fn user_agent_lossy(&self) -> String {
        String::from_utf8_lossy(&self.user_agent).into_owned()
    }
}

/// `10` beacon_block_roots request: 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode)]
pub struct BlockRootsRequest {
    /// First slot wanted.
    pub start_slot: Slot,
    /// Number of slots from `start_slot`; at most [`MAX_BLOCK_ROOTS_COUNT`].
    pub count: u64,
}

/// One `(block_root, slot)` pair of a beacon_block_roots response: 40 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode)]
pub struct BlockRootSlot {
    /// Root of the block (its signing_root, what a child's `parent_root` names).
    pub block_root: Root,
    /// Slot of the block.
    pub slot: Slot,
}

impl From<hobbits_chain::BlockRootSlot> for BlockRootSlot {
    fn from(b: hobbits_chain::BlockRootSlot) -> Self {
        Self {
            block_root: b.root,
            slot: b.slot,
        }
    }
}

impl From<BlockRootSlot> for hobbits_chain::BlockRootSlot {
    fn from(b: BlockRootSlot) -> Self {
        Self {
            root: b.block_root,
            slot: b.slot,
        }
    }
}

/// `10` beacon_block_roots response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct BlockRootsResponse {
    /// The pairs in ascending slot order (equal slots tolerated), at most
    /// [`MAX_BLOCK_ROOTS_COUNT`].
    pub roots: Vec<BlockRootSlot>,
}

/// `11` beacon_block_headers request: 56 bytes. The response is `hobbits_chain::rpc::BlockHeaders`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode)]
pub struct BlockHeadersRequest {
    /// Block to start from (zero: use `start_slot`).
    pub start_root: Root,
    /// Slot to start from.
    pub start_slot: Slot,
    /// Most headers wanted.
    pub max_headers: u64,
    /// Slots skipped between headers (the spec's rule: the closest previous block for an empty
    /// slot, duplicates collapsed; 0 returns every block).
    pub skip_slots: u64,
}

impl From<&BlockHeadersRequest> for GetBlockHeaders {
    /// The same query in the Hobbits container (ascending: this dialect has no direction), so the
    /// store's range query answers both.
    fn from(r: &BlockHeadersRequest) -> Self {
        GetBlockHeaders {
            start_root: r.start_root,
            start_slot: r.start_slot,
            max: r.max_headers,
            skip: r.skip_slots,
            direction: 1,
        }
    }
}

/// `12` beacon_block_bodies request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct BlockBodiesRequest {
    /// Roots of the blocks whose bodies are wanted; at most [`EthLimits::max_bodies_per_request`].
    pub block_roots: Vec<Root>,
}

/// `12` beacon_block_bodies response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct BlockBodiesResponse {
    /// One body per requested root, in request order; a zero-value body for an unknown root.
    pub block_bodies: Vec<BeaconBlockBody>,
}

/// `13` beacon_chain_state request (its response is TBD in the spec).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct ChainStateRequest {
    /// Hashes of state Merkle tree nodes; at most [`EthLimits::max_state_hashes`].
    pub hashes: Vec<Root>,
}

fn ssz<T: Decode>(bytes: &[u8]) -> Result<T, String> {
    T::from_ssz_bytes(bytes).map_err(|e| format!("{e:?}"))
}

/// Items of the one list of a single-field container of `item_len`-byte items, from its byte
/// length alone (offset 4, then the items), so a cap is checked before anything is decoded.
fn fixed_list_len(bytes: &[u8], item_len: usize) -> usize {
    bytes.len().saturating_sub(4) / item_len
}

fn cap(what: &str, len: usize, max: u32) -> Result<(), String> {
    if len as u64 > u64::from(max) {
        return Err(format!("{len} {what}, above the limit of {max}"));
    }
    Ok(())
}

/// A request's typed body: the method's request container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EthRequestBody {
    /// 0 hello.
    Hello(EthHello),
    /// 1 goodbye.
    Goodbye(Goodbye),
    /// 2 get_status.
    GetStatus(EthStatus),
    /// 10 beacon_block_roots.
    BeaconBlockRoots(BlockRootsRequest),
    /// 11 beacon_block_headers.
    BeaconBlockHeaders(BlockHeadersRequest),
    /// 12 beacon_block_bodies.
    BeaconBlockBodies(BlockBodiesRequest),
    /// 13 beacon_chain_state.
    BeaconChainState(ChainStateRequest),
}

impl EthRequestBody {
    /// The method this body belongs to.
    pub fn method(&self) -> EthMethod {
        match self {
            Self::Hello(_) => EthMethod::Hello,
            Self::Goodbye(_) => EthMethod::Goodbye,
            Self::GetStatus(_) => EthMethod::GetStatus,
            Self::BeaconBlockRoots(_) => EthMethod::BeaconBlockRoots,
            Self::BeaconBlockHeaders(_) => EthMethod::BeaconBlockHeaders,
            Self::BeaconBlockBodies(_) => EthMethod::BeaconBlockBodies,
            Self::BeaconChainState(_) => EthMethod::BeaconChainState,
        }
    }

    /// The SSZ of the container.
    pub fn to_ssz(&self) -> Vec<u8> {
        match self {
            Self::Hello(b) => b.as_ssz_bytes(),
            Self::Goodbye(b) => b.as_ssz_bytes(),
            Self::GetStatus(b) => b.as_ssz_bytes(),
            Self::BeaconBlockRoots(b) => b.as_ssz_bytes(),
            Self::BeaconBlockHeaders(b) => b.as_ssz_bytes(),
            Self::BeaconBlockBodies(b) => b.as_ssz_bytes(),
            Self::BeaconChainState(b) => b.as_ssz_bytes(),
        }
    }

    /// The rule this body breaks, if any (`count` above 32768, a list or user agent above
    /// `limits`): what a receiver answers with 20. Senders call it to send nothing a peer with
    /// the same limits would refuse.
    pub fn violation(&self, limits: &EthLimits) -> Option<String> {
        let broken = match self {
            Self::BeaconBlockRoots(r) if r.count > MAX_BLOCK_ROOTS_COUNT => Err(format!(
                "count {} is above {MAX_BLOCK_ROOTS_COUNT}, the spec's maximum",
                r.count
            )),
            Self::GetStatus(s) => cap(
                "user agent bytes",
                s.user_agent.len(),
                limits.max_user_agent_len,
            ),
            Self::BeaconBlockBodies(r) => cap(
                "block roots",
                r.block_roots.len(),
                limits.max_bodies_per_request,
            ),
            Self::BeaconChainState(r) => cap("hashes", r.hashes.len(), limits.max_state_hashes),
            _ => Ok(()),
        };
        broken.err()
    }

    /// Decodes `bytes` as `method`'s request container and checks its rules. Errors: unknown
    /// method (30), not the container's SSZ (10), a rule broken (20); `id` is for the error.
    pub fn decode(
        id: RequestId,
        method: EthMethod,
        bytes: &[u8],
        limits: &EthLimits,
    ) -> Result<Self, EthError> {
        let invalid = |reason: String| EthError::InvalidRequest { id, method, reason };
        // Lists of roots are counted from their length before they are decoded.
        let precheck = match method {
            EthMethod::BeaconBlockBodies => cap(
                "block roots",
                fixed_list_len(bytes, 32),
                limits.max_bodies_per_request,
            ),
            EthMethod::BeaconChainState => {
                cap("hashes", fixed_list_len(bytes, 32), limits.max_state_hashes)
            }
            _ => Ok(()),
        };
        precheck.map_err(invalid)?;
        let body = match method {
            EthMethod::Hello => ssz(bytes).map(Self::Hello),
            EthMethod::Goodbye => ssz(bytes).map(Self::Goodbye),
            EthMethod::GetStatus => ssz(bytes).map(Self::GetStatus),
            EthMethod::BeaconBlockRoots => ssz(bytes).map(Self::BeaconBlockRoots),
            EthMethod::BeaconBlockHeaders => ssz(bytes).map(Self::BeaconBlockHeaders),
            EthMethod::BeaconBlockBodies => ssz(bytes).map(Self::BeaconBlockBodies),
            EthMethod::BeaconChainState => ssz(bytes).map(Self::BeaconChainState),
            EthMethod::Unknown(method_id) => {
                return Err(EthError::UnknownMethod { id, method_id });
            }
        }
        .map_err(|reason| EthError::BadRequestBody { id, method, reason })?;
        match body.violation(limits) {
            Some(reason) => Err(invalid(reason)),
            None => Ok(body),
        }
    }
}

/// A success result's typed body: the response container of the method answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EthResponseBody {
    /// 0 hello: the receiver's own hello.
    Hello(EthHello),
    /// 2 get_status.
    GetStatus(EthStatus),
    /// 10 beacon_block_roots.
    BeaconBlockRoots(BlockRootsResponse),
    /// 11 beacon_block_headers.
    BeaconBlockHeaders(BlockHeaders),
    /// 12 beacon_block_bodies.
    BeaconBlockBodies(BlockBodiesResponse),
}

impl EthResponseBody {
    /// The method this result answers.
    pub fn method(&self) -> EthMethod {
        match self {
            Self::Hello(_) => EthMethod::Hello,
            Self::GetStatus(_) => EthMethod::GetStatus,
            Self::BeaconBlockRoots(_) => EthMethod::BeaconBlockRoots,
            Self::BeaconBlockHeaders(_) => EthMethod::BeaconBlockHeaders,
            Self::BeaconBlockBodies(_) => EthMethod::BeaconBlockBodies,
        }
    }

    /// The SSZ of the container.
    pub fn to_ssz(&self) -> Vec<u8> {
        match self {
            Self::Hello(b) => b.as_ssz_bytes(),
            Self::GetStatus(b) => b.as_ssz_bytes(),
            Self::BeaconBlockRoots(b) => b.as_ssz_bytes(),
            Self::BeaconBlockHeaders(b) => b.as_ssz_bytes(),
            Self::BeaconBlockBodies(b) => b.as_ssz_bytes(),
        }
    }

    /// The rule this result breaks, if any: roots not ascending or more than 32768 of them, more
    /// bodies or a longer user agent than `limits`. Request-relative rules (no more headers than
    /// `max_headers`, one body per requested root) are the requester's to check.
    pub fn violation(&self, limits: &EthLimits) -> Option<String> {
        let broken = match self {
            Self::BeaconBlockRoots(r) => {
                if r.roots.len() as u64 > MAX_BLOCK_ROOTS_COUNT {
                    Err(format!(
                        "{} roots, above {MAX_BLOCK_ROOTS_COUNT}, the spec's maximum count",
                        r.roots.len()
                    ))
                } else if let Some(i) = r.roots.windows(2).position(|w| w[1].slot < w[0].slot) {
                    Err(format!(
                        "slots not ascending: slot {} at index {} follows slot {}",
                        r.roots[i + 1].slot.0,
                        i + 1,
                        r.roots[i].slot.0
                    ))
                } else {
                    Ok(())
                }
            }
            Self::GetStatus(s) => cap(
                "user agent bytes",
                s.user_agent.len(),
                limits.max_user_agent_len,
            ),
            Self::BeaconBlockBodies(b) => cap(
                "block bodies",
                b.block_bodies.len(),
                limits.max_bodies_per_request,
            ),
            Self::Hello(_) | Self::BeaconBlockHeaders(_) => Ok(()),
        };
        broken.err()
    }

    /// Decodes `bytes` as the response container of `method` and checks its rules; `id` is for
    /// the error. goodbye, beacon_chain_state and unknown methods have no response container.
    pub fn decode(
        id: RequestId,
        method: EthMethod,
        bytes: &[u8],
        limits: &EthLimits,
    ) -> Result<Self, EthError> {
        let body = match method {
            EthMethod::Hello => ssz(bytes).map(Self::Hello),
            EthMethod::GetStatus => ssz(bytes).map(Self::GetStatus),
            EthMethod::BeaconBlockRoots => {
                let pairs = fixed_list_len(bytes, 40);
                if pairs as u64 > MAX_BLOCK_ROOTS_COUNT {
                    return Err(EthError::InvalidResponse {
                        id,
                        method,
                        reason: format!("{pairs} roots, above {MAX_BLOCK_ROOTS_COUNT}"),
                    });
                }
                ssz(bytes).map(Self::BeaconBlockRoots)
            }
            EthMethod::BeaconBlockHeaders => ssz(bytes).map(Self::BeaconBlockHeaders),
            EthMethod::BeaconBlockBodies => ssz(bytes).map(Self::BeaconBlockBodies),
            EthMethod::Goodbye | EthMethod::BeaconChainState | EthMethod::Unknown(_) => {
                return Err(EthError::NoResponseContainer { method });
            }
        }
        .map_err(|reason| EthError::BadResponseBody { id, method, reason })?;
        match body.violation(limits) {
            Some(reason) => Err(EthError::InvalidResponse { id, method, reason }),
            None => Ok(body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: RequestId = RequestId(1);

    #[test]
    fn fixed_containers_have_the_spec_sizes_in_field_order() {
        let hello = EthHello {
            network_id: 1,
            chain_id: 0x0203,
            finalized_root: Root([4; 32]),
            finalized_epoch: Epoch(5),
            best_root: Root([6; 32]),
            best_slot: Slot(7),
        };
        let b = hello.as_ssz_bytes();
        assert_eq!(b.len(), 89);
        assert_eq!(&b[..9], &[1, 3, 2, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[81..], &7u64.to_le_bytes());
        assert_eq!(hello.to_hobbits(), None, "chain_id 0x203 does not fit a u8");
        let small = EthHello {
            chain_id: 255,
            ..hello
        };
        assert_eq!(
            small.to_hobbits().map(|h| EthHello::from(&h)),
            Some(small.clone())
        );
        assert_eq!(BlockRootsRequest::default().as_ssz_bytes().len(), 16);
        assert_eq!(BlockHeadersRequest::default().as_ssz_bytes().len(), 56);
        assert_eq!(BlockRootSlot::default().as_ssz_bytes().len(), 40);
        let status = EthStatus::new([9; 32], "hobbits-node/0.1.0", 1);
        let b = status.as_ssz_bytes();
        assert_eq!(
            &b[32..36],
            &44u32.to_le_bytes(),
            "user_agent offset after sha, offset, timestamp"
        );
        assert_eq!(EthStatus::from_ssz_bytes(&b), Ok(status));
    }

    #[test]
    fn count_above_the_spec_cap_is_invalid_not_malformed() {
        let at_cap = BlockRootsRequest {
            start_slot: Slot(0),
            count: MAX_BLOCK_ROOTS_COUNT,
        };
        let bytes = at_cap.as_ssz_bytes();
        let m = EthMethod::BeaconBlockRoots;
        assert!(EthRequestBody::decode(ID, m, &bytes, &EthLimits::default()).is_ok());
        let over = BlockRootsRequest {
            count: MAX_BLOCK_ROOTS_COUNT + 1,
            ..at_cap
        }
        .as_ssz_bytes();
        let err = EthRequestBody::decode(ID, m, &over, &EthLimits::default()).expect_err("over");
        assert_eq!(err.response_code(), Some(ResponseCode::InvalidRequest));
        let err =
            EthRequestBody::decode(ID, m, &bytes[..15], &EthLimits::default()).expect_err("short");
        assert_eq!(err.response_code(), Some(ResponseCode::ParseError));
        let mut trailing = bytes.clone();
        trailing.push(0);
        let err = EthRequestBody::decode(ID, m, &trailing, &EthLimits::default())
            .expect_err("a byte past the container");
        assert_eq!(err.response_code(), Some(ResponseCode::ParseError));
        let err = EthRequestBody::decode(ID, EthMethod::Unknown(3), &bytes, &EthLimits::default())
            .expect_err("unknown");
        assert_eq!(err.response_code(), Some(ResponseCode::MethodNotFound));
    }

    #[test]
    fn list_caps_come_from_the_limits_and_are_checked_before_decoding() {
        let limits = EthLimits {
            max_bodies_per_request: 3,
            max_state_hashes: 2,
            max_user_agent_len: 4,
            ..EthLimits::default()
        };
        let roots = |n: usize| BlockBodiesRequest {
            block_roots: vec![Root([1; 32]); n],
        };
        let m = EthMethod::BeaconBlockBodies;
        assert!(EthRequestBody::decode(ID, m, &roots(3).as_ssz_bytes(), &limits).is_ok());
        let err = EthRequestBody::decode(ID, m, &roots(4).as_ssz_bytes(), &limits).expect_err("4");
        assert!(matches!(err, EthError::InvalidRequest { .. }));
        // Garbage of the length of 4 roots is refused for its length, before SSZ is looked at.
        let err = EthRequestBody::decode(ID, m, &[0xff; 4 + 4 * 32], &limits).expect_err("len");
        assert!(matches!(err, EthError::InvalidRequest { .. }));
        let hashes = ChainStateRequest {
            hashes: vec![Root::ZERO; 3],
        }
        .as_ssz_bytes();
        let err = EthRequestBody::decode(ID, EthMethod::BeaconChainState, &hashes, &limits)
            .expect_err("3 hashes");
        assert!(matches!(err, EthError::InvalidRequest { .. }));
        let ua = EthStatus::new([0; 32], "12345", 0).as_ssz_bytes();
        let err = EthRequestBody::decode(ID, EthMethod::GetStatus, &ua, &limits).expect_err("ua");
        assert_eq!(err.response_code(), Some(ResponseCode::InvalidRequest));
        assert!(EthResponseBody::decode(ID, EthMethod::GetStatus, &ua, &limits).is_err());
    }

    #[test]
    fn roots_response_must_ascend_and_equal_slots_are_tolerated() {
        let pair = |slot| BlockRootSlot {
            block_root: Root([slot as u8; 32]),
            slot: Slot(slot),
        };
        let m = EthMethod::BeaconBlockRoots;
        let ok = BlockRootsResponse {
            roots: vec![pair(1), pair(1), pair(4)],
        }
        .as_ssz_bytes();
        assert!(EthResponseBody::decode(ID, m, &ok, &EthLimits::default()).is_ok());
        let bad = BlockRootsResponse {
            roots: vec![pair(1), pair(5), pair(4)],
        }
        .as_ssz_bytes();
        let err = EthResponseBody::decode(ID, m, &bad, &EthLimits::default()).expect_err("order");
        assert!(matches!(err, EthError::InvalidResponse { .. }));
        assert_eq!(err.response_code(), None, "responses are never answered");
    }

    #[test]
    fn methods_without_a_response_container() {
        for m in [
            EthMethod::Goodbye,
            EthMethod::BeaconChainState,
            EthMethod::Unknown(99),
        ] {
            assert!(matches!(
                EthResponseBody::decode(ID, m, &[], &EthLimits::default()),
                Err(EthError::NoResponseContainer { .. })
            ));
        }
    }

    #[test]
    fn headers_request_maps_to_the_hobbits_query_ascending() {
        let r = BlockHeadersRequest {
            start_root: Root([1; 32]),
            start_slot: Slot(2),
            max_headers: 3,
            skip_slots: 4,
        };
        let q = GetBlockHeaders::from(&r);
        assert_eq!(
            (q.start_slot, q.max, q.skip, q.direction),
            (Slot(2), 3, 4, 1)
        );
        let pair = BlockRootSlot {
            block_root: Root([3; 32]),
            slot: Slot(9),
        };
        let store: hobbits_chain::BlockRootSlot = pair.into();
        assert_eq!(BlockRootSlot::from(store), pair);
    }
}
