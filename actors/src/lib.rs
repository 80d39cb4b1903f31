//! hobbits-actors: the actix actors of a Hobbits node and the plain state they drive.
//!
//! Plain logic (tested without a runtime): [`config`], [`peer_table`], [`rpc_tracker`],
//! [`handshake`], [`scoring`]. Actors: [`peer_session`] (one per connection), [`peer_manager`],
//! [`chain_store`]; [`node`] wires them. `sync/` and `gossip/` are owned by the sync/gossip work and
//! plugged in through the seams listed in `docs/ARCHITECTURE.md`.

pub mod chain_store;
pub mod config;
pub mod events;
pub mod gossip;
pub mod handshake;
pub mod metrics;
pub mod node;
pub mod peer_manager;
pub mod peer_session;
pub mod peer_table;
pub mod producer;
pub mod rpc;
pub mod rpc_tracker;
pub mod scoring;
pub mod sync;
#[cfg(feature = "test-support")]
pub mod test_support;

pub use chain_store::ChainStoreActor;
pub use config::{ConfigError, Limits, NodeConfig, ProducerConfig, Scoring, Timeouts};
pub use events::{
    BlockProduced, DisconnectReason, GossipReceived, PeerDisconnected, PeerHandshaked,
};
pub use node::{start_memory_node, start_node, NodeError, NodeHandle, NodeHooks};
pub use peer_manager::{
    DialPeer, DisconnectPeer, GetPeers, PeerInfo, PeerManager, SendFrameToPeer, SendRpcRequest,
    Shutdown, Subscribe,
};
pub use peer_session::{PeerSession, SessionHandle};
pub use peer_table::{Direction, NodeId, PeerId};
pub use rpc::{RpcRequest, RpcResponse};
pub use rpc_tracker::RpcError;
