//! Store fault containment: every write the [`ChainStoreActor`] makes goes through
//! [`ChainStoreActor::write`], which runs it under `catch_unwind` and turns a panic, or a storage
//! failure (`ChainError::Storage`: an I/O error, a full disk, a read-only file), into a
//! [`StoreFault`]. After the first fault the store imports nothing more (every write answers
//! `ChainError::Storage` naming the fault) and keeps serving reads from what it has; the fault is
//! logged at error once and published on a `watch` channel ([`ChainStoreActor::fault_watch`],
//! `NodeHandle::store_faults`) so the binary can shut down cleanly with a clear message. Queried
//! with [`GetStoreFault`]. Handles that query; sends nothing.
//!
//! A persistent store writes a block in one transaction before it changes its memory index, so
//! a fault leaves the file holding exactly the commits made before it (docs/PROTOCOL.md,
//! "Persistence": "Store faults").

use std::panic::{self, AssertUnwindSafe};

use actix::prelude::*;
use hobbits_chain::{ChainError, ChainStore};
use tokio::sync::watch;
use tracing::error;

use super::ChainStoreActor;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The store reported a storage failure (I/O error, disk full, read-only file).
    Storage,
    /// The store panicked.
    Panic,
}

/// The first fault of the store: importing stopped there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chain store {kind:?} fault while {operation}: {reason}")]
pub struct StoreFault {
    /// Storage failure or panic.
    pub kind: FaultKind,
    /// What the store was doing (`"importing a block"`, ...).
    pub operation: &'static str,
    /// The error, or the panic message.
    pub reason: String,
}

/// Query: the store's fault, if it had one.
#[derive(Debug, Message)]
#[rtype(result = "Option<StoreFault>")]
pub struct GetStoreFault;

impl Handler<GetStoreFault> for ChainStoreActor {
    type Result = Option<StoreFault>;
    fn handle(&mut self, _: GetStoreFault, _: &mut Context<Self>) -> Self::Result {
        self.faults.fault.clone()
    }
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}

/// The fault state of a store actor and its watch channel.
#[derive(Debug)]
pub(super) struct FaultState {
    pub(super) fault: Option<StoreFault>,
    tx: watch::Sender<Option<StoreFault>>,
}

impl FaultState {
    pub(super) fn new() -> Self {
        FaultState {
            fault: None,
            tx: watch::channel(None).0,
        }
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<Option<StoreFault>> {
        self.tx.subscribe()
    }

    fn record(&mut self, fault: StoreFault) {
        error!(
            kind = ?fault.kind,
            operation = fault.operation,
            reason = %fault.reason,
            "chain store fault: importing stopped; the node serves what it has (restart after \
             fixing the disk: the store reopens with every block committed before the fault)"
        );
        self.fault = Some(fault.clone());
        self.tx.send_replace(Some(fault));
    }
}

impl ChainStoreActor {
    /// A receiver of the store's fault (None until one happens); take it before starting.
    pub fn fault_watch(&self) -> watch::Receiver<Option<StoreFault>> {
        self.faults.subscribe()
    }

    /// Runs a write on the store, contained: refused after an earlier fault; a panic or a
    /// storage failure becomes the store's fault.
    pub(super) fn write<T>(
        &mut self,
        operation: &'static str,
        f: impl FnOnce(&mut dyn ChainStore) -> Result<T, ChainError>,
    ) -> Result<T, ChainError> {
        if let Some(fault) = &self.faults.fault {
            return Err(ChainError::Storage {
                reason: format!("importing stopped after an earlier fault ({fault})"),
            });
        }
        let store = self.store.as_mut();
        let outcome = panic::catch_unwind(AssertUnwindSafe(move || f(store)));
        let (kind, reason) = match outcome {
            Ok(Err(ChainError::Storage { reason })) => (FaultKind::Storage, reason),
            Ok(other) => return other,
            Err(payload) => (FaultKind::Panic, panic_message(payload.as_ref())),
        };
        let fault = StoreFault {
            kind,
            operation,
            reason,
        };
        let err = ChainError::Storage {
            reason: fault.to_string(),
        };
        self.faults.record(fault);
        Err(err)
    }
}
