//! The ETH raw-TCP dialect's settings of the binary: `eth_listen`, the `eth+tcp://` entries of
//! `peers`, and `[eth]` (sync through roots, [`RootsSyncConfig`]'s fields with
//! `poll_interval_ms`), read from a layered [`NodeSettings`] into typed, validated values.
//! Handles no messages.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use hobbits_actors::config::ConfigError;
use hobbits_actors::sync::roots::RootsSyncConfig;
use hobbits_codec::eth::ETH_DEFAULT_PORT;

use super::{overlay_value, NodeSettings};

/// The URI scheme of a peer of the ETH raw-TCP dialect.
pub const ETH_SCHEME: &str = "eth+tcp://";

/// Sync through roots from ETH peers (`[eth]`), all optional: [`RootsSyncConfig`]'s fields,
/// the poll interval in milliseconds.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EthSettings {
    pub poll_interval_ms: Option<u64>,
    pub lookback_slots: Option<u64>,
    pub blocks_per_request: Option<usize>,
    pub range_slots: Option<u64>,
    pub pieces_per_peer: Option<usize>,
}

impl NodeSettings {
    /// The ETH listener's address, when `eth_listen` is set: `host:port`, or a bare IP on the
    /// spec's port 9000 (a host name is refused, as for `listen`).
    pub fn eth_listen_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        let Some(text) = self.eth_listen.as_deref().map(str::trim) else {
            return Ok(None);
        };
        if text.is_empty() {
            return Ok(None);
        }
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(Some(addr));
        }
        match text.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(ip) => Ok(Some(SocketAddr::new(ip, ETH_DEFAULT_PORT))),
            Err(_) => Err(ConfigError::Source(format!(
                "eth_listen (--eth-listen) `{text}` is neither host:port nor an IP address"
            ))),
        }
    }

    /// The `eth+tcp://host:port` peers among `peers` (a host name is resolved once, here).
    pub fn eth_peers(&self) -> Result<Vec<SocketAddr>, ConfigError> {
        self.peers
            .iter()
            .flatten()
            .filter_map(|p| p.trim().strip_prefix(ETH_SCHEME))
            .map(|hostport| {
                hostport
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| {
                        ConfigError::Source(format!(
                            "peer `{ETH_SCHEME}{hostport}`: not a reachable host:port"
                        ))
                    })
            })
            .collect()
    }

    /// Sync through roots: the defaults with `[eth]`'s values, validated.
    pub fn roots_sync(&self) -> Result<RootsSyncConfig, ConfigError> {
        let mut c = RootsSyncConfig::default();
        let s = &self.eth;
        overlay_value(
            &mut c.poll_interval,
            s.poll_interval_ms.map(Duration::from_millis),
        );
        overlay_value(&mut c.lookback_slots, s.lookback_slots);
        overlay_value(&mut c.blocks_per_request, s.blocks_per_request);
        overlay_value(&mut c.range_slots, s.range_slots);
        overlay_value(&mut c.pieces_per_peer, s.pieces_per_peer);
        c.validate()?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::temp_file;

    #[test]
    fn eth_keys_come_from_the_file_and_flags_and_are_validated() {
        let (dir, file) = temp_file(
            "eth",
            "eth_listen = \"0.0.0.0\"\npeers = [\"hob+tcp://127.0.0.1:1\", \"eth+tcp://127.0.0.1:9200\"]\n\
             [eth]\npoll_interval_ms = 250\nrange_slots = 64\n",
        );
        let s = NodeSettings::load(Some(&file), &NodeSettings::default()).expect("load");
        assert_eq!(
            s.eth_listen_addr(),
            Ok(Some(SocketAddr::from(([0, 0, 0, 0], ETH_DEFAULT_PORT)))),
            "a bare IP listens on the spec's port"
        );
        assert_eq!(
            s.eth_peers(),
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], 9200))])
        );
        let c = s.to_config().expect("valid");
        assert_eq!(c.peers.len(), 1, "the Hobbits peer only: {:?}", c.peers);
        let r = s.roots_sync().expect("valid");
        assert_eq!(r.poll_interval, Duration::from_millis(250));
        assert_eq!(r.range_slots, 64);
        assert_eq!(
            r.blocks_per_request,
            RootsSyncConfig::default().blocks_per_request
        );
        // Flags win over the file.
        let flags = NodeSettings {
            eth_listen: Some("127.0.0.1:9300".into()),
            ..Default::default()
        };
        let s = NodeSettings::load(Some(&file), &flags).expect("load");
        assert_eq!(
            s.eth_listen_addr(),
            Ok(Some(SocketAddr::from(([127, 0, 0, 1], 9300))))
        );
        // Typed errors naming the key.
        std::fs::write(&file, "[eth]\npoll_interval_ms = 0\n").expect("write");
        let s = NodeSettings::load(Some(&file), &NodeSettings::default()).expect("load");
        assert_eq!(
            s.roots_sync(),
            Err(ConfigError::ZeroDuration {
                field: "eth.poll_interval"
            })
        );
        std::fs::write(&file, "[eth]\nrange_slots = 0\n").expect("write");
        let s = NodeSettings::load(Some(&file), &NodeSettings::default()).expect("load");
        assert!(matches!(
            s.roots_sync(),
            Err(ConfigError::TooSmall {
                field: "eth.range_slots",
                ..
            })
        ));
        std::fs::write(&file, "[eth]\npoll_intervl_ms = 5\n").expect("write");
        let r = NodeSettings::load(Some(&file), &NodeSettings::default());
        assert!(matches!(r, Err(ConfigError::Source(m)) if m.contains("poll_intervl_ms")));
        let bad = NodeSettings {
            eth_listen: Some("localhost".into()),
            peers: Some(vec!["eth+tcp://127.0.0.1".into()]),
            ..Default::default()
        };
        assert!(
            matches!(bad.eth_listen_addr(), Err(ConfigError::Source(m)) if m.contains("eth-listen"))
        );
        assert!(bad.eth_peers().is_err(), "no port");
        let _ = std::fs::remove_dir_all(dir);
    }
}
