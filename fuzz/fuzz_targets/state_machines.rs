//! libFuzzer entry point of the `state_machines` target: runs `hobbits_fuzz::machines::check`
//! (the scenarios and the invariants are documented there). Handles no messages.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hobbits_fuzz::machines::check(data));
