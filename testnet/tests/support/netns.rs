//! Helpers for the namespace engine's tests: the root/tool check that skips them elsewhere,
//! threads that enter a node's namespace, an echo server and timed round trips.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hobbits_testnet::engine::netns::lab::{netns_path, node_addr};
use hobbits_testnet::engine::netns::{enter_netns, preflight, Lab, Tool};

/// Whether root and the tools are here; prints why the test is skipped when not.
pub fn ready() -> bool {
    match preflight(&[Tool::Ip, Tool::Nft, Tool::Tc, Tool::Iptables]) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("skipped: {e}");
            false
        }
    }
}

/// Runs `f` on a thread inside the namespace at `ns`.
pub fn spawn_in<T: Send + 'static>(
    ns: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    std::thread::spawn(move || {
        enter_netns(&ns).expect("enter the namespace");
        f()
    })
}

/// Node `i`'s namespace path.
pub fn node_ns(lab: &Lab, i: usize) -> String {
    netns_path(&lab.run_id().node(i))
}

/// An echo server in node `i` on port 7000 (serves `conns` connections).
pub fn echo_server(lab: &Lab, i: usize, conns: usize) -> JoinHandle<()> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let h = spawn_in(node_ns(lab, i), move || {
        let listener = TcpListener::bind((node_addr(i), 7000)).expect("bind");
        tx.send(()).expect("ready");
        for _ in 0..conns {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    rx.recv().expect("server up");
    h
}

/// From node `from`: connect to node `to`'s echo server with a timeout.
pub fn connect(lab: &Lab, from: usize, to: usize, timeout: Duration) -> std::io::Result<TcpStream> {
    spawn_in(node_ns(lab, from), move || {
        TcpStream::connect_timeout(&SocketAddr::from((node_addr(to), 7000)), timeout)
    })
    .join()
    .expect("thread")
}

/// `n` timed 8-byte round trips.
pub fn round_trips(s: &mut TcpStream, n: usize) -> Vec<Duration> {
    s.set_nodelay(true).expect("nodelay");
    let mut buf = [0u8; 8];
    (0..n)
        .map(|_| {
            let t = Instant::now();
            s.write_all(b"pingpong").expect("write");
            s.read_exact(&mut buf).expect("read");
            t.elapsed()
        })
        .collect()
}

/// The median.
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
