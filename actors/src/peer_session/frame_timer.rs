//! Read-side guards of a [`super::PeerSession`]. Slowloris: [`TimedCodec`] wraps the frame codec
//! and remembers since when a partial frame has been buffered ([`PartialSince`]); the session
//! checks it on a timer and closes a connection whose frame stays incomplete for `Timeouts::frame`.
//! Floods: [`Pausable`] wraps the read stream so the session can stop reading a peer until a
//! given instant ([`ReadPause`]; its bytes wait in the socket buffers, TCP backpressure) while the
//! rest of the actor (writes, served requests, mailbox) keeps running. Handles and sends no
//! messages.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::Stream;

use bytes::BytesMut;
use hobbits_codec::{CodecError, Frame, FrameCodec};
use tokio_util::codec::Decoder;

/// Since when the read buffer has held an incomplete frame (`None`: empty or whole frames only).
/// Shared between the codec (inside the actor's read stream) and the actor, on one thread.
#[derive(Debug, Clone, Default)]
pub struct PartialSince(Rc<Cell<Option<Instant>>>);

impl PartialSince {
    /// How long the current partial frame has been waiting at `now`, if there is one.
    pub fn stalled_for(&self, now: Instant) -> Option<Duration> {
        self.0.get().map(|t| now.saturating_duration_since(t))
    }

    fn observe(&self, buffered: bool, now: Instant) {
        match (buffered, self.0.get()) {
            (false, _) => self.0.set(None),
            (true, None) => self.0.set(Some(now)),
            (true, Some(_)) => {}
        }
    }
}

/// The frame codec, noting when a frame starts arriving and when the buffer is drained.
#[derive(Debug)]
pub struct TimedCodec {
    inner: FrameCodec,
    partial: PartialSince,
}

impl TimedCodec {
    /// Wraps `inner`, reporting to `partial`.
    pub fn new(inner: FrameCodec, partial: PartialSince) -> Self {
        TimedCodec { inner, partial }
    }
}

impl Decoder for TimedCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        let result = self.inner.decode(src);
        match &result {
            // A whole frame: the clock restarts for whatever follows it.
            Ok(Some(_)) => self.partial.0.set(None),
            Ok(None) => self.partial.observe(!src.is_empty(), Instant::now()),
            Err(_) => {}
        }
        result
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        self.inner.decode_eof(src)
    }
}

/// Until when the session does not read its socket (`None`: reading).
#[derive(Debug, Clone, Default)]
pub struct ReadPause(Rc<Cell<Option<Instant>>>);

impl ReadPause {
    /// Stops reading until `until` (a later pause extends an earlier one).
    pub fn pause_until(&self, until: Instant) {
        let next = self.0.get().map_or(until, |u| u.max(until));
        self.0.set(Some(next));
    }
}

/// A stream that yields nothing while its [`ReadPause`] is set, waking up when it ends.
#[derive(Debug)]
pub struct Pausable<S> {
    inner: S,
    pause: ReadPause,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> Pausable<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, pause: ReadPause) -> Self {
        Pausable {
            inner,
            pause,
            sleep: None,
        }
    }
}

impl<S: Stream + Unpin> Stream for Pausable<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.get_mut();
        if let Some(until) = this.pause.0.get() {
            if Instant::now() < until {
                let deadline = tokio::time::Instant::from_std(until);
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if sleep.deadline() != deadline {
                    sleep.as_mut().reset(deadline);
                }
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            this.pause.0.set(None);
            this.sleep = None;
        }
        Pin::new(&mut this.inner).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hobbits_codec::{FrameLimits, PingFrame};
    use tokio_util::codec::Encoder;

    #[test]
    fn a_partial_frame_starts_the_clock_and_a_whole_one_stops_it() {
        let partial = PartialSince::default();
        let mut codec = TimedCodec::new(FrameCodec::new(FrameLimits::default()), partial.clone());
        let mut bytes = BytesMut::new();
        FrameCodec::default()
            .encode(PingFrame::ping(vec![7u8; 8]).to_frame(), &mut bytes)
            .expect("encode");
        let whole = bytes.clone();
        let mut buf = BytesMut::from(&whole[..5]);
        assert!(codec.decode(&mut buf).expect("ok").is_none());
        let t = Instant::now();
        assert!(partial.stalled_for(t).is_some(), "half a frame is timed");
        // More bytes of the same frame do not restart the clock.
        buf.extend_from_slice(&whole[5..10]);
        assert!(codec.decode(&mut buf).expect("ok").is_none());
        assert!(partial.stalled_for(t + Duration::from_secs(1)) >= Some(Duration::from_secs(1)));
        buf.extend_from_slice(&whole[10..]);
        assert!(codec.decode(&mut buf).expect("ok").is_some());
        assert!(codec.decode(&mut buf).expect("ok").is_none());
        assert_eq!(partial.stalled_for(Instant::now()), None, "drained");
    }
}
