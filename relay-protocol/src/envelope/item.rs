//! Envelope items: item types, item headers and payloads (`envelope.md` §3–§6, §8).
//!
//! Invariants:
//! * Known header values (other than `type` and `length`) are stored as raw JSON and only
//!   interpreted on access; a value of the wrong JSON type is kept (and re-emitted) but reads as
//!   absent.
//! * `length` is never stored as a header: it is derived from the payload when writing. An item
//!   parsed without `length` and never given a new payload is written back without it; that is
//!   safe because such a payload cannot contain `\n` (the parser ends it at the first `\n`).
//! * The payload is a [`Bytes`] slice, usually of the whole request body: never copied.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use smallvec::SmallVec;

use crate::category::DataCategory;
use crate::envelope::attachment::AttachmentType;
use crate::envelope::content_type::{ContentType, IntegrationKind};
use crate::json_writer::{self, ObjectWriter};

/// Filename that, with a `sntr` payload prefix, marks a Nintendo Switch dying message.
const DYING_MESSAGE_FILENAME: &str = "dying_message.dat";
/// Payload prefix of a Nintendo Switch dying message.
const DYING_MESSAGE_MAGIC: &[u8] = b"sntr";
/// Alias accepted for `profile_chunk` on input.
const PROFILE_CHUNK_UI_ALIAS: &str = "profile_chunk_ui";
/// Profile platforms counted in the UI profile categories; all others count as backend.
const UI_PROFILE_PLATFORMS: &[&str] = &["cocoa", "android", "javascript"];

macro_rules! item_types {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $name:literal,
            creates_event: $creates:literal, requires_event: $requires:literal, container: $container:literal;
    )*) => {
        /// The `type` of an envelope item (`envelope.md` §4). Names are case-sensitive.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum ItemType {
            $( $(#[$doc])* $variant, )*
            /// Any unrecognised type, with its original name (forwarded opaquely, §6).
            Unknown(String),
        }

        impl ItemType {
            /// Every known item type in the order of the spec table.
            pub const ALL: &'static [ItemType] = &[$(ItemType::$variant,)*];

            /// The wire name (the original name for unknown types).
            pub fn name(&self) -> &str {
                match self {
                    $( ItemType::$variant => $name, )*
                    ItemType::Unknown(name) => name,
                }
            }

            /// Parses a known type name (including the `profile_chunk_ui` alias) without
            /// allocating; `None` for unknown names.
            pub fn from_known_name(name: &str) -> Option<ItemType> {
                match name {
                    $( $name => Some(ItemType::$variant), )*
                    PROFILE_CHUNK_UI_ALIAS => Some(ItemType::ProfileChunk),
                    _ => None,
                }
            }

            /// Whether items of this type create an event. For `attachment` this is decided by
            /// the attachment type (see [`Item::creates_event`]), so it is `false` here.
            fn type_creates_event(&self) -> bool {
                match self {
                    $( ItemType::$variant => $creates, )*
                    ItemType::Unknown(_) => false,
                }
            }

            /// Whether items of this type are dropped with the envelope's event.
            pub fn requires_event(&self) -> bool {
                match self {
                    $( ItemType::$variant => $requires, )*
                    ItemType::Unknown(_) => false,
                }
            }

            /// Whether items of this type may carry an item container (`item_count` honoured).
            pub fn is_container_capable(&self) -> bool {
                match self {
                    $( ItemType::$variant => $container, )*
                    ItemType::Unknown(_) => true,
                }
            }
        }
    };
}

item_types! {
    /// `event`: error/default event JSON.
    Event = "event", creates_event: true, requires_event: true, container: false;
    /// `transaction`: transaction event JSON.
    Transaction = "transaction", creates_event: true, requires_event: true, container: false;
    /// `security`: normalized security-report event.
    Security = "security", creates_event: true, requires_event: true, container: false;
    /// `raw_security`: raw browser report.
    RawSecurity = "raw_security", creates_event: true, requires_event: true, container: false;
    /// `attachment`: raw bytes.
    Attachment = "attachment", creates_event: false, requires_event: true, container: false;
    /// `form_data`: binary key/value list.
    FormData = "form_data", creates_event: false, requires_event: true, container: false;
    /// `unreal_report`: UE4 crash archive.
    UnrealReport = "unreal_report", creates_event: true, requires_event: true, container: false;
    /// `user_report`: legacy user feedback.
    UserReport = "user_report", creates_event: false, requires_event: true, container: false;
    /// `feedback`: feedback event.
    Feedback = "feedback", creates_event: true, requires_event: true, container: false;
    /// `session`: session update.
    Session = "session", creates_event: false, requires_event: false, container: true;
    /// `sessions`: session aggregates.
    Sessions = "sessions", creates_event: false, requires_event: false, container: true;
    /// `metric_buckets`: metric buckets.
    MetricBuckets = "metric_buckets", creates_event: false, requires_event: false, container: true;
    /// `client_report`: client report.
    ClientReport = "client_report", creates_event: false, requires_event: false, container: true;
    /// `profile`: profile.
    Profile = "profile", creates_event: false, requires_event: true, container: true;
    /// `profile_chunk`: continuous profiling chunk (alias `profile_chunk_ui`).
    ProfileChunk = "profile_chunk", creates_event: false, requires_event: false, container: true;
    /// `replay_event`: replay event.
    ReplayEvent = "replay_event", creates_event: false, requires_event: true, container: false;
    /// `replay_recording`: replay recording.
    ReplayRecording = "replay_recording", creates_event: false, requires_event: false, container: false;
    /// `replay_video`: replay video.
    ReplayVideo = "replay_video", creates_event: false, requires_event: false, container: false;
    /// `check_in`: cron check-in.
    CheckIn = "check_in", creates_event: false, requires_event: false, container: true;
    /// `span`: legacy span or span-v2 container.
    Span = "span", creates_event: false, requires_event: false, container: true;
    /// `log`: log container.
    Log = "log", creates_event: false, requires_event: false, container: true;
    /// `trace_metric`: trace metric container.
    TraceMetric = "trace_metric", creates_event: false, requires_event: false, container: true;
    /// `integration`: internal only, never accepted over the network.
    Integration = "integration", creates_event: false, requires_event: false, container: false;
}

