//! Every example testnet under `examples/testnets/` parses and validates, and
//! `examples/testnets/default.toml` describes exactly the built-in testnet of `hobbits-node testnet`.

use std::path::Path;

use hobbits_testnet::TestnetSpec;

#[test]
fn every_example_file_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/testnets");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/testnets/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            TestnetSpec::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 3, "only {seen} example files");
}

#[test]
fn the_default_file_is_the_built_in_testnet() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/testnets/default.toml");
    let spec = TestnetSpec::from_file(&path).expect("default.toml");
    assert_eq!(spec, TestnetSpec::default_for(8));
}
