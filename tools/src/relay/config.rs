//! [`RelayConfig`] (where to listen, where to forward, timeouts and bounds) with its validation,
//! and [`RelayError`], the relay's error enum. Plain data; no messages.

use std::net::SocketAddr;
use std::time::Duration;

use hobbits_codec::eth::EthLimits;
use hobbits_codec::FrameLimits;

use super::analysis::AnalyzerSettings;
use hobbits_codec::uri::PeerUri;

/// Errors of the relay.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A configuration value is unusable.
    #[error("invalid relay configuration: {field}: {reason}")]
    InvalidConfig {
        /// The field at fault.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Which wire the relayed peers speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelayDialect {
    /// EWP v3 frames (`hob+tcp://`).
    #[default]
    Ewp,
    /// The ETH raw-TCP dialect of the eth2 RPC interface (`eth+tcp://`).
    Eth,
}

/// How a relay runs.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Address to accept clients on (port 0 picks a free port; see `RelayHandle::listen_addr`).
    pub listen: SocketAddr,
    /// Where each accepted client is forwarded (one upstream connection per client).
    pub upstream: PeerUri,
    /// Limits the copy of the traffic is decoded with. Frames above them are still forwarded; the
    /// direction is reported `FRAME_TOO_LARGE` and no longer decoded. Default: the codec's.
    pub limits: FrameLimits,
    /// A request with no response after this long is reported `UNANSWERED_REQUEST`. Default 10 s.
    pub request_timeout: Duration,
    /// A ping with no pong after this long is reported `PING_UNANSWERED`. Default 5 s.
    pub ping_timeout: Duration,
    /// Longest wait for the upstream connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Most connection pairs at once; clients beyond are closed at once. Default 64.
    pub max_connections: usize,
    /// Most requests (and pings) tracked per pair. Default 1024.
    pub max_outstanding: usize,
    /// Read buffer per direction, in bytes: the most forwarded per read. Default 16 KiB.
    pub read_buffer: usize,
    /// Capacity of the event channel; a full channel drops events (counted in the summary).
    /// Default 4096.
    pub event_capacity: usize,
    /// Keep each frame's bytes in its record (the `--raw` hex). Default false.
    pub keep_raw: bool,
    /// The wire both sides speak; decides how the copy is decoded. Default EWP.
    pub dialect: RelayDialect,
    /// Limits the copy is framed with under the ETH dialect (a message above them is still
    /// forwarded; the direction is reported `FRAME_TOO_LARGE`). Default: the codec's.
    pub eth_limits: EthLimits,
}

impl RelayConfig {
    /// A configuration with the defaults above.
    pub fn new(listen: SocketAddr, upstream: PeerUri) -> Self {
        Self {
            listen,
            upstream,
            limits: FrameLimits::default(),
            request_timeout: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            max_connections: 64,
            max_outstanding: 1024,
            read_buffer: 16 * 1024,
            event_capacity: 4096,
            keep_raw: false,
            dialect: RelayDialect::Ewp,
            eth_limits: EthLimits::default(),
        }
    }

    /// Checks every bound and duration.
    pub fn validate(&self) -> Result<(), RelayError> {
        let invalid = |field, reason: &str| RelayError::InvalidConfig {
            field,
            reason: reason.to_string(),
        };
        self.limits
            .validate()
            .map_err(|e| invalid("limits", &e.to_string()))?;
        self.eth_limits
            .validate()
            .map_err(|e| invalid("eth_limits", &e.to_string()))?;
        for (field, d) in [
            ("request_timeout", self.request_timeout),
            ("ping_timeout", self.ping_timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if d.is_zero() {
                return Err(invalid(field, "must be above zero"));
            }
        }
        for (field, v, max) in [
            ("max_connections", self.max_connections, 1 << 16),
            ("max_outstanding", self.max_outstanding, 1 << 20),
            ("read_buffer", self.read_buffer, 16 << 20),
            ("event_capacity", self.event_capacity, 1 << 20),
        ] {
            if v == 0 || v > max {
                return Err(invalid(field, &format!("must be in 1..={max}, got {v}")));
            }
        }
        Ok(())
    }

    /// The analysis settings of this configuration.
    pub fn analyzer_settings(&self) -> AnalyzerSettings {
        AnalyzerSettings {
            limits: self.limits,
            request_timeout: self.request_timeout,
            ping_timeout: self.ping_timeout,
            max_outstanding: self.max_outstanding,
            keep_raw: self.keep_raw,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_zeroes_do_not() {
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let mut c = RelayConfig::new(addr, PeerUri::from_socket_addr(addr));
        assert!(c.validate().is_ok());
        c.ping_timeout = Duration::ZERO;
        assert!(matches!(
            c.validate(),
            Err(RelayError::InvalidConfig {
                field: "ping_timeout",
                ..
            })
        ));
        c.ping_timeout = Duration::from_secs(1);
        c.read_buffer = 0;
        assert!(c.validate().is_err());
    }
}
