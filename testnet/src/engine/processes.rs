//! The processes engine: each node is its own OS process (`run` subcommand of the hobbits-node
//! binary), killed and reaped when dropped. On 127.0.0.1 every node runs with `--http` and is
//! observed through its Beacon API (head header and finality checkpoints,
//! `hobbits_tools::beacon_api`); the namespace engine starts its nodes here too, inside their
//! namespaces ([`ProcessPlace`]), without `--http`, and probes them from the hub with HELLO +
//! GET_STATUS (`hobbits_tools::probe`). Sends HTTP GETs, or HELLO and GET_STATUS frames; handles
//! no messages.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hobbits_chain::rpc::Hello;
use hobbits_codec::PeerUri;
use hobbits_tools::beacon_api::BeaconApi;
use hobbits_tools::probe::Probe;

use super::netns::observer::HubConnector;
use super::{NodeLaunch, RunningNode};
use crate::spec::TestnetSpec;
use crate::TestnetError;

/// A node running as a child process; killed (SIGKILL) and reaped when dropped, so no node
/// outlives the run.
#[derive(Debug)]
pub struct ProcessNode {
    child: Child,
    addr: SocketAddr,
    /// Where it listens on the ETH dialect, when it speaks it.
    eth_addr: Option<SocketAddr>,
    /// Probes connect from the hub namespace (namespace engine).
    hub: Option<HubConnector>,
    /// The node's Beacon API, when it runs with `--http` (loopback nodes).
    api: Option<BeaconApi>,
}

impl Drop for ProcessNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reasonable wait for a node to print where it listens.
const PROCESS_START_TIMEOUT: Duration = Duration::from_secs(20);
/// Probe timeout.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// Where and how a node process runs.
#[derive(Debug, Clone)]
pub struct ProcessPlace {
    /// The command that runs the binary (`program`, or `ip netns exec NS program`).
    pub command: Vec<std::ffi::OsString>,
    /// `--listen` (`127.0.0.1:0`, or the node's own address in its namespace).
    pub listen: SocketAddr,
    /// `--eth-listen` for a node speaking the ETH dialect (`127.0.0.1:0`, or its own address
    /// in its namespace on `fabric::NETNS_ETH_PORT`).
    pub eth_listen: SocketAddr,
    /// Extra `run` flags (`--ban-ms 0` behind proxies, `--genesis-time`, ...).
    pub flags: Vec<String>,
    /// Probe from this hub (namespace engine).
    pub hub: Option<HubConnector>,
}

impl ProcessPlace {
    /// On 127.0.0.1, a free port, bans off (a cut proxy would otherwise get banned).
    pub fn loopback(program: &Path) -> Self {
        ProcessPlace {
            command: vec![program.as_os_str().to_owned()],
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            eth_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            flags: vec!["--ban-ms".into(), "0".into()],
            hub: None,
        }
    }
}

/// Starts `program run` for a node and waits until it prints its listen address.
pub async fn start_process(
    program: &Path,
    launch: &NodeLaunch,
) -> Result<RunningNode, TestnetError> {
    start_process_at(ProcessPlace::loopback(program), launch).await
}

/// Starts a node process at `place` and waits until it prints its listen address.
pub async fn start_process_at(
    place: ProcessPlace,
    launch: &NodeLaunch,
) -> Result<RunningNode, TestnetError> {
    let failed = |reason: String| TestnetError::NodeStart {
        node: launch.index,
        reason,
    };
    let Some((program, prefix)) = place.command.split_first() else {
        return Err(failed("no command".into()));
    };
    let mut cmd = Command::new(program);
    cmd.args(prefix)
        .arg("run")
        .args(["--listen", &place.listen.to_string(), "--log", "warn"])
        .args(&place.flags)
        .args(["--node-id", &launch.node_id.0.to_string()]);
    // Observed through the API where the observer can reach it: on loopback (a namespaced node's
    // API would be inside its namespace, where the hub's HELLO probes already reach).
    let with_http = place.hub.is_none();
    if with_http {
        cmd.args(["--http", "127.0.0.1:0"]);
    }
    if let Some(dir) = &launch.data_dir {
        cmd.arg("--data-dir").arg(dir);
    }
    if let Some(file) = &launch.clock_skew_file {
        cmd.arg("--clock-skew-file").arg(file);
    }
    if let Some(file) = &launch.event_log {
        cmd.arg("--event-log").arg(file);
        if launch.attest {
            cmd.arg("--attest");
        }
    }
    for p in &launch.peers {
        cmd.args(["--peer", &PeerUri::from_socket_addr(*p).to_string()]);
    }
    let with_eth = launch.dialect.speaks_eth();
    if with_eth {
        cmd.args(["--eth-listen", &place.eth_listen.to_string()]);
    }
    for p in &launch.eth_peers {
        cmd.args(["--peer", &format!("eth+tcp://{p}")]);
    }
    if launch.gossip_overlay {
        cmd.arg("--gossip-overlay");
    }
    if let Some(slot) = launch.produce {
        cmd.args(["--produce", "--slot-ms", &slot.as_millis().to_string()]);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd
        .spawn()
        .map_err(|e| failed(format!("cannot run {}: {e}", program.to_string_lossy())))?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        return Err(failed("no stdout".into()));
    };
    // The child's stdout is read on a thread (std pipes block); it keeps draining afterwards.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        let (mut listen, mut http, mut eth) = (None, None, None);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("listening on ") {
                listen = Some(rest.trim().to_string());
            } else if let Some(rest) = line.strip_prefix("http on http://") {
                http = rest.trim().parse::<SocketAddr>().ok();
            } else if let Some(rest) = line.strip_prefix("eth listening on eth+tcp://") {
                eth = rest.trim().parse::<SocketAddr>().ok();
            }
            if listen.is_some() && (http.is_some() || !with_http) && (eth.is_some() || !with_eth) {
                if let (Some(tx), Some(l)) = (tx.take(), listen.take()) {
                    let _ = tx.send((l, http, eth));
                }
            }
        }
    });
    let (line, http, eth_addr) = match tokio::time::timeout(PROCESS_START_TIMEOUT, rx).await {
        Ok(Ok(lines)) => lines,
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed(
                "did not print its listen (and http, eth) address".into(),
            ));
        }
    };
    let addr = line
        .parse::<PeerUri>()
        .ok()
        .and_then(|u| u.host_port().parse::<SocketAddr>().ok());
    match addr {
        Some(addr) => Ok(RunningNode::Process(ProcessNode {
            child,
            addr,
            eth_addr,
            hub: place.hub,
            api: http.map(|a| BeaconApi::new(a, PROBE_TIMEOUT)),
        })),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(failed(format!("unreadable listen address `{line}`")))
        }
    }
}

