//! libFuzzer entry point of the `bson_envelope` target: runs `hobbits_fuzz::envelope::check` (the input
//! layout and the invariants are documented there). Handles no messages.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hobbits_fuzz::envelope::check(data));
