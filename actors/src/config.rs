//! Configuration of one node: [`NodeConfig`] with its [`Limits`], [`Timeouts`], [`Scoring`] and
//! optional [`ProducerConfig`], documented defaults, and validation returning a typed [`ConfigError`].
//!
//! Plain data, no I/O. Layering of file / environment / flags lives in the binary (`src/settings.rs`).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::peer_table::NodeId;
use hobbits_codec::uri::PeerUri;

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A count or size that must be positive is zero.
    #[error("`{field}` must be at least {min}, got {value}")]
    TooSmall {
        /// The setting.
        field: &'static str,
        /// Lowest accepted.
        min: u64,
        /// Given.
        value: u64,
    },
    /// A value above its hard ceiling.
    #[error("`{field}` must be at most {max}, got {value}")]
    TooLarge {
        /// The setting.
        field: &'static str,
        /// Highest accepted.
        max: u64,
        /// Given.
        value: u64,
    },
    /// A duration that must be positive is zero.
    #[error("`{field}` must be a positive duration")]
    ZeroDuration {
        /// The setting.
        field: &'static str,
    },
    /// Two settings contradict each other.
    #[error("`{field}` ({value:?}) is inconsistent: {reason}")]
    Inconsistent {
        /// The setting.
        field: &'static str,
        /// Its value.
        value: String,
        /// What it contradicts.
        reason: &'static str,
    },
    /// A peer address did not parse.
    #[error("bad peer address: {0}")]
    BadPeer(#[from] hobbits_codec::uri::UriError),
    /// A value could not be read (file, environment or flag).
    #[error("bad configuration value: {0}")]
    Source(String),
}

/// Hard bounds on everything a peer can make this node hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Handshaked peers (inbound + outbound). When full, a handshaked newcomer displaces the
    /// worst-scored peer outside the protected set, or is closed (GOODBYE 1003). Default 50.
    pub max_peers: usize,
    /// Inbound connections waiting for their handshake, apart from the peer slots. A newcomer
    /// beyond it evicts the oldest pending connection of the address holding the most.
    /// Default 64.
    pub max_pending: usize,
    /// Inbound connections waiting for their handshake from one IP (each loopback address counts
    /// apart); more are refused at accept. Default 16.
    pub max_pending_per_ip: usize,
    /// Handshaked inbound peers from one IP (each loopback address counts apart); more are
    /// refused. Default 16.
    pub max_peers_per_ip: usize,
    /// The longest connected inbound peers a newcomer never displaces (outbound and static peers
    /// are always protected); `max_peers` or more protects every peer. Default 8.
    pub protected_inbound: usize,
    /// Connections one IP (each loopback address apart) may open per second; more are closed at
    /// accept, before a session exists. Default 8.
    pub accept_rate_per_ip: u32,
    /// Connections one IP may open at once above `accept_rate_per_ip`. Default 64.
    pub accept_burst_per_ip: u32,
    /// RPC requests this node may have outstanding towards one peer. Default 64.
    pub max_outstanding_requests: usize,
    /// Requests from one peer being served at once; more are answered with "server error" (40).
    /// Default 32.
    pub max_inbound_requests: usize,
    /// Mailbox capacity of a session actor: frames queued for one peer before `try_send` reports
    /// the peer as slow. Default 256.
    pub session_mailbox: usize,
    /// Mailbox capacity of the manager and chain-store actors. Default 1024.
    pub actor_mailbox: usize,
    /// Bytes buffered for writing to one socket before the session stops reading its mailbox
    /// (actix `FramedWrite` high watermark). Default 4 MiB.
    pub write_buffer_high: usize,
    /// IPs remembered in the ban list; the entry closest to expiry is dropped first. Default 1024.
    pub max_bans: usize,
    /// Largest frame header accepted, bytes. Default 64 KiB.
    pub max_header_len: u32,
    /// Largest frame body accepted, bytes. Default 16 MiB.
    pub max_body_len: u32,
    /// Most headers / bodies / states served in one response. Default 64.
    pub max_response_items: u64,
    /// Sustained rate of RPC requests (other than HELLO and GOODBYE) served per peer, per second
    /// (token bucket refill). Requests beyond the bucket are dropped unanswered, counted and
    /// penalised (`Scoring::rate_limited`). Default 200.
    pub rpc_rate_per_sec: u32,
    /// Token bucket capacity: requests a peer may send in a burst above the rate. Default 400.
    pub rpc_burst: u32,
    /// Read Lodestar's 2019 text framing (`EWP 3 2 4 32\n` + header + body) from a connection
    /// whose first frame is framed that way (the connection keeps the framing of its first frame;
    /// our frames are written in binary either way). Default `false`: such bytes do not frame.
    pub accept_text_framing: bool,
    /// GOSSIP frames (objects and overlay control messages) accepted from one peer per second;
    /// beyond the burst they are dropped, penalised (`Scoring::rate_limited`) and the peer is not
    /// read until the next is due. Default 1000.
    pub gossip_rate_per_sec: u32,
    /// GOSSIP frames one peer may send at once above the rate. Default 2000.
    pub gossip_burst: u32,
    /// GOSSIP bytes (header and body) accepted from one peer per second, same treatment.
    /// Default 8 MiB.
    pub gossip_bytes_per_sec: u32,
    /// GOSSIP bytes one peer may send at once; at least `max_header_len + max_body_len`, so the
    /// largest frame passes. Default 32 MiB.
    pub gossip_bytes_burst: u32,
    /// PING frames accepted from one peer per second (answered or not), same treatment.
    /// Default 50.
    pub ping_rate_per_sec: u32,
    /// PING frames one peer may send at once above the rate. Default 500.
    pub ping_burst: u32,
}

