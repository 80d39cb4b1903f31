//! A real crash test of the persistent store: this test binary is re-run as a child process (the
//! `crash_writer_child` test, selected by an environment variable) that imports blocks in a loop
//! and reports each committed import on stdout; the parent kills it with SIGKILL mid-way, reopens
//! the database, checks it (every block's parent stored, the head stored, the canonical chain
//! contiguous, no partial block, nothing acknowledged lost), and starts the next writer from
//! where the previous one stopped.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hobbits_chain::{
    BlockProducer, ChainError, ChainRead, ChainStore, CommitDurability, Genesis, GenesisConfig,
    PersistentStore, Slot, StoreConfig,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use support::assert_consistent;

/// Set in the child: the data directory to write into.
const WRITER_DIR_ENV: &str = "HOBBITS_PERSIST_CRASH_DIR";
/// Set in the child: `immediate` or `deferred` commit durability.
const WRITER_DURABILITY_ENV: &str = "HOBBITS_PERSIST_CRASH_DURABILITY";
/// The child stops by itself after this many blocks (the parent kills it long before).
const WRITER_MAX_BLOCKS: usize = 200_000;

fn genesis() -> Genesis {
    GenesisConfig::new(7, 1, Duration::from_secs(1_565_000_000), None)
        .expect("valid")
        .build()
        .expect("genesis")
}

/// Imports blocks until killed: one slot after the head each time, one in ten from an older
/// canonical block (a reorg, rewriting canonical entries). Prints `IMPORTED <n> DURABLE <d>` after
/// every commit: `n` blocks stored, `d` of them known to be on disk (all of them with immediate
/// durability; with deferred durability, as of the last flush, made every 100 blocks).
#[test]
fn crash_writer_child() {
    let Some(dir) = std::env::var_os(WRITER_DIR_ENV) else {
        return; // only acts as the child of `kill_9_mid_import_loses_nothing_acknowledged`
    };
    let mut store =
        PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("open");
    let deferred = std::env::var(WRITER_DURABILITY_ENV).as_deref() == Ok("deferred");
    if deferred {
        store.set_durability(CommitDurability::Deferred);
    }
    let producer = BlockProducer::new("crash-writer", 3);
    let mut rng = SmallRng::seed_from_u64(store.head().slot.0);
    let mut durable = store.block_count();
    while store.block_count() < WRITER_MAX_BLOCKS {
        let head = store.head();
        let parent_slot = if rng.gen_bool(0.1) {
            head.slot.0.saturating_sub(rng.gen_range(1..=3))
        } else {
            head.slot.0
        };
        let parent = store
            .canonical_at_or_before(Slot(parent_slot))
            .and_then(|b| store.header(&b.root))
            .expect("canonical parent");
        let block = producer
            .produce_block(&parent, Slot(head.slot.0 + 1))
            .expect("block");
        match store.import_block(block) {
            Ok(_) => {
                let n = store.block_count();
                if !deferred {
                    durable = n;
                } else if n % 100 == 0 {
                    store.flush().expect("flush");
                    durable = n;
                }
                println!("IMPORTED {n} DURABLE {durable}");
            }
            Err(ChainError::ConflictsWithFinality { .. }) => {}
            Err(e) => panic!("writer import failed: {e}"),
        }
    }
}

/// What the writer reported so far.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// Blocks stored after the last acknowledged import.
    imported: usize,
    /// Blocks known to be on disk.
    durable: usize,
}

/// Parses `IMPORTED <n> DURABLE <d>`.
fn parse_progress(line: &str) -> Option<Progress> {
    let mut words = line.split_whitespace();
    let (kind, imported) = (words.next()?, words.next()?.parse().ok()?);
    let (label, durable) = (words.next()?, words.next()?.parse().ok()?);
    (kind == "IMPORTED" && label == "DURABLE").then_some(Progress { imported, durable })
}

