//! Layered node settings of the binary: a TOML file, `HOBBITS_…` environment variables and
//! command-line flags, in increasing precedence over the defaults of [`NodeConfig`]. Produces a
//! validated [`NodeConfig`] or a [`ConfigError`] naming the bad value. Handles no messages.
//!
//! Keys (file, and environment with the `HOBBITS_` prefix; nested keys use `__`, e.g.
//! `HOBBITS_LIMITS__MAX_PEERS`, `HOBBITS_SCORING__BAN_THRESHOLD`; `HOBBITS_PEERS` is a
//! comma-separated list): `listen`, `peers`, `network_id`, `chain_id`, `genesis_time`, `node_id`,
//! `user_agent`, `produce`, `slot_ms`, `log`, `data_dir`, `http`, `metrics`, `[limits]` (every field of
//! [`hobbits_actors::Limits`]), `[timeouts]` (every field of [`hobbits_actors::Timeouts`] in milliseconds, `_ms`
//! suffix), `[scoring]` (every field of [`hobbits_actors::Scoring`]; `decay_half_life_ms`),
//! `eth_listen` and `[eth]` (the ETH raw-TCP dialect: its listener, read by
//! [`NodeSettings::eth_listen_addr`]; sync through roots, every field of
//! [`hobbits_actors::sync::roots::RootsSyncConfig`], `poll_interval_ms`, read by
//! [`NodeSettings::roots_sync`]; both in `settings/eth.rs`). `peers` takes `hob+tcp://` and
//! `eth+tcp://` URIs; the ETH ones are read by [`NodeSettings::eth_peers`].
//! `docs/node.example.toml` documents every key with its default; a test parses it and checks it
//! yields exactly the defaults, and that it names every key.
//! `http` (`host:port` of the HTTP server: Beacon API, events, `/metrics`; unset: none) is read
//! by [`NodeSettings::http_addr`]; `metrics` is its older name, kept as an alias (both set to
//! different addresses is an error).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use hobbits_actors::config::{ConfigError, NodeConfig, ProducerConfig};
use hobbits_actors::NodeId;
use hobbits_codec::PeerUri;

mod eth;

pub use eth::{EthSettings, ETH_SCHEME};

/// Environment variable prefix.
pub const ENV_PREFIX: &str = "HOBBITS";

/// Default log filter.
pub const DEFAULT_LOG: &str = "info";

/// Limits, all optional (unset keeps the default).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub max_peers: Option<usize>,
    pub max_pending: Option<usize>,
    pub max_pending_per_ip: Option<usize>,
    pub max_peers_per_ip: Option<usize>,
    pub protected_inbound: Option<usize>,
    pub accept_rate_per_ip: Option<u32>,
    pub accept_burst_per_ip: Option<u32>,
    pub max_outstanding_requests: Option<usize>,
    pub max_inbound_requests: Option<usize>,
    pub session_mailbox: Option<usize>,
    pub actor_mailbox: Option<usize>,
    pub max_bans: Option<usize>,
    pub max_header_len: Option<u32>,
    pub max_body_len: Option<u32>,
    pub max_response_items: Option<u64>,
    pub write_buffer_high: Option<usize>,
    pub rpc_rate_per_sec: Option<u32>,
    pub rpc_burst: Option<u32>,
    pub gossip_rate_per_sec: Option<u32>,
    pub gossip_burst: Option<u32>,
    pub gossip_bytes_per_sec: Option<u32>,
    pub gossip_bytes_burst: Option<u32>,
    pub ping_rate_per_sec: Option<u32>,
    pub ping_burst: Option<u32>,
}

/// Timeouts in milliseconds, all optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TimeoutSettings {
    pub handshake_ms: Option<u64>,
    pub request_ms: Option<u64>,
    pub dial_ms: Option<u64>,
    pub reconnect_initial_ms: Option<u64>,
    pub reconnect_max_ms: Option<u64>,
    pub ban_ms: Option<u64>,
    pub goodbye_linger_ms: Option<u64>,
    pub frame_ms: Option<u64>,
}

/// Peer scoring, all optional: penalty points, threshold, decay (milliseconds), loopback bans.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScoringSettings {
    pub malformed_frame: Option<u32>,
    pub bad_message: Option<u32>,
    pub invalid_gossip: Option<u32>,
    pub timeout: Option<u32>,
    pub rate_limited: Option<u32>,
    pub ban_threshold: Option<u32>,
    pub decay_half_life_ms: Option<u64>,
    pub ban_loopback_ips: Option<bool>,
}

