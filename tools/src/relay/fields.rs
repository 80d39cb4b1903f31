//! Short text forms of what a frame carries, for the relay's records: [`short_hex`] for roots and
//! hashes, [`payload_fields`] for a decoded RPC payload. Plain functions; handles no messages.

use hobbits_codec::rpc::RpcPayload;

use super::record::FieldValue;

/// `0x` and the first 4 bytes of a hash, then `…` (enough to tell roots apart in a log).
pub fn short_hex(bytes: &[u8]) -> String {
    format!("0x{}…", hex::encode(&bytes[..bytes.len().min(4)]))
}

/// The payload summarised as named fields.
pub fn payload_fields(payload: &RpcPayload) -> Vec<(&'static str, FieldValue)> {
    use FieldValue::{Text, Uint};
    match payload {
        RpcPayload::Hello(h) => vec![
            ("network_id", Uint(h.network_id.into())),
            ("chain_id", Uint(h.chain_id.into())),
            ("finalized_epoch", Uint(h.latest_finalized_epoch.0)),
            ("best_slot", Uint(h.best_slot.0)),
            ("best_root", Text(short_hex(&h.best_root.0))),
        ],
        RpcPayload::Goodbye(g) => vec![("reason", Uint(g.reason))],
        RpcPayload::GetStatus(s) => vec![
            (
                "user_agent",
                Text(super::shape::shorten(&s.user_agent_lossy(), 32)),
            ),
            ("timestamp", Uint(s.timestamp)),
        ],
        RpcPayload::GetBlockHeaders(r) => vec![
            ("start_slot", Uint(r.start_slot.0)),
            ("max", Uint(r.max)),
            ("skip", Uint(r.skip)),
            ("direction", Uint(r.direction.into())),
        ],
        RpcPayload::GetBlockBodies(r) => vec![
            ("start_slot", Uint(r.start_slot.0)),
            ("max", Uint(r.max)),
            ("skip", Uint(r.skip)),
            ("direction", Uint(r.direction.into())),
        ],
        RpcPayload::BlockHeaders(b) => {
            let mut v = vec![("count", Uint(b.headers.len() as u64))];
            if let (Some(first), Some(last)) = (b.headers.first(), b.headers.last()) {
                v.push(("slots", Text(format!("{}..{}", first.slot.0, last.slot.0))));
            }
            v
        }
        RpcPayload::BlockBodies(b) => {
            let mut v = vec![("count", Uint(b.bodies.len() as u64))];
            if let (Some(first), Some(last)) = (b.bodies.first(), b.bodies.last()) {
                v.push(("slots", Text(format!("{}..{}", first.slot.0, last.slot.0))));
                v.push(("last_root", Text(short_hex(&last.signing_root().0))));
            }
            v
        }
        RpcPayload::GetAttestation(g) => vec![("hash", Text(short_hex(&g.hash.0)))],
        RpcPayload::Attestation(a) => vec![(
            "block_root",
            Text(short_hex(&a.attestation.data.beacon_block_root.0)),
        )],
        RpcPayload::GetBeaconStates(g) => vec![("count", Uint(g.hashes.len() as u64))],
        RpcPayload::BeaconStates(s) => vec![("count", Uint(s.states.len() as u64))],
    }
}
