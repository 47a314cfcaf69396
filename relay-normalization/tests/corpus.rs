//! Every sample event of `shared/corpus/sentry-samples` (beside the repository) through
//! `normalize_event` with every option on: no panic on real-world input, and the output is a
//! fixed point of renormalization (normalization.md §12: normalizing an already normalized
//! event in renormalize mode changes nothing), apart from `values` wrappers written without
//! `values` (normalization.md §11), which parse back differently in Sentry as here.

use relay_event::fuzzing::drop_values_wrappers_without_values;
use relay_event::schema::Event;
use relay_event::{
    from_json, from_json_slice, to_json, to_json_string, to_json_vec, Annotated, Timestamp,
};
use relay_normalization::{normalize_event, NormalizationConfig};

const CORPUS_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/corpus/sentry-samples"
);

fn full_config() -> NormalizationConfig {
    NormalizationConfig {
        enable_trimming: true,
        received_at: Timestamp::from_seconds(1_704_067_200.0).ok(),
        sent_at: Timestamp::from_seconds(1_704_060_000.0).ok(),
        max_secs_in_past: Some(30 * 24 * 3600),
        max_secs_in_future: Some(60),
        client_ip: "10.1.2.3".parse().ok(),
        infer_ip_address: true,
        project_id: Some(42),
        key_id: Some(7),
        protocol_version: Some(7),
        normalize_user_agent: true,
        ..NormalizationConfig::default()
    }
}

#[test]
fn corpus_normalizes_and_renormalizes_to_a_fixed_point() {
    let mut paths: Vec<_> = std::fs::read_dir(CORPUS_DIR)
        .unwrap_or_else(|error| panic!("the sample corpus {CORPUS_DIR} is missing: {error}"))
        .map(|entry| entry.expect("readable corpus entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() > 10, "the corpus has samples");
    let mut normalized = 0;
    for path in &paths {
        let text = std::fs::read(path).expect("readable sample");
        let json: serde_json::Value = serde_json::from_slice(&text).expect("sample is JSON");
        let mut event: Annotated<Event> = from_json(json);
        if normalize_event(&mut event, &full_config()).is_err() {
            continue; // a rejected transaction; the rejection itself is tested elsewhere
        }
        normalized += 1;
        let mut first = to_json(&event).expect("normalized event serializes");
        drop_values_wrappers_without_values(&mut first);

        let mut again: Annotated<Event> = from_json(first.clone());
        // Renormalizing a stored event: no envelope, so no `sent_at` and no client.
        let renormalize = NormalizationConfig {
            is_renormalize: true,
            enable_trimming: true,
            ..NormalizationConfig::default()
        };
        normalize_event(&mut again, &renormalize).unwrap_or_else(|error| {
            panic!("{}: renormalization rejected: {error}", path.display())
        });
        let second = to_json(&again).expect("renormalized event serializes");
        assert_eq!(
            first,
            second,
            "{}: renormalization changed the event",
            path.display()
        );
    }
    assert!(normalized > paths.len() / 2, "most samples normalize");
}

/// A few sharp inputs aimed at the slicing code (remark ranges from incoming `_meta`, loggers,
/// transaction names, cookies): normalization must not panic on any of them.
#[test]
fn hostile_values_do_not_panic() {
    let inputs = [
        serde_json::json!({
            "culprit": "ä".repeat(300),
            "_meta": {"culprit": {"": {"rem": [["x", "s", 1, 9999], ["y", "s", 3, 1], ["z", "x", 1, 2]]}}}
        }),
        serde_json::json!({"platform": "java", "logger": "é.".repeat(200)}),
        serde_json::json!({"type": "transaction", "transaction": "/ä/12/€€/0x", "transaction_info": {"source": "url"},
            "start_timestamp": 1_704_067_100.0, "timestamp": 1_704_067_150.0,
            "contexts": {"trace": {"trace_id": "a".repeat(32), "span_id": "b".repeat(16)}}}),
        serde_json::json!({"request": {"url": "http://x/ä?a=%ff&b#frag…", "cookies": "a=1; ;=; b", "method": "ä"}}),
        serde_json::json!({"logentry": {"message": "%s %5$s %", "params": [1]}}),
        serde_json::json!({"exception": {"values": [{"stacktrace": {"frames": vec![serde_json::json!({}); 300]}}]}}),
    ];
    for input in inputs {
        let mut event: Annotated<Event> = from_json(input);
        let _ = normalize_event(&mut event, &full_config());
        to_json(&event).expect("normalized event serializes");
    }
}

/// The streaming parser and writer of `relay_event` (`from_json_slice`, `to_json_vec`) against
/// the reference paths through a `serde_json::Value` (`from_json`, `to_json`): the same event
/// from every sample, and the same bytes for the parsed and for the normalized event (which
/// carries `_meta`), also for the sample's own output parsed back (its `_meta` attached).
#[test]
fn corpus_streaming_parse_and_write_match_the_reference() {
    let mut paths: Vec<_> = std::fs::read_dir(CORPUS_DIR)
        .unwrap_or_else(|error| panic!("the sample corpus {CORPUS_DIR} is missing: {error}"))
        .map(|entry| entry.expect("readable corpus entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() > 10, "the corpus has samples");
    let reference_bytes = |event: &Annotated<Event>| {
        serde_json::to_vec(&to_json(event).expect("reference serializes")).expect("JSON")
    };
    let mut with_meta = 0;
    for path in &paths {
        let name = path.display();
        let text = std::fs::read(path).expect("readable sample");
        let json: serde_json::Value = serde_json::from_slice(&text).expect("sample is JSON");
        let reference: Annotated<Event> = from_json(json);
        let mut event: Annotated<Event> = from_json_slice(&text).expect("sample parses");
        assert_eq!(event, reference, "{name}: parsed events differ");
        let bytes = to_json_vec(&event).expect("serializes");
        assert_eq!(
            bytes,
            reference_bytes(&event),
            "{name}: written bytes differ"
        );

        let _ = normalize_event(&mut event, &full_config());
        let bytes = to_json_vec(&event).expect("normalized event serializes");
        assert_eq!(
            bytes,
            reference_bytes(&event),
            "{name}: normalized bytes differ"
        );
        with_meta += usize::from(event.has_meta());

        let mut output: serde_json::Value = serde_json::from_slice(&bytes).expect("output is JSON");
        drop_values_wrappers_without_values(&mut output);
        let bytes = serde_json::to_vec(&output).expect("JSON");
        let reparsed: Annotated<Event> = from_json_slice(&bytes).expect("output parses");
        let reference: Annotated<Event> = from_json(output);
        assert_eq!(reparsed, reference, "{name}: reparsed events differ");
        assert_eq!(
            to_json_string(&reparsed).expect("serializes").into_bytes(),
            bytes,
            "{name}: output does not round-trip"
        );
    }
    assert!(with_meta > 5, "the normalized samples exercise `_meta`");
}
