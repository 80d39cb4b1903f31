//! The site file: what a `hobbits-node site FILE` process runs — several nodes in one process on
//! one address (one port each), as the in-process engine runs many nodes on one actix system. The
//! Shadow engine packs the nodes with no role in the scenario into sites so a 10,000-node testnet
//! fits under the open-file limit (Shadow holds about 5 files per managed process). Plain data
//! (serde JSON); handles and sends no messages.

use serde::{Deserialize, Serialize};

/// Most nodes one site runs.
pub const MAX_SITE_NODES: usize = 256;
/// Largest site file read.
pub const MAX_SITE_FILE: u64 = 16 << 20;

/// One site: its nodes and what they share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteFile {
    /// Genesis time of every node (seconds since the Unix epoch).
    pub genesis_time: u64,
    /// Every node attests to its new heads (as `run --attest`).
    pub attest: bool,
    /// The nodes.
    pub nodes: Vec<SiteNode>,
}

/// One node of a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteNode {
    /// `ip:port` it listens on.
    pub listen: String,
    /// Its node id.
    pub node_id: u64,
    /// `hob+tcp://` peers it dials.
    pub peers: Vec<String>,
    /// Its event log (relative: to the site's working directory).
    pub event_log: Option<String>,
    /// It runs the gossip overlay (as `run --gossip-overlay`); absent: plain flood.
    #[serde(default)]
    pub gossip_overlay: bool,
}

/// Why a site file is refused.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// Unreadable.
    #[error("site file: {0}")]
    Io(#[from] std::io::Error),
    /// Over [`MAX_SITE_FILE`] bytes.
    #[error("site file over {MAX_SITE_FILE} bytes")]
    TooLarge,
    /// Not a site file.
    #[error("site file: {0}")]
    Json(#[from] serde_json::Error),
    /// No node, or more than [`MAX_SITE_NODES`].
    #[error("site file: {0} nodes (1..={MAX_SITE_NODES})")]
    Nodes(usize),
}

impl SiteFile {
    /// Reads and checks a site file.
    pub fn read(path: &std::path::Path) -> Result<SiteFile, SiteError> {
        if std::fs::metadata(path)?.len() > MAX_SITE_FILE {
            return Err(SiteError::TooLarge);
        }
        let site: SiteFile = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        if site.nodes.is_empty() || site.nodes.len() > MAX_SITE_NODES {
            return Err(SiteError::Nodes(site.nodes.len()));
        }
        Ok(site)
    }
}
