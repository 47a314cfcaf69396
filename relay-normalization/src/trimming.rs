//! Trimming (normalization.md §8.1, §8.2): string limits and databag budgets.
//!
//! **Strings (§8.1).** A string with more characters (Unicode scalar values) than
//! `max_chars + allowance` is cut to `max_chars` characters in total: characters are kept while
//! fewer than `max_chars − 3` are kept, then `...` is appended. The meta gets the remark
//! `["!limit", "s", start, end]` over the `...` (UTF-8 byte offsets into the new string) and
//! `len` = the original character count (unless a length is already recorded). Redactions of an
//! earlier rule (remarks with a range) are kept as whole units while
//! `kept + chunk length + 3 < max_chars + allowance`; the first one that does not fit is
//! dropped with everything after it.
//!
//! **Databags (§8.2).** A field whose attributes carry `max_bytes` / `max_depth` opens a budget
//! record (remaining bytes, opening depth, max depth) when it is entered. The entries of
//! `extra` additionally open a record of 16 384 bytes and depth 7 each, and every context (an
//! entry of `contexts`) one of 8192 bytes (the `flags` context 131 072) and depth 7: the
//! schema attributes cannot express a budget for the values of an object, so these are built
//! in (an equal budget from typed context attributes would not change the result). Then,
//! walking depth first, with the smallest remaining budget winning:
//!
//! 1. a value is deleted (no meta) when a remaining byte budget is 0 or the remaining depth
//!    (`max_depth − (depth − opening depth)`) is 0;
//! 2. a string is first limited by §8.1, then cut like §8.1 to the remaining byte budget read
//!    as a character count (allowance 0);
//! 3. a typed array or object at remaining depth 1 is deleted if it is non-empty; otherwise
//!    its children are processed in order and, when the byte budget is exhausted before a
//!    child, the rest is cut off and `len` = the original element count;
//! 4. a free-form array or object ([`Value`]) at remaining depth 1 is replaced by its compact
//!    JSON text, which is then trimmed as a string;
//! 5. after a value, its flat cost is subtracted from every open record: strings their byte
//!    length plus 2, numbers the length of their JSON text, `true` 4, `false` 5, `null` 4, any
//!    container 2 (its children were counted themselves), plus 1. Keys are not counted; a
//!    field's own record is closed before its cost is subtracted, so a bag's cost only counts
//!    against outer bags.
//!
//! `spans` has a byte budget but the spans themselves are not trimmed: below a span element
//! only the §8.1 limits apply; the list of spans is still cut when the budget is exhausted.

mod flat_cost;
use relay_event::{
    process_value, Annotated, Array, IntoValue, Meta, Object, ProcessValue, ProcessingAction,
    ProcessingResult, ProcessingState, Processor, Remark, RemarkType, Segment, Value,
};

/// The rule id of the trimming remark.
const LIMIT_RULE: &str = "!limit";
/// The `...` appended to a cut string.
const ELLIPSIS: &str = "...";
/// The byte budget of each `extra` entry (normalization.md §8.2).
const EXTRA_ENTRY_MAX_BYTES: usize = 16_384;
/// The depth budget of each `extra` entry (normalization.md §8.2).
const EXTRA_ENTRY_MAX_DEPTH: usize = 7;
/// The byte budget of each context (normalization.md §8.2).
const CONTEXT_MAX_BYTES: usize = 8192;
/// The byte budget of the `flags` context (normalization.md §8.2).
const FLAGS_CONTEXT_MAX_BYTES: usize = 131_072;
/// The depth budget of each context (normalization.md §8.2).
const CONTEXT_MAX_DEPTH: usize = 7;

/// One open budget.
#[derive(Clone, Copy, Debug)]
struct BagRecord {
    /// The depth of the field that opened it.
    opened_at: usize,
    /// Remaining bytes, if the record has a byte budget.
    remaining_bytes: Option<usize>,
    /// Maximum depth below the opening field, if the record has a depth budget.
    max_depth: Option<usize>,
}

/// The trimming pass of normalization.md §8.1 and §8.2 as a [`Processor`].
#[derive(Debug, Default)]
pub struct TrimmingProcessor {
    records: Vec<BagRecord>,
    /// The flat cost of the value just processed at a depth, set by the typed hooks.
    pending_cost: Option<(usize, usize)>,
}

impl TrimmingProcessor {
    /// A trimmer without open budgets.
    pub fn new() -> Self {
        TrimmingProcessor::default()
    }

