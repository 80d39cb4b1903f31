//! What a `PeerSession` does with an inbound GOSSIP or PING frame before it is routed: the
//! per-peer GOSSIP / PING rate limits (`rate_limits.rs` holds the buckets) and the gossip
//! overlay's control frames (method 1-4), delivered as `GossipControlReceived` to the control
//! subscribers. Same actor as `mod.rs`; sends `PeerPenalized` (through `report`) and
//! `GossipControlReceived`.

use std::time::Instant;

use actix::prelude::*;
use hobbits_codec::{ControlEnvelope, ControlError, Frame, GossipMethod, Protocol};
use tracing::{debug, warn};

use super::rate_limits::Exceeded;
use super::PeerSession;
use crate::events::{GossipControlReceived, Penalty};

impl PeerSession {
    /// Applies the gossip / PING limits to `frame`: over a limit it is dropped (false), counted,
    /// penalised, and the peer is not read until the next such frame could be admitted.
    pub(super) fn within_limits(&mut self, frame: &Frame) -> bool {
        let now = Instant::now();
        let verdict = match frame.protocol {
            Protocol::Gossip => self
                .limiter
                .gossip(frame.header.len() + frame.body.len(), now),
            Protocol::Ping => self.limiter.ping(now),
            Protocol::Rpc => Ok(()),
        };
        let Err((what, wait)) = verdict else {
            return true;
        };
        let count = match what {
            Exceeded::Ping => {
                self.stats.ping_rate_limited += 1;
                self.stats.ping_rate_limited
            }
            Exceeded::GossipObjects | Exceeded::GossipBytes => {
                self.stats.gossip_rate_limited += 1;
                self.stats.gossip_rate_limited
            }
        };
        if count.is_power_of_two() {
            warn!(
                limit = what.label(),
                count, "rate limit exceeded: frame dropped"
            );
        }
        self.report(Penalty::RateLimited {
            reason: format!("{} over the rate limit", what.label()),
        });
        self.read_pause.pause_until(now + wait);
        false
    }

    /// A control frame (method 1-4) when both sides speak the overlay: delivered to the control
    /// subscribers, or dropped and penalised when it does not read. False for anything else
    /// (GOSSIP, and a GOSSIP message under another numbering, left to the GOSSIP decoder).
    pub(super) fn on_control(&mut self, frame: &Frame, ctx: &mut Context<Self>) -> bool {
        if !matches!(
            GossipMethod::of_header(&frame.header),
            Ok(GossipMethod::Control(_))
        ) {
            return false;
        }
        match ControlEnvelope::from_frame(frame) {
            Ok(env) => {
                if !self.peer_overlay {
                    debug!("control message from a peer that did not advertise the overlay");
                }
                let msg = GossipControlReceived {
                    peer: self.peer,
                    message: env.message,
                };
                if self.links.gossip.deliver_control(msg) > 0 {
                    self.stats.gossip_dropped += 1;
                }
                true
            }
            Err(ControlError::GossipNumbering { .. }) => false,
            Err(e) => {
                self.bad_message(ctx, "gossip control", &e);
                true
            }
        }
    }
}
