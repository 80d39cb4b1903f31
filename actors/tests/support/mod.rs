//! Support for the multi-node tests of this directory: every helper of
//! `hobbits_actors::test_support` (`wait_for`, the raw EWP client, nodes with sync and gossip),
//! plus the local test configuration and the reference vectors copied into `tests/data`.
#![allow(
    dead_code,
    unused_imports,
    reason = "each test binary of this directory uses its own subset of the support module"
)]

use bytes::BytesMut;
pub use hobbits_actors::test_support::*;
use hobbits_actors::{NodeConfig, NodeHandle};
use hobbits_codec::rpc::{RequestId, RpcEnvelope, RpcMethod, RpcPayload};
use hobbits_codec::{Frame, FrameCodec};
use tokio_util::codec::Encoder;

/// A local test node configuration.
pub fn config() -> NodeConfig {
    NodeConfig::local_test()
}

/// A reference vector by name (copied from the shared vectors into tests/data).
pub fn vector(name: &str) -> Vec<u8> {
    let data = include_str!("../data/frames.tsv");
    let line = data
        .lines()
        .find(|l| l.split('\t').next() == Some(name))
        .unwrap_or_else(|| panic!("vector {name} missing"));
    let hex_field = line.split('\t').nth(2).expect("hex column");
    hex::decode(hex_field).expect("hex")
}

/// `frames` encoded back to back, as one write.
pub fn encode_all(frames: impl IntoIterator<Item = Frame>) -> BytesMut {
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::new();
    for f in frames {
        codec.encode(f, &mut buf).expect("encode");
    }
    buf
}

/// HELLO with a `node_id` header, as our nodes send it (bans by node id need one); the node's
/// HELLO in reply, if it came within `DEADLINE`.
pub async fn hello_as(raw: &mut RawClient, node: &NodeHandle, node_id: i64) -> Option<RpcEnvelope> {
    let mut env = RpcEnvelope::new(
        RequestId(1),
        &RpcPayload::Hello(genesis_hello(1, node.genesis_root)),
    );
    env.header
        .extra
        .insert("node_id", bson::Bson::Int64(node_id));
    raw.send(env.to_frame().expect("frame")).await;
    raw.next_rpc(RpcMethod::Hello, DEADLINE).await
}
