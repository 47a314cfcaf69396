//! Envelope parse → serialize → reparse invariants (`relay_protocol::fuzzing::fuzz_envelope`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    relay_protocol::fuzzing::fuzz_envelope(data);
});
