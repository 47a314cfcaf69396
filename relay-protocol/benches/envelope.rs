//! Envelope parse/serialize throughput on the hot path of ingestion.
//!
//! `error_envelope.bin` is the 6.6 KB error envelope of `shared/bench/make_envelope.py` (the
//! load-test body); the multi-item envelope adds the header and item kinds of a busy SDK.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use relay_protocol::Envelope;

const ERROR_ENVELOPE: &[u8] = include_bytes!("fixtures/error_envelope.bin");
const KEY: &str = "0123456789abcdef0123456789abcdef";
const TRACE_ID: &str = "4b7b9e0d4c1f4f0a9a3f6a2d8f1c2b3a";
/// Size of the binary attachment in the multi-item envelope.
const BINARY_ATTACHMENT_SIZE: usize = 4096;

fn multi_item_envelope() -> Vec<u8> {
    let mut out = format!(
        "{{\"event_id\":\"{TRACE_ID}\",\"dsn\":\"https://{KEY}@o1.ingest.example/7\",\"sent_at\":\"2025-01-01T12:00:00.123456Z\",\
         \"sdk\":{{\"name\":\"sentry.javascript.browser\",\"version\":\"8.0.0\"}},\
         \"trace\":{{\"trace_id\":\"{TRACE_ID}\",\"public_key\":\"{KEY}\",\"release\":\"web@1.0\",\"environment\":\"prod\",\"sample_rate\":\"0.25\",\"sampled\":\"true\"}}}}\n"
    )
    .into_bytes();
    // Reuse the error event payload (third line of the fixture).
    let event_payload = ERROR_ENVELOPE
        .split(|&byte| byte == b'\n')
        .nth(2)
        .unwrap_or_default();
    out.extend_from_slice(
        format!(
            "{{\"type\":\"event\",\"length\":{},\"content_type\":\"application/json\"}}\n",
            event_payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(event_payload);
    out.push(b'\n');
    out.extend_from_slice(
        format!(
            "{{\"type\":\"attachment\",\"length\":{BINARY_ATTACHMENT_SIZE},\"attachment_type\":\"event.minidump\",\"filename\":\"crash.dmp\",\"content_type\":\"application/x-dmp\"}}\n"
        )
        .as_bytes(),
    );
    out.extend((0..BINARY_ATTACHMENT_SIZE).map(|index| (index % 251) as u8));
    out.push(b'\n');
    out.extend_from_slice(
        b"{\"type\":\"attachment\",\"filename\":\"log.txt\"}\nline one of the log\n",
    );
    out.extend_from_slice(b"{\"type\":\"session\"}\n{\"sid\":\"7c7b6e1a2f5f4b8a9d3c2b1a0f9e8d7c\",\"status\":\"ok\",\"init\":true,\"started\":\"2025-01-01T12:00:00Z\",\"attrs\":{\"release\":\"web@1.0\"}}\n");
    let logs = br#"{"items":[{"timestamp":1735732800.0,"level":"info","body":"a"},{"timestamp":1735732801.0,"level":"warn","body":"b"}]}"#;
    out.extend_from_slice(
        format!(
            "{{\"type\":\"log\",\"item_count\":2,\"content_type\":\"application/vnd.sentry.items.log+json\",\"length\":{}}}\n",
            logs.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(logs);
    out.push(b'\n');
    out.extend_from_slice(b"{\"type\":\"client_report\"}\n{\"timestamp\":1735732800,\"discarded_events\":[{\"reason\":\"queue_overflow\",\"category\":\"error\",\"quantity\":3}]}\n");
    out.extend_from_slice(b"{\"type\":\"statsd\",\"custom\":true}\nfoo:1|c\n");
    out
}

fn bench_envelope(criterion: &mut Criterion, name: &str, input: Vec<u8>) {
    let input = Bytes::from(input);
    let parsed = match Envelope::parse(input.clone()) {
        Ok(envelope) => envelope,
        Err(error) => panic!("benchmark envelope {name} does not parse: {error}"),
    };
    let mut group = criterion.benchmark_group(name);
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function("parse", |bencher| {
        bencher.iter(|| Envelope::parse(black_box(input.clone())))
    });
    group.bench_function("serialize", |bencher| {
        let mut out = Vec::with_capacity(parsed.serialized_size_hint());
        bencher.iter(|| {
            out.clear();
            black_box(&parsed).serialize_into(&mut out);
            black_box(out.len())
        })
    });
    group.bench_function("parse_and_serialize", |bencher| {
        bencher.iter(|| Envelope::parse(black_box(input.clone())).map(|envelope| envelope.to_vec()))
    });
    group.finish();
}

fn benches(criterion: &mut Criterion) {
    bench_envelope(criterion, "error_envelope_6_6kb", ERROR_ENVELOPE.to_vec());
    bench_envelope(criterion, "multi_item_envelope", multi_item_envelope());
}

criterion_group!(envelope_benches, benches);
criterion_main!(envelope_benches);
