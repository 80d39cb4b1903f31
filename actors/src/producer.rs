//! `ProducerActor`: a slot timer that asks the chain store to build a block at the current slot
//! of its [`SlotClock`] on the head and import it (unless the head already has a block at or after
//! that slot), then hands the block on (`BlockProduced`: to gossip, which publishes it).
//! [`SlotClock`] is plain: the slot arithmetic is tested without a runtime.
//!
//! Handles its timer and [`StopProducer`]. Sends: `ProduceBlockAt` (store), `BlockProduced`
//! (gossip, try_send).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use hobbits_chain::{BlockProducer, Slot};
use tracing::{debug, info, warn};

use crate::events::BlockProduced;
use crate::store::{SlotProduction, StoreClient, StoreError};

/// Where slot 0 starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotAnchor {
    /// The chain's genesis time, an instant every node shares: slot =
    /// (now − genesis) / slot_duration, the same on every node, whenever it started.
    Genesis(SystemTime),
    /// No shared instant (`genesis_time` 0, the default of tests and local testnets: a chain
    /// "born" in 1970 would start at slot ~10^10). Slots are counted in ticks since the producer
    /// started and moved forward to the head's slot whenever the network is ahead, so several
    /// producers still advance one slot per tick between them.
    Ticks,
}

/// The producer's clock: which slot a tick is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotClock {
    slot_duration: Duration,
    anchor: SlotAnchor,
    /// [`SlotAnchor::Ticks`]: the current slot.
    ticks: u64,
}

impl SlotClock {
    /// The clock for a node configuration: anchored at `genesis_time` (seconds since the Unix
    /// epoch) when it is set, else counting ticks.
    pub fn new(genesis_time: u64, slot_duration: Duration) -> Self {
        let anchor = if genesis_time == 0 {
            SlotAnchor::Ticks
        } else {
            SlotAnchor::Genesis(UNIX_EPOCH + Duration::from_secs(genesis_time))
        };
        SlotClock {
            slot_duration: slot_duration.max(Duration::from_millis(1)),
            anchor,
            ticks: 0,
        }
    }

    /// The anchor.
    pub fn anchor(&self) -> SlotAnchor {
        self.anchor
    }

    /// The slot length.
    pub fn slot_duration(&self) -> Duration {
        self.slot_duration
    }

    /// The wall-clock slot at `now` ([`SlotAnchor::Genesis`]); `None` before genesis or with
    /// [`SlotAnchor::Ticks`].
    pub fn wall_slot(&self, now: SystemTime) -> Option<Slot> {
        let SlotAnchor::Genesis(genesis) = self.anchor else {
            return None;
        };
        let elapsed = now.duration_since(genesis).ok()?;
        Some(Slot(
            (elapsed.as_nanos() / self.slot_duration.as_nanos()) as u64,
        ))
    }

    /// How long until the next tick: the next slot boundary with a genesis anchor (so ticks do
    /// not drift across boundaries), one slot with ticks.
    pub fn until_next_tick(&self, now: SystemTime) -> Duration {
        let SlotAnchor::Genesis(genesis) = self.anchor else {
            return self.slot_duration;
        };
        match now.duration_since(genesis) {
            Ok(elapsed) => {
                let d = self.slot_duration.as_nanos();
                let into = elapsed.as_nanos() % d;
                Duration::from_nanos((d - into) as u64)
            }
            // Before genesis: wake at genesis (at most one slot at a time, so a clock change is
            // noticed).
            Err(e) => e
                .duration()
                .min(self.slot_duration)
                .max(Duration::from_millis(1)),
        }
    }

    /// A tick at `now`: the slot to produce at, `None` before or at genesis (slot 0 is the
    /// genesis block).
    pub fn on_tick(&mut self, now: SystemTime) -> Option<Slot> {
        let slot = match self.anchor {
            SlotAnchor::Genesis(_) => self.wall_slot(now)?,
            SlotAnchor::Ticks => {
                self.ticks += 1;
                Slot(self.ticks)
            }
        };
        (slot.0 > 0).then_some(slot)
    }

