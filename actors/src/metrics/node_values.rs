//! [`NodeValues`]: the registry's collector for the values the node's `Refresh` copies from the
//! actors ([`NodeGauges`]): encoded at each scrape as constant gauges and counters (the actors
//! keep the counts; the registry only shows them). Gossip and sync families are absent when the
//! node runs no gossip or sync actor. [`InteropValues`] encodes the beacon metrics interop names
//! from the same values. Handles and sends no messages.

use std::fmt;
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::{lock, NodeGauges};

/// Encodes the shared [`NodeGauges`].
#[derive(Debug)]
pub(super) struct NodeValues(pub(super) Arc<Mutex<NodeGauges>>);

fn gauge<N: EncodeGaugeValue + fmt::Debug>(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: N,
) -> fmt::Result {
    let g = ConstGauge::new(value);
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

fn counter(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> fmt::Result {
    let c = ConstCounter::new(value);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

/// Encodes the three cross-client names of the beacon metrics interop set (`libp2p_peers`,
/// `beacon_head_slot`, `beacon_finalized_epoch`) from the same [`NodeGauges`], unprefixed, so
/// dashboards written for the 2019 clients read this node too.
#[derive(Debug)]
pub(super) struct InteropValues(pub(super) Arc<Mutex<NodeGauges>>);

/// A counter family labelled by `reason`, one series per (reason, count).
fn counters_by_reason(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    list: &[(&'static str, u64)],
) -> fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (reason, v) in list {
        ConstCounter::new(*v).encode(m.encode_family(&[("reason", *reason)])?)?;
    }
    Ok(())
}

/// A counter family labelled by `direction` (sent, received) and `verb` (method id order).
fn control_by_verb(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    [sent, received]: [[u64; 4]; 2],
) -> fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (direction, values) in [("sent", sent), ("received", received)] {
        for (verb, v) in ["prune", "graft", "ihave", "iwant"].iter().zip(values) {
            ConstCounter::new(v)
                .encode(m.encode_family(&[("direction", direction), ("verb", *verb)])?)?;
        }
    }
    Ok(())
}

impl Collector for InteropValues {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
        let n = lock(&self.0).clone();
        let e = &mut e;
        gauge(
            e,
            "libp2p_peers",
            "Connected peers (interop name).",
            n.peers,
        )?;
        gauge(
            e,
            "beacon_head_slot",
            "Slot of the head block (interop name).",
            n.head_slot,
        )?;
        gauge(
            e,
            "beacon_finalized_epoch",
            "Epoch of the finalized checkpoint (interop name).",
            n.finalized_epoch,
        )
    }
}

impl Collector for NodeValues {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
        let n = lock(&self.0).clone();
        let e = &mut e;
        gauge(e, "peers", "Handshaked peers.", n.peers)?;
        gauge(
            e,
            "connections",
            "Open connections, handshaked or not.",
            n.connections,
        )?;
        gauge(e, "head_slot", "Slot of the head block.", n.head_slot)?;
        gauge(
            e,
            "finalized_epoch",
            "Epoch of the finalized checkpoint.",
            n.finalized_epoch,
        )?;
        gauge(
            e,
            "finalized_slot",
            "First slot of the finalized epoch.",
            n.finalized_slot,
        )?;
        gauge(
            e,
            "blocks_stored",
            "Blocks in the chain store.",
            n.blocks_stored,
        )?;
        if let Some(c) = &n.slots {
            counters_by_reason(
                e,
                "connections_refused",
                "Connections refused by the slot policy, by reason.",
                &c.refused,
            )?;
            counters_by_reason(
                e,
                "connections_evicted",
                "Connections closed to make room (pending cap, full peer slots), by reason.",
                &c.evicted,
            )?;
        }
        if let Some(g) = &n.gossip {
            for (name, help, v) in [
                ("gossip_received", "Gossip messages received.", g.received),
                (
                    "gossip_relayed",
                    "Objects relayed to other peers (once each).",
                    g.relayed,
                ),
                (
                    "gossip_duplicate",
                    "Gossip messages dropped as duplicates.",
                    g.duplicate,
                ),
                (
                    "gossip_invalid",
                    "Gossip messages dropped as invalid (sender penalised).",
                    g.invalid,
                ),
                (
                    "gossip_imported",
                    "Gossiped objects new to the store.",
                    g.imported,
                ),
                (
                    "gossip_published",
                    "Objects published by this node.",
                    g.published,
                ),
                (
                    "gossip_announced_fetched",
                    "Announced objects fetched by RPC.",
                    g.announced_fetched,
                ),
            ] {
                counter(e, name, help, v)?;
            }
        }
        if let Some(o) = &n.overlay {
            control_by_verb(
                e,
                "gossip_control_frames",
                "Gossip overlay control frames, by direction and verb.",
                [o.frames_sent, o.frames_received],
            )?;
            control_by_verb(
                e,
                "gossip_control_bytes",
                "Bytes of gossip overlay control frames (whole frames), by direction and verb.",
                [o.bytes_sent, o.bytes_received],
            )?;
            counter(
                e,
                "gossip_pulls",
                "Objects announced (IHAVE), asked for (IWANT) and received: overlay repairs.",
                o.pulls,
            )?;
        }
        if let Some(y) = &n.sync {
            gauge(
                e,
                "sync_syncing",
                "1 while a range sync runs.",
                u64::from(y.syncing),
            )?;
            gauge(
                e,
                "sync_target_slot",
                "Slot the range sync aims for (the head when idle).",
                y.target_slot,
            )?;
            gauge(
                e,
                "sync_imported_slot",
                "Every slot below this is imported.",
                y.imported_slot,
            )?;
            gauge(
                e,
                "sync_progress_ratio",
                "Fraction of the current range sync done (1 when idle).",
                y.progress,
            )?;
            counter(
                e,
                "sync_blocks_imported",
                "Blocks imported by range sync.",
                y.blocks_imported,
            )?;
            counter(
                e,
                "sync_completed",
                "Range syncs that reached their target.",
                y.syncs_completed,
            )?;
        }
        Ok(())
    }
}
