//! Metrics of a [`PeerSession`] (when the node has a `Metrics` registry): frames and bytes per
//! protocol, RPC latency per method for both roles, and the periodic PING whose pong gives the
//! peer's round trip. Part of the session actor; handles no messages of its own, writes PING
//! frames.

use std::time::{Duration, Instant};

use actix::prelude::*;
use hobbits_codec::rpc::RpcMethod;
use hobbits_codec::{Frame, PingFrame, PingKind};

use super::PeerSession;
use crate::metrics::RpcRole;

impl PeerSession {
    /// Counts a frame read.
    pub(super) fn measure_in(&self, frame: &Frame) {
        if let Some(m) = &self.settings.metrics {
            m.frame_in(frame.protocol, frame.encoded_len());
        }
    }

    /// Counts a frame written.
    pub(super) fn measure_out(&self, frame: &Frame) {
        if let Some(m) = &self.settings.metrics {
            m.frame_out(frame.protocol, frame.encoded_len());
        }
    }

    /// An RPC exchange ended; `started` is when the request was sent or received.
    pub(super) fn measure_rpc(&self, role: RpcRole, method: RpcMethod, started: Instant, ok: bool) {
        if let Some(m) = &self.settings.metrics {
            m.rpc_observed(role, method, started.elapsed(), ok);
        }
    }

    /// A pong: the round trip, when it answers our outstanding PING.
    pub(super) fn measure_pong(&mut self, ping: &PingFrame) {
        if ping.kind != PingKind::Pong {
            return;
        }
        let Some(m) = &self.settings.metrics else {
            return;
        };
        if let Some(rtt) = self.pinger.on_pong(&ping.body, Instant::now()) {
            m.ping_answered(self.addr, rtt);
        }
    }

    /// With metrics on, PINGs the peer every `ping_interval` (at most one outstanding). Called
    /// once, when the peer's HELLO has been accepted and the manager admitted it: never before
    /// the handshake (the eth2 RPC rule is that the dialer's first message is HELLO).
    pub(super) fn start_pinging(&mut self, ctx: &mut Context<Self>) {
        let Some(interval) = self
            .settings
            .metrics
            .as_ref()
            .map(|m| m.config().ping_interval)
        else {
            return;
        };
        // The first PING soon after the start so short-lived peers get a round trip too.
        let first = interval.min(Duration::from_millis(100));
        ctx.run_later(first, move |act, ctx| {
            act.ping_now();
            ctx.run_interval(interval, |act, _| act.ping_now());
        });
    }

    fn ping_now(&mut self) {
        if self.closing() {
            return;
        }
        let Some(m) = self.settings.metrics.clone() else {
            return;
        };
        let due = self.pinger.due(Instant::now());
        if due.previous_lost {
            m.ping_lost();
        }
        m.ping_sent();
        self.write(PingFrame::ping(due.body).to_frame());
    }

    /// The session ended: its per-peer series go; an unanswered PING counts as lost.
    pub(super) fn measure_closed(&self) {
        if let Some(m) = &self.settings.metrics {
            if self.pinger.is_outstanding() {
                m.ping_lost();
            }
            m.peer_removed(self.addr);
        }
    }
}