impl Limits {
    /// The slot policy of the peer table.
    pub fn slots(&self) -> crate::peer_table::SlotLimits {
        crate::peer_table::SlotLimits {
            max_peers: self.max_peers,
            max_pending: self.max_pending,
            max_pending_per_ip: self.max_pending_per_ip,
            max_peers_per_ip: self.max_peers_per_ip,
            protected_inbound: self.protected_inbound,
            accept_rate_per_ip: self.accept_rate_per_ip,
            accept_burst_per_ip: self.accept_burst_per_ip,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_peers: 50,
            max_pending: 64,
            max_pending_per_ip: 16,
            max_peers_per_ip: 16,
            protected_inbound: 8,
            accept_rate_per_ip: 8,
            accept_burst_per_ip: 64,
            max_outstanding_requests: 64,
            max_inbound_requests: 32,
            session_mailbox: 256,
            actor_mailbox: 1024,
            write_buffer_high: 4 * 1024 * 1024,
            max_bans: 1024,
            max_header_len: 64 * 1024,
            max_body_len: 16 * 1024 * 1024,
            max_response_items: 64,
            rpc_rate_per_sec: 200,
            rpc_burst: 400,
            accept_text_framing: false,
            gossip_rate_per_sec: 1000,
            gossip_burst: 2000,
            gossip_bytes_per_sec: 8 * 1024 * 1024,
            gossip_bytes_burst: 32 * 1024 * 1024,
            ping_rate_per_sec: 50,
            ping_burst: 500,
        }
    }
}

/// Every wait the node does has an end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// A peer that has not completed the HELLO exchange by then is disconnected. Default 10 s.
    pub handshake: Duration,
    /// An outbound RPC request without a response by then fails with `RpcError::Timeout`.
    /// Default 10 s.
    pub request: Duration,
    /// A TCP connect that takes longer fails (and backs off). Default 5 s.
    pub dial: Duration,
    /// First redial delay of a lost static peer; doubles on each failure. Default 250 ms.
    pub reconnect_initial: Duration,
    /// Ceiling of the redial delay. Default 30 s.
    pub reconnect_max: Duration,
    /// How long an IP stays banned after a malformed frame; zero disables bans. Default 60 s.
    pub ban: Duration,
    /// Time given to a GOODBYE to reach the socket before the connection is dropped. Default 1 s.
    pub goodbye_linger: Duration,
    /// A frame whose first bytes arrived must be complete within this time, or the connection is
    /// closed (slowloris defence; checked every `frame / 4`, so a stall is noticed within 1.25×).
    /// Default 10 s.
    pub frame: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            handshake: Duration::from_secs(10),
            request: Duration::from_secs(10),
            dial: Duration::from_secs(5),
            reconnect_initial: Duration::from_millis(250),
            reconnect_max: Duration::from_secs(30),
            ban: Duration::from_secs(60),
            goodbye_linger: Duration::from_secs(1),
            frame: Duration::from_secs(10),
        }
    }
}