/// One layer of settings (file, environment or flags); `None` means "not set here".
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// `host:port` to listen on (port 0: any free port).
    pub listen: Option<String>,
    /// Static peers, `hob+tcp://[identity@]host:port`, or `eth+tcp://host:port` for a peer of
    /// the ETH raw-TCP dialect.
    pub peers: Option<Vec<String>>,
    /// Also listen for the ETH raw-TCP dialect: `host:port`, or a bare IP for port 9000 (unset
    /// or empty: no ETH listener).
    pub eth_listen: Option<String>,
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
    #[serde(default)]
    pub scoring: ScoringSettings,
    #[serde(default)]
    pub eth: EthSettings,
    /// `host:port` serving Prometheus metrics on `GET /metrics` (unset: no endpoint); an alias
    /// of `http` (the same server).
    pub metrics: Option<String>,
    /// `host:port` of the HTTP server: the Beacon API, the events stream and `/metrics` (unset:
    /// no server).
    pub http: Option<String>,
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
                eth_listen,
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
                max_pending,
                max_pending_per_ip,
                max_peers_per_ip,
                protected_inbound,
                accept_rate_per_ip,
                accept_burst_per_ip,
                max_outstanding_requests,
                max_inbound_requests,
                session_mailbox,
                actor_mailbox,
                max_bans,
                max_header_len,
                max_body_len,
                max_response_items,
                write_buffer_high,
                rpc_rate_per_sec,
                rpc_burst,
                gossip_rate_per_sec,
                gossip_burst,
                gossip_bytes_per_sec,
                gossip_bytes_burst,
                ping_rate_per_sec,
                ping_burst
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
                goodbye_linger_ms,
                frame_ms
            ]
        );
        overlay!(
            self.scoring,
            other.scoring,
            [
                malformed_frame,
                bad_message,
                invalid_gossip,
                timeout,
                rate_limited,
                ban_threshold,
                decay_half_life_ms,
                ban_loopback_ips
            ]
        );
        overlay!(
            self.eth,
            other.eth,
            [
                poll_interval_ms,
                lookback_slots,
                blocks_per_request,
                range_slots,
                pieces_per_peer
            ]
        );
        overlay!(self, other, [metrics, http]);
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

    /// The HTTP server's address, when `http` (or its alias `metrics`) is set.
    pub fn http_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        let parse = |key: &str, v: &Option<String>| {
            v.as_deref()
                .filter(|m| !m.trim().is_empty())
                .map(|m| {
                    m.trim().parse::<SocketAddr>().map_err(|e| {
                        ConfigError::Source(format!("{key} `{m}` is not host:port: {e}"))
                    })
                })
                .transpose()
        };
        let http = parse("http", &self.http)?;
        let metrics = parse("metrics", &self.metrics)?;
        match (http, metrics) {
            (Some(h), Some(m)) if h != m => Err(ConfigError::Source(format!(
                "http `{h}` and metrics `{m}` differ: metrics is the old name of http, give one"
            ))),
            (h, m) => Ok(h.or(m)),
        }
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
                .filter(|p| !p.trim().is_empty() && !p.trim().starts_with(ETH_SCHEME))
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
        overlay_value(&mut l.max_pending, s.max_pending);
        overlay_value(&mut l.max_pending_per_ip, s.max_pending_per_ip);
        overlay_value(&mut l.max_peers_per_ip, s.max_peers_per_ip);
        overlay_value(&mut l.protected_inbound, s.protected_inbound);
        overlay_value(&mut l.accept_rate_per_ip, s.accept_rate_per_ip);
        overlay_value(&mut l.accept_burst_per_ip, s.accept_burst_per_ip);
        overlay_value(&mut l.max_outstanding_requests, s.max_outstanding_requests);
        overlay_value(&mut l.max_inbound_requests, s.max_inbound_requests);
        overlay_value(&mut l.session_mailbox, s.session_mailbox);
        overlay_value(&mut l.actor_mailbox, s.actor_mailbox);
        overlay_value(&mut l.max_bans, s.max_bans);
        overlay_value(&mut l.max_header_len, s.max_header_len);
        overlay_value(&mut l.max_body_len, s.max_body_len);
        overlay_value(&mut l.max_response_items, s.max_response_items);
        overlay_value(&mut l.write_buffer_high, s.write_buffer_high);
        overlay_value(&mut l.rpc_rate_per_sec, s.rpc_rate_per_sec);
        overlay_value(&mut l.rpc_burst, s.rpc_burst);
        overlay_value(&mut l.gossip_rate_per_sec, s.gossip_rate_per_sec);
        overlay_value(&mut l.gossip_burst, s.gossip_burst);
        overlay_value(&mut l.gossip_bytes_per_sec, s.gossip_bytes_per_sec);
        overlay_value(&mut l.gossip_bytes_burst, s.gossip_bytes_burst);
        overlay_value(&mut l.ping_rate_per_sec, s.ping_rate_per_sec);
        overlay_value(&mut l.ping_burst, s.ping_burst);
        let (t, s) = (&mut c.timeouts, &self.timeouts);
        let ms = Duration::from_millis;
        overlay_value(&mut t.handshake, s.handshake_ms.map(ms));
        overlay_value(&mut t.request, s.request_ms.map(ms));
        overlay_value(&mut t.dial, s.dial_ms.map(ms));
        overlay_value(&mut t.reconnect_initial, s.reconnect_initial_ms.map(ms));
        overlay_value(&mut t.reconnect_max, s.reconnect_max_ms.map(ms));
        overlay_value(&mut t.ban, s.ban_ms.map(ms));
        overlay_value(&mut t.goodbye_linger, s.goodbye_linger_ms.map(ms));
        overlay_value(&mut t.frame, s.frame_ms.map(ms));
        let (sc, s) = (&mut c.scoring, &self.scoring);
        overlay_value(&mut sc.malformed_frame, s.malformed_frame);
        overlay_value(&mut sc.bad_message, s.bad_message);
        overlay_value(&mut sc.invalid_gossip, s.invalid_gossip);
        overlay_value(&mut sc.timeout, s.timeout);
        overlay_value(&mut sc.rate_limited, s.rate_limited);
        overlay_value(&mut sc.ban_threshold, s.ban_threshold);
        overlay_value(&mut sc.decay_half_life, s.decay_half_life_ms.map(ms));
        overlay_value(&mut sc.ban_loopback_ips, s.ban_loopback_ips);
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
pub(super) mod tests {
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

