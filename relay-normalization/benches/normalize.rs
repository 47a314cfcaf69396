//! Per-event cost of the store path: parse (JSON text → `Annotated<Event>`), normalize
//! ([`normalize_event`] with the default config and a fixed `received_at`), serialize
//! (`Annotated<Event>` → JSON text), and the three together.
//!
//! Fixtures (compact JSON, read with `include_str!`):
//!
//! * `error_event.json`: the event payload of the edge benchmark's 6.6 KB envelope
//!   (`shared/bench/make_envelope.py`, third line);
//! * `transaction_event.json`: the transaction of `scripts/bench/make_envelopes.py transaction`
//!   (10 spans), generated with `now = 1700000000.0`;
//! * `native_event.json`: ~58 KB native crash, `shared/corpus/sentry-samples/native.json`
//!   (181 debug images) with modern keys and six threads with stack traces added.
//!
//! `*_via_value` are the reference paths through a `serde_json::Value` tree (`from_json` on
//! `serde_json::from_str`, `serde_json::to_string` of `to_json`), kept to measure the streaming
//! parser and writer against them in one sitting.
//!
//! `scripts/bench-normalize-oracle.py` times Sentry's `StoreNormalizer` on the same fixtures.
//!
//! `user_agent/*` times the user agent step alone, with and without its parse cache.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use relay_event::schema::Event;
use relay_event::{from_json, from_json_str, to_json, to_json_string, Annotated, Timestamp};
use relay_normalization::user_agent::normalize_user_agent;
use relay_normalization::{normalize_event, NormalizationConfig};

/// The allocator relay-server runs with (`relay-server/src/main.rs`): the event model
/// allocates per string and container, so the allocator is part of what is measured.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ERROR_EVENT: &str = include_str!("fixtures/error_event.json");
const TRANSACTION_EVENT: &str = include_str!("fixtures/transaction_event.json");
const NATIVE_EVENT: &str = include_str!("fixtures/native_event.json");

/// 2023-11-14T22:13:21Z: one second after the fixtures' timestamps, so that no timestamp is
/// moved and the work does not depend on the day the benchmark runs.
const RECEIVED_AT: f64 = 1_700_000_001.0;

fn config() -> NormalizationConfig {
    let received_at = match Timestamp::from_seconds(RECEIVED_AT) {
        Ok(timestamp) => timestamp,
        Err(error) => panic!("received_at: {error:?}"),
    };
    NormalizationConfig {
        received_at: Some(received_at),
        ..NormalizationConfig::default()
    }
}

fn parse(text: &str) -> Annotated<Event> {
    match from_json_str::<Event>(text) {
        Ok(event) => event,
        Err(error) => panic!("fixture does not parse: {error}"),
    }
}

fn parse_via_value(text: &str) -> Annotated<Event> {
    match serde_json::from_str(text) {
        Ok(json) => from_json(json),
        Err(error) => panic!("fixture does not parse: {error}"),
    }
}

fn serialize_via_value(event: &Annotated<Event>) -> serde_json::Result<String> {
    serde_json::to_string(&to_json(event)?)
}

fn bench_event(criterion: &mut Criterion, name: &str, text: &str) {
    let config = config();
    let parsed = parse(text);
    let mut normalized = parsed.clone();
    if let Err(error) = normalize_event(&mut normalized, &config) {
        panic!("fixture {name} is rejected: {error}");
    }

    let mut group = criterion.benchmark_group(name);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("parse", |bencher| {
        bencher.iter(|| from_json_str::<Event>(black_box(text)))
    });
    group.bench_function("normalize", |bencher| {
        bencher.iter_batched(
            || parsed.clone(),
            |mut event| {
                let result = normalize_event(&mut event, black_box(&config));
                (event, result)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("serialize", |bencher| {
        bencher.iter(|| to_json_string(black_box(&normalized)))
    });
    group.bench_function("total", |bencher| {
        bencher.iter(|| {
            let mut event = parse(black_box(text));
            let result = normalize_event(&mut event, black_box(&config));
            (result, to_json_string(&event))
        })
    });
    group.bench_function("parse_via_value", |bencher| {
        bencher.iter(|| parse_via_value(black_box(text)))
    });
    group.bench_function("serialize_via_value", |bencher| {
        bencher.iter(|| serialize_via_value(black_box(&normalized)))
    });
    group.bench_function("total_via_value", |bencher| {
        bencher.iter(|| {
            let mut event = parse_via_value(black_box(text));
            let result = normalize_event(&mut event, black_box(&config));
            (result, serialize_via_value(&event))
        })
    });
    group.finish();
}

/// The user agent step (normalization.md §7 step 17) alone, on an event with only the Chrome user
/// agent of the fixtures: `cached` is the steady state of repeated user agents, `uncached`
/// parses a new user agent every time (a counter appended to it).
fn bench_user_agent(criterion: &mut Criterion) {
    const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
    let event = |user_agent: &str| {
        let json = serde_json::json!({"request": {"headers": [["User-Agent", user_agent]]}});
        parse(&json.to_string())
    };
    let run = |mut event: Annotated<Event>| {
        if let Some(event) = event.value_mut() {
            normalize_user_agent(event);
        }
        event
    };
    // Compiles the regexes outside the measurements.
    run(event(CHROME));

    let mut group = criterion.benchmark_group("user_agent");
    let cached = event(CHROME);
    group.bench_function("cached", |bencher| {
        bencher.iter_batched(|| cached.clone(), run, BatchSize::SmallInput)
    });
    let mut counter = 0u64;
    group.bench_function("uncached", |bencher| {
        bencher.iter_batched(
            || {
                counter += 1;
                event(&format!("{CHROME} n/{counter}"))
            },
            run,
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn benches(criterion: &mut Criterion) {
    bench_event(criterion, "error_event_6_6kb", ERROR_EVENT);
    bench_event(criterion, "transaction_10_spans", TRANSACTION_EVENT);
    bench_event(criterion, "native_event_58kb", NATIVE_EVENT);
    bench_user_agent(criterion);
}

criterion_group!(normalize_benches, benches);
criterion_main!(normalize_benches);
