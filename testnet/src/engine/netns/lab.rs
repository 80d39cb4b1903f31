//! The network a namespace run creates: a hub namespace holding a bridge, one namespace per node
//! joined to it by a veth pair (`eth0` in the node, `n<index>` in the hub), node addresses from
//! 198.18.0.0/15 (RFC 2544's benchmarking range, never routed on the internet; each run has its
//! own hub, so runs reuse addresses without meeting). Nothing is created in, or changed in, the
//! root namespace except the namespace names under `/run/netns`.
//!
//! Every name starts with the run's prefix `hbt-<owner pid>-<suffix>-` and an owner file under
//! `/run/hobbits-netns/` records the owner's pid and start time, so two runs never collide and
//! the sweep at the next start ([`super::sweep`]) removes only runs whose owner is dead.
//! [`Lab::teardown`] (also on drop) kills every process left in the run's namespaces and deletes
//! them, which removes their interfaces, qdiscs and rules with them.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::command::{find_program, run, Tool};
use super::NetnsError;

/// Every namespace name of the engine starts with this.
pub const NAME_PREFIX: &str = "hbt-";
/// Where owner files live.
pub const OWNER_DIR: &str = "/run/hobbits-netns";
/// The hub bridge's own address: the engine observes nodes from the hub (probes are local to
/// the hub, so the topology rules, which filter forwarded packets only, do not touch them).
pub const HUB_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The first node address; node `i` is this plus `i`.
pub const FIRST_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// The prefix length of the node subnet.
pub const PREFIX_LEN: u8 = 15;
/// Nodes the address range holds.
pub const MAX_NODES: usize = (1 << 17) - 4;
/// The bridge's name in the hub.
pub const BRIDGE: &str = "br0";
/// The node side of its veth pair.
pub const NODE_IF: &str = "eth0";

/// One run's identity: `<owner pid>-<suffix>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunId(String);

impl RunId {
    /// A fresh id for this process (the suffix makes runs of one process distinct).
    pub fn fresh() -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let suffix = (nanos >> 8) ^ NEXT.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9e37);
        RunId(format!("{}-{:x}", std::process::id(), suffix & 0xffffff))
    }

    /// Parses the run id out of a namespace name `hbt-<pid>-<suffix>-<rest>`.
    pub fn from_netns_name(name: &str) -> Option<(RunId, u32)> {
        let rest = name.strip_prefix(NAME_PREFIX)?;
        let mut parts = rest.splitn(3, '-');
        let pid: u32 = parts.next()?.parse().ok()?;
        let suffix = parts.next()?;
        parts.next()?;
        if suffix.is_empty() || !suffix.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        Some((RunId(format!("{pid}-{suffix}")), pid))
    }

    /// The owner's pid.
    pub fn owner_pid(&self) -> Option<u32> {
        self.0.split('-').next()?.parse().ok()
    }

    /// The name prefix of this run's namespaces.
    pub fn prefix(&self) -> String {
        format!("{NAME_PREFIX}{}-", self.0)
    }

    /// The hub namespace's name.
    pub fn hub(&self) -> String {
        format!("{}hub", self.prefix())
    }

    /// Node `index`'s namespace name.
    pub fn node(&self, index: usize) -> String {
        format!("{}n{index}", self.prefix())
    }

    /// The owner file.
    pub fn owner_file(&self) -> PathBuf {
        PathBuf::from(OWNER_DIR).join(&self.0)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Node `index`'s address.
pub fn node_addr(index: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(FIRST_ADDR) + index as u32)
}

/// The node index of an address of the range.
pub fn node_index(addr: Ipv4Addr) -> Option<usize> {
    let offset = u32::from(addr).checked_sub(u32::from(FIRST_ADDR))? as usize;
    (offset < MAX_NODES).then_some(offset)
}

/// `/run/netns/NAME`.
pub fn netns_path(name: &str) -> String {
    format!("/run/netns/{name}")
}

/// The hub interface of node `index`.
pub fn hub_if(index: usize) -> String {
    format!("n{index}")
}