    /// The head is at `head`: a tick-counted clock behind it catches up (another producer, or a
    /// store reopened further on, is ahead). A genesis clock ignores it.
    pub fn observe_head(&mut self, head: Slot) {
        if self.anchor == SlotAnchor::Ticks {
            self.ticks = self.ticks.max(head.0);
        }
    }
}

/// An offset added to the wall clock the producer reads, in milliseconds (negative: behind);
/// shared, so whoever holds a clone can change it while the node runs (`NodeParts::clock_skew`;
/// the `run` command's `--clock-skew-file`, for testnets that skew a node's slot clock). Two skews are equal when
/// they hold the same offset.
#[derive(Debug, Clone, Default)]
pub struct ClockSkew(Arc<AtomicI64>);

impl ClockSkew {
    /// The offset now.
    pub fn ms(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets the offset.
    pub fn set_ms(&self, ms: i64) {
        self.0.store(ms, Ordering::Relaxed);
    }

    /// `now` as the skewed clock reads it.
    pub fn apply(&self, now: SystemTime) -> SystemTime {
        let ms = self.ms();
        let offset = Duration::from_millis(ms.unsigned_abs());
        let skewed = if ms >= 0 {
            now.checked_add(offset)
        } else {
            now.checked_sub(offset)
        };
        skewed.unwrap_or(now)
    }
}

impl PartialEq for ClockSkew {
    fn eq(&self, other: &Self) -> bool {
        self.ms() == other.ms()
    }
}

impl Eq for ClockSkew {}

/// The block producer timer.
#[derive(Debug)]
pub struct ProducerActor {
    producer: BlockProducer,
    store: StoreClient,
    clock: SlotClock,
    skew: ClockSkew,
    produced: Option<Recipient<BlockProduced>>,
    busy: bool,
}

impl ProducerActor {
    /// Produces at most one block per slot of `clock` (read through `skew`) with `producer`.
    pub fn new(
        producer: BlockProducer,
        store: StoreClient,
        clock: SlotClock,
        skew: ClockSkew,
        produced: Option<Recipient<BlockProduced>>,
    ) -> Self {
        ProducerActor {
            producer,
            store,
            clock,
            skew,
            produced,
            busy: false,
        }
    }

    fn schedule(&self, ctx: &mut Context<Self>) {
        let wait = self
            .clock
            .until_next_tick(self.skew.apply(SystemTime::now()));
        ctx.run_later(wait, |act, ctx| {
            act.tick(ctx);
            act.schedule(ctx);
        });
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        // The clock advances on every tick, also when the store is still busy.
        let Some(slot) = self.clock.on_tick(self.skew.apply(SystemTime::now())) else {
            return;
        };
        if self.busy {
            return; // the previous slot's import is still running: skip, never queue up
        }
        self.busy = true;
        let fut = self.store.produce_block_at(self.producer.clone(), slot);
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| {
            act.busy = false;
            match res {
                Ok(SlotProduction::Produced { block, outcome }) => {
                    act.clock.observe_head(outcome.slot);
                    info!(slot = outcome.slot.0, root = %outcome.root, "block produced");
                    if let Some(r) = &act.produced {
                        let block = *block;
                        if r.try_send(BlockProduced { block, outcome }).is_err() {
                            warn!("gossip hook busy: produced block not handed over");
                        }
                    }
                }
                Ok(SlotProduction::HeadAhead { head_slot }) => {
                    act.clock.observe_head(head_slot);
                    debug!(
                        slot = slot.0,
                        head_slot = head_slot.0,
                        "head already at this slot: not producing"
                    );
                }
                Err(e @ StoreError::Chain(_)) => warn!(error = %e, "block production failed"),
                Err(e @ StoreError::Gone) => warn!(error = %e, "store unavailable"),
            }
        }));
    }
}

impl Actor for ProducerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.schedule(ctx);
    }
}

/// Command: stop producing (the node is shutting down, or a testnet scenario says so).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StopProducer;