impl ItemType {
    /// Parses any type name; unknown names become [`ItemType::Unknown`].
    pub fn from_name(name: &str) -> ItemType {
        ItemType::from_known_name(name).unwrap_or_else(|| ItemType::Unknown(name.to_owned()))
    }

    /// Whether this type is unrecognised.
    pub fn is_unknown(&self) -> bool {
        matches!(self, ItemType::Unknown(_))
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ItemType {
    type Err = std::convert::Infallible;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(ItemType::from_name(name))
    }
}

impl<'de> Deserialize<'de> for ItemType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemTypeVisitor;

        impl Visitor<'_> for ItemTypeVisitor {
            type Value = ItemType;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an item type string")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<ItemType, E> {
                Ok(ItemType::from_name(name))
            }
        }

        deserializer.deserialize_str(ItemTypeVisitor)
    }
}

macro_rules! known_item_headers {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal; )*) => {
        /// Item header keys with a meaning, in the order they are written (after `type` and
        /// `length`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum KnownItemHeader {
            $( $(#[$doc])* $variant, )*
        }

        impl KnownItemHeader {
            /// The key name.
            pub fn name(self) -> &'static str {
                match self {
                    $( KnownItemHeader::$variant => $name, )*
                }
            }

            /// Looks a key name up.
            pub fn from_name(name: &str) -> Option<KnownItemHeader> {
                match name {
                    $( $name => Some(KnownItemHeader::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

known_item_headers! {
    /// `item_count`: entries in a container.
    ItemCount = "item_count";
    /// `attachment_type`
    AttachmentType = "attachment_type";
    /// `content_type`
    ContentType = "content_type";
    /// `filename`
    Filename = "filename";
    /// `platform`
    Platform = "platform";
    /// `span_count`
    SpanCount = "span_count";
    /// `fully_normalized`
    FullyNormalized = "fully_normalized";
    /// `sampled`
    Sampled = "sampled";
    /// `meta_length`
    MetaLength = "meta_length";
    /// `span_id`
    SpanId = "span_id";
    /// `attachment_length`
    AttachmentLength = "attachment_length";
    /// `sentry_release`
    SentryRelease = "sentry_release";
    /// `sentry_environment`
    SentryEnvironment = "sentry_environment";
}

/// Name of the item type header.
const TYPE_HEADER: &str = "type";
/// Name of the payload length header.
const LENGTH_HEADER: &str = "length";

/// Error of [`Item::set_header`] for the headers that have dedicated setters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetItemHeaderError {
    /// `type` must be set with [`Item::set_ty`].
    #[error("the `type` item header cannot be set as a raw value; use Item::set_ty")]
    Type,
    /// `length` is derived from the payload.
    #[error("the `length` item header is derived from the payload; use Item::set_payload")]
    Length,
}

/// The headers of one item.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemHeaders {
    ty: ItemType,
    /// Whether `length` is written; `false` only for items parsed without it and untouched.
    writes_length: bool,
    /// Known keys with their raw values, sorted by key (write order).
    known: Vec<(KnownItemHeader, Value)>,
    /// Unrecognised keys, preserved verbatim and written sorted by name.
    other: BTreeMap<String, Value>,
}

impl ItemHeaders {
    fn new(ty: ItemType) -> Self {
        ItemHeaders {
            ty,
            writes_length: true,
            known: Vec::new(),
            other: BTreeMap::new(),
        }
    }

    /// The item type.
    pub fn ty(&self) -> &ItemType {
        &self.ty
    }

    /// The raw value of a known header.
    pub fn get_known(&self, key: KnownItemHeader) -> Option<&Value> {
        self.known
            .iter()
            .find(|(candidate, _)| *candidate == key)
            .map(|(_, value)| value)
    }

    /// Iterates over the preserved unknown headers, sorted by name.
    pub fn other(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.other.iter().map(|(key, value)| (key.as_str(), value))
    }

    fn set_known(&mut self, key: KnownItemHeader, value: Value) {
        match self
            .known
            .binary_search_by_key(&key, |(candidate, _)| *candidate)
        {
            Ok(index) => self.known[index].1 = value,
            Err(index) => self.known.insert(index, (key, value)),
        }
    }

    fn remove_known(&mut self, key: KnownItemHeader) -> Option<Value> {
        let index = self
            .known
            .binary_search_by_key(&key, |(candidate, _)| *candidate)
            .ok()?;
        Some(self.known.remove(index).1)
    }

    /// Writes the header object; `payload_length` is used for `length` when it is written.
    pub(crate) fn serialize_into(&self, out: &mut Vec<u8>, payload_length: usize) {
        let mut object = ObjectWriter::begin(out);
        object.string(TYPE_HEADER, self.ty.name());
        if self.writes_length {
            object.unsigned(LENGTH_HEADER, payload_length as u64);
        }
        for (key, value) in &self.known {
            object.value(key.name(), value);
        }
        for (key, value) in &self.other {
            json_writer::write_value(object.escaped_key(key), value);
        }
        object.end();
    }

    /// Rough upper bound of the serialized size, for buffer pre-allocation.
    pub(crate) fn size_hint(&self) -> usize {
        const FIXED_OVERHEAD: usize = 48;
        const PER_HEADER_ESTIMATE: usize = 40;
        FIXED_OVERHEAD
            + self.ty.name().len()
            + PER_HEADER_ESTIMATE * (self.known.len() + self.other.len())
    }
}

/// Item header keys as seen by the parser.
enum ItemHeaderKey {
    Type,
    Length,
    Known(KnownItemHeader),
    Other(String),
}

impl<'de> Deserialize<'de> for ItemHeaderKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl Visitor<'_> for KeyVisitor {
            type Value = ItemHeaderKey;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an item header key")
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<ItemHeaderKey, E> {
                Ok(match key {
                    TYPE_HEADER => ItemHeaderKey::Type,
                    LENGTH_HEADER => ItemHeaderKey::Length,
                    other => match KnownItemHeader::from_name(other) {
                        Some(known) => ItemHeaderKey::Known(known),
                        None => ItemHeaderKey::Other(other.to_owned()),
                    },
                })
            }
        }

        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// An item header as parsed from the wire, together with its `length`.
pub(crate) struct ParsedItemHeaders {
    pub(crate) headers: ItemHeaders,
    pub(crate) length: Option<u64>,
}

impl<'de> Deserialize<'de> for ParsedItemHeaders {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;

        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = ParsedItemHeaders;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an item header object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut ty = None;
                let mut length = None;
                let mut known: Vec<(KnownItemHeader, Value)> = Vec::new();
                let mut other = BTreeMap::new();
                while let Some(key) = map.next_key::<ItemHeaderKey>()? {
                    match key {
                        ItemHeaderKey::Type => {
                            if ty.is_some() {
                                return Err(de::Error::duplicate_field(TYPE_HEADER));
                            }
                            ty = Some(map.next_value::<ItemType>()?);
                        }
                        ItemHeaderKey::Length => {
                            if length.is_some() {
                                return Err(de::Error::duplicate_field(LENGTH_HEADER));
                            }
                            length = Some(map.next_value::<u64>()?);
                        }
                        ItemHeaderKey::Known(key) => {
                            let value = map.next_value::<Value>()?;
                            match known.binary_search_by_key(&key, |(candidate, _)| *candidate) {
                                Ok(_) => return Err(de::Error::duplicate_field(key.name())),
                                Err(index) => known.insert(index, (key, value)),
                            }
                        }
                        ItemHeaderKey::Other(key) => {
                            let value = map.next_value::<Value>()?;
                            other.insert(key, value);
                        }
                    }
                }
                let ty = ty.ok_or_else(|| de::Error::missing_field(TYPE_HEADER))?;
                Ok(ParsedItemHeaders {
                    headers: ItemHeaders {
                        ty,
                        writes_length: length.is_some(),
                        known,
                        other,
                    },
                    length,
                })
            }
        }

        deserializer.deserialize_map(HeadersVisitor)
    }
}

