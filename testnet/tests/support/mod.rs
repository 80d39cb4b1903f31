//! Support for the testnet tests of this directory: every helper of
//! `hobbits_actors::test_support` (`wait_for`, the raw EWP client, nodes with sync and gossip).
#![allow(
    unused_imports,
    dead_code,
    reason = "each test binary of this directory uses its own subset of the support module"
)]

pub use hobbits_actors::test_support::*;

pub mod netns;
