//! Stack frame limits (normalization.md §8.3), part of trimming.
//!
//! For every stack trace of the event, its exceptions and its threads, raw ones included:
//!
//! 1. more than 250 frames: the first 50 and the last 200 are kept and `len` on `frames`
//!    records the original count;
//! 2. more than 50 frames then: frame data is slimmed. With `A` in-app frames (`in_app:
//!    true`), `S` system frames (all others) and `total` frames, `s = max(50 − A, 0) / 2`;
//!    the system frames at positions `s..S − s` (counted among system frames) are slimmed;
//!    `r = total − 50 − slimmed system frames` (saturating), `a = max(A − r, 0) / 2`, and the
//!    in-app frames at positions `a..A − a` are slimmed. The last frame is never slimmed.
//!    Slimming removes `vars`, `pre_context` and `post_context` without meta.
//!
//! The verified example of normalization.md §8.3 names the kept in-app tail as f200–f248;
//! `StoreNormalizer` 0.10.1 keeps f250–f298 for that input, which is what the algorithm above
//! gives and what is implemented (see the test).

use relay_event::schema::{Event, Frame, Stacktrace};
use relay_event::Annotated;

/// Frames kept at most.
const MAX_FRAMES: usize = 250;
/// Of those, kept from the start (the rest from the end).
const KEPT_AT_START: usize = 50;
/// Frames above which frame data is slimmed.
const SLIM_ALLOWANCE: usize = 50;

fn slim(frame: &mut Annotated<Frame>) {
    if let Some(frame) = frame.value_mut() {
        frame.vars = Annotated::empty();
        frame.pre_context = Annotated::empty();
        frame.post_context = Annotated::empty();
    }
}

/// Step 2 on a list of frames.
fn slim_frame_data(frames: &mut [Annotated<Frame>]) {
    let total = frames.len();
    if total <= SLIM_ALLOWANCE {
        return;
    }
    let (app, system): (Vec<usize>, Vec<usize>) = (0..total).partition(|&i| {
        frames[i]
            .value()
            .and_then(|f| f.in_app.value().copied())
            .unwrap_or(false)
    });
    let mut slimmed: Vec<usize> = Vec::new();
    let s = SLIM_ALLOWANCE.saturating_sub(app.len()) / 2;
    let system_range = s..system.len().saturating_sub(s);
    let slimmed_system = system_range.len();
    slimmed.extend(system.get(system_range).unwrap_or_default());
    let r = total.saturating_sub(SLIM_ALLOWANCE + slimmed_system);
    let a = app.len().saturating_sub(r) / 2;
    slimmed.extend(app.get(a..app.len().saturating_sub(a)).unwrap_or_default());
    for index in slimmed {
        if index + 1 != total {
            slim(&mut frames[index]);
        }
    }
}

/// Both limits on one stack trace.
pub fn limit_stacktrace(stacktrace: &mut Annotated<Stacktrace>) {
    let Some(frames) = stacktrace.value_mut().as_mut().map(|s| &mut s.frames) else {
        return;
    };
    let (Some(list), meta) = frames.pair_mut() else {
        return;
    };
    let count = list.len();
    if count > MAX_FRAMES {
        list.drain(KEPT_AT_START..count - (MAX_FRAMES - KEPT_AT_START));
        if meta.original_length().is_none() {
            meta.set_original_length(count);
        }
    }
    slim_frame_data(list);
}

/// §8.3 on every stack trace of the event.
pub fn limit_frames(event: &mut Event) {
    crate::util::for_each_stacktrace(event, true, limit_stacktrace);
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn frames(count: usize, in_app: impl Fn(usize) -> bool) -> serde_json::Value {
        (0..count)
            .map(|i| json!({"function": format!("f{i}"), "in_app": in_app(i), "vars": {"a": 1}}))
            .collect()
    }

    fn run(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        if let Some(event) = event.value_mut() {
            limit_frames(event);
        }
        to_json(&event).unwrap_or_default()
    }

    /// The functions of the output frames that kept their `vars`, and all functions.
    fn with_vars(frames: &serde_json::Value) -> (Vec<String>, Vec<String>) {
        let list = frames.as_array().cloned().unwrap_or_default();
        let name = |f: &serde_json::Value| f["function"].as_str().unwrap_or_default().to_owned();
        let kept = list.iter().filter(|f| f.get("vars").is_some()).map(name);
        (kept.collect(), list.iter().map(name).collect())
    }

    #[test]
    fn verified_example_300_alternating_frames() {
        // §8.3: 300 frames alternating in-app (even) / system (odd); output of
        // StoreNormalizer 0.10.1 (see the module docs for the spec's f200–f248).
        let output = run(json!({"stacktrace": {"frames": frames(300, |i| i % 2 == 0)}}));
        assert_eq!(
            output["_meta"],
            json!({"stacktrace": {"frames": {"": {"len": 300}}}})
        );
        let (kept, all) = with_vars(&output["stacktrace"]["frames"]);
        let expected_all: Vec<String> = (0..50).chain(100..300).map(|i| format!("f{i}")).collect();
        assert_eq!(all, expected_all);
        let expected_kept: Vec<String> = (0..50)
            .step_by(2)
            .chain((250..300).step_by(2))
            .chain([299])
            .map(|i| format!("f{i}"))
            .collect();
        assert_eq!(kept, expected_kept);
    }

    #[test]
    fn system_frames_are_slimmed_from_the_middle() {
        // 60 system frames: s = 25, system positions 25..35 slimmed; r = 0, no in-app.
        let output = run(json!({"exception": {"values": [{"type": "E",
            "raw_stacktrace": {"frames": frames(60, |_| false)}}]}}));
        let (kept, all) = with_vars(&output["exception"]["values"][0]["raw_stacktrace"]["frames"]);
        assert_eq!(all.len(), 60);
        let expected: Vec<String> = (0..25).chain(35..60).map(|i| format!("f{i}")).collect();
        assert_eq!(kept, expected);
        assert!(output.get("_meta").is_none());
        // 50 frames are left alone.
        let input = json!({"stacktrace": {"frames": frames(50, |_| false)}});
        assert_eq!(run(input.clone()), input);
    }
}
