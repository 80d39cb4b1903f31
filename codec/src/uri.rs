//! Hobbits peer addresses: `hob+tcp://[identity@]host:port` (see `hobbits-uri.md`).
//!
//! Owns [`PeerUri`] and its parser; no I/O. Wire-level addressing shared by the node and the interop
//! tools. Only the `hob+tcp` scheme (insecure persistent TCP) is dialable, so the other schemes of
//! the spec parse into a typed refusal rather than a generic syntax error.

use std::fmt;
use std::str::FromStr;

/// The one scheme this node speaks.
pub const SCHEME_TCP: &str = "hob+tcp";

/// Schemes listed by `hobbits-uri.md` that this node recognises but does not dial.
const KNOWN_OTHER_SCHEMES: &[&str] = &[
    "hob+udp",
    "hob+tls",
    "hobs+dtls",
    "hob+dtls",
    "hob+http",
    "hob+https",
    "hob+ws",
    "hob+ssb",
];

/// Why a peer address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// No `scheme://` prefix.
    #[error("`{uri}` has no scheme; expected hob+tcp://host:port")]
    MissingScheme {
        /// The address given.
        uri: String,
    },
    /// A scheme of the Hobbits URI spec that this node cannot dial (UDP, TLS, ...).
    #[error("scheme `{scheme}` is not supported by this node (only hob+tcp)")]
    UnsupportedScheme {
        /// The scheme given.
        scheme: String,
    },
    /// A scheme that is not a Hobbits scheme at all.
    #[error("`{scheme}` is not a Hobbits URI scheme; expected hob+tcp")]
    UnknownScheme {
        /// The scheme given.
        scheme: String,
    },
    /// The identity part before `@` is empty.
    #[error("empty identity before `@` in `{uri}`")]
    EmptyIdentity {
        /// The address given.
        uri: String,
    },
    /// No host.
    #[error("missing host in `{uri}`")]
    MissingHost {
        /// The address given.
        uri: String,
    },
    /// No `:port`.
    #[error("missing port in `{uri}`; expected host:port")]
    MissingPort {
        /// The address given.
        uri: String,
    },
    /// The port is not an integer between 1 and 65535.
    #[error("port `{port}` is not an integer between 1 and 65535")]
    BadPort {
        /// The port given.
        port: String,
    },
    /// A path, query or fragment after the port.
    #[error("unexpected trailing `{rest}` after the port")]
    TrailingData {
        /// What follows the port.
        rest: String,
    },
}

/// A parsed `hob+tcp://[identity@]host:port` address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerUri {
    /// The user-information part: a public key in the RLPx / SSB transports; kept verbatim here.
    pub identity: Option<String>,
    /// A host name or an IP literal (IPv6 without the brackets).
    pub host: String,
    /// 1..=65535.
    pub port: u16,
}

impl PeerUri {
    /// `host:port` as accepted by `tokio::net::lookup_host` (IPv6 in brackets).
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// A URI for a socket address (used for `--listen` echo and in logs).
    pub fn from_socket_addr(addr: std::net::SocketAddr) -> Self {
        PeerUri {
            identity: None,
            host: addr.ip().to_string(),
            port: addr.port(),
        }
    }
}

impl fmt::Display for PeerUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME_TCP}://")?;
        if let Some(id) = &self.identity {
            write!(f, "{id}@")?;
        }
        f.write_str(&self.host_port())
    }
}

impl FromStr for PeerUri {
    type Err = UriError;

