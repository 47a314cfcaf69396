//! TraceItem messages (protobuf `sentry_protos.snuba.v1.TraceItem`, §7.3.11) on snuba-items.
//!
//! Logs, trace metrics, trace attachments, user sessions and span web vitals all become one
//! [`TraceItem`] each. The message structs are written by hand with `prost` derives instead of
//! being generated from the `.proto` files, so the build needs no `protoc`; their field numbers
//! and wire types are those of `sentry_protos` (`snuba/v1/trace_item.proto`, the OTLP-like
//! `AnyValue`) and `google.protobuf.Timestamp`, and must never change. Fields of the schema that
//! Relay never writes are left out (a decoder skips what it does not know either way).
//!
//! [`TraceItemMessage`] has no natural partition key (the router assigns a counter key) and
//! carries the headers `item_type` (the numeric enum value, e.g. `3`) and `project_id`, in
//! that (ascending) order.
//!
//! Invariants of the encoding: attributes are a sorted map, so the same item always encodes to
//! the same bytes; `item_id` is the item UUID as a 128-bit integer in **little-endian** byte
//! order (see [`item_id_from_uuid`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use prost::Message as _;
use relay_protocol::DataCategory;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{EncodeKafkaMessage, MessageEncodeError};
use crate::PartitionKey;

/// Header holding the numeric item type.
const ITEM_TYPE_HEADER: &str = "item_type";

/// Header holding the decimal project id.
const PROJECT_ID_HEADER: &str = "project_id";

/// Largest nanosecond fraction of a `google.protobuf.Timestamp` (chrono represents a leap
/// second as a fraction of one second or more).
const MAX_TIMESTAMP_NANOS: u32 = 999_999_999;

/// `google.protobuf.Timestamp`: seconds and nanoseconds since the unix epoch.
#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct Timestamp {
    /// Whole seconds since the epoch (negative before it).
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Non-negative fraction of the second, below one billion.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(time: DateTime<Utc>) -> Self {
        let nanos = time.timestamp_subsec_nanos().min(MAX_TIMESTAMP_NANOS);
        Timestamp {
            seconds: time.timestamp(),
            // Below one billion after the clamp, so it always fits.
            nanos: i32::try_from(nanos).unwrap_or(0),
        }
    }
}

/// `sentry_protos.snuba.v1.TraceItemType`: the kind of a trace item.
///
/// Only the kinds relay produces are listed; the field itself is an `i32`, so other values
/// still decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum TraceItemType {
    /// `TRACE_ITEM_TYPE_UNSPECIFIED` (proto3 default; never written on purpose).
    Unspecified = 0,
    /// `TRACE_ITEM_TYPE_SPAN`: span web-vital metrics.
    Span = 1,
    /// `TRACE_ITEM_TYPE_LOG`.
    Log = 3,
    /// `TRACE_ITEM_TYPE_METRIC`: trace metrics.
    Metric = 8,
    /// `TRACE_ITEM_TYPE_ATTACHMENT`: trace (span) attachments.
    Attachment = 10,
    /// `TRACE_ITEM_TYPE_USER_SESSION`: user sessions (EAP rollout).
    UserSession = 12,
}

/// `sentry_protos.snuba.v1.TraceItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TraceItem {
    /// Scoping organization.
    #[prost(uint64, tag = "1")]
    pub organization_id: u64,
    /// Scoping project.
    #[prost(uint64, tag = "2")]
    pub project_id: u64,
    /// 32-hex trace id; user sessions: a random UUIDv4, hyphenated.
    #[prost(string, tag = "3")]
    pub trace_id: String,
    /// 16 bytes, see [`item_id_from_uuid`].
    #[prost(bytes = "vec", tag = "4")]
    pub item_id: Vec<u8>,
    /// A [`TraceItemType`] value.
    #[prost(enumeration = "TraceItemType", tag = "5")]
    pub item_type: i32,
    /// The item timestamp; user sessions: the bucket timestamp.
    #[prost(message, optional, tag = "6")]
    pub timestamp: Option<Timestamp>,
    /// Item attributes.
    #[prost(btree_map = "string, message", tag = "7")]
    pub attributes: BTreeMap<String, AnyValue>,
    /// Client-side sample rate (1.0 when unsampled).
    #[prost(double, tag = "8")]
    pub client_sample_rate: f64,
    /// Server-side (dynamic sampling) sample rate (1.0 when unsampled).
    #[prost(double, tag = "9")]
    pub server_sample_rate: f64,
    /// Product retention in days.
    #[prost(uint32, tag = "100")]
    pub retention_days: u32,
    /// Receive time.
    #[prost(message, optional, tag = "101")]
    pub received: Option<Timestamp>,
    /// Downsampled product retention in days.
    #[prost(uint32, tag = "102")]
    pub downsampled_retention_days: u32,
    /// Billing counts of the item; absent for user sessions and web-vital metrics.
    #[prost(message, optional, tag = "110")]
    pub outcomes: Option<Outcomes>,
}

