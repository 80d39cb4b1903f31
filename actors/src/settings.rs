//! Layered node settings for the binary: a TOML file, `HOBBITS_…` environment variables and
//! command-line flags, in increasing precedence over the defaults of [`NodeConfig`]. Produces a
//! validated [`NodeConfig`] or a [`ConfigError`] naming the bad value. Handles no messages.
//!
//! Keys (file, and environment with the `HOBBITS_` prefix; nested keys use `__`, e.g.
//! `HOBBITS_LIMITS__MAX_PEERS`; `HOBBITS_PEERS` is a comma-separated list):
//! `listen`, `peers`, `network_id`, `chain_id`, `genesis_time`, `node_id`, `user_agent`,
//! `produce`, `slot_ms`, `log`, `data_dir`, `[limits]` (`max_peers`, `max_outstanding_requests`,
//! `max_inbound_requests`, `session_mailbox`, `actor_mailbox`, `max_bans`, `max_header_len`,
//! `max_body_len`, `max_response_items`), `[timeouts]` (`handshake_ms`, `request_ms`, `dial_ms`,
//! `reconnect_initial_ms`, `reconnect_max_ms`, `ban_ms`, `goodbye_linger_ms`).
//! `metrics` (`host:port` of the Prometheus endpoint, unset: none) is read by
//! [`NodeSettings::metrics_addr`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::{ConfigError, NodeConfig, ProducerConfig};
use crate::peer_table::NodeId;
use crate::uri::PeerUri;

/// Environment variable prefix.
pub const ENV_PREFIX: &str = "HOBBITS";

/// Default log filter.
pub const DEFAULT_LOG: &str = "info";

/// Limits, all optional (unset keeps the default).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub max_peers: Option<usize>,
    pub max_outstanding_requests: Option<usize>,
    pub max_inbound_requests: Option<usize>,
    pub session_mailbox: Option<usize>,
    pub actor_mailbox: Option<usize>,
    pub max_bans: Option<usize>,
    pub max_header_len: Option<u32>,
    pub max_body_len: Option<u32>,
    pub max_response_items: Option<u64>,
}

/// Timeouts in milliseconds, all optional.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TimeoutSettings {
    pub handshake_ms: Option<u64>,
    pub request_ms: Option<u64>,
    pub dial_ms: Option<u64>,
    pub reconnect_initial_ms: Option<u64>,
    pub reconnect_max_ms: Option<u64>,
    pub ban_ms: Option<u64>,
    pub goodbye_linger_ms: Option<u64>,
}

/// One layer of settings (file, environment or flags); `None` means "not set here".
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// `host:port` to listen on (port 0: any free port).
    pub listen: Option<String>,
    /// Static peers, `hob+tcp://[identity@]host:port`.
    pub peers: Option<Vec<String>>,
    pub network_id: Option<u8>,
    pub chain_id: Option<u8>,
    /// Genesis time, seconds since the Unix epoch.
    pub genesis_time: Option<u64>,
    /// Fixed node id (default: random).
    pub node_id: Option<u64>,
    pub user_agent: Option<String>,
    /// Produce blocks.
    pub produce: Option<bool>,
    /// Slot duration in milliseconds (with `produce`).
    pub slot_ms: Option<u64>,
    /// Log filter, `RUST_LOG` syntax.
    pub log: Option<String>,
    /// Directory of the persistent chain store (`chain.redb`); unset: in-memory store.
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub limits: LimitSettings,
    #[serde(default)]
    pub timeouts: TimeoutSettings,
    /// `host:port` serving Prometheus metrics on `GET /metrics` (unset: no endpoint).
    pub metrics: Option<String>,
}

macro_rules! overlay {
    ($dst:expr, $src:expr, [$($f:ident),*]) => {
        $( if $src.$f.is_some() { $dst.$f = $src.$f.clone(); } )*
    };
}