    /// Closes records opened at `depth` or deeper (left over from a finished or deleted
    /// value).
    fn close_records(&mut self, depth: usize) {
        while self.records.last().is_some_and(|r| r.opened_at >= depth) {
            self.records.pop();
        }
    }

    /// The smallest remaining byte budget.
    fn remaining_bytes(&self) -> Option<usize> {
        self.records.iter().filter_map(|r| r.remaining_bytes).min()
    }

    /// The smallest remaining depth at `depth`.
    fn remaining_depth(&self, depth: usize) -> Option<usize> {
        self.records
            .iter()
            .filter_map(|r| {
                r.max_depth
                    .map(|max| max.saturating_sub(depth.saturating_sub(r.opened_at)))
            })
            .min()
    }

    /// Whether bag budgets apply at `state` (inside a budget, not inside a span).
    fn budgets_apply(&self, state: &ProcessingState<'_>) -> bool {
        !self.records.is_empty() && !inside_span(state)
    }

    fn set_cost(&mut self, state: &ProcessingState<'_>, cost: usize) {
        if !self.records.is_empty() {
            self.pending_cost = Some((state.depth(), cost));
        }
    }
}

/// Whether `state` is below an element of the top-level `spans` list. Walks up to the
/// top-level field instead of collecting the path: this runs for every value in a databag.
fn inside_span(state: &ProcessingState<'_>) -> bool {
    if state.depth() < 2 {
        return false;
    }
    let mut top_level = state;
    while top_level.depth() > 1 {
        match top_level.parent() {
            Some(parent) => top_level = parent,
            None => return false,
        }
    }
    matches!(top_level.segment(), Some(Segment::Key(key)) if key == "spans")
}

/// The built-in budget (bytes, depth) of an entry of the top-level `extra` or `contexts`.
fn entry_budget(state: &ProcessingState<'_>) -> Option<(usize, usize)> {
    if state.depth() != 2 {
        return None;
    }
    let parent = state.parent()?;
    match parent.path().key() {
        Some("extra") => Some((EXTRA_ENTRY_MAX_BYTES, EXTRA_ENTRY_MAX_DEPTH)),
        Some("contexts") if state.path().key() == Some("flags") => {
            Some((FLAGS_CONTEXT_MAX_BYTES, CONTEXT_MAX_DEPTH))
        }
        Some("contexts") => Some((CONTEXT_MAX_BYTES, CONTEXT_MAX_DEPTH)),
        _ => None,
    }
}

/// The flat JSON cost of a serialized value (without its children), see the module docs.
fn flat_cost(json: &serde_json::Value) -> usize {
    let size = match json {
        serde_json::Value::Null => 4,
        serde_json::Value::Bool(true) => 4,
        serde_json::Value::Bool(false) => 5,
        serde_json::Value::Number(n) => n.to_string().len(),
        serde_json::Value::String(s) => s.len() + 2,
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => 2,
    };
    size + 1
}

/// One piece of a string: plain text, or the text of an earlier redaction with its remark.
enum Chunk<'a> {
    Text(&'a str),
    Redaction(&'a str, Remark),
}

/// Splits `value` along the ranged remarks of `meta` (ignoring ranges that do not fit).
fn chunks<'a>(value: &'a str, meta: &Meta) -> Vec<Chunk<'a>> {
    let mut ranged: Vec<&Remark> = meta
        .remarks()
        .iter()
        .filter(|r| {
            r.range.is_some_and(|(start, end)| {
                start <= end && value.get(start..end).is_some() && r.rule_id != LIMIT_RULE
            })
        })
        .collect();
    ranged.sort_by_key(|r| r.range);
    let mut chunks = Vec::new();
    let mut position = 0;
    for remark in ranged {
        let Some((start, end)) = remark.range else {
            continue;
        };
        if start < position {
            continue; // overlapping ranges: keep the first
        }
        if start > position {
            chunks.push(Chunk::Text(&value[position..start]));
        }
        chunks.push(Chunk::Redaction(&value[start..end], remark.clone()));
        position = end;
    }
    if position < value.len() {
        chunks.push(Chunk::Text(&value[position..]));
    }
    chunks
}

