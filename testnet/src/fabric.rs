//! The links between a testnet's nodes, whichever way they are made: [`Fabric::Proxies`] (one
//! loopback TCP proxy per link, shaped in user space by the [`Shaper`] when the link model asks
//! for latency or bandwidth; in-process and processes engines) or [`Fabric::Kernel`] (the nodes'
//! own addresses in network namespaces, the link model applied by the kernel and the delayer;
//! the netns engine). The driver asks it what a node dials, tells it when nodes start and stop,
//! and plays link faults on it: cut / heal, partition / heal, loss and bandwidth changes. Sends
//! no messages.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::engine::netns::net::{NetPlan, NetnsNet};
use crate::engine::netns::observer::HubConnector;
use crate::engine::netns::rules::Bandwidth;
use crate::link::LinkProxy;
use crate::network::{Loss, ResolvedNetwork};
use crate::shaper::Shaper;
use crate::spec::Wire;
use crate::wire::WireLog;
use crate::TestnetError;

/// Where every node listens in a namespace (each has its own address).
pub const NETNS_PORT: u16 = 9000;
/// Where a node speaking the ETH dialect listens for it in a namespace (beside [`NETNS_PORT`]).
pub const NETNS_ETH_PORT: u16 = 9001;

/// Proxied links.
#[derive(Debug)]
pub struct Proxies {
    links: Vec<LinkProxy>,
    edges: Vec<(usize, usize)>,
    cut: BTreeSet<(usize, usize)>,
    partition: BTreeSet<(usize, usize)>,
    shaper: Option<Arc<Mutex<Shaper>>>,
}

/// Links in the kernel between namespaces.
#[derive(Debug)]
pub struct Kernel {
    net: NetnsNet,
    hub: HubConnector,
    edges: Vec<(usize, usize)>,
    /// The wire of each edge.
    wires: Vec<Wire>,
    cut: BTreeSet<(usize, usize)>,
    partitioned: bool,
    group_of: BTreeMap<usize, usize>,
}

/// How the nodes are linked.
#[derive(Debug)]
pub enum Fabric {
    /// Loopback proxies.
    Proxies(Proxies),
    /// Namespaces (boxed: the larger of the two by far).
    Kernel(Box<Kernel>),
}

fn io(what: &str) -> impl Fn(std::io::Error) -> TestnetError + '_ {
    move |e| TestnetError::Io {
        what: what.into(),
        reason: e.to_string(),
    }
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

/// The edges crossing between the groups of a partition (nodes in no group form one group).
pub fn crossing(
    edges: &[(usize, usize)],
    groups: &[(String, Vec<usize>)],
) -> BTreeSet<(usize, usize)> {
    let group_of = |n: usize| groups.iter().position(|(_, g)| g.contains(&n));
    edges
        .iter()
        .filter(|(a, b)| group_of(*a) != group_of(*b))
        .copied()
        .collect()
}

impl Fabric {
    /// One proxy per edge; the later-starting end (`first[n]`: its start slot) dials. Every link
    /// carries EWP frames.
    pub async fn proxies(
        edges: &[(usize, usize)],
        first: &[u64],
        log: Arc<Mutex<WireLog>>,
        start: Instant,
        network: &ResolvedNetwork,
        seed: u64,
        always_shape: bool,
    ) -> Result<Fabric, TestnetError> {
        let wires = vec![Wire::Hobbits; edges.len()];
        Self::proxies_wired(
            edges,
            &wires,
            first,
            log,
            start,
            network,
            seed,
            always_shape,
        )
        .await
    }