impl NodeSettings {
    /// `other`'s set values replace ours.
    pub fn overlay(mut self, other: &NodeSettings) -> Self {
        overlay!(
            self,
            other,
            [
                listen,
                peers,
                network_id,
                chain_id,
                genesis_time,
                node_id,
                user_agent,
                produce,
                slot_ms,
                log,
                data_dir
            ]
        );
        overlay!(
            self.limits,
            other.limits,
            [
                max_peers,
                max_outstanding_requests,
                max_inbound_requests,
                session_mailbox,
                actor_mailbox,
                max_bans,
                max_header_len,
                max_body_len,
                max_response_items
            ]
        );
        overlay!(
            self.timeouts,
            other.timeouts,
            [
                handshake_ms,
                request_ms,
                dial_ms,
                reconnect_initial_ms,
                reconnect_max_ms,
                ban_ms,
                goodbye_linger_ms
            ]
        );
        overlay!(self, other, [metrics]);
        self
    }

    /// Reads the file (if any) and the `HOBBITS_…` environment, then overlays `flags`.
    pub fn load(file: Option<&Path>, flags: &NodeSettings) -> Result<NodeSettings, ConfigError> {
        let mut b = config::Config::builder();
        if let Some(path) = file {
            b = b.add_source(
                config::File::from(path)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        b = b.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("peers"),
        );
        let layered: NodeSettings = b
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError::Source(e.to_string()))?;
        Ok(layered.overlay(flags))
    }

    /// The log filter: these settings, else `RUST_LOG`, else [`DEFAULT_LOG`].
    pub fn log_filter(&self) -> String {
        self.log
            .clone()
            .or_else(|| std::env::var("RUST_LOG").ok())
            .unwrap_or_else(|| DEFAULT_LOG.to_string())
    }

    /// The metrics endpoint address, when set.
    pub fn metrics_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        self.metrics
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .map(|m| {
                m.trim().parse::<SocketAddr>().map_err(|e| {
                    ConfigError::Source(format!("metrics `{m}` is not host:port: {e}"))
                })
            })
            .transpose()
    }

    /// The validated node configuration.
    pub fn to_config(&self) -> Result<NodeConfig, ConfigError> {
        let mut c = NodeConfig::default();
        if let Some(listen) = &self.listen {
            c.listen = listen.parse::<SocketAddr>().map_err(|e| {
                ConfigError::Source(format!("listen `{listen}` is not host:port: {e}"))
            })?;
        }
        if let Some(peers) = &self.peers {
            c.peers = peers
                .iter()
                .filter(|p| !p.trim().is_empty())
                .map(|p| p.parse::<PeerUri>())
                .collect::<Result<_, _>>()?;
        }
        overlay_value(&mut c.network_id, self.network_id);
        overlay_value(&mut c.chain_id, self.chain_id);
        overlay_value(&mut c.genesis_time, self.genesis_time);
        if let Some(id) = self.node_id {
            if id > i64::MAX as u64 {
                return Err(ConfigError::TooLarge {
                    field: "node_id",
                    max: i64::MAX as u64,
                    value: id,
                });
            }
            c.node_id = NodeId(id);
        }
        overlay_value(&mut c.user_agent, self.user_agent.clone());
        if self.produce.unwrap_or(false) {
            let mut p = ProducerConfig::default();
            if let Some(ms) = self.slot_ms {
                p.slot_duration = Duration::from_millis(ms);
            }
            c.producer = Some(p);
        }
        let (l, s) = (&mut c.limits, &self.limits);
        overlay_value(&mut l.max_peers, s.max_peers);
        overlay_value(&mut l.max_outstanding_requests, s.max_outstanding_requests);
        overlay_value(&mut l.max_inbound_requests, s.max_inbound_requests);
        overlay_value(&mut l.session_mailbox, s.session_mailbox);
        overlay_value(&mut l.actor_mailbox, s.actor_mailbox);
        overlay_value(&mut l.max_bans, s.max_bans);
        overlay_value(&mut l.max_header_len, s.max_header_len);
        overlay_value(&mut l.max_body_len, s.max_body_len);
        overlay_value(&mut l.max_response_items, s.max_response_items);
        let (t, s) = (&mut c.timeouts, &self.timeouts);
        let ms = Duration::from_millis;
        overlay_value(&mut t.handshake, s.handshake_ms.map(ms));
        overlay_value(&mut t.request, s.request_ms.map(ms));
        overlay_value(&mut t.dial, s.dial_ms.map(ms));
        overlay_value(&mut t.reconnect_initial, s.reconnect_initial_ms.map(ms));
        overlay_value(&mut t.reconnect_max, s.reconnect_max_ms.map(ms));
        overlay_value(&mut t.ban, s.ban_ms.map(ms));
        overlay_value(&mut t.goodbye_linger, s.goodbye_linger_ms.map(ms));
        c.validate()?;
        Ok(c)
    }
}

