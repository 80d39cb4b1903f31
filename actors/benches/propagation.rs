//! Propagation and sync benchmarks, all nodes in one process on 127.0.0.1 (a bench binary, no
//! criterion: one run prints medians and ratios).
//!
//! 1. Propagation of one block to every node, for N nodes in a line and in a seeded random mesh of
//!    average degree ~8: hobbits nodes (sync + gossip actors, real EWP frames) beside a raw-TCP
//!    flood relay of the same topology (length-prefixed block bytes, relay once per id to every
//!    neighbour but the sender) as the baseline. Median over `BLOCKS` blocks published one at a
//!    time from node 0; time from publish to the last node's import, as wall time and as the
//!    process's CPU time (`CLOCK_PROCESS_CPUTIME_ID`). Everything runs on one thread, so the CPU
//!    time is the work done along the propagation, and unlike the wall time it does not grow
//!    when other processes take the CPU (a shared machine, or this bench run under `nice`).
//!    Before them, the floor of a hop that validates: the medians of the steps a node cannot skip
//!    before it relays a block (header and `message_hash`, SSZ decode, both roots, store import),
//!    each timed alone, and for a line the ratio a node would reach if that were all it added to
//!    the raw relay's CPU per hop (docs/BENCHMARKS.md, "The gossip hot path").
//! 2. Sync throughput: a fresh node syncing 10 000 blocks from one peer (blocks/s), over Hobbits
//!    (range sync) and over the ETH dialect (through roots), in the same run.
//!
//! Run: `cargo bench -p hobbits-actors --bench propagation` (env `PROP_SIZES=10,50,100`,
//! `PROP_BLOCKS=20`, `SYNC_BLOCKS=10000` to change the sizes, `PROP_TOPO=line` or `mesh` for one
//! topology only (default both); `PROP_GOSSIP=flood` (default),
//! `overlay` or `flood,overlay` for plain flood gossip, the gossip overlay, or both in one run).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use hobbits_actors::gossip::overlay::OverlayConfig;
use hobbits_actors::node::{memory_store, start_node, NodeParts};
use hobbits_actors::sync::SyncConfig;
use hobbits_actors::{
    BlockImported, BlockProduced, NodeConfig, NodeHandle, NodeId, SubscribeChainEvents,
};
use hobbits_chain::{BlockProducer, ChainStore, HashedBlock, Head, Root, Slot};
use hobbits_codec::{GossipEnvelope, GossipObject, PeerUri, Topic};
use rand::{Rng, SeedableRng};
use ssz::Encode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// CPU time used by this process so far (every thread; zero if the clock cannot be read).
fn cpu_now() -> Duration {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID).map_or(Duration::ZERO, Duration::from)
}

/// Medians of one propagation run: wall time and CPU time from publish to the last import.
#[derive(Clone, Copy)]
struct Timing {
    wall: Duration,
    cpu: Duration,
}

impl Timing {
    fn of(runs: Vec<(Duration, Duration)>) -> Self {
        let (wall, cpu) = runs.into_iter().unzip();
        Timing {
            wall: median(wall),
            cpu: median(cpu),
        }
    }
}

/// An import (or the raw relay's first receipt) at a node: node, object, wall and CPU clocks.
type Arrival<T> = (usize, T, Instant, Duration);

