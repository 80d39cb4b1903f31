//! Helpers for tests of this crate and of the crates built on it (tools, testnet, the binary's
//! examples): compiled only with the `test-support` feature, which only dev-dependencies turn on.
//!
//! - [`wait_for`]: poll a condition until it holds, failing the test after a deadline (never
//!   sleep-then-assert);
//! - [`raw`]: a raw EWP client on any 127.0.0.0/8 source address and frame builders;
//! - [`net`]: nodes with sync and gossip on 127.0.0.1 port 0, seeded chains and topologies;
//! - [`http`]: a tiny HTTP/1.1 client and event-stream reader over loopback;
//! - [`prom`]: a reader of the Prometheus text format.
//!
//! Handles and sends no messages of its own; the node helpers send the node's ordinary commands
//! and queries.

use std::future::Future;
use std::time::{Duration, Instant};

pub mod http;
pub mod net;
pub mod prom;
pub mod raw;

pub use net::{chain, node_config, random_topology, seed_blocks, start, start_topology, TestNode};
pub use raw::{genesis_hello, rpc_frame, start_node_dialing_raw_peer, RawClient};

/// Default deadline for conditions in tests.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Polls `cond` every 10 ms until it returns `Some`, or fails the test (panics naming `what`)
/// after `deadline`.
pub async fn wait_for<T, F, Fut>(what: &str, deadline: Duration, mut cond: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = cond().await {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
