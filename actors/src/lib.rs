//! hobbits-actors: the actix actors of a Hobbits node and the plain state they drive.
//!
//! Plain logic (tested without a runtime): [`config`], [`uri`], [`peer_table`], [`rpc_tracker`].
//! `sync/` and `gossip/` are owned by the sync/gossip work and plugged in through the seams listed
//! in `docs/ARCHITECTURE.md`.

pub mod config;
pub mod handshake;
pub mod peer_table;
pub mod rpc_tracker;
pub mod uri;

pub use config::{ConfigError, Limits, NodeConfig, ProducerConfig, Timeouts};
pub use peer_table::{Direction, NodeId, PeerId};
pub use rpc_tracker::RpcError;
pub use uri::{PeerUri, UriError};