/// `sentry_protos.snuba.v1.Outcomes`: the billing counts embedded in a trace item.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Outcomes {
    /// One entry per data category.
    #[prost(message, repeated, tag = "1")]
    pub category_count: Vec<CategoryCount>,
    /// Numeric DSN key id; 0 when the key has none.
    #[prost(uint64, tag = "2")]
    pub key_id: u64,
}

/// `sentry_protos.snuba.v1.CategoryCount`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct CategoryCount {
    /// Numeric data category id.
    #[prost(uint32, tag = "1")]
    pub data_category: u32,
    /// Count in that category.
    #[prost(uint64, tag = "2")]
    pub quantity: u64,
}

impl CategoryCount {
    /// The count of a category; `None` for [`DataCategory::Unknown`], which has no id.
    pub fn new(category: DataCategory, quantity: u64) -> Option<Self> {
        let data_category = category.value()?;
        Some(CategoryCount {
            data_category,
            quantity,
        })
    }
}

/// `sentry_protos.snuba.v1.AnyValue`: one attribute value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AnyValue {
    /// The value; `None` is an empty `AnyValue`.
    #[prost(oneof = "any_value::Value", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub value: Option<any_value::Value>,
}

/// The `value` oneof of [`AnyValue`].
pub mod any_value {
    /// One `AnyValue` alternative.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        /// `string_value`.
        #[prost(string, tag = "1")]
        StringValue(String),
        /// `bool_value`.
        #[prost(bool, tag = "2")]
        BoolValue(bool),
        /// `int_value`.
        #[prost(int64, tag = "3")]
        IntValue(i64),
        /// `double_value`.
        #[prost(double, tag = "4")]
        DoubleValue(f64),
        /// `array_value`.
        #[prost(message, tag = "5")]
        ArrayValue(super::ArrayValue),
        /// `kvlist_value`.
        #[prost(message, tag = "6")]
        KvlistValue(super::KeyValueList),
        /// `bytes_value`.
        #[prost(bytes = "vec", tag = "7")]
        BytesValue(Vec<u8>),
    }
}

/// `sentry_protos.snuba.v1.ArrayValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ArrayValue {
    /// The elements, in order.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<AnyValue>,
}

/// `sentry_protos.snuba.v1.KeyValueList`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValueList {
    /// The entries, in order.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<KeyValue>,
}

/// `sentry_protos.snuba.v1.KeyValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    /// The key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// The value.
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

impl AnyValue {
    /// A `string_value`.
    pub fn string(value: impl Into<String>) -> Self {
        Self::of(any_value::Value::StringValue(value.into()))
    }

    /// A `bool_value`.
    pub fn bool(value: bool) -> Self {
        Self::of(any_value::Value::BoolValue(value))
    }

    /// An `int_value`.
    pub fn int(value: i64) -> Self {
        Self::of(any_value::Value::IntValue(value))
    }

    /// A `double_value`.
    pub fn double(value: f64) -> Self {
        Self::of(any_value::Value::DoubleValue(value))
    }

    /// An `array_value`.
    pub fn array(values: Vec<AnyValue>) -> Self {
        Self::of(any_value::Value::ArrayValue(ArrayValue { values }))
    }

    fn of(value: any_value::Value) -> Self {
        AnyValue { value: Some(value) }
    }
}

