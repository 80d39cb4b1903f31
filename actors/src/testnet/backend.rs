//! How testnet nodes run: [`Backend::InProcess`] starts each node's actors on the current actix
//! system (`start_node`, with the sync actor wired to the peer manager), observed through the
//! chain store (`GetHello`); [`Backend::Processes`] runs each node as its own OS process (`run`
//! subcommand of the hobbits-node binary), observed over the wire with HELLO probes. Sends
//! `GetHello`, `WithStore`, `Subscribe`, `StopProducer`; handles no messages.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix::prelude::*;
use hobbits_chain::rpc::Hello;
use hobbits_chain::{Snapshot, StoreConfig};

use crate::chain_store::{GetHello, WithStore};
use crate::config::{NodeConfig, ProducerConfig};
use crate::gossip::{
    start_node_with_sync_gossip, GetGossipStats, GossipStats, SubscribeChainEvents, SyncGossip,
    SyncGossipConfig,
};
use crate::node::{memory_store, NodeHandle, NodeHooks, StopProducer};
use crate::peer_table::NodeId;
use crate::testnet::attester::Attester;
use crate::testnet::TestnetError;
use hobbits_codec::uri::PeerUri;
use hobbits_tools::probe::Probe;

/// What a node is started with.
#[derive(Debug, Clone)]
pub struct NodeLaunch {
    /// Index in the testnet.
    pub index: usize,
    /// Its node id.
    pub node_id: NodeId,
    /// Static peers (link proxies it dials).
    pub peers: Vec<SocketAddr>,
    /// Slot duration, when it produces blocks.
    pub produce: Option<Duration>,
}

/// Where the nodes run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Every node's actors on this process's actix system.
    InProcess,
    /// One OS process per node: `program run ...` (the hobbits-node binary).
    Processes {
        /// The hobbits-node binary (the CLI passes `std::env::current_exe()`).
        program: PathBuf,
    },
}

impl Mode {
    /// `in-process` or `processes`.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::InProcess => "in-process",
            Mode::Processes { .. } => "processes",
        }
    }
}

/// A running node.
#[derive(Debug)]
pub enum RunningNode {
    /// Actors on this system.
    InProcess {
        handle: NodeHandle,
        actors: SyncGossip,
        attester: Addr<Attester>,
    },
    /// A child process and the address it listens on.
    Process { child: ChildGuard, addr: SocketAddr },
}

/// A child process killed (SIGKILL) and reaped when dropped, so no node outlives the run.
#[derive(Debug)]
pub struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reasonable wait for a node to print where it listens.
const PROCESS_START_TIMEOUT: Duration = Duration::from_secs(20);
/// Probe timeout (process mode).
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

fn node_config(launch: &NodeLaunch) -> NodeConfig {
    let mut c = NodeConfig::local_test();
    c.node_id = launch.node_id;
    c.peers = launch
        .peers
        .iter()
        .map(|a| PeerUri::from_socket_addr(*a))
        .collect();
    c.producer = launch
        .produce
        .map(|slot_duration| ProducerConfig { slot_duration });
    // Bans would make a cut-and-healed link (or a killed node's half-written frame) stick.
    c.timeouts.ban = Duration::ZERO;
    c
}

/// Starts a node in-process, from genesis or from `snapshot`.
pub async fn start_in_process(
    launch: &NodeLaunch,
    snapshot: Option<Snapshot>,
) -> Result<RunningNode, TestnetError> {
    let config = node_config(launch);
    let failed = |reason: String| TestnetError::NodeStart {
        node: launch.index,
        reason,
    };
    let store: Box<dyn hobbits_chain::ChainStore + Send> = match snapshot {
        Some(s) => Box::new(
            s.into_store(StoreConfig::default())
                .map_err(|e| failed(format!("snapshot: {e}")))?,
        ),
        None => Box::new(memory_store(&config).map_err(|e| failed(e.to_string()))?),
    };
    let (handle, actors) = start_node_with_sync_gossip(
        config,
        store,
        NodeHooks::default(),
        SyncGossipConfig::default(),
    )
    .await
    .map_err(|e| failed(e.to_string()))?;
    let attester = Attester::new(
        launch.index as u64,
        handle.store.clone(),
        actors.gossip.clone(),
    )
    .start();
    let imported = || SubscribeChainEvents {
        imported: Some(attester.clone().recipient()),
        penalized: None,
    };
    actors.gossip.do_send(imported());
    actors.sync.do_send(imported());
    Ok(RunningNode::InProcess {
        handle,
        actors,
        attester,
    })
}

