//! Invariant checks for fuzzing the event parser, shared by the cargo-fuzz target
//! `fuzz/fuzz_targets/event.rs` and the deterministic "fuzz test mode" unit test below (which
//! the test command runs).
//!
//! Unlike the rest of the crate [`fuzz_event`] *does* panic — on a violated invariant, which is
//! how a fuzzer notices a bug. On any input the parser itself must return normally: lenient
//! parsing never fails, it turns what does not fit into `null` with meta.
//!
//! Invariants, for any bytes:
//! * the streaming parser ([`from_json_slice`]) accepts exactly the inputs `serde_json` parses
//!   into a `serde_json::Value`, and yields the same event as the reference path
//!   ([`from_json`] on that value);
//! * parsing into the typed [`Event`] and serializing (payload plus `_meta`) succeeds, and the
//!   streaming writer ([`to_json_vec`]) produces exactly the bytes of the reference
//!   ([`to_json`] then `serde_json::to_vec`);
//! * that output parsed and serialized again is identical (a fixed point): nothing the first
//!   pass produced is lost or reinterpreted by the second, including the `_meta` tree. The one
//!   exception is Sentry's: a `values` wrapper (`exception`, `breadcrumbs`, `threads`) whose
//!   list has nothing to write is written without `values` (normalization.md §11), so `{}`
//!   parses back as absent and `{"x": 1}` as a single element.
//!
//! Memory stays bounded because `serde_json` refuses input nested deeper than 128 levels before
//! the model sees it (in both parsers), and the model keeps at most one copy of each original
//! value.

use crate::schema::Event;
use crate::{from_json, from_json_slice, to_json, to_json_vec, Annotated};

/// Parses `data` as an event and checks the invariants of the module docs.
pub fn fuzz_event(data: &[u8]) {
    let reference = serde_json::from_slice::<serde_json::Value>(data);
    let streamed = from_json_slice::<Event>(data);
    let (json, event) = match (reference, streamed) {
        (Ok(json), Ok(event)) => (json, event),
        (Err(_), Err(_)) => return,
        (Ok(_), Err(error)) => panic!(
            "the streaming parser rejects valid JSON: {error}\ninput: {}",
            String::from_utf8_lossy(data)
        ),
        (Err(error), Ok(_)) => panic!(
            "the streaming parser accepts invalid JSON ({error})\ninput: {}",
            String::from_utf8_lossy(data)
        ),
    };
    let reference_event: Annotated<Event> = from_json(json);
    if event != reference_event {
        panic!(
            "the streaming parser differs from the reference\ninput: {}",
            String::from_utf8_lossy(data)
        );
    }
    let first = match to_json(&event) {
        Ok(first) => first,
        Err(error) => panic!("a parsed event does not serialize: {error}"),
    };
    let bytes = match to_json_vec(&event) {
        Ok(bytes) => bytes,
        Err(error) => panic!("a parsed event does not serialize (streaming): {error}"),
    };
    let reference_bytes = serde_json::to_vec(&first).unwrap_or_default();
    if bytes != reference_bytes {
        panic!(
            "the streaming writer differs from the reference:\n{}\n{}",
            String::from_utf8_lossy(&bytes),
            String::from_utf8_lossy(&reference_bytes)
        );
    }
    let mut first = first;
    drop_values_wrappers_without_values(&mut first);
    let reparsed: Annotated<Event> = from_json(first.clone());
    let second = match to_json(&reparsed) {
        Ok(second) => second,
        Err(error) => panic!("a reparsed event does not serialize: {error}"),
    };
    if first != second {
        panic!(
            "parse → serialize is not a fixed point: {}\ninput: {}",
            first_difference("", &first, &second),
            String::from_utf8_lossy(data)
        );
    }
}

/// Removes the `values` wrappers (`exception`, `breadcrumbs`, `threads`) written without
/// `values` from a serialized event: they parse back differently (see the module docs), so
/// fixed-point checks leave them out.
pub fn drop_values_wrappers_without_values(event: &mut serde_json::Value) {
    let Some(event) = event.as_object_mut() else {
        return;
    };
    // `retain` keeps the order of the other keys (`remove` would move the last key here).
    event.retain(|key, value| {
        let is_wrapper = matches!(key.as_str(), "exception" | "breadcrumbs" | "threads");
        let without_values = value
            .as_object()
            .is_some_and(|wrapper| !wrapper.contains_key("values"));
        !(is_wrapper && without_values)
    });
}

