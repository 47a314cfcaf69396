//! Auth header/query, project key, DSN, event id, content type and client report parsing
//! (`relay_protocol::fuzzing::fuzz_auth`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    relay_protocol::fuzzing::fuzz_auth(data);
});
