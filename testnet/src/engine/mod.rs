//! Engines: how the nodes of a testnet run. Each engine has its own file with a start function
//! and a node type; [`RunningNode`] is one running node of any engine, [`Mode`] picks the engine.
//!
//! - [`in_process`]: every node's actors on the current actix system, observed through its
//!   store and gossip actors;
//! - [`processes`]: one `hobbits-node run` OS process per node, observed over the wire with
//!   HELLO probes;
//! - [`netns`]: one `hobbits-node run` process per node in its own network namespace, on a
//!   network the kernel shapes (processes started by [`processes`], probed from the hub);
//! - [`shadow`]: the Shadow simulator runs one `hobbits-node run` per simulated host; the run is
//!   a batch (files written, `shadow` run to the end), reported from the nodes' event logs.
//!
//! [`check_supported`] refuses, naming the key, what an engine cannot apply.
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

use crate::network::Feature;
use crate::spec::{Action, Dialect, TestnetSpec};
use crate::TestnetError;

pub mod in_process;
pub mod netns;
pub mod processes;
pub mod shadow;

pub use in_process::{start_in_process, InProcessNode};
pub use processes::{start_process, start_process_at, ProcessNode, ProcessPlace};

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
    /// Where it keeps its chain across restarts (persistent nodes of process engines).
    pub data_dir: Option<PathBuf>,
    /// Where the scenario writes its slot clock's skew (process engines).
    pub clock_skew_file: Option<PathBuf>,
    /// Where the node writes its event log (process engines).
    pub event_log: Option<PathBuf>,
    /// It attests: one attestation per head change (`run --attest`, or an in-process
    /// `Attester`).
    pub attest: bool,
    /// The wires it speaks: with `eth` or `both` it listens on the ETH dialect too.
    pub dialect: Dialect,
    /// Static peers it dials over the ETH dialect (`eth+tcp://`).
    pub eth_peers: Vec<SocketAddr>,
    /// It runs the gossip overlay (`run --gossip-overlay`) rather than plain flood.
    pub gossip_overlay: bool,
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
    /// One process per node, each in its own network namespace (root only).
    Netns {
        /// The hobbits-node binary.
        program: PathBuf,
        /// The delayer's kernel queue length.
        queue_max_len: u32,
        /// Accept packets undelayed when that queue is full (instead of dropping them).
        fail_open: bool,
    },
    /// The Shadow simulator: one simulated host per node running the node binary.
    Shadow(shadow::ShadowEngine),
}

impl Mode {
    /// `in-process` or `processes`.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::InProcess => "in-process",
            Mode::Processes { .. } => "processes",
            Mode::Netns { .. } => "netns",
            Mode::Shadow(_) => "shadow",
        }
    }

    /// The binary process engines run.
    pub fn program(&self) -> Option<&PathBuf> {
        match self {
            Mode::InProcess => None,
            Mode::Processes { program } | Mode::Netns { program, .. } => Some(program),
            Mode::Shadow(e) => Some(&e.program),
        }
    }

    /// How often the run samples every node's head: cheap in-process, a TCP probe otherwise.
    pub fn poll_interval(&self) -> Duration {
        match self {
            Mode::InProcess => Duration::from_millis(20),
            Mode::Processes { .. } | Mode::Netns { .. } | Mode::Shadow(_) => {
                Duration::from_millis(200)
            }
        }
    }

    /// Why this engine cannot start a node from a snapshot, if it cannot.
    pub fn snapshot_refusal(&self) -> Option<&'static str> {
        match self {
            Mode::InProcess => None,
            Mode::Processes { .. } | Mode::Netns { .. } | Mode::Shadow(_) => Some(
                "snapshot_join with one process per node (the run command starts from genesis or its own store)",
            ),
        }
    }

    /// Starts a node with this engine, from genesis or from `snapshot` (only when
    /// [`Self::snapshot_refusal`] is `None`); a process at `place` when given (a netns node in
    /// its namespace), else on 127.0.0.1.
    pub async fn start(
        &self,
        launch: &NodeLaunch,
        snapshot: Option<Snapshot>,
        place: Option<ProcessPlace>,
    ) -> Result<RunningNode, TestnetError> {
        match (self, place) {
            (Mode::InProcess, _) => start_in_process(launch, snapshot).await,
            (_, Some(place)) => start_process_at(place, launch).await,
            (Mode::Processes { program }, None) => start_process(program, launch).await,
            (Mode::Netns { .. }, None) => Err(TestnetError::NodeStart {
                node: launch.index,
                reason: "a netns node needs its namespace".into(),
            }),
            (Mode::Shadow(_), None) => Err(TestnetError::NodeStart {
                node: launch.index,
                reason: "a Shadow node runs inside the simulation (run_shadow)".into(),
            }),
        }
    }
}

/// Most nodes the engines on this machine run (each node is a set of actors, a process or a
/// namespace here); the Shadow engine goes to `spec::MAX_NODES`.
pub const MAX_LOCAL_NODES: usize = 256;

