//! Writes the seed corpora to `fuzz/seeds/<target>/` (or the directory given as the first
//! argument): the shared frame vectors (`codec/testdata/frames.tsv`), envelopes of every RPC
//! method, gossip of a block and an attestation, SSZ of every payload and chain object (the
//! reference attestation of `chain/testdata`), and snapshots of a small chain. Each seed is
//! prefixed with the selector bytes its target reads (see `hobbits_fuzz`). Handles no messages.
//!
//! Run: `cd fuzz && cargo run --example gen_seeds` (deterministic: same files every time).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use hobbits_chain::rpc::{
    AttestationResponse, BeaconStates, BlockBodies, BlockHeaders, GetAttestation, GetBeaconStates,
    GetBlockBodies, GetBlockHeaders, GetStatus, Goodbye, Hello,
};
use hobbits_chain::{
    Attestation, BeaconState, BlockProducer, ChainRead, ChainStore, Epoch, GenesisConfig, Root,
    Slot, Snapshot, StoreConfig,
};
use hobbits_codec::{
    Envelope, Frame, FrameLimits, GossipEnvelope, PingFrame, RequestId, RpcEnvelope, RpcPayload,
    Topic,
};
use ssz::{Decode, Encode};
use ssz_types::VariableList;

const FRAMES_TSV: &str = include_str!("../../codec/testdata/frames.tsv");
const ATTESTATION_HEX: &str = include_str!("../../chain/testdata/attestation-v0.8.1.ssz.hex");

struct Seeds {
    root: PathBuf,
    count: usize,
}

impl Seeds {
    fn write(&mut self, target: &str, name: &str, prefix: &[u8], bytes: &[u8]) {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("create seed dir");
        let mut data = prefix.to_vec();
        data.extend_from_slice(bytes);
        std::fs::write(dir.join(name), data).expect("write seed");
        self.count += 1;
    }
}

/// (name, bytes) of every vector of frames.tsv.
fn vectors() -> Vec<(String, Vec<u8>)> {
    FRAMES_TSV
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split('\t');
            let name = cols.next()?.to_string();
            let bytes = hex::decode(cols.nth(1)?).ok()?;
            Some((name, bytes))
        })
        .collect()
}

/// A `bson_envelope` seed: selector (protocol), header length, header, body.
fn envelope_seed(seeds: &mut Seeds, name: &str, frame: &Frame) {
    let selector = frame.protocol.as_byte();
    let len = u16::try_from(frame.header.len()).unwrap_or(u16::MAX);
    let mut prefix = vec![selector];
    prefix.extend_from_slice(&len.to_be_bytes());
    let mut bytes = frame.header.to_vec();
    bytes.extend_from_slice(&frame.body);
    seeds.write("bson_envelope", name, &prefix, &bytes);
    session_seeds(seeds, name, frame);
}

/// `peer_session` seeds of a frame (when small): after our HELLO, as one read (mode 1, op 0xC0:
/// the rest as one read); and split in 5-byte reads with a `Pending` between them (op 0x04: 5
/// bytes, op 0x40: Pending).
fn session_seeds(seeds: &mut Seeds, name: &str, frame: &Frame) {
    let Ok(wire) = frame.to_bytes() else {
        return;
    };
    if wire.len() > 4096 {
        return;
    }
    seeds.write("peer_session", name, &[1, 0xC0], &wire);
    let mut split = Vec::new();
    for chunk in wire.chunks(5) {
        split.push(0x04);
        split.extend_from_slice(chunk);
        split.push(0x40);
    }
    seeds.write("peer_session", &format!("{name}.split"), &[1], &split);
}

fn frame_seeds(seeds: &mut Seeds) {
    let vectors = vectors();
    let lenient = FrameLimits {
        accept_any_version: true,
        accept_text_framing: true,
        ..FrameLimits::default()
    };
    for (name, bytes) in &vectors {
        // Default limits, one chunk; lenient limits split after the 3rd and the 20th byte.
        seeds.write("frame_decode", name, &[0, 0], bytes);
        seeds.write(
            "frame_decode",
            &format!("{name}.split"),
            &[3, 2, 3, 17],
            bytes,
        );
        match Frame::parse(bytes, lenient) {
            Ok(frame) => envelope_seed(seeds, name, &frame),
            // Rows that are BSON documents rather than frames: an RPC and a GOSSIP header seed.
            Err(_) if bytes.len() > 4 && bytes[..3] != *b"EWP" => {
                let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
                let [hi, lo] = len.to_be_bytes();
                seeds.write("bson_envelope", &format!("{name}.rpc"), &[0, hi, lo], bytes);
                seeds.write(
                    "bson_envelope",
                    &format!("{name}.gossip"),
                    &[1, hi, lo],
                    bytes,
                );
            }
            Err(_) => {}
        }
    }
    // A stream of three frames split byte-wise at several points.
    let stream: Vec<u8> = ["go_rpc", "tuweni_ping", "empty_rpc"]
        .iter()
        .filter_map(|n| vectors.iter().find(|(name, _)| name == n))
        .flat_map(|(_, b)| b.clone())
        .collect();
    seeds.write("frame_decode", "stream3", &[0, 5, 1, 15, 0, 40, 2], &stream);
    seeds.write("frame_decode", "stream3.small", &[4, 0], &stream);
}

