//! One run's network as the engine drives it: the [`Lab`] (namespaces), the kernel rules
//! ([`LinkRules`], bandwidth), and the delayer when a link has a latency; and the operations a
//! scenario plays on it: cut / heal a link, partition into groups / heal, change loss or
//! bandwidth, and signal node processes (kill -9, freeze, thaw). Sends [`DelayerCommand`]s to
//! the delayer thread; handles nothing.
//!
//! [`DelayerCommand`]: super::delayer::DelayerCommand

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::command::{preflight, Tool};
use super::delayer::{DelayerConfig, DelayerHandle, DelayerStats, LinkDelay, QueueSettings};
use super::lab::{netns_path, node_addr, Lab};
use super::rules::{apply_bandwidth, install_queue_rule, pair, Bandwidth, LinkRules};
use super::NetnsError;

/// The queue number the delayer binds in the hub (each hub is its own namespace).
pub const QUEUE_NUM: u16 = 0;

/// What the network is built with.
#[derive(Debug, Clone, Default)]
pub struct NetPlan {
    /// Nodes (namespaces).
    pub nodes: usize,
    /// Topology links.
    pub edges: Vec<(usize, usize)>,
    /// Latency and jitter per link (both directions).
    pub delay: BTreeMap<(usize, usize), (Duration, Duration)>,
    /// Loss fraction per directed link.
    pub loss: BTreeMap<(usize, usize), f64>,
    /// Bandwidth per node.
    pub bandwidth: Vec<Bandwidth>,
    /// Jitter seed.
    pub seed: u64,
    /// Kernel queue length for the delayer.
    pub queue_max_len: u32,
    /// Accept over-limit packets undelayed instead of dropping them.
    pub fail_open: bool,
}

impl NetPlan {
    /// The plan of a testnet: its links, the link model resolved on them, and the delayer's
    /// queue settings.
    pub fn for_spec(
        spec: &crate::spec::TestnetSpec,
        edges: &[(usize, usize)],
        network: &crate::network::ResolvedNetwork,
        queue_max_len: u32,
        fail_open: bool,
    ) -> NetPlan {
        NetPlan {
            nodes: spec.nodes,
            edges: edges.to_vec(),
            delay: network.delay.clone(),
            loss: network
                .loss
                .iter()
                .map(|(k, l)| (*k, l.fraction()))
                .collect(),
            bandwidth: network
                .bandwidth
                .iter()
                .map(|&(up_bps, down_bps)| Bandwidth { up_bps, down_bps })
                .collect(),
            seed: spec.seed,
            queue_max_len,
            fail_open,
        }
    }
}

/// A live namespace network.
#[derive(Debug)]
pub struct NetnsNet {
    lab: Lab,
    rules: LinkRules,
    cuts: BTreeSet<(usize, usize)>,
    partition: Option<Vec<BTreeSet<usize>>>,
    delayer: Option<DelayerHandle>,
    netem: bool,
}

impl NetnsNet {
    /// Checks root and the tools this plan needs (`iptables` only with a latency), and removes
    /// leftovers of dead runs.
    pub fn preflight(plan: &NetPlan) -> Result<(), NetnsError> {
        let mut tools = vec![Tool::Ip, Tool::Nft, Tool::Tc];
        if !plan.delay.is_empty() {
            tools.push(Tool::Iptables);
        }
        preflight(&tools)?;
        let swept = super::sweep::sweep()?;
        if !swept.removed.is_empty() {
            tracing::warn!(
                runs = swept.removed.len(),
                "removed namespaces of dead runs"
            );
        }
        Ok(())
    }

    /// Builds the namespaces, the rules, the bandwidth limits and (with any latency) the
    /// delayer. Everything is removed again if a step fails.
    pub fn create(plan: &NetPlan) -> Result<NetnsNet, NetnsError> {
        let lab = Lab::create(plan.nodes)?;
        let hub = lab.hub();
        let mut rules = LinkRules {
            links: plan.edges.iter().map(|&(a, b)| pair(a, b)).collect(),
            ..Default::default()
        };
        rules.loss = plan.loss.clone();
        let mut delays = Vec::new();
        for (&(a, b), &(latency, jitter)) in &plan.delay {
            let d = LinkDelay { latency, jitter };
            delays.push(((node_addr(a), node_addr(b)), d));
            delays.push(((node_addr(b), node_addr(a)), d));
            rules.delayed.insert((a, b));
            rules.delayed.insert((b, a));
        }
        let delayer = if delays.is_empty() {
            None
        } else {
            let queue = QueueSettings {
                queue_num: QUEUE_NUM,
                max_len: plan.queue_max_len.max(64),
                fail_open: plan.fail_open,
                rcvbuf: 16 << 20,
            };
            let config = DelayerConfig {
                netns: Some(netns_path(&hub)),
                queue,
                seed: plan.seed,
            };
            let handle = DelayerHandle::start(config, delays)?;
            install_queue_rule(&hub, QUEUE_NUM)?;
            Some(handle)
        };
        rules.apply(&hub)?;
        for (i, bw) in plan
            .bandwidth
            .iter()
            .enumerate()
            .filter(|(_, bw)| **bw != Bandwidth::default())
        {
            apply_bandwidth(&hub, &lab.run_id().node(i), i, *bw)?;
        }
        // The delayer is used either way; whether netem exists is reported (it is the kernel's
        // own delay, but one qdisc per link direction would be needed to give links their own).
        let netem = delayer.is_some() && super::rules::netem_available(&hub);
        Ok(NetnsNet {
            lab,
            rules,
            cuts: BTreeSet::new(),
            partition: None,
            delayer,
            netem,
        })
    }

