//! hobbits-fuzz: the checks behind the coverage-guided fuzz targets in `fuzz_targets/`, kept in a
//! library so they run the same way under libFuzzer (`cargo fuzz run <target>`), in `cargo test`
//! (over the committed seeds and packed corpora, [`corpus`]) and from any other driver. Handles
//! and sends no messages.
//!
//! Each `check_*` function takes the fuzzer's raw bytes, interprets its first byte(s) as choices
//! (limits, split points, which decoder) and the rest as input, decodes, and asserts invariants:
//! a panic here is a finding. Targets:
//! - [`frame::check`]: `FrameCodec` fed the input split at chosen points, and `Frame::parse`;
//! - [`envelope::check`]: BSON RPC/GOSSIP headers and bodies, the tolerant readers,
//!   `Envelope::from_frame` on a frame built from the input, payload and object decoding, JSON view;
//! - [`ssz::check`]: every `RpcPayload` variant's `from_ssz`, `BeaconBlock`/`Attestation`/
//!   `BeaconBlockHeader`/`BeaconState` decode with their roots;
//! - [`snapshot::check`]: `Snapshot::decode` on raw bytes and on bytes given a valid checksum,
//!   then `into_store`;
//! - [`session::check`]: a whole `PeerSession` actor driven through an in-memory socket (bytes,
//!   read splits and `Pending` returns chosen by the input);
//! - [`machines::check`]: the sync machine, the gossip router and the gossip overlay driven by
//!   event sequences the `arbitrary` crate decodes from the input, with invariants after each.

#![forbid(unsafe_code)]

pub mod corpus;
pub mod envelope;
pub mod frame;
pub mod machines;
pub mod session;
pub mod snapshot;
pub mod ssz;

/// Names of the fuzz targets, as `cargo fuzz run` and `fuzz/run.sh` take them.
pub const TARGETS: [&str; 6] = [
    "frame_decode",
    "bson_envelope",
    "ssz_payload",
    "snapshot_decode",
    "peer_session",
    "state_machines",
];

/// Runs the check of `target` on `data` (for drivers other than libFuzzer, and for tests).
/// Returns `false` for an unknown target name.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "frame_decode" => frame::check(data),
        "bson_envelope" => envelope::check(data),
        "ssz_payload" => ssz::check(data),
        "snapshot_decode" => snapshot::check(data),
        "peer_session" => session::check(data),
        "state_machines" => machines::check(data),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every committed seed passes its target's checks (the seeds are also what `run.sh` starts
    /// each corpus from). Skips cleanly when the seeds have not been generated.
    #[test]
    fn committed_seeds_pass_their_checks() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        let mut seen = 0;
        for target in super::TARGETS {
            let Ok(dir) = std::fs::read_dir(root.join(target)) else {
                continue;
            };
            for entry in dir {
                let path = entry.expect("dir entry").path();
                let data = std::fs::read(&path).expect("seed file");
                assert!(super::run(target, &data), "{}", path.display());
                seen += 1;
            }
        }
        eprintln!("{seen} seeds checked");
    }

    /// Every input of every committed corpus pack (`corpora/<target>.pack`: the minimized
    /// corpora of the recorded runs, docs/FUZZING.md) passes its target's checks.
    #[test]
    fn committed_corpora_pass_their_checks() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora");
        let mut seen = 0;
        for target in super::TARGETS {
            let path = root.join(format!("{target}.pack"));
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let inputs = super::corpus::unpack(&bytes).expect("a readable pack");
            for (i, input) in inputs.iter().enumerate() {
                assert!(super::run(target, input), "{} input {i}", path.display());
            }
            seen += inputs.len();
        }
        eprintln!("{seen} corpus inputs checked");
    }

    #[test]
    fn short_and_empty_inputs_are_fine() {
        for target in super::TARGETS {
            for len in 0..40 {
                for fill in [0u8, 1, 0xff] {
                    assert!(super::run(target, &vec![fill; len]));
                }
            }
        }
    }
}
