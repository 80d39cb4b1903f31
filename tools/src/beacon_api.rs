//! [`BeaconApi`]: a small client of a node's Beacon API (docs/API.md) over HTTP/1.1 on plain
//! tokio, for `hobbits-node status http://…` and the process testnet engine: one `GET` per
//! connection (`Connection: close`), the whole answer read within the timeout and at most
//! [`MAX_RESPONSE`] bytes, chunked bodies decoded, JSON parsed; an error status comes back with
//! the spec's `message`. [`BeaconApi::head_and_finality`] and [`BeaconApi::node_status`] read the
//! few endpoints a status needs. No HTTP crate: requests are one line and a `Host` header.
//! Handles and sends no messages.

use std::net::SocketAddr;
use std::time::Duration;

use hobbits_chain::{Epoch, Root, Slot};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest answer read.
pub const MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Not `http://host:port[/]`.
    #[error("`{url}` is not http://host:port")]
    BadUrl {
        /// What was given.
        url: String,
    },
    /// The host did not resolve or the connection failed.
    #[error("cannot connect to {target}: {reason}")]
    Connect {
        /// host:port.
        target: String,
        /// Why.
        reason: String,
    },
    /// No whole answer within the timeout.
    #[error("{path}: no answer within {timeout:?}")]
    Timeout {
        /// The path asked.
        path: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The answer is not HTTP, too large, or its body not the JSON expected.
    #[error("{path}: {reason}")]
    BadAnswer {
        /// The path asked.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// A non-2xx status.
    #[error("{path}: HTTP {status}: {message}")]
    Status {
        /// The path asked.
        path: String,
        /// The status code.
        status: u16,
        /// The error body's `message` (or the body).
        message: String,
    },
}

/// The head and finality a node reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadAndFinality {
    /// Head slot.
    pub head_slot: Slot,
    /// Head block root.
    pub head_root: Root,
    /// Finalized checkpoint epoch.
    pub finalized_epoch: Epoch,
    /// Finalized checkpoint root.
    pub finalized_root: Root,
}

/// What `status http://…` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// `/eth/v1/node/version`.
    pub version: String,
    /// `/eth/v1/node/identity` `peer_id`.
    pub peer_id: String,
    /// `/eth/v1/node/identity` `p2p_addresses`.
    pub p2p_addresses: Vec<String>,
    /// `/eth/v1/beacon/genesis` `genesis_time`.
    pub genesis_time: u64,
    /// Head and finality.
    pub chain: HeadAndFinality,
    /// `/eth/v1/node/peer_count` `connected`.
    pub peers: u64,
    /// `/eth/v1/node/syncing` `is_syncing`.
    pub is_syncing: bool,
    /// `/eth/v1/node/syncing` `sync_distance`.
    pub sync_distance: u64,
}

/// A client of one node's API.
#[derive(Debug, Clone)]
pub struct BeaconApi {
    addr: SocketAddr,
    host: String,
    timeout: Duration,
}

fn bad(path: &str, reason: impl Into<String>) -> ApiError {
    ApiError::BadAnswer {
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// Decodes a chunked body; `None` when it is cut or malformed.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        let data = line_end + 2;
        if size == 0 {
            return Some(out);
        }
        let chunk = raw.get(data..data.checked_add(size)?)?;
        out.extend_from_slice(chunk);
        raw = raw.get(data + size + 2..)?;
    }
}

/// Status and body of a whole HTTP/1.1 answer.
fn parse_answer(path: &str, buf: &[u8]) -> Result<(u16, Vec<u8>), ApiError> {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad(path, "no HTTP head"))?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .filter(|l| l.starts_with("HTTP/1."))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad(path, "not an HTTP/1 status line"))?;
    let chunked = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let body = &buf[end + 4..];
    let body = if chunked {
        dechunk(body).ok_or_else(|| bad(path, "cut chunked body"))?
    } else {
        body.to_vec()
    };
    Ok((status, body))
}

/// A decimal-string integer at `v`.
fn int(path: &str, v: &Value) -> Result<u64, ApiError> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(path, format!("`{v}` is not a decimal string")))
}

fn root(path: &str, v: &Value) -> Result<Root, ApiError> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(path, format!("`{v}` is not a 0x root")))
}

