//! The event loop of the simulation ([`Sim`]): a queue of timed events (frames arriving, router
//! ticks, slots, kills, cuts and heals) played in time order, ties in the order they were
//! scheduled, so a run is a pure function of its configuration. It owns the nodes (each a
//! [`SimRouter`] and its links), carries out their actions with the link latency, publishes the
//! workload's objects and counts into the [`Recorder`]. No messages handled or sent outside the
//! simulation.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use hobbits_codec::{ControlMessage, MessageHash, Origin};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::mesh::MeshRouter;
use super::report::{Recorder, SimReport};
use super::{
    random_topology, Action, Arrival, Design, Node, ObjectInfo, ObjectKind, ObjectMeta, Overlay,
    OverlayConfig, OverlayError, PeerKind, Scenario, SimAction, SimConfig, SimObject, SimRouter,
};

#[derive(Debug, Clone)]
enum Payload {
    Object(SimObject),
    Control(ControlMessage),
}

#[derive(Debug)]
enum Event {
    /// A frame reaches `to` (`pulled`: sent in answer to IWANT).
    Deliver {
        from: Node,
        to: Node,
        payload: Payload,
        pulled: bool,
    },
    /// `node` sends the actions it decided `process_delay` ago.
    Send {
        node: Node,
        actions: Vec<SimAction>,
        pulled: bool,
    },
    Tick(Node),
    Slot(u32),
    Kill,
    Cut,
    Heal,
    /// `node` learns that the connection to `peer` closed / opened.
    PeerDown {
        node: Node,
        peer: Node,
    },
    PeerUp {
        node: Node,
        peer: Node,
    },
}

struct Queued {
    at: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    /// Reversed: the heap pops the earliest event, ties in scheduling order.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

struct SimNode {
    router: Box<dyn SimRouter>,
    alive: bool,
    flood: bool,
    /// Neighbours whose link is up.
    links: BTreeSet<Node>,
}

pub(super) struct Sim {
    cfg: SimConfig,
    base: Instant,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Queued>,
    nodes: Vec<SimNode>,
    edges: Vec<(Node, Node)>,
    cut: BTreeSet<(Node, Node)>,
    objects: Vec<ObjectInfo>,
    ids: HashMap<MessageHash, u32>,
    rec: Recorder,
    rng: SmallRng,
}

fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

/// The object id of the simulation: distinct per (kind, slot, publisher).
fn object_id(kind: ObjectKind, slot: u32, node: Node) -> MessageHash {
    let mut h = [0u8; 32];
    h[0] = match kind {
        ObjectKind::Block => 1,
        ObjectKind::Attestation => 2,
    };
    h[1..5].copy_from_slice(&slot.to_le_bytes());
    h[5..13].copy_from_slice(&(node as u64).to_le_bytes());
    MessageHash(h)
}

impl Sim {
    pub(super) fn new(cfg: SimConfig) -> Result<Self, OverlayError> {
        let mut rng = SmallRng::seed_from_u64(cfg.seed);
        let edges = random_topology(cfg.nodes, cfg.degree, &mut rng);
        let mut candidates: Vec<Node> = (cfg.producers.min(cfg.nodes)..cfg.nodes).collect();
        candidates.shuffle(&mut rng);
        let flood: BTreeSet<Node> = candidates.into_iter().take(cfg.flood_nodes).collect();
        let mut nodes = Vec::with_capacity(cfg.nodes);
        for n in 0..cfg.nodes {
            let is_flood = flood.contains(&n);
            let router: Box<dyn SimRouter> = match (&cfg.design, is_flood) {
                (Design::Flood, _) | (_, true) => Box::new(Overlay::new(OverlayConfig::flood())?),
                (Design::Overlay(c), false) => Box::new(Overlay::new(c.clone())?),
                (Design::Mesh(m), false) => Box::new(MeshRouter::new(
                    m.clone(),
                    cfg.seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                )),
            };
            nodes.push(SimNode {
                router,
                alive: true,
                flood: is_flood,
                links: BTreeSet::new(),
            });
        }
        let rec = Recorder::new(cfg.nodes);
        let mut sim = Sim {
            base: Instant::now(),
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes,
            edges,
            cut: BTreeSet::new(),
            objects: Vec::new(),
            ids: HashMap::new(),
            rec,
            rng,
            cfg,
        };
        for (a, b) in sim.edges.clone() {
            sim.link_up(a, b);
        }
        for n in 0..sim.cfg.nodes {
            let phase = sim.rng.gen_range(0..us(sim.cfg.tick).max(1));
            sim.schedule(phase, Event::Tick(n));
        }
        for s in 0..sim.cfg.slots {
            // Slot s starts at (s + 1) slots: the trees start empty, as after a restart.
            sim.schedule(us(sim.cfg.slot) * u64::from(s + 1), Event::Slot(s));
        }
        match sim.cfg.scenario.clone() {
            Scenario::Steady => {}
            Scenario::Kill { at, .. } => sim.schedule(us(at), Event::Kill),
            Scenario::Partition { at, heal } => {
                sim.schedule(us(at), Event::Cut);
                sim.schedule(us(heal), Event::Heal);
            }
        }
        Ok(sim)
    }

