//! The namespace engine's kernel side (root only; each test skips with a note without root or
//! the tools): topology, cuts, latency through the delayer, loss, bandwidth, partitions, the hub
//! observer, the netem probe, cleanup and the sweep of dead runs.

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hobbits_testnet::engine::netns::delayer::{
    DelayerConfig, DelayerHandle, LinkDelay, QueueSettings,
};
use hobbits_testnet::engine::netns::lab::{netns_path, node_addr};
use hobbits_testnet::engine::netns::rules::{
    apply_bandwidth, install_queue_rule, Bandwidth, LinkRules,
};
use hobbits_testnet::engine::netns::{sweep, Lab};
use support::netns::{connect, echo_server, median, ready, round_trips};

#[test]
fn topology_cut_latency_loss_bandwidth_and_cleanup() {
    if !ready() {
        return;
    }
    let mut lab = Lab::create(3).expect("lab");
    let hub = lab.hub();
    let mut rules = LinkRules {
        links: [(0, 1)].into(),
        ..Default::default()
    };
    rules.apply(&hub).expect("rules");
    let _server1 = echo_server(&lab, 1, 8);
    let _server2 = echo_server(&lab, 2, 8);

    // A topology link connects; a non-link is silence (a timeout, not a refusal).
    let mut s = connect(&lab, 0, 1, Duration::from_secs(2)).expect("link connects");
    let base = median(round_trips(&mut s, 50));
    let err = connect(&lab, 0, 2, Duration::from_millis(300)).expect_err("no link");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");

    // A cut silences an open connection; a heal brings it back.
    rules.cut.insert((0, 1));
    rules.apply(&hub).expect("cut");
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    s.write_all(b"x").expect("write is buffered");
    let mut one = [0u8; 1];
    let err = s.read_exact(&mut one).expect_err("silence");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err}"
    );
    rules.cut.clear();
    rules.apply(&hub).expect("heal");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.read_exact(&mut one)
        .expect("the retransmission gets through after the heal");

    // Latency: 25 ms each way on 0<->1 through the delayer.
    let queue = QueueSettings {
        queue_num: 0,
        max_len: 4096,
        fail_open: false,
        rcvbuf: 4 << 20,
    };
    let config = DelayerConfig {
        netns: Some(netns_path(&hub)),
        queue,
        seed: 1,
    };
    let (a, b) = (node_addr(0), node_addr(1));
    let delay = LinkDelay {
        latency: Duration::from_millis(25),
        jitter: Duration::ZERO,
    };
    let delayer =
        DelayerHandle::start(config, vec![((a, b), delay), ((b, a), delay)]).expect("delayer");
    install_queue_rule(&hub, 0).expect("queue rule");
    rules.delayed = [(0, 1), (1, 0)].into();
    rules.apply(&hub).expect("delayed set");
    let delayed = median(round_trips(&mut s, 20));
    let expected = Duration::from_millis(50);
    assert!(
        delayed >= expected && delayed < expected + Duration::from_millis(10),
        "rtt {delayed:?} (base {base:?})"
    );
    let stats = delayer.stats().expect("stats");
    assert!(stats.delayed >= 40, "{stats:?}");
    assert_eq!(stats.kernel_queue_dropped, 0);

    // Loss 100% on 0->1: silence again, counted by nft.
    rules.loss.insert((0, 1), 1.0);
    rules.apply(&hub).expect("loss");
    s.set_read_timeout(Some(Duration::from_millis(400)))
        .expect("timeout");
    s.write_all(b"y").expect("write");
    assert!(s.read_exact(&mut one).is_err(), "all lost");
    rules.loss.clear();
    rules.delayed.clear();
    rules.apply(&hub).expect("no loss");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.read_exact(&mut one)
        .expect("retransmitted after loss ends");
    delayer.stop().expect("stop");

    // Bandwidth: 8 Mbit/s up from node 0: 1 MB echoed takes >= 1 s.
    apply_bandwidth(
        &hub,
        &lab.run_id().node(0),
        0,
        Bandwidth {
            up_bps: Some(8_000_000),
            down_bps: None,
        },
    )
    .expect("tbf");
    let payload = vec![7u8; 1_000_000];
    let mut reader = s.try_clone().expect("clone");
    let t = Instant::now();
    let r = std::thread::spawn(move || {
        let mut back = vec![0u8; 1_000_000];
        reader.read_exact(&mut back).map(|()| back.len())
    });
    s.write_all(&payload).expect("send");
    assert_eq!(r.join().expect("reader").expect("echo"), 1_000_000);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(3),
        "1 MB at 8 Mbit/s took {took:?}"
    );
    apply_bandwidth(&hub, &lab.run_id().node(0), 0, Bandwidth::default()).expect("tbf removed");

    let names: Vec<String> = (0..3)
        .map(|i| lab.run_id().node(i))
        .chain([hub.clone()])
        .collect();
    lab.teardown().expect("teardown");
    for name in names {
        assert!(
            !std::path::Path::new(&netns_path(&name)).exists(),
            "{name} left behind"
        );
    }
    assert!(!lab.run_id().owner_file().exists());
}

