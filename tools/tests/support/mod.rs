//! Support for the tool tests of this directory: every helper of `hobbits_actors::test_support`
//! (`wait_for`, the raw EWP client, nodes with sync and gossip to point the tools at), plus a
//! relay in front of a node (`start_relay`) and closing it with its log (`shut_down_relay`), and
//! the fake peers of the conformance tests ([`fake_peers`]: echo, replay, wrong in every method;
//! [`eth_fakes`]: the same for the ETH dialect).
#![allow(
    dead_code,
    unused_imports,
    reason = "each test binary of this directory uses its own subset of the support module"
)]

pub mod eth_fakes;
pub mod fake_peers;

use std::net::SocketAddr;

pub use hobbits_actors::test_support::*;
use hobbits_codec::PeerUri;
use hobbits_tools::relay::{Relay, RelayConfig, RelayHandle, RelaySummary};

/// Starts a relay on 127.0.0.1 (port 0) in front of `upstream`; `tune` adjusts its config first.
pub async fn start_relay(upstream: SocketAddr, tune: impl FnOnce(&mut RelayConfig)) -> RelayHandle {
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let mut config = RelayConfig::new(listen, PeerUri::from_socket_addr(upstream));
    tune(&mut config);
    Relay::start(config).await.expect("relay starts")
}

/// Shuts the relay down and returns its summary and its event log (one line per event, also
/// printed for the test output).
pub async fn shut_down_relay(relay: &mut RelayHandle) -> (RelaySummary, Vec<String>) {
    let summary = relay.shutdown().await;
    let mut log = Vec::new();
    while let Some(e) = relay.try_next_event() {
        log.push(e.to_string());
    }
    println!("{}", log.join("\n"));
    (summary, log)
}
