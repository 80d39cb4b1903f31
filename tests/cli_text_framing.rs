//! `hobbits-node run --accept-text-framing` reads Lodestar's 2019 text framing (shared vector
//! `lodestar_text_ping`: `EWP 3 2 4 32\n` + `ping` + 32 bytes) and answers in binary; without the
//! flag the same bytes do not frame and the connection is closed without a pong.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{NodeProcess, BIN};

const LODESTAR_TEXT_PING: &str = "4557502033203220342033320a70696e67000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn start(extra: &[&str]) -> (NodeProcess, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--listen", "127.0.0.1:0", "--log", "warn"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut process = NodeProcess::spawn(&mut cmd, Duration::from_secs(20));
    let uri = process.listening_uri();
    let addr = uri.trim_start_matches("hob+tcp://").to_string();
    (process, addr)
}

/// Writes `bytes`, then reads until EOF, `wait`, or `enough` bytes; returns what was read and
/// whether the peer closed.
fn exchange(addr: &str, bytes: &[u8], wait: Duration, enough: usize) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(bytes).expect("write");
    let end = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while Instant::now() < end {
        s.set_read_timeout(Some(
            end.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        ))
        .expect("timeout");
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(_) => return (got, true),
        }
        if got.len() >= enough {
            break;
        }
    }
    (got, false)
}

fn binary_pong(body: &[u8]) -> Vec<u8> {
    let mut v = b"EWP".to_vec();
    v.extend(3u32.to_be_bytes());
    v.push(2);
    v.extend(4u32.to_be_bytes());
    v.extend((body.len() as u32).to_be_bytes());
    v.extend(b"pong");
    v.extend(body);
    v
}

#[test]
fn text_framing_is_read_only_when_accepted() {
    let ping = hex::decode(LODESTAR_TEXT_PING).expect("hex");
    let body = &ping[ping.len() - 32..];

    let (_node, addr) = start(&["--accept-text-framing"]);
    // A binary pong is 16 + 4 + 32 bytes.
    let (got, _) = exchange(&addr, &ping, Duration::from_secs(5), 52);
    assert_eq!(
        got,
        binary_pong(body),
        "a binary pong to the text-framed ping"
    );

    let (_plain, addr) = start(&[]);
    let (got, closed) = exchange(&addr, &ping, Duration::from_secs(5), usize::MAX);
    assert!(closed, "the connection is closed: {}", hex::encode(&got));
    let pong = binary_pong(body);
    assert!(
        !got.windows(pong.len()).any(|w| w == pong.as_slice()),
        "no pong without --accept-text-framing: {}",
        hex::encode(&got)
    );
}
