//! `ProducerActor`: a slot timer that asks the `ChainStoreActor` to build a block on the head at
//! the next slot and import it, then hands the block to the gossip hook.
//!
//! Handles nothing but its timer. Sends: `ProduceBlock` (store), `BlockProduced` (hook, try_send).

use std::time::Duration;

use actix::prelude::*;
use hobbits_chain::BlockProducer;
use tracing::{info, warn};

use crate::chain_store::{ChainStoreActor, ProduceBlock};
use crate::events::BlockProduced;

/// The block producer timer.
#[derive(Debug)]
pub struct ProducerActor {
    producer: BlockProducer,
    store: Addr<ChainStoreActor>,
    slot_duration: Duration,
    produced: Option<Recipient<BlockProduced>>,
    busy: bool,
}

impl ProducerActor {
    /// Produces one block every `slot_duration` with `producer`.
    pub fn new(
        producer: BlockProducer,
        store: Addr<ChainStoreActor>,
        slot_duration: Duration,
        produced: Option<Recipient<BlockProduced>>,
    ) -> Self {
        ProducerActor {
            producer,
            store,
            slot_duration,
            produced,
            busy: false,
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return; // the previous slot's import is still running: skip, never queue up
        }
        self.busy = true;
        let fut = self.store.send(ProduceBlock {
            producer: self.producer.clone(),
        });
        ctx.spawn(fut.into_actor(self).map(|res, act, _| {
            act.busy = false;
            match res {
                Ok(Ok((block, outcome))) => {
                    info!(slot = outcome.slot.0, root = %outcome.root, "block produced");
                    if let Some(r) = &act.produced {
                        if r.try_send(BlockProduced { block, outcome }).is_err() {
                            warn!("gossip hook busy: produced block not handed over");
                        }
                    }
                }
                Ok(Err(e)) => warn!(error = %e, "block production failed"),
                Err(e) => warn!(error = %e, "store unavailable"),
            }
        }));
    }
}

impl Actor for ProducerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.slot_duration, |act, ctx| act.tick(ctx));
    }
}