/// The value of a span-v2/log style JSON attribute `{"type": …, "value": …}`.
///
/// `string`, `boolean`, `integer`, `double` and `array` are understood; arrays take each
/// element's type from its JSON type (objects become key-value lists). `None` — the attribute
/// is skipped — when the value is `null` or missing, when it does not match the declared type,
/// when the type is unknown, and for integers above the signed 64-bit range (which
/// `int_value` cannot hold). `double` accepts any JSON number.
pub fn any_value_from_attribute(attribute: &Value) -> Option<AnyValue> {
    let value = attribute.get("value")?;
    match attribute.get("type").and_then(Value::as_str)? {
        "string" => value.as_str().map(AnyValue::string),
        "boolean" => value.as_bool().map(AnyValue::bool),
        "integer" => value.as_i64().map(AnyValue::int),
        "double" => value.as_f64().map(AnyValue::double),
        "array" => match value {
            Value::Array(_) => any_value_from_json(value),
            _ => None,
        },
        _ => None,
    }
}

/// The attributes of a JSON attribute object (`name → {"type", "value"}`), skipping those
/// [`any_value_from_attribute`] rejects.
pub fn attributes_from_json(attributes: &Map<String, Value>) -> BTreeMap<String, AnyValue> {
    attributes
        .iter()
        .filter_map(|(name, attribute)| {
            any_value_from_attribute(attribute).map(|value| (name.clone(), value))
        })
        .collect()
}

/// A plain JSON value by its own type; `None` for `null` and unrepresentable integers
/// (skipped inside arrays and key-value lists as well).
fn any_value_from_json(value: &Value) -> Option<AnyValue> {
    match value {
        Value::Null => None,
        Value::Bool(value) => Some(AnyValue::bool(*value)),
        Value::Number(number) => {
            if let Some(integer) = number.as_i64() {
                Some(AnyValue::int(integer))
            } else if number.is_u64() {
                // Above `i64::MAX`: `int_value` cannot hold it and a double would lose
                // precision silently.
                None
            } else {
                number.as_f64().map(AnyValue::double)
            }
        }
        Value::String(value) => Some(AnyValue::string(value.as_str())),
        Value::Array(items) => Some(AnyValue::array(
            items.iter().filter_map(any_value_from_json).collect(),
        )),
        Value::Object(entries) => {
            let values = entries
                .iter()
                .filter_map(|(key, value)| {
                    any_value_from_json(value).map(|value| KeyValue {
                        key: key.clone(),
                        value: Some(value),
                    })
                })
                .collect();
            Some(AnyValue::of(any_value::Value::KvlistValue(KeyValueList {
                values,
            })))
        }
    }
}

/// `item_id`: the UUID read as a 128-bit integer, written in little-endian byte order (the
/// reverse of the UUID's usual byte order).
pub fn item_id_from_uuid(uuid: Uuid) -> [u8; 16] {
    uuid.as_u128().to_le_bytes()
}

/// A UUIDv7 whose time part is `timestamp` (milliseconds, the rest random), the item id of
/// logs and trace metrics. Times before the epoch, which v7 cannot hold, become the epoch.
pub fn uuid_v7_at(timestamp: DateTime<Utc>) -> Uuid {
    let (seconds, nanos) = match u64::try_from(timestamp.timestamp()) {
        Ok(seconds) => (
            seconds,
            timestamp.timestamp_subsec_nanos().min(MAX_TIMESTAMP_NANOS),
        ),
        Err(_) => (0, 0),
    };
    Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, seconds, nanos))
}

/// A [`TraceItem`] ready to be produced to snuba-items.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceItemMessage {
    item: TraceItem,
}

impl TraceItemMessage {
    /// Wraps a fully built trace item.
    pub fn new(item: TraceItem) -> Self {
        TraceItemMessage { item }
    }

    /// The wrapped item.
    pub fn item(&self) -> &TraceItem {
        &self.item
    }

    /// Unwraps the item.
    pub fn into_item(self) -> TraceItem {
        self.item
    }
}

impl EncodeKafkaMessage for TraceItemMessage {
    /// Protobuf encoding into a vector cannot fail (the buffer grows as needed).
    fn encode(&self) -> Result<Vec<u8>, MessageEncodeError> {
        Ok(self.item.encode_to_vec())
    }

    /// Trace items have no natural key: the router assigns a counter key.
    fn partition_key(&self) -> Option<PartitionKey> {
        None
    }

