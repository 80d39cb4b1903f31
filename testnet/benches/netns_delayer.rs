//! What the namespace engine's NFQUEUE delayer costs, measured against no queue in the same run:
//! round-trip time of 1000 8-byte ping-pongs over a 0 ms link (the error the delayer adds) and a
//! 10 ms link (against 20 ms), and bulk TCP throughput for 2 s, for three placements: no queue,
//! the hub's bridge forward hook (one queue for the run: what the engine uses), and each node's
//! output hook (one queue and delayer per node). Root only (prints why and ends otherwise); ends
//! by itself in about 15 s. `cargo bench -p hobbits-testnet --bench netns_delayer`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use hobbits_testnet::engine::netns::command::{run, Tool};
use hobbits_testnet::engine::netns::delayer::{
    DelayerConfig, DelayerHandle, LinkDelay, QueueSettings,
};
use hobbits_testnet::engine::netns::lab::{netns_path, node_addr};
use hobbits_testnet::engine::netns::rules::{install_queue_rule, LinkRules};
use hobbits_testnet::engine::netns::{enter_netns, preflight, Lab};

fn spawn_in<T: Send + 'static>(
    ns: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        enter_netns(&ns).expect("enter the namespace");
        f()
    })
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

fn measure(lab: &Lab, label: &str) {
    let ns0 = netns_path(&lab.run_id().node(0));
    let ns1 = netns_path(&lab.run_id().node(1));
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let server = spawn_in(ns1, move || {
        let l = TcpListener::bind((node_addr(1), 7100)).expect("bind");
        tx.send(()).expect("ready");
        // 1: ping-pong, 2: sink
        let (mut a, _) = l.accept().expect("accept");
        a.set_nodelay(true).expect("nodelay");
        let mut b = [0u8; 8];
        while a.read_exact(&mut b).is_ok() {
            if a.write_all(&b).is_err() {
                break;
            }
        }
        let (mut c, _) = l.accept().expect("accept");
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        while let Ok(n) = c.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    });
    rx.recv().expect("server");
    let label = label.to_string();
    spawn_in(ns0, move || {
        let addr = SocketAddr::from((node_addr(1), 7100));
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let mut b = [0u8; 8];
        let mut rtts: Vec<Duration> = (0..1000)
            .map(|_| {
                let t = Instant::now();
                s.write_all(b"pingpong").expect("w");
                s.read_exact(&mut b).expect("r");
                t.elapsed()
            })
            .collect();
        drop(s);
        let p50 = pct(&mut rtts, 0.5);
        let p99 = pct(&mut rtts, 0.99);
        let mut bulk = TcpStream::connect(addr).expect("connect");
        let chunk = vec![1u8; 1 << 16];
        let t = Instant::now();
        let mut sent = 0u64;
        while t.elapsed() < Duration::from_secs(2) {
            bulk.write_all(&chunk).expect("w");
            sent += chunk.len() as u64;
        }
        let secs = t.elapsed().as_secs_f64();
        drop(bulk);
        println!(
            "{label:<34} rtt p50 {:>9.3} ms  p99 {:>9.3} ms  throughput {:>8.0} Mbit/s",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            sent as f64 * 8.0 / secs / 1e6
        );
    })
    .join()
    .expect("client");
    server.join().expect("server");
}

fn main() {
    if let Err(e) = preflight(&[Tool::Ip, Tool::Nft, Tool::Tc, Tool::Iptables]) {
        println!("netns_delayer: not measured: {e}");
        return;
    }
    let lab = Lab::create(2).expect("lab");
    let hub = lab.hub();
    let mut rules = LinkRules {
        links: [(0, 1)].into(),
        ..Default::default()
    };
    rules.apply(&hub).expect("rules");
    let (a, b) = (node_addr(0), node_addr(1));
    measure(&lab, "no queue");
    let queue = QueueSettings {
        queue_num: 0,
        max_len: 65536,
        fail_open: false,
        rcvbuf: 8 << 20,
    };
    for ms in [0u64, 10] {
        let d = LinkDelay {
            latency: Duration::from_millis(ms),
            jitter: Duration::ZERO,
        };
        // Hub placement: the bridge's forward hook (br_netfilter), one queue.
        let delayer = DelayerHandle::start(
            DelayerConfig {
                netns: Some(netns_path(&hub)),
                queue,
                seed: 1,
            },
            vec![((a, b), d), ((b, a), d)],
        )
        .expect("delayer");
        if ms == 0 {
            install_queue_rule(&hub, 0).expect("rule");
        }
        rules.delayed = [(0, 1), (1, 0)].into();
        rules.apply(&hub).expect("rules");
        measure(&lab, &format!("hub forward hook, {ms} ms each way"));
        rules.delayed.clear();
        rules.apply(&hub).expect("rules");
        println!("    {:?}", delayer.stop().expect("stop"));
    }
    // Per-node placement: each node's output hook, a queue (and delayer) per node.
    for ms in [0u64, 10] {
        let d = LinkDelay {
            latency: Duration::from_millis(ms),
            jitter: Duration::ZERO,
        };
        let mut delayers = Vec::new();
        for (i, link) in [(0usize, (a, b)), (1, (b, a))] {
            let ns = lab.run_id().node(i);
            delayers.push(
                DelayerHandle::start(
                    DelayerConfig {
                        netns: Some(netns_path(&ns)),
                        queue,
                        seed: 1,
                    },
                    vec![(link, d)],
                )
                .expect("delayer"),
            );
            run(
                Tool::Ip,
                &[
                    "netns",
                    "exec",
                    &ns,
                    "iptables",
                    "-w",
                    "-A",
                    "OUTPUT",
                    "-d",
                    "198.18.0.0/15",
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    "0",
                ],
                None,
            )
            .expect("rule");
        }
        measure(&lab, &format!("node output hooks, {ms} ms each way"));
        for i in 0..2 {
            let ns = lab.run_id().node(i);
            run(
                Tool::Ip,
                &["netns", "exec", &ns, "iptables", "-w", "-F", "OUTPUT"],
                None,
            )
            .expect("flush");
        }
        for d in delayers {
            d.stop().expect("stop");
        }
    }
}
