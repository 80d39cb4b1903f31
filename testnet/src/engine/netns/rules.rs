//! What the kernel enforces between node namespaces, rendered and applied in the hub:
//! - [`LinkRules`] -> one nftables table `inet hobbits` whose forward chain (priority -10, policy
//!   drop, seen by bridged IPv4 through br_netfilter) accepts only the directed pairs of live
//!   topology links: a cut link is missing from the set, so its packets are dropped (silence,
//!   peers time out; no reset). Per directed link loss is a `numgen random` drop rule; links with
//!   a latency get the [`DELAY_MARK`], which the NFQUEUE rule ([`queue_rule_args`]) sends to the
//!   delayer. The table is replaced in one `nft -f` transaction at every change.
//! - [`Bandwidth`] -> tc tbf on the node's `eth0` (upload) and on its hub port (download).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::command::{run, Tool};
use super::lab::{hub_if, node_addr, NODE_IF};
use super::NetnsError;

/// The packet mark of delayed links (iptables matches it to queue the packet).
pub const DELAY_MARK: u32 = 0x4842;
/// The nftables table the engine owns in the hub.
pub const TABLE: &str = "hobbits";
/// Loss is drawn with this resolution (parts per million).
const LOSS_SCALE: u32 = 1_000_000;

/// Node indices of one directed link.
pub type Directed = (usize, usize);

/// The topology's state in the kernel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkRules {
    /// Links of the topology (unordered pairs stored as (low, high)).
    pub links: BTreeSet<(usize, usize)>,
    /// Links cut now (a subset of `links`).
    pub cut: BTreeSet<(usize, usize)>,
    /// Loss probability (0..=1) per directed link.
    pub loss: BTreeMap<Directed, f64>,
    /// Directed links whose packets go through the delayer.
    pub delayed: BTreeSet<Directed>,
}

/// An unordered pair, low index first.
pub fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl LinkRules {
    /// The nft script that replaces the table.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Declaring then deleting makes the delete valid when the table does not exist yet;
        // the whole file is one transaction.
        let _ = writeln!(out, "table inet {TABLE} {{}}\ndelete table inet {TABLE}");
        let _ = writeln!(out, "table inet {TABLE} {{");
        let _ = writeln!(out, "  set links {{ type ipv4_addr . ipv4_addr; }}");
        let _ = writeln!(out, "  set delayed {{ type ipv4_addr . ipv4_addr; }}");
        let _ = writeln!(
            out,
            "  chain forward {{\n    type filter hook forward priority -10; policy drop;"
        );
        let _ = writeln!(out, "    ip saddr . ip daddr @links jump link");
        let _ = writeln!(out, "  }}\n  chain link {{");
        for ((from, to), p) in &self.loss {
            let threshold = (p.clamp(0.0, 1.0) * f64::from(LOSS_SCALE)).round() as u32;
            let (from, to) = (node_addr(*from), node_addr(*to));
            if threshold >= LOSS_SCALE {
                let _ = writeln!(out, "    ip saddr {from} ip daddr {to} counter drop");
            } else if threshold > 0 {
                let _ = writeln!(
                    out,
                    "    ip saddr {from} ip daddr {to} numgen random mod {LOSS_SCALE} < {threshold} counter drop"
                );
            }
        }
        let _ = writeln!(
            out,
            "    ip saddr . ip daddr @delayed meta mark set {DELAY_MARK:#x}"
        );
        let _ = writeln!(out, "    accept\n  }}\n}}");
        let live: Vec<String> = self
            .links
            .difference(&self.cut)
            .flat_map(|&(a, b)| [(a, b), (b, a)])
            .map(|(a, b)| format!("{} . {}", node_addr(a), node_addr(b)))
            .collect();
        add_elements(&mut out, "links", &live);
        let delayed: Vec<String> = self
            .delayed
            .iter()
            .map(|(a, b)| format!("{} . {}", node_addr(*a), node_addr(*b)))
            .collect();
        add_elements(&mut out, "delayed", &delayed);
        out
    }

    /// Replaces the hub's table with this state.
    pub fn apply(&self, hub: &str) -> Result<(), NetnsError> {
        run(
            Tool::Ip,
            &["netns", "exec", hub, "nft", "-f", "-"],
            Some(&self.render()),
        )
        .map(drop)
    }
}

fn add_elements(out: &mut String, set: &str, elements: &[String]) {
    // Chunks keep each line short; nft accepts any number of add element commands.
    for chunk in elements.chunks(256) {
        let _ = writeln!(
            out,
            "add element inet {TABLE} {set} {{ {} }}",
            chunk.join(", ")
        );
    }
}

/// The iptables arguments (in the hub) that queue marked packets to the delayer. No
/// `--queue-bypass`: if the delayer is gone, delayed links go silent rather than undelayed.
pub fn queue_rule_args(queue_num: u16) -> Vec<String> {
    ["-w", "-A", "FORWARD", "-m", "mark", "--mark"]
        .into_iter()
        .map(String::from)
        .chain([
            format!("{DELAY_MARK:#x}"),
            "-j".into(),
            "NFQUEUE".into(),
            "--queue-num".into(),
            queue_num.to_string(),
        ])
        .collect()
}

