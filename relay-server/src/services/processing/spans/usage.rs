//! Span usage buckets (§3.12): one `c:spans/usage@none` counter per (`is_segment`,
//! `was_transaction`) combination. The metrics aggregator turns them into the `accepted`
//! outcome for `span`, so every span that counts as accepted must be in exactly one bucket.

use std::collections::BTreeMap;

use crate::services::metrics::{
    Bucket, BucketValue, ProjectBucket, IS_SEGMENT_TAG, SPAN_USAGE_METRIC,
};
use crate::services::processing::ProcessingContext;

/// Span usage per (`is_segment`, `was_transaction`) tag combination.
#[derive(Debug, Default)]
pub(super) struct UsageCounts(BTreeMap<(bool, bool), usize>);

impl UsageCounts {
    /// Counts one span.
    pub(super) fn add(&mut self, is_segment: bool, was_transaction: bool) {
        *self.0.entry((is_segment, was_transaction)).or_default() += 1;
    }

    /// One `c:spans/usage@none` bucket per tag combination, at the receive time.
    pub(super) fn into_buckets(self, context: &ProcessingContext) -> Vec<ProjectBucket> {
        let received = context.received_at.timestamp();
        self.0
            .into_iter()
            .map(|((is_segment, was_transaction), count)| {
                let mut tags = BTreeMap::new();
                tags.insert(IS_SEGMENT_TAG.to_owned(), is_segment.to_string());
                if was_transaction {
                    tags.insert("was_transaction".to_owned(), "true".to_owned());
                }
                ProjectBucket {
                    scoping: context.scoping.clone(),
                    retention_days: context.event_retention(),
                    bucket: Bucket {
                        name: SPAN_USAGE_METRIC.to_owned(),
                        timestamp: received,
                        tags,
                        value: BucketValue::Counter(count as f64),
                        received_at: Some(received),
                    },
                }
            })
            .collect()
    }
}