/// Cuts `value` to `max_chars` characters if it has more than `max_chars + allowance`
/// (normalization.md §8.1); see the module docs.
pub fn trim_string(value: &mut String, meta: &mut Meta, max_chars: usize, allowance: usize) {
    let original_chars = value.chars().count();
    if original_chars <= max_chars.saturating_add(allowance) {
        return;
    }
    let keep = max_chars.saturating_sub(ELLIPSIS.len());
    let limit = max_chars.saturating_add(allowance);

    let mut result = String::with_capacity(value.len().min(max_chars * 4));
    let mut kept_remarks = Vec::new();
    let mut kept = 0;
    'chunks: for chunk in chunks(value, meta) {
        match chunk {
            Chunk::Text(text) => {
                for c in text.chars() {
                    if kept >= keep {
                        break 'chunks;
                    }
                    result.push(c);
                    kept += 1;
                }
            }
            Chunk::Redaction(text, remark) => {
                let length = text.chars().count();
                if kept + length + ELLIPSIS.len() >= limit {
                    break 'chunks;
                }
                let start = result.len();
                result.push_str(text);
                kept += length;
                kept_remarks.push(Remark {
                    range: Some((start, result.len())),
                    ..remark
                });
            }
        }
    }
    let start = result.len();
    result.push_str(ELLIPSIS);
    let range = (start, result.len());

    // Unranged remarks stay; ranged ones are replaced by those of the kept redactions.
    let unranged: Vec<Remark> = meta
        .remarks()
        .iter()
        .filter(|r| r.range.is_none())
        .cloned()
        .collect();
    meta.clear_remarks();
    for remark in unranged.into_iter().chain(kept_remarks) {
        meta.add_remark(remark);
    }
    meta.add_remark(Remark::with_range(
        RemarkType::Substituted,
        LIMIT_RULE,
        range,
    ));
    meta.set_original_length(original_chars);
    *value = result;
}

impl Processor for TrimmingProcessor {
    fn before_process<T: ProcessValue>(
        &mut self,
        value: Option<&T>,
        _meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let depth = state.depth();
        self.close_records(depth);
        if value.is_none() {
            return Ok(());
        }
        if self.budgets_apply(state)
            && (self.remaining_bytes() == Some(0) || self.remaining_depth(depth) == Some(0))
        {
            return Err(ProcessingAction::DeleteValueHard);
        }
        let attrs = state.attrs();
        if attrs.max_bytes.is_some() || attrs.max_depth.is_some() {
            self.records.push(BagRecord {
                opened_at: depth,
                remaining_bytes: attrs.max_bytes,
                max_depth: attrs.max_depth,
            });
        }
        if let Some((max_bytes, max_depth)) = entry_budget(state) {
            self.records.push(BagRecord {
                opened_at: depth,
                remaining_bytes: Some(max_bytes),
                max_depth: Some(max_depth),
            });
        }
        Ok(())
    }

    fn after_process<T: ProcessValue>(
        &mut self,
        value: Option<&T>,
        _meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let depth = state.depth();
        self.close_records(depth);
        let pending = self.pending_cost.take();
        if self.records.is_empty() {
            return Ok(());
        }
        let cost = match (value, pending) {
            // Missing struct fields are not written, so they cost nothing.
            (None, _) if state.attrs().name.is_some() => 0,
            (None, _) => flat_cost(&serde_json::Value::Null),
            (Some(_), Some((at, cost))) if at == depth => cost,
            // Structs, enums and timestamps: serialize the first level to learn their kind.
            (Some(value), _) => value
                .serialize_payload(flat_cost::FlatCost)
                .map_or(0, |cost| cost + flat_cost::SEPARATOR),
        };
        for record in &mut self.records {
            if let Some(remaining) = &mut record.remaining_bytes {
                *remaining = remaining.saturating_sub(cost);
            }
        }
        Ok(())
    }

    fn process_string(
        &mut self,
        value: &mut String,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let attrs = state.attrs();
        if let Some(max_chars) = attrs.max_chars {
            trim_string(value, meta, max_chars, attrs.max_chars_allowance);
        }
        if self.budgets_apply(state) {
            if let Some(remaining) = self.remaining_bytes() {
                trim_string(value, meta, remaining, 0);
            }
        }
        self.set_cost(state, value.len() + 2 + 1);
        Ok(())
    }

    fn process_array<T: ProcessValue>(
        &mut self,
        value: &mut Array<T>,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let applies = self.budgets_apply(state);
        if applies && self.remaining_depth(state.depth()) == Some(1) && !value.is_empty() {
            return Err(ProcessingAction::DeleteValueHard);
        }
        let original_len = value.len();
        for index in 0..original_len {
            if applies && self.remaining_bytes() == Some(0) {
                value.truncate(index);
                meta.set_original_length(original_len);
                break;
            }
            process_value(
                &mut value[index],
                self,
                &state.enter_index(index, state.inner_attrs()),
            )?;
        }
        self.set_cost(state, 2 + 1);
        Ok(())
    }

