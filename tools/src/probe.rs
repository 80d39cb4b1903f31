//! One-shot clients for the command line tools (`hobbits-node ping`, `hobbits-node status`): a
//! plain tokio connection with the frame codec, no actors. PING needs no handshake; status
//! performs HELLO (as the dialer) then GET_STATUS.
//!
//! Status is not fooled by an echo server: our HELLO carries a random best_root and our requests
//! random ids; a reply that is our own frame byte for byte, a HELLO with our best_root or a status
//! with our user agent is [`ProbeError::Echo`], never printed as the peer's.
//!
//! Handles and sends no actor messages.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hobbits_chain::rpc::{GetStatus, Hello};
use hobbits_chain::{Epoch, Root, Slot};
use hobbits_codec::rpc::{RequestId, RpcEnvelope, RpcMethod, RpcPayload};
use hobbits_codec::{CodecError, Frame, FrameCodec, PingFrame, PingKind};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use hobbits_codec::uri::PeerUri;

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Could not connect.
    #[error("cannot connect to {uri}: {source}")]
    Connect {
        /// The address.
        uri: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// No answer in time.
    #[error("no {what} within {after:?}")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// The peer closed the connection.
    #[error("peer closed the connection while waiting for {what}")]
    Closed {
        /// What was awaited.
        what: &'static str,
    },
    /// The peer said GOODBYE.
    #[error("peer said GOODBYE (reason {reason:?})")]
    Goodbye {
        /// The GOODBYE reason code, if readable.
        reason: Option<u64>,
    },
    /// Bytes that are not what was expected.
    #[error("bad reply: {0}")]
    Codec(#[from] CodecError),
    /// A pong with another body.
    #[error("pong body differs from the ping body")]
    PongMismatch,
    /// The peer returned our own request instead of answering it.
    #[error("echo: the peer returned our own {what} instead of its own ({detail})")]
    Echo {
        /// What came back (`HELLO`, `GET_STATUS`).
        what: &'static str,
        /// How it was recognised.
        detail: &'static str,
    },
}

/// Round-trip times of a ping run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingReport {
    /// One per ping, in order.
    pub rtts: Vec<Duration>,
}

impl PingReport {
    fn sorted(&self) -> Vec<Duration> {
        let mut v = self.rtts.clone();
        v.sort();
        v
    }

    /// Smallest round trip.
    pub fn min(&self) -> Option<Duration> {
        self.sorted().first().copied()
    }

    /// Median round trip.
    pub fn median(&self) -> Option<Duration> {
        let v = self.sorted();
        v.get(v.len() / 2).copied()
    }

    /// 99th percentile (nearest rank).
    pub fn p99(&self) -> Option<Duration> {
        let v = self.sorted();
        if v.is_empty() {
            return None;
        }
        let rank = ((v.len() as f64) * 0.99).ceil() as usize;
        v.get(rank.clamp(1, v.len()) - 1).copied()
    }
}

/// What a peer said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// Its HELLO reply.
    pub hello: Hello,
    /// Its GET_STATUS reply.
    pub status: GetStatus,
    /// HELLO + GET_STATUS time.
    pub elapsed: Duration,
}

/// A connection to one peer.
#[derive(Debug)]
pub struct Probe {
    framed: Framed<TcpStream, FrameCodec>,
    timeout: Duration,
}

