//! End to end, real processes: `hobbits-node run --data-dir`. A source node serves a long chain
//! (a data directory the test prepares with the chain crate); a second node syncs it into its own
//! data directory and is killed with SIGKILL mid-sync; the test then opens that database with
//! `PersistentStore` (it must open: no half-imported block, head and finalized checkpoint those of
//! the source chain at that height), restarts the node on it and checks that sync resumes from the
//! reopened head (not from genesis) and reaches the source's head. Also: a data directory that is
//! locked, of another chain or not a directory exits with status 2 and a clear message.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{NodeProcess, BIN};

use hobbits_actors::node::genesis_config;
use hobbits_actors::NodeConfig;
use hobbits_chain::{
    BeaconBlock, BlockProducer, ChainRead, ChainStore, CommitDurability, Genesis, MemoryStore,
    PersistentStore, Slot, StoreConfig,
};

const DEADLINE: Duration = Duration::from_secs(60);
/// Blocks of the source chain (one per slot).
const CHAIN_LEN: u64 = 3000;
/// Kill the syncing node once it reports this slot imported.
const KILL_AFTER_SLOT: u64 = 800;

/// A running `hobbits-node run`, killed (SIGKILL) and reaped on drop.
struct Node {
    process: NodeProcess,
    port: u16,
}

impl Node {
    fn start(args: &[&str]) -> Node {
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut process = NodeProcess::spawn(&mut cmd, DEADLINE);
        let port = process.listening_port();
        Node { process, port }
    }

    fn uri(&self) -> String {
        format!("hob+tcp://127.0.0.1:{}", self.port)
    }

    /// The first stdout line starting with `prefix` (among those seen already, or the next).
    fn wait_stdout(&mut self, prefix: &str) -> String {
        self.process
            .stdout
            .find(prefix, |l| l.starts_with(prefix).then(|| l.to_string()))
    }

    /// Waits for the next log line for which `f` returns a value.
    fn wait_log<T>(&mut self, what: &str, f: impl FnMut(&str) -> Option<T>) -> T {
        self.process.stderr().next_matching(what, f)
    }