/// One envelope item: headers and payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    headers: ItemHeaders,
    payload: Bytes,
}

impl Item {
    /// A new item of the given type with an empty payload (written with `length`).
    pub fn new(ty: ItemType) -> Item {
        Item {
            headers: ItemHeaders::new(ty),
            payload: Bytes::new(),
        }
    }

    pub(crate) fn from_parts(headers: ItemHeaders, payload: Bytes) -> Item {
        Item { headers, payload }
    }

    /// The headers.
    pub fn headers(&self) -> &ItemHeaders {
        &self.headers
    }

    /// The item type.
    pub fn ty(&self) -> &ItemType {
        &self.headers.ty
    }

    /// Changes the item type.
    pub fn set_ty(&mut self, ty: ItemType) {
        self.headers.ty = ty;
    }

    /// The payload (a cheap reference-counted clone).
    pub fn payload(&self) -> Bytes {
        self.payload.clone()
    }

    /// The payload as a slice.
    pub fn payload_slice(&self) -> &[u8] {
        &self.payload
    }

    /// Replaces the payload and sets `content_type`; the item is then written with `length`.
    pub fn set_payload(&mut self, content_type: impl Into<ContentType>, payload: impl Into<Bytes>) {
        let content_type = content_type.into();
        self.headers.set_known(
            KnownItemHeader::ContentType,
            Value::String(content_type.as_str().to_owned()),
        );
        self.set_payload_keep_content_type(payload);
    }

