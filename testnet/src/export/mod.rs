//! Exports of a testnet to platforms that run real multi-host networks: Kubernetes ([`k8s`]: a
//! StatefulSet behind a headless Service, peers dialed by stable DNS names) and Compose
//! ([`compose`]: one service per node at a static address). Both share a container image recipe
//! built from the node binary and the libraries it loads ([`write_image`]: `FROM scratch`, so no
//! registry is needed to build it), a Prometheus scrape configuration of every node, and the list
//! of what the platform cannot express ([`not_applied`]). Plain file generation; handles and sends
//! no messages.

use std::path::Path;

use hobbits_actors::NodeId;

use crate::spec::{Action, Dialect, TestnetSpec, Wire};
use crate::TestnetError;

pub mod compose;
pub mod k8s;

/// What both exports write beside their main document `main` (`main_text`): `prometheus.yml`
/// scraping `targets`, `not-applied.md` listing `missing` for `platform`, and the image recipe.
/// Returns the files written, relative to `dir`.
pub(crate) fn write_export(
    dir: &Path,
    program: &Path,
    platform: &str,
    (main, main_text): (&str, &str),
    targets: &[String],
    missing: &[String],
) -> Result<Vec<String>, TestnetError> {
    write(dir, main, main_text)?;
    write(dir, "prometheus.yml", &prometheus_yaml(targets))?;
    write(dir, "not-applied.md", &not_applied_text(platform, missing))?;
    write_image(dir, program)?;
    Ok(
        [main, "prometheus.yml", "not-applied.md", "image/Dockerfile"]
            .map(String::from)
            .to_vec(),
    )
}

/// Port every node listens on.
pub const PORT: u16 = 9000;
/// Port of every node's Prometheus endpoint (`/metrics`).
pub const METRICS_PORT: u16 = 9100;
/// The image tag both exports use (built locally from `image/`).
pub const IMAGE: &str = "hobbits-node:local";
/// Where the binary is in the image.
pub const IMAGE_BIN: &str = "/usr/local/bin/hobbits-node";

/// One node of an export: who it is, what it does and whom it dials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportNode {
    /// Index in the testnet.
    pub index: usize,
    /// Its node id.
    pub node_id: NodeId,
    /// It produces blocks.
    pub producer: bool,
    /// It keeps its chain in `/data`.
    pub persistent: bool,
    /// Topology neighbours it dials over Hobbits (both ends dial, as in netns).
    pub peers: Vec<usize>,
    /// Slot at which it joins (0: from the start).
    pub joins_at: u64,
    /// The wires it speaks (`dialect`, `[[node]]`): it listens on ETH too with `eth` / `both`.
    pub dialect: Dialect,
    /// Topology neighbours it dials over the ETH dialect (`eth+tcp://`, [`ETH_PORT`]).
    pub eth_peers: Vec<usize>,
    /// It runs the gossip overlay (`run --gossip-overlay`).
    pub gossip_overlay: bool,
}

/// The port a node speaking the ETH dialect listens on for it (beside [`PORT`]).
pub const ETH_PORT: u16 = 9001;

/// The nodes of `spec` with `node_ids` (one per node).
pub fn nodes(spec: &TestnetSpec, node_ids: &[NodeId]) -> Result<Vec<ExportNode>, TestnetError> {
    spec.validate()?;
    let edges = spec.edges()?;
    let wires = spec.dialects.wires(&edges);
    let neighbours = |n: usize, wire: Wire| -> Vec<usize> {
        edges
            .iter()
            .zip(&wires)
            .filter(|(_, w)| **w == wire)
            .filter_map(|(&(a, b), _)| match (a == n, b == n) {
                (true, _) => Some(b),
                (_, true) => Some(a),
                _ => None,
            })
            .collect()
    };
    Ok((0..spec.nodes)
        .map(|n| ExportNode {
            index: n,
            node_id: node_ids.get(n).copied().unwrap_or(NodeId(n as u64 + 1)),
            producer: spec.producers.contains(&n),
            persistent: spec.persistent.contains(&n),
            peers: neighbours(n, Wire::Hobbits),
            dialect: spec.dialects.of(n),
            eth_peers: neighbours(n, Wire::Eth),
            gossip_overlay: spec.gossip_overlay.on(n),
            joins_at: spec
                .events
                .iter()
                .find_map(|e| match e.action {
                    Action::Join { node } | Action::SnapshotJoin { node, .. } if node == n => {
                        Some(e.at_slot)
                    }
                    _ => None,
                })
                .unwrap_or(0),
        })
        .collect())
}

