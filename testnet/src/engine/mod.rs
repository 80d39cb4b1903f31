//! Engines: how the nodes of a testnet run. Each engine has its own file with a start function
//! and a node type; [`RunningNode`] is one running node of any engine, [`Mode`] picks the engine.
//!
//! - [`in_process`]: every node's actors on the current actix system, observed through its
//!   store and gossip actors;
//! - [`processes`]: one `hobbits-node run` OS process per node, observed over the wire with
//!   HELLO probes.
//!
//! A new engine is a new file here, a [`Mode`] variant (with its arms in `Mode`'s methods) and a
//! [`RunningNode`] variant; the driver (`run.rs`) knows engines only through these two types.
//! Sends what the engines send; handles no messages.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hobbits_actors::gossip::GossipStats;
use hobbits_actors::NodeId;
use hobbits_chain::rpc::Hello;
use hobbits_chain::Snapshot;

use crate::TestnetError;

pub mod in_process;
pub mod netns;
pub mod processes;

pub use in_process::{start_in_process, InProcessNode};
pub use processes::{start_process, ProcessNode};

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

    /// How often the run samples every node's head: cheap in-process, a TCP probe otherwise.
    pub fn poll_interval(&self) -> Duration {
        match self {
            Mode::InProcess => Duration::from_millis(20),
            Mode::Processes { .. } => Duration::from_millis(200),
        }
    }

    /// Why this engine cannot start a node from a snapshot, if it cannot.
    pub fn snapshot_refusal(&self) -> Option<&'static str> {
        match self {
            Mode::InProcess => None,
            Mode::Processes { .. } => Some(
                "snapshot_join with one process per node (the run command starts from genesis)",
            ),
        }
    }

    /// Starts a node with this engine, from genesis or from `snapshot` (only when
    /// [`Self::snapshot_refusal`] is `None`).
    pub async fn start(
        &self,
        launch: &NodeLaunch,
        snapshot: Option<Snapshot>,
    ) -> Result<RunningNode, TestnetError> {
        match self {
            Mode::InProcess => start_in_process(launch, snapshot).await,
            Mode::Processes { program } => start_process(program, launch).await,
        }
    }
}

/// A running node of any engine.
#[derive(Debug)]
pub enum RunningNode {
    /// Actors on this system.
    InProcess(InProcessNode),
    /// A child process.
    Process(ProcessNode),
}

impl RunningNode {
    /// Where the node listens.
    pub fn listen_addr(&self) -> SocketAddr {
        match self {
            RunningNode::InProcess(n) => n.listen_addr(),
            RunningNode::Process(n) => n.listen_addr(),
        }
    }

    /// The node's HELLO (head, finality), `None` when it does not answer.
    pub async fn status(&self) -> Option<Hello> {
        match self {
            RunningNode::InProcess(n) => n.status().await,
            RunningNode::Process(n) => n.status().await,
        }
    }

    /// The node's own gossip counters (in-process only).
    pub async fn gossip_stats(&self) -> Option<GossipStats> {
        match self {
            RunningNode::InProcess(n) => n.gossip_stats().await,
            RunningNode::Process(_) => None,
        }
    }

    /// A snapshot of the node's store (in-process only).
    pub async fn snapshot(&self) -> Option<Snapshot> {
        match self {
            RunningNode::InProcess(n) => n.snapshot().await,
            RunningNode::Process(_) => None,
        }
    }

    /// Stops block production (in-process; a process keeps producing until stopped).
    pub fn stop_producing(&self) {
        if let RunningNode::InProcess(n) = self {
            n.stop_producing();
        }
    }

    /// Stops the node: GOODBYE to every peer in-process, SIGKILL for a process.
    pub async fn stop(self) {
        match self {
            RunningNode::InProcess(n) => n.stop().await,
            RunningNode::Process(n) => drop(n),
        }
    }
}
