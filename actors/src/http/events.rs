//! The events stream (`GET /eth/v1/events?topics=…`, server-sent events): [`EventHub`], an actor
//! on the node's system that receives every [`BlockImported`] (subscribed to sync and gossip) and
//! turns it, in import order, into the Beacon API's `block`, `head` and `finalized_checkpoint`
//! events on a bounded broadcast channel; each open stream reads the channel, keeps the topics it
//! asked for and writes them as `event:`/`data:` lines. A stream that falls more than
//! `HttpConfig::event_buffer` events behind is closed (the client reconnects), so a slow reader
//! never holds the node back. Handles `BlockImported`; sends `GetBlock` (store) for state roots.

use actix::prelude::*;
use bytes::Bytes;
use hobbits_chain::{Root, Slot};
use serde_json::json;
use tokio::sync::broadcast;

use super::json::{int, root};
use crate::events::BlockImported;
use crate::store::StoreClient;

/// The topics served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// A new head.
    Head,
    /// A block imported.
    Block,
    /// Finality advanced.
    FinalizedCheckpoint,
}

impl Topic {
    /// The topic's name in `topics=` and `event:`.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Head => "head",
            Topic::Block => "block",
            Topic::FinalizedCheckpoint => "finalized_checkpoint",
        }
    }

    /// The topic named `name`, if served.
    pub fn parse(name: &str) -> Option<Topic> {
        [Topic::Head, Topic::Block, Topic::FinalizedCheckpoint]
            .into_iter()
            .find(|t| t.name() == name)
    }
}

/// One event, its data already JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiEvent {
    /// Its topic.
    pub topic: Topic,
    /// The `data:` line.
    pub data: String,
}

impl ApiEvent {
    /// The event as written on the stream.
    pub fn to_sse(&self) -> Bytes {
        Bytes::from(format!(
            "event: {}\ndata: {}\n\n",
            self.topic.name(),
            self.data
        ))
    }
}

/// Turns imports into events (see the module doc).
#[derive(Debug)]
pub struct EventHub {
    sender: broadcast::Sender<ApiEvent>,
    store: StoreClient,
    slots_per_epoch: u64,
    last_head_slot: Option<Slot>,
    mailbox: usize,
}

impl EventHub {
    /// A hub publishing on `sender`, reading state roots from `store`.
    pub fn new(
        sender: broadcast::Sender<ApiEvent>,
        store: StoreClient,
        slots_per_epoch: u64,
        mailbox: usize,
    ) -> Self {
        EventHub {
            sender,
            store,
            slots_per_epoch: slots_per_epoch.max(1),
            last_head_slot: None,
            mailbox,
        }
    }
}

impl Actor for EventHub {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.mailbox);
    }
}

async fn state_root(store: &StoreClient, block: Root) -> Root {
    match store.block(block).await {
        Ok(Some(b)) => b.state_root,
        _ => Root::default(),
    }
}

impl Handler<BlockImported> for EventHub {
    type Result = ();
    fn handle(&mut self, msg: BlockImported, ctx: &mut Context<Self>) {
        let o = msg.outcome;
        let epoch_transition = o.head_changed
            && self.last_head_slot.is_some_and(|s| {
                s.0 / self.slots_per_epoch != o.head.slot.0 / self.slots_per_epoch
            });
        if o.head_changed {
            self.last_head_slot = Some(o.head.slot);
        }
        let (store, sender) = (self.store.clone(), self.sender.clone());
        // `wait`: the next import is not handled before these events are out, so the stream
        // keeps the import order.
        ctx.wait(
            async move {
                let mut out = vec![ApiEvent {
                    topic: Topic::Block,
                    data: json!({
                        "slot": int(o.slot.0),
                        "block": root(&o.root),
                        "execution_optimistic": false,
                    })
                    .to_string(),
                }];
                if o.head_changed {
                    let state = state_root(&store, o.head.root).await;
                    out.push(ApiEvent {
                        topic: Topic::Head,
                        data: json!({
                            "slot": int(o.head.slot.0),
                            "block": root(&o.head.root),
                            "state": root(&state),
                            "epoch_transition": epoch_transition,
                            "execution_optimistic": false,
                        })
                        .to_string(),
                    });
                }
                if let Some(f) = o.finalized {
                    let state = state_root(&store, f.root).await;
                    out.push(ApiEvent {
                        topic: Topic::FinalizedCheckpoint,
                        data: json!({
                            "block": root(&f.root),
                            "state": root(&state),
                            "epoch": int(f.epoch.0),
                            "execution_optimistic": false,
                        })
                        .to_string(),
                    });
                }
                for e in out {
                    // No stream open: nobody to tell.
                    let _ = sender.send(e);
                }
            }
            .into_actor(self),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_parse_and_events_are_framed() {
        assert_eq!(Topic::parse("head"), Some(Topic::Head));
        assert_eq!(
            Topic::parse("finalized_checkpoint"),
            Some(Topic::FinalizedCheckpoint)
        );
        assert_eq!(Topic::parse("attestation"), None);
        let e = ApiEvent {
            topic: Topic::Block,
            data: "{\"slot\":\"1\"}".into(),
        };
        assert_eq!(&e.to_sse()[..], b"event: block\ndata: {\"slot\":\"1\"}\n\n");
    }
}