    fn from_str(uri: &str) -> Result<Self, UriError> {
        let uri = uri.trim();
        let (scheme, rest) = uri
            .split_once("://")
            .ok_or_else(|| UriError::MissingScheme {
                uri: uri.to_owned(),
            })?;
        let scheme_lc = scheme.to_ascii_lowercase();
        if scheme_lc != SCHEME_TCP {
            return Err(if KNOWN_OTHER_SCHEMES.contains(&scheme_lc.as_str()) {
                UriError::UnsupportedScheme { scheme: scheme_lc }
            } else {
                UriError::UnknownScheme {
                    scheme: scheme.to_owned(),
                }
            });
        }
        // Authority ends at the first '/', '?' or '#'; a bare trailing '/' is tolerated.
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if !tail.is_empty() && tail != "/" {
            return Err(UriError::TrailingData {
                rest: tail.to_owned(),
            });
        }
        let (identity, hostport) = match authority.rsplit_once('@') {
            Some((id, hp)) => {
                if id.is_empty() {
                    return Err(UriError::EmptyIdentity {
                        uri: uri.to_owned(),
                    });
                }
                (Some(id.to_owned()), hp)
            }
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| UriError::MissingHost {
                uri: uri.to_owned(),
            })?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| UriError::MissingPort {
                    uri: uri.to_owned(),
                })?;
            (host, port)
        } else {
            hostport
                .rsplit_once(':')
                .ok_or_else(|| UriError::MissingPort {
                    uri: uri.to_owned(),
                })?
        };
        if host.is_empty() {
            return Err(UriError::MissingHost {
                uri: uri.to_owned(),
            });
        }
        let port_num: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0 && port.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| UriError::BadPort {
                port: port.to_owned(),
            })?;
        Ok(PeerUri {
            identity,
            host: host.to_owned(),
            port: port_num,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<PeerUri, UriError> {
        s.parse()
    }

    #[test]
    fn parses_plain_ipv4() {
        let u = parse("hob+tcp://10.0.0.1:9000").expect("valid");
        assert_eq!(u.host, "10.0.0.1");
        assert_eq!(u.port, 9000);
        assert_eq!(u.identity, None);
        assert_eq!(u.to_string(), "hob+tcp://10.0.0.1:9000");
    }

    #[test]
    fn parses_identity_and_ipv6() {
        let u = parse("hob+tcp://abcdef@[::1]:30303/").expect("valid");
        assert_eq!(u.identity.as_deref(), Some("abcdef"));
        assert_eq!(u.host, "::1");
        assert_eq!(u.host_port(), "[::1]:30303");
        assert_eq!(u.to_string(), "hob+tcp://abcdef@[::1]:30303");
    }

    #[test]
    fn parses_hostname_and_case_insensitive_scheme() {
        let u = parse("HOB+TCP://localhost:1").expect("valid");
        assert_eq!(u.host, "localhost");
        assert_eq!(u.port, 1);
    }

    #[test]
    fn refuses_other_schemes_with_a_reason() {
        assert_eq!(
            parse("hob+udp://10.0.0.1:9000"),
            Err(UriError::UnsupportedScheme {
                scheme: "hob+udp".into()
            })
        );
        assert!(matches!(
            parse("http://10.0.0.1:9000"),
            Err(UriError::UnknownScheme { .. })
        ));
        assert!(matches!(
            parse("10.0.0.1:9000"),
            Err(UriError::MissingScheme { .. })
        ));
    }

    #[test]
    fn refuses_bad_ports_and_hosts() {
        for bad in ["0", "65536", "-1", "x", "", "+80"] {
            let r = parse(&format!("hob+tcp://127.0.0.1:{bad}"));
            assert!(matches!(r, Err(UriError::BadPort { .. })), "{bad}: {r:?}");
        }
        assert!(matches!(
            parse("hob+tcp://127.0.0.1"),
            Err(UriError::MissingPort { .. })
        ));
        assert!(matches!(
            parse("hob+tcp://:9000"),
            Err(UriError::MissingHost { .. })
        ));
        assert!(matches!(
            parse("hob+tcp://@h:9000"),
            Err(UriError::EmptyIdentity { .. })
        ));
        assert!(matches!(
            parse("hob+tcp://h:9000/path"),
            Err(UriError::TrailingData { .. })
        ));
    }
}
