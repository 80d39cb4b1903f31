//! A deterministic discrete-event simulation of gossip over a simulated network, which drives real
//! routers — the [`Overlay`] (in overlay or flood mode) and, for comparison, a gossipsub-style
//! [`mesh::MeshRouter`] — through the same inputs the node gives them, with no runtime and no
//! socket: per-link latency, a seeded random topology, publishers on a slot clock, node kills,
//! partitions that heal and 2019 flood nodes in the mix. It measures what docs/PROTOCOL.md
//! ("Gossip overlay") reports: duplicates per node per object, control frames and bytes (each
//! control message encoded by the real codec), propagation latency, delivery ratio and repair
//! time ([`report::SimReport`]). Same seed, same numbers.
//!
//! The workload mirrors the testnet's: every slot one producer (round robin over `producers`)
//! publishes a block, and every node publishes one attestation when it first holds that block
//! (the testnet attester votes on each head change). Time is simulated in microseconds; no
//! message is handled or sent outside the simulation.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hobbits_codec::{ControlMessage, MessageHash};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::Rng;

use super::{Action, Arrival, ObjectMeta, Overlay, OverlayConfig, OverlayError, PeerKind};

mod engine;
pub mod mesh;
pub mod report;

#[cfg(test)]
mod tests;

use mesh::MeshConfig;
use report::SimReport;

/// A node of the simulation (its index).
pub type Node = usize;

/// A gossiped object of the simulation: an index into the run's object table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimObject(pub u32);

/// An action of a simulated router.
pub type SimAction = Action<Node, SimObject>;

/// What the simulation needs of a router: the [`Overlay`]'s inputs.
pub trait SimRouter: std::fmt::Debug {
    /// See [`Overlay::add_peer`].
    fn add_peer(&mut self, peer: Node, kind: PeerKind);
    /// See [`Overlay::remove_peer`].
    fn remove_peer(&mut self, peer: Node);
    /// See [`Overlay::on_object`].
    fn on_object(&mut self, now: Instant, from: Node, meta: ObjectMeta) -> Arrival;
    /// See [`Overlay::on_validated`].
    fn on_validated(&mut self, id: MessageHash, object: SimObject) -> Vec<SimAction>;
    /// See [`Overlay::publish`].
    fn publish(&mut self, now: Instant, meta: ObjectMeta, object: SimObject) -> Vec<SimAction>;
    /// See [`Overlay::on_control`].
    fn on_control(&mut self, now: Instant, from: Node, message: ControlMessage) -> Vec<SimAction>;
    /// See [`Overlay::on_tick`].
    fn on_tick(&mut self, now: Instant) -> Vec<SimAction>;
}

impl SimRouter for Overlay<Node, SimObject> {
    fn add_peer(&mut self, peer: Node, kind: PeerKind) {
        Overlay::add_peer(self, peer, kind)
    }
    fn remove_peer(&mut self, peer: Node) {
        Overlay::remove_peer(self, peer)
    }
    fn on_object(&mut self, now: Instant, from: Node, meta: ObjectMeta) -> Arrival {
        Overlay::on_object(self, now, from, meta)
    }
    fn on_validated(&mut self, id: MessageHash, object: SimObject) -> Vec<SimAction> {
        Overlay::on_validated(self, id, object)
    }
    fn publish(&mut self, now: Instant, meta: ObjectMeta, object: SimObject) -> Vec<SimAction> {
        Overlay::publish(self, now, meta, object)
    }
    fn on_control(&mut self, now: Instant, from: Node, message: ControlMessage) -> Vec<SimAction> {
        Overlay::on_control(self, now, from, message)
    }
    fn on_tick(&mut self, now: Instant) -> Vec<SimAction> {
        Overlay::on_tick(self, now)
    }
}

/// The routing design every non-flood node of a run uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Design {
    /// Plain flood (the 2019 behaviour; the baseline).
    Flood,
    /// The overlay router with this configuration.
    Overlay(OverlayConfig),
    /// The gossipsub-style mesh model.
    Mesh(MeshConfig),
}

impl Design {
    /// A short name for tables.
    pub fn name(&self) -> String {
        match self {
            Design::Flood => "flood".into(),
            Design::Overlay(c) if c.flood => "flood".into(),
            Design::Overlay(c) if c.tree_per_origin && !c.flood_without_origin => {
                "plumtree, 2019 on tree".into()
            }
            Design::Overlay(c) if c.tree_per_origin => "plumtree, tree per origin".into(),
            Design::Overlay(_) => "plumtree, one tree".into(),
            Design::Mesh(m) => format!("mesh D={}", m.d),
        }
    }
}

/// What happens to the network during a run (times from the start of the run).
#[derive(Debug, Clone, PartialEq)]
pub enum Scenario {
    /// Nothing.
    Steady,
    /// `percent` of the nodes (producers spared) are killed at once at `at`; their neighbours
    /// see the connection close one link latency later.
    Kill {
        /// When.
        at: Duration,
        /// How many, in percent of the nodes.
        percent: u32,
    },
    /// Every link between two random halves is cut at `at` and restored at `heal` (each restored
    /// link re-handshakes: its peers are added two link latencies later).
    Partition {
        /// When the cut happens.
        at: Duration,
        /// When the links come back.
        heal: Duration,
    },
}

