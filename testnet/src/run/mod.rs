//! The testnet driver: [`run_testnet`] builds the links ([`Fabric`]: proxies, or namespaces for
//! the netns engine), starts the nodes, plays the scenario on the slot clock, samples every node's
//! head while it runs (with an optional live progress line), stops production after the last
//! slot, waits (bounded) for every running node to agree on head and finalized checkpoint, and
//! assembles the [`TestnetReport`]. Sends what [`engine`](crate::engine) sends.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hobbits_chain::rpc::Hello;
use hobbits_codec::Topic;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

mod scenario;

use crate::engine::netns::net::NetPlan;
use crate::engine::netns::NetnsNet;
use crate::engine::processes::{unix_now, DataRoot};
use crate::engine::{check_supported, Mode, RunningNode};
use crate::eventlog::NodeLog;
use crate::fabric::Fabric;
use crate::invariants::InvariantResult;
use crate::logreport;
use crate::observe::Observations;
use crate::report::{CatchUp, EventRecord, HeadSample, NodeGossipStats, NodeReport, TestnetReport};
use crate::spec::{Action, TestnetSpec};
use crate::wire::WireLog;
use crate::TestnetError;
use hobbits_actors::NodeId;

/// Most timeline samples kept (older ones are thinned by half when full).
pub const MAX_TIMELINE_SAMPLES: usize = 4096;

/// How to run a testnet.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// In-process actors or one OS process per node.
    pub mode: Mode,
    /// Print a live progress line on stderr (the CLI sets it when stderr is a terminal).
    pub progress: bool,
    /// How often every node is asked for its head; `None`: 20 ms in-process, 200 ms with
    /// processes (each sample is a TCP connection and a HELLO).
    pub poll: Option<Duration>,
    /// Save what the invariants were checked on (each node's log, the faults) in this
    /// directory, for `hobbits-node testnet --check DIR`.
    pub keep_logs: Option<std::path::PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            mode: Mode::InProcess,
            progress: false,
            keep_logs: None,
            poll: None,
        }
    }
}

struct Net<'a> {
    spec: &'a TestnetSpec,
    options: &'a RunOptions,
    edges: Vec<(usize, usize)>,
    fabric: Fabric,
    data_root: DataRoot,
    /// Wall-clock genesis of netns nodes (seconds), so slots and clock skews are real.
    genesis_time: u64,
    /// What the samples showed, for the invariants.
    observed: Observations,
    node_ids: Vec<NodeId>,
    nodes: Vec<Option<RunningNode>>,
    statuses: Vec<Option<Hello>>,
    log: Arc<Mutex<WireLog>>,
    start: Instant,
    timeline: Vec<HeadSample>,
    catch_ups: Vec<CatchUp>,
    events: Vec<EventRecord>,
    node_stats: Vec<Option<NodeGossipStats>>,
    last_progress: Option<Instant>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Node ids derived from the seed (distinct, 63 bits).
pub fn node_ids(seed: u64, nodes: usize) -> Vec<NodeId> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x6e6f_6465_6964);
    let mut seen = BTreeSet::new();
    let mut ids = Vec::with_capacity(nodes);
    while ids.len() < nodes {
        let id = rng.gen::<u64>() >> 1;
        if id != 0 && seen.insert(id) {
            ids.push(NodeId(id));
        }
    }
    ids
}

/// The slot at which each node first starts (0 for initial nodes).
fn start_slots(spec: &TestnetSpec) -> Vec<u64> {
    let mut s = vec![0; spec.nodes];
    for e in &spec.events {
        if let Action::Join { node } | Action::SnapshotJoin { node, .. } = e.action {
            s[node] = e.at_slot;
        }
    }
    s
}

