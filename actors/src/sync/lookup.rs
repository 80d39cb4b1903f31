//! Parent lookup, the part of [`SyncMachine`] that resolves an orphan block from gossip: asking its
//! sender for the missing parent by root, importing the chain fetched so far, going further back up
//! to `max_lookup_depth`, or handing a far-ahead sender over to range sync. Handles no messages
//! itself; returns [`SyncAction`]s.
//!
//! Parent lookup: an orphan block from gossip whose slot is close to our head asks its sender for
//! the missing parent by root (GET_BLOCK_BODIES, `start_root` = parent, max 1), then tries to import
//! the chain fetched so far, going one parent further back each time the store still misses one, up
//! to `max_lookup_depth`. An orphan far ahead of our head means its sender is ahead: it raises that
//! peer's known best slot, which starts (or extends) a range sync instead.

use hobbits_chain::rpc::{BlockBodies, GetBlockBodies};
use hobbits_chain::{BeaconBlock, Root, Slot};

use crate::peer_table::PeerId;
use crate::rpc::RpcRequest;

use super::machine::{Pending, SyncMachine};
use super::types::{ImportResult, LookupId, SyncAction, SyncRequestId};

#[derive(Debug)]
pub(super) struct Lookup {
    pub(super) peer: PeerId,
    /// Oldest first; the orphan last.
    pub(super) chain: Vec<BeaconBlock>,
    pub(super) missing: Root,
    pub(super) request: Option<SyncRequestId>,
}

impl SyncMachine {
    /// An orphan block arrived by gossip from `peer` (its parent is unknown to the store).
    pub fn on_orphan_block(&mut self, peer: PeerId, block: BeaconBlock) -> Vec<SyncAction> {
        let far = block.slot.0
            > self
                .local
                .head_slot
                .0
                .saturating_add(self.config.max_lookup_depth as u64);
        if far {
            // The sender has this block, so its chain is at least that long: range sync.
            self.raise_best_slot(peer, block.slot);
        }
        let covered = self.range.as_ref().is_some_and(|r| block.slot <= r.target);
        let known = self
            .lookups
            .values()
            .any(|l| l.missing == block.parent_root || l.chain.iter().any(|b| b == &block));
        if far || covered || known {
            return self.drive();
        }
        if self.lookups.len() >= self.config.max_lookups {
            self.stats.lookups_failed += 1;
            return self.drive();
        }
        let id = LookupId(self.take_id());
        self.stats.lookups_started += 1;
        self.lookups.insert(
            id,
            Lookup {
                peer,
                missing: block.parent_root,
                chain: vec![block],
                request: None,
            },
        );
        let mut out = Vec::new();
        self.request_parent(id, &mut out);
        out.extend(self.drive());
        out
    }

    /// The result of a [`SyncAction::ImportLookup`].
    pub fn on_lookup_imported(
        &mut self,
        lookup: LookupId,
        result: ImportResult,
    ) -> Vec<SyncAction> {
        let mut out = Vec::new();
        match result {
            ImportResult::Imported { head_slot } => {
                if self.lookups.remove(&lookup).is_some() {
                    self.stats.lookups_completed += 1;
                }
                if head_slot > self.local.head_slot {
                    self.local.head_slot = head_slot;
                }
            }
            ImportResult::MissingParent { parent_root } => {
                let depth_left = match self.lookups.get_mut(&lookup) {
                    Some(l) if l.chain.len() < self.config.max_lookup_depth + 1 => {
                        l.missing = parent_root;
                        true
                    }
                    Some(_) => false,
                    None => return Vec::new(),
                };
                if depth_left {
                    self.request_parent(lookup, &mut out);
                } else {
                    self.lookup_failed(lookup);
                }
            }
            ImportResult::Failed { .. } => self.lookup_failed(lookup),
        }
        out.extend(self.drive());
        out
    }

    pub(super) fn request_parent(&mut self, lookup: LookupId, out: &mut Vec<SyncAction>) {
        let Some(l) = self.lookups.get(&lookup) else {
            return;
        };
        let (peer, missing) = (l.peer, l.missing);
        let request = RpcRequest::BlockBodies(GetBlockBodies {
            start_root: missing,
            start_slot: Slot(0),
            max: 1,
            skip: 0,
            direction: 1,
        });
        let action = self.send(peer, Pending::Lookup(lookup), request);
        if let SyncAction::SendRequest { id, .. } = &action {
            if let Some(l) = self.lookups.get_mut(&lookup) {
                l.request = Some(*id);
            }
        }
        out.push(action);
    }

    pub(super) fn on_lookup_bodies(
        &mut self,
        lookup: LookupId,
        id: SyncRequestId,
        bodies: BlockBodies,
        out: &mut Vec<SyncAction>,
    ) {
        let Some(l) = self.lookups.get_mut(&lookup) else {
            return;
        };
        if l.request != Some(id) {
            return;
        }
        l.request = None;
        // The peer may not have it (a store answers an unknown root from slot 0): no penalty.
        match bodies.bodies.first() {
            Some(b) if b.signing_root() == l.missing => {
                l.chain.insert(0, b.clone());
                out.push(SyncAction::ImportLookup {
                    lookup,
                    blocks: l.chain.clone(),
                });
            }
            _ => self.lookup_failed(lookup),
        }
    }

    pub(super) fn lookup_failed(&mut self, lookup: LookupId) {
        if let Some(l) = self.lookups.remove(&lookup) {
            self.stats.lookups_failed += 1;
            // Too deep or not served by root: the sender's chain is still worth a range sync.
            if let Some(orphan) = l.chain.last() {
                self.raise_best_slot(l.peer, orphan.slot);
            }
        }
    }
}
