//! Event parse → serialize fixed-point invariants (`relay_event::fuzzing::fuzz_event`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    relay_event::fuzzing::fuzz_event(data);
});