impl Handler<StopProducer> for ProducerActor {
    type Result = ();
    fn handle(&mut self, _: StopProducer, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOT: Duration = Duration::from_millis(100);

    #[test]
    fn genesis_clock_is_wall_time_since_genesis() {
        let genesis = 1_600_000_000;
        let mut c = SlotClock::new(genesis, SLOT);
        let g = UNIX_EPOCH + Duration::from_secs(genesis);
        assert_eq!(c.anchor(), SlotAnchor::Genesis(g));
        assert_eq!(
            c.on_tick(g - Duration::from_secs(1)),
            None,
            "before genesis"
        );
        assert_eq!(c.on_tick(g + Duration::from_millis(50)), None, "slot 0");
        assert_eq!(c.on_tick(g + Duration::from_millis(100)), Some(Slot(1)));
        assert_eq!(c.on_tick(g + Duration::from_millis(1250)), Some(Slot(12)));
        // The same instant gives the same slot however often it is asked.
        assert_eq!(c.on_tick(g + Duration::from_millis(1250)), Some(Slot(12)));
        c.observe_head(Slot(500));
        assert_eq!(c.on_tick(g + Duration::from_millis(1300)), Some(Slot(13)));
        assert_eq!(
            c.until_next_tick(g + Duration::from_millis(1230)),
            Duration::from_millis(70)
        );
        assert_eq!(c.until_next_tick(g + Duration::from_millis(1300)), SLOT);
        assert_eq!(
            c.until_next_tick(g - Duration::from_millis(30)),
            Duration::from_millis(30)
        );
    }

    #[test]
    fn tick_clock_counts_ticks_and_catches_up_with_the_head() {
        let mut c = SlotClock::new(0, SLOT);
        assert_eq!(c.anchor(), SlotAnchor::Ticks);
        let now = SystemTime::now();
        assert_eq!(c.on_tick(now), Some(Slot(1)));
        assert_eq!(c.on_tick(now), Some(Slot(2)));
        // Another producer's block at slot 2 arrived: slot 2 is taken, the next tick is 3.
        c.observe_head(Slot(2));
        assert_eq!(c.on_tick(now), Some(Slot(3)));
        // A store reopened at slot 500: the clock jumps there, never back.
        c.observe_head(Slot(500));
        c.observe_head(Slot(7));
        assert_eq!(c.on_tick(now), Some(Slot(501)));
        assert_eq!(c.until_next_tick(now), SLOT);
    }

    /// Two tick-counted producers whose ticks interleave: every tick one of them takes the
    /// slot, the other sees the head already there; the chain advances one slot per tick (the
    /// head + 1 rule advanced two).
    #[test]
    fn two_tick_clocks_advance_one_slot_per_tick() {
        let now = SystemTime::now();
        let (mut a, mut b) = (SlotClock::new(0, SLOT), SlotClock::new(0, SLOT));
        let mut head = Slot(0);
        for _ in 0..24 {
            for c in [&mut a, &mut b] {
                if let Some(slot) = c.on_tick(now) {
                    if slot > head {
                        head = slot;
                    }
                    c.observe_head(head);
                }
            }
        }
        assert_eq!(head, Slot(24));
    }

    #[test]
    fn a_skew_moves_the_clock_the_producer_reads_and_can_change() {
        let skew = ClockSkew::default();
        let t = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(skew.apply(t), t);
        let other = skew.clone();
        other.set_ms(1_500);
        assert_eq!(
            skew.apply(t),
            t + Duration::from_millis(1_500),
            "clones share the offset"
        );
        skew.set_ms(-250);
        assert_eq!(skew.apply(t), t - Duration::from_millis(250));
        // A clock 2 slots ahead is in a later slot.
        let c = SlotClock::new(1_000, SLOT);
        let at = t + SLOT * 3;
        skew.set_ms((SLOT * 2).as_millis() as i64);
        assert_eq!(
            c.wall_slot(skew.apply(at)),
            c.wall_slot(at).map(|s| Slot(s.0 + 2))
        );
    }
}
