//! For the namespace engine's end-to-end tests: whether they can run here (root, `ip`, `nft`,
//! `tc`, `iptables`), the namespaces a run owns, the processes inside them.

use std::process::Command;

/// Root and the tools are here; otherwise prints why the test is skipped.
pub fn netns_ready() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"));
    let tools = ["ip", "nft", "tc", "iptables"].iter().all(|t| {
        Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if root.unwrap_or(false) && tools {
        return true;
    }
    eprintln!("skipped: the netns engine needs root and ip, nft, tc, iptables");
    false
}

/// Namespaces of runs owned by `pid` (`hbt-<pid>-…`).
pub fn namespaces_of(pid: u32) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("hbt-{pid}-")))
        .map(String::from)
        .collect()
}

/// Processes inside `namespaces`.
pub fn pids_in(namespaces: &[String]) -> Vec<u32> {
    namespaces
        .iter()
        .flat_map(|ns| {
            let out = Command::new("ip")
                .args(["netns", "pids", ns])
                .output()
                .expect("ip netns pids");
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// Links in the root namespace (a run must add none).
pub fn root_links() -> usize {
    let out = Command::new("ip")
        .args(["-o", "link"])
        .output()
        .expect("ip link");
    String::from_utf8_lossy(&out.stdout).lines().count()
}