/// The path of the first place where `a` and `b` differ, with both values there.
fn first_difference(path: &str, a: &serde_json::Value, b: &serde_json::Value) -> String {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(a_map), Value::Object(b_map)) => {
            for (key, a_value) in a_map {
                match b_map.get(key) {
                    Some(b_value) if a_value == b_value => {}
                    Some(b_value) => {
                        return first_difference(&format!("{path}.{key}"), a_value, b_value)
                    }
                    None => return format!("{path}.{key}: {a_value} became absent"),
                }
            }
            match b_map.keys().find(|key| !a_map.contains_key(*key)) {
                Some(key) => format!("{path}.{key}: absent became {}", b_map[key]),
                None => format!("{path}: key order"),
            }
        }
        (Value::Array(a_items), Value::Array(b_items)) if a_items.len() == b_items.len() => {
            let index = a_items
                .iter()
                .zip(b_items)
                .position(|(a_item, b_item)| a_item != b_item)
                .unwrap_or(0);
            first_difference(&format!("{path}.{index}"), &a_items[index], &b_items[index])
        }
        _ => format!("{path}: {a} became {b}"),
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use serde_json::{json, Value};

    use super::*;

    /// Fixed, so a failure reproduces.
    const RNG_SEED: u64 = 0x5eed_e7e7;
    /// Mutated inputs per run (each a few structural or byte mutations of a seed).
    const GENERATED_INPUTS: usize = 3000;

    /// The sample events of `shared/corpus/sentry-samples` (beside the repository).
    const CORPUS_DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/sentry-samples"
    );

    fn seeds() -> Vec<Value> {
        let mut seeds: Vec<Value> = std::fs::read_dir(CORPUS_DIR)
            .unwrap_or_else(|error| panic!("the sample corpus {CORPUS_DIR} is missing: {error}"))
            .map(|entry| entry.expect("readable corpus entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .map(|path| {
                let text = std::fs::read(&path).expect("readable sample");
                serde_json::from_slice(&text).expect("sample is JSON")
            })
            .collect();
        seeds.push(json!({}));
        seeds.push(json!({"_meta": {"level": {"": {"err": ["invalid_data"]}}}, "level": null}));
        seeds.push(json!({"exception": [{"type": 1, "stacktrace": {"frames": [null, 1]}}]}));
        seeds
    }

    /// Replacement values that probe every coercion of the lenient parser.
    fn palette(rng: &mut StdRng) -> Value {
        match rng.gen_range(0..16) {
            0 => Value::Null,
            1 => json!(true),
            2 => json!(-1),
            3 => json!(u64::MAX),
            4 => json!(1e300),
            5 => json!(0.5),
            6 => json!(""),
            7 => json!("x".repeat(rng.gen_range(0..20_000))),
            8 => json!([]),
            9 => json!({}),
            10 => json!("2020-01-01T00:00:00Z"),
            11 => json!("9ec79c33-ec99-42ab-8353-589fcb2e04dc"),
            12 => json!({"values": null}),
            13 => json!([[1, 2], ["a", "b"], null]),
            14 => {
                let mut nested = json!("leaf");
                for _ in 0..rng.gen_range(1..60) {
                    nested = json!([nested]);
                }
                nested
            }
            _ => json!({"type": "os", "name": {"nested": [1]}}),
        }
    }

    /// Replaces one random node of `value` (or inserts a random key into an object).
    fn mutate_node(rng: &mut StdRng, value: &mut Value, depth: usize) {
        let descend = depth < 8 && rng.gen_bool(0.75);
        match value {
            Value::Object(object) if descend && !object.is_empty() => {
                let index = rng.gen_range(0..object.len());
                let key = object.keys().nth(index).cloned().expect("index in range");
                if let Some(child) = object.get_mut(&key) {
                    mutate_node(rng, child, depth + 1);
                }
            }
            Value::Array(array) if descend && !array.is_empty() => {
                let index = rng.gen_range(0..array.len());
                mutate_node(rng, &mut array[index], depth + 1);
            }
            Value::Object(object) if rng.gen_bool(0.3) => {
                let keys = [
                    "level",
                    "timestamp",
                    "contexts",
                    "tags",
                    "user",
                    "other",
                    "_meta",
                ];
                let key = keys[rng.gen_range(0..keys.len())];
                object.insert(key.to_owned(), palette(rng));
            }
            _ => *value = palette(rng),
        }
    }

    /// A structurally mutated seed, or (one in five) its bytes with a random byte flipped.
    fn generated_input(rng: &mut StdRng, seeds: &[Value]) -> Vec<u8> {
        let mut value = seeds[rng.gen_range(0..seeds.len())].clone();
        for _ in 0..rng.gen_range(1..4) {
            mutate_node(rng, &mut value, 0);
        }
        let mut bytes = serde_json::to_vec(&value).expect("JSON serializes");
        if rng.gen_range(0..5) == 0 && !bytes.is_empty() {
            let index = rng.gen_range(0..bytes.len());
            bytes[index] ^= 1 << rng.gen_range(0..8);
        }
        bytes
    }

    #[test]
    fn fuzz_test_mode_events() {
        let seeds = seeds();
        assert!(seeds.len() > 10, "the corpus seeds the run");
        for seed in &seeds {
            fuzz_event(&serde_json::to_vec(seed).expect("JSON serializes"));
        }
        let mut rng = StdRng::seed_from_u64(RNG_SEED);
        for _ in 0..GENERATED_INPUTS {
            fuzz_event(&generated_input(&mut rng, &seeds));
        }
    }

    #[test]
    fn garbage_and_deep_nesting_are_handled() {
        fuzz_event(b"");
        fuzz_event(b"\xff\xfe");
        fuzz_event(b"[]");
        fuzz_event(b"\"event\"");
        // Deeper than serde_json's recursion limit: refused before the model sees it.
        let deep = format!(
            "{{\"extra\":{{\"a\":{}{}}}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        fuzz_event(deep.as_bytes());
    }
}