impl BeaconApi {
    /// A client of the API at `addr`.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        BeaconApi {
            addr,
            host: addr.to_string(),
            timeout,
        }
    }

    /// A client of `http://host:port` (the host is resolved now).
    pub async fn from_url(url: &str, timeout: Duration) -> Result<Self, ApiError> {
        let bad_url = || ApiError::BadUrl {
            url: url.to_string(),
        };
        let rest = url.strip_prefix("http://").ok_or_else(bad_url)?;
        let hostport = rest.strip_suffix('/').unwrap_or(rest);
        if hostport.is_empty() || hostport.contains('/') || !hostport.contains(':') {
            return Err(bad_url());
        }
        let connect = |reason: String| ApiError::Connect {
            target: hostport.to_string(),
            reason,
        };
        let addr = tokio::net::lookup_host(hostport)
            .await
            .map_err(|e| connect(e.to_string()))?
            .next()
            .ok_or_else(|| connect("no address".into()))?;
        Ok(BeaconApi {
            addr,
            host: hostport.to_string(),
            timeout,
        })
    }

    /// The address asked.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `GET path` as JSON.
    pub async fn get_json(&self, path: &str) -> Result<Value, ApiError> {
        let timeout = ApiError::Timeout {
            path: path.to_string(),
            timeout: self.timeout,
        };
        let buf = tokio::time::timeout(self.timeout, self.fetch(path))
            .await
            .map_err(|_| timeout)??;
        let (status, body) = parse_answer(path, &buf)?;
        let json: Result<Value, _> = serde_json::from_slice(&body);
        if !(200..300).contains(&status) {
            let message = json
                .ok()
                .and_then(|j| j["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
            return Err(ApiError::Status {
                path: path.to_string(),
                status,
                message,
            });
        }
        json.map_err(|e| bad(path, format!("body is not JSON: {e}")))
    }

    async fn fetch(&self, path: &str) -> Result<Vec<u8>, ApiError> {
        let connect = |e: std::io::Error| ApiError::Connect {
            target: self.host.clone(),
            reason: e.to_string(),
        };
        let mut s = TcpStream::connect(self.addr).await.map_err(connect)?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
            self.host
        );
        s.write_all(request.as_bytes()).await.map_err(connect)?;
        let mut buf = Vec::new();
        (&mut s)
            .take(MAX_RESPONSE as u64 + 1)
            .read_to_end(&mut buf)
            .await
            .map_err(connect)?;
        if buf.len() > MAX_RESPONSE {
            return Err(bad(path, format!("answer over {MAX_RESPONSE} bytes")));
        }
        Ok(buf)
    }

    /// The head header and the finality checkpoints.
    pub async fn head_and_finality(&self) -> Result<HeadAndFinality, ApiError> {
        let p = "/eth/v1/beacon/headers/head";
        let head = self.get_json(p).await?;
        let head_slot = Slot(int(p, &head["data"]["header"]["message"]["slot"])?);
        let head_root = root(p, &head["data"]["root"])?;
        let p = "/eth/v1/beacon/states/head/finality_checkpoints";
        let fin = self.get_json(p).await?;
        let f = &fin["data"]["finalized"];
        Ok(HeadAndFinality {
            head_slot,
            head_root,
            finalized_epoch: Epoch(int(p, &f["epoch"])?),
            finalized_root: root(p, &f["root"])?,
        })
    }

    /// Everything `status http://…` prints.
    pub async fn node_status(&self) -> Result<NodeStatus, ApiError> {
        let p = "/eth/v1/node/version";
        let version = self.get_json(p).await?["data"]["version"]
            .as_str()
            .ok_or_else(|| bad(p, "no data.version"))?
            .to_string();
        let p = "/eth/v1/node/identity";
        let id = self.get_json(p).await?;
        let peer_id = id["data"]["peer_id"].as_str().unwrap_or("").to_string();
        let p2p_addresses = id["data"]["p2p_addresses"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let p = "/eth/v1/beacon/genesis";
        let genesis_time = int(p, &self.get_json(p).await?["data"]["genesis_time"])?;
        let chain = self.head_and_finality().await?;
        let p = "/eth/v1/node/peer_count";
        let peers = int(p, &self.get_json(p).await?["data"]["connected"])?;
        let p = "/eth/v1/node/syncing";
        let sync = self.get_json(p).await?;
        Ok(NodeStatus {
            version,
            peer_id,
            p2p_addresses,
            genesis_time,
            chain,
            peers,
            is_syncing: sync["data"]["is_syncing"].as_bool().unwrap_or(false),
            sync_distance: int(p, &sync["data"]["sync_distance"])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_plain_and_chunked() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_answer("/", plain).expect("ok"), (200, b"{}".to_vec()));
        let chunked =
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assert_eq!(
            parse_answer("/", chunked).expect("ok"),
            (404, b"{}".to_vec())
        );
        assert!(parse_answer("/", b"SSH-2.0\r\n\r\n").is_err());
        assert!(parse_answer("/", b"HTTP/1.1 200 OK\r\n").is_err());
        assert_eq!(dechunk(b"5\r\nab"), None);
    }

    #[tokio::test]
    async fn urls() {
        let t = Duration::from_secs(1);
        for bad_url in [
            "hob+tcp://127.0.0.1:1",
            "http://",
            "http://127.0.0.1",
            "http://h:1/x",
        ] {
            assert!(
                matches!(
                    BeaconApi::from_url(bad_url, t).await,
                    Err(ApiError::BadUrl { .. })
                ),
                "{bad_url}"
            );
        }
        let api = BeaconApi::from_url("http://127.0.0.1:5052/", t)
            .await
            .expect("url");
        assert_eq!(api.addr(), "127.0.0.1:5052".parse().expect("addr"));
    }
}