/// Runs `spec` to the end and reports. Must be called on an actix system (in-process nodes are
/// actors; the proxies are tokio tasks).
pub async fn run_testnet(
    spec: &TestnetSpec,
    options: &RunOptions,
) -> Result<TestnetReport, TestnetError> {
    spec.validate()?;
    check_supported(&options.mode, spec)?;
    // Shadow runs the whole testnet as one batch and reports from the nodes' logs.
    if let Mode::Shadow(engine) = &options.mode {
        let ids = node_ids(spec.seed, spec.nodes);
        let keep = options.keep_logs.as_deref();
        return crate::engine::shadow::run_shadow(spec, engine, &ids, keep).await;
    }
    let start = Instant::now();
    let log = Arc::new(Mutex::new(WireLog::new()));
    let edges = spec.edges()?;
    let first = start_slots(spec);
    let network = spec.network.resolve(spec.nodes, &edges);
    let fabric = match &options.mode {
        Mode::Netns {
            queue_max_len,
            fail_open,
            ..
        } => {
            let plan = NetPlan::for_spec(spec, &edges, &network, *queue_max_len, *fail_open);
            NetnsNet::preflight(&plan).map_err(|e| TestnetError::Unsupported {
                what: e.to_string(),
            })?;
            Fabric::kernel_wired(&plan, spec.dialects.wires(&edges))?
        }
        _ => {
            let bandwidth_events = spec
                .events
                .iter()
                .any(|e| matches!(e.action, Action::SetBandwidth { .. }));
            Fabric::proxies_wired(
                &edges,
                &spec.dialects.wires(&edges),
                &first,
                log.clone(),
                start,
                &network,
                spec.seed,
                bandwidth_events,
            )
            .await?
        }
    };
    let data_root = DataRoot::new(spec, options.mode.program().is_some())?;
    let mut net = Net {
        spec,
        options,
        edges,
        fabric,
        data_root,
        genesis_time: unix_now() + 1,
        observed: Observations::new(spec.nodes),
        node_ids: node_ids(spec.seed, spec.nodes),
        nodes: (0..spec.nodes).map(|_| None).collect(),
        statuses: vec![None; spec.nodes],
        log,
        start,
        timeline: Vec::new(),
        catch_ups: Vec::new(),
        events: Vec::new(),
        node_stats: vec![None; spec.nodes],
        last_progress: None,
    };
    let result = net.play().await;
    net.collect_stats().await;
    let record = net.observed.record();
    if let Some(dir) = &options.keep_logs {
        record.save(dir).map_err(|e| TestnetError::Io {
            what: format!("saving the run's logs in {}", dir.display()),
            reason: e.to_string(),
        })?;
    }
    let report = match result {
        Ok(settle) => Ok(net.report(settle, record.check())),
        Err(e) => Err(e),
    };
    net.stop_all().await?;
    report
}