impl Scenario {
    /// The time after which the network is whole again (`None` for `Steady`).
    pub fn disruption_end(&self) -> Option<Duration> {
        match self {
            Scenario::Steady => None,
            Scenario::Kill { at, .. } => Some(*at),
            Scenario::Partition { heal, .. } => Some(*heal),
        }
    }

    /// A short name for tables.
    pub fn name(&self) -> String {
        match self {
            Scenario::Steady => "steady".into(),
            Scenario::Kill { percent, .. } => format!("kill {percent}%"),
            Scenario::Partition { .. } => "partition+heal".into(),
        }
    }
}

/// One run of the simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seeds the topology, the flood nodes, the tick phases, the kills and the mesh model.
    pub seed: u64,
    /// Nodes.
    pub nodes: usize,
    /// Least links per node: a random spanning tree, then random links until every node has at
    /// least this many (the testnet's `random:K`).
    pub degree: usize,
    /// One-way latency of every link.
    pub link_latency: Duration,
    /// Time from receiving an object to sending it on (validation and import).
    pub process_delay: Duration,
    /// Period of every router's `on_tick` (each node at its own random phase).
    pub tick: Duration,
    /// Slot time: one block per slot.
    pub slot: Duration,
    /// Slots played; the run ends `settle` after the last.
    pub slots: u32,
    /// Time after the last slot for the last objects to arrive.
    pub settle: Duration,
    /// Producers (nodes 0..producers), taking turns slot by slot (a dead one's turn is skipped).
    pub producers: usize,
    /// Length of a BLOCK GOSSIP frame on the wire, bytes.
    pub block_frame_len: usize,
    /// Length of an ATTESTATION GOSSIP frame on the wire, bytes.
    pub attestation_frame_len: usize,
    /// Nodes running the 2019 flood (never a control message, no `origin` header); they are
    /// `Flood` peers to everyone.
    pub flood_nodes: usize,
    /// The routing design of every other node.
    pub design: Design,
    /// What happens to the network.
    pub scenario: Scenario,
    /// Slots whose objects count as warm-up in the report (trees forming).
    pub warmup_slots: u32,
}

impl Default for SimConfig {
    /// The network: 100 nodes, degree 8, 50 ms links, 6 s slots (the v0.8.1 mainnet
    /// `SECONDS_PER_SLOT`), 4 producers, 20 slots; frames as long as the testnet's.
    fn default() -> Self {
        let (block_frame_len, attestation_frame_len) = report::testnet_frame_lens();
        SimConfig {
            seed: 1,
            nodes: 100,
            degree: 8,
            link_latency: Duration::from_millis(50),
            process_delay: Duration::from_millis(1),
            tick: Duration::from_millis(100),
            slot: Duration::from_secs(6),
            slots: 20,
            settle: Duration::from_secs(6),
            producers: 4,
            block_frame_len,
            attestation_frame_len,
            flood_nodes: 0,
            design: Design::Overlay(OverlayConfig::default()),
            scenario: Scenario::Steady,
            warmup_slots: 2,
        }
    }
}

/// The kind of a simulated object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A block (one per slot).
    Block,
    /// An attestation (one per node per block).
    Attestation,
}

/// One object published during a run.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    /// Block or attestation.
    pub kind: ObjectKind,
    /// Its publisher.
    pub publisher: Node,
    /// Publication time, µs from the start.
    pub published: u64,
    /// The slot it belongs to.
    pub slot: u32,
    /// Its `message_hash`.
    pub id: MessageHash,
    /// The nodes expected to receive it: alive and connected to the publisher when published.
    pub expected: Vec<Node>,
}

/// A random connected topology: a random spanning tree, then links between random nodes until
/// every node has at least `degree` links.
pub fn random_topology(nodes: usize, degree: usize, rng: &mut SmallRng) -> Vec<(Node, Node)> {
    let mut adj: Vec<BTreeSet<Node>> = vec![BTreeSet::new(); nodes];
    let mut order: Vec<Node> = (0..nodes).collect();
    order.shuffle(rng);
    for i in 1..nodes {
        let parent = order[rng.gen_range(0..i)];
        adj[order[i]].insert(parent);
        adj[parent].insert(order[i]);
    }
    let want = degree.min(nodes.saturating_sub(1));
    loop {
        let short: Vec<Node> = (0..nodes).filter(|n| adj[*n].len() < want).collect();
        let Some(&a) = short.first() else {
            break;
        };
        let candidates: Vec<Node> = (0..nodes)
            .filter(|b| *b != a && !adj[a].contains(b))
            .collect();
        // Prefer another node short of links, so the degrees stay close to `degree`.
        let pool: Vec<Node> = candidates
            .iter()
            .copied()
            .filter(|b| adj[*b].len() < want)
            .collect();
        let pool = if pool.is_empty() { candidates } else { pool };
        let Some(&b) = pool.choose(rng) else {
            break;
        };
        adj[a].insert(b);
        adj[b].insert(a);
    }
    let mut edges = Vec::new();
    for (a, set) in adj.iter().enumerate() {
        edges.extend(set.iter().filter(|b| **b > a).map(|b| (a, *b)));
    }
    edges
}

/// Runs one simulation to its end and reports what it measured.
pub fn run(config: SimConfig) -> Result<SimReport, OverlayError> {
    Ok(engine::Sim::new(config)?.run())
}

/// The control frame of `message` as the codec writes it: its length on the wire.
pub fn control_frame_len(message: &ControlMessage) -> usize {
    message.to_frame().map_or(0, |f| f.encoded_len())
}
