//! The gossip figures' plain records, as the testnet report carries them: one run's totals
//! ([`GossipSummary`], with the lines the report prints) and each block's propagation
//! ([`SlotPropagation`]). Filled from the node event logs by `gossip_figures` (which reads the
//! report, so the records live here and the report imports only them). Plain data, no messages.

use serde::{Deserialize, Serialize};

/// One block's propagation (blocks are one per slot; two producers in a slot give two rows).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlotPropagation {
    /// The block's slot.
    pub slot: u64,
    /// Nodes that received it by gossip.
    pub received: usize,
    /// Nodes live when it was produced that never received it by gossip.
    pub missed: usize,
    /// Median time from its production to a node's first copy, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile of that time, ms.
    pub p99_ms: Option<f64>,
    /// Objects pulled (announced, asked for, received) by every node between this block's
    /// production and the next one's (from the `gossip_traffic` lines: up to
    /// [`crate::eventlog::TRAFFIC_INTERVAL_MS`] late).
    pub pulls: u64,
}

/// The gossip figures of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GossipSummary {
    /// Nodes that ran the overlay.
    pub overlay_nodes: usize,
    /// Objects gossiped (blocks and attestations).
    pub objects: usize,
    /// Duplicate copies received per running node per object.
    pub duplicates_per_node_per_object: Option<f64>,
    /// Objects that reached every node live at their origin, over the objects.
    pub delivery_ratio: Option<f64>,
    /// Block propagation per node, median, ms.
    pub block_p50_ms: Option<f64>,
    /// Block propagation per node, 99th percentile, ms.
    pub block_p99_ms: Option<f64>,
    /// Bytes of every GOSSIP-protocol frame written by every node (objects and control).
    pub gossip_bytes: u64,
    /// ...of which overlay control frames.
    pub control_bytes: u64,
    /// ...and the rest: the objects (`gossip_bytes - control_bytes`).
    pub object_bytes: u64,
    /// Control frames written, every node.
    pub control_frames: u64,
    /// Control frames by verb: PRUNE, GRAFT, IHAVE, IWANT.
    pub control_frames_by_verb: [u64; 4],
    /// Control bytes by verb.
    pub control_bytes_by_verb: [u64; 4],
    /// Control frames per object gossiped (the whole network's).
    pub control_frames_per_object: Option<f64>,
    /// Control bytes per object gossiped (the whole network's).
    pub control_bytes_per_object: Option<f64>,
    /// Objects pulled by IWANT, every node.
    pub pulls: u64,
    /// Trees moved to a faster announcer, every node.
    pub moved: u64,
    /// Missing objects given up, every node.
    pub gave_up: u64,
}

impl GossipSummary {
    /// The report's lines.
    pub fn render(&self) -> Vec<String> {
        let f = |x: Option<f64>, d: usize| x.map_or("-".to_string(), |v| format!("{v:.d$}"));
        let v = self.control_frames_by_verb;
        vec![
            format!(
                "gossip figures ({} overlay nodes): {} duplicates per node per object, delivery ratio {}, blocks p50 {} ms p99 {} ms",
                self.overlay_nodes,
                f(self.duplicates_per_node_per_object, 2),
                f(self.delivery_ratio, 4),
                f(self.block_p50_ms, 1),
                f(self.block_p99_ms, 1)
            ),
            format!(
                "  gossip bytes {} (objects {}, control {}); control per object: {} frames, {} bytes",
                self.gossip_bytes,
                self.object_bytes,
                self.control_bytes,
                f(self.control_frames_per_object, 2),
                f(self.control_bytes_per_object, 0)
            ),
            format!(
                "  control frames: PRUNE {}, GRAFT {}, IHAVE {}, IWANT {}; pulls {}, trees moved {}, given up {}",
                v[0], v[1], v[2], v[3], self.pulls, self.moved, self.gave_up
            ),
        ]
    }
}