    fn schedule(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Queued {
            at,
            seq: self.seq,
            event,
        });
    }

    fn instant(&self) -> Instant {
        self.base + Duration::from_micros(self.now)
    }

    fn kind_of(&self, peer: Node) -> PeerKind {
        if self.nodes[peer].flood || matches!(self.cfg.design, Design::Flood) {
            PeerKind::Flood
        } else {
            PeerKind::Overlay
        }
    }

    fn link_up(&mut self, a: Node, b: Node) {
        self.nodes[a].links.insert(b);
        self.nodes[b].links.insert(a);
        let (ka, kb) = (self.kind_of(a), self.kind_of(b));
        self.nodes[a].router.add_peer(b, kb);
        self.nodes[b].router.add_peer(a, ka);
    }

    fn is_up(&self, a: Node, b: Node) -> bool {
        self.nodes[a].alive && self.nodes[b].alive && self.nodes[a].links.contains(&b)
    }

    pub(super) fn run(mut self) -> SimReport {
        let end = us(self.cfg.slot) * u64::from(self.cfg.slots + 1) + us(self.cfg.settle);
        while let Some(q) = self.queue.pop() {
            if q.at > end {
                break;
            }
            self.now = q.at;
            self.handle(q.event);
        }
        let flood: Vec<bool> = self.nodes.iter().map(|n| n.flood).collect();
        self.rec.finish(
            &self.cfg,
            &self.objects,
            &flood,
            self.nodes.iter().map(|n| n.alive),
        )
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Deliver {
                from,
                to,
                payload,
                pulled,
            } => self.deliver(from, to, payload, pulled),
            Event::Send {
                node,
                actions,
                pulled,
            } => self.send(node, actions, pulled),
            Event::Tick(n) => {
                if self.nodes[n].alive {
                    let now = self.instant();
                    let actions = self.nodes[n].router.on_tick(now);
                    self.send(n, actions, false);
                    self.schedule(self.now + us(self.cfg.tick), Event::Tick(n));
                }
            }
            Event::Slot(s) => self.produce(s),
            Event::Kill => self.kill(),
            Event::Cut => self.partition(),
            Event::Heal => self.heal(),
            Event::PeerDown { node, peer } => {
                if self.nodes[node].alive {
                    self.nodes[node].router.remove_peer(peer);
                }
            }
            Event::PeerUp { node, peer } => self.link_up(node, peer),
        }
    }

    /// Carries out a router's actions: frames leave now and arrive one link latency later.
    fn send(&mut self, node: Node, actions: Vec<SimAction>, pulled: bool) {
        if !self.nodes[node].alive {
            return;
        }
        let arrive = self.now + us(self.cfg.link_latency);
        for action in actions {
            match action {
                Action::SendObject { to, object, .. } => {
                    let len = self.frame_len(object);
                    for t in to {
                        if !self.is_up(node, t) {
                            continue;
                        }
                        self.rec.object_sent(len, pulled);
                        self.schedule(
                            arrive,
                            Event::Deliver {
                                from: node,
                                to: t,
                                payload: Payload::Object(object),
                                pulled,
                            },
                        );
                    }
                }
                Action::SendControl { to, message } => {
                    if !self.is_up(node, to) {
                        continue;
                    }
                    self.rec.control_sent(&message);
                    self.schedule(
                        arrive,
                        Event::Deliver {
                            from: node,
                            to,
                            payload: Payload::Control(message),
                            pulled: false,
                        },
                    );
                }
                Action::Penalize { .. } => self.rec.penalty(),
            }
        }
    }

    fn frame_len(&self, object: SimObject) -> usize {
        match self.objects[object.0 as usize].kind {
            ObjectKind::Block => self.cfg.block_frame_len,
            ObjectKind::Attestation => self.cfg.attestation_frame_len,
        }
    }

    /// Actions decided now leave after the processing delay.
    fn later(&mut self, node: Node, actions: Vec<SimAction>, pulled: bool) {
        if !actions.is_empty() {
            let at = self.now + us(self.cfg.process_delay);
            self.schedule(
                at,
                Event::Send {
                    node,
                    actions,
                    pulled,
                },
            );
        }
    }

    fn deliver(&mut self, from: Node, to: Node, payload: Payload, pulled: bool) {
        // A frame in flight when its link went down is lost with the connection.
        if !self.is_up(from, to) {
            return;
        }
        let now = self.instant();
        match payload {
            Payload::Control(message) => {
                let actions = self.nodes[to].router.on_control(now, from, message);
                // Objects sent in answer to control are pulls.
                self.later(to, actions, true);
            }
            Payload::Object(object) => {
                let meta = self.meta(object);
                let id = meta.id;
                match self.nodes[to].router.on_object(now, from, meta) {
                    Arrival::Duplicate => self.rec.duplicate(object),
                    Arrival::New => {
                        self.rec.first(object, to, self.now, pulled);
                        let actions = self.nodes[to].router.on_validated(id, object);
                        self.later(to, actions, false);
                        if self.objects[object.0 as usize].kind == ObjectKind::Block {
                            let slot = self.objects[object.0 as usize].slot;
                            self.publish(to, ObjectKind::Attestation, slot);
                        }
                    }
                }
            }
        }
    }

    /// What a router reads of `object`'s header: the flood nodes write no `origin`; the
    /// timestamp is the publication time (the publisher's clock).
    fn meta(&self, object: SimObject) -> ObjectMeta {
        let info = &self.objects[object.0 as usize];
        ObjectMeta {
            id: info.id,
            origin: (!self.nodes[info.publisher].flood).then_some(Origin(info.publisher as u64)),
            timestamp_ms: info.published / 1000,
        }
    }

    /// The nodes alive and connected to `from` over links that are up.
    fn component(&self, from: Node) -> Vec<Node> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![from];
        seen[from] = true;
        let mut out = Vec::new();
        while let Some(n) = stack.pop() {
            out.push(n);
            for &m in &self.nodes[n].links {
                if !seen[m] && self.is_up(n, m) {
                    seen[m] = true;
                    stack.push(m);
                }
            }
        }
        out.sort_unstable();
        out
    }

    fn publish(&mut self, node: Node, kind: ObjectKind, slot: u32) {
        let id = object_id(kind, slot, node);
        if self.ids.contains_key(&id) {
            return;
        }
        let index = self.objects.len() as u32;
        let expected = self
            .component(node)
            .into_iter()
            .filter(|n| *n != node)
            .collect();
        self.objects.push(ObjectInfo {
            kind,
            publisher: node,
            published: self.now,
            slot,
            id,
            expected,
        });
        self.ids.insert(id, index);
        self.rec.published(index, node, self.now);
        let now = self.instant();
        let meta = self.meta(SimObject(index));
        let actions = self.nodes[node].router.publish(now, meta, SimObject(index));
        self.later(node, actions, false);
        if kind == ObjectKind::Block {
            self.publish(node, ObjectKind::Attestation, slot);
        }
    }

    fn produce(&mut self, slot: u32) {
        let producers = self.cfg.producers.clamp(1, self.cfg.nodes);
        let producer = (0..producers)
            .map(|i| (slot as usize + i) % producers)
            .find(|p| self.nodes[*p].alive);
        if let Some(p) = producer {
            self.publish(p, ObjectKind::Block, slot);
        }
    }

    fn kill(&mut self) {
        let Scenario::Kill { percent, .. } = self.cfg.scenario else {
            return;
        };
        let count = self.cfg.nodes * percent as usize / 100;
        let mut candidates: Vec<Node> = (self.cfg.producers.min(self.cfg.nodes)..self.cfg.nodes)
            .filter(|n| self.nodes[*n].alive)
            .collect();
        candidates.shuffle(&mut self.rng);
        let latency = us(self.cfg.link_latency);
        for dead in candidates.into_iter().take(count) {
            self.nodes[dead].alive = false;
            for peer in self.nodes[dead].links.clone() {
                self.schedule(
                    self.now + latency,
                    Event::PeerDown {
                        node: peer,
                        peer: dead,
                    },
                );
            }
        }
    }

    fn partition(&mut self) {
        let mut order: Vec<Node> = (0..self.cfg.nodes).collect();
        order.shuffle(&mut self.rng);
        let side_a: BTreeSet<Node> = order[..self.cfg.nodes / 2].iter().copied().collect();
        let latency = us(self.cfg.link_latency);
        for &(a, b) in &self.edges.clone() {
            if side_a.contains(&a) != side_a.contains(&b) {
                self.cut.insert((a, b));
                self.nodes[a].links.remove(&b);
                self.nodes[b].links.remove(&a);
                self.schedule(self.now + latency, Event::PeerDown { node: a, peer: b });
                self.schedule(self.now + latency, Event::PeerDown { node: b, peer: a });
            }
        }
    }

    fn heal(&mut self) {
        // A restored link is redialed: connect and HELLO take two link latencies more.
        let at = self.now + 2 * us(self.cfg.link_latency);
        for (a, b) in std::mem::take(&mut self.cut) {
            self.schedule(at, Event::PeerUp { node: a, peer: b });
        }
    }
}
