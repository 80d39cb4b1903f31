//! SSZ payload containers of the Hobbits (EWP v3) RPC methods: each is the SSZ of a container with
//! exactly the Hobbits spec's fields in the spec's order. The codec decodes RPC bodies into these;
//! the chain store answers the `Get…` ones. No messages are handled or sent here.
//!
//! Wire bounds (SSZ list limits, enforced when decoding):
//! - `GetStatus.user_agent`: 1024 bytes;
//! - `BlockHeaders.headers`, `BlockBodies.bodies`: 4096 items ([`MaxBlocksOnWire`]); our own
//!   answers carry at most [`MAX_BLOCKS_PER_RESPONSE`] (1024), we accept up to 4096 from others;
//! - `GetBeaconStates.hashes`, `BeaconStates.states`: 64 items.

use ssz_derive::{Decode, Encode};
use ssz_types::typenum::{U1024, U4096, U64};
use ssz_types::VariableList;
use tree_hash_derive::TreeHash;

use crate::types::{Attestation, BeaconBlock, BeaconBlockHeader, BeaconState, Epoch, Root, Slot};

/// Most headers or bodies accepted in one BLOCK_HEADERS / BLOCK_BODIES payload.
pub type MaxBlocksOnWire = U4096;
/// Longest user agent accepted in GET_STATUS.
pub type MaxUserAgentLen = U1024;
/// Most states (and state hashes) in one GET_BEACON_STATES exchange.
pub type MaxStatesOnWire = U64;

/// Node-wide cap on headers/bodies this node puts in one response, whatever `max` asks.
pub const MAX_BLOCKS_PER_RESPONSE: u64 = 1024;

/// `0` HELLO: the handshake status (SSZ: 82 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct Hello {
    /// Network id (1 mainnet; a chosen number for a testnet).
    pub network_id: u8,
    /// Chain id (1 for ETH).
    pub chain_id: u8,
    /// Root of the latest finalized block.
    pub latest_finalized_root: Root,
    /// Epoch of the latest finalized block.
    pub latest_finalized_epoch: Epoch,
    /// Root of the best (head) block.
    pub best_root: Root,
    /// Slot of the best (head) block.
    pub best_slot: Slot,
}

/// `1` GOODBYE: a reason code (untrusted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct Goodbye {
    /// Reason code; see [`GoodbyeReason`].
    pub reason: u64,
}

impl Goodbye {
    /// Reason 1: the client shuts down.
    pub const CLIENT_SHUT_DOWN: u64 = 1;
    /// Reason 2: the peer is on another network.
    pub const IRRELEVANT_NETWORK: u64 = 2;
    /// Reason 3: fault or error.
    pub const FAULT_ERROR: u64 = 3;

    /// A goodbye with the given reason.
    pub fn new(reason: GoodbyeReason) -> Self {
        Goodbye {
            reason: reason.into(),
        }
    }

    /// The reason as an enum.
    pub fn reason(&self) -> GoodbyeReason {
        GoodbyeReason::from(self.reason)
    }
}

/// GOODBYE reason codes of the eth2 RPC interface (custom codes are above 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GoodbyeReason {
    /// 1: client shut down.
    ClientShutDown,
    /// 2: irrelevant network.
    IrrelevantNetwork,
    /// 3: fault/error.
    FaultError,
    /// Any other code.
    Other(u64),
}

impl From<u64> for GoodbyeReason {
    fn from(v: u64) -> Self {
        match v {
            1 => GoodbyeReason::ClientShutDown,
            2 => GoodbyeReason::IrrelevantNetwork,
            3 => GoodbyeReason::FaultError,
            other => GoodbyeReason::Other(other),
        }
    }
}

impl From<GoodbyeReason> for u64 {
    fn from(r: GoodbyeReason) -> u64 {
        match r {
            GoodbyeReason::ClientShutDown => 1,
            GoodbyeReason::IrrelevantNetwork => 2,
            GoodbyeReason::FaultError => 3,
            GoodbyeReason::Other(v) => v,
        }
    }
}