/// Peer scoring: penalty points per offence, decay, and the threshold at which a peer is banned
/// (for `Timeouts::ban`). Applied by `scoring::ScoreBook` in the peer manager; see
/// docs/PROTOCOL.md, "Peer scoring and bans".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scoring {
    /// A frame-layer error (bad preamble, version, protocol byte, lengths over the limits, text
    /// framing): the stream is out of sync and the connection is closed anyway. Default 100 (a ban).
    pub malformed_frame: u32,
    /// A whole frame whose header or body does not decode (bad BSON, bad SSZ). Default 5.
    pub bad_message: u32,
    /// A gossip message that is provably wrong (`PeerPenalized` from gossip or sync). Default 10.
    pub invalid_gossip: u32,
    /// No HELLO within `Timeouts::handshake`, or a frame left incomplete for `Timeouts::frame`.
    /// Default 25.
    pub timeout: u32,
    /// One RPC request over the per-peer rate limit. Default 1.
    pub rate_limited: u32,
    /// A peer whose score reaches this is disconnected (GOODBYE 3) and banned. Default 100.
    pub ban_threshold: u32,
    /// Scores halve every `decay_half_life` (continuous exponential decay). Default 60 s.
    pub decay_half_life: Duration,
    /// Ban loopback IPs too. Off by default: on a local testnet every peer is 127.0.0.1, so an IP
    /// ban would lock out every local peer; loopback offenders are banned by node id instead (and
    /// their connection closed). Default false.
    pub ban_loopback_ips: bool,
}

impl Default for Scoring {
    fn default() -> Self {
        Scoring {
            malformed_frame: 100,
            bad_message: 5,
            invalid_gossip: 10,
            timeout: 25,
            rate_limited: 1,
            ban_threshold: 100,
            decay_half_life: Duration::from_secs(60),
            ban_loopback_ips: false,
        }
    }
}

/// Block production: one block per slot, imported locally and handed to gossip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// Length of a slot. Default 6 s (the minimal preset); tests use a few hundred ms.
    pub slot_duration: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            slot_duration: Duration::from_secs(6),
        }
    }
}

/// Everything needed to start one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// Address to listen on. Port 0 asks the OS for a free port; the bound address is in the
    /// node handle. Default 127.0.0.1:9000.
    pub listen: SocketAddr,
    /// Static peers: dialed at start and redialed with backoff when lost.
    pub peers: Vec<PeerUri>,
    /// HELLO `network_id`; peers with another one are sent GOODBYE 2. Default 1.
    pub network_id: u8,
    /// HELLO `chain_id`; peers with another one are sent GOODBYE 2. Default 1.
    pub chain_id: u8,
    /// Genesis time (seconds since the Unix epoch) of the chain this node starts from. Default 0.
    pub genesis_time: u64,
    /// This node's identity, sent in the HELLO header (`node_id`) and used to keep one
    /// connection per peer. Random when not configured.
    pub node_id: NodeId,
    /// Client name sent in GET_STATUS. Default `hobbits-node/<version>`.
    pub user_agent: String,
    /// Bounds on peers, queues and sizes.
    pub limits: Limits,
    /// Timeouts and backoff.
    pub timeouts: Timeouts,
    /// Peer scoring and bans.
    pub scoring: Scoring,
    /// `Some` when this node produces blocks.
    pub producer: Option<ProducerConfig>,
}

/// The default user agent: crate name and version.
pub fn default_user_agent() -> String {
    format!("hobbits-node/{}", env!("CARGO_PKG_VERSION"))
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 9000)),
            peers: Vec::new(),
            network_id: 1,
            chain_id: 1,
            genesis_time: 0,
            node_id: NodeId::random(),
            user_agent: default_user_agent(),
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            scoring: Scoring::default(),
            producer: None,
        }
    }
}

/// Largest user agent sent (the GET_STATUS list limit of the codec is larger).
pub const MAX_USER_AGENT_LEN: usize = 256;

fn at_least(field: &'static str, value: u64, min: u64) -> Result<(), ConfigError> {
    if value < min {
        Err(ConfigError::TooSmall { field, min, value })
    } else {
        Ok(())
    }
}

fn at_most(field: &'static str, value: u64, max: u64) -> Result<(), ConfigError> {
    if value > max {
        Err(ConfigError::TooLarge { field, max, value })
    } else {
        Ok(())
    }
}

fn positive(field: &'static str, d: Duration) -> Result<(), ConfigError> {
    if d.is_zero() {
        Err(ConfigError::ZeroDuration { field })
    } else {
        Ok(())
    }
}

