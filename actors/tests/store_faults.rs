//! Store faults contained (docs/PROTOCOL.md, "Persistence", "Store faults"): a store that panics
//! during a write, a persistent store on a full disk (a 1 MiB tmpfs mounted by the test), and a
//! read-only data directory (the tmpfs remounted read-only, at open: Linux refuses a read-only
//! remount while the store holds its file open for writing). In each case the fault is reported
//! (`GetStoreFault`, `NodeHandle::store_faults`), importing stops, the node keeps serving what it
//! has, and the store reopens with every block committed before the fault. The tmpfs tests need
//! root (mount); without it they print a note and pass without running.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use hobbits_actors::node::{genesis_config, persistent_store, start_node, NodeParts};
use hobbits_actors::store::{FaultKind, StoreError};
use hobbits_actors::{NodeConfig, NodeHandle};
use hobbits_chain::{
    Attestation, AttestationImported, BeaconBlock, BeaconState, BlockProducer, ChainError,
    ChainRead, ChainStore, ImportOutcome, MemoryStore, PersistentStore, ReadThrough, Root, Slot,
    StoreConfig,
};
use support::*;

/// A memory store that panics on its `panic_at`-th block import.
struct PanickingStore {
    inner: MemoryStore,
    imports: u32,
    panic_at: u32,
}

impl ReadThrough for PanickingStore {
    type Reader = MemoryStore;
    fn reader(&self) -> &MemoryStore {
        &self.inner
    }
}

impl ChainStore for PanickingStore {
    fn import_block(&mut self, block: BeaconBlock) -> Result<ImportOutcome, ChainError> {
        self.imports += 1;
        assert!(
            self.imports < self.panic_at,
            "simulated bug inside the store"
        );
        self.inner.import_block(block)
    }
    fn import_attestation(&mut self, a: Attestation) -> Result<AttestationImported, ChainError> {
        self.inner.import_attestation(a)
    }
    fn insert_state(&mut self, state: BeaconState) -> Root {
        self.inner.insert_state(state)
    }
}

async fn produce_until_fault(node: &NodeHandle, max: u64) -> (u64, StoreError) {
    let producer = BlockProducer::new("faults", 1);
    for produced in 0..max {
        if let Err(e) = node.store.produce_block(producer.clone()).await {
            return (produced, e);
        }
    }
    panic!("no fault after {max} blocks");
}

/// The node after a fault: the fault is published, imports are refused, reads and RPC go on.
async fn assert_contained(node: &NodeHandle, kind: FaultKind, head: Slot) {
    let fault = node
        .store
        .fault()
        .await
        .expect("store alive after the fault")
        .expect("fault recorded");
    assert_eq!(fault.kind, kind, "{fault}");
    assert_eq!(
        node.store_faults.borrow().as_ref(),
        Some(&fault),
        "fault published"
    );
    let again = node
        .store
        .produce_block(BlockProducer::new("after", 2))
        .await;
    assert!(
        matches!(&again, Err(StoreError::Chain(ChainError::Storage { reason })) if reason.contains("earlier fault")),
        "importing stopped: {again:?}"
    );
    assert_eq!(node.store.head().await.expect("head").slot, head);
    let mut raw = RawClient::connect(node.listen_addr).await.expect("connect");
    raw.hello(1, genesis_hello(1, node.genesis_root))
        .await
        .expect("HELLO served after the fault");
    assert!(raw.status(2).await.is_some(), "GET_STATUS served");
}

#[actix_rt::test]
async fn a_panic_inside_the_store_during_a_write_is_contained() {
    init_tracing();
    let cfg = config();
    let inner = genesis_config(&cfg)
        .expect("genesis")
        .memory_store(StoreConfig::default())
        .expect("store");
    let store = PanickingStore {
        inner,
        imports: 0,
        panic_at: 6,
    };
    let parts = NodeParts {
        store: Some(Box::new(store)),
        ..NodeParts::default()
    };
    let node = start_node(cfg, parts).await.expect("node");
    let (produced, err) = produce_until_fault(&node, 20).await;
    assert_eq!(produced, 5);
    assert!(err.to_string().contains("simulated bug"), "{err}");
    assert_contained(&node, FaultKind::Panic, Slot(5)).await;
    node.shutdown(DEADLINE).await;
}