    fn example_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/node.example.toml")
    }

    pub(super) fn temp_file(tag: &str, text: &str) -> (PathBuf, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("hobbits-settings-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("node.toml");
        std::fs::write(&file, text).expect("write");
        (dir, file)
    }

    #[test]
    fn the_example_file_yields_exactly_the_defaults() {
        let s = NodeSettings::load(Some(&example_path()), &NodeSettings::default()).expect("load");
        let c = s.to_config().expect("valid");
        // The node id is random by default; everything else must match field for field.
        let defaults = NodeConfig {
            node_id: c.node_id,
            ..NodeConfig::default()
        };
        assert_eq!(c, defaults);
        assert_eq!(s.http_addr(), Ok(None));
        assert_eq!(s.data_dir, None);
        assert_eq!(s.eth_listen_addr(), Ok(None));
        assert_eq!(s.eth_peers(), Ok(vec![]));
        assert_eq!(
            s.roots_sync(),
            Ok(hobbits_actors::sync::roots::RootsSyncConfig::default())
        );
    }

    /// Every key of [`NodeSettings`] appears in the example, set or commented out: with the
    /// commented keys uncommented, no setting is left unset.
    #[test]
    fn the_example_file_names_every_key() {
        let text = std::fs::read_to_string(example_path()).expect("example");
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.split_once(" = ").is_some_and(|(k, _)| {
                        !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) =>
                {
                    rest
                }
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let (dir, file) = temp_file("all", &uncommented);
        let s = NodeSettings::load(Some(&file), &NodeSettings::default()).expect("load");
        let doc = bson::serialize_to_document(&s).expect("serialize");
        fn unset(prefix: &str, doc: &bson::Document, out: &mut Vec<String>) {
            for (k, v) in doc {
                match v {
                    bson::Bson::Null => out.push(format!("{prefix}{k}")),
                    bson::Bson::Document(d) => unset(&format!("{prefix}{k}."), d, out),
                    _ => {}
                }
            }
        }
        let mut missing = Vec::new();
        unset("", &doc, &mut missing);
        assert!(
            missing.is_empty(),
            "keys missing from the example: {missing:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn hardening_fields_are_read_from_the_file() {
        let (dir, file) = temp_file(
            "hard",
            "[limits]\nrpc_rate_per_sec = 10\nrpc_burst = 20\nwrite_buffer_high = 65536\n\
             [timeouts]\nframe_ms = 1500\n\
             [scoring]\nban_threshold = 50\ndecay_half_life_ms = 5000\nban_loopback_ips = true\n\
             malformed_frame = 90\nbad_message = 6\ninvalid_gossip = 11\ntimeout = 26\nrate_limited = 2\n",
        );
        let flags = NodeSettings {
            scoring: ScoringSettings {
                ban_threshold: Some(60),
                ..Default::default()
            },
            ..Default::default()
        };
        let c = NodeSettings::load(Some(&file), &flags)
            .expect("load")
            .to_config()
            .expect("valid");
        assert_eq!(c.limits.rpc_rate_per_sec, 10);
        assert_eq!(c.limits.rpc_burst, 20);
        assert_eq!(c.limits.write_buffer_high, 65536);
        assert_eq!(c.timeouts.frame, Duration::from_millis(1500));
        let want = hobbits_actors::config::Scoring {
            malformed_frame: 90,
            bad_message: 6,
            invalid_gossip: 11,
            timeout: 26,
            rate_limited: 2,
            ban_threshold: 60,
            decay_half_life: Duration::from_secs(5),
            ban_loopback_ips: true,
        };
        assert_eq!(c.scoring, want, "file values, the flag's ban_threshold");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn bad_hardening_values_are_typed_errors() {
        let (dir, file) = temp_file("badhard", "[scoring]\ndecay_half_life_ms = 0\n");
        let s = NodeSettings::load(Some(&file), &NodeSettings::default()).expect("load");
        assert_eq!(
            s.to_config(),
            Err(ConfigError::ZeroDuration {
                field: "decay_half_life"
            })
        );
        std::fs::write(&file, "[scoring]\nban_threshold = -1\n").expect("write");
        let r = NodeSettings::load(Some(&file), &NodeSettings::default());
        assert!(matches!(r, Err(ConfigError::Source(m)) if m.contains("ban_threshold")));
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