impl Probe {
    /// Connects (the first resolved address that answers).
    pub async fn connect(uri: &PeerUri, timeout: Duration) -> Result<Probe, ProbeError> {
        let err = |source| ProbeError::Connect {
            uri: uri.to_string(),
            source,
        };
        let stream = tokio::time::timeout(timeout, TcpStream::connect(uri.host_port()))
            .await
            .map_err(|_| {
                err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "timed out",
                ))
            })?
            .map_err(err)?;
        Ok(Probe::over(stream, timeout))
    }

    /// A probe over a connection made elsewhere (e.g. from another network namespace).
    pub fn over(stream: TcpStream, timeout: Duration) -> Probe {
        let _ = stream.set_nodelay(true);
        Probe {
            framed: Framed::new(stream, FrameCodec::default()),
            timeout,
        }
    }

    async fn send(&mut self, frame: Frame) -> Result<(), ProbeError> {
        self.framed.send(frame).await?;
        Ok(())
    }

    /// Sends `payload` with `id`; returns the frame's bytes (to recognise an echo).
    async fn send_request(
        &mut self,
        id: RequestId,
        payload: &RpcPayload,
    ) -> Result<Bytes, ProbeError> {
        let frame = RpcEnvelope::new(id, payload).to_frame()?;
        let bytes = frame.to_bytes()?;
        self.send(frame).await?;
        Ok(bytes)
    }

    async fn next(&mut self, what: &'static str, end: Instant) -> Result<Frame, ProbeError> {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.framed.next()).await {
            Err(_) => Err(ProbeError::Timeout {
                what,
                after: self.timeout,
            }),
            Ok(None) => Err(ProbeError::Closed { what }),
            Ok(Some(r)) => Ok(r?),
        }
    }

    /// One ping with a `body`; returns the round trip.
    pub async fn ping_once(&mut self, body: Bytes) -> Result<Duration, ProbeError> {
        let start = Instant::now();
        let end = start + self.timeout;
        self.send(PingFrame::ping(body.clone()).to_frame()).await?;
        loop {
            let frame = self.next("pong", end).await?;
            if let Ok(p) = PingFrame::from_frame(&frame) {
                if p.kind == PingKind::Pong {
                    return if p.body == body {
                        Ok(start.elapsed())
                    } else {
                        Err(ProbeError::PongMismatch)
                    };
                }
            }
        }
    }

    /// `count` pings with 32-byte bodies (a counter), one at a time.
    pub async fn ping(&mut self, count: usize) -> Result<PingReport, ProbeError> {
        let mut rtts = Vec::with_capacity(count);
        for i in 0..count {
            let mut body = [0u8; 32];
            body[..8].copy_from_slice(&(i as u64).to_be_bytes());
            rtts.push(self.ping_once(Bytes::copy_from_slice(&body)).await?);
        }
        Ok(PingReport { rtts })
    }

    async fn next_rpc(
        &mut self,
        method: RpcMethod,
        id: RequestId,
        what: &'static str,
        end: Instant,
        sent: &Bytes,
    ) -> Result<RpcPayload, ProbeError> {
        loop {
            let frame = self.next(what, end).await?;
            if frame.to_bytes().is_ok_and(|b| b == *sent) {
                return Err(ProbeError::Echo {
                    what,
                    detail: "the same bytes",
                });
            }
            let Ok(env) = RpcEnvelope::from_frame(&frame) else {
                continue;
            };
            if env.header.method == RpcMethod::Goodbye {
                let reason = match env.decode_payload().map(|d| d.payload) {
                    Ok(RpcPayload::Goodbye(g)) => Some(g.reason),
                    _ => None,
                };
                return Err(ProbeError::Goodbye { reason });
            }
            if env.header.method == method && env.header.id == id {
                return Ok(env.decode_payload()?.payload);
            }
        }
    }

    /// HELLO (as a node at genesis on `network_id` / `chain_id`, with a random best_root) then
    /// GET_STATUS.
    pub async fn status(
        &mut self,
        network_id: u8,
        chain_id: u8,
        user_agent: &str,
    ) -> Result<StatusReport, ProbeError> {
        let start = Instant::now();
        let end = start + self.timeout;
        let mut nonce = [0u8; 32];
        rand::Rng::fill(&mut rand::thread_rng(), &mut nonce);
        nonce[0] |= 1;
        let ours = Hello {
            network_id,
            chain_id,
            latest_finalized_root: Root::ZERO,
            latest_finalized_epoch: Epoch(0),
            best_root: Root(nonce),
            best_slot: Slot(0),
        };
        // Random ids (exact in int32 and double): recorded replies do not carry them.
        let first: u64 = rand::Rng::gen_range(&mut rand::thread_rng(), 1u64 << 20..1u64 << 30);
        let (hello_id, status_id) = (RequestId(first), RequestId(first + 1));
        let sent = self
            .send_request(hello_id, &RpcPayload::Hello(ours.clone()))
            .await?;
        let hello = match self
            .next_rpc(RpcMethod::Hello, hello_id, "HELLO", end, &sent)
            .await?
        {
            RpcPayload::Hello(h) => h,
            _ => return Err(ProbeError::Closed { what: "HELLO" }),
        };
        if hello.best_root == ours.best_root {
            return Err(ProbeError::Echo {
                what: "HELLO",
                detail: "our random best_root",
            });
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let ask = GetStatus::new(user_agent, now_ms);
        let sent = self
            .send_request(status_id, &RpcPayload::GetStatus(ask.clone()))
            .await?;
        let status = match self
            .next_rpc(RpcMethod::GetStatus, status_id, "GET_STATUS", end, &sent)
            .await?
        {
            RpcPayload::GetStatus(s) => s,
            _ => return Err(ProbeError::Closed { what: "GET_STATUS" }),
        };
        if status.user_agent == ask.user_agent {
            return Err(ProbeError::Echo {
                what: "GET_STATUS",
                detail: "our own user agent",
            });
        }
        Ok(StatusReport {
            hello,
            status,
            elapsed: start.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let r = PingReport {
            rtts: (1..=100).rev().map(Duration::from_micros).collect(),
        };
        assert_eq!(r.min(), Some(Duration::from_micros(1)));
        assert_eq!(r.median(), Some(Duration::from_micros(51)));
        assert_eq!(r.p99(), Some(Duration::from_micros(99)));
        let one = PingReport {
            rtts: vec![Duration::from_micros(7)],
        };
        assert_eq!(one.p99(), Some(Duration::from_micros(7)));
        assert_eq!(PingReport { rtts: vec![] }.median(), None);
    }
}