impl ProcessNode {
    /// Where the node listens.
    pub fn listen_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the node listens on the ETH dialect, when it speaks it.
    pub fn eth_addr(&self) -> Option<SocketAddr> {
        self.eth_addr
    }

    /// The process id (for SIGSTOP / SIGCONT).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The node's head and finality (from its API, else from a HELLO probe), `None` when it does
    /// not answer.
    pub async fn status(&self) -> Option<Hello> {
        if let Some(api) = &self.api {
            let s = api.head_and_finality().await.ok()?;
            // The API does not carry network and chain ids; every testnet node runs 1 and 1.
            return Some(Hello {
                network_id: 1,
                chain_id: 1,
                latest_finalized_root: s.finalized_root,
                latest_finalized_epoch: s.finalized_epoch,
                best_root: s.head_root,
                best_slot: s.head_slot,
            });
        }
        let mut probe = match &self.hub {
            None => {
                let uri = PeerUri::from_socket_addr(self.addr);
                Probe::connect(&uri, PROBE_TIMEOUT).await.ok()?
            }
            Some(hub) => {
                let (hub, addr) = (hub.clone(), self.addr);
                let stream = tokio::task::spawn_blocking(move || hub.connect(addr, PROBE_TIMEOUT))
                    .await
                    .ok()?
                    .ok()?;
                stream.set_nonblocking(true).ok()?;
                let stream = tokio::net::TcpStream::from_std(stream).ok()?;
                Probe::over(stream, PROBE_TIMEOUT)
            }
        };
        probe
            .status(1, 1, "hobbits-testnet-probe")
            .await
            .ok()
            .map(|r| r.hello)
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The run's files for node processes, removed at the end of the run: data directories of
/// persistent nodes and clock skew files of nodes whose slot clock the scenario skews.
#[derive(Debug)]
pub struct DataRoot(Option<std::path::PathBuf>);

impl DataRoot {
    /// A fresh directory when node processes need one: `logs` (their event logs), persistent
    /// nodes or clock skews.
    pub fn new(spec: &TestnetSpec, logs: bool) -> Result<DataRoot, TestnetError> {
        if !logs && spec.persistent.is_empty() && skewed(spec).is_empty() {
            return Ok(DataRoot(None));
        }
        let dir = std::env::temp_dir().join(format!(
            "hobbits-testnet-{}-{}",
            std::process::id(),
            unix_now()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| TestnetError::Io {
            what: format!("data directory {}", dir.display()),
            reason: e.to_string(),
        })?;
        Ok(DataRoot(Some(dir)))
    }

    /// Node `node`'s data directory (persistent nodes only).
    pub fn for_node(&self, spec: &TestnetSpec, node: usize) -> Option<std::path::PathBuf> {
        let root = self.0.as_ref()?;
        spec.persistent
            .contains(&node)
            .then(|| root.join(format!("node-{node}")))
    }

    /// Node `node`'s event log (when the directory exists).
    pub fn event_log(&self, node: usize) -> Option<std::path::PathBuf> {
        Some(self.0.as_ref()?.join(format!("events-{node}.jsonl")))
    }

    /// Node `node`'s clock skew file (nodes with a `clock_skew` event only).
    pub fn skew_file(&self, spec: &TestnetSpec, node: usize) -> Option<std::path::PathBuf> {
        let root = self.0.as_ref()?;
        skewed(spec)
            .contains(&node)
            .then(|| root.join(format!("skew-{node}")))
    }
}

/// Nodes the scenario skews.
fn skewed(spec: &TestnetSpec) -> Vec<usize> {
    spec.events
        .iter()
        .filter_map(|e| match e.action {
            crate::spec::Action::ClockSkew { node, .. } => Some(node),
            _ => None,
        })
        .collect()
}

impl Drop for DataRoot {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