fn spawn_writer(dir: &Path, durability: &str) -> (Child, mpsc::Receiver<Progress>) {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "crash_writer_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_DIR_ENV, dir)
        .env(WRITER_DURABILITY_ENV, durability)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn writer");
    let stdout = child.stdout.take().expect("stdout");
    // Bounded; when full, progress lines are dropped (later ones report more), so the writer
    // never blocks on its pipe.
    let (tx, rx) = mpsc::sync_channel(1024);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Some(progress) = parse_progress(&line) else {
                continue;
            };
            if let Err(mpsc::TrySendError::Disconnected(_)) = tx.try_send(progress) {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits until the writer reports at least `target` imported blocks; returns its progress.
fn wait_for_progress(rx: &mpsc::Receiver<Progress>, target: usize, deadline: Duration) -> Progress {
    let end = Instant::now() + deadline;
    let mut last = Progress::default();
    while last.imported < target {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(p) => last = p,
            Err(e) => panic!("writer reported {last:?}, wanted {target} blocks: {e}"),
        }
    }
    last
}

/// One writer run killed with SIGKILL once it has reported `target` blocks (plus a seeded
/// extra delay, so the kill lands at an arbitrary point of an import or a commit). Returns the
/// writer's last report.
fn run_and_kill(dir: &Path, durability: &str, target: usize, rng: &mut SmallRng) -> Progress {
    let (mut child, rx) = spawn_writer(dir, durability);
    let reported = wait_for_progress(&rx, target, Duration::from_secs(120));
    std::thread::sleep(Duration::from_micros(rng.gen_range(0..3_000)));
    child.kill().expect("SIGKILL the writer");
    let status = child.wait().expect("reap the writer");
    assert!(!status.success(), "the writer was killed, not finished");
    // Every count it printed before dying was committed first.
    let mut acknowledged = reported;
    while let Ok(p) = rx.recv_timeout(Duration::from_millis(200)) {
        acknowledged = p;
    }
    acknowledged
}

fn crash_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("persist-crash-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn kill_9_mid_import_loses_nothing_acknowledged() {
    let dir = crash_dir("immediate");
    let mut rng = SmallRng::seed_from_u64(11);
    let mut target = 0;
    for round in 0..3 {
        target += 300;
        let acknowledged = run_and_kill(&dir, "immediate", target, &mut rng);
        let store = PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default())
            .unwrap_or_else(|e| panic!("round {round}: reopen after kill -9 failed: {e}"));
        assert_consistent(&store);
        // Every acknowledged (fsynced) import is there; at most the one in flight is extra.
        let count = store.block_count();
        assert_eq!(acknowledged.durable, acknowledged.imported);
        assert!(
            count >= acknowledged.durable && count <= acknowledged.imported + 1,
            "round {round}: {count} blocks stored, writer reported {acknowledged:?}"
        );
        assert!(
            store.finalized_checkpoint().epoch.0 > 0,
            "finality persisted"
        );
        target = count;
    }
    // The next writer continues from the stored head.
    let (mut child, rx) = spawn_writer(&dir, "immediate");
    let before = target;
    let reached = wait_for_progress(&rx, before + 100, Duration::from_secs(120)).durable;
    child.kill().expect("kill");
    let _ = child.wait();
    assert!(reached >= before + 100);
    let store =
        PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default()).expect("reopen");
    assert_consistent(&store);
    assert!(store.block_count() >= reached);
}

#[test]
fn kill_9_with_deferred_commits_stays_consistent() {
    let dir = crash_dir("deferred");
    let mut rng = SmallRng::seed_from_u64(12);
    for round in 0..2 {
        let acknowledged = run_and_kill(&dir, "deferred", 500 * (round + 1), &mut rng);
        let store = PersistentStore::open_in_dir(&dir, &genesis(), StoreConfig::default())
            .unwrap_or_else(|e| panic!("round {round}: reopen after kill -9 failed: {e}"));
        // Commits since the last flush may be lost, but what is there is whole, and everything
        // flushed is there.
        assert_consistent(&store);
        let count = store.block_count();
        assert!(
            acknowledged.durable >= 100,
            "the writer flushed: {acknowledged:?}"
        );
        assert!(
            count >= acknowledged.durable && count <= acknowledged.imported + 1,
            "round {round}: {count} blocks stored, writer reported {acknowledged:?}"
        );
    }
}
