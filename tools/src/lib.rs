//! hobbits-tools: instruments for checking any Hobbits (EWP v3) implementation from the outside,
//! built on the codec and the chain types with plain tokio (no actors, no node):
//!
//! - [`relay`]: a man-in-the-middle that forwards bytes unchanged, decodes a copy of every frame
//!   and flags how the traffic departs from the spec;
//! - [`conformance`]: a client that connects to a peer and checks what it answers, one check per
//!   behaviour;
//! - [`probe`]: one-shot PING and HELLO + GET_STATUS clients (`hobbits-node ping`, `status`);
//! - [`beacon_api`]: a small client of a node's Beacon API over HTTP (`status http://…`, the
//!   process testnet engine).

#![warn(missing_docs, unreachable_pub)]

pub mod beacon_api;
pub mod conformance;
pub mod probe;
pub mod relay;
