//! The `ssz_payload` target: SSZ decoding of every RPC payload container and of the chain objects
//! gossiped or stored (`BeaconBlock`, `Attestation`, `BeaconBlockHeader`, `BeaconState`), with their
//! roots. Handles no messages.
//!
//! Input layout: `[selector] [ssz...]`; `selector % 15` picks the type: 0..=10 the RPC methods
//! (0, 1, 2, 10..=17 in order), 11 `BeaconBlock`, 12 `Attestation`, 13 `BeaconBlockHeader`,
//! 14 `BeaconState`.
//!
//! Invariants: what decodes re-encodes to exactly the input (SSZ is canonical: another encoding of
//! the same value would give one object two identities) and decodes again to an equal value; a
//! block's hash_tree_root equals its header's, and its signing_root is its header's.

use hobbits_chain::rpc::{BlockBodies, BlockHeaders};
use hobbits_chain::{Attestation, BeaconBlock, BeaconBlockHeader, BeaconState, HashTreeRoot};
use hobbits_codec::{RpcMethod, RpcPayload};
use ssz::{Decode, Encode};

/// The RPC method ids in selector order.
const METHODS: [u16; 11] = [0, 1, 2, 10, 11, 12, 13, 14, 15, 16, 17];

/// Number of selectable types.
pub const SELECTORS: u8 = 15;

/// The `ssz_payload` check (see the module doc).
pub fn check(data: &[u8]) {
    let Some((&selector, ssz)) = data.split_first() else {
        return;
    };
    match usize::from(selector % SELECTORS) {
        i @ 0..=10 => check_rpc(RpcMethod::from_id(METHODS[i]), ssz),
        11 => {
            if let Some(block) = canonical::<BeaconBlock>(ssz) {
                check_block(&block);
            }
        }
        12 => {
            if let Some(att) = canonical::<Attestation>(ssz) {
                let _ = att.hash_tree_root();
            }
        }
        13 => {
            if let Some(header) = canonical::<BeaconBlockHeader>(ssz) {
                let _ = (header.hash_tree_root(), header.signing_root());
            }
        }
        _ => {
            if let Some(state) = canonical::<BeaconState>(ssz) {
                let _ = state.hash_tree_root();
            }
        }
    }
}

/// Decodes `bytes` as `T`; when it decodes, asserts the encoding is canonical and round-trips.
pub fn canonical<T: Decode + Encode + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Option<T> {
    let value = T::from_ssz_bytes(bytes).ok()?;
    let encoded = value.as_ssz_bytes();
    assert_eq!(
        hex(&encoded),
        hex(bytes),
        "{} accepted a non-canonical encoding",
        std::any::type_name::<T>()
    );
    let again = T::from_ssz_bytes(&encoded).expect("our encoding decodes");
    assert_eq!(again, value);
    Some(value)
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn check_block(block: &BeaconBlock) {
    let roots = block.roots();
    let header = block.header();
    assert_eq!(block.hash_tree_root(), header.hash_tree_root());
    assert_eq!(roots.hash_tree_root, block.hash_tree_root());
    assert_eq!(roots.signing_root, block.signing_root());
    assert_eq!(roots.signing_root, header.signing_root());
}

fn check_rpc(method: RpcMethod, ssz: &[u8]) {
    let Ok(payload) = RpcPayload::from_ssz(method, ssz) else {
        return;
    };
    assert_eq!(payload.method(), method);
    assert_eq!(
        hex(&payload.to_ssz()),
        hex(ssz),
        "{method} non-canonical SSZ"
    );
    assert_eq!(
        RpcPayload::from_ssz(method, &payload.to_ssz())
            .as_ref()
            .ok(),
        Some(&payload)
    );
    match &payload {
        RpcPayload::BlockHeaders(BlockHeaders { headers }) => {
            for h in headers.iter() {
                let _ = (h.hash_tree_root(), h.signing_root());
            }
        }
        RpcPayload::BlockBodies(BlockBodies { bodies }) => bodies.iter().for_each(check_block),
        RpcPayload::Attestation(a) => {
            let _ = a.attestation.hash_tree_root();
        }
        RpcPayload::BeaconStates(s) => {
            for state in s.states.iter() {
                let _ = state.hash_tree_root();
            }
        }
        other => {
            let _ = match other {
                RpcPayload::Hello(p) => p.hash_tree_root(),
                RpcPayload::Goodbye(p) => p.hash_tree_root(),
                RpcPayload::GetStatus(p) => p.hash_tree_root(),
                RpcPayload::GetBlockHeaders(p) => p.hash_tree_root(),
                RpcPayload::GetBlockBodies(p) => p.hash_tree_root(),
                RpcPayload::GetAttestation(p) => p.hash_tree_root(),
                RpcPayload::GetBeaconStates(p) => p.hash_tree_root(),
                _ => hobbits_chain::Root::ZERO,
            };
        }
    }
}