/// `2` GET_STATUS: request and response (user agent, time in ms since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct GetStatus {
    /// Human-readable client name and version.
    pub user_agent: VariableList<u8, MaxUserAgentLen>,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
}

impl GetStatus {
    /// A status with the given user agent (truncated to 1024 bytes) and timestamp.
    pub fn new(user_agent: &str, timestamp: u64) -> Self {
        let bytes = user_agent.as_bytes();
        let cut = &bytes[..bytes.len().min(1024)];
        GetStatus {
            user_agent: VariableList::new(cut.to_vec()).unwrap_or_default(),
            timestamp,
        }
    }

    /// The user agent as text (lossy UTF-8).
    pub fn user_agent_lossy(&self) -> String {
        String::from_utf8_lossy(&self.user_agent).into_owned()
    }
}

/// Order of a block range query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `direction` 0: from the start towards lower slots.
    Descending,
    /// `direction` 1: from the start towards higher slots.
    Ascending,
}

impl Direction {
    /// The wire value: 1 is ascending; 0 (and, leniently, any other value) descending.
    pub fn from_wire(v: u8) -> Self {
        if v == 1 {
            Direction::Ascending
        } else {
            Direction::Descending
        }
    }

    /// The wire value.
    pub fn to_wire(self) -> u8 {
        match self {
            Direction::Ascending => 1,
            Direction::Descending => 0,
        }
    }
}

/// `10` GET_BLOCK_HEADERS.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct GetBlockHeaders {
    /// Block to start from (signing_root or hash_tree_root); zero means "use `start_slot`".
    pub start_root: Root,
    /// Slot to start from on the canonical chain when `start_root` is zero or unknown.
    pub start_slot: Slot,
    /// Most items wanted.
    pub max: u64,
    /// Slots skipped between items (eth2 `skip_slots`; 0 returns every block).
    pub skip: u64,
    /// 1 ascending, 0 descending.
    pub direction: u8,
}

/// `12` GET_BLOCK_BODIES (same fields as [`GetBlockHeaders`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct GetBlockBodies {
    /// Block to start from (signing_root or hash_tree_root); zero means "use `start_slot`".
    pub start_root: Root,
    /// Slot to start from on the canonical chain when `start_root` is zero or unknown.
    pub start_slot: Slot,
    /// Most items wanted.
    pub max: u64,
    /// Slots skipped between items (eth2 `skip_slots`; 0 returns every block).
    pub skip: u64,
    /// 1 ascending, 0 descending.
    pub direction: u8,
}

impl From<GetBlockBodies> for GetBlockHeaders {
    fn from(r: GetBlockBodies) -> Self {
        GetBlockHeaders {
            start_root: r.start_root,
            start_slot: r.start_slot,
            max: r.max,
            skip: r.skip,
            direction: r.direction,
        }
    }
}

impl From<GetBlockHeaders> for GetBlockBodies {
    fn from(r: GetBlockHeaders) -> Self {
        GetBlockBodies {
            start_root: r.start_root,
            start_slot: r.start_slot,
            max: r.max,
            skip: r.skip,
            direction: r.direction,
        }
    }
}

/// `11` BLOCK_HEADERS.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct BlockHeaders {
    /// The headers, in the order the query defined.
    pub headers: VariableList<BeaconBlockHeader, MaxBlocksOnWire>,
}

/// `13` BLOCK_BODIES: full blocks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct BlockBodies {
    /// The blocks, in the order the query defined.
    pub bodies: VariableList<BeaconBlock, MaxBlocksOnWire>,
}

/// `14` GET_ATTESTATION.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct GetAttestation {
    /// hash_tree_root of the attestation.
    pub hash: Root,
}

