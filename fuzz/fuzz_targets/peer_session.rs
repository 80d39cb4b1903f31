//! libFuzzer entry point of the `peer_session` target: runs `hobbits_fuzz::session::check` (the
//! input layout and the invariants are documented there). Handles no messages.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hobbits_fuzz::session::check(data));
