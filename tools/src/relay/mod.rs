//! `hobbits-node relay`: a man-in-the-middle for EWP v3 traffic, or for the ETH raw-TCP dialect
//! when the upstream is `eth+tcp://`, that forwards bytes unchanged between clients and one
//! upstream (`--to`), decodes a copy, prints each frame and flags how the traffic departs from the
//! spec (2019 BSON shapes, integer and hash types, unmatched or missing responses, unanswered
//! pings, bad message hashes, versions, lengths; for ETH: ids, counts, codes, roots order).
//!
//! Layout: [`deviation`] (codes), [`shape`] (BSON type checks), [`analysis`] (the plain,
//! runtime-free state machine over one connection pair; [`eth`] the same for the ETH dialect
//! and [`DialectAnalyzer`], which of the two a pair runs; its per-protocol frame checks in
//! `protocols.rs`, payload summaries in `fields.rs`), [`record`] (events and frame records),
//! [`summary`] (counts at exit), [`config`], and [`proxy`] (the tokio side: [`Relay::start`] →
//! [`RelayHandle`]). The relay is a tool, not part of a node, so it uses plain tokio tasks rather
//! than actors.

pub mod analysis;
pub mod config;
pub mod deviation;
pub mod eth;
mod fields;
mod protocols;
pub mod proxy;
pub mod record;
pub mod shape;
pub mod summary;

pub use analysis::{AnalyzerSettings, PairAnalyzer};
pub use config::RelayDialect;
pub use config::{RelayConfig, RelayError};
pub use deviation::{Deviation, DeviationCode};
pub use eth::{DialectAnalyzer, EthPairAnalyzer};
pub use proxy::{Relay, RelayHandle};
pub use record::{
    ConnectionId, FieldValue, FrameMessage, RelayDirection, RelayEvent, RelayedFrame, RpcRole,
    Unanswered, WireProtocol,
};
pub use summary::RelaySummary;

#[cfg(test)]
mod analysis_tests;
#[cfg(test)]
mod eth_tests;
