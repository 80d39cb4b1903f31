//! [`RelaySummary`]: the counts the relay prints at exit, built by folding [`RelayEvent`]s:
//! frames per direction, protocol and method / topic; bytes; requests and pings left unanswered;
//! deviations by code. Plain data; handles and sends no messages.

use std::collections::BTreeMap;
use std::fmt;

use super::deviation::DeviationCode;
use super::record::{RelayDirection, RelayEvent, Unanswered};

/// Most unanswered requests kept by name in a summary (all are counted).
pub const MAX_LISTED_UNANSWERED: usize = 64;

/// Counts over every connection the relay carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelaySummary {
    /// Connection pairs opened.
    pub connections_opened: u64,
    /// Connection pairs closed.
    pub connections_closed: u64,
    /// Clients accepted whose upstream could not be reached, or refused over the connection limit.
    pub connections_failed: u64,
    /// Frames by (direction, protocol name, method / topic label).
    pub frames: BTreeMap<(RelayDirection, String, String), u64>,
    /// Bytes forwarded per direction (client → server, server → client), from closed connections.
    pub bytes: [u64; 2],
    /// Requests and pings that got no answer: reported by timeout or still outstanding at close.
    pub unanswered: u64,
    /// The first [`MAX_LISTED_UNANSWERED`] of them.
    pub unanswered_listed: Vec<Unanswered>,
    /// Deviations by code.
    pub deviations: BTreeMap<DeviationCode, u64>,
    /// Events the consumer was too slow to take (counted here, dropped from the stream).
    pub events_dropped: u64,
}

impl RelaySummary {
    /// Folds one event into the counts.
    pub fn record(&mut self, event: &RelayEvent) {
        match event {
            RelayEvent::ConnectionOpened { .. } => self.connections_opened += 1,
            RelayEvent::ConnectionFailed { .. } => self.connections_failed += 1,
            RelayEvent::FrameRelayed(frame) => {
                *self
                    .frames
                    .entry((
                        frame.direction,
                        frame.protocol.name().to_string(),
                        frame.message.label(),
                    ))
                    .or_default() += 1;
                for d in &frame.deviations {
                    *self.deviations.entry(d.code).or_default() += 1;
                }
            }
            RelayEvent::DeviationFound {
                direction,
                deviation,
                ..
            } => {
                *self.deviations.entry(deviation.code).or_default() += 1;
                if matches!(
                    deviation.code,
                    DeviationCode::UnansweredRequest | DeviationCode::PingUnanswered
                ) {
                    self.unanswered += 1;
                    if self.unanswered_listed.len() < MAX_LISTED_UNANSWERED {
                        self.unanswered_listed.push(Unanswered {
                            direction: *direction,
                            label: deviation.detail.clone(),
                            id: 0,
                            waited: std::time::Duration::ZERO,
                        });
                    }
                }
            }
            RelayEvent::ConnectionClosed {
                bytes, unanswered, ..
            } => {
                self.connections_closed += 1;
                self.bytes[0] += bytes[0];
                self.bytes[1] += bytes[1];
                self.unanswered += unanswered.len() as u64;
                for u in unanswered {
                    if self.unanswered_listed.len() < MAX_LISTED_UNANSWERED {
                        self.unanswered_listed.push(u.clone());
                    }
                }
            }
        }
    }

    /// Frames counted for a direction, protocol and label (e.g. `ClientToServer`, `RPC`, `HELLO(0)`).
    pub fn frame_count(&self, direction: RelayDirection, protocol: &str, label: &str) -> u64 {
        self.frames
            .get(&(direction, protocol.to_string(), label.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Deviations counted under `code`.
    pub fn deviation_count(&self, code: DeviationCode) -> u64 {
        self.deviations.get(&code).copied().unwrap_or(0)
    }
}

impl fmt::Display for RelaySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "relay summary: {} connections ({} closed, {} failed), {} bytes c>s, {} bytes s>c",
            self.connections_opened,
            self.connections_closed,
            self.connections_failed,
            self.bytes[0],
            self.bytes[1]
        )?;
        writeln!(f, "frames:")?;
        if self.frames.is_empty() {
            writeln!(f, "  (none)")?;
        }
        for ((dir, protocol, label), n) in &self.frames {
            writeln!(f, "  {dir} {protocol:<6} {label:<24} {n}")?;
        }
        writeln!(f, "unanswered: {}", self.unanswered)?;
        for u in &self.unanswered_listed {
            if u.waited.is_zero() {
                writeln!(f, "  {} {}", u.direction, u.label)?;
            } else {
                writeln!(f, "  {u} (open at close)")?;
            }
        }
        writeln!(f, "deviations:")?;
        if self.deviations.is_empty() {
            writeln!(f, "  (none)")?;
        }
        for (code, n) in &self.deviations {
            writeln!(f, "  {:<26} {n:>6}  {}", code.code(), code.meaning())?;
        }
        if self.events_dropped > 0 {
            writeln!(f, "events dropped (slow consumer): {}", self.events_dropped)?;
        }
        Ok(())
    }
}
