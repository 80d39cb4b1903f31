//! The namespace engine: every node a `hobbits-node run` process in its own network namespace,
//! on a real (virtual) network the run builds and removes. Its kernel side: [`lab`]
//! (namespaces, bridge, veth, addresses, teardown), [`sweep`] (leftovers of killed runs),
//! [`rules`] (topology, cuts and loss in nftables, bandwidth with tc, the NFQUEUE rule),
//! [`delayer`] (latency and jitter in user space), [`net`] (one run's network and the faults
//! played on it), [`observer`] (connections from the hub, to watch the nodes), and [`command`]
//! (the host tools and the root check).

pub mod command;
pub mod delayer;
pub mod lab;
pub mod net;
pub mod observer;
pub mod rules;
pub mod sweep;

pub use command::{preflight, Tool};
pub use lab::{node_addr, Lab, RunId};
pub use net::{NetPlan, NetnsNet};

/// Why the namespace network could not be set up or changed.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// Root or host tools are missing (the CLI exits 2 with this).
    #[error("the netns engine needs {}", what.join(", "))]
    Missing {
        /// Each missing thing, with what provides it.
        what: Vec<String>,
    },
    /// A host command failed.
    #[error("`{command}` failed: {reason}")]
    Command {
        /// The command line.
        command: String,
        /// Its stderr, or why it did not run.
        reason: String,
    },
    /// Another setup step failed.
    #[error("{what}: {reason}")]
    Setup {
        /// The step.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// More nodes than the address range holds.
    #[error("{nodes} nodes: the namespace engine holds 1..={max}")]
    TooManyNodes {
        /// Nodes asked for.
        nodes: usize,
        /// Nodes the range holds.
        max: usize,
    },
    /// The delayer failed.
    #[error(transparent)]
    Delayer(#[from] delayer::DelayerError),
}

/// Runs `f` on a new thread that has entered the network namespace at `path` (the calling
/// thread and the process stay where they are). `Err` when the namespace cannot be entered.
pub fn in_netns<T: Send + 'static>(
    path: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let path = path.to_string();
    std::thread::spawn(move || {
        enter_netns(&path)?;
        Ok(f())
    })
    .join()
    .map_err(|_| "namespace thread panicked".to_string())?
}

/// Moves the calling thread (only) into the network namespace at `path` (`/run/netns/NAME`);
/// the sockets it opens from then on belong to that namespace, wherever they are used.
pub fn enter_netns(path: &str) -> Result<(), String> {
    let ns = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("setns {path}: {e}"))
}