/// Edges (i dials j, i > j) of a line or a seeded random mesh where each node dials up to 4
/// others (average degree ~8).
fn topology(n: usize, mesh: bool, seed: u64) -> Vec<(usize, usize)> {
    if !mesh {
        return (1..n).map(|i| (i, i - 1)).collect();
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut edges = HashSet::new();
    for i in 1..n {
        edges.insert((i, rng.gen_range(0..i)));
    }
    while edges.len() < (4 * n).min(n * (n - 1) / 2) {
        let (a, b) = (rng.gen_range(0..n), rng.gen_range(0..n));
        if a != b {
            edges.insert((a.max(b), a.min(b)));
        }
    }
    let mut v: Vec<_> = edges.into_iter().collect();
    v.sort();
    v
}

/// Capacity of every queue in this bench: far above what one block at a time can fill (a full
/// queue drops, and the wait that follows reports a stall).
const QUEUE: usize = 4096;

/// Forwards imports to a channel.
struct Collector {
    node: usize,
    tx: mpsc::Sender<Arrival<Root>>,
}

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<BlockImported> for Collector {
    type Result = ();
    fn handle(&mut self, msg: BlockImported, _: &mut Context<Self>) {
        let _ = self
            .tx
            .try_send((self.node, msg.outcome.root, Instant::now(), cpu_now()));
    }
}

fn config(id: u64, peers: Vec<SocketAddr>) -> NodeConfig {
    let mut c = NodeConfig::local_test();
    c.node_id = NodeId(id);
    c.peers = peers.into_iter().map(PeerUri::from_socket_addr).collect();
    c.limits.max_peers = 64;
    c
}

/// A node with sync and gossip (`sync` tuning) whose store holds `blocks` blocks.
async fn start(c: NodeConfig, sync: SyncConfig, blocks: u64, overlay: bool) -> NodeHandle {
    let mut store = memory_store(&c).expect("store");
    let p = BlockProducer::new("seed", 1);
    for slot in 1..=blocks {
        let b = p.produce_on_head(&store, Slot(slot)).expect("produce");
        store.import_block(b).expect("import");
    }
    let mut parts = NodeParts {
        sync: Some(sync),
        ..NodeParts::full()
    };
    if let Some(g) = parts.gossip.as_mut().filter(|_| overlay) {
        g.overlay = OverlayConfig::default();
    }
    start_node(c, parts.with_store(store)).await.expect("node")
}

/// Medians of the work a hop of the node cannot skip, each step timed alone on blocks that extend
/// the head (no sockets, no actors): reading the GOSSIP header and checking the body's
/// `message_hash` (one SHA-256), decoding the SSZ, the block's two roots (checked against the
/// header's `hash` before any relay) and the memory store's import.
struct HopFloor {
    header_and_hash: Duration,
    decode: Duration,
    roots: Duration,
    import: Duration,
}

impl HopFloor {
    fn total(&self) -> Duration {
        self.header_and_hash + self.decode + self.roots + self.import
    }
}

fn hop_floor(blocks: usize) -> HopFloor {
    let c = config(1, Vec::new());
    let mut source = memory_store(&c).expect("store");
    let mut target = memory_store(&c).expect("store");
    let producer = BlockProducer::new("floor", 3);
    let mut steps: [Vec<Duration>; 4] = Default::default();
    for slot in 1..=blocks.max(200) as u64 {
        let block = producer
            .produce_on_head(&source, Slot(slot))
            .expect("produce");
        let hashed = HashedBlock::new(block);
        let envelope = GossipEnvelope::new(
            Topic::Block,
            hashed.hash_tree_root(),
            Bytes::from(hashed.block().as_ssz_bytes()),
            0,
        );
        source.import_hashed_block(hashed).expect("import");
        let frame = envelope.to_frame().expect("frame");
        let t0 = Instant::now();
        let received = GossipEnvelope::from_frame(&frame).expect("header");
        assert!(received.message_hash_matches());
        let t1 = Instant::now();
        let Ok(Some(GossipObject::Block(decoded))) = received.decode_object() else {
            panic!("not a block");
        };
        let t2 = Instant::now();
        let checked = HashedBlock::new(decoded);
        assert_eq!(checked.hash_tree_root(), received.header.hash);
        let t3 = Instant::now();
        target.import_hashed_block(checked).expect("import");
        let t4 = Instant::now();
        for (step, (a, b)) in steps
            .iter_mut()
            .zip([(t0, t1), (t1, t2), (t2, t3), (t3, t4)])
        {
            step.push(b - a);
        }
    }
    let [header_and_hash, decode, roots, import] = steps.map(median);
    HopFloor {
        header_and_hash,
        decode,
        roots,
        import,
    }
}

async fn hobbits_propagation(
    n: usize,
    edges: &[(usize, usize)],
    blocks: usize,
    overlay: bool,
) -> Timing {
    let mut nodes: Vec<NodeHandle> = Vec::new();
    let (tx, mut rx) = mpsc::channel(QUEUE);
    for i in 0..n {
        let peers = edges
            .iter()
            .filter(|(a, _)| *a == i)
            .map(|(_, b)| nodes[*b].listen_addr)
            .collect();
        let node = start(
            config(5000 + i as u64, peers),
            SyncConfig::default(),
            0,
            overlay,
        )
        .await;
        let collector = Collector {
            node: i,
            tx: tx.clone(),
        }
        .start();
        node.gossip
            .as_ref()
            .expect("gossip runs")
            .send(SubscribeChainEvents {
                imported: Some(collector.recipient()),
                penalized: None,
            })
            .await
            .expect("subscribe");
        nodes.push(node);
    }
    let mut degree = vec![0usize; n];
    for (a, b) in edges {
        degree[*a] += 1;
        degree[*b] += 1;
    }
    for (i, node) in nodes.iter().enumerate() {
        let end = Instant::now() + Duration::from_secs(60);
        while node.peers().await.iter().filter(|p| p.handshaked).count() < degree[i] {
            assert!(Instant::now() < end, "topology did not form");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let producer = BlockProducer::new("bench", 2);
    let mut times = Vec::new();
    for _ in 0..blocks {
        let (block, outcome) = nodes[0]
            .store
            .produce_block(producer.clone())
            .await
            .expect("produce");
        // Drain the producer's own event.
        let root = outcome.root;
        let (t0, cpu0) = (Instant::now(), cpu_now());
        nodes[0]
            .gossip
            .as_ref()
            .expect("gossip runs")
            .do_send(BlockProduced { block, outcome });
        let mut seen: HashSet<usize> = HashSet::new();
        let mut last = (t0, cpu0);
        while seen.len() < n - 1 {
            let (node, r, at, cpu) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                .await
                .expect("propagation stalled")
                .expect("channel");
            if r == root && node != 0 && seen.insert(node) {
                last = (at, cpu);
            }
        }
        times.push((last.0 - t0, last.1.saturating_sub(cpu0)));
    }
    for node in &nodes {
        node.shutdown(Duration::from_secs(2)).await;
    }
    Timing::of(times)
}

/// The baseline: a raw-TCP flood relay. Frame: u32 length, 8-byte id, payload.
async fn raw_propagation(
    n: usize,
    edges: &[(usize, usize)],
    blocks: usize,
    payload: usize,
) -> Timing {
    let (tx, mut rx) = mpsc::channel::<Arrival<u64>>(QUEUE);
    let mut listeners = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..n {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        addrs.push(l.local_addr().expect("addr"));
        listeners.push(l);
    }
    // Each node: a set of outbound writers (mpsc per connection) and a seen set.
    type Out = mpsc::Sender<Arc<Vec<u8>>>;
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (a, b) in edges {
        neighbours[*a].push(*b);
        neighbours[*b].push(*a);
    }
    let (inject_tx, mut inject_rx) = mpsc::channel::<Arc<Vec<u8>>>(QUEUE);
    let mut node_inboxes: Vec<mpsc::Sender<(usize, Arc<Vec<u8>>)>> = Vec::new();
    let mut node_outs: Vec<Arc<tokio::sync::Mutex<HashMap<usize, Out>>>> = Vec::new();
    for i in 0..n {
        let (in_tx, mut in_rx) = mpsc::channel::<(usize, Arc<Vec<u8>>)>(QUEUE);
        node_inboxes.push(in_tx);
        let outs: Arc<tokio::sync::Mutex<HashMap<usize, Out>>> = Arc::default();
        node_outs.push(outs.clone());
        let report = tx.clone();
        actix_rt::spawn(async move {
            let mut seen = HashSet::new();
            while let Some((from, frame)) = in_rx.recv().await {
                let id = u64::from_be_bytes(frame[4..12].try_into().expect("id"));
                if !seen.insert(id) {
                    continue;
                }
                let _ = report.try_send((i, id, Instant::now(), cpu_now()));
                for (peer, out) in outs.lock().await.iter() {
                    if *peer != from {
                        let _ = out.try_send(frame.clone());
                    }
                }
            }
        });
    }
    // Connections: for each edge, one TCP connection; each side reads frames into its node.
    let mut accepts = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        accepts.push((i, l));
    }
    let mut by_node: HashMap<usize, TcpListener> = accepts.into_iter().collect();
    for (a, b) in edges {
        let listener = by_node.get_mut(b).expect("listener");
        let (dial, accept) = tokio::join!(TcpStream::connect(addrs[*b]), listener.accept());
        let s_a = dial.expect("dial");
        let (s_b, _) = accept.expect("accept");
        for (me, other, stream) in [(*a, *b, s_a), (*b, *a, s_b)] {
            stream.set_nodelay(true).expect("nodelay");
            let (mut rd, mut wr) = stream.into_split();
            let (out_tx, mut out_rx) = mpsc::channel::<Arc<Vec<u8>>>(QUEUE);
            node_outs[me].lock().await.insert(other, out_tx);
            actix_rt::spawn(async move {
                while let Some(f) = out_rx.recv().await {
                    if wr.write_all(&f).await.is_err() {
                        break;
                    }
                }
            });
            let inbox = node_inboxes[me].clone();
            actix_rt::spawn(async move {
                loop {
                    let mut len = [0u8; 4];
                    if rd.read_exact(&mut len).await.is_err() {
                        break;
                    }
                    let l = u32::from_be_bytes(len) as usize;
                    let mut frame = vec![0u8; 4 + l];
                    frame[..4].copy_from_slice(&len);
                    if rd.read_exact(&mut frame[4..]).await.is_err() {
                        break;
                    }
                    let _ = inbox.try_send((other, Arc::new(frame)));
                }
            });
        }
    }
    let origin = node_inboxes[0].clone();
    actix_rt::spawn(async move {
        while let Some(f) = inject_rx.recv().await {
            let _ = origin.try_send((usize::MAX, f));
        }
    });
    let mut times = Vec::new();
    for id in 0..blocks as u64 {
        let mut frame = Vec::with_capacity(12 + payload);
        frame.extend_from_slice(&((8 + payload) as u32).to_be_bytes());
        frame.extend_from_slice(&(id + 1).to_be_bytes());
        frame.resize(12 + payload, 0xAB);
        let (t0, cpu0) = (Instant::now(), cpu_now());
        inject_tx.try_send(Arc::new(frame)).expect("inject");
        let mut seen = HashSet::new();
        let mut last = (t0, cpu0);
        while seen.len() < n - 1 {
            let (node, got, at, cpu) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                .await
                .expect("raw propagation stalled")
                .expect("channel");
            if got == id + 1 && node != 0 && seen.insert(node) {
                last = (at, cpu);
            }
        }
        times.push((last.0 - t0, last.1.saturating_sub(cpu0)));
    }
    Timing::of(times)
}

async fn sync_throughput(blocks: u64) -> (Duration, f64) {
    let sync = SyncConfig {
        batch_size: 64,
        ..SyncConfig::default()
    };
    let source = start(config(9000, Vec::new()), sync.clone(), blocks, false).await;
    let tip = source.store.head().await.expect("head");
    let t0 = Instant::now();
    let node = start(config(9001, vec![source.listen_addr]), sync, 0, false).await;
    synced(node, source, tip, t0, blocks).await
}

/// Waits (at most 600 s) until `node`'s head is `tip`, stops both nodes, and returns the time since
/// `t0` with the blocks per second it makes.
async fn synced(
    node: NodeHandle,
    source: NodeHandle,
    tip: Head,
    t0: Instant,
    blocks: u64,
) -> (Duration, f64) {
    let end = Instant::now() + Duration::from_secs(600);
    while node.store.head().await.expect("head") != tip {
        assert!(Instant::now() < end, "sync did not finish");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let took = t0.elapsed();
    node.shutdown(Duration::from_secs(2)).await;
    source.shutdown(Duration::from_secs(2)).await;
    (took, blocks as f64 / took.as_secs_f64())
}

/// The same sync over the ETH dialect: the node dials the source by ETH only and syncs through
/// roots (roots, headers, bodies by root).
async fn eth_sync_throughput(blocks: u64) -> (Duration, f64) {
    let c = config(9010, Vec::new());
    let mut store = memory_store(&c).expect("store");
    let p = BlockProducer::new("seed", 1);
    for slot in 1..=blocks {
        let b = p.produce_on_head(&store, Slot(slot)).expect("produce");
        store.import_block(b).expect("import");
    }
    let parts = NodeParts {
        eth_listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        ..NodeParts::default()
    };
    let source = start_node(c, parts.with_store(store)).await.expect("node");
    let tip = source.store.head().await.expect("head");
    let t0 = Instant::now();
    let parts = NodeParts {
        eth_peers: vec![source.eth_listen_addr.expect("eth listener")],
        ..NodeParts::full()
    };
    let node = start_node(config(9011, Vec::new()), parts)
        .await
        .expect("node");
    synced(node, source, tip, t0, blocks).await
}

fn main() {
    let sizes = env_list("PROP_SIZES", &[10, 50]);
    let blocks = env_list("PROP_BLOCKS", &[20])[0];
    let sync_blocks = env_list("SYNC_BLOCKS", &[10_000])[0] as u64;
    let modes: Vec<bool> = std::env::var("PROP_GOSSIP")
        .unwrap_or_else(|_| "flood".into())
        .split(',')
        .map(|m| m.trim() == "overlay")
        .collect();
    // `PROP_TOPO=line`, `mesh` or `line,mesh` (default): which topologies to run (one alone, to
    // profile it).
    let topologies: Vec<bool> = std::env::var("PROP_TOPO")
        .unwrap_or_else(|_| "line,mesh".into())
        .split(',')
        .map(|t| t.trim() == "mesh")
        .collect();
    let system = actix_rt::System::new();
    system.block_on(async move {
        // Size of a produced block's SSZ, so the baseline carries as many bytes.
        let payload = {
            let store = memory_store(&config(1, Vec::new())).expect("store");
            let b = BlockProducer::new("bench", 2)
                .produce_on_head(&store, Slot(1))
                .expect("block");
            b.as_ssz_bytes().len()
        };
        println!(
            "propagation of one block ({payload} B SSZ) to all nodes, median of {blocks} blocks"
        );
        println!(
            "{:<6} {:<5} {:<8} {:>12} {:>12} {:>7} {:>12} {:>12} {:>7}",
            "nodes",
            "topo",
            "gossip",
            "hobbits",
            "raw tcp",
            "ratio",
            "hobbits cpu",
            "raw cpu",
            "ratio"
        );
        let floor = hop_floor(blocks);
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "work per hop that validation needs (medians, alone): header + message_hash {:.2}us, \
             decode {:.2}us, roots {:.2}us, store import {:.2}us; total {:.2}us",
            us(floor.header_and_hash),
            us(floor.decode),
            us(floor.roots),
            us(floor.import),
            us(floor.total())
        );
        for &n in &sizes {
            for mesh in topologies.iter().copied() {
                let edges = topology(n, mesh, 42);
                let raw = raw_propagation(n, &edges, blocks, payload).await;
                if !mesh {
                    // On a line every hop is one relay: the raw relay's CPU per hop, and the
                    // least a hop that validates can cost (that plus the floor above).
                    let hop = raw.cpu / (n as u32 - 1);
                    println!(
                        "{:<6} line  raw relay {:.2}us cpu per hop; with the validation floor \
                         {:.2}x",
                        n,
                        us(hop),
                        (hop + floor.total()).as_secs_f64() / hop.as_secs_f64()
                    );
                }
                for &overlay in &modes {
                    let hob = hobbits_propagation(n, &edges, blocks, overlay).await;
                    let ms = |d: Duration| d.as_secs_f64() * 1e3;
                    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
                    println!(
                        "{:<6} {:<5} {:<8} {:>10.2}ms {:>10.2}ms {:>6.2}x {:>10.2}ms {:>10.2}ms {:>6.2}x",
                        n,
                        if mesh { "mesh" } else { "line" },
                        if overlay { "overlay" } else { "flood" },
                        ms(hob.wall),
                        ms(raw.wall),
                        ratio(hob.wall, raw.wall),
                        ms(hob.cpu),
                        ms(raw.cpu),
                        ratio(hob.cpu, raw.cpu)
                    );
                }
            }
        }
        let (took, rate) = sync_throughput(sync_blocks).await;
        println!(
            "sync of {sync_blocks} blocks from one peer: {:.2}s, {:.0} blocks/s",
            took.as_secs_f64(),
            rate
        );
        let (took, rate) = eth_sync_throughput(sync_blocks).await;
        println!(
            "sync of {sync_blocks} blocks from one peer over ETH (roots): {:.2}s, {:.0} blocks/s",
            took.as_secs_f64(),
            rate
        );
    });
}
