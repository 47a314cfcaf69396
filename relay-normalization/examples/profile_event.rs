//! Runs one phase of the store path (parse, normalize, serialize, or all three) on a benchmark
//! fixture N times, for instruction-count profiling (`valgrind --tool=callgrind`, `perf`): on a
//! shared machine, instruction counts compare before/after where wall times are noise.
//!
//! ```sh
//! cargo build --release -p relay-normalization --example profile_event
//! valgrind --tool=callgrind target/release/examples/profile_event total error 200
//! ```
//!
//! Arguments:
//!
//! 1. phase: `parse`, `normalize`, `serialize` or `total`; `print` writes the normalized
//!    fixture once;
//! 2. fixture: `error`, `transaction` or `native`;
//! 3. iterations (default 1000);
//! 4. config: `bench` (the default) is the one of `benches/normalize.rs`; `server` adds the
//!    knobs the processing pipeline turns on (trimming, span and user agent normalization,
//!    timestamp limits).
//!
//! Same allocator as the bench.

use std::hint::black_box;
use std::process::ExitCode;

use relay_event::schema::Event;
use relay_event::{from_json_str, to_json_string, Annotated, Timestamp};
use relay_normalization::{normalize_event, NormalizationConfig};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ERROR_EVENT: &str = include_str!("../benches/fixtures/error_event.json");
const TRANSACTION_EVENT: &str = include_str!("../benches/fixtures/transaction_event.json");
const NATIVE_EVENT: &str = include_str!("../benches/fixtures/native_event.json");

/// The bench's `received_at`: one second after the fixtures' timestamps.
const RECEIVED_AT: f64 = 1_700_000_001.0;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let phase = args.get(1).map_or("total", String::as_str);
    let text = match args.get(2).map_or("error", String::as_str) {
        "error" => ERROR_EVENT,
        "transaction" => TRANSACTION_EVENT,
        "native" => NATIVE_EVENT,
        other => {
            eprintln!("unknown fixture {other}");
            return ExitCode::FAILURE;
        }
    };
    let iterations: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(1000);
    let Ok(received_at) = Timestamp::from_seconds(RECEIVED_AT) else {
        eprintln!("bad received_at");
        return ExitCode::FAILURE;
    };
    let config = match args.get(4).map_or("bench", String::as_str) {
        "bench" => NormalizationConfig {
            received_at: Some(received_at),
            ..NormalizationConfig::default()
        },
        // The knobs relay-server's processing pipeline turns on (services/normalization.rs).
        "server" => NormalizationConfig {
            received_at: Some(received_at),
            enable_trimming: true,
            normalize_spans: true,
            normalize_user_agent: true,
            max_secs_in_past: Some(90 * 86_400),
            max_secs_in_future: Some(60),
            project_id: Some(42),
            key_id: Some(1),
            protocol_version: Some(7),
            ..NormalizationConfig::default()
        },
        other => {
            eprintln!("unknown config {other}");
            return ExitCode::FAILURE;
        }
    };
    let Ok(parsed) = from_json_str::<Event>(text) else {
        eprintln!("fixture does not parse");
        return ExitCode::FAILURE;
    };
    let mut normalized = parsed.clone();
    if let Err(error) = normalize_event(&mut normalized, &config) {
        eprintln!("fixture is rejected: {error}");
        return ExitCode::FAILURE;
    }

    if phase == "print" {
        // The normalized fixture, to see what the phases work on.
        return match to_json_string(&normalized) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("cannot serialize: {error}");
                ExitCode::FAILURE
            }
        };
    }

    for _ in 0..iterations {
        match phase {
            "parse" => {
                black_box(from_json_str::<Event>(black_box(text)).is_ok());
            }
            "normalize" => {
                let mut event: Annotated<Event> = parsed.clone();
                black_box(normalize_event(&mut event, black_box(&config)).is_ok());
                black_box(event);
            }
            "serialize" => {
                black_box(to_json_string(black_box(&normalized)).is_ok());
            }
            "total" => {
                let Ok(mut event) = from_json_str::<Event>(black_box(text)) else {
                    return ExitCode::FAILURE;
                };
                let result = normalize_event(&mut event, black_box(&config));
                black_box((result.is_ok(), to_json_string(&event).is_ok()));
            }
            other => {
                eprintln!("unknown phase {other}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
