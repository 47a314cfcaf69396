//! Item containers (envelope.md §5): one envelope item whose JSON payload holds an `items`
//! array of span-like entries (spans, logs, trace metrics), plus metadata such as
//! `ingest_settings`.
//!
//! Invariant: a declared `item_count` must equal the number of entries, else the whole
//! container is rejected.

use relay_protocol::envelope::Item;
use serde_json::{Map, Value};

/// Why an item container cannot be expanded.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContainerError {
    /// The payload is not a JSON object with an `items` array.
    #[error("container is not a JSON object with an items array")]
    InvalidJson,
    /// `item_count` differs from the number of entries.
    #[error("container declares {declared} items but has {actual}")]
    CountMismatch { declared: u64, actual: usize },
}

/// An expanded item container (envelope.md §5).
#[derive(Debug)]
pub struct Container {
    /// The entries, with their JSON sizes in bytes.
    pub entries: Vec<(Value, usize)>,
    /// The other top-level keys (`version`, `ingest_settings`, …).
    pub metadata: Map<String, Value>,
}

/// Expands a container item; `item_count`, when declared, must match exactly.
pub fn parse_container(item: &Item) -> Result<Container, ContainerError> {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(item.payload_slice())
    else {
        return Err(ContainerError::InvalidJson);
    };
    let Some(Value::Array(items)) = object.remove("items") else {
        return Err(ContainerError::InvalidJson);
    };
    if let Some(declared) = item.item_count() {
        if usize::try_from(declared).ok() != Some(items.len()) {
            return Err(ContainerError::CountMismatch {
                declared,
                actual: items.len(),
            });
        }
    }
    let entries = items
        .into_iter()
        .map(|entry| {
            // Serializing a parsed value cannot fail; the size is what the entry weighs.
            let size = serde_json::to_vec(&entry).map_or(0, |bytes| bytes.len());
            (entry, size)
        })
        .collect();
    Ok(Container {
        entries,
        metadata: object,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::process;
    use super::super::tests::{harness, v2_span};
    use relay_protocol::DataCategory;

    #[test]
    fn container_count_must_match() {
        let payload = json!({"items": [v2_span("eee19b7ec3c1b175")]}).to_string();
        let item = format!(
            "{{\"type\":\"span\",\"content_type\":\"application/vnd.sentry.items.span.v2+json\",\"item_count\":2,\"length\":{}}}\n{}\n",
            payload.len(),
            payload
        );
        let mut harness = harness(&item, &[]);
        harness.run(process);
        assert!(harness.spans().is_empty());
        assert!(harness.outcome_reasons().contains(&(
            "invalid_span".to_owned(),
            DataCategory::Span,
            2
        )));
    }
}
