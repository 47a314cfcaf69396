//! Exclusive time of spans (normalization.md §7 step 27, part of span normalization, on
//! transactions only): the time a span (or the transaction itself, through its trace context)
//! spent outside all of its direct children.
//!
//! For every span with both timestamps, its direct children are the spans whose
//! `parent_span_id` equals its `span_id`; the children's intervals are clipped to the parent's
//! interval and merged, and `exclusive_time` (milliseconds) is the parent's duration less the
//! merged length. The transaction's own interval (`start_timestamp`..`timestamp`) and trace
//! context `span_id` give `contexts.trace.exclusive_time` the same way, unless the trace
//! context already has one (spans' values are always recomputed). Children may extend
//! past their parent or start before it (clipped), overlap each other (merged), and spans
//! whose parent is unknown still get their own exclusive time. Spans without a timestamp or
//! span id are skipped. Matches `StoreNormalizer` 0.10.1 with `normalize_spans`.
//!
//! Durations are computed in whole microseconds (the timestamps' precision) so that sums are
//! exact, then written as float milliseconds.

use std::collections::HashMap;

use relay_event::schema::{Contexts, Event, EventType};
use relay_event::Timestamp;

type Interval = (i64, i64);

fn micros(t: &Timestamp) -> i64 {
    t.0.timestamp_micros()
}

/// The parent's length less the merged length of the children inside it, in ms.
fn exclusive_ms(parent: Interval, children: &[Interval]) -> f64 {
    let mut clipped: Vec<Interval> = children
        .iter()
        .map(|&(s, e)| (s.max(parent.0), e.min(parent.1)))
        .filter(|(s, e)| s < e)
        .collect();
    clipped.sort_unstable();
    let mut covered = 0;
    let mut current: Option<Interval> = None;
    for (start, end) in clipped {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                covered += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = current {
        covered += e - s;
    }
    (parent.1 - parent.0 - covered) as f64 / 1000.0
}

/// Sets `exclusive_time` on every span and on the trace context of a transaction.
pub fn compute_exclusive_time(event: &mut Event) {
    if event.ty.value() != Some(&EventType::Transaction) {
        return;
    }
    let mut children: HashMap<String, Vec<Interval>> = HashMap::new();
    if let Some(spans) = event.spans.value() {
        for span in spans.iter().filter_map(|s| s.value()) {
            let (Some(parent), Some(start), Some(end)) = (
                span.parent_span_id.value(),
                span.start_timestamp.value(),
                span.timestamp.value(),
            ) else {
                continue;
            };
            children
                .entry(parent.clone())
                .or_default()
                .push((micros(start), micros(end)));
        }
    }
    let no_children = Vec::new();

    if let Some(spans) = event.spans.value_mut() {
        for span in spans.iter_mut().filter_map(|s| s.value_mut().as_mut()) {
            let (Some(id), Some(start), Some(end)) = (
                span.span_id.value(),
                span.start_timestamp.value(),
                span.timestamp.value(),
            ) else {
                continue;
            };
            let own = children.get(id).unwrap_or(&no_children);
            let ms = exclusive_ms((micros(start), micros(end)), own);
            span.exclusive_time.set_value(Some(ms));
        }
    }

    let (Some(start), Some(end)) = (
        event.start_timestamp.value().map(micros),
        event.timestamp.value().map(micros),
    ) else {
        return;
    };
    let Some(trace) = event
        .contexts
        .value_mut()
        .as_mut()
        .and_then(Contexts::trace_mut)
    else {
        return;
    };
    // A value the client sent is kept (only span values are recomputed), as Sentry does.
    if trace.exclusive_time.value().is_some() {
        return;
    }
    let Some(id) = trace.span_id.value() else {
        return;
    };
    let own = children.get(id.as_str()).unwrap_or(&no_children);
    trace
        .exclusive_time
        .set_value(Some(exclusive_ms((start, end), own)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_and_merging() {
        assert_eq!(exclusive_ms((0, 10_000), &[]), 10.0);
        assert_eq!(
            exclusive_ms((0, 10_000), &[(1000, 3000), (2000, 4000)]),
            7.0
        );
        assert_eq!(
            exclusive_ms((0, 10_000), &[(-5000, 1000), (9000, 20_000)]),
            8.0
        );
        assert_eq!(exclusive_ms((0, 10_000), &[(20_000, 30_000)]), 10.0);
        assert_eq!(exclusive_ms((0, 10_000), &[(0, 10_000), (1, 2)]), 0.0);
    }

    /// StoreNormalizer 0.10.1 keeps a trace context `exclusive_time` the client sent and
    /// recomputes every span's.
    #[test]
    fn a_sent_trace_value_is_kept_span_values_are_recomputed() {
        let mut event: relay_event::Annotated<Event> = relay_event::from_json(serde_json::json!({
            "type": "transaction", "start_timestamp": 100.0, "timestamp": 110.0,
            "contexts": {"trace": {"trace_id": "b".repeat(32), "span_id": "a".repeat(16), "exclusive_time": 5}},
            "spans": [{"span_id": "c".repeat(16), "parent_span_id": "a".repeat(16), "trace_id": "b".repeat(32),
                "start_timestamp": 101.0, "timestamp": 103.0, "exclusive_time": 7}]
        }));
        if let Some(event) = event.value_mut() {
            compute_exclusive_time(event);
        }
        let output = relay_event::to_json(&event).unwrap_or_default();
        assert_eq!(output["contexts"]["trace"]["exclusive_time"], 5.0);
        assert_eq!(output["spans"][0]["exclusive_time"], 2000.0);
    }
}