    /// SIGKILL and reap.
    fn kill(&mut self) {
        self.process.kill();
    }
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("hobbits-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn arg(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The value after `key=` in a log line (up to the next space or closing parenthesis).
fn log_value(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The best slot `hobbits-node status` reports, `None` when it does not answer.
fn best_slot(uri: &str) -> Option<u64> {
    let out: Output = Command::new(BIN)
        .args(["status", uri])
        .output()
        .expect("run status");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("best_slot"))
        .and_then(|v| v.trim().parse().ok())
}

/// The genesis every node of this test uses (the defaults of `run`).
fn genesis() -> Genesis {
    genesis_config(&NodeConfig::default())
        .and_then(|g| g.build())
        .expect("genesis")
}

/// A data directory holding a chain of `n` blocks (slots 1..=n) on the default genesis,
/// committed without fsync and flushed once; returns the blocks.
fn prepare_data_dir(dir: &Path, n: u64) -> Vec<BeaconBlock> {
    let mut store =
        PersistentStore::open_in_dir(dir, &genesis(), StoreConfig::default()).expect("open");
    store.set_durability(CommitDurability::Deferred);
    let producer = BlockProducer::new("cli-persist source", 3);
    let blocks = (1..=n)
        .map(|slot| {
            let b = producer
                .produce_on_head(&store, Slot(slot))
                .expect("produce");
            store.import_block(b.clone()).expect("import");
            b
        })
        .collect();
    store.flush().expect("flush");
    blocks
}

/// Parses "store persistent PATH: reopened N blocks, head slot S, finalized epoch E".
fn reopened(line: &str) -> (u64, u64, u64) {
    let num_after = |key: &str| -> u64 {
        let rest = &line[line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len()..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("number after {key} in {line}"))
    };
    (
        num_after("reopened "),
        num_after("head slot "),
        num_after("finalized epoch "),
    )
}

#[test]
fn a_node_killed_mid_sync_reopens_a_consistent_store_and_resumes() {
    let source_dir = TempDir::new("persist-source");
    let chain = prepare_data_dir(source_dir.path(), CHAIN_LEN);
    let mut source = Node::start(&["--data-dir", source_dir.arg(), "--log", "warn"]);
    let line = source.wait_stdout("store persistent ");
    assert_eq!(reopened(&line).1, CHAIN_LEN, "{line}");
    assert_eq!(best_slot(&source.uri()), Some(CHAIN_LEN));

    // 1. Sync into a fresh data directory; SIGKILL once some (not all) batches are imported.
    let sync_dir = TempDir::new("persist-sync");
    let peer = source.uri();
    let log = "warn,hobbits_actors::sync=debug";
    let sync_args = ["--data-dir", sync_dir.arg(), "--peer", &peer, "--log", log];
    let mut syncing = Node::start(&sync_args);
    let line = syncing.wait_stdout("store persistent ");
    assert_eq!(reopened(&line), (1, 0, 0), "a new store holds the genesis");
    let progress = syncing.wait_log("sync progress past the kill point", |l| {
        l.contains("sync progress")
            .then(|| log_value(l, "imported="))
            .flatten()
            .filter(|s| *s >= KILL_AFTER_SLOT)
    });
    syncing.kill();
    assert!(
        progress < CHAIN_LEN,
        "sync finished before the kill ({progress})"
    );

    // 2. The database opens and is consistent: every stored block is a whole block of the source
    //    chain, head and finalized checkpoint are exactly the source chain's at that height.
    let (head_slot, blocks, finalized) = {
        let store =
            PersistentStore::open_in_dir(sync_dir.path(), &genesis(), StoreConfig::default())
                .expect("the killed node's database opens");
        let head = store.head();
        assert!(head.slot.0 >= KILL_AFTER_SLOT - 1, "head {head:?}");
        assert!(
            head.slot.0 < CHAIN_LEN,
            "not everything was synced: {head:?}"
        );
        assert_eq!(
            store.block_count() as u64,
            head.slot.0 + 1,
            "no gaps, no extras"
        );
        assert_eq!(head.root, chain[head.slot.0 as usize - 1].signing_root());
        let mut expected = MemoryStore::new(genesis().block, StoreConfig::default()).expect("m");
        for b in &chain[..head.slot.0 as usize] {
            expected.import_block(b.clone()).expect("import");
        }
        assert_eq!(
            store.finalized_checkpoint(),
            expected.finalized_checkpoint()
        );
        assert!(store.finalized_checkpoint().epoch.0 > 0, "finality moved");
        (
            head.slot.0,
            store.block_count() as u64,
            store.finalized_checkpoint(),
        )
    };

    // 3. Restart on the same data directory: it reopens what was stored and sync resumes just
    //    past the reopened head (not from genesis), then reaches the source's head.
    let mut restarted = Node::start(&sync_args);
    let line = restarted.wait_stdout("store persistent ");
    assert_eq!(
        reopened(&line),
        (blocks, head_slot, finalized.epoch.0),
        "{line}"
    );
    let resumed_at = restarted.wait_log("sync state after restart", |l| {
        (l.contains("sync state") && l.contains("syncing from"))
            .then(|| log_value(l, "imported below "))
            .flatten()
    });
    assert_eq!(
        resumed_at,
        head_slot + 1,
        "first batch starts at the reopened head"
    );
    let end = Instant::now() + DEADLINE;
    while best_slot(&restarted.uri()) != Some(CHAIN_LEN) {
        assert!(
            Instant::now() < end,
            "restarted node never reached {CHAIN_LEN}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Blocks fetched after the restart: only the missing ones (sync counts what it imports).
    let fetched = restarted.wait_log("sync idle after restart", |l| {
        (l.contains("sync state") && l.contains("idle"))
            .then(|| log_value(l, "blocks_imported="))
            .flatten()
    });
    assert_eq!(fetched, CHAIN_LEN - head_slot, "no block fetched twice");
    restarted.kill();
    let store = PersistentStore::open_in_dir(sync_dir.path(), &genesis(), StoreConfig::default())
        .expect("reopen after the full sync");
    assert_eq!(store.head().slot, Slot(CHAIN_LEN));
    assert_eq!(store.block_count() as u64, CHAIN_LEN + 1);
}

#[test]
fn a_bad_data_dir_exits_with_status_2_and_says_why() {
    let dir = TempDir::new("persist-bad");
    let run = |args: &[&str]| -> Output {
        Command::new(BIN)
            .args(["run", "--listen", "127.0.0.1:0", "--log", "warn"])
            .args(args)
            .output()
            .expect("run")
    };
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).to_string();

    // Not a directory.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let out = run(&["--data-dir", file.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("data directory"), "{out:?}");

    // Not a chain database.
    let junk = dir.path().join("junk");
    std::fs::create_dir_all(&junk).expect("dir");
    std::fs::write(junk.join(hobbits_chain::CHAIN_DB_FILE), vec![0xAB; 4096]).expect("write");
    let out = run(&["--data-dir", junk.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("chain database"), "{out:?}");

    // Another chain's database (other network id), also through HOBBITS_DATA_DIR.
    let chain_dir = dir.path().join("chain");
    prepare_data_dir(&chain_dir, 0);
    let out = Command::new(BIN)
        .args(["run", "--listen", "127.0.0.1:0", "--network-id", "9"])
        .env("HOBBITS_DATA_DIR", &chain_dir)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("another chain"), "{out:?}");

    // Locked by a running node.
    let mut holder = Node::start(&["--data-dir", chain_dir.to_str().expect("path")]);
    holder.wait_stdout("store persistent ");
    let out = run(&["--data-dir", chain_dir.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("lock"), "{out:?}");
    holder.kill();

    // The same directory through the TOML file, once the holder is gone: it starts.
    let toml = dir.path().join("node.toml");
    std::fs::write(
        &toml,
        format!("data_dir = {:?}\n", chain_dir.to_str().expect("path")),
    )
    .expect("write");
    let mut node = Node::start(&["--config", toml.to_str().expect("path")]);
    let line = node.wait_stdout("store persistent ");
    assert_eq!(reopened(&line), (1, 0, 0), "{line}");
}
