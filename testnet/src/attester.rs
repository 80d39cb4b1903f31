//! [`Attester`]: a testnet node's validator stand-in. On every live head change (a block produced
//! here or received by gossip; not range sync or parent lookups, so a catching-up node does not
//! flood stale votes) it builds an attestation to the new head with the chain crate's
//! `BlockProducer::attest` and hands it to the node's gossip actor, so the testnet measures
//! attestation propagation too. Handles `BlockImported`; sends `BuildAttestation` (store) and
//! `PublishAttestation` (gossip).

use actix::prelude::*;
use hobbits_actors::gossip::PublishAttestation;
use hobbits_actors::{BlockImported, ImportSource, StoreClient};
use hobbits_chain::{BlockProducer, HashTreeRoot, Slot};

use crate::node_log::Attested;

/// The attester of one node.
#[derive(Debug)]
pub struct Attester {
    producer: BlockProducer,
    store: StoreClient,
    gossip: Recipient<PublishAttestation>,
    last_slot: Option<Slot>,
    log: Option<Recipient<Attested>>,
}

impl Attester {
    /// Attests as validator `index` through `gossip`, reading the store for the vote's checkpoints.
    pub fn new(index: u64, store: StoreClient, gossip: Recipient<PublishAttestation>) -> Self {
        Attester {
            producer: BlockProducer::new(&format!("testnet validator {index}"), index),
            store,
            gossip,
            last_slot: None,
            log: None,
        }
    }

    /// Also tells `log` of every attestation it publishes (the node's event log).
    pub fn with_log(mut self, log: Recipient<Attested>) -> Self {
        self.log = Some(log);
        self
    }
}

impl Actor for Attester {
    type Context = Context<Self>;
}

impl Handler<BlockImported> for Attester {
    type Result = ();
    fn handle(&mut self, msg: BlockImported, _: &mut Context<Self>) {
        if !matches!(msg.source, ImportSource::Produced | ImportSource::Gossip) {
            return;
        }
        let Some(head) = msg.new_head() else { return };
        if self.last_slot.is_some_and(|s| s >= head.slot) {
            return; // one vote per slot
        }
        self.last_slot = Some(head.slot);
        let gossip = self.gossip.clone();
        let log = self.log.clone();
        let attestation = self.store.build_attestation(self.producer.clone(), head);
        actix::spawn(async move {
            if let Ok(attestation) = attestation.await {
                if let Some(log) = log {
                    log.do_send(Attested {
                        hash: HashTreeRoot::hash_tree_root(&attestation),
                        slot: head.slot.0,
                        root: head.root,
                    });
                }
                gossip.do_send(PublishAttestation { attestation });
            }
        });
    }
}
