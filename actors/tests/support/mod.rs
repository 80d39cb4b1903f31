//! Support for the multi-node tests of this directory: every helper of
//! `hobbits_actors::test_support` (`wait_for`, the raw EWP client, nodes with sync and gossip),
//! plus the local test configuration and the reference vectors copied into `tests/data`.
#![allow(
    dead_code,
    unused_imports,
    reason = "each test binary of this directory uses its own subset of the support module"
)]

pub use hobbits_actors::test_support::*;
use hobbits_actors::NodeConfig;

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
