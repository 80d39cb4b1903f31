//! Criterion benchmark of the frame codec: decode and encode of small (PING, 52 bytes), medium
//! (1 KiB) and large (128 KiB) frames, each beside a `memcpy` of the same bytes in the same run
//! as the baseline. Results and commands are recorded in docs/BENCHMARKS.md.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hobbits_codec::{Frame, FrameCodec, Protocol};
use tokio_util::codec::{Decoder, Encoder};

/// Frames per batch for the small size, so per-iteration overhead does not dominate.
const SMALL_BATCH: usize = 1024;

fn frame_of(total: usize) -> Frame {
    let body_len = total - 16 - 4;
    Frame::new(
        Protocol::Ping,
        Bytes::from_static(b"ping"),
        vec![0x5a; body_len],
    )
}

fn bench_size(c: &mut Criterion, name: &str, total: usize, batch: usize) {
    let frame = frame_of(total);
    let mut wire = BytesMut::new();
    for _ in 0..batch {
        frame.write_to(&mut wire).expect("encode");
    }
    let wire = wire.freeze();
    let mut group = c.benchmark_group(format!("frames/{name}"));
    group.throughput(Throughput::Elements(batch as u64));

    group.bench_function("decode", |b| {
        b.iter_batched(
            || BytesMut::from(&wire[..]),
            |mut buf| {
                let mut codec = FrameCodec::default();
                let mut n = 0usize;
                while let Some(f) = codec.decode(&mut buf).expect("decode") {
                    n += f.body.len();
                }
                // Returned, so freeing the receive buffer happens outside the timed routine.
                (black_box(n), buf)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("encode", |b| {
        let mut codec = FrameCodec::default();
        let mut dst = BytesMut::with_capacity(wire.len());
        b.iter(|| {
            dst.clear();
            for _ in 0..batch {
                codec.encode(&frame, &mut dst).expect("encode");
            }
            black_box(dst.len())
        })
    });
    group.bench_function("memcpy", |b| {
        let mut dst = vec![0u8; wire.len()];
        b.iter(|| {
            dst.copy_from_slice(black_box(&wire[..]));
            black_box(dst.as_ptr());
        })
    });
    group.finish();
}

fn frames(c: &mut Criterion) {
    bench_size(c, "small_52B", 52, SMALL_BATCH);
    bench_size(c, "medium_1KiB", 1024, 64);
    bench_size(c, "large_128KiB", 128 * 1024, 1);
}

criterion_group!(benches, frames);
criterion_main!(benches);
