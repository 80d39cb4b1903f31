//! Node benchmark (a bench binary, `cargo bench -p hobbits-actors --bench node`):
//! 1. PING round trip through a running node vs a std blocking TCP echo server in the same run
//!    (same client code: write the 48-byte PING frame, read 48 bytes back), as medians and their
//!    ratio. The echo answers from its own thread (a thread per connection, blocking reads), as the
//!    node answers from its own: both round trips wake another thread twice, so the ratio compares
//!    the work of answering, not thread hand-offs only one side pays;
//! 2. GET_STATUS throughput over one handshaked connection, pipelined (64 in flight). This measures
//!    the serving path, so the node runs with the per-peer RPC rate limit lifted to its ceiling
//!    (`rpc_rate_per_sec` = `rpc_burst` = 1,000,000): at the default 200/s with a burst of 400 the
//!    limiter would drop requests unanswered and the pipeline would wait forever. A stall of more
//!    than 10 s ends the bench with a message instead of hanging;
//! 3. resident memory per idle connection at 1,000 connections (RSS from /proc/self/status before
//!    and after; client sockets live in the same process, so this is an upper bound).
//!
//! Everything runs on 127.0.0.1 with port 0. `BENCH_QUICK=1` shrinks the counts.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hobbits_actors::node::{start_node, NodeParts};
use hobbits_actors::NodeConfig;
use hobbits_chain::rpc::{GetStatus, Hello};
use hobbits_chain::{Epoch, Root, Slot};
use hobbits_codec::rpc::{RequestId, RpcEnvelope, RpcPayload};
use hobbits_codec::{Frame, FrameCodec, PingFrame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::{Decoder, Encoder};

fn frame_bytes(frame: Frame) -> Vec<u8> {
    let mut buf = BytesMut::new();
    FrameCodec::default()
        .encode(frame, &mut buf)
        .expect("encode");
    buf.to_vec()
}

fn start_node_thread(config: NodeConfig) -> (SocketAddr, Root) {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let sys = actix_rt::System::new();
        sys.block_on(async move {
            let node = start_node(config, NodeParts::default())
                .await
                .expect("node");
            tx.send((node.listen_addr, node.genesis_root))
                .expect("send");
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("node started")
}

/// A std blocking TCP echo server on its own thread, a thread per connection.
fn echo_server() -> SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { break };
            let _ = s.set_nodelay(true);
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 4096];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// CPU time used by this process so far, every thread (the node's, the echo's and the client's).
fn cpu_now() -> Duration {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID).map_or(Duration::ZERO, Duration::from)
}

/// `n` round trips to `addr`: each one's wall time, and the process CPU time they took together.
async fn rtts(addr: SocketAddr, ping: &[u8], n: usize) -> (Vec<Duration>, Duration) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut back = vec![0u8; ping.len()];
    let mut out = Vec::with_capacity(n);
    let cpu0 = cpu_now();
    for _ in 0..n {
        let t = Instant::now();
        s.write_all(ping).await.expect("write");
        s.read_exact(&mut back).await.expect("read");
        out.push(t.elapsed());
    }
    (out, cpu_now().saturating_sub(cpu0))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn handshake(s: &mut TcpStream, genesis: Root, codec: &mut FrameCodec, buf: &mut BytesMut) {
    let hello = Hello {
        network_id: 1,
        chain_id: 1,
        latest_finalized_root: Root::ZERO,
        latest_finalized_epoch: Epoch(0),
        best_root: genesis,
        best_slot: Slot(0),
    };
    let f = RpcEnvelope::new(RequestId(1), &RpcPayload::Hello(hello))
        .to_frame()
        .expect("frame");
    s.write_all(&frame_bytes(f)).await.expect("write");
    loop {
        if let Some(_reply) = codec.decode(buf).expect("decode") {
            return;
        }
        s.read_buf(buf).await.expect("read");
    }
}

async fn status_throughput(addr: SocketAddr, genesis: Root, n: u64, window: u64) -> f64 {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::new();
    handshake(&mut s, genesis, &mut codec, &mut buf).await;
    let (mut r, mut w) = s.into_split();
    let req = |id: u64| {
        frame_bytes(
            RpcEnvelope::new(
                RequestId(id),
                &RpcPayload::GetStatus(GetStatus::new("bench", id)),
            )
            .to_frame()
            .expect("frame"),
        )
    };
    let start = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(n as usize);
    let writer = tokio::spawn(async move {
        for id in 2..2 + n {
            // The window bounds requests in flight: wait for a completion token per request.
            if id >= 2 + window && rx.recv().await.is_none() {
                break;
            }
            w.write_all(&req(id)).await.expect("write");
        }
        w
    });
    let mut got = 0u64;
    while got < n {
        match codec.decode(&mut buf).expect("decode") {
            Some(_) => {
                got += 1;
                let _ = tx.try_send(got);
            }
            None => {
                let read = tokio::time::timeout(STALL, r.read_buf(&mut buf)).await;
                let Ok(read) = read else {
                    panic!("GET_STATUS pipeline stalled after {got} of {n} responses");
                };
                read.expect("read");
            }
        }
    }
    let elapsed = start.elapsed();
    let _ = writer.await;
    n as f64 / elapsed.as_secs_f64()
}

/// Longest wait for the next response before the throughput phase gives up.
const STALL: Duration = Duration::from_secs(10);

fn main() {
    let quick = std::env::var("BENCH_QUICK").is_ok();
    let pings = if quick { 500 } else { 5000 };
    let statuses = if quick { 5_000 } else { 50_000 };
    let conns = if quick { 200 } else { 1000 };

    let mut cfg = NodeConfig::local_test();
    cfg.limits.max_peers = conns + 16;
    cfg.limits.max_pending = conns + 16;
    // PING round trips measure serving, not the PING limit.
    cfg.limits.ping_rate_per_sec = 1_000_000;
    cfg.limits.ping_burst = 1_000_000;
    cfg.timeouts.handshake = Duration::from_secs(600);
    // The throughput phase measures serving, not the rate limiter (see the file's doc).
    cfg.limits.rpc_rate_per_sec = 1_000_000;
    cfg.limits.rpc_burst = 1_000_000;
    let (node_addr, genesis) = start_node_thread(cfg);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let echo_addr = echo_server();
        let ping = frame_bytes(PingFrame::ping(vec![7u8; 32]).to_frame());
        // Warm up both, then alternate rounds so drift hits both alike.
        rtts(node_addr, &ping, 200).await;
        rtts(echo_addr, &ping, 200).await;
        let (mut node_all, mut echo_all) = (Vec::new(), Vec::new());
        let (mut node_cpu, mut echo_cpu) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..5 {
            let (times, cpu) = rtts(node_addr, &ping, pings / 5).await;
            node_all.extend(times);
            node_cpu += cpu;
            let (times, cpu) = rtts(echo_addr, &ping, pings / 5).await;
            echo_all.extend(times);
            echo_cpu += cpu;
        }
        let (node_med, echo_med) = (median(node_all), median(echo_all));
        println!(
            "ping_rtt_median node={:.1}us echo={:.1}us ratio={:.2} (n={pings} each)",
            node_med.as_secs_f64() * 1e6,
            echo_med.as_secs_f64() * 1e6,
            node_med.as_secs_f64() / echo_med.as_secs_f64()
        );
        // CPU per round trip, client included (the same client code on both sides): the work of a
        // round trip, which unlike its wall time does not grow when other processes hold the CPU.
        let per = |cpu: Duration| cpu.as_secs_f64() * 1e6 / pings as f64;
        println!(
            "ping_cpu_per_rtt node={:.1}us echo={:.1}us ratio={:.2} (process CPU time, client included)",
            per(node_cpu),
            per(echo_cpu),
            node_cpu.as_secs_f64() / echo_cpu.as_secs_f64()
        );

        let rate = status_throughput(node_addr, genesis, statuses, 64).await;
        println!("get_status_pipelined {rate:.0} req/s (n={statuses}, window 64, one connection)");

        let before = rss_kib();
        let mut held = Vec::with_capacity(conns);
        for _ in 0..conns {
            let s = TcpStream::connect(node_addr).await.expect("connect");
            held.push(s);
        }
        // Every session must have started before measuring: one PING round trip on the last one.
        let last = held.last_mut().expect("conn");
        last.write_all(&ping).await.expect("write");
        let mut back = vec![0u8; ping.len()];
        last.read_exact(&mut back).await.expect("pong");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after = rss_kib();
        let per = (after.saturating_sub(before)) as f64 * 1024.0 / conns as f64;
        println!(
            "idle_conn_rss before={before}KiB after={after}KiB per_conn={:.1}KiB (n={conns}, client sockets included)",
            per / 1024.0
        );
        drop(held);
    });
}
