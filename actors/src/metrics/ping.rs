//! `PingTracker`: the state of one session's periodic PING (plain, time passed in). At most one
//! PING is outstanding: when the next is due and the last is unanswered, the last counts as lost.
//! The body is an 8-byte sequence number, so a pong is matched to its PING and a stale or forged
//! pong is ignored. Handles and sends no messages (the session writes the frames).

use std::time::{Duration, Instant};

use bytes::Bytes;

/// What a due tick decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingDue {
    /// The body of the PING to send.
    pub body: Bytes,
    /// True when the previous PING was never answered.
    pub previous_lost: bool,
}

/// The pinger of one session.
#[derive(Debug, Default)]
pub struct PingTracker {
    next_seq: u64,
    outstanding: Option<(u64, Instant)>,
}

impl PingTracker {
    /// A tracker with nothing sent.
    pub fn new() -> Self {
        Self::default()
    }

    /// Time to ping: the body to send.
    pub fn due(&mut self, now: Instant) -> PingDue {
        let previous_lost = self.outstanding.is_some();
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.outstanding = Some((seq, now));
        PingDue {
            body: Bytes::copy_from_slice(&seq.to_be_bytes()),
            previous_lost,
        }
    }

    /// A pong arrived: the round trip when it answers the outstanding PING.
    pub fn on_pong(&mut self, body: &[u8], now: Instant) -> Option<Duration> {
        let (seq, sent) = self.outstanding?;
        if body != seq.to_be_bytes() {
            return None;
        }
        self.outstanding = None;
        Some(now.saturating_duration_since(sent))
    }

    /// True while a PING waits for its pong.
    pub fn is_outstanding(&self) -> bool {
        self.outstanding.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pong_matches_only_the_outstanding_ping() {
        let t0 = Instant::now();
        let mut p = PingTracker::new();
        let first = p.due(t0);
        assert!(!first.previous_lost);
        assert_eq!(p.on_pong(b"whatever", t0), None, "foreign body ignored");
        let rtt = p.on_pong(&first.body, t0 + Duration::from_millis(3));
        assert_eq!(rtt, Some(Duration::from_millis(3)));
        assert_eq!(p.on_pong(&first.body, t0), None, "answered once");
        assert!(!p.is_outstanding());
    }

    #[test]
    fn unanswered_ping_is_lost_when_the_next_is_due() {
        let t0 = Instant::now();
        let mut p = PingTracker::new();
        let first = p.due(t0);
        let second = p.due(t0 + Duration::from_secs(5));
        assert!(second.previous_lost);
        assert_ne!(first.body, second.body);
        assert_eq!(p.on_pong(&first.body, t0), None, "stale pong ignored");
        assert!(p
            .on_pong(&second.body, t0 + Duration::from_secs(6))
            .is_some());
    }
}
