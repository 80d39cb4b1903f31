//! hobbits-actors: a Hobbits (EWP v3) node as actix actors, and only the node.
//!
//! Layers, bottom up (a module only uses modules below it; `tests/layout.rs` checks it):
//! - plain state, tested without a runtime: [`config`] (the node's settings, validated),
//!   [`peer_table`] (ids, connection admission, bans), [`handshake`] (HELLO rules), [`rpc`] and
//!   [`rpc_tracker`] (requests and their matching), [`metrics`] (the prometheus-client registry
//!   sessions count into);
//! - [`events`]: the vocabulary every actor shares: peer and chain events, the one [`Penalty`],
//!   and the [`SessionHandle`] the events carry; [`scoring`] turns penalties into bans;
//! - [`store`]: the chain store actor and [`StoreClient`], the one way to reach it;
//! - the actors: [`peer_session`] (one per connection), [`peer_manager`] (listen, dial, admit,
//!   score, publish peer events), [`producer`] (the slot timer), [`sync`] and [`gossip`] (plain
//!   state machines under thin actors);
//! - [`http`]: the node's HTTP face on actix-web (the Beacon API subset, the events stream,
//!   `/metrics`), reading the actors through the addresses it is given;
//! - [`node`]: [`start_node`], the one function that assembles them, and the [`NodeHandle`] that
//!   reaches every actor; the metrics collector that queries them all at scrape time.
//!
//! With the `test-support` feature, `test_support` has the helpers the workspace's tests share.
//! docs/ARCHITECTURE.md draws the actors and every message between them.

#![warn(missing_docs, unreachable_pub)]

pub mod config;
pub mod events;
pub mod gossip;
pub mod handshake;
pub mod http;
pub mod metrics;
pub mod node;
pub mod peer_manager;
pub mod peer_session;
pub mod peer_table;
pub mod producer;
pub mod rpc;
pub mod rpc_tracker;
pub mod scoring;
pub mod store;
pub mod sync;
#[cfg(feature = "test-support")]
pub mod test_support;

pub use config::{ConfigError, Limits, NodeConfig, ProducerConfig, Scoring, Timeouts};
pub use events::{
    BlockImported, BlockProduced, DisconnectReason, GossipReceived, ImportSource, PeerDisconnected,
    PeerHandshaked, PeerPenalized, Penalty, SessionHandle, SubscribeChainEvents,
};
pub use node::{start_node, NodeError, NodeHandle, NodeParts};
pub use peer_manager::{
    DialPeer, DisconnectPeer, GetPeers, PeerInfo, PeerManager, SendFrameToPeer, SendRpcRequest,
    Shutdown, Subscribe,
};
pub use peer_session::PeerSession;
pub use peer_table::{Direction, NodeId, PeerId};
pub use rpc::{RpcRequest, RpcResponse};
pub use rpc_tracker::RpcError;
pub use store::{ChainStoreActor, StoreClient, StoreError};
