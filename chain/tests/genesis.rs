//! Genesis is deterministic: the same configuration gives the same root in this process, in a
//! second process (this test binary re-run as a child), and equal to a root computed once and
//! written here (our own format, so a change of format must change this constant on purpose).

use std::process::Command;
use std::time::Duration;

use hobbits_chain::{ChainRead, GenesisConfig, GenesisError, Root, StoreConfig};

const CHILD_ENV: &str = "HOBBITS_GENESIS_CHILD";

fn testnet_config() -> GenesisConfig {
    GenesisConfig::new(7, 1, Duration::from_secs(1_565_000_000), None).expect("valid")
}

/// Root of `testnet_config()`'s genesis block, computed once by this crate (format v1).
const EXPECTED_GENESIS_ROOT: &str =
    "0xdbaebaafdfcf17dc14d9fb3b48adb35bca91f00ff5bfa1f70337aa5ba6d2c557";

#[test]
fn genesis_child_prints_root() {
    // Only does something when run as the child of `genesis_root_agrees_across_processes`.
    if std::env::var_os(CHILD_ENV).is_some() {
        let root = testnet_config().build().expect("genesis").root;
        println!("GENESIS_ROOT={root}");
    }
}

#[test]
fn genesis_root_agrees_across_processes() {
    let ours = testnet_config().build().expect("genesis").root;
    let exe = std::env::current_exe().expect("test binary path");
    let output = Command::new(exe)
        .args([
            "genesis_child_prints_root",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run child");
    assert!(output.status.success(), "child failed: {output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("GENESIS_ROOT=").map(|(_, r)| r))
        .expect("child printed a root");
    let theirs: Root = line.trim().parse().expect("root");
    assert_eq!(theirs, ours);
    assert_eq!(ours.to_string(), EXPECTED_GENESIS_ROOT);
}

#[test]
fn every_field_changes_the_root() {
    let base = testnet_config().build().expect("genesis").root;
    let variants = [
        GenesisConfig::new(8, 1, Duration::from_secs(1_565_000_000), None),
        GenesisConfig::new(7, 2, Duration::from_secs(1_565_000_000), None),
        GenesisConfig::new(7, 1, Duration::from_secs(1_565_000_001), None),
        GenesisConfig::new(
            7,
            1,
            Duration::from_secs(1_565_000_000),
            Some(Root([1; 32])),
        ),
    ];
    for v in variants {
        let root = v.expect("valid").build().expect("genesis").root;
        assert_ne!(root, base);
    }
    let store = testnet_config()
        .memory_store(StoreConfig::default())
        .expect("store");
    assert_eq!(store.genesis_root(), base);
    assert_eq!(store.head().root, base);
}

#[test]
fn invalid_configurations_are_typed_errors() {
    assert_eq!(
        GenesisConfig::new(1, 1, Duration::from_secs(1_565_000_000_000), None),
        Err(GenesisError::GenesisTimeTooLate {
            secs: 1_565_000_000_000
        })
    );
    assert_eq!(
        GenesisConfig::new(1, 1, Duration::from_millis(1_500), None),
        Err(GenesisError::FractionalGenesisTime { nanos: 500_000_000 })
    );
    assert_eq!(
        GenesisConfig::new(1, 1, Duration::from_secs(1), Some(Root::ZERO)),
        Err(GenesisError::ZeroStateRoot)
    );
}
