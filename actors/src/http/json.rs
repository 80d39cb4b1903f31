//! The JSON shapes of the v0.8.1 containers in the Beacon API's conventions (docs/API.md lists
//! them): integers as decimal strings, roots, signatures, keys and byte vectors as `0x`-hex,
//! bitlists as the `0x`-hex of their SSZ bytes, field names as in the v0.8.1 spec (a header has no
//! `proposer_index`, an attestation has `custody_bits`, an attestation's data a `crosslink`, a
//! body has `transfers`). Plain functions; handles and sends no messages.

use hobbits_chain::{
    Attestation, AttestationData, AttesterSlashing, BeaconBlock, BeaconBlockBody,
    BeaconBlockHeader, Checkpoint, Deposit, IndexedAttestation, ProposerSlashing, Root, Transfer,
    VoluntaryExit,
};
use serde_json::{json, Value};
use ssz::Encode;

/// An integer as the API writes it: a decimal string.
pub(crate) fn int(v: u64) -> Value {
    Value::String(v.to_string())
}

/// Bytes as `0x`-hex.
pub(crate) fn bytes(b: &[u8]) -> Value {
    Value::String(format!("0x{}", hex::encode(b)))
}

/// A root as `0x`-hex.
pub(crate) fn root(r: &Root) -> Value {
    Value::String(r.to_string())
}

/// `{epoch, root}`.
pub(crate) fn checkpoint(c: &Checkpoint) -> Value {
    json!({ "epoch": int(c.epoch.0), "root": root(&c.root) })
}

/// A header's message (the signed part): `{slot, parent_root, state_root, body_root}`.
fn header_message(h: &BeaconBlockHeader) -> Value {
    json!({
        "slot": int(h.slot.0),
        "parent_root": root(&h.parent_root),
        "state_root": root(&h.state_root),
        "body_root": root(&h.body_root),
    })
}

/// A signed header: `{message, signature}`.
pub(crate) fn signed_header(h: &BeaconBlockHeader) -> Value {
    json!({ "message": header_message(h), "signature": bytes(&h.signature.0) })
}

/// One entry of the headers endpoints: `{root, canonical, header}`.
pub(crate) fn header_entry(block_root: &Root, block: &BeaconBlock, canonical: bool) -> Value {
    json!({
        "root": root(block_root),
        "canonical": canonical,
        "header": signed_header(&block.header()),
    })
}

fn attestation_data(d: &AttestationData) -> Value {
    json!({
        "beacon_block_root": root(&d.beacon_block_root),
        "source": checkpoint(&d.source),
        "target": checkpoint(&d.target),
        "crosslink": {
            "shard": int(d.crosslink.shard),
            "parent_root": root(&d.crosslink.parent_root),
            "start_epoch": int(d.crosslink.start_epoch.0),
            "end_epoch": int(d.crosslink.end_epoch.0),
            "data_root": root(&d.crosslink.data_root),
        },
    })
}

fn attestation(a: &Attestation) -> Value {
    json!({
        "aggregation_bits": bytes(&a.aggregation_bits.as_ssz_bytes()),
        "data": attestation_data(&a.data),
        "custody_bits": bytes(&a.custody_bits.as_ssz_bytes()),
        "signature": bytes(&a.signature.0),
    })
}

fn indexed_attestation(a: &IndexedAttestation) -> Value {
    let ints = |v: &[u64]| v.iter().map(|i| int(*i)).collect::<Vec<_>>();
    json!({
        "custody_bit_0_indices": ints(&a.custody_bit_0_indices),
        "custody_bit_1_indices": ints(&a.custody_bit_1_indices),
        "data": attestation_data(&a.data),
        "signature": bytes(&a.signature.0),
    })
}

fn proposer_slashing(s: &ProposerSlashing) -> Value {
    json!({
        "proposer_index": int(s.proposer_index),
        "header_1": signed_header(&s.header_1),
        "header_2": signed_header(&s.header_2),
    })
}

fn attester_slashing(s: &AttesterSlashing) -> Value {
    json!({
        "attestation_1": indexed_attestation(&s.attestation_1),
        "attestation_2": indexed_attestation(&s.attestation_2),
    })
}

fn deposit(d: &Deposit) -> Value {
    json!({
        "proof": d.proof.iter().map(root).collect::<Vec<_>>(),
        "data": {
            "pubkey": bytes(&d.data.pubkey.0),
            "withdrawal_credentials": root(&d.data.withdrawal_credentials),
            "amount": int(d.data.amount),
            "signature": bytes(&d.data.signature.0),
        },
    })
}

fn voluntary_exit(e: &VoluntaryExit) -> Value {
    json!({
        "epoch": int(e.epoch.0),
        "validator_index": int(e.validator_index),
        "signature": bytes(&e.signature.0),
    })
}

fn transfer(t: &Transfer) -> Value {
    json!({
        "sender": int(t.sender),
        "recipient": int(t.recipient),
        "amount": int(t.amount),
        "fee": int(t.fee),
        "slot": int(t.slot.0),
        "pubkey": bytes(&t.pubkey.0),
        "signature": bytes(&t.signature.0),
    })
}

fn body(b: &BeaconBlockBody) -> Value {
    json!({
        "randao_reveal": bytes(&b.randao_reveal.0),
        "eth1_data": {
            "deposit_root": root(&b.eth1_data.deposit_root),
            "deposit_count": int(b.eth1_data.deposit_count),
            "block_hash": root(&b.eth1_data.block_hash),
        },
        "graffiti": bytes(&b.graffiti),
        "proposer_slashings": b.proposer_slashings.iter().map(proposer_slashing).collect::<Vec<_>>(),
        "attester_slashings": b.attester_slashings.iter().map(attester_slashing).collect::<Vec<_>>(),
        "attestations": b.attestations.iter().map(attestation).collect::<Vec<_>>(),
        "deposits": b.deposits.iter().map(deposit).collect::<Vec<_>>(),
        "voluntary_exits": b.voluntary_exits.iter().map(voluntary_exit).collect::<Vec<_>>(),
        "transfers": b.transfers.iter().map(transfer).collect::<Vec<_>>(),
    })
}

/// A signed block: `{message: {slot, parent_root, state_root, body}, signature}`.
pub(crate) fn signed_block(b: &BeaconBlock) -> Value {
    json!({
        "message": {
            "slot": int(b.slot.0),
            "parent_root": root(&b.parent_root),
            "state_root": root(&b.state_root),
            "body": body(&b.body),
        },
        "signature": bytes(&b.signature.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hobbits_chain::Slot;

    #[test]
    fn integers_are_strings_and_bytes_are_hex() {
        let mut b = BeaconBlock {
            slot: Slot(7),
            ..BeaconBlock::default()
        };
        b.body.graffiti[0] = 0xab;
        let j = signed_block(&b);
        assert_eq!(j["message"]["slot"], "7");
        assert_eq!(j["message"]["body"]["eth1_data"]["deposit_count"], "0");
        let graffiti = j["message"]["body"]["graffiti"].as_str().expect("hex");
        assert!(graffiti.starts_with("0xab") && graffiti.len() == 66);
        assert_eq!(j["signature"].as_str().map(str::len), Some(2 + 192));
        assert_eq!(j["message"]["body"]["transfers"], json!([]));
        let h = header_entry(&b.signing_root(), &b, true);
        assert_eq!(h["header"]["message"]["slot"], "7");
        assert_eq!(
            h["header"]["message"]["body_root"],
            root(&b.header().body_root)
        );
        assert_eq!(h["canonical"], true);
    }
}
