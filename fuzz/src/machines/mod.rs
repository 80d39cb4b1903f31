//! The `state_machines` target: `Arbitrary`-driven event sequences fed to the node's plain state
//! machines, the way their actors feed them, with invariants checked after every step. Handles
//! and sends no messages (no runtime, no socket: the machines are plain structs).
//!
//! The input decodes (with the `arbitrary` crate) into one [`Scenario`]: a configuration and a
//! list of events for one machine.
//! - [`sync`]: `SyncMachine` (range sync and parent lookups) against peers serving real chains
//!   (honestly or not), with responses good, bad, late, repeated or failed, imports that succeed
//!   or fail, orphans, disconnects;
//! - [`router`]: `GossipRouter` with full messages, announcements, lying frames, duplicates,
//!   imports and fetches ending every way, sends refused by full queues, time passing;
//! - [`overlay`]: the gossip `Overlay` with peers of every kind, objects, validations, PRUNE /
//!   GRAFT / IHAVE / IWANT from peers, ticks.
//!
//! Every harness panics (a finding) when an invariant breaks; the invariants are listed in each
//! module and in docs/FUZZING.md.

use arbitrary::{Arbitrary, Unstructured};

mod fixtures;
pub mod overlay;
pub mod router;
pub mod sync;

/// One fuzz input: which machine, its configuration and its events.
#[derive(Debug, Arbitrary)]
pub enum Scenario {
    /// The sync machine.
    Sync(sync::Script),
    /// The gossip router.
    Router(router::Script),
    /// The gossip overlay.
    Overlay(overlay::Script),
}

/// Decodes `data` into a [`Scenario`] and runs it (inputs that do not decode are skipped).
pub fn check(data: &[u8]) {
    let Ok(scenario) = Scenario::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    run(scenario);
}

/// Runs one scenario, checking the invariants after every event.
pub fn run(scenario: Scenario) {
    match scenario {
        Scenario::Sync(s) => sync::run(s),
        Scenario::Router(s) => router::run(s),
        Scenario::Overlay(s) => overlay::run(s),
    }
}

/// Connections open at once in a harness.
pub const MAX_PEERS: usize = 6;

/// The connections a harness plays. Each gets a fresh id, as in the node (a `PeerId` names one
/// connection and is never reused); events name a connected peer by an index taken modulo the
/// number connected.
#[derive(Debug, Default)]
pub(crate) struct Peers {
    live: Vec<u64>,
    next: u64,
}

impl Peers {
    /// A new connection (None when [`MAX_PEERS`] are connected).
    pub(crate) fn connect(&mut self) -> Option<u64> {
        if self.live.len() >= MAX_PEERS {
            return None;
        }
        self.next += 1;
        self.live.push(self.next);
        Some(self.next)
    }

    /// The connected peer `n` names.
    pub(crate) fn pick(&self, n: u8) -> Option<u64> {
        (!self.live.is_empty()).then(|| self.live[usize::from(n) % self.live.len()])
    }

    /// Disconnects the peer `n` names.
    pub(crate) fn disconnect(&mut self, n: u8) -> Option<u64> {
        let id = self.pick(n)?;
        self.live.retain(|p| *p != id);
        Some(id)
    }

    /// True while `id` is connected.
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.live.contains(&id)
    }

    /// Connected peers.
    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }
}