    /// `item_type` (decimal enum value) then `project_id`.
    fn headers(&self) -> Vec<(String, Vec<u8>)> {
        vec![
            (
                ITEM_TYPE_HEADER.to_owned(),
                self.item.item_type.to_string().into_bytes(),
            ),
            (
                PROJECT_ID_HEADER.to_owned(),
                self.item.project_id.to_string().into_bytes(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";

    fn item_uuid() -> Uuid {
        Uuid::parse_str("0192f0a1-b2c3-7d4e-8f90-a1b2c3d4e5f6").unwrap()
    }

    /// A log item with every field set.
    fn log_item() -> TraceItem {
        let timestamp = DateTime::from_timestamp(1_717_000_000, 123_456_789).unwrap();
        let received = DateTime::from_timestamp(1_717_000_001, 500_000_000).unwrap();
        let attributes = BTreeMap::from([
            ("sentry.body".to_owned(), AnyValue::string("hello")),
            (
                "sentry.timestamp_precise".to_owned(),
                AnyValue::int(1_717_000_000_123_456_789),
            ),
            ("sentry.sampled".to_owned(), AnyValue::bool(true)),
            ("ratio".to_owned(), AnyValue::double(0.25)),
            (
                "tags".to_owned(),
                AnyValue::array(vec![AnyValue::string("a"), AnyValue::int(-1)]),
            ),
        ]);
        TraceItem {
            organization_id: 1,
            project_id: 42,
            trace_id: TRACE_ID.to_owned(),
            item_id: item_id_from_uuid(item_uuid()).to_vec(),
            item_type: TraceItemType::Log as i32,
            timestamp: Some(timestamp.into()),
            attributes,
            client_sample_rate: 1.0,
            server_sample_rate: 1.0,
            retention_days: 90,
            received: Some(received.into()),
            downsampled_retention_days: 30,
            outcomes: Some(Outcomes {
                category_count: vec![
                    CategoryCount::new(DataCategory::LogItem, 1).unwrap(),
                    CategoryCount::new(DataCategory::LogByte, 120).unwrap(),
                ],
                key_id: 123,
            }),
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    #[test]
    fn encodes_and_decodes_back_with_every_field() {
        let item = log_item();
        let bytes = TraceItemMessage::new(item.clone()).encode().unwrap();
        let decoded = TraceItem::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded, item);
        assert_eq!(decoded.item_type(), TraceItemType::Log);
        assert_eq!(
            decoded.timestamp,
            Some(Timestamp {
                seconds: 1_717_000_000,
                nanos: 123_456_789
            })
        );
        assert_eq!(
            decoded.received,
            Some(Timestamp {
                seconds: 1_717_000_001,
                nanos: 500_000_000
            })
        );
        assert_eq!(decoded.retention_days, 90);
        assert_eq!(decoded.downsampled_retention_days, 30);
        assert_eq!(decoded.attributes["sentry.body"], AnyValue::string("hello"));
        let outcomes = decoded.outcomes.unwrap();
        assert_eq!(outcomes.key_id, 123);
        assert_eq!(outcomes.category_count[1].quantity, 120);
    }

    #[test]
    fn log_item_encodes_exactly_like_sentry_protos() {
        // `TraceItem.SerializeToString(deterministic=True)` of the same item built with the
        // Python package `sentry-protos` 0.91.0 (deterministic = map entries sorted by key).
        let expected = concat!(
            "0801102a1a2035623865666666373938303338313033643236396236333338313366633630632210",
            "f6e5d4c3b2a1908f4e7dc3b2a1f092012803320b08c0aeddb20610959aef3a3a120a05726174696f",
            "120921000000000000d03f3a160a0b73656e7472792e626f647912070a0568656c6c6f3a140a0e73",
            "656e7472792e73616d706c6564120210013a260a1873656e7472792e74696d657374616d705f7072",
            "6563697365120a18959ad1f5f2cc80ea173a1c0a047461677312142a120a030a01610a0b18ffffff",
            "ffffffffffff0141000000000000f03f49000000000000f03fa0065aaa060c08c1aeddb2061080ca",
            "b5ee01b0061ef2060e0a04081710010a0408181078107b",
        );
        let bytes = TraceItemMessage::new(log_item()).encode().unwrap();
        assert_eq!(hex(&bytes), expected);
    }

    #[test]
    fn field_numbers_and_wire_types_match_the_schema() {
        let item = TraceItem {
            organization_id: 1,
            project_id: 2,
            trace_id: "t".to_owned(),
            item_id: vec![0xab],
            item_type: TraceItemType::Metric as i32,
            timestamp: Some(Timestamp {
                seconds: 3,
                nanos: 4,
            }),
            attributes: BTreeMap::from([("k".to_owned(), AnyValue::bool(true))]),
            client_sample_rate: 0.5,
            server_sample_rate: 1.0,
            retention_days: 5,
            received: Some(Timestamp {
                seconds: 6,
                nanos: 0,
            }),
            downsampled_retention_days: 7,
            outcomes: Some(Outcomes {
                category_count: vec![CategoryCount {
                    data_category: 8,
                    quantity: 9,
                }],
                key_id: 10,
            }),
        };
        let expected = concat!(
            "0801",               // 1 organization_id varint
            "1002",               // 2 project_id varint
            "1a0174",             // 3 trace_id "t"
            "2201ab",             // 4 item_id bytes
            "2808",               // 5 item_type METRIC
            "3204",               // 6 timestamp, 4 bytes:
            "08031004",           //   seconds 3, nanos 4
            "3a07",               // 7 attributes map entry, 7 bytes:
            "0a016b",             //   key "k"
            "12021001",           //   value AnyValue{bool_value(2): true}
            "41000000000000e03f", // 8 client_sample_rate 0.5
            "49000000000000f03f", // 9 server_sample_rate 1.0
            "a00605",             // 100 retention_days
            "aa06020806",         // 101 received {seconds 6}
            "b00607",             // 102 downsampled_retention_days
            "f20608",             // 110 outcomes, 8 bytes:
            "0a04",               //   1 category_count, 4 bytes:
            "08081009",           //     data_category 8, quantity 9
            "100a",               //   2 key_id 10
        );
        assert_eq!(hex(&item.encode_to_vec()), expected);
    }

    #[test]
    fn any_value_alternatives_use_the_otlp_field_numbers() {
        let cases = [
            (AnyValue::string("x"), "0a0178"),
            (AnyValue::bool(true), "1001"),
            (AnyValue::int(-1), "18ffffffffffffffffff01"),
            (AnyValue::double(1.0), "21000000000000f03f"),
            (AnyValue::array(vec![AnyValue::int(1)]), "2a040a021801"),
            (
                AnyValue::of(any_value::Value::KvlistValue(KeyValueList {
                    values: vec![KeyValue {
                        key: "a".to_owned(),
                        value: Some(AnyValue::int(1)),
                    }],
                })),
                "32090a070a016112021801",
            ),
            (
                AnyValue::of(any_value::Value::BytesValue(vec![0xff])),
                "3a01ff",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(hex(&value.encode_to_vec()), expected, "{value:?}");
        }
    }

    #[test]
    fn item_id_is_the_uuid_in_little_endian_order() {
        let uuid = Uuid::parse_str("00112233-4455-6677-8899-aabbccddeeff").unwrap();
        assert_eq!(
            hex(&item_id_from_uuid(uuid)),
            "ffeeddccbbaa99887766554433221100"
        );
        let decoded = TraceItem::decode(log_item().encode_to_vec().as_slice()).unwrap();
        let reread = Uuid::from_u128(u128::from_le_bytes(
            decoded.item_id.as_slice().try_into().unwrap(),
        ));
        assert_eq!(reread, item_uuid());
    }

    #[test]
    fn uuid_v7_carries_the_millisecond_timestamp() {
        let timestamp = DateTime::from_timestamp(1_717_000_000, 123_456_789).unwrap();
        let uuid = uuid_v7_at(timestamp);
        assert_eq!(uuid.get_version_num(), 7);
        let (seconds, nanos) = uuid.get_timestamp().unwrap().to_unix();
        assert_eq!((seconds, nanos), (1_717_000_000, 123_000_000));
        // The random part makes two ids of the same millisecond differ.
        assert_ne!(uuid_v7_at(timestamp), uuid);
        let before_epoch = DateTime::from_timestamp(-5, 500).unwrap();
        let (seconds, nanos) = uuid_v7_at(before_epoch).get_timestamp().unwrap().to_unix();
        assert_eq!((seconds, nanos), (0, 0));
    }

    #[test]
    fn headers_are_item_type_then_project_id_and_the_key_is_a_counter() {
        let message = TraceItemMessage::new(log_item());
        let kafka_message = message.to_kafka_message().unwrap();
        assert_eq!(kafka_message.key, None);
        assert_eq!(
            kafka_message.headers,
            [
                ("item_type".to_owned(), b"3".to_vec()),
                ("project_id".to_owned(), b"42".to_vec()),
            ]
        );
        assert_eq!(kafka_message.payload, message.encode().unwrap());
        let mut session = log_item();
        session.item_type = TraceItemType::UserSession as i32;
        let headers = TraceItemMessage::new(session).headers();
        assert_eq!(headers[0], ("item_type".to_owned(), b"12".to_vec()));
    }

    #[test]
    fn item_types_have_the_schema_values() {
        let values = [
            TraceItemType::Span,
            TraceItemType::Log,
            TraceItemType::Metric,
            TraceItemType::Attachment,
            TraceItemType::UserSession,
        ]
        .map(|item_type| item_type as i32);
        assert_eq!(values, [1, 3, 8, 10, 12]);
    }

    #[test]
    fn timestamps_from_chrono_keep_nanoseconds_and_clamp_leap_seconds() {
        let time = DateTime::from_timestamp(-2, 250).unwrap();
        assert_eq!(
            Timestamp::from(time),
            Timestamp {
                seconds: -2,
                nanos: 250
            }
        );
        let leap = DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap();
        assert_eq!(Timestamp::from(leap).nanos, 999_999_999);
    }

    #[test]
    fn json_attributes_convert_by_declared_type() {
        let attributes = json!({
            "s": {"type": "string", "value": "text"},
            "b": {"type": "boolean", "value": false},
            "i": {"type": "integer", "value": -7},
            "i_max": {"type": "integer", "value": i64::MAX},
            "d": {"type": "double", "value": 1.5},
            "d_int": {"type": "double", "value": 3},
            "a": {"type": "array", "value": ["x", 1, 2.5, true, null, u64::MAX, {"k": "v"}]},
        });
        let converted = attributes_from_json(attributes.as_object().unwrap());
        let nested = AnyValue::of(any_value::Value::KvlistValue(KeyValueList {
            values: vec![KeyValue {
                key: "k".to_owned(),
                value: Some(AnyValue::string("v")),
            }],
        }));
        let expected = BTreeMap::from([
            ("s".to_owned(), AnyValue::string("text")),
            ("b".to_owned(), AnyValue::bool(false)),
            ("i".to_owned(), AnyValue::int(-7)),
            ("i_max".to_owned(), AnyValue::int(i64::MAX)),
            ("d".to_owned(), AnyValue::double(1.5)),
            ("d_int".to_owned(), AnyValue::double(3.0)),
            (
                "a".to_owned(),
                AnyValue::array(vec![
                    AnyValue::string("x"),
                    AnyValue::int(1),
                    AnyValue::double(2.5),
                    AnyValue::bool(true),
                    nested,
                ]),
            ),
        ]);
        assert_eq!(converted, expected);
    }

    #[test]
    fn unrepresentable_json_attributes_are_skipped() {
        let skipped = [
            json!({"type": "string", "value": null}),
            json!({"type": "string"}),
            json!({"type": "integer", "value": u64::MAX}),
            json!({"type": "integer", "value": (i64::MAX as u64) + 1}),
            json!({"type": "integer", "value": 1.5}),
            json!({"type": "string", "value": 1}),
            json!({"type": "boolean", "value": "true"}),
            json!({"type": "array", "value": "x"}),
            json!({"type": "object", "value": {"a": 1}}),
            json!({"value": "untyped"}),
            json!(null),
            json!("bare"),
        ];
        for attribute in skipped {
            assert_eq!(any_value_from_attribute(&attribute), None, "{attribute}");
        }
    }

    #[test]
    fn unknown_category_has_no_count() {
        assert_eq!(CategoryCount::new(DataCategory::Unknown, 1), None);
    }
}