    /// Replaces the payload without touching `content_type`; the item is then written with
    /// `length`.
    pub fn set_payload_keep_content_type(&mut self, payload: impl Into<Bytes>) {
        self.payload = payload.into();
        self.headers.writes_length = true;
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.payload.len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// Raw value of any header other than `type` and `length` (which are not stored as raw
    /// values; use [`Item::ty`] and [`Item::len`]).
    pub fn get_header(&self, name: &str) -> Option<&Value> {
        match KnownItemHeader::from_name(name) {
            Some(known) => self.headers.get_known(known),
            None => self.headers.other.get(name),
        }
    }

    /// Sets any header other than `type` and `length` to a raw value.
    pub fn set_header(&mut self, name: &str, value: Value) -> Result<(), SetItemHeaderError> {
        match name {
            TYPE_HEADER => return Err(SetItemHeaderError::Type),
            LENGTH_HEADER => return Err(SetItemHeaderError::Length),
            _ => {}
        }
        match KnownItemHeader::from_name(name) {
            Some(known) => self.headers.set_known(known, value),
            None => {
                self.headers.other.insert(name.to_owned(), value);
            }
        }
        Ok(())
    }

    /// Removes a header (other than `type`/`length`) and returns its raw value.
    pub fn remove_header(&mut self, name: &str) -> Option<Value> {
        match KnownItemHeader::from_name(name) {
            Some(known) => self.headers.remove_known(known),
            None => self.headers.other.remove(name),
        }
    }

    fn known_str(&self, key: KnownItemHeader) -> Option<&str> {
        self.headers.get_known(key).and_then(Value::as_str)
    }

    fn known_u64(&self, key: KnownItemHeader) -> Option<u64> {
        self.headers.get_known(key).and_then(Value::as_u64)
    }

    fn known_bool(&self, key: KnownItemHeader) -> Option<bool> {
        self.headers.get_known(key).and_then(Value::as_bool)
    }

    /// The content type, `None` when absent or not a string. Unrecognised values come back as
    /// [`ContentType::Other`].
    pub fn content_type(&self) -> Option<ContentType> {
        self.known_str(KnownItemHeader::ContentType)
            .map(ContentType::parse)
    }

    /// The attachment type: the recognised `attachment_type` header, or
    /// [`AttachmentType::NintendoSwitchDyingMessage`] inferred for an `attachment` without that
    /// header whose filename is `dying_message.dat` and whose payload starts with `sntr`.
    /// `None` otherwise (the default, plain attachment, or an unrecognised value).
    pub fn attachment_type(&self) -> Option<AttachmentType> {
        match self.headers.get_known(KnownItemHeader::AttachmentType) {
            Some(Value::Null) | None => self
                .is_dying_message()
                .then_some(AttachmentType::NintendoSwitchDyingMessage),
            Some(Value::String(name)) => AttachmentType::from_name(name),
            Some(_) => None,
        }
    }

    fn is_dying_message(&self) -> bool {
        self.headers.ty == ItemType::Attachment
            && self.filename() == Some(DYING_MESSAGE_FILENAME)
            && self.payload.starts_with(DYING_MESSAGE_MAGIC)
    }

    /// Whether the item has an `attachment_type` header that is not a recognised value.
    fn has_unrecognised_attachment_type(&self) -> bool {
        match self.headers.get_known(KnownItemHeader::AttachmentType) {
            None | Some(Value::Null) => false,
            Some(Value::String(name)) => AttachmentType::from_name(name).is_none(),
            Some(_) => true,
        }
    }

    /// Sets `attachment_type`.
    pub fn set_attachment_type(&mut self, attachment_type: AttachmentType) {
        self.headers.set_known(
            KnownItemHeader::AttachmentType,
            Value::String(attachment_type.as_str().to_owned()),
        );
    }

    /// `filename`, if it is a string.
    pub fn filename(&self) -> Option<&str> {
        self.known_str(KnownItemHeader::Filename)
    }

    /// Sets `filename`.
    pub fn set_filename(&mut self, filename: impl Into<String>) {
        self.headers
            .set_known(KnownItemHeader::Filename, Value::String(filename.into()));
    }

    /// `item_count`, if it is a non-negative integer.
    pub fn item_count(&self) -> Option<u64> {
        self.known_u64(KnownItemHeader::ItemCount)
    }

    /// Sets `item_count`.
    pub fn set_item_count(&mut self, item_count: u64) {
        self.headers
            .set_known(KnownItemHeader::ItemCount, Value::from(item_count));
    }

    /// `platform`, if it is a string.
    pub fn platform(&self) -> Option<&str> {
        self.known_str(KnownItemHeader::Platform)
    }

    /// Sets `platform`.
    pub fn set_platform(&mut self, platform: impl Into<String>) {
        self.headers
            .set_known(KnownItemHeader::Platform, Value::String(platform.into()));
    }

    /// `span_count`, if it is a non-negative integer.
    pub fn span_count(&self) -> Option<u64> {
        self.known_u64(KnownItemHeader::SpanCount)
    }

    /// Sets `span_count`.
    pub fn set_span_count(&mut self, span_count: u64) {
        self.headers
            .set_known(KnownItemHeader::SpanCount, Value::from(span_count));
    }

    /// `fully_normalized` (default `false`).
    pub fn fully_normalized(&self) -> bool {
        self.known_bool(KnownItemHeader::FullyNormalized)
            .unwrap_or(false)
    }

    /// Sets `fully_normalized`.
    pub fn set_fully_normalized(&mut self, fully_normalized: bool) {
        self.headers.set_known(
            KnownItemHeader::FullyNormalized,
            Value::Bool(fully_normalized),
        );
    }

    /// `sampled` (default `true`).
    pub fn sampled(&self) -> bool {
        self.known_bool(KnownItemHeader::Sampled).unwrap_or(true)
    }

    /// Sets `sampled`.
    pub fn set_sampled(&mut self, sampled: bool) {
        self.headers
            .set_known(KnownItemHeader::Sampled, Value::Bool(sampled));
    }

    /// `meta_length`, if it is a non-negative integer.
    pub fn meta_length(&self) -> Option<u64> {
        self.known_u64(KnownItemHeader::MetaLength)
    }

    /// `attachment_length`, if it is a non-negative integer.
    pub fn attachment_length(&self) -> Option<u64> {
        self.known_u64(KnownItemHeader::AttachmentLength)
    }

    /// Whether a `span_id` header is present (even `null`): marks a span attachment.
    pub fn has_span_id(&self) -> bool {
        self.headers.get_known(KnownItemHeader::SpanId).is_some()
    }

    /// `span_id`, if it is a string.
    pub fn span_id(&self) -> Option<&str> {
        self.known_str(KnownItemHeader::SpanId)
    }

    /// `sentry_release`, if it is a string.
    pub fn sentry_release(&self) -> Option<&str> {
        self.known_str(KnownItemHeader::SentryRelease)
    }

    /// `sentry_environment`, if it is a string.
    pub fn sentry_environment(&self) -> Option<&str> {
        self.known_str(KnownItemHeader::SentryEnvironment)
    }

    /// Whether the item is unknown (§6): unrecognised type, or an `attachment_type` that is not
    /// one of the values of §3.2.
    pub fn is_unknown(&self) -> bool {
        self.headers.ty.is_unknown() || self.has_unrecognised_attachment_type()
    }

    /// Whether the item creates an event (§4; attachments only for crash types).
    pub fn creates_event(&self) -> bool {
        match self.headers.ty {
            ItemType::Attachment => self
                .attachment_type()
                .is_some_and(AttachmentType::creates_event),
            ref other => other.type_creates_event(),
        }
    }

    /// Whether the item is dropped together with the envelope's event.
    pub fn requires_event(&self) -> bool {
        self.headers.ty.requires_event()
    }

    /// Whether the item's type may carry an item container.
    pub fn is_container_capable(&self) -> bool {
        self.headers.ty.is_container_capable()
    }

    /// Whether the item is a span-v2 container (`span` with the span-v2 content type).
    pub fn is_span_container(&self) -> bool {
        self.headers.ty == ItemType::Span
            && self.content_type() == Some(ContentType::SpanV2Container)
    }

    /// Number of entries `n` (§4): `item_count` on a container-capable type, else 1.
    pub fn entry_count(&self) -> usize {
        if !self.is_container_capable() {
            return 1;
        }
        self.item_count().map_or(1, saturating_usize)
    }

    /// The event category of an event-creating item (§4.1).
    pub fn event_category(&self) -> Option<DataCategory> {
        if !self.creates_event() {
            return None;
        }
        match self.headers.ty {
            ItemType::Event | ItemType::UnrealReport | ItemType::Attachment => {
                Some(DataCategory::Error)
            }
            ItemType::Transaction => Some(DataCategory::Transaction),
            ItemType::Security | ItemType::RawSecurity => Some(DataCategory::Security),
            ItemType::Feedback => Some(DataCategory::Feedback),
            _ => None,
        }
    }

    /// The data categories and quantities this item counts as (§4 table).
    pub fn quantities(&self) -> SmallVec<[(DataCategory, usize); 4]> {
        let mut quantities = SmallVec::new();
        let byte_quantity = self.len().max(1);
        match self.headers.ty {
            ItemType::Event | ItemType::UnrealReport => {
                quantities.push((DataCategory::Error, 1));
            }
            ItemType::Transaction => {
                let spans = self
                    .span_count()
                    .map_or(0, saturating_usize)
                    .saturating_add(1);
                quantities.push((DataCategory::Transaction, 1));
                quantities.push((DataCategory::TransactionIndexed, 1));
                quantities.push((DataCategory::Span, spans));
                quantities.push((DataCategory::SpanIndexed, spans));
            }
            ItemType::Security | ItemType::RawSecurity => {
                quantities.push((DataCategory::Security, 1));
            }
            ItemType::Attachment => {
                quantities.push((DataCategory::Attachment, byte_quantity));
                quantities.push((DataCategory::AttachmentItem, 1));
            }
            ItemType::UserReport | ItemType::Feedback => {
                quantities.push((DataCategory::Feedback, 1));
            }
            ItemType::Session | ItemType::Sessions => {
                quantities.push((DataCategory::Session, 1));
            }
            ItemType::Profile => {
                quantities.push((DataCategory::Profile, 1));
                quantities.push((DataCategory::ProfileIndexed, 1));
                if let Some(platform) = self.platform() {
                    let category = if is_ui_platform(platform) {
                        DataCategory::ProfileUi
                    } else {
                        DataCategory::ProfileBackend
                    };
                    quantities.push((category, 1));
                }
            }
            ItemType::ProfileChunk => {
                if let Some(platform) = self.platform() {
                    let category = if is_ui_platform(platform) {
                        DataCategory::ProfileChunkUi
                    } else {
                        DataCategory::ProfileChunk
                    };
                    quantities.push((category, 1));
                }
            }
            ItemType::ReplayEvent | ItemType::ReplayRecording | ItemType::ReplayVideo => {
                quantities.push((DataCategory::Replay, 1));
            }
            ItemType::CheckIn => {
                quantities.push((DataCategory::Monitor, 1));
            }
            ItemType::Span => {
                let entries = self.entry_count();
                quantities.push((DataCategory::Span, entries));
                quantities.push((DataCategory::SpanIndexed, entries));
            }
            ItemType::Log => {
                quantities.push((DataCategory::LogByte, byte_quantity));
                quantities.push((DataCategory::LogItem, self.entry_count()));
            }
            ItemType::TraceMetric => {
                quantities.push((DataCategory::TraceMetricByte, byte_quantity));
                quantities.push((DataCategory::TraceMetric, self.entry_count()));
            }
            ItemType::Integration => match self.integration_kind() {
                Some(IntegrationKind::Logs) => {
                    quantities.push((DataCategory::LogByte, byte_quantity));
                    quantities.push((DataCategory::LogItem, 1));
                }
                Some(IntegrationKind::Spans) => {
                    quantities.push((DataCategory::Span, 1));
                    quantities.push((DataCategory::SpanIndexed, 1));
                }
                None => {}
            },
            ItemType::FormData
            | ItemType::MetricBuckets
            | ItemType::ClientReport
            | ItemType::Unknown(_) => {}
        }
        quantities
    }

    /// For `integration` items: what the payload carries, from the content type.
    pub fn integration_kind(&self) -> Option<IntegrationKind> {
        if self.headers.ty != ItemType::Integration {
            return None;
        }
        self.content_type()
            .and_then(|content_type| content_type.integration_kind())
    }

    /// The name used for this item in size-limit errors and `too_large:<name>` outcomes (§8).
    pub fn size_limit_name(&self) -> String {
        match &self.headers.ty {
            ItemType::Attachment => {
                let kind = self.attachment_type().unwrap_or_default().size_limit_kind();
                format!("attachment:{kind}")
            }
            ItemType::Feedback => "user_report_v2".to_owned(),
            ItemType::Unknown(_) => "unknown".to_owned(),
            known => known.name().to_owned(),
        }
    }

    /// Writes the item: header line, payload, `\n`.
    pub(crate) fn serialize_into(&self, out: &mut Vec<u8>) {
        self.headers.serialize_into(out, self.payload.len());
        out.push(b'\n');
        out.extend_from_slice(&self.payload);
        out.push(b'\n');
    }

    pub(crate) fn serialized_size_hint(&self) -> usize {
        self.headers.size_hint() + self.payload.len() + 2
    }
}

fn is_ui_platform(platform: &str) -> bool {
    UI_PROFILE_PLATFORMS.contains(&platform)
}

fn saturating_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_headers(json: &str) -> Result<ParsedItemHeaders, serde_json::Error> {
        serde_json::from_str(json)
    }