    /// [`Fabric::proxies`] with the wire of each edge (`wires[i]` for `edges[i]`).
    #[expect(
        clippy::too_many_arguments,
        reason = "proxies' arguments plus the wires; a struct for one call site adds nothing"
    )]
    pub async fn proxies_wired(
        edges: &[(usize, usize)],
        wires: &[Wire],
        first: &[u64],
        log: Arc<Mutex<WireLog>>,
        start: Instant,
        network: &ResolvedNetwork,
        seed: u64,
        always_shape: bool,
    ) -> Result<Fabric, TestnetError> {
        let shaper = Shaper::new(
            &network.bandwidth,
            network.delay.clone().into_iter().collect(),
            seed,
        );
        // Unshaped links skip the shaper; a bandwidth change later in the scenario needs it.
        let shaper = (always_shape || !shaper.is_idle()).then(|| Arc::new(Mutex::new(shaper)));
        let mut links = Vec::with_capacity(edges.len());
        for (i, &(a, b)) in edges.iter().enumerate() {
            let (dialer, listener) = if (first[a], a) > (first[b], b) {
                (a, b)
            } else {
                (b, a)
            };
            let wire = wires.get(i).copied().unwrap_or(Wire::Hobbits);
            // One end dials, on either wire: the node redials lost peers of both dialects.
            let proxy =
                LinkProxy::bind_wire(dialer, listener, log.clone(), start, shaper.clone(), wire)
                    .await
                    .map_err(io("link proxy"))?;
            links.push(proxy);
        }
        Ok(Fabric::Proxies(Proxies {
            links,
            edges: edges.to_vec(),
            cut: BTreeSet::new(),
            partition: BTreeSet::new(),
            shaper,
        }))
    }

    /// The namespaces, rules and delayer for `plan` (blocking: a few `ip` / `nft` / `tc` runs);
    /// every link carries EWP frames.
    pub fn kernel(plan: &NetPlan) -> Result<Fabric, TestnetError> {
        Self::kernel_wired(plan, vec![Wire::Hobbits; plan.edges.len()])
    }

    /// [`Fabric::kernel`] with the wire of each of `plan`'s edges.
    pub fn kernel_wired(plan: &NetPlan, wires: Vec<Wire>) -> Result<Fabric, TestnetError> {
        let failed = |e: crate::engine::netns::NetnsError| TestnetError::Io {
            what: "netns".into(),
            reason: e.to_string(),
        };
        let net = NetnsNet::create(plan).map_err(failed)?;
        let hub = HubConnector::start(&crate::engine::netns::lab::netns_path(&net.lab().hub()))
            .map_err(failed)?;
        Ok(Fabric::Kernel(Box::new(Kernel {
            net,
            hub,
            edges: plan.edges.clone(),
            wires,
            cut: BTreeSet::new(),
            partitioned: false,
            group_of: BTreeMap::new(),
        })))
    }

    /// The namespace network (netns engine).
    pub fn kernel_net(&self) -> Option<(&NetnsNet, &HubConnector)> {
        match self {
            Fabric::Kernel(k) => Some((&k.net, &k.hub)),
            Fabric::Proxies(_) => None,
        }
    }

    /// The addresses `node` dials over Hobbits: its proxies, or every topology neighbour's own
    /// address (both ends dial; the node keeps one connection per peer).
    pub fn peers_for(&self, node: usize) -> Vec<SocketAddr> {
        self.peers_on(node, Wire::Hobbits)
    }

    /// The addresses `node` dials over `wire` (`eth+tcp://` for [`Wire::Eth`]).
    pub fn peers_on(&self, node: usize, wire: Wire) -> Vec<SocketAddr> {
        match self {
            Fabric::Proxies(p) => p
                .links
                .iter()
                .filter(|l| l.dialer == node && l.wire == wire)
                .map(|l| l.addr())
                .collect(),
            Fabric::Kernel(k) => {
                let port = match wire {
                    Wire::Hobbits => NETNS_PORT,
                    Wire::Eth => NETNS_ETH_PORT,
                };
                k.edges
                    .iter()
                    .zip(&k.wires)
                    .filter(|(_, w)| **w == wire)
                    .filter_map(|(&(a, b), _)| match (a == node, b == node) {
                        (true, _) => Some(b),
                        (_, true) => Some(a),
                        _ => None,
                    })
                    .map(|n| SocketAddr::from((k.net.addr(n), port)))
                    .collect()
            }
        }
    }

    /// A node listens at `addr` now (proxies forward to it).
    pub fn node_started(&self, node: usize, addr: SocketAddr) {
        self.node_started_on(node, addr, None);
    }

    /// A node listens at `addr`, and on the ETH wire at `eth` (proxies of ETH links forward
    /// there; without it they refuse connections).
    pub fn node_started_on(&self, node: usize, addr: SocketAddr, eth: Option<SocketAddr>) {
        if let Fabric::Proxies(p) = self {
            for l in p.links.iter().filter(|l| l.listener == node) {
                l.set_target(match l.wire {
                    Wire::Hobbits => Some(addr),
                    Wire::Eth => eth,
                });
            }
        }
    }

    /// A node is gone (proxies refuse its connections).
    pub fn node_stopped(&self, node: usize) {
        if let Fabric::Proxies(p) = self {
            for l in p.links.iter().filter(|l| l.listener == node) {
                l.set_target(None);
            }
        }
    }

    /// Cuts or heals one link.
    pub fn set_cut(&mut self, a: usize, b: usize, cut: bool) -> Result<(), TestnetError> {
        let key = pair(a, b);
        match self {
            Fabric::Proxies(p) => {
                if cut {
                    p.cut.insert(key)
                } else {
                    p.cut.remove(&key)
                };
                p.apply();
                Ok(())
            }
            Fabric::Kernel(k) => {
                if cut {
                    k.cut.insert(key)
                } else {
                    k.cut.remove(&key)
                };
                let result = if cut {
                    k.net.cut(a, b)
                } else {
                    k.net.heal(a, b)
                };
                result.map_err(netns_err)
            }
        }
    }

    /// Splits the network into groups (`None`: heals the partition).
    pub fn set_partition(
        &mut self,
        groups: Option<&[(String, Vec<usize>)]>,
    ) -> Result<(), TestnetError> {
        match self {
            Fabric::Proxies(p) => {
                p.partition = groups.map(|g| crossing(&p.edges, g)).unwrap_or_default();
                p.apply();
                Ok(())
            }
            Fabric::Kernel(k) => {
                k.partitioned = groups.is_some();
                k.group_of = groups
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .flat_map(|(i, (_, nodes))| nodes.iter().map(move |n| (*n, i)))
                    .collect();
                match groups {
                    Some(g) => {
                        let lists: Vec<Vec<usize>> = g.iter().map(|(_, n)| n.clone()).collect();
                        k.net.partition(&lists).map_err(netns_err)
                    }
                    None => k.net.heal_partition().map_err(netns_err),
                }
            }
        }
    }

    /// A link's loss, both directions (the kernel only: a proxy cannot lose part of a stream).
    pub fn set_loss(&mut self, a: usize, b: usize, loss: Loss) -> Result<(), TestnetError> {
        match self {
            Fabric::Proxies(_) => Err(TestnetError::Unsupported {
                what: "loss on proxied links".into(),
            }),
            Fabric::Kernel(k) => {
                k.net.set_loss(a, b, loss.fraction()).map_err(netns_err)?;
                k.net.set_loss(b, a, loss.fraction()).map_err(netns_err)
            }
        }
    }

    /// A node's bandwidth from now on.
    pub fn set_bandwidth(
        &mut self,
        node: usize,
        up_bps: Option<u64>,
        down_bps: Option<u64>,
    ) -> Result<(), TestnetError> {
        match self {
            Fabric::Proxies(p) => match &p.shaper {
                Some(shaper) => {
                    lock(shaper).set_bandwidth(node, up_bps, down_bps);
                    Ok(())
                }
                None => Err(TestnetError::Unsupported {
                    what: "a bandwidth change on links started unshaped".into(),
                }),
            },
            Fabric::Kernel(k) => k
                .net
                .set_bandwidth(node, Bandwidth { up_bps, down_bps })
                .map_err(netns_err),
        }
    }

    /// Open links of `node`: forwarded connections (proxies), or topology links the kernel lets
    /// through now (namespaces: whether the nodes use them is theirs to say).
    pub fn links_open(&self, node: usize) -> usize {
        match self {
            // Count links, not connections (a link carries a few during redials).
            Fabric::Proxies(p) => p
                .links
                .iter()
                .filter(|l| (l.dialer == node || l.listener == node) && l.open_connections() > 0)
                .count(),
            Fabric::Kernel(k) => k
                .edges
                .iter()
                .filter(|&&(a, b)| (a == node || b == node) && !k.cut.contains(&(a, b)))
                .filter(|&&(a, b)| !k.partitioned || k.group_of.get(&a) == k.group_of.get(&b))
                .count(),
        }
    }

    /// Removes everything (proxies closed; namespaces, rules and processes in them removed).
    pub fn shutdown(self) -> Result<(), TestnetError> {
        match self {
            Fabric::Proxies(p) => {
                drop(p);
                Ok(())
            }
            Fabric::Kernel(k) => {
                let stats = k.net.shutdown().map_err(netns_err)?;
                if let Some(s) = stats {
                    tracing::info!(?s, "delayer at the end");
                }
                Ok(())
            }
        }
    }
}

impl Proxies {
    fn apply(&self) {
        for l in &self.links {
            let edge = pair(l.dialer, l.listener);
            l.set_cut(self.cut.contains(&edge) || self.partition.contains(&edge));
        }
    }
}

fn netns_err(e: crate::engine::netns::NetnsError) -> TestnetError {
    TestnetError::Io {
        what: "netns".into(),
        reason: e.to_string(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