impl Net<'_> {
    fn poll(&self) -> Duration {
        self.options
            .poll
            .unwrap_or_else(|| self.options.mode.poll_interval())
    }

    fn running(&self) -> BTreeSet<usize> {
        (0..self.spec.nodes)
            .filter(|&n| self.nodes[n].is_some())
            .collect()
    }

    fn best_slot_excluding(&self, node: usize) -> u64 {
        self.statuses
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != node)
            .filter_map(|(_, s)| s.as_ref().map(|h| h.best_slot.0))
            .max()
            .unwrap_or(0)
    }

    async fn sample(&mut self) {
        let futures = self.nodes.iter().map(|n| async move {
            match n {
                Some(n) => n.status().await,
                None => None,
            }
        });
        let statuses = join_all(futures).await;
        let now = ms(self.start.elapsed());
        for (i, s) in statuses.into_iter().enumerate() {
            if let Some(hello) = &s {
                self.observed.sampled(i, hello);
            }
            // A process that did not answer this round keeps its last known head.
            if s.is_some() || self.nodes[i].is_none() {
                self.statuses[i] = s;
            }
        }
        for c in self
            .catch_ups
            .iter_mut()
            .filter(|c| c.catch_up_ms.is_none())
        {
            // A node stopped again before catching up never did (this time).
            let Some(h) = &self.statuses[c.node] else {
                continue;
            };
            if h.best_slot.0 >= c.target_slot {
                c.catch_up_ms = Some(now - c.started_at_ms);
            }
        }
        if self.timeline.len() >= MAX_TIMELINE_SAMPLES {
            let kept: Vec<HeadSample> = self.timeline.iter().step_by(2).cloned().collect();
            self.timeline = kept;
        }
        self.timeline.push(HeadSample {
            t_ms: now,
            slots: self
                .statuses
                .iter()
                .map(|s| s.as_ref().map(|h| h.best_slot.0))
                .collect(),
        });
    }

    /// Every running node answered with the same head root and finalized checkpoint.
    fn converged(&self) -> bool {
        let running = self.running();
        let mut seen = running.iter().map(|&n| {
            self.statuses[n].as_ref().map(|h| {
                (
                    h.best_root,
                    h.latest_finalized_root,
                    h.latest_finalized_epoch,
                )
            })
        });
        let Some(Some(first)) = seen.next() else {
            return false;
        };
        seen.all(|s| s == Some(first))
    }

    fn progress(&mut self, slot: u64, phase: &str) {
        // At most ten redraws a second, whatever the sampling rate.
        let due = self
            .last_progress
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
        if !self.options.progress || !due {
            return;
        }
        self.last_progress = Some(Instant::now());
        let best = self.best_slot_excluding(usize::MAX);
        let heads: Vec<String> = self
            .statuses
            .iter()
            .enumerate()
            .map(|(i, s)| match (&self.nodes[i], s) {
                (None, _) => "-".into(),
                (Some(_), None) => "?".into(),
                (Some(_), Some(h)) if h.best_slot.0 + 1 >= best => h.best_slot.0.to_string(),
                (Some(_), Some(h)) => format!("{}!", h.best_slot.0),
            })
            .collect();
        let links: Vec<String> = (0..self.spec.nodes)
            .map(|n| self.links_open(n).to_string())
            .collect();
        let synced = (0..self.spec.nodes)
            .filter(|&n| {
                self.statuses[n]
                    .as_ref()
                    .is_some_and(|h| h.best_slot.0 + 1 >= best)
            })
            .count();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{phase} slot {slot}/{} | heads {} | peers {} | in sync {synced}/{}",
            self.spec.slots,
            heads.join(" "),
            links.join(" "),
            self.running().len()
        );
        let _ = err.flush();
    }

    fn links_open(&self, node: usize) -> usize {
        self.fabric.links_open(node)
    }

    /// Plays the run; returns the settle time when the network converged.
    async fn play(&mut self) -> Result<Option<Duration>, TestnetError> {
        let first = start_slots(self.spec);
        for (node, &slot) in first.iter().enumerate() {
            if slot == 0 {
                self.start_node(node, None).await?;
            }
        }
        let spec = self.spec;
        let clock = Instant::now();
        let run_end = clock + spec.slot * spec.slots as u32;
        let mut next = 0;
        loop {
            let now = Instant::now();
            while let Some(e) = spec.events.get(next) {
                if clock + spec.slot * e.at_slot as u32 > now {
                    break;
                }
                let t_ms = ms(self.start.elapsed());
                let error = self.execute(&e.action).await.err().map(|e| e.to_string());
                self.events.push(EventRecord {
                    t_ms,
                    at_slot: e.at_slot,
                    what: e.action.to_string(),
                    error,
                });
                next += 1;
            }
            self.sample().await;
            let slot = (now.saturating_duration_since(clock).as_millis()
                / spec.slot.as_millis().max(1)) as u64;
            self.progress(slot.min(spec.slots), "run   ");
            if now >= run_end {
                break;
            }
            tokio::time::sleep(self.poll().min(run_end - now)).await;
        }
        for n in self.nodes.iter().flatten() {
            n.stop_producing();
        }
        let settle_start = Instant::now();
        loop {
            self.sample().await;
            self.progress(spec.slots, "settle");
            if self.converged() {
                self.end_progress();
                return Ok(Some(settle_start.elapsed()));
            }
            if settle_start.elapsed() >= spec.settle {
                self.end_progress();
                return Ok(None);
            }
            tokio::time::sleep(self.poll()).await;
        }
    }

    async fn collect_stats(&mut self) {
        let stats = join_all(self.nodes.iter().map(|n| async move {
            match n {
                Some(n) => n.gossip_stats().await,
                None => None,
            }
        }))
        .await;
        self.node_stats = stats
            .into_iter()
            .map(|s| {
                s.map(|s| NodeGossipStats {
                    received: s.received,
                    published: s.published,
                    relayed: s.relayed,
                    duplicates: s.duplicate,
                    imported: s.imported,
                    frames_sent: s.frames_sent,
                })
            })
            .collect();
    }

    fn end_progress(&mut self) {
        self.last_progress = None;
        self.progress(self.spec.slots, "done  ");
        if self.options.progress {
            eprintln!();
        }
    }

    /// The packet delayer's counters (netns engine with latencies).
    fn delayer_report(&self) -> Option<crate::report::DelayerReport> {
        let Mode::Netns {
            queue_max_len,
            fail_open,
            ..
        } = self.options.mode
        else {
            return None;
        };
        let net = self.fabric.kernel_net()?.0;
        let s = net.delayer_stats()?;
        Some(crate::report::DelayerReport {
            received: s.received,
            delayed: s.delayed,
            max_pending: s.max_pending,
            queue_max_len,
            fail_open,
            mean_late_us: s.total_late.as_secs_f64() * 1e6 / s.delayed.max(1) as f64,
            max_late_us: s.max_late.as_secs_f64() * 1e6,
            kernel_queue_dropped: s.kernel_queue_dropped,
            kernel_user_dropped: s.kernel_user_dropped,
            netem_available: net.netem_available(),
        })
    }

    /// Shortest-path link latency from the first producer to every other node.
    fn latency_floor(&self) -> Option<crate::report::LatencySummary> {
        let network = self.spec.network.resolve(self.spec.nodes, &self.edges);
        if network.delay.is_empty() {
            return None;
        }
        let from = *self.spec.producers.first()?;
        let floors: Vec<f64> = network
            .latency_floor(self.spec.nodes, &self.edges, from)
            .into_iter()
            .enumerate()
            .filter(|(n, _)| *n != from)
            .filter_map(|(_, d)| d.map(ms))
            .collect();
        Some(crate::report::LatencySummary::of(&floors))
    }

    /// The event logs the nodes wrote (process engines), read back.
    fn node_event_logs(&self) -> Option<Vec<NodeLog>> {
        if !matches!(
            self.options.mode,
            Mode::Netns { .. } | Mode::Processes { .. }
        ) {
            return None;
        }
        let logs = (0..self.spec.nodes)
            .map(|i| {
                self.data_root
                    .event_log(i)
                    .and_then(|p| std::fs::File::open(p).ok())
                    .and_then(|f| NodeLog::read(std::io::BufReader::new(f)).ok())
                    .unwrap_or_default()
            })
            .collect();
        Some(logs)
    }

    fn report(&self, settle: Option<Duration>, invariants: Vec<InvariantResult>) -> TestnetReport {
        let log = lock(&self.log);
        let (mut blocks, mut block_samples) = log.propagation(Topic::Block);
        let (mut attestations, _) = log.propagation(Topic::Attestation);
        // Without proxies (netns) the nodes' own event logs tell what travelled, on their clocks.
        let all_logs = self.node_event_logs();
        let node_logs = all_logs
            .as_ref()
            .filter(|_| matches!(self.options.mode, Mode::Netns { .. }));
        let log_counters = node_logs.map(|logs| logreport::counters(logs));
        if let Some(logs) = node_logs {
            let outages = self.observed.record().outages;
            let b = logreport::propagation(logs, &outages, logreport::Topic::Blocks);
            blocks = b.summary();
            block_samples = b.per_node;
            attestations =
                logreport::propagation(logs, &outages, logreport::Topic::Attestations).summary();
        }
        let hex = |r: &hobbits_chain::Root| format!("0x{}", hex::encode(r.0));
        let common = settle.and_then(|_| self.statuses.iter().flatten().next().cloned());
        let node_reports = (0..self.spec.nodes)
            .map(|i| {
                let mut c = log.counters(i);
                if let Some(lc) = log_counters.as_ref().and_then(|l| l.get(i)) {
                    c.received = lc.received;
                    c.duplicates = lc.duplicates;
                    c.originated = lc.originated;
                    c.relayed = lc.relayed;
                    c.sent = lc.relayed_frames + lc.originated;
                }
                let s = self.statuses[i].as_ref();
                NodeReport {
                    index: i,
                    node_id: self.node_ids[i].to_string(),
                    running: self.nodes[i].is_some(),
                    producer: self.spec.producers.contains(&i),
                    head_slot: s.map(|h| h.best_slot.0),
                    head_root: s.map(|h| hex(&h.best_root)),
                    finalized_epoch: s.map(|h| h.latest_finalized_epoch.0),
                    finalized_root: s.map(|h| hex(&h.latest_finalized_root)),
                    links_open: self.links_open(i),
                    gossip_sent: c.sent,
                    gossip_relayed: c.relayed,
                    gossip_originated: c.originated,
                    gossip_received: c.received,
                    gossip_duplicates: c.duplicates,
                    node_stats: self.node_stats[i],
                    rss_kib: self.nodes[i].as_ref().and_then(RunningNode::rss_kib),
                    traffic: None,
                }
            })
            .collect();
        let mut report = TestnetReport {
            mode: self.options.mode.name().into(),
            nodes: self.spec.nodes,
            topology: self.spec.topology.to_string(),
            links: self.edges.clone(),
            seed: self.spec.seed,
            slot_ms: self.spec.slot.as_millis() as u64,
            slots: self.spec.slots,
            converged: settle.is_some(),
            settle_ms: settle.map(ms),
            head_slot: common.as_ref().map(|h| h.best_slot.0),
            head_root: common.as_ref().map(|h| hex(&h.best_root)),
            finalized_epoch: common.as_ref().map(|h| h.latest_finalized_epoch.0),
            finalized_root: common.as_ref().map(|h| hex(&h.latest_finalized_root)),
            blocks,
            attestations,
            node_reports,
            catch_ups: self.catch_ups.clone(),
            events: self.events.clone(),
            timeline: self.timeline.clone(),
            block_latency_samples_ms: block_samples,
            block_latency_floor: self.latency_floor(),
            delayer: self.delayer_report(),
            invariants,
            wall_ms: ms(self.start.elapsed()),
            gossip: None,
            block_slots: Vec::new(),
        };
        if let Some(logs) = &all_logs {
            let outages = self.observed.record().outages;
            let overlay = (0..self.spec.nodes)
                .filter(|&n| self.spec.gossip_overlay.on(n))
                .count();
            crate::gossip_figures::fill(&mut report, logs, &outages, overlay);
        }
        report
    }

    async fn stop_all(mut self) -> Result<(), TestnetError> {
        let nodes: Vec<RunningNode> = self.nodes.iter_mut().filter_map(Option::take).collect();
        join_all(nodes.into_iter().map(RunningNode::stop)).await;
        self.fabric.shutdown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_distinct_and_seeded() {
        let a = node_ids(1, 50);
        assert_eq!(a.iter().collect::<BTreeSet<_>>().len(), 50);
        assert_eq!(a, node_ids(1, 50));
        assert_ne!(a, node_ids(2, 50));
        assert!(a.iter().all(|n| n.0 < 1 << 63));
    }

    #[test]
    fn late_joiners_start_at_their_slot() {
        let spec = TestnetSpec::default_for(8);
        let s = start_slots(&spec);
        assert_eq!(s[7], 10);
        assert_eq!(s[0], 0);
        assert_eq!(s[6], 0); // killed and restarted, but started at 0
    }
}
