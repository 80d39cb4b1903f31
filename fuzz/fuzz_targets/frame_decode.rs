//! libFuzzer entry point of the `frame_decode` target: runs `hobbits_fuzz::frame::check` (the input
//! layout and the invariants are documented there). Handles no messages.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hobbits_fuzz::frame::check(data));
