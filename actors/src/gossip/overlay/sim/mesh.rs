//! [`MeshRouter`]: a gossipsub-style model (libp2p gossipsub v1.0 rules, one mesh for every
//! topic), used only by the simulation to measure the alternative design against the overlay:
//! objects are pushed to a mesh of about `d` peers kept between `d_lo` and `d_hi` by GRAFT and
//! PRUNE at each heartbeat; each heartbeat announces the last `history_gossip` heartbeats' objects
//! by IHAVE to `d_lazy` random peers outside the mesh, which answer with IWANT at once. Published
//! objects go to every peer (v1.1's flood publish). Control messages are the codec's, so their
//! bytes count like the overlay's. Seeded: same seed, same choices. No messages handled or sent
//! outside the simulation.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Instant;

use hobbits_codec::gossip_control::MAX_CONTROL_HASHES;
use hobbits_codec::{ControlMessage, ControlVerb, MessageHash};
use rand::rngs::SmallRng;
use rand::seq::{IteratorRandom, SliceRandom};
use rand::SeedableRng;

use super::{Action, Arrival, Node, ObjectMeta, PeerKind, SimAction, SimObject, SimRouter};

/// Objects the model remembers (a run publishes fewer).
const SEEN_CAPACITY: usize = 1 << 17;
/// Heartbeats of history kept for IHAVE.
const HISTORY_LENGTH: usize = 5;

/// Parameters of the mesh (gossipsub's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshConfig {
    /// Target mesh degree `D`.
    pub d: usize,
    /// Fewer mesh peers than this are topped up to `d` (`D_lo`).
    pub d_lo: usize,
    /// More mesh peers than this are cut down to `d` (`D_hi`).
    pub d_hi: usize,
    /// Peers outside the mesh told IHAVE at each heartbeat (`D_lazy`).
    pub d_lazy: usize,
    /// Router ticks per heartbeat (10 ticks of 100 ms: gossipsub's 1 s).
    pub heartbeat_ticks: u32,
    /// Heartbeats whose objects each IHAVE announces.
    pub history_gossip: usize,
    /// Published objects go to every peer, not only to the mesh.
    pub flood_publish: bool,
}

impl MeshConfig {
    /// Gossipsub's defaults scaled to a target degree: `D_lo` = 2D/3, `D_hi` = 2D, `D_lazy` = D,
    /// 1 s heartbeat, 3 heartbeats of gossip, flood publish (for D = 6: 4, 12, 6, as libp2p).
    pub fn gossipsub(d: usize) -> Self {
        MeshConfig {
            d,
            d_lo: (d * 2 / 3).max(1),
            d_hi: 2 * d,
            d_lazy: d,
            heartbeat_ticks: 10,
            history_gossip: 3,
            flood_publish: true,
        }
    }
}

/// The model of one node.
#[derive(Debug)]
pub struct MeshRouter {
    cfg: MeshConfig,
    rng: SmallRng,
    peers: BTreeMap<Node, PeerKind>,
    mesh: BTreeSet<Node>,
    /// Seen objects: `None` while being validated, with the first sender.
    seen: HashMap<MessageHash, (Option<SimObject>, Option<Node>)>,
    order: VecDeque<MessageHash>,
    history: VecDeque<Vec<MessageHash>>,
    asked: HashSet<MessageHash>,
    ticks: u32,
}

impl MeshRouter {
    /// A node of the model.
    pub fn new(cfg: MeshConfig, seed: u64) -> Self {
        MeshRouter {
            cfg,
            rng: SmallRng::seed_from_u64(seed),
            peers: BTreeMap::new(),
            mesh: BTreeSet::new(),
            seen: HashMap::new(),
            order: VecDeque::new(),
            history: VecDeque::from([Vec::new()]),
            asked: HashSet::new(),
            ticks: 0,
        }
    }