/// What `platform` does not apply of `spec`, each naming the key or event: the whole link model
/// (neither platform shapes traffic between pods or containers per link) and the scenario's events
/// (`late_joins`: joins are left to the user, who starts those nodes by hand).
pub fn not_applied(spec: &TestnetSpec, platform: &str, late_joins: &str) -> Vec<String> {
    let mut out: Vec<String> = spec
        .network
        .features()
        .into_iter()
        .map(|(feature, key)| {
            format!("`{key}`: {feature:?} (no per-link shaping between {platform} nodes; use the netns or shadow engine)")
        })
        .collect();
    for (i, e) in spec.events.iter().enumerate() {
        let key = format!("event {i} (`{}` at slot {})", e.action.name(), e.at_slot);
        let why = match e.action {
            Action::Join { .. } | Action::SnapshotJoin { .. } => late_joins,
            _ => "a timed scenario (play it by hand, or use another engine)",
        };
        out.push(format!("{key}: {why}"));
    }
    out
}

/// The `not-applied.md` text of an export.
pub fn not_applied_text(platform: &str, items: &[String]) -> String {
    let mut s = format!(
        "# Not applied by the {platform} export\n\nThe nodes, their roles and their peers are exported; the following parts of the testnet file are not:\n\n"
    );
    if items.is_empty() {
        s.push_str("- nothing: this testnet has no link model and no scenario.\n");
    }
    for item in items {
        s.push_str(&format!("- {item}\n"));
    }
    s
}

/// The Prometheus configuration scraping every node's `/metrics` at `targets`.
pub fn prometheus_yaml(targets: &[String]) -> String {
    let mut s = String::from(
        "# Scrapes every node of the testnet (generated by `hobbits-node testnet --export`).\nglobal:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: hobbits\n    metrics_path: /metrics\n    static_configs:\n      - targets:\n",
    );
    for t in targets {
        s.push_str(&format!("          - {}\n", json(t)));
    }
    s
}

/// A YAML flow scalar (a JSON string is valid YAML).
pub(crate) fn json(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn io(what: String) -> impl Fn(std::io::Error) -> TestnetError {
    move |e| TestnetError::Io {
        what: what.clone(),
        reason: e.to_string(),
    }
}

/// Writes `text` to `dir/name`.
pub(crate) fn write(dir: &Path, name: &str, text: &str) -> Result<(), TestnetError> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
    }
    std::fs::write(&path, text).map_err(io(format!("writing {}", path.display())))
}

/// The image recipe in `dir/image/`: `Dockerfile` (`FROM scratch`, the root file system copied
/// in) and `rootfs/` holding `program` at [`IMAGE_BIN`] and every shared library `ldd` says it
/// loads, at the same paths. `docker build -t hobbits-node:local image/` needs no registry.
pub fn write_image(dir: &Path, program: &Path) -> Result<Vec<String>, TestnetError> {
    let rootfs = dir.join("image/rootfs");
    let mut files = vec![IMAGE_BIN.to_string()];
    let libs = std::process::Command::new("ldd")
        .arg(program)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` and `/lib64/ld-linux-x86-64.so.2 (0x...)`.
    for line in libs.lines() {
        let path = line
            .split("=>")
            .last()
            .and_then(|r| r.split_whitespace().next())
            .filter(|p| p.starts_with('/'));
        if let Some(p) = path {
            files.push(p.to_string());
        }
    }
    for (i, f) in files.iter().enumerate() {
        let from = if i == 0 { program } else { Path::new(f) };
        let to = rootfs.join(f.trim_start_matches('/'));
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(io(format!("creating {}", parent.display())))?;
        }
        std::fs::copy(from, &to).map_err(io(format!(
            "copying {} to {}",
            from.display(),
            to.display()
        )))?;
    }
    write(
        dir,
        "image/Dockerfile",
        &format!(
            "# The hobbits-node image: the binary and the shared libraries it loads, nothing else\n# (no base image, so no registry): docker build -t {IMAGE} image/\nFROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"{IMAGE_BIN}\"]\n"
        ),
    )?;
    Ok(files)
}

#[cfg(test)]
mod tests;