/// A tmpfs of `size` mounted at a fresh directory; unmounted and removed on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(tag: &str, size: &str) -> Option<Tmpfs> {
        if is_root() {
            let dir = std::env::temp_dir().join(format!("hobbits-{tag}-{}", std::process::id()));
            let _ = std::fs::create_dir_all(&dir);
            let ok = Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Some(Tmpfs { dir });
            }
            let _ = std::fs::remove_dir(&dir);
        }
        eprintln!("note: not root or mount failed: the {tag} test is skipped");
        None
    }

    fn remount(&self, options: &str) {
        // Only ro / rw here: a file open for writing would make a read-only remount fail.
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount {options}");
    }

    fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a store still open in this process must not leave the mount behind.
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Whether this process runs as root (uid 0), read from /proc without unsafe code.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

fn reopen(cfg: &NodeConfig, dir: &Path) -> PersistentStore {
    persistent_store(cfg, dir).expect("the store reopens consistent")
}

#[actix_rt::test]
async fn a_full_disk_stops_importing_and_loses_nothing_committed() {
    init_tracing();
    let Some(fs) = Tmpfs::mount("full-disk", "1m") else {
        return;
    };
    let cfg = config();
    let store = persistent_store(&cfg, fs.path()).expect("store on the tmpfs");
    let parts = NodeParts {
        store: Some(Box::new(store)),
        ..NodeParts::default()
    };
    let node = start_node(cfg.clone(), parts).await.expect("node");
    let (produced, err) = produce_until_fault(&node, 200_000).await;
    eprintln!("disk full after {produced} blocks: {err}");
    assert!(produced > 0);
    assert_contained(&node, FaultKind::Storage, Slot(produced)).await;
    node.shutdown(DEADLINE).await;
    // The file as a crash would leave it (the store actor still holds it open): copied to a
    // disk with room, it holds every block committed before the fault.
    let copy = std::env::temp_dir().join(format!("hobbits-full-disk-copy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).expect("dir");
    std::fs::copy(
        fs.path().join(hobbits_chain::CHAIN_DB_FILE),
        copy.join(hobbits_chain::CHAIN_DB_FILE),
    )
    .expect("copy");
    let store = reopen(&cfg, &copy);
    assert_eq!(store.head().slot, Slot(produced));
    assert_eq!(store.block_count() as u64, produced + 1);
    drop(store);
    let _ = std::fs::remove_dir_all(&copy);
}

#[actix_rt::test]
async fn a_read_only_data_directory_is_a_clear_error_and_loses_nothing() {
    init_tracing();
    let Some(fs) = Tmpfs::mount("read-only", "16m") else {
        return;
    };
    let cfg = config();
    {
        let mut store = persistent_store(&cfg, fs.path()).expect("store");
        let producer = BlockProducer::new("ro", 1);
        for slot in 1..=10 {
            let block = producer.produce_on_head(&store, Slot(slot)).expect("build");
            store.import_block(block).expect("import");
        }
    }
    fs.remount("ro");
    let err = persistent_store(&cfg, fs.path()).expect_err("read-only");
    let text = err.to_string();
    eprintln!("read-only: {text}");
    assert!(
        text.contains("Read-only file system") || text.contains("ermission"),
        "clear error: {text}"
    );
    assert!(
        text.contains(&fs.path().display().to_string()) || text.contains("chain.redb"),
        "names the file: {text}"
    );
    fs.remount("rw");
    let store = reopen(&cfg, fs.path());
    assert_eq!(store.head().slot, Slot(10));
}
