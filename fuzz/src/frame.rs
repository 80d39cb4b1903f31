//! The `frame_decode` target: `FrameCodec` fed a byte stream split at fuzzer-chosen points, compared
//! with decoding the same stream at once, plus `Frame::parse` and the encoder. Handles no messages.
//!
//! Input layout: `[config] [n] [n chunk lengths] [stream...]`.
//! - `config` bit 0: `accept_any_version`; bit 1: `accept_text_framing`; bits 2-3 pick the size
//!   limits (default, small 64/256, tiny 4/0, u32::MAX/u32::MAX);
//! - `n % 8` chunk lengths (one byte each, 0 allowed: a `decode` call with no new bytes), the
//!   remainder of the stream is the last chunk.
//!
//! Invariants: chunked, byte-at-a-time and one-shot decoding give the same frames, the same kind of error (if any)
//! and leave the same bytes; binary frames re-encode to exactly the bytes they came from (and the
//! encoder agrees with `Frame::to_bytes`); every decoded frame parses back from its encoding;
//! `Frame::parse` succeeds exactly when the stream is one whole frame; buffers stay bounded.

use bytes::BytesMut;
use hobbits_codec::{CodecError, Frame, FrameCodec, FrameLimits};
use tokio_util::codec::{Decoder, Encoder};

/// Most bytes the decoder may reserve beyond what it was given (its 1 MiB reserve chunk, with
/// room for `BytesMut` rounding its growth up).
const MAX_EXTRA_CAPACITY: usize = 4 << 20;

/// The limits selected by bits 2-3 of the config byte.
pub fn limits(config: u8) -> FrameLimits {
    let (max_header_len, max_body_len) = match (config >> 2) & 3 {
        0 => (
            FrameLimits::default().max_header_len,
            FrameLimits::default().max_body_len,
        ),
        1 => (64, 256),
        2 => (4, 0),
        _ => (u32::MAX, u32::MAX),
    };
    FrameLimits {
        max_header_len,
        max_body_len,
        accept_any_version: config & 1 != 0,
        accept_text_framing: config & 2 != 0,
    }
}

/// What decoding a stream produced.
#[derive(Debug)]
struct Outcome {
    frames: Vec<Frame>,
    error: Option<CodecError>,
    left: usize,
}

fn drain(codec: &mut FrameCodec, buf: &mut BytesMut, out: &mut Outcome) -> bool {
    loop {
        match codec.decode(buf) {
            Ok(Some(frame)) => out.frames.push(frame),
            Ok(None) => return true,
            Err(e) => {
                out.error = Some(e);
                return false;
            }
        }
    }
}

fn decode_in_chunks(limits: FrameLimits, chunks: &[&[u8]]) -> Outcome {
    let mut codec = FrameCodec::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Outcome {
        frames: Vec::new(),
        error: None,
        left: 0,
    };
    let mut given = 0;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        given += chunk.len();
        let ok = drain(&mut codec, &mut buf, &mut out);
        assert!(
            buf.capacity() <= given + MAX_EXTRA_CAPACITY,
            "decoder reserved {} bytes after {given} were given",
            buf.capacity()
        );
        if !ok {
            break;
        }
    }
    out.left = buf.len();
    out
}

/// Splits the input into (config, chunks of the stream).
fn split(data: &[u8]) -> Option<(u8, Vec<&[u8]>)> {
    let (&config, rest) = data.split_first()?;
    let (&n, mut rest) = rest.split_first()?;
    let n = usize::from(n % 8).min(rest.len());
    let (lens, stream) = rest.split_at(n);
    rest = stream;
    let mut chunks = Vec::with_capacity(n + 1);
    for &len in lens {
        let (chunk, tail) = rest.split_at(usize::from(len).min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    chunks.push(rest);
    Some((config, chunks))
}

/// The `frame_decode` check (see the module doc).
pub fn check(data: &[u8]) {
    let Some((config, chunks)) = split(data) else {
        return;
    };
    let limits = limits(config);
    let stream: Vec<u8> = chunks.concat();

    let chunked = decode_in_chunks(limits, &chunks);
    let whole = decode_in_chunks(limits, &[&stream]);
    // The decoder fed one byte per call (a peer whose every read returns one byte).
    let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
    let one_by_one = decode_in_chunks(limits, &bytewise);
    assert_eq!(
        one_by_one.frames, whole.frames,
        "frames differ when fed a byte at a time"
    );
    assert_eq!(
        one_by_one.error.as_ref().map(std::mem::discriminant),
        whole.error.as_ref().map(std::mem::discriminant),
        "error differs when fed a byte at a time"
    );
    if whole.error.is_none() {
        assert_eq!(one_by_one.left, whole.left, "leftover differs byte by byte");
    }
    assert_eq!(chunked.frames, whole.frames, "frames depend on the split");
    assert_eq!(
        chunked.error.as_ref().map(std::mem::discriminant),
        whole.error.as_ref().map(std::mem::discriminant),
        "error depends on the split: {:?} vs {:?}",
        chunked.error,
        whole.error
    );
    if let Some(e) = &whole.error {
        assert!(
            e.breaks_stream(),
            "a frame-layer error must break the stream: {e:?}"
        );
    } else {
        assert_eq!(chunked.left, whole.left, "leftover depends on the split");
    }

    let mut encoder = FrameCodec::new(limits);
    let mut reencoded = Vec::new();
    for frame in &whole.frames {
        assert!(frame.header.len() as u64 <= u64::from(limits.max_header_len));
        assert!(frame.body.len() as u64 <= u64::from(limits.max_body_len));
        let bytes = frame.to_bytes().expect("a decoded frame encodes");
        let mut via_encoder = BytesMut::new();
        encoder
            .encode(frame, &mut via_encoder)
            .expect("a decoded frame is within the limits it was decoded with");
        assert_eq!(
            &via_encoder[..],
            &bytes[..],
            "encoder and to_bytes disagree"
        );
        let back = Frame::parse(&bytes, limits).expect("a frame's encoding parses");
        assert_eq!(&back, frame, "frame does not survive encode/parse");
        reencoded.extend_from_slice(&bytes);
    }
    // Without text framing every frame was binary: the encodings are the consumed bytes exactly.
    if !limits.accept_text_framing {
        assert_eq!(
            &reencoded[..],
            &stream[..reencoded.len()],
            "frames do not re-encode to their bytes"
        );
    }

    let parsed = Frame::parse(&stream, limits);
    let single = whole.error.is_none() && whole.left == 0 && whole.frames.len() == 1;
    match parsed {
        Ok(frame) => {
            assert!(
                single,
                "parse accepted what the codec did not see as one frame"
            );
            assert_eq!(Some(&frame), whole.frames.first());
        }
        Err(e) => assert!(!single, "parse refused a single whole frame: {e:?}"),
    }
}
