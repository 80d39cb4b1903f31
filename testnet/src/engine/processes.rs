//! The processes engine: each node is its own OS process (`run` subcommand of the hobbits-node
//! binary), killed and reaped when dropped, observed over the wire with HELLO + GET_STATUS probes
//! (`hobbits_tools::probe`). Sends HELLO and GET_STATUS frames; handles no messages.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hobbits_chain::rpc::Hello;
use hobbits_codec::PeerUri;
use hobbits_tools::probe::Probe;

use super::{NodeLaunch, RunningNode};
use crate::TestnetError;

/// A node running as a child process; killed (SIGKILL) and reaped when dropped, so no node
/// outlives the run.
#[derive(Debug)]
pub struct ProcessNode {
    child: Child,
    addr: SocketAddr,
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
        Some(addr) => Ok(RunningNode::Process(ProcessNode { child, addr })),
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

    /// The node's HELLO (head, finality) from a probe, `None` when it does not answer.
    pub async fn status(&self) -> Option<Hello> {
        let uri = PeerUri::from_socket_addr(self.addr);
        let mut probe = Probe::connect(&uri, PROBE_TIMEOUT).await.ok()?;
        probe
            .status(1, 1, "hobbits-testnet-probe")
            .await
            .ok()
            .map(|r| r.hello)
    }
}