    /// The lab (names, commands).
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// Node `index`'s address.
    pub fn addr(&self, index: usize) -> Ipv4Addr {
        node_addr(index)
    }

    fn reapply(&mut self) -> Result<(), NetnsError> {
        let mut cut = self.cuts.clone();
        if let Some(groups) = &self.partition {
            let group_of = |n: usize| groups.iter().position(|g| g.contains(&n));
            cut.extend(
                self.rules
                    .links
                    .iter()
                    .filter(|(a, b)| group_of(*a) != group_of(*b))
                    .copied(),
            );
        }
        self.rules.cut = cut;
        self.rules.apply(&self.lab.hub())
    }

    /// Cuts a topology link: its packets are dropped from now on.
    pub fn cut(&mut self, a: usize, b: usize) -> Result<(), NetnsError> {
        self.cuts.insert(pair(a, b));
        self.reapply()
    }

    /// Heals a cut link.
    pub fn heal(&mut self, a: usize, b: usize) -> Result<(), NetnsError> {
        self.cuts.remove(&pair(a, b));
        self.reapply()
    }

    /// Splits the network: links between different groups are cut (nodes in no group form one
    /// more group together).
    pub fn partition(&mut self, groups: &[Vec<usize>]) -> Result<(), NetnsError> {
        let mut sets: Vec<BTreeSet<usize>> =
            groups.iter().map(|g| g.iter().copied().collect()).collect();
        let listed: BTreeSet<usize> = sets.iter().flatten().copied().collect();
        let rest: BTreeSet<usize> = (0..self.lab.nodes())
            .filter(|n| !listed.contains(n))
            .collect();
        if !rest.is_empty() {
            sets.push(rest);
        }
        self.partition = Some(sets);
        self.reapply()
    }

    /// Ends the partition (explicit cuts stay).
    pub fn heal_partition(&mut self) -> Result<(), NetnsError> {
        self.partition = None;
        self.reapply()
    }

    /// Sets the loss of a directed link (0 removes it).
    pub fn set_loss(&mut self, from: usize, to: usize, fraction: f64) -> Result<(), NetnsError> {
        if fraction <= 0.0 {
            self.rules.loss.remove(&(from, to));
        } else {
            self.rules.loss.insert((from, to), fraction);
        }
        self.reapply()
    }

    /// Sets a node's bandwidth.
    pub fn set_bandwidth(&mut self, node: usize, bandwidth: Bandwidth) -> Result<(), NetnsError> {
        apply_bandwidth(
            &self.lab.hub(),
            &self.lab.run_id().node(node),
            node,
            bandwidth,
        )
    }

    /// Sends `signal` to a node process (SIGKILL, SIGSTOP, SIGCONT).
    pub fn signal(pid: u32, signal: Signal) -> Result<(), NetnsError> {
        kill(Pid::from_raw(pid as i32), signal).map_err(|e| NetnsError::Setup {
            what: format!("{signal} to pid {pid}"),
            reason: e.to_string(),
        })
    }

    /// Whether the kernel has netem (probed when links have a latency; the delayer is used
    /// either way).
    pub fn netem_available(&self) -> bool {
        self.netem
    }

    /// The delayer's counters (None without a latency).
    pub fn delayer_stats(&self) -> Option<DelayerStats> {
        self.delayer.as_ref().and_then(|d| d.stats().ok())
    }

    /// Stops the delayer and removes everything (also on drop).
    pub fn shutdown(mut self) -> Result<Option<DelayerStats>, NetnsError> {
        let stats = self.delayer.take().map(DelayerHandle::stop).transpose()?;
        self.lab.teardown()?;
        Ok(stats)
    }
}
