//! The beacon chain v0.8.1 types: primitive newtypes, block/attestation containers and the state.
//! Re-exported at the crate root. No messages are handled or sent here.

mod containers;
mod merkle;
mod primitives;
mod roots;
mod state;

pub use containers::*;
pub use primitives::*;
pub use state::*;