    fn process_object<T: ProcessValue>(
        &mut self,
        value: &mut Object<T>,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        let applies = self.budgets_apply(state);
        if applies && self.remaining_depth(state.depth()) == Some(1) && !value.is_empty() {
            return Err(ProcessingAction::DeleteValueHard);
        }
        let original_len = value.len();
        let mut cut_at = None;
        for (key, child) in value.iter_mut() {
            if applies && self.remaining_bytes() == Some(0) {
                cut_at = Some(key.clone());
                break;
            }
            process_value(child, self, &state.enter_borrowed(key, state.inner_attrs()))?;
        }
        if let Some(key) = cut_at {
            value.split_off(&key);
            meta.set_original_length(original_len);
        }
        self.set_cost(state, 2 + 1);
        Ok(())
    }

    fn process_untyped(
        &mut self,
        value: &mut Value,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        if matches!(value, Value::Array(_) | Value::Object(_))
            && self.budgets_apply(state)
            && self.remaining_depth(state.depth()) == Some(1)
        {
            let annotated = Annotated::new(std::mem::replace(value, Value::Bool(false)));
            let text = serde_json::to_string(&relay_event::SerializePayload(&annotated))
                .unwrap_or_default();
            *value = Value::String(text);
        }
        match value {
            Value::String(s) => self.process_string(s, meta, state),
            Value::Array(items) => self.process_array(items, meta, state),
            Value::Object(map) => self.process_object(map, meta, state),
            Value::Bool(_) | Value::I64(_) | Value::U64(_) | Value::F64(_) => {
                let json = value
                    .serialize_payload(serde_json::value::Serializer)
                    .unwrap_or(serde_json::Value::Null);
                self.set_cost(state, flat_cost(&json));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use relay_event::schema::Event;
    use relay_event::{from_json, process_value, to_json};
    use serde_json::json;

    use super::*;

    /// Compares without printing megabytes of `x` on failure.
    #[track_caller]
    fn assert_json(actual: serde_json::Value, expected: serde_json::Value) {
        let short = |v: &serde_json::Value| v.to_string().chars().take(600).collect::<String>();
        assert!(
            actual == expected,
            "actual:   {}\nexpected: {}",
            short(&actual),
            short(&expected)
        );
    }

    fn trim(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        let result = process_value(
            &mut event,
            &mut TrimmingProcessor::new(),
            &ProcessingState::root(),
        );
        assert_eq!(result, Ok(()));
        to_json(&event).unwrap_or_default()
    }

    fn x(n: usize) -> String {
        "x".repeat(n)
    }

    #[test]
    fn culprit_is_cut_to_200_characters() {
        // The example of §8.1.
        assert_json(
            trim(json!({"culprit": x(300)})),
            json!({"culprit": format!("{}...", x(197)), "_meta": {"culprit": {"": {
                "len": 300, "rem": [["!limit", "s", 197, 200]]}}}}),
        );
    }

    #[test]
    fn allowance_tolerates_longer_strings() {
        // `server_name`: 256 (+20).
        let output = trim(json!({"server_name": x(276)}));
        assert_json(output, json!({"server_name": x(276)}));
        assert_json(
            trim(json!({"server_name": x(277)})),
            json!({"server_name": format!("{}...", x(253)), "_meta": {"server_name": {"": {
                "len": 277, "rem": [["!limit", "s", 253, 256]]}}}}),
        );
        // Exactly at the limit: untouched.
        assert_json(trim(json!({"culprit": x(200)})), json!({"culprit": x(200)}));
    }

    #[test]
    fn limits_count_characters_and_ranges_are_bytes() {
        // `user.email`: 75 characters; `ü` is two bytes.
        let output = trim(json!({"user": {"email": "ü".repeat(80)}}));
        assert_json(
            output,
            json!({"user": {"email": format!("{}...", "ü".repeat(72))}, "_meta": {"user": {
                "email": {"": {"len": 80, "rem": [["!limit", "s", 144, 147]]}}}}}),
        );
    }

    #[test]
    fn tag_values_and_nested_limits() {
        assert_json(
            trim(json!({"tags": [["k", x(201)]],
                "exception": {"values": [{"type": x(300)}]}})),
            json!({"exception": {"values": [{"type": format!("{}...", x(253))}]},
                "tags": [["k", format!("{}...", x(197))]],
                "_meta": {
                    "exception": {"values": {"0": {"type": {"": {"len": 300,
                        "rem": [["!limit", "s", 253, 256]]}}}}},
                    "tags": {"0": {"1": {"": {"len": 201, "rem": [["!limit", "s", 197, 200]]}}}}}}),
        );
    }

    #[test]
    fn existing_redactions_are_kept_whole_when_they_fit() {
        let mut value = format!("{}[email]{}", x(10), x(300));
        let mut meta = Meta::default();
        meta.add_remark(Remark::with_range(
            RemarkType::Substituted,
            "@email",
            (10, 17),
        ));
        trim_string(&mut value, &mut meta, 200, 0);
        assert_eq!(value, format!("{}[email]{}...", x(10), x(180)));
        assert_eq!(
            meta.remarks(),
            [
                Remark::with_range(RemarkType::Substituted, "@email", (10, 17)),
                Remark::with_range(RemarkType::Substituted, "!limit", (197, 200)),
            ]
        );
        // A redaction that does not fit is dropped with the rest.
        let mut value = format!("{}[email]{}", x(193), x(10));
        let mut meta = Meta::default();
        meta.add_remark(Remark::with_range(
            RemarkType::Substituted,
            "@email",
            (193, 200),
        ));
        trim_string(&mut value, &mut meta, 200, 0);
        assert_eq!(value, format!("{}...", x(193)));
        assert_eq!(
            meta.remarks(),
            [Remark::with_range(
                RemarkType::Substituted,
                "!limit",
                (193, 196)
            )]
        );
    }

    #[test]
    fn deep_extra_becomes_json_text_at_the_last_level() {
        // The verified example of §8.2.
        assert_json(
            trim(json!({"extra": {"deep":
                {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}}})),
            json!({"extra": {"deep":
                {"a": {"b": {"c": {"d": {"e": "{\"f\":{\"g\":{\"h\":{\"i\":1}}}}"}}}}}}}),
        );
    }

    #[test]
    fn big_extra_entry_is_cut_to_its_budget() {
        // The verified example of §8.2.
        assert_json(
            trim(json!({"extra": {"big": x(20_000)}})),
            json!({"extra": {"big": format!("{}...", x(16_381))}, "_meta": {"extra": {"big": {
                "": {"len": 20_000, "rem": [["!limit", "s", 16_381, 16_384]]}}}}}),
        );
    }

    #[test]
    fn long_extra_array_is_cut_with_its_length() {
        // The verified example of §8.2: 159 strings cost 103 bytes each, leaving 7 bytes for
        // the 160th.
        let items: Vec<String> = (0..300).map(|_| x(100)).collect();
        let mut expected: Vec<serde_json::Value> = (0..159).map(|_| json!(x(100))).collect();
        expected.push(json!("xxxx..."));
        assert_json(
            trim(json!({"extra": {"arr": items}})),
            json!({"extra": {"arr": expected}, "_meta": {"extra": {"arr": {
                "": {"len": 300},
                "159": {"": {"len": 100, "rem": [["!limit", "s", 4, 7]]}}}}}}),
        );
    }

    #[test]
    fn breadcrumb_data_has_depth_five() {
        // Breadcrumb `data` has depth 5: the object at remaining depth 1 becomes JSON text.
        assert_json(
            trim(json!({"breadcrumbs": {"values": [{"data":
                {"a": {"b": {"c": {"d": {"e": 1}}}}}}]}})),
            json!({"breadcrumbs": {"values": [{"data":
                {"a": {"b": {"c": {"d": "{\"e\":1}"}}}}}]}}),
        );
    }

    #[test]
    fn exhausted_budget_deletes_following_values() {
        // `logentry.params`: 2048 bytes. 19 strings of 100 characters cost 103 each (1957),
        // the 20th gets 91 characters, the rest are cut off.
        let params: Vec<String> = (0..25).map(|_| x(100)).collect();
        let output = trim(json!({"logentry": {"message": "m", "params": params}}));
        let params = &output["logentry"]["params"];
        assert_eq!(params.as_array().map(Vec::len), Some(20));
        assert_eq!(params[19], json!(format!("{}...", x(88))));
        assert_eq!(
            output["_meta"]["logentry"]["params"][""],
            json!({"len": 25})
        );
    }

    #[test]
    fn values_outside_budgets_are_not_limited() {
        let input = json!({"platform": x(5000), "extra": {"a": x(300)}});
        assert_json(trim(input.clone()), input);
    }

    #[test]
    fn each_context_has_a_budget() {
        assert_json(
            trim(json!({"contexts": {"os": {"name": x(9000)}}})),
            json!({"contexts": {"os": {"name": format!("{}...", x(8189)), "type": "os"}}, "_meta": {
                "contexts": {"os": {"name": {"": {"len": 9000,
                    "rem": [["!limit", "s", 8189, 8192]]}}}}}}),
        );
    }
}