/// A process's start time (field 22 of `/proc/PID/stat`), which tells a live owner from a
/// reused pid.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// A run's namespaces.
#[derive(Debug)]
pub struct Lab {
    run: RunId,
    nodes: usize,
    torn_down: bool,
}

impl Lab {
    /// Creates the hub, the bridge and `nodes` node namespaces, each up with its address.
    /// On failure, whatever was created is removed.
    pub fn create(nodes: usize) -> Result<Lab, NetnsError> {
        if nodes == 0 || nodes > MAX_NODES {
            return Err(NetnsError::TooManyNodes {
                nodes,
                max: MAX_NODES,
            });
        }
        let run = RunId::fresh();
        write_owner(&run)?;
        let mut lab = Lab {
            run,
            nodes,
            torn_down: false,
        };
        if let Err(e) = lab.build() {
            let _ = lab.teardown();
            return Err(e);
        }
        Ok(lab)
    }

    fn build(&mut self) -> Result<(), NetnsError> {
        let hub = self.run.hub();
        // Namespaces and veth pairs from the root namespace (created directly in their
        // namespaces: no interface ever appears in the root namespace).
        let mut root = format!("netns add {hub}\n");
        for i in 0..self.nodes {
            root.push_str(&format!("netns add {}\n", self.run.node(i)));
        }
        for i in 0..self.nodes {
            root.push_str(&format!(
                "link add {NODE_IF} netns {} type veth peer name {} netns {hub}\n",
                self.run.node(i),
                hub_if(i)
            ));
        }
        run(Tool::Ip, &["-batch", "-"], Some(&root))?;
        let mut hub_batch = format!(
            "link set lo up\nlink add {BRIDGE} type bridge stp_state 0 forward_delay 0\nlink set {BRIDGE} up\naddr add {HUB_ADDR}/{PREFIX_LEN} dev {BRIDGE}\n"
        );
        for i in 0..self.nodes {
            hub_batch.push_str(&format!(
                "link set {0} master {BRIDGE}\nlink set {0} up\n",
                hub_if(i)
            ));
        }
        run(Tool::Ip, &["-n", &hub, "-batch", "-"], Some(&hub_batch))?;
        for i in 0..self.nodes {
            let node = format!(
                "link set lo up\naddr add {}/{PREFIX_LEN} dev {NODE_IF}\nlink set {NODE_IF} up\n",
                node_addr(i)
            );
            run(
                Tool::Ip,
                &["-n", &self.run.node(i), "-batch", "-"],
                Some(&node),
            )?;
        }
        // Bridged IPv4 goes through the hub's inet/ip hooks (topology, loss, NFQUEUE).
        super::in_netns(&netns_path(&hub), || {
            std::fs::write("/proc/sys/net/bridge/bridge-nf-call-iptables", "1")
        })
        .and_then(|r| r.map_err(|e| e.to_string()))
        .map_err(|reason| NetnsError::Setup {
            what: "bridge-nf-call-iptables in the hub".into(),
            reason,
        })?;
        Ok(())
    }

    /// The run.
    pub fn run_id(&self) -> &RunId {
        &self.run
    }

    /// Number of node namespaces.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// The hub namespace's name.
    pub fn hub(&self) -> String {
        self.run.hub()
    }

    /// `program` to run inside node `index`'s namespace (`ip netns exec NAME program`, which
    /// execs it: the child's pid is the program's).
    pub fn command(&self, index: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let ip = find_program("ip").unwrap_or_else(|| PathBuf::from("ip"));
        let mut command = Command::new(ip);
        command
            .args(["netns", "exec", &self.run.node(index)])
            .arg(program);
        command
    }

    /// The same as an argument list (program first).
    pub fn command_line(
        &self,
        index: usize,
        program: impl AsRef<std::ffi::OsStr>,
    ) -> Vec<std::ffi::OsString> {
        let command = self.command(index, program);
        std::iter::once(command.get_program().to_owned())
            .chain(command.get_args().map(|a| a.to_owned()))
            .collect()
    }

