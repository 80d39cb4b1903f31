//! The reference values of beacon chain spec v0.8.1 SSZ encodings and roots (computed by two
//! independent SSZ libraries; copied here as facts) checked against our containers.

use hobbits_chain::{
    empty_bits, Attestation, AttestationData, BeaconBlock, BeaconBlockBody, BeaconBlockHeader,
    BlsPubkey, Checkpoint, CommitteeBits, Crosslink, Deposit, DepositData, Epoch, Eth1Data,
    HashTreeRoot, Root, Signature, Slot, Transfer, VoluntaryExit,
};
use sha2::{Digest, Sha256};
use ssz::{Decode, Encode};
use ssz_types::typenum::U0;
use ssz_types::{FixedVector, VariableList};

fn b32(x: u8) -> Root {
    Root([x; 32])
}

fn sig(x: u8) -> Signature {
    Signature([x; 96])
}

fn root(hex_str: &str) -> Root {
    hex_str.parse().expect("reference root")
}

fn bits(values: &[bool]) -> CommitteeBits {
    let mut b = CommitteeBits::with_capacity(values.len()).expect("within limit");
    for (i, v) in values.iter().enumerate() {
        b.set(i, *v).expect("in range");
    }
    b
}

fn reference_header() -> BeaconBlockHeader {
    BeaconBlockHeader {
        slot: Slot(1),
        parent_root: b32(1),
        state_root: b32(2),
        body_root: b32(3),
        signature: sig(4),
    }
}

fn reference_attestation() -> Attestation {
    Attestation {
        aggregation_bits: bits(&[true, false, true]),
        data: AttestationData {
            beacon_block_root: b32(0x11),
            source: Checkpoint {
                epoch: Epoch(1),
                root: b32(0x12),
            },
            target: Checkpoint {
                epoch: Epoch(2),
                root: b32(0x13),
            },
            crosslink: Crosslink {
                shard: 3,
                parent_root: b32(0x14),
                start_epoch: Epoch(0),
                end_epoch: Epoch(1),
                data_root: b32(0x15),
            },
        },
        custody_bits: bits(&[false, false, false]),
        signature: sig(0x16),
    }
}

fn reference_body() -> BeaconBlockBody {
    BeaconBlockBody {
        randao_reveal: sig(0x31),
        eth1_data: Eth1Data {
            deposit_root: b32(0x32),
            deposit_count: 7,
            block_hash: b32(0x33),
        },
        graffiti: [0x34; 32],
        attestations: VariableList::new(vec![reference_attestation()]).expect("1 <= 128"),
        deposits: VariableList::new(vec![Deposit {
            proof: FixedVector::new(vec![b32(0x21); 33]).expect("33"),
            data: DepositData {
                pubkey: BlsPubkey([0x22; 48]),
                withdrawal_credentials: b32(0x23),
                amount: 32_000_000_000,
                signature: sig(0x24),
            },
        }])
        .expect("1 <= 16"),
        voluntary_exits: VariableList::new(vec![VoluntaryExit {
            epoch: Epoch(5),
            validator_index: 9,
            signature: sig(0x35),
        }])
        .expect("1 <= 16"),
        ..BeaconBlockBody::default()
    }
}

#[test]
fn header_bytes_and_roots() {
    let h = reference_header();
    let bytes = h.as_ssz_bytes();
    assert_eq!(bytes.len(), 200);
    assert_eq!(BeaconBlockHeader::from_ssz_bytes(&bytes).as_ref(), Ok(&h));
    assert_eq!(
        h.hash_tree_root(),
        root("0x2bfc4a36d57da8c1b68fa260af0f7dbdcf9ae26c54a7853eb2e09d7dd203c457")
    );
    assert_eq!(
        h.signing_root(),
        root("0x63bd2215f1025c75c06562fd16d01c1410a01ceacf6d23f3ca3bf231d93addc8")
    );
}

#[test]
fn empty_body_bytes_and_root() {
    let body = BeaconBlockBody::default();
    let bytes = body.as_ssz_bytes();
    assert_eq!(bytes.len(), 224);
    assert!(bytes[..200].iter().all(|b| *b == 0));
    for offset in bytes[200..].chunks(4) {
        assert_eq!(offset, &[0xe0, 0, 0, 0]);
    }
    assert_eq!(BeaconBlockBody::from_ssz_bytes(&bytes).as_ref(), Ok(&body));
    assert_eq!(
        body.hash_tree_root(),
        root("0x5feb100cf7a46c97068b94536b8340407e02c96ec1306e5f6514d1f28dda12d1")
    );
    let no_transfers: VariableList<Transfer, U0> = VariableList::empty();
    assert_eq!(
        no_transfers.hash_tree_root(),
        root("0xf5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b")
    );
}

#[test]
fn attestation_bytes_and_root() {
    let a = reference_attestation();
    // Copied from the reference vectors (one line of hex).
    let expected = include_str!("../testdata/attestation-v0.8.1.ssz.hex").trim();
    assert_eq!(hex::encode(a.as_ssz_bytes()), expected);
    let decoded = Attestation::from_ssz_bytes(&hex::decode(expected).expect("hex"));
    assert_eq!(decoded.as_ref(), Ok(&a));
    assert_eq!(
        a.hash_tree_root(),
        root("0x1e98bfc05cb1436fde96ea7a9cad082a27d369821c9cb481c75b22f133dc8331")
    );
}

#[test]
fn body_with_content_bytes_and_root() {
    let body = reference_body();
    let bytes = body.as_ssz_bytes();
    assert_eq!(bytes.len(), 1886);
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        "481e136d540d7e31c1f52ee78efd7ec02c0a8937abb317796a73a15171b34b96"
    );
    assert_eq!(BeaconBlockBody::from_ssz_bytes(&bytes).as_ref(), Ok(&body));
    assert_eq!(
        body.hash_tree_root(),
        root("0xb9a158f251eb2979255d527051d1c39f99653c112d1e2165b2d7fbc0fc321a8f")
    );
}

#[test]
fn block_roots() {
    let block = BeaconBlock {
        slot: Slot(9),
        parent_root: b32(0x41),
        state_root: b32(0x42),
        body: reference_body(),
        signature: sig(0x43),
    };
    let htr = root("0x118c8906c87947c836ff42bc11dc99478ae13af1a4ff9f3e6489a4a3738bc295");
    let sr = root("0xccbe333f6d24e6bcbe983d9705d5eb149f46031dc2fdc47c4a126d77dc91720a");
    assert_eq!(block.hash_tree_root(), htr);
    assert_eq!(block.header().hash_tree_root(), htr);
    assert_eq!(block.signing_root(), sr);
    assert_eq!(block.header().signing_root(), sr);
    let roots = block.roots();
    assert_eq!((roots.signing_root, roots.hash_tree_root), (sr, htr));
    let bytes = block.as_ssz_bytes();
    assert_eq!(BeaconBlock::from_ssz_bytes(&bytes).as_ref(), Ok(&block));
}

#[test]
fn truncated_and_corrupt_inputs_are_errors() {
    let bytes = reference_body().as_ssz_bytes();
    for cut in [0, 1, 100, 223, 1000, 1885] {
        assert!(
            BeaconBlockBody::from_ssz_bytes(&bytes[..cut]).is_err(),
            "cut {cut}"
        );
    }
    let mut bad_offset = bytes.clone();
    bad_offset[200] = 0xff;
    assert!(BeaconBlockBody::from_ssz_bytes(&bad_offset).is_err());
    assert!(Attestation::from_ssz_bytes(&[0xff; 3]).is_err());
    assert_eq!(empty_bits().len(), 0);
}