impl NodeConfig {
    /// A configuration for tests and examples: 127.0.0.1 port 0, short timeouts, and per-address
    /// caps of 1024 and 100 000 connections a second (every local node and test client shares
    /// 127.0.0.1).
    pub fn local_test() -> Self {
        NodeConfig {
            limits: Limits {
                max_pending_per_ip: 1024,
                max_peers_per_ip: 1024,
                accept_rate_per_ip: 100_000,
                accept_burst_per_ip: 100_000,
                ..Limits::default()
            },
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            timeouts: Timeouts {
                handshake: Duration::from_secs(5),
                request: Duration::from_secs(5),
                dial: Duration::from_secs(2),
                reconnect_initial: Duration::from_millis(50),
                reconnect_max: Duration::from_millis(500),
                ban: Duration::from_secs(30),
                goodbye_linger: Duration::from_millis(500),
                frame: Duration::from_secs(5),
            },
            ..NodeConfig::default()
        }
    }

    /// Checks every bound; returns the first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        at_least("max_peers", l.max_peers as u64, 1)?;
        at_most("max_peers", l.max_peers as u64, 100_000)?;
        at_least("max_pending", l.max_pending as u64, 1)?;
        at_most("max_pending", l.max_pending as u64, 100_000)?;
        at_least("max_pending_per_ip", l.max_pending_per_ip as u64, 1)?;
        at_least("max_peers_per_ip", l.max_peers_per_ip as u64, 1)?;
        at_most("protected_inbound", l.protected_inbound as u64, 100_000)?;
        at_least("accept_rate_per_ip", u64::from(l.accept_rate_per_ip), 1)?;
        at_least("accept_burst_per_ip", u64::from(l.accept_burst_per_ip), 1)?;
        at_least(
            "max_outstanding_requests",
            l.max_outstanding_requests as u64,
            1,
        )?;
        at_most(
            "max_outstanding_requests",
            l.max_outstanding_requests as u64,
            65_536,
        )?;
        at_least("max_inbound_requests", l.max_inbound_requests as u64, 1)?;
        at_most(
            "max_inbound_requests",
            l.max_inbound_requests as u64,
            65_536,
        )?;
        at_least("session_mailbox", l.session_mailbox as u64, 1)?;
        at_most("session_mailbox", l.session_mailbox as u64, 1 << 20)?;
        at_least("actor_mailbox", l.actor_mailbox as u64, 1)?;
        at_most("actor_mailbox", l.actor_mailbox as u64, 1 << 20)?;
        at_least("write_buffer_high", l.write_buffer_high as u64, 1024)?;
        at_least("max_bans", l.max_bans as u64, 1)?;
        at_most("max_bans", l.max_bans as u64, 1 << 20)?;
        // A HELLO header (method_id, id, node_id) must fit; a HELLO body is ~100 bytes.
        at_least("max_header_len", u64::from(l.max_header_len), 256)?;
        at_least("max_body_len", u64::from(l.max_body_len), 1024)?;
        at_least("max_response_items", l.max_response_items, 1)?;
        at_most("max_response_items", l.max_response_items, 1024)?;
        at_least("rpc_rate_per_sec", u64::from(l.rpc_rate_per_sec), 1)?;
        at_most("rpc_rate_per_sec", u64::from(l.rpc_rate_per_sec), 1_000_000)?;
        at_least("rpc_burst", u64::from(l.rpc_burst), 1)?;
        at_most("rpc_burst", u64::from(l.rpc_burst), 1_000_000)?;
        for (field, v) in [
            ("gossip_rate_per_sec", l.gossip_rate_per_sec),
            ("gossip_burst", l.gossip_burst),
            ("gossip_bytes_per_sec", l.gossip_bytes_per_sec),
            ("ping_rate_per_sec", l.ping_rate_per_sec),
            ("ping_burst", l.ping_burst),
        ] {
            at_least(field, u64::from(v), 1)?;
        }
        let largest_frame = u64::from(l.max_header_len) + u64::from(l.max_body_len);
        if u64::from(l.gossip_bytes_burst) < largest_frame {
            return Err(ConfigError::Inconsistent {
                field: "gossip_bytes_burst",
                value: l.gossip_bytes_burst.to_string(),
                reason: "must be at least max_header_len + max_body_len (the largest frame)",
            });
        }