    /// Kills what runs in the run's namespaces and deletes them (and the owner file).
    pub fn teardown(&mut self) -> Result<(), NetnsError> {
        if self.torn_down {
            return Ok(());
        }
        self.torn_down = true;
        let mut names: Vec<String> = (0..self.nodes).map(|i| self.run.node(i)).collect();
        names.push(self.run.hub());
        remove_namespaces(&self.run, &names)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            tracing::error!(error = %e, run = self.run.as_str(), "netns teardown failed");
        }
    }
}

fn write_owner(run: &RunId) -> Result<(), NetnsError> {
    let pid = std::process::id();
    let start = process_start_time(pid).unwrap_or(0);
    std::fs::create_dir_all(OWNER_DIR)
        .and_then(|()| std::fs::write(run.owner_file(), format!("{pid} {start}\n")))
        .map_err(|e| NetnsError::Setup {
            what: format!("owner file {}", run.owner_file().display()),
            reason: e.to_string(),
        })
}

/// Kills every process in `names` (SIGKILL, then waits up to 5 s for them to go), deletes the
/// namespaces that exist, and removes the run's owner file.
pub(crate) fn remove_namespaces(id: &RunId, names: &[String]) -> Result<(), NetnsError> {
    let existing: Vec<&String> = names
        .iter()
        .filter(|n| std::path::Path::new(&netns_path(n)).exists())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut alive = Vec::new();
        for name in &existing {
            let pids = run(Tool::Ip, &["netns", "pids", name], None).unwrap_or_default();
            alive.extend(
                pids.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
        if alive.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            return Err(NetnsError::Setup {
                what: format!("run {}", id.as_str()),
                reason: format!("processes {alive:?} survived SIGKILL"),
            });
        }
        for pid in alive {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut batch = String::new();
    for name in &existing {
        batch.push_str(&format!("netns delete {name}\n"));
    }
    let deleted = if batch.is_empty() {
        Ok(String::new())
    } else {
        run(Tool::Ip, &["-force", "-batch", "-"], Some(&batch))
    };
    let _ = std::fs::remove_file(id.owner_file());
    deleted.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_run_and_parse_back() {
        let run = RunId("4242-a1b2c3".into());
        assert_eq!(run.hub(), "hbt-4242-a1b2c3-hub");
        assert_eq!(run.node(17), "hbt-4242-a1b2c3-n17");
        assert_eq!(
            RunId::from_netns_name(&run.node(17)),
            Some((run.clone(), 4242))
        );
        assert_eq!(
            RunId::from_netns_name(&run.hub()),
            Some((run.clone(), 4242))
        );
        assert_eq!(run.owner_pid(), Some(4242));
        for other in [
            "hbt-x-1-hub",
            "hbt-12-zz-hub",
            "hbt-12-ab",
            "other-12-ab-hub",
            "hbt--ab-n1",
        ] {
            assert_eq!(RunId::from_netns_name(other), None, "{other}");
        }
    }

    #[test]
    fn fresh_ids_differ_and_belong_to_this_process() {
        let a = RunId::fresh();
        let b = RunId::fresh();
        assert_ne!(a, b);
        assert_eq!(a.owner_pid(), Some(std::process::id()));
        assert_eq!(RunId::from_netns_name(&a.hub()).map(|(r, _)| r), Some(a));
    }

    #[test]
    fn addresses_map_to_indices_inside_the_range() {
        assert_eq!(node_addr(0), Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(node_addr(300), Ipv4Addr::new(198, 18, 1, 46));
        assert_eq!(node_index(node_addr(300)), Some(300));
        assert_eq!(node_index(Ipv4Addr::new(198, 18, 0, 1)), None);
        assert_eq!(node_index(Ipv4Addr::new(127, 0, 0, 1)), None);
        let last = node_addr(MAX_NODES - 1);
        assert_eq!(last, Ipv4Addr::new(198, 19, 255, 253));
    }

    #[test]
    fn start_time_of_this_process_is_readable() {
        assert!(process_start_time(std::process::id()).is_some());
        assert_eq!(process_start_time(u32::MAX), None);
    }
}