    fn item(json: &str, payload: &'static [u8]) -> Item {
        let parsed = parse_headers(json).unwrap();
        Item::from_parts(parsed.headers, Bytes::from_static(payload))
    }

    fn serialized_header(item: &Item) -> String {
        let mut out = Vec::new();
        item.headers.serialize_into(&mut out, item.len());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn item_type_names() {
        let names = [
            "event",
            "transaction",
            "security",
            "raw_security",
            "attachment",
            "form_data",
            "unreal_report",
            "user_report",
            "feedback",
            "session",
            "sessions",
            "metric_buckets",
            "client_report",
            "profile",
            "profile_chunk",
            "replay_event",
            "replay_recording",
            "replay_video",
            "check_in",
            "span",
            "log",
            "trace_metric",
            "integration",
        ];
        assert_eq!(ItemType::ALL.len(), names.len());
        for name in names {
            let ty = ItemType::from_name(name);
            assert!(!ty.is_unknown(), "{name}");
            assert_eq!(ty.name(), name);
        }
        assert_eq!(
            ItemType::from_name("profile_chunk_ui"),
            ItemType::ProfileChunk
        );
        for unknown in [
            "user_report_v2",
            "statsd",
            "otel_span",
            "otel_log",
            "nel",
            "otel_traces_data",
            "Event",
        ] {
            assert_eq!(
                ItemType::from_name(unknown),
                ItemType::Unknown(unknown.to_owned())
            );
        }
    }

    #[test]
    fn header_order_and_preservation() {
        let item = item(
            r#"{"zeta":1,"filename":"a.txt","content_type":"text/plain","alpha":{"x":[1,2]},"type":"attachment","length":2,"attachment_type":"event.attachment","item_count":"2"}"#,
            b"hi",
        );
        assert_eq!(
            serialized_header(&item),
            r#"{"type":"attachment","length":2,"item_count":"2","attachment_type":"event.attachment","content_type":"text/plain","filename":"a.txt","alpha":{"x":[1,2]},"zeta":1}"#
        );
        // Wrong-typed known key reads as absent but is kept.
        assert_eq!(item.item_count(), None);
        assert_eq!(item.get_header("item_count"), Some(&json!("2")));
        assert_eq!(item.get_header("alpha"), Some(&json!({"x": [1, 2]})));
    }

    #[test]
    fn wrong_typed_known_headers_are_absent() {
        let item = item(
            r#"{"type":"attachment","filename":5,"platform":null,"content_type":1,"span_count":-1,"sampled":"no"}"#,
            b"",
        );
        assert_eq!(item.filename(), None);
        assert_eq!(item.platform(), None);
        assert_eq!(item.content_type(), None);
        assert_eq!(item.span_count(), None);
        assert!(item.sampled());
        assert!(!item.is_unknown());
    }

    #[test]
    fn only_length_and_type_fail_parsing() {
        assert!(parse_headers(r#"{"type":"event","length":null}"#).is_err());
        assert!(parse_headers(r#"{"type":"event","length":-1}"#).is_err());
        assert!(parse_headers(r#"{"type":"event","length":1.5}"#).is_err());
        assert!(parse_headers(r#"{"type":"event","length":"1"}"#).is_err());
        assert!(parse_headers(r#"{"type":1}"#).is_err());
        assert!(parse_headers(r#"{"length":1}"#).is_err());
        assert!(parse_headers(r#"{"type":"event","type":"event"}"#).is_err());
        assert!(parse_headers(r#"[]"#).is_err());
        let parsed = parse_headers(r#"{"type":"event","length":0}"#).unwrap();
        assert_eq!(parsed.length, Some(0));
        let parsed = parse_headers(r#"{"type":"made_up"}"#).unwrap();
        assert_eq!(parsed.length, None);
        assert_eq!(parsed.headers.ty, ItemType::Unknown("made_up".to_owned()));
    }

    #[test]
    fn unknown_items() {
        assert!(item(r#"{"type":"statsd"}"#, b"").is_unknown());
        let odd_attachment = item(
            r#"{"type":"attachment","attachment_type":"event.foo"}"#,
            b"abc",
        );
        assert!(odd_attachment.is_unknown());
        assert!(!odd_attachment.creates_event());
        assert!(odd_attachment.requires_event());
        assert_eq!(odd_attachment.size_limit_name(), "attachment:attachment");
        assert_eq!(
            odd_attachment.quantities().as_slice(),
            &[
                (DataCategory::Attachment, 3),
                (DataCategory::AttachmentItem, 1)
            ]
        );
        assert!(item(r#"{"type":"attachment","attachment_type":7}"#, b"").is_unknown());
        assert!(!item(r#"{"type":"attachment","attachment_type":null}"#, b"").is_unknown());
        let unknown = item(r#"{"type":"nel"}"#, b"");
        assert!(unknown.quantities().is_empty());
        assert!(!unknown.creates_event());
        assert!(!unknown.requires_event());
        assert_eq!(unknown.size_limit_name(), "unknown");
    }

    #[test]
    fn attachment_types_and_inference() {
        let minidump = item(
            r#"{"type":"attachment","attachment_type":"event.minidump"}"#,
            b"MDMP",
        );
        assert_eq!(minidump.attachment_type(), Some(AttachmentType::Minidump));
        assert!(minidump.creates_event());
        assert_eq!(minidump.event_category(), Some(DataCategory::Error));
        assert_eq!(minidump.size_limit_name(), "attachment:minidump");

        let dying = item(
            r#"{"type":"attachment","filename":"dying_message.dat"}"#,
            b"sntr....",
        );
        assert_eq!(
            dying.attachment_type(),
            Some(AttachmentType::NintendoSwitchDyingMessage)
        );
        assert!(dying.creates_event());
        assert_eq!(dying.size_limit_name(), "attachment:nnswitch_dying_message");

        let not_dying = item(
            r#"{"type":"attachment","filename":"dying_message.dat"}"#,
            b"nope",
        );
        assert_eq!(not_dying.attachment_type(), None);
        assert!(!not_dying.creates_event());
        let explicit = item(
            r#"{"type":"attachment","filename":"dying_message.dat","attachment_type":"event.attachment"}"#,
            b"sntr",
        );
        assert_eq!(explicit.attachment_type(), Some(AttachmentType::Attachment));

        let gpu = item(
            r#"{"type":"attachment","attachment_type":"event.nv_gpudmp"}"#,
            b"x",
        );
        assert!(gpu.creates_event());
        assert_eq!(gpu.size_limit_name(), "attachment:attachment");
        let plain = item(r#"{"type":"attachment"}"#, b"");
        assert_eq!(plain.size_limit_name(), "attachment:attachment");
        assert_eq!(
            plain.quantities().as_slice(),
            &[
                (DataCategory::Attachment, 1),
                (DataCategory::AttachmentItem, 1)
            ]
        );
    }

    #[test]
    fn quantities_table() {
        type Case = (&'static str, &'static [u8], Vec<(DataCategory, usize)>);
        let cases: Vec<Case> = vec![
            (r#"{"type":"event"}"#, b"{}", vec![(DataCategory::Error, 1)]),
            (
                r#"{"type":"transaction","span_count":3}"#,
                b"{}",
                vec![
                    (DataCategory::Transaction, 1),
                    (DataCategory::TransactionIndexed, 1),
                    (DataCategory::Span, 4),
                    (DataCategory::SpanIndexed, 4),
                ],
            ),
            (
                r#"{"type":"transaction"}"#,
                b"{}",
                vec![
                    (DataCategory::Transaction, 1),
                    (DataCategory::TransactionIndexed, 1),
                    (DataCategory::Span, 1),
                    (DataCategory::SpanIndexed, 1),
                ],
            ),
            (
                r#"{"type":"security"}"#,
                b"",
                vec![(DataCategory::Security, 1)],
            ),
            (
                r#"{"type":"raw_security"}"#,
                b"",
                vec![(DataCategory::Security, 1)],
            ),
            (
                r#"{"type":"attachment"}"#,
                b"12345",
                vec![
                    (DataCategory::Attachment, 5),
                    (DataCategory::AttachmentItem, 1),
                ],
            ),
            (r#"{"type":"form_data"}"#, b"x", vec![]),
            (
                r#"{"type":"unreal_report"}"#,
                b"x",
                vec![(DataCategory::Error, 1)],
            ),
            (
                r#"{"type":"user_report"}"#,
                b"x",
                vec![(DataCategory::Feedback, 1)],
            ),
            (
                r#"{"type":"feedback"}"#,
                b"x",
                vec![(DataCategory::Feedback, 1)],
            ),
            (
                r#"{"type":"session"}"#,
                b"x",
                vec![(DataCategory::Session, 1)],
            ),
            (
                r#"{"type":"sessions"}"#,
                b"x",
                vec![(DataCategory::Session, 1)],
            ),
            (r#"{"type":"metric_buckets"}"#, b"x", vec![]),
            (r#"{"type":"client_report"}"#, b"x", vec![]),
            (
                r#"{"type":"profile"}"#,
                b"x",
                vec![
                    (DataCategory::Profile, 1),
                    (DataCategory::ProfileIndexed, 1),
                ],
            ),
            (
                r#"{"type":"profile","platform":"cocoa"}"#,
                b"x",
                vec![
                    (DataCategory::Profile, 1),
                    (DataCategory::ProfileIndexed, 1),
                    (DataCategory::ProfileUi, 1),
                ],
            ),
            (
                r#"{"type":"profile","platform":"python"}"#,
                b"x",
                vec![
                    (DataCategory::Profile, 1),
                    (DataCategory::ProfileIndexed, 1),
                    (DataCategory::ProfileBackend, 1),
                ],
            ),
            (r#"{"type":"profile_chunk"}"#, b"x", vec![]),
            (
                r#"{"type":"profile_chunk","platform":"android"}"#,
                b"x",
                vec![(DataCategory::ProfileChunkUi, 1)],
            ),
            (
                r#"{"type":"profile_chunk_ui","platform":"javascript"}"#,
                b"x",
                vec![(DataCategory::ProfileChunkUi, 1)],
            ),
            (
                r#"{"type":"profile_chunk","platform":"node"}"#,
                b"x",
                vec![(DataCategory::ProfileChunk, 1)],
            ),
            (
                r#"{"type":"replay_event"}"#,
                b"x",
                vec![(DataCategory::Replay, 1)],
            ),
            (
                r#"{"type":"replay_recording"}"#,
                b"x",
                vec![(DataCategory::Replay, 1)],
            ),
            (
                r#"{"type":"replay_video"}"#,
                b"x",
                vec![(DataCategory::Replay, 1)],
            ),
            (
                r#"{"type":"check_in"}"#,
                b"x",
                vec![(DataCategory::Monitor, 1)],
            ),
            (
                r#"{"type":"span"}"#,
                b"x",
                vec![(DataCategory::Span, 1), (DataCategory::SpanIndexed, 1)],
            ),
            (
                r#"{"type":"span","item_count":7,"content_type":"application/vnd.sentry.items.span.v2+json"}"#,
                b"x",
                vec![(DataCategory::Span, 7), (DataCategory::SpanIndexed, 7)],
            ),
            (
                r#"{"type":"log","item_count":3}"#,
                b"0123456789",
                vec![(DataCategory::LogByte, 10), (DataCategory::LogItem, 3)],
            ),
            (
                r#"{"type":"log"}"#,
                b"",
                vec![(DataCategory::LogByte, 1), (DataCategory::LogItem, 1)],
            ),
            (
                r#"{"type":"trace_metric","item_count":2}"#,
                b"abcd",
                vec![
                    (DataCategory::TraceMetricByte, 4),
                    (DataCategory::TraceMetric, 2),
                ],
            ),
            (
                r#"{"type":"integration","content_type":"application/vnd.sentry.integration.otel.logs+json"}"#,
                b"abc",
                vec![(DataCategory::LogByte, 3), (DataCategory::LogItem, 1)],
            ),
            (
                r#"{"type":"integration","content_type":"application/vnd.sentry.integration.otel.spans+protobuf"}"#,
                b"abc",
                vec![(DataCategory::Span, 1), (DataCategory::SpanIndexed, 1)],
            ),
            (r#"{"type":"integration"}"#, b"abc", vec![]),
            (r#"{"type":"something_new"}"#, b"abc", vec![]),
        ];
        for (headers, payload, expected) in cases {
            let item = item(headers, payload);
            assert_eq!(item.quantities().to_vec(), expected, "{headers}");
        }
    }

    #[test]
    fn empty_containers_count_zero_entries() {
        // Found by fuzzing: `item_count: 0` is a valid count, so the entry quantity is 0.
        let log = item(r#"{"type":"log","item_count":0}"#, b"{}");
        assert_eq!(
            log.quantities().as_slice(),
            &[(DataCategory::LogByte, 2), (DataCategory::LogItem, 0)]
        );
    }

    #[test]
    fn item_count_only_honoured_on_container_capable_types() {
        let event = item(r#"{"type":"event","item_count":5}"#, b"");
        assert_eq!(event.entry_count(), 1);
        let log = item(r#"{"type":"log","item_count":5}"#, b"");
        assert_eq!(log.entry_count(), 5);
    }

    #[test]
    fn event_flags() {
        let creates = [
            "event",
            "transaction",
            "security",
            "raw_security",
            "unreal_report",
            "feedback",
        ];
        for ty in ItemType::ALL {
            let item = Item::new(ty.clone());
            assert_eq!(item.creates_event(), creates.contains(&ty.name()), "{ty}");
        }
        let requires = [
            "event",
            "transaction",
            "security",
            "raw_security",
            "attachment",
            "form_data",
            "unreal_report",
            "user_report",
            "feedback",
            "profile",
            "replay_event",
        ];
        for ty in ItemType::ALL {
            assert_eq!(ty.requires_event(), requires.contains(&ty.name()), "{ty}");
        }
        let containers = [
            "session",
            "sessions",
            "metric_buckets",
            "client_report",
            "profile",
            "profile_chunk",
            "check_in",
            "span",
            "log",
            "trace_metric",
        ];
        for ty in ItemType::ALL {
            assert_eq!(
                ty.is_container_capable(),
                containers.contains(&ty.name()),
                "{ty}"
            );
        }
        assert_eq!(
            Item::new(ItemType::Feedback).event_category(),
            Some(DataCategory::Feedback)
        );
        assert_eq!(
            Item::new(ItemType::RawSecurity).event_category(),
            Some(DataCategory::Security)
        );
        assert_eq!(Item::new(ItemType::Session).event_category(), None);
    }

    #[test]
    fn size_limit_names() {
        let cases = [
            ("event", "event"),
            ("feedback", "user_report_v2"),
            ("profile_chunk", "profile_chunk"),
            ("integration", "integration"),
            ("check_in", "check_in"),
        ];
        for (ty, name) in cases {
            assert_eq!(Item::new(ItemType::from_name(ty)).size_limit_name(), name);
        }
    }

    #[test]
    fn set_payload_writes_length_and_content_type() {
        let mut item = item(r#"{"type":"attachment","filename":"x"}"#, b"old");
        assert_eq!(
            serialized_header(&item),
            r#"{"type":"attachment","filename":"x"}"#
        );
        item.set_payload(ContentType::Json, b"{\n}".to_vec());
        assert_eq!(
            serialized_header(&item),
            r#"{"type":"attachment","length":3,"content_type":"application/json","filename":"x"}"#
        );
        assert_eq!(item.content_type(), Some(ContentType::Json));
        assert_eq!(item.payload(), Bytes::from_static(b"{\n}"));
    }

    #[test]
    fn set_and_remove_headers() {
        let mut item = Item::new(ItemType::Log);
        assert_eq!(
            item.set_header("type", json!("x")),
            Err(SetItemHeaderError::Type)
        );
        assert_eq!(
            item.set_header("length", json!(1)),
            Err(SetItemHeaderError::Length)
        );
        item.set_header("item_count", json!(2)).unwrap();
        item.set_header("custom", json!(true)).unwrap();
        item.set_sampled(false);
        item.set_span_count(1);
        item.set_platform("cocoa");
        item.set_fully_normalized(true);
        item.set_filename("f");
        item.set_attachment_type(AttachmentType::UnrealLogs);
        assert_eq!(item.item_count(), Some(2));
        assert!(!item.sampled());
        assert!(item.fully_normalized());
        assert_eq!(
            serialized_header(&item),
            r#"{"type":"log","length":0,"item_count":2,"attachment_type":"unreal.logs","filename":"f","platform":"cocoa","span_count":1,"fully_normalized":true,"sampled":false,"custom":true}"#
        );
        assert_eq!(item.remove_header("custom"), Some(json!(true)));
        assert_eq!(item.remove_header("item_count"), Some(json!(2)));
        assert_eq!(item.item_count(), None);
        assert_eq!(item.remove_header("missing"), None);
    }

    #[test]
    fn trace_attachment_headers() {
        let item = item(
            r#"{"type":"attachment","content_type":"application/vnd.sentry.attachment.v2","meta_length":5,"span_id":null,"attachment_length":10,"sentry_release":"r","sentry_environment":"e"}"#,
            b"",
        );
        assert_eq!(item.content_type(), Some(ContentType::TraceAttachment));
        assert_eq!(item.meta_length(), Some(5));
        assert!(item.has_span_id());
        assert_eq!(item.span_id(), None);
        assert_eq!(item.attachment_length(), Some(10));
        assert_eq!(item.sentry_release(), Some("r"));
        assert_eq!(item.sentry_environment(), Some("e"));
    }
}