/// Refuses (exit 2 in the CLI, naming the key or action) what `mode` cannot apply to `spec`:
/// loss needs the kernel (netns); freeze / thaw and persistent stores need processes; a
/// snapshot join needs in-process nodes; a clock skew needs the node's wall-clock slots (netns).
pub fn check_supported(mode: &Mode, spec: &TestnetSpec) -> Result<(), TestnetError> {
    let refuse = |what: String| {
        Err(TestnetError::Unsupported {
            what: format!("{what} with the {} engine", mode.name()),
        })
    };
    if matches!(mode, Mode::Shadow(_)) {
        return shadow::config::check_supported(spec);
    }
    if spec.nodes > MAX_LOCAL_NODES {
        return refuse(format!(
            "`nodes` = {} (at most {MAX_LOCAL_NODES} on this machine; --engine shadow runs more)",
            spec.nodes
        ));
    }
    let netns = matches!(mode, Mode::Netns { .. });
    let processes = !matches!(mode, Mode::InProcess);
    if !netns {
        if let Some(key) = spec.network.features().get(&Feature::Loss) {
            return refuse(format!(
                "`{key}`: loss (a proxy forwards a TCP stream of whole frames: it cannot lose packets; use --engine netns)"
            ));
        }
    }
    if !processes && !spec.persistent.is_empty() {
        return refuse("`persistent` (in-process nodes keep no store across a restart)".into());
    }
    for (i, e) in spec.events.iter().enumerate() {
        let key = format!("event {i} (`{}` at slot {})", e.action.name(), e.at_slot);
        match e.action {
            Action::SnapshotJoin { .. } => {
                if let Some(why) = mode.snapshot_refusal() {
                    return refuse(format!("{key}: {why}"));
                }
            }
            Action::Freeze { .. } | Action::Thaw { .. } if !processes => {
                return refuse(format!("{key}: freezing needs a node process"))
            }
            Action::SetLoss { .. } if !netns => {
                return refuse(format!("{key}: loss needs the kernel (--engine netns)"))
            }
            Action::ClockSkew { .. } if !netns => {
                return refuse(format!(
                    "{key}: clock skew needs wall-clock slots (--engine netns)"
                ))
            }
            _ => {}
        }
    }
    Ok(())
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

    /// Where the node listens on the ETH dialect (nodes speaking it).
    pub fn eth_addr(&self) -> Option<SocketAddr> {
        match self {
            RunningNode::InProcess(n) => n.eth_addr(),
            RunningNode::Process(n) => n.eth_addr(),
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

    /// Resident memory of the node's process, KiB (process engines).
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.pid()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
    }

    /// The process id (process engines).
    pub fn pid(&self) -> Option<u32> {
        match self {
            RunningNode::InProcess(_) => None,
            RunningNode::Process(n) => Some(n.pid()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ScenarioEvent;

    fn refusal(mode: &Mode, spec: &TestnetSpec) -> Option<String> {
        check_supported(mode, spec).err().map(|e| e.to_string())
    }

    #[test]
    fn each_engine_refuses_what_it_cannot_apply_naming_the_key() {
        let program = PathBuf::from("hobbits-node");
        let in_process = Mode::InProcess;
        let processes = Mode::Processes {
            program: program.clone(),
        };
        let netns = Mode::Netns {
            program,
            queue_max_len: 64,
            fail_open: false,
        };
        let mut lossy = TestnetSpec::default_for(4);
        lossy.network = TestnetSpec::from_toml("nodes = 4\n[network]\nloss = 0.01")
            .expect("valid")
            .network;
        let text = refusal(&in_process, &lossy).expect("in-process has no loss");
        assert!(
            text.contains("`network.loss`") && text.contains("in-process"),
            "{text}"
        );
        assert!(refusal(&processes, &lossy).is_some());
        assert_eq!(refusal(&netns, &lossy), None);

        let mut frozen = TestnetSpec::default_for(4);
        frozen.events = vec![
            ScenarioEvent {
                at_slot: 2,
                action: Action::Freeze { node: 1 },
            },
            ScenarioEvent {
                at_slot: 3,
                action: Action::Thaw { node: 1 },
            },
        ];
        let text = refusal(&in_process, &frozen).expect("no process to freeze");
        assert!(text.contains("event 0 (`freeze` at slot 2)"), "{text}");
        assert_eq!(refusal(&processes, &frozen), None);
        assert_eq!(refusal(&netns, &frozen), None);

        let mut snapshot = TestnetSpec::default_for(4);
        snapshot.events = vec![ScenarioEvent {
            at_slot: 2,
            action: Action::SnapshotJoin { node: 3, from: 0 },
        }];
        assert!(refusal(&netns, &snapshot).is_some());
        assert_eq!(refusal(&in_process, &snapshot), None);

        let mut persistent = TestnetSpec::default_for(4);
        persistent.persistent = vec![1];
        assert!(refusal(&in_process, &persistent)
            .expect("refused")
            .contains("`persistent`"));
        assert_eq!(refusal(&netns, &persistent), None);

        // More than 256 nodes only in Shadow.
        let big = TestnetSpec::default_for(MAX_LOCAL_NODES + 1);
        let text = refusal(&processes, &big).expect("too many for this machine");
        assert!(
            text.contains("`nodes` = 257") && text.contains("shadow"),
            "{text}"
        );
        let shadow = Mode::Shadow(shadow::ShadowEngine {
            program: PathBuf::from("hobbits-node"),
            shadow: PathBuf::from("shadow"),
            site_size: None,
        });
        assert_eq!(refusal(&shadow, &big), None);
        assert!(refusal(&shadow, &frozen)
            .expect("no SIGCONT")
            .contains("`freeze`"));
    }
}
