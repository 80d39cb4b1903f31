//! libFuzzer entry point of the `ssz_payload` target: runs `hobbits_fuzz::ssz::check` (the input
//! layout and the invariants are documented there). Handles no messages.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hobbits_fuzz::ssz::check(data));
