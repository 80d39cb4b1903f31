//! Outbound RPC bookkeeping for one connection, as a plain struct: request ids (unique per
//! connection, monotonically increasing), the cap on outstanding requests, per-request deadlines,
//! and matching of responses by id in any order. Also [`RpcError`], the typed failure an RPC
//! caller gets back.
//!
//! The session actor owns one [`RequestTracker`]; its waiters are oneshot senders, but the tracker
//! is generic so tests drive it with plain values and explicit `Instant`s.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Why an outbound RPC request produced no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// No response within the request timeout.
    #[error("request timed out after {after:?}")]
    Timeout {
        /// The request timeout.
        after: Duration,
    },
    /// `max_outstanding_requests` requests are already waiting on this peer.
    #[error("too many outstanding requests to this peer (max {max})")]
    TooManyOutstanding {
        /// `max_outstanding_requests`.
        max: usize,
    },
    /// The connection closed before the response arrived.
    #[error("peer disconnected before responding")]
    Disconnected,
    /// No such peer (never existed or already gone).
    #[error("unknown peer")]
    UnknownPeer,
    /// The peer has not completed the HELLO exchange.
    #[error("peer has not completed the handshake")]
    NotHandshaked,
    /// The peer's outbound queue is full (a slow peer).
    #[error("peer's outbound queue is full")]
    QueueFull,
    /// The peer answered with a non-zero response code.
    #[error("peer answered with response code {code}")]
    ErrorResponse {
        /// The response code.
        code: u16,
    },
    /// The response body did not decode as the expected payload.
    #[error("bad response: {reason}")]
    BadResponse {
        /// What was wrong.
        reason: String,
    },
    /// The request could not be encoded.
    #[error("cannot encode request: {reason}")]
    Encode {
        /// The encoder's error.
        reason: String,
    },
    /// The peer speaks the ETH dialect, which carries no Hobbits frames or requests (ask it
    /// through its `EthSession` with `SendEthRequest`).
    #[error("the peer speaks the ETH dialect: no Hobbits RPC on that wire")]
    WrongDialect,
}

/// One outstanding request.
#[derive(Debug)]
pub struct Pending<W> {
    /// When it times out.
    pub deadline: Instant,
    /// Whatever the owner needs to complete it (method, reply channel).
    pub waiter: W,
}

/// Outstanding requests of one connection.
#[derive(Debug)]
pub struct RequestTracker<W> {
    next_id: u64,
    max_outstanding: usize,
    timeout: Duration,
    pending: HashMap<u64, Pending<W>>,
}

impl<W> RequestTracker<W> {
    /// Ids start at 1; at most `max_outstanding` at once; each times out after `timeout`.
    pub fn new(max_outstanding: usize, timeout: Duration) -> Self {
        RequestTracker {
            next_id: 1,
            max_outstanding,
            timeout,
            pending: HashMap::new(),
        }
    }

    /// Registers a request and returns its id, or `TooManyOutstanding` (and the waiter back).
    pub fn start(&mut self, now: Instant, waiter: W) -> Result<u64, (RpcError, W)> {
        if self.pending.len() >= self.max_outstanding {
            return Err((
                RpcError::TooManyOutstanding {
                    max: self.max_outstanding,
                },
                waiter,
            ));
        }
        let id = self.allocate_id();
        self.pending.insert(
            id,
            Pending {
                deadline: now + self.timeout,
                waiter,
            },
        );
        Ok(id)
    }

    /// An id for a message that expects no response (HELLO reply, GOODBYE): still unique.
    pub fn allocate_id(&mut self) -> u64 {
        // Skip ids still pending after a (theoretical) wrap.
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1).max(1);
            if !self.pending.contains_key(&id) {
                return id;
            }
        }
    }

    /// The response with `id` arrived: returns its waiter, or None for an unknown / late id.
    pub fn complete(&mut self, id: u64) -> Option<W> {
        self.pending.remove(&id).map(|p| p.waiter)
    }

    /// The waiter of an outstanding request, left in place.
    pub fn get(&self, id: u64) -> Option<&W> {
        self.pending.get(&id).map(|p| &p.waiter)
    }

    /// Whether `id` is outstanding.
    pub fn is_pending(&self, id: u64) -> bool {
        self.pending.contains_key(&id)
    }

    /// Removes and returns every request whose deadline is at or before `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<(u64, W)> {
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        let mut out: Vec<(u64, W)> = due
            .into_iter()
            .filter_map(|id| self.pending.remove(&id).map(|p| (id, p.waiter)))
            .collect();
        out.sort_by_key(|(id, _)| *id);
        out
    }

    /// The earliest deadline, to arm a timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// Removes every request (the connection is closing).
    pub fn drain(&mut self) -> Vec<(u64, W)> {
        let mut out: Vec<_> = self.pending.drain().map(|(id, p)| (id, p.waiter)).collect();
        out.sort_by_key(|(id, _)| *id);
        out
    }

    /// Requests outstanding.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// None outstanding.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The configured timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_increasing() {
        let now = Instant::now();
        let mut t = RequestTracker::new(10, Duration::from_secs(1));
        let a = t.start(now, "a").expect("a");
        let b = t.allocate_id();
        let c = t.start(now, "c").expect("c");
        assert!(a < b && b < c);
    }

    #[test]
    fn responses_match_by_id_in_any_order() {
        let now = Instant::now();
        let mut t = RequestTracker::new(10, Duration::from_secs(1));
        let a = t.start(now, "a").expect("a");
        let b = t.start(now, "b").expect("b");
        assert_eq!(t.complete(b), Some("b"));
        assert_eq!(
            t.complete(b),
            None,
            "a second response for the same id is ignored"
        );
        assert_eq!(t.complete(999), None, "unknown id");
        assert_eq!(t.complete(a), Some("a"));
        assert!(t.is_empty());
    }

    #[test]
    fn outstanding_requests_are_capped() {
        let now = Instant::now();
        let mut t = RequestTracker::new(2, Duration::from_secs(1));
        t.start(now, 1).expect("1");
        let second = t.start(now, 2).expect("2");
        let Err((err, back)) = t.start(now, 3) else {
            panic!("third must be refused")
        };
        assert_eq!(err, RpcError::TooManyOutstanding { max: 2 });
        assert_eq!(back, 3);
        t.complete(second);
        t.start(now, 4).expect("room again");
    }

    #[test]
    fn requests_expire_at_their_deadline() {
        let now = Instant::now();
        let mut t = RequestTracker::new(10, Duration::from_millis(100));
        let a = t.start(now, "a").expect("a");
        let b = t.start(now + Duration::from_millis(50), "b").expect("b");
        assert_eq!(t.next_deadline(), Some(now + Duration::from_millis(100)));
        assert!(t.expire(now + Duration::from_millis(99)).is_empty());
        assert_eq!(t.expire(now + Duration::from_millis(100)), vec![(a, "a")]);
        assert_eq!(t.expire(now + Duration::from_millis(200)), vec![(b, "b")]);
        assert_eq!(
            t.complete(a),
            None,
            "a late response after the timeout is ignored"
        );
    }

    #[test]
    fn drain_returns_everything() {
        let now = Instant::now();
        let mut t = RequestTracker::new(10, Duration::from_secs(1));
        t.start(now, 'x').expect("x");
        t.start(now, 'y').expect("y");
        assert_eq!(t.drain().len(), 2);
        assert!(t.is_empty());
    }
}