/// Starts `program run` for a node and waits until it prints its listen address.
pub async fn start_process(
    program: &PathBuf,
    launch: &NodeLaunch,
) -> Result<RunningNode, TestnetError> {
    let failed = |reason: String| TestnetError::NodeStart {
        node: launch.index,
        reason,
    };
    let mut cmd = Command::new(program);
    cmd.arg("run")
        .args(["--listen", "127.0.0.1:0", "--log", "warn", "--ban-ms", "0"])
        .args(["--node-id", &launch.node_id.0.to_string()]);
    for p in &launch.peers {
        cmd.args(["--peer", &PeerUri::from_socket_addr(*p).to_string()]);
    }
    if let Some(slot) = launch.produce {
        cmd.args(["--produce", "--slot-ms", &slot.as_millis().to_string()]);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd
        .spawn()
        .map_err(|e| failed(format!("cannot run {}: {e}", program.display())))?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        return Err(failed("no stdout".into()));
    };
    // The child's stdout is read on a thread (std pipes block); it keeps draining afterwards.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("listening on ") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(rest.trim().to_string());
                }
            }
        }
    });
    let line = match tokio::time::timeout(PROCESS_START_TIMEOUT, rx).await {
        Ok(Ok(line)) => line,
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed("did not print its listen address".into()));
        }
    };
    let addr = line
        .parse::<PeerUri>()
        .ok()
        .and_then(|u| u.host_port().parse::<SocketAddr>().ok());
    match addr {
        Some(addr) => Ok(RunningNode::Process {
            child: ChildGuard(child),
            addr,
        }),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(failed(format!("unreadable listen address `{line}`")))
        }
    }
}

impl RunningNode {
    /// Where the node listens.
    pub fn listen_addr(&self) -> SocketAddr {
        match self {
            RunningNode::InProcess { handle, .. } => handle.listen_addr,
            RunningNode::Process { addr, .. } => *addr,
        }
    }

    /// The node's HELLO (head, finality), `None` when it does not answer.
    pub async fn status(&self) -> Option<Hello> {
        match self {
            RunningNode::InProcess { handle, .. } => handle.store.send(GetHello).await.ok(),
            RunningNode::Process { addr, .. } => {
                let uri = PeerUri::from_socket_addr(*addr);
                let mut probe = Probe::connect(&uri, PROBE_TIMEOUT).await.ok()?;
                probe
                    .status(1, 1, "hobbits-testnet-probe")
                    .await
                    .ok()
                    .map(|r| r.hello)
            }
        }
    }

    /// The node's own gossip counters (in-process only).
    pub async fn gossip_stats(&self) -> Option<GossipStats> {
        match self {
            RunningNode::InProcess { actors, .. } => actors.gossip.send(GetGossipStats).await.ok(),
            RunningNode::Process { .. } => None,
        }
    }

    /// A snapshot of the node's store (in-process only).
    pub async fn snapshot(&self) -> Option<Snapshot> {
        let RunningNode::InProcess { handle, .. } = self else {
            return None;
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        handle
            .store
            .send(WithStore {
                f: Box::new(move |store| {
                    let _ = tx.send(Snapshot::from_store(&*store, None));
                }),
            })
            .await
            .ok()?;
        rx.await.ok()
    }

    /// Stops block production (in-process; a process keeps producing until stopped).
    pub fn stop_producing(&self) {
        if let RunningNode::InProcess { handle, .. } = self {
            if let Some(p) = &handle.producer {
                p.do_send(StopProducer);
            }
        }
    }

    /// Stops the node: GOODBYE to every peer in-process, SIGKILL for a process.
    pub async fn stop(self) {
        match self {
            RunningNode::InProcess {
                handle,
                actors,
                attester,
            } => {
                handle.shutdown(Duration::from_millis(500)).await;
                // Dropping the last addresses stops the actors once their queues drain.
                drop((actors, attester));
            }
            RunningNode::Process { child, .. } => drop(child),
        }
    }
}