/// `15` ATTESTATION.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct AttestationResponse {
    /// The attestation.
    pub attestation: Attestation,
}

/// `16` GET_BEACON_STATES (extension).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct GetBeaconStates {
    /// State roots (hash_tree_root of the states) wanted.
    pub hashes: VariableList<Root, MaxStatesOnWire>,
}

/// `17` BEACON_STATES (extension).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct BeaconStates {
    /// The states found, in request order (unknown ones omitted).
    pub states: VariableList<BeaconState, MaxStatesOnWire>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssz::{Decode, Encode};

    #[test]
    fn hello_is_82_bytes_in_field_order() {
        let h = Hello {
            network_id: 1,
            chain_id: 2,
            latest_finalized_root: Root([3; 32]),
            latest_finalized_epoch: Epoch(4),
            best_root: Root([5; 32]),
            best_slot: Slot(6),
        };
        let b = h.as_ssz_bytes();
        assert_eq!(b.len(), 82);
        assert_eq!(&b[..2], &[1, 2]);
        assert_eq!(&b[2..34], &[3; 32]);
        assert_eq!(&b[34..42], &4u64.to_le_bytes());
        assert_eq!(&b[42..74], &[5; 32]);
        assert_eq!(&b[74..], &6u64.to_le_bytes());
        assert_eq!(Hello::from_ssz_bytes(&b), Ok(h));
        assert!(Hello::from_ssz_bytes(&b[..81]).is_err());
    }

    #[test]
    fn get_block_headers_layout() {
        let r = GetBlockHeaders {
            start_root: Root([9; 32]),
            start_slot: Slot(2),
            max: 10,
            skip: 1,
            direction: 1,
        };
        let b = r.as_ssz_bytes();
        assert_eq!(b.len(), 32 + 8 + 8 + 8 + 1);
        assert_eq!(GetBlockHeaders::from_ssz_bytes(&b), Ok(r.clone()));
        let bodies: GetBlockBodies = r.clone().into();
        assert_eq!(bodies.as_ssz_bytes(), b);
    }

    #[test]
    fn get_status_round_trip_and_bounds() {
        let s = GetStatus::new("hobbits-node/0.1", 1_565_000_000_000);
        let b = s.as_ssz_bytes();
        // offset (4) + timestamp (8) + user agent
        assert_eq!(b.len(), 12 + 16);
        assert_eq!(GetStatus::from_ssz_bytes(&b), Ok(s));
        let long = GetStatus::new(&"x".repeat(5000), 0);
        assert_eq!(long.user_agent.len(), 1024);
    }

    #[test]
    fn goodbye_reasons() {
        assert_eq!(Goodbye::new(GoodbyeReason::IrrelevantNetwork).reason, 2);
        assert_eq!(
            Goodbye { reason: 1001 }.reason(),
            GoodbyeReason::Other(1001)
        );
        assert_eq!(
            Goodbye { reason: 3 }.as_ssz_bytes(),
            3u64.to_le_bytes().to_vec()
        );
    }

    #[test]
    fn direction_wire_values() {
        assert_eq!(Direction::from_wire(1), Direction::Ascending);
        assert_eq!(Direction::from_wire(0), Direction::Descending);
        assert_eq!(Direction::Ascending.to_wire(), 1);
    }

    #[test]
    fn lists_refuse_more_than_their_bound() {
        // 65 state hashes: an offset then 65 * 32 bytes.
        let mut b = 4u32.to_le_bytes().to_vec();
        b.extend(std::iter::repeat_n(0u8, 65 * 32));
        assert!(GetBeaconStates::from_ssz_bytes(&b).is_err());
        let mut ok = 4u32.to_le_bytes().to_vec();
        ok.extend(std::iter::repeat_n(0u8, 64 * 32));
        assert_eq!(
            GetBeaconStates::from_ssz_bytes(&ok).map(|g| g.hashes.len()),
            Ok(64)
        );
    }
}