fn overlay_value<T>(dst: &mut T, src: Option<T>) {
    if let Some(v) = src {
        *dst = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_values_and_defaults_fill_the_rest() {
        let dir = std::env::temp_dir().join(format!("hobbits-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("node.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9100\"\nnetwork_id = 5\npeers = [\"hob+tcp://127.0.0.1:9101\"]\n[limits]\nmax_peers = 7\n[timeouts]\nrequest_ms = 1500\n",
        )
        .expect("write");
        let flags = NodeSettings {
            network_id: Some(6),
            produce: Some(true),
            slot_ms: Some(500),
            ..Default::default()
        };
        let s = NodeSettings::load(Some(&file), &flags).expect("load");
        let c = s.to_config().expect("config");
        assert_eq!(c.listen, "127.0.0.1:9100".parse().expect("addr"));
        assert_eq!(c.network_id, 6, "flag wins over file");
        assert_eq!(c.chain_id, 1, "default");
        assert_eq!(c.limits.max_peers, 7);
        assert_eq!(c.timeouts.request, Duration::from_millis(1500));
        assert_eq!(c.peers.len(), 1);
        assert_eq!(
            c.producer.map(|p| p.slot_duration),
            Some(Duration::from_millis(500))
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn bad_values_name_the_problem() {
        let bad_listen = NodeSettings {
            listen: Some("nowhere".into()),
            ..Default::default()
        };
        assert!(
            matches!(bad_listen.to_config(), Err(ConfigError::Source(m)) if m.contains("nowhere"))
        );
        let bad_peer = NodeSettings {
            peers: Some(vec!["tcp://x:1".into()]),
            ..Default::default()
        };
        assert!(matches!(bad_peer.to_config(), Err(ConfigError::BadPeer(_))));
        let zero = NodeSettings {
            limits: LimitSettings {
                max_peers: Some(0),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(matches!(
            zero.to_config(),
            Err(ConfigError::TooSmall {
                field: "max_peers",
                ..
            })
        ));
    }

    #[test]
    fn data_dir_comes_from_file_or_flag() {
        let dir = std::env::temp_dir().join(format!("hobbits-settings-dd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("node.toml");
        std::fs::write(&file, "data_dir = \"/var/lib/hobbits\"\n").expect("write");
        let s = NodeSettings::load(Some(&file), &NodeSettings::default()).expect("load");
        assert_eq!(s.data_dir, Some(PathBuf::from("/var/lib/hobbits")));
        let flags = NodeSettings {
            data_dir: Some(PathBuf::from("/tmp/hobbits-flag")),
            ..Default::default()
        };
        let s = NodeSettings::load(Some(&file), &flags).expect("load");
        assert_eq!(
            s.data_dir,
            Some(PathBuf::from("/tmp/hobbits-flag")),
            "flag wins"
        );
        assert_eq!(
            NodeSettings::default().data_dir,
            None,
            "in-memory by default"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("hobbits-settings-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("node.toml");
        std::fs::write(&file, "netwrk_id = 5\n").expect("write");
        let r = NodeSettings::load(Some(&file), &NodeSettings::default());
        assert!(matches!(r, Err(ConfigError::Source(m)) if m.contains("netwrk_id")));
        let _ = std::fs::remove_dir_all(dir);
    }
}