        let t = &self.timeouts;
        positive("handshake_timeout", t.handshake)?;
        positive("request_timeout", t.request)?;
        positive("dial_timeout", t.dial)?;
        positive("reconnect_initial", t.reconnect_initial)?;
        positive("reconnect_max", t.reconnect_max)?;
        positive("goodbye_linger", t.goodbye_linger)?;
        positive("frame_timeout", t.frame)?;
        let sc = &self.scoring;
        at_least("ban_threshold", u64::from(sc.ban_threshold), 1)?;
        at_most("ban_threshold", u64::from(sc.ban_threshold), 1_000_000)?;
        for (field, v) in [
            ("malformed_frame", sc.malformed_frame),
            ("bad_message", sc.bad_message),
            ("invalid_gossip", sc.invalid_gossip),
            ("timeout", sc.timeout),
            ("rate_limited", sc.rate_limited),
        ] {
            at_most(field, u64::from(v), 1_000_000)?;
        }
        positive("decay_half_life", sc.decay_half_life)?;
        if t.reconnect_initial > t.reconnect_max {
            return Err(ConfigError::Inconsistent {
                field: "reconnect_initial",
                value: format!("{:?}", t.reconnect_initial),
                reason: "must not exceed reconnect_max",
            });
        }
        if let Some(p) = &self.producer {
            at_least(
                "slot_duration_ms",
                p.slot_duration.as_millis().min(u128::from(u64::MAX)) as u64,
                10,
            )?;
        }
        at_most(
            "user_agent length",
            self.user_agent.len() as u64,
            MAX_USER_AGENT_LEN as u64,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        NodeConfig::default().validate().expect("default");
        NodeConfig::local_test().validate().expect("local_test");
    }

    #[test]
    fn zero_limits_are_refused_with_the_field_name() {
        let mut c = NodeConfig::local_test();
        c.limits.max_peers = 0;
        assert_eq!(
            c.validate(),
            Err(ConfigError::TooSmall {
                field: "max_peers",
                min: 1,
                value: 0
            })
        );
        let mut c = NodeConfig::local_test();
        c.timeouts.request = Duration::ZERO;
        assert_eq!(
            c.validate(),
            Err(ConfigError::ZeroDuration {
                field: "request_timeout"
            })
        );
    }

    #[test]
    fn backoff_order_and_slot_floor_are_checked() {
        let mut c = NodeConfig::local_test();
        c.timeouts.reconnect_initial = Duration::from_secs(60);
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Inconsistent { .. })
        ));
        let mut c = NodeConfig::local_test();
        c.producer = Some(ProducerConfig {
            slot_duration: Duration::from_millis(1),
        });
        assert!(matches!(c.validate(), Err(ConfigError::TooSmall { .. })));
    }

    #[test]
    fn scoring_and_rate_limits_are_validated() {
        let mut c = NodeConfig::local_test();
        c.scoring.ban_threshold = 0;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::TooSmall {
                field: "ban_threshold",
                ..
            })
        ));
        let mut c = NodeConfig::local_test();
        c.scoring.decay_half_life = Duration::ZERO;
        assert_eq!(
            c.validate(),
            Err(ConfigError::ZeroDuration {
                field: "decay_half_life"
            })
        );
        let mut c = NodeConfig::local_test();
        c.limits.rpc_burst = 0;
        assert!(matches!(c.validate(), Err(ConfigError::TooSmall { .. })));
        let mut c = NodeConfig::local_test();
        c.timeouts.frame = Duration::ZERO;
        assert_eq!(
            c.validate(),
            Err(ConfigError::ZeroDuration {
                field: "frame_timeout"
            })
        );
    }

    #[test]
    fn slot_limits_are_validated() {
        let mut c = NodeConfig::local_test();
        c.limits.max_pending = 0;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::TooSmall {
                field: "max_pending",
                ..
            })
        ));
        let mut c = NodeConfig::local_test();
        c.limits.max_peers_per_ip = 0;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::TooSmall {
                field: "max_peers_per_ip",
                ..
            })
        ));
        let mut c = NodeConfig::local_test();
        c.limits.protected_inbound = 100_001;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::TooLarge {
                field: "protected_inbound",
                ..
            })
        ));
    }

    #[test]
    fn gossip_and_ping_limits_are_validated() {
        let mut c = NodeConfig::local_test();
        c.limits.ping_rate_per_sec = 0;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::TooSmall {
                field: "ping_rate_per_sec",
                ..
            })
        ));
        let mut c = NodeConfig::local_test();
        c.limits.gossip_bytes_burst = c.limits.max_body_len;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Inconsistent {
                field: "gossip_bytes_burst",
                ..
            })
        ));
    }

    #[test]
    fn ban_duration_zero_is_allowed() {
        let mut c = NodeConfig::local_test();
        c.timeouts.ban = Duration::ZERO;
        c.validate().expect("bans disabled is valid");
    }
}