    fn remember(&mut self, id: MessageHash, object: Option<SimObject>, from: Option<Node>) {
        self.seen.insert(id, (object, from));
        self.order.push_back(id);
        if self.order.len() > SEEN_CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
                self.asked.remove(&old);
            }
        }
    }

    fn is_overlay(&self, peer: Node) -> bool {
        self.peers.get(&peer) == Some(&PeerKind::Overlay)
    }

    /// The mesh and every flood peer, but `except`.
    fn push(
        &self,
        id: MessageHash,
        object: SimObject,
        except: Option<Node>,
        all: bool,
    ) -> Vec<SimAction> {
        let to: Vec<Node> = self
            .peers
            .iter()
            .filter(|(p, k)| {
                Some(**p) != except && (all || **k != PeerKind::Overlay || self.mesh.contains(p))
            })
            .map(|(p, _)| *p)
            .collect();
        if to.is_empty() {
            return Vec::new();
        }
        vec![Action::SendObject { to, id, object }]
    }

    /// The overlay peers outside the mesh.
    fn outside_mesh(&self) -> Vec<Node> {
        self.peers
            .keys()
            .copied()
            .filter(|p| self.is_overlay(*p) && !self.mesh.contains(p))
            .collect()
    }

    fn heartbeat(&mut self) -> Vec<SimAction> {
        let mut out = Vec::new();
        let control = |to, verb| Action::SendControl {
            to,
            message: ControlMessage {
                verb,
                hashes: Vec::new(),
            },
        };
        let outside = self.outside_mesh();
        if self.mesh.len() < self.cfg.d_lo {
            let need = self.cfg.d - self.mesh.len();
            for p in outside.choose_multiple(&mut self.rng, need) {
                self.mesh.insert(*p);
                out.push(control(*p, ControlVerb::Graft));
            }
        } else if self.mesh.len() > self.cfg.d_hi {
            let excess = self.mesh.len() - self.cfg.d;
            let cut: Vec<Node> = self
                .mesh
                .iter()
                .copied()
                .choose_multiple(&mut self.rng, excess);
            for p in cut {
                self.mesh.remove(&p);
                out.push(control(p, ControlVerb::Prune));
            }
        }
        let ids: Vec<MessageHash> = self
            .history
            .iter()
            .rev()
            .take(self.cfg.history_gossip)
            .flatten()
            .copied()
            .collect();
        if !ids.is_empty() {
            let outside = self.outside_mesh();
            for p in outside.choose_multiple(&mut self.rng, self.cfg.d_lazy) {
                for chunk in ids.chunks(MAX_CONTROL_HASHES) {
                    out.push(Action::SendControl {
                        to: *p,
                        message: ControlMessage {
                            verb: ControlVerb::IHave,
                            hashes: chunk.to_vec(),
                        },
                    });
                }
            }
        }
        self.history.push_back(Vec::new());
        if self.history.len() > HISTORY_LENGTH {
            self.history.pop_front();
        }
        out
    }
}

impl SimRouter for MeshRouter {
    fn add_peer(&mut self, peer: Node, kind: PeerKind) {
        self.peers.insert(peer, kind);
    }

    fn remove_peer(&mut self, peer: Node) {
        self.peers.remove(&peer);
        self.mesh.remove(&peer);
    }

    fn on_object(&mut self, _now: Instant, from: Node, meta: ObjectMeta) -> Arrival {
        if self.seen.contains_key(&meta.id) {
            return Arrival::Duplicate;
        }
        self.remember(meta.id, None, Some(from));
        Arrival::New
    }

    fn on_validated(&mut self, id: MessageHash, object: SimObject) -> Vec<SimAction> {
        let Some(entry) = self.seen.get_mut(&id) else {
            return Vec::new();
        };
        entry.0 = Some(object);
        let from = entry.1;
        if let Some(h) = self.history.back_mut() {
            h.push(id);
        }
        self.push(id, object, from, false)
    }

    fn publish(&mut self, _now: Instant, meta: ObjectMeta, object: SimObject) -> Vec<SimAction> {
        let id = meta.id;
        self.remember(id, Some(object), None);
        if let Some(h) = self.history.back_mut() {
            h.push(id);
        }
        self.push(id, object, None, self.cfg.flood_publish)
    }

    fn on_control(&mut self, _now: Instant, from: Node, message: ControlMessage) -> Vec<SimAction> {
        if !self.is_overlay(from) {
            return Vec::new();
        }
        match message.verb {
            ControlVerb::Graft if self.mesh.len() < self.cfg.d_hi => {
                self.mesh.insert(from);
                Vec::new()
            }
            ControlVerb::Graft => vec![Action::SendControl {
                to: from,
                message: ControlMessage {
                    verb: ControlVerb::Prune,
                    hashes: Vec::new(),
                },
            }],
            ControlVerb::Prune => {
                self.mesh.remove(&from);
                Vec::new()
            }
            ControlVerb::IHave => {
                let want: Vec<MessageHash> = message
                    .hashes
                    .into_iter()
                    .filter(|id| !self.seen.contains_key(id) && !self.asked.contains(id))
                    .collect();
                self.asked.extend(want.iter().copied());
                if want.is_empty() {
                    return Vec::new();
                }
                vec![Action::SendControl {
                    to: from,
                    message: ControlMessage {
                        verb: ControlVerb::IWant,
                        hashes: want,
                    },
                }]
            }
            ControlVerb::IWant => message
                .hashes
                .iter()
                .filter_map(|id| match self.seen.get(id) {
                    Some((Some(object), _)) => Some(Action::SendObject {
                        to: vec![from],
                        id: *id,
                        object: *object,
                    }),
                    _ => None,
                })
                .collect(),
        }
    }

    fn on_tick(&mut self, _now: Instant) -> Vec<SimAction> {
        self.ticks += 1;
        if self.ticks % self.cfg.heartbeat_ticks.max(1) == 0 {
            return self.heartbeat();
        }
        Vec::new()
    }
}