#[test]
fn sweep_removes_runs_of_dead_owners_only() {
    if !ready() {
        return;
    }
    // A run whose owner is a process that has exited.
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let dead = child.id();
    child.wait().expect("wait");
    let dead_ns = format!("hbt-{dead}-abc-hub");
    let live = Lab::create(1).expect("live lab");
    std::process::Command::new("ip")
        .args(["netns", "add", &dead_ns])
        .status()
        .expect("ip");
    // Something running inside the dead run's namespace is killed too.
    let mut sleeper = std::process::Command::new("ip")
        .args(["netns", "exec", &dead_ns, "sleep", "60"])
        .spawn()
        .expect("sleeper");
    // Sweep only once the sleeper is inside the namespace (`ip netns exec` enters it after it
    // starts): a sweep before that would find no process there to kill.
    let entered = Instant::now();
    while std::process::Command::new("ip")
        .args(["netns", "pids", &dead_ns])
        .output()
        .map(|o| o.stdout.is_empty())
        .unwrap_or(true)
    {
        assert!(
            entered.elapsed() < Duration::from_secs(10),
            "the sleeper never entered {dead_ns}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let report = sweep::sweep().expect("sweep");
    assert!(
        report
            .removed
            .iter()
            .any(|(run, _)| run == &format!("{dead}-abc")),
        "{report:?}"
    );
    assert!(
        report.alive.iter().any(|run| run == live.run_id().as_str()),
        "{report:?}"
    );
    assert!(!std::path::Path::new(&netns_path(&dead_ns)).exists());
    assert!(
        std::path::Path::new(&netns_path(&live.hub())).exists(),
        "a live run is left alone"
    );
    let status = sleeper.wait().expect("sleeper ends");
    assert!(!status.success(), "killed");
}

#[test]
fn partition_into_groups_and_heal() {
    if !ready() {
        return;
    }
    use hobbits_testnet::engine::netns::net::{NetPlan, NetnsNet};
    let edges = vec![(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)];
    let plan = NetPlan {
        nodes: 4,
        edges,
        seed: 3,
        queue_max_len: 1024,
        ..Default::default()
    };
    let mut net = NetnsNet::create(&plan).expect("net");
    let _s1 = echo_server(net.lab(), 1, 4);
    let _s2 = echo_server(net.lab(), 2, 4);
    connect(net.lab(), 0, 2, Duration::from_secs(2)).expect("mesh");
    net.partition(&[vec![0, 1]]).expect("partition");
    connect(net.lab(), 0, 1, Duration::from_secs(2)).expect("same side");
    let err = connect(net.lab(), 0, 2, Duration::from_millis(300)).expect_err("other side");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    net.heal_partition().expect("heal");
    connect(net.lab(), 0, 2, Duration::from_secs(2)).expect("healed");
    let hub = net.lab().hub();
    assert_eq!(
        net.shutdown().expect("shutdown"),
        None,
        "no latency, no delayer"
    );
    assert!(!std::path::Path::new(&netns_path(&hub)).exists());
}

#[test]
fn the_hub_reaches_every_node_whatever_the_topology() {
    if !ready() {
        return;
    }
    use hobbits_testnet::engine::netns::net::{NetPlan, NetnsNet};
    use hobbits_testnet::engine::netns::observer::HubConnector;
    // No links at all: nodes cannot reach each other, the hub reaches both.
    let plan = NetPlan {
        nodes: 2,
        edges: vec![],
        seed: 1,
        queue_max_len: 64,
        ..Default::default()
    };
    let net = NetnsNet::create(&plan).expect("net");
    let _s0 = echo_server(net.lab(), 0, 2);
    let _s1 = echo_server(net.lab(), 1, 2);
    assert!(connect(net.lab(), 0, 1, Duration::from_millis(300)).is_err());
    let hub = HubConnector::start(&netns_path(&net.lab().hub())).expect("hub thread");
    for i in 0..2 {
        let mut s = hub
            .connect(
                SocketAddr::from((node_addr(i), 7000)),
                Duration::from_secs(1),
            )
            .expect("from the hub");
        assert_eq!(round_trips(&mut s, 3).len(), 3);
    }
    net.shutdown().expect("shutdown");
}

#[test]
fn netem_probe_answers_without_leaving_a_qdisc() {
    if !ready() {
        return;
    }
    let lab = Lab::create(1).expect("lab");
    let has = hobbits_testnet::engine::netns::rules::netem_available(&lab.hub());
    eprintln!("netem available: {has}");
    let qdiscs = std::process::Command::new("tc")
        .args(["-n", &lab.hub(), "qdisc", "show", "dev", "lo"])
        .output()
        .expect("tc");
    assert!(!String::from_utf8_lossy(&qdiscs.stdout).contains("netem"));
}