fn sample_chain() -> (hobbits_chain::MemoryStore, Attestation) {
    let config = GenesisConfig::new(7, 1, Duration::from_secs(1_563_500_000), None)
        .expect("valid genesis config");
    let mut store = config
        .memory_store(StoreConfig::default())
        .expect("genesis store");
    let producer = BlockProducer::new("fuzz-seed", 3);
    for slot in [1u64, 2, 4, 5] {
        let block = producer
            .produce_on_head(&store, Slot(slot))
            .expect("block on head");
        store.import_block(block).expect("import");
    }
    let attestation = producer.attest(&store, store.head());
    (store, attestation)
}

fn payload_seeds(seeds: &mut Seeds) {
    let (store, produced) = sample_chain();
    let blocks = store.blocks_in_slot_order(Slot(u64::MAX));
    let reference =
        Attestation::from_ssz_bytes(&hex::decode(ATTESTATION_HEX.trim()).expect("attestation hex"))
            .expect("reference attestation");
    let head = store.head();
    let request = GetBlockHeaders {
        start_root: head.root,
        start_slot: Slot(1),
        max: 10,
        skip: 1,
        direction: 1,
    };
    let state = BeaconState {
        genesis_time: 1_563_500_000,
        slot: Slot(5),
        ..BeaconState::default()
    };
    let payloads = [
        RpcPayload::Hello(Hello {
            network_id: 7,
            chain_id: 1,
            latest_finalized_root: store.genesis_root(),
            latest_finalized_epoch: Epoch(0),
            best_root: head.root,
            best_slot: head.slot,
        }),
        RpcPayload::Goodbye(Goodbye { reason: 2 }),
        RpcPayload::GetStatus(GetStatus::new("hobbits-node/fuzz", 1_563_500_000_000)),
        RpcPayload::GetBlockHeaders(request.clone()),
        RpcPayload::BlockHeaders(BlockHeaders {
            headers: VariableList::new(blocks.iter().map(|b| b.header()).collect())
                .expect("few headers"),
        }),
        RpcPayload::GetBlockBodies(GetBlockBodies::from(request)),
        RpcPayload::BlockBodies(BlockBodies {
            bodies: VariableList::new(blocks.iter().take(3).cloned().collect())
                .expect("few blocks"),
        }),
        RpcPayload::GetAttestation(GetAttestation {
            hash: reference.hash_tree_root(),
        }),
        RpcPayload::Attestation(AttestationResponse {
            attestation: reference.clone(),
        }),
        RpcPayload::GetBeaconStates(GetBeaconStates {
            hashes: VariableList::new(vec![state.hash_tree_root(), Root([9; 32])])
                .expect("two hashes"),
        }),
        RpcPayload::BeaconStates(BeaconStates {
            states: VariableList::new(vec![state.clone()]).expect("one state"),
        }),
    ];
    for (selector, payload) in payloads.iter().enumerate() {
        let name = payload.method().name().to_ascii_lowercase();
        let ssz = payload.to_ssz();
        seeds.write("ssz_payload", &name, &[selector as u8], &ssz);
        let env = RpcEnvelope::new(RequestId(selector as u64 + 1), payload);
        let frame = env.to_frame().expect("spec-shaped frame");
        envelope_seed(seeds, &format!("rpc_{name}"), &frame);
        // The same frame as a whole-stream seed of the frame layer.
        let wire = frame.to_bytes().expect("wire bytes");
        if wire.len() < 4096 {
            seeds.write("frame_decode", &format!("rpc_{name}"), &[0, 0], &wire);
        }
    }
    let block = blocks.last().expect("head block").clone();
    seeds.write("ssz_payload", "beacon_block", &[11], &block.as_ssz_bytes());
    seeds.write(
        "ssz_payload",
        "attestation_reference",
        &[12],
        &reference.as_ssz_bytes(),
    );
    seeds.write(
        "ssz_payload",
        "attestation_produced",
        &[12],
        &produced.as_ssz_bytes(),
    );
    seeds.write(
        "ssz_payload",
        "beacon_block_header",
        &[13],
        &block.header().as_ssz_bytes(),
    );
    seeds.write("ssz_payload", "beacon_state", &[14], &state.as_ssz_bytes());

    let gossip = [
        (
            "gossip_block",
            GossipEnvelope::new(
                Topic::Block,
                block.hash_tree_root(),
                Bytes::from(block.as_ssz_bytes()),
                1_563_500_000_000,
            ),
        ),
        (
            "gossip_attestation",
            GossipEnvelope::new(
                Topic::Attestation,
                produced.hash_tree_root(),
                Bytes::from(produced.as_ssz_bytes()),
                1_563_500_000_001,
            ),
        ),
    ];
    for (name, env) in gossip {
        let frame = Envelope::Gossip(env).to_frame().expect("gossip frame");
        envelope_seed(seeds, name, &frame);
    }
    let ping = PingFrame::ping(Bytes::from_static(b"0123456789abcdef")).to_frame();
    envelope_seed(seeds, "ping16", &ping);

    let snapshot = Snapshot::from_store(&store, None).encode();
    seeds.write("snapshot_decode", "chain5", &[0], &snapshot);
    // The content alone (after magic + version, before the checksum): mode 1 adds them back.
    seeds.write(
        "snapshot_decode",
        "chain5.content",
        &[1],
        &snapshot[12..snapshot.len() - 32],
    );
    let genesis_only = Snapshot::from_store(&store, Some(Slot(0))).encode();
    seeds.write(
        "snapshot_decode",
        "genesis.content",
        &[1],
        &genesis_only[12..genesis_only.len() - 32],
    );
}

fn main() {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"));
    let mut seeds = Seeds { root, count: 0 };
    frame_seeds(&mut seeds);
    payload_seeds(&mut seeds);
    println!("wrote {} seeds under {}", seeds.count, seeds.root.display());
}