/// Installs the NFQUEUE rule in the hub (once per run).
pub fn install_queue_rule(hub: &str, queue_num: u16) -> Result<(), NetnsError> {
    let rule = queue_rule_args(queue_num);
    let mut args: Vec<&str> = vec!["netns", "exec", hub, "iptables"];
    args.extend(rule.iter().map(String::as_str));
    run(Tool::Ip, &args, None).map(drop)
}

/// A node's bandwidth, bits per second each way (None: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bandwidth {
    /// From the node (its `eth0` egress).
    pub up_bps: Option<u64>,
    /// To the node (its hub port's egress).
    pub down_bps: Option<u64>,
}

/// `tc` arguments that set (or, with `None`, remove) a tbf on `dev`. The bucket holds 10 ms at
/// the rate (at least 4 KiB), the queue 250 ms (at least 16 KiB), like a modest access link.
pub fn tbf_args(netns: &str, dev: &str, rate_bps: Option<u64>) -> Vec<String> {
    let mut args: Vec<String> = ["-n", netns, "qdisc"].map(String::from).to_vec();
    match rate_bps {
        Some(rate) => {
            let bytes_per_s = rate / 8;
            let burst = (bytes_per_s / 100).max(4096);
            let limit = (bytes_per_s / 4).max(16 * 1024).max(2 * burst);
            args.extend(["replace", "dev", dev, "root", "tbf", "rate"].map(String::from));
            args.extend([
                format!("{rate}bit"),
                "burst".into(),
                burst.to_string(),
                "limit".into(),
                limit.to_string(),
            ]);
        }
        None => args.extend(["del", "dev", dev, "root"].map(String::from)),
    }
    args
}

/// Applies node `index`'s bandwidth on both ends of its veth pair.
pub fn apply_bandwidth(
    hub: &str,
    node_ns: &str,
    index: usize,
    bandwidth: Bandwidth,
) -> Result<(), NetnsError> {
    for (ns, dev, rate) in [
        (node_ns, NODE_IF.to_string(), bandwidth.up_bps),
        (hub, hub_if(index), bandwidth.down_bps),
    ] {
        let args = tbf_args(ns, &dev, rate);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        match run(Tool::Tc, &refs, None) {
            Ok(_) => {}
            // Removing a qdisc that is not there is not an error.
            Err(NetnsError::Command { reason, .. })
                if rate.is_none() && reason.contains("No such file") => {}
            Err(NetnsError::Command { reason, .. })
                if rate.is_none() && reason.contains("Cannot delete qdisc with handle of zero") => {
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether the kernel has netem: adds and removes a netem qdisc on the hub's loopback.
pub fn netem_available(hub: &str) -> bool {
    let added = run(
        Tool::Tc,
        &[
            "-n", hub, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
        ],
        None,
    )
    .is_ok();
    if added {
        let _ = run(
            Tool::Tc,
            &["-n", hub, "qdisc", "del", "dev", "lo", "root"],
            None,
        );
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_live_links_both_ways_without_the_cut_ones() {
        let rules = LinkRules {
            links: [(0, 1), (1, 2)].into(),
            cut: [(1, 2)].into(),
            loss: [((0, 1), 0.02)].into(),
            delayed: [(0, 1), (1, 0)].into(),
        };
        let text = rules.render();
        assert!(text.contains("add element inet hobbits links { 198.18.0.2 . 198.18.0.3, 198.18.0.3 . 198.18.0.2 }"), "{text}");
        assert!(!text.contains("198.18.0.4 ."), "cut link absent: {text}");
        assert!(text.contains("ip saddr 198.18.0.2 ip daddr 198.18.0.3 numgen random mod 1000000 < 20000 counter drop"), "{text}");
        assert!(text.contains(
            "add element inet hobbits delayed { 198.18.0.2 . 198.18.0.3, 198.18.0.3 . 198.18.0.2 }"
        ));
        assert!(text.contains("policy drop"));
    }

    #[test]
    fn zero_loss_and_empty_sets_render_no_rule_or_element() {
        let rules = LinkRules {
            links: [(0, 1)].into(),
            loss: [((0, 1), 0.0)].into(),
            ..Default::default()
        };
        let text = rules.render();
        assert!(!text.contains("numgen"));
        assert!(
            !text.contains("delayed {  }") && !text.contains("add element inet hobbits delayed")
        );
    }

    #[test]
    fn tbf_sizes_follow_the_rate() {
        let args = tbf_args("ns", "eth0", Some(2_000_000));
        assert_eq!(
            args.join(" "),
            "-n ns qdisc replace dev eth0 root tbf rate 2000000bit burst 4096 limit 62500"
        );
        let fast = tbf_args("ns", "eth0", Some(1_000_000_000));
        assert!(fast.join(" ").ends_with("burst 1250000 limit 31250000"));
        assert_eq!(
            tbf_args("ns", "n3", None).join(" "),
            "-n ns qdisc del dev n3 root"
        );
    }

    #[test]
    fn queue_rule_matches_the_mark() {
        assert_eq!(
            queue_rule_args(3).join(" "),
            "-w -A FORWARD -m mark --mark 0x4842 -j NFQUEUE --queue-num 3"
        );
    }
}
