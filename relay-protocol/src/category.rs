//! Data categories: the units in which rate limits, outcomes and client reports count data.
//!
//! Names are used in `X-Sentry-Rate-Limits`, quotas and client reports; numeric ids are used in
//! outcomes. Any unrecognised name parses to [`DataCategory::Unknown`], which has no numeric id
//! and is never emitted numerically.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Unit a data category is counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CategoryUnit {
    /// Number of items.
    Count,
    /// Number of payload bytes.
    Bytes,
    /// Milliseconds of profiled time.
    Milliseconds,
}

macro_rules! data_categories {
    ($($variant:ident = $id:literal => $name:literal, $unit:ident;)*) => {
        /// A category of data that relay counts, limits and reports outcomes for.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum DataCategory {
            $(
                #[doc = concat!("`", $name, "` (id ", stringify!($id), ").")]
                $variant,
            )*
            /// Any category name this relay does not know. Never matches a known category.
            Unknown,
        }

        impl DataCategory {
            /// Every known category in ascending id order.
            pub const ALL: &'static [DataCategory] = &[$(DataCategory::$variant,)*];

            /// The wire name, e.g. `"error"`.
            pub fn name(self) -> &'static str {
                match self {
                    $(DataCategory::$variant => $name,)*
                    DataCategory::Unknown => "unknown",
                }
            }

            /// The numeric id used in outcomes; `None` for [`DataCategory::Unknown`].
            pub fn value(self) -> Option<u32> {
                match self {
                    $(DataCategory::$variant => Some($id),)*
                    DataCategory::Unknown => None,
                }
            }

            /// Looks a category up by numeric id.
            pub fn from_value(value: u32) -> Option<DataCategory> {
                match value {
                    $($id => Some(DataCategory::$variant),)*
                    _ => None,
                }
            }

            /// What one unit of this category measures.
            pub fn unit(self) -> Option<CategoryUnit> {
                match self {
                    $(DataCategory::$variant => Some(CategoryUnit::$unit),)*
                    DataCategory::Unknown => None,
                }
            }

            /// Parses a wire name; unknown names yield [`DataCategory::Unknown`].
            pub fn from_name(name: &str) -> DataCategory {
                match name {
                    $($name => DataCategory::$variant,)*
                    "user_report_v2" => DataCategory::Feedback,
                    _ => DataCategory::Unknown,
                }
            }
        }
    };
}

data_categories! {
    Default = 0 => "default", Count;
    Error = 1 => "error", Count;
    Transaction = 2 => "transaction", Count;
    Security = 3 => "security", Count;
    Attachment = 4 => "attachment", Bytes;
    Session = 5 => "session", Count;
    Profile = 6 => "profile", Count;
    Replay = 7 => "replay", Count;
    TransactionProcessed = 8 => "transaction_processed", Count;
    TransactionIndexed = 9 => "transaction_indexed", Count;
    Monitor = 10 => "monitor", Count;
    ProfileIndexed = 11 => "profile_indexed", Count;
    Span = 12 => "span", Count;
    MonitorSeat = 13 => "monitor_seat", Count;
    Feedback = 14 => "feedback", Count;
    MetricBucket = 15 => "metric_bucket", Count;
    SpanIndexed = 16 => "span_indexed", Count;
    ProfileDuration = 17 => "profile_duration", Milliseconds;
    ProfileChunk = 18 => "profile_chunk", Count;
    MetricSecond = 19 => "metric_second", Count;
    ReplayVideo = 20 => "replay_video", Count;
    Uptime = 21 => "uptime", Count;
    AttachmentItem = 22 => "attachment_item", Count;
    LogItem = 23 => "log_item", Count;
    LogByte = 24 => "log_byte", Bytes;
    ProfileDurationUi = 25 => "profile_duration_ui", Milliseconds;
    ProfileChunkUi = 26 => "profile_chunk_ui", Count;
    SeerAutofix = 27 => "seer_autofix", Count;
    SeerScanner = 28 => "seer_scanner", Count;
    PreventUser = 29 => "prevent_user", Count;
    PreventReview = 30 => "prevent_review", Count;
    SizeAnalysis = 31 => "size_analysis", Count;
    InstallableBuild = 32 => "installable_build", Count;
    TraceMetric = 33 => "trace_metric", Count;
    SeerUser = 34 => "seer_user", Count;
    ProfileBackend = 35 => "profile_backend", Count;
    ProfileUi = 36 => "profile_ui", Count;
    TraceMetricByte = 37 => "trace_metric_byte", Bytes;
    SnapshotImage = 38 => "snapshot_image", Count;
}

impl DataCategory {
    /// Whether this is one of the "indexed" categories counted next to a base category.
    pub fn is_indexed(self) -> bool {
        matches!(
            self,
            DataCategory::TransactionIndexed
                | DataCategory::SpanIndexed
                | DataCategory::ProfileIndexed
        )
    }

    /// The base category of an indexed category, or `self` for every other category.
    pub fn base(self) -> DataCategory {
        match self {
            DataCategory::TransactionIndexed => DataCategory::Transaction,
            DataCategory::SpanIndexed => DataCategory::Span,
            DataCategory::ProfileIndexed => DataCategory::Profile,
            other => other,
        }
    }
}

impl fmt::Display for DataCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DataCategory {
    type Err = std::convert::Infallible;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(DataCategory::from_name(name))
    }
}

impl Serialize for DataCategory {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for DataCategory {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(DataCategory::from_name(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_round_trip() {
        for (index, category) in DataCategory::ALL.iter().enumerate() {
            assert_eq!(category.value(), Some(index as u32));
            assert_eq!(DataCategory::from_value(index as u32), Some(*category));
            assert_eq!(DataCategory::from_name(category.name()), *category);
        }
        assert_eq!(DataCategory::ALL.len(), 39);
    }

    #[test]
    fn feedback_alias_and_unknown_names() {
        assert_eq!(
            DataCategory::from_name("user_report_v2"),
            DataCategory::Feedback
        );
        assert_eq!(DataCategory::Feedback.name(), "feedback");
        assert_eq!(DataCategory::from_name("bogus"), DataCategory::Unknown);
        assert_eq!(DataCategory::Unknown.value(), None);
    }

    #[test]
    fn serde_uses_names() {
        let json = serde_json::to_string(&DataCategory::AttachmentItem).unwrap();
        assert_eq!(json, "\"attachment_item\"");
        let parsed: DataCategory = serde_json::from_str("\"span_indexed\"").unwrap();
        assert_eq!(parsed, DataCategory::SpanIndexed);
        assert_eq!(parsed.base(), DataCategory::Span);
    }
}
