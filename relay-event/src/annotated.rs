//! The annotated value core: [`Annotated`], its [`Meta`] and the untyped [`Value`].
//!
//! These types are defined together because they are mutually recursive: an annotated value
//! carries a meta, a meta keeps the original [`Value`] and error data, and a [`Value`]'s arrays
//! and objects hold annotated children (so meta can be attached anywhere inside free-form data,
//! e.g. `_meta.extra.big`). Everything built on top of them (parsing, serialization, traversal)
//! lives in sibling modules.
//!
//! Invariants:
//!
//! * JSON `null` is always the absence of a value (`Annotated(None, _)`); [`Value`] has no
//!   null variant, so there is exactly one representation of null.
//! * An empty [`Meta`] allocates nothing; a meta with nothing in it is never written to `_meta`
//!   (normalization.md §10.1).
//! * An error is never recorded twice on the same node (normalization.md §10.1).
//! * An original value is only kept while its estimated JSON size is below
//!   [`MAX_ORIGINAL_VALUE_SIZE`] bytes (normalization.md §2).

use std::collections::BTreeMap;
use std::fmt;

/// Original values whose estimated JSON size is this many bytes or more are not kept in meta
/// (normalization.md §2).
pub const MAX_ORIGINAL_VALUE_SIZE: usize = 500;

/// An array of annotated values.
pub type Array<T> = Vec<Annotated<T>>;

/// An object of annotated values.
///
/// Keys are kept sorted (byte-wise), which is the order in which objects are serialized: the
/// output of normalization lists object keys sorted regardless of the order in which they were
/// received or added (normalization.md §13, `contexts` and `user.data`). Struct fields, which
/// have a fixed schema order (normalization.md §11), are not objects.
pub type Object<T> = BTreeMap<String, Annotated<T>>;

/// A value that may be missing, together with its [`Meta`].
///
/// `Annotated(None, meta)` is JSON `null` (or an absent field); its meta may still explain why
/// the value is missing (for example an `invalid_data` error with the original value).
#[derive(Clone, Debug, PartialEq)]
pub struct Annotated<T>(pub Option<T>, pub Meta);

impl<T> Default for Annotated<T> {
    fn default() -> Self {
        Annotated::empty()
    }
}

impl<T> From<T> for Annotated<T> {
    fn from(value: T) -> Self {
        Annotated::new(value)
    }
}

impl<T> Annotated<T> {
    /// A present value without meta.
    pub fn new(value: T) -> Self {
        Annotated(Some(value), Meta::default())
    }

    /// A missing value without meta.
    pub fn empty() -> Self {
        Annotated(None, Meta::default())
    }

    /// A missing value whose meta carries `error` and, if small enough, the original value.
    pub fn from_error(error: Error, original: Option<Value>) -> Self {
        let mut meta = Meta::default();
        meta.add_error(error);
        meta.set_original_value(original);
        Annotated(None, meta)
    }

    /// The value, if present.
    pub fn value(&self) -> Option<&T> {
        self.0.as_ref()
    }

    /// The value, mutably, if present.
    pub fn value_mut(&mut self) -> &mut Option<T> {
        &mut self.0
    }

    /// Replaces the value, keeping the meta.
    pub fn set_value(&mut self, value: Option<T>) {
        self.0 = value;
    }

    /// The meta.
    pub fn meta(&self) -> &Meta {
        &self.1
    }

    /// The meta, mutably.
    pub fn meta_mut(&mut self) -> &mut Meta {
        &mut self.1
    }

    /// The value and the meta, mutably and at the same time.
    pub fn pair_mut(&mut self) -> (&mut Option<T>, &mut Meta) {
        (&mut self.0, &mut self.1)
    }

    /// Takes the value out, leaving `None` and the meta in place.
    pub fn take(&mut self) -> Option<T> {
        self.0.take()
    }

    /// The value, dropping the meta.
    pub fn into_inner(self) -> Option<T> {
        self.0
    }

    /// Whether there is neither a value nor meta.
    pub fn is_empty(&self) -> bool {
        self.0.is_none() && self.1.is_empty()
    }

    /// Converts the value, keeping the meta.
    pub fn map_value<U>(self, f: impl FnOnce(T) -> U) -> Annotated<U> {
        Annotated(self.0.map(f), self.1)
    }

    /// Sets the value to `default()` if it is missing.
    pub fn get_or_insert_with(&mut self, default: impl FnOnce() -> T) -> &mut T {
        self.0.get_or_insert_with(default)
    }
}

/// The untyped JSON value: unknown attributes, free-form data (`extra`, `request.data`, …) and
/// original values in meta.
///
/// Integers keep their sign class: non-negative JSON integers are parsed as [`Value::I64`] when
/// they fit and as [`Value::U64`] above `i64::MAX`; floats stay floats (`2.0` is not `2`).
/// There is no null variant: null is `Annotated(None, _)` (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `true` or `false`.
    Bool(bool),
    /// An integer in the `i64` range.
    I64(i64),
    /// An integer above `i64::MAX`.
    U64(u64),
    /// A floating point number.
    F64(f64),
    /// A string.
    String(String),
    /// An array; elements may be null.
    Array(Array<Value>),
    /// An object; values may be null.
    Object(Object<Value>),
}

impl Value {
    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The exact size in bytes of the compact JSON serialization of this value, as written by
    /// [`crate::to_json`] (used for the 500-byte limit on original values).
    pub fn estimate_json_size(&self) -> usize {
        match self {
            Value::Bool(true) => 4,
            Value::Bool(false) => 5,
            Value::I64(n) => n.to_string().len(),
            Value::U64(n) => n.to_string().len(),
            Value::F64(f) => float_json_len(*f),
            Value::String(s) => json_string_len(s),
            Value::Array(items) => {
                let inner: usize = items.iter().map(annotated_json_size).sum();
                2 + inner + items.len().saturating_sub(1)
            }
            Value::Object(map) => {
                let inner: usize = map
                    .iter()
                    .map(|(key, value)| json_string_len(key) + 1 + annotated_json_size(value))
                    .sum();
                2 + inner + map.len().saturating_sub(1)
            }
        }
    }
}

fn annotated_json_size(value: &Annotated<Value>) -> usize {
    value.value().map_or(4, Value::estimate_json_size)
}

fn float_json_len(f: f64) -> usize {
    // Non-finite floats are written as null.
    serde_json::Number::from_f64(f).map_or(4, |number| number.to_string().len())
}

fn json_string_len(s: &str) -> usize {
    2 + s
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        })
        .sum::<usize>()
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::I64(value)
    }
}

impl From<u64> for Value {
    fn from(value: u64) -> Self {
        match i64::try_from(value) {
            Ok(signed) => Value::I64(signed),
            Err(_) => Value::U64(value),
        }
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::F64(value)
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::String(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::String(value.to_owned())
    }
}

/// The kind of a meta error (normalization.md §10.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// `invalid_data`: the value does not fit its field.
    InvalidData,
    /// `missing_attribute`: a required value is missing.
    MissingAttribute,
    /// `invalid_attribute`: an attribute that is not allowed here.
    InvalidAttribute,
    /// `value_too_long`: the value exceeds its length limit and was removed.
    ValueTooLong,
    /// `clock_drift`: timestamps were shifted by the clock drift correction.
    ClockDrift,
    /// `past_timestamp`: the timestamp was too far in the past.
    PastTimestamp,
    /// `future_timestamp`: the timestamp was too far in the future.
    FutureTimestamp,
    /// Any other kind, kept verbatim so it round-trips.
    Unknown(String),
}

impl ErrorKind {
    /// The kind as written in `_meta` and in the `errors` list.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorKind::InvalidData => "invalid_data",
            ErrorKind::MissingAttribute => "missing_attribute",
            ErrorKind::InvalidAttribute => "invalid_attribute",
            ErrorKind::ValueTooLong => "value_too_long",
            ErrorKind::ClockDrift => "clock_drift",
            ErrorKind::PastTimestamp => "past_timestamp",
            ErrorKind::FutureTimestamp => "future_timestamp",
            ErrorKind::Unknown(kind) => kind,
        }
    }

    /// Parses a kind; unknown kinds become [`ErrorKind::Unknown`].
    pub fn parse(kind: &str) -> Self {
        match kind {
            "invalid_data" => ErrorKind::InvalidData,
            "missing_attribute" => ErrorKind::MissingAttribute,
            "invalid_attribute" => ErrorKind::InvalidAttribute,
            "value_too_long" => ErrorKind::ValueTooLong,
            "clock_drift" => ErrorKind::ClockDrift,
            "past_timestamp" => ErrorKind::PastTimestamp,
            "future_timestamp" => ErrorKind::FutureTimestamp,
            other => ErrorKind::Unknown(other.to_owned()),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One error of a meta: a kind plus optional data such as `reason` (normalization.md §10.1).
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    kind: ErrorKind,
    data: BTreeMap<String, Value>,
}

impl Error {
    /// An error without data.
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            kind,
            data: BTreeMap::new(),
        }
    }

    /// `["invalid_data", {"reason": <reason>}]`.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidData).with("reason", Value::String(reason.into()))
    }

    /// `["invalid_data", {"reason": "expected <expectation>"}]`, the error of a value of the
    /// wrong type, e.g. `Error::expected("a string")`.
    pub fn expected(expectation: &str) -> Self {
        Error::invalid(format!("expected {expectation}"))
    }

    /// Adds (or replaces) one data entry.
    pub fn with(mut self, key: impl Into<String>, value: Value) -> Self {
        self.data.insert(key.into(), value);
        self
    }

    /// Adds (or replaces) one data entry in place.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        self.data.insert(key.into(), value);
    }

    /// The kind.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The data entries, sorted by key.
    pub fn data(&self) -> &BTreeMap<String, Value> {
        &self.data
    }

    /// One data entry.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

/// The type of a remark: what a rule did to the value (pii.md §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RemarkType {
    /// `a`: annotated, the value was left unchanged.
    Annotated,
    /// `x`: removed.
    Removed,
    /// `s`: substituted.
    Substituted,
    /// `m`: masked.
    Masked,
    /// `p`: pseudonymized (hashed).
    Pseudonymized,
    /// `e`: encrypted.
    Encrypted,
}

impl RemarkType {
    /// The one-letter code written in `_meta`.
    pub fn as_str(self) -> &'static str {
        match self {
            RemarkType::Annotated => "a",
            RemarkType::Removed => "x",
            RemarkType::Substituted => "s",
            RemarkType::Masked => "m",
            RemarkType::Pseudonymized => "p",
            RemarkType::Encrypted => "e",
        }
    }

    /// Parses the one-letter code.
    pub fn parse(code: &str) -> Option<Self> {
        Some(match code {
            "a" => RemarkType::Annotated,
            "x" => RemarkType::Removed,
            "s" => RemarkType::Substituted,
            "m" => RemarkType::Masked,
            "p" => RemarkType::Pseudonymized,
            "e" => RemarkType::Encrypted,
            _ => return None,
        })
    }
}

/// A remark: which rule changed the value, how, and optionally where (normalization.md §10.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Remark {
    /// The id of the rule, e.g. `!limit` or `@email`.
    pub rule_id: String,
    /// What the rule did.
    pub ty: RemarkType,
    /// UTF-8 byte offsets `[start, end)` into the new value, for substrings.
    pub range: Option<(usize, usize)>,
}

impl Remark {
    /// A remark about the whole value.
    pub fn new(ty: RemarkType, rule_id: impl Into<String>) -> Self {
        Remark {
            rule_id: rule_id.into(),
            ty,
            range: None,
        }
    }

    /// A remark about the byte range `[start, end)` of the new value.
    pub fn with_range(ty: RemarkType, rule_id: impl Into<String>, range: (usize, usize)) -> Self {
        Remark {
            rule_id: rule_id.into(),
            ty,
            range: Some(range),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
struct MetaInner {
    errors: Vec<Error>,
    remarks: Vec<Remark>,
    original_length: Option<u64>,
    original_value: Option<Value>,
}

impl MetaInner {
    fn is_empty(&self) -> bool {
        self.errors.is_empty()
            && self.remarks.is_empty()
            && self.original_length.is_none()
            && self.original_value.is_none()
    }
}

/// What is known about a value besides the value itself: errors, remarks, the original length
/// and the original value (the `_meta` node of normalization.md §10.1).
///
/// An empty meta is a single null pointer; the first write allocates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Meta(Option<Box<MetaInner>>);

impl Meta {
    fn inner_mut(&mut self) -> &mut MetaInner {
        self.0.get_or_insert_with(Box::default)
    }

    /// A meta holding one error.
    pub fn from_error(error: impl Into<Error>) -> Self {
        let mut meta = Meta::default();
        meta.add_error(error);
        meta
    }

    /// Whether nothing is recorded (such a meta is never serialized).
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|inner| inner.is_empty())
    }

    /// The errors, in the order they were added.
    pub fn errors(&self) -> &[Error] {
        self.0.as_ref().map_or(&[], |inner| &inner.errors)
    }

    /// Whether any error is recorded.
    pub fn has_errors(&self) -> bool {
        !self.errors().is_empty()
    }

    /// Adds an error unless an identical one is already recorded.
    pub fn add_error(&mut self, error: impl Into<Error>) {
        let error = error.into();
        let errors = &mut self.inner_mut().errors;
        if !errors.contains(&error) {
            errors.push(error);
        }
    }

    /// The remarks, in the order they were added.
    pub fn remarks(&self) -> &[Remark] {
        self.0.as_ref().map_or(&[], |inner| &inner.remarks)
    }

    /// Appends a remark.
    pub fn add_remark(&mut self, remark: Remark) {
        self.inner_mut().remarks.push(remark);
    }

    /// Removes all remarks.
    pub fn clear_remarks(&mut self) {
        if let Some(inner) = self.0.as_mut() {
            inner.remarks.clear();
        }
    }

    /// The original length: characters for strings, elements for containers.
    pub fn original_length(&self) -> Option<u64> {
        self.0.as_ref().and_then(|inner| inner.original_length)
    }

    /// Records the original length unless one is already recorded (the first modification
    /// wins, pii.md §8).
    pub fn set_original_length(&mut self, length: usize) {
        let inner = self.inner_mut();
        if inner.original_length.is_none() {
            inner.original_length = u64::try_from(length).ok();
        }
    }

    /// The original value.
    pub fn original_value(&self) -> Option<&Value> {
        self.0
            .as_ref()
            .and_then(|inner| inner.original_value.as_ref())
    }

    /// The original value, mutably (scrubbing may rewrite it).
    pub fn original_value_mut(&mut self) -> Option<&mut Value> {
        self.0
            .as_mut()
            .and_then(|inner| inner.original_value.as_mut())
    }

    /// Records the original value if its estimated JSON size is below
    /// [`MAX_ORIGINAL_VALUE_SIZE`]; a larger value is dropped silently and `None` clears it.
    pub fn set_original_value(&mut self, value: Option<Value>) {
        match value {
            Some(value) if value.estimate_json_size() < MAX_ORIGINAL_VALUE_SIZE => {
                self.inner_mut().original_value = Some(value);
            }
            Some(_) => {}
            None => {
                if let Some(inner) = self.0.as_mut() {
                    inner.original_value = None;
                }
            }
        }
    }

    /// Records `value` as the original value without the size check of
    /// [`Meta::set_original_value`]: for callers that measured the size differently
    /// ([`Meta::set_original_value_of`]).
    pub(crate) fn set_original_value_unchecked(&mut self, value: Value) {
        self.inner_mut().original_value = Some(value);
    }

    /// Takes the original value out.
    pub fn take_original_value(&mut self) -> Option<Value> {
        self.0
            .as_mut()
            .and_then(|inner| inner.original_value.take())
    }

    /// Merges `other` into this meta: errors (without duplicates) and remarks are appended; the
    /// original length and value of `self` win when both have one.
    pub fn merge(&mut self, other: Meta) {
        let Some(other) = other.0 else { return };
        if other.is_empty() {
            return;
        }
        for error in other.errors {
            self.add_error(error);
        }
        let inner = self.inner_mut();
        inner.remarks.extend(other.remarks);
        if inner.original_length.is_none() {
            inner.original_length = other.original_length;
        }
        if inner.original_value.is_none() {
            inner.original_value = other.original_value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_meta_is_one_pointer_and_allocates_nothing() {
        assert_eq!(std::mem::size_of::<Meta>(), std::mem::size_of::<usize>());
        let meta = Meta::default();
        assert!(meta.is_empty());
        assert!(meta.0.is_none());
        assert!(meta.errors().is_empty() && meta.remarks().is_empty());
    }

    #[test]
    fn identical_errors_are_added_once() {
        let mut meta = Meta::default();
        meta.add_error(Error::invalid("x"));
        meta.add_error(Error::invalid("x"));
        meta.add_error(ErrorKind::MissingAttribute);
        meta.add_error(Error::invalid("y"));
        assert_eq!(meta.errors().len(), 3);
        assert_eq!(meta.errors()[0].get("reason"), Some(&Value::from("x")));
    }

    #[test]
    fn original_value_is_kept_only_below_500_bytes() {
        let mut meta = Meta::default();
        // 498 characters + 2 quotes = 500 bytes: too big.
        meta.set_original_value(Some(Value::String("x".repeat(498))));
        assert!(meta.original_value().is_none());
        meta.set_original_value(Some(Value::String("x".repeat(497))));
        assert!(meta.original_value().is_some());
        meta.set_original_value(None);
        assert!(meta.is_empty());
    }

    #[test]
    fn json_size_estimate_matches_compact_json() {
        let mut object = Object::new();
        object.insert("a\"".into(), Annotated::new(Value::I64(-12)));
        object.insert("b".into(), Annotated::empty());
        let value = Value::Array(vec![
            Annotated::new(Value::Object(object)),
            Annotated::new(Value::F64(2.5)),
            Annotated::new(Value::F64(1e21)),
            Annotated::new(Value::Bool(false)),
            Annotated::new(Value::String("line\n\u{1}é".into())),
        ]);
        let text = r#"[{"a\"":-12,"b":null},2.5,1e+21,false,"line\n\u0001é"]"#;
        assert_eq!(value.estimate_json_size(), text.len());
    }

    #[test]
    fn merge_keeps_first_original_and_dedups_errors() {
        let mut a = Meta::from_error(ErrorKind::InvalidData);
        a.set_original_value(Some(Value::from("a")));
        let mut b = Meta::from_error(ErrorKind::InvalidData);
        b.add_remark(Remark::new(RemarkType::Removed, "r"));
        b.set_original_value(Some(Value::from("b")));
        b.set_original_length(3);
        a.merge(b);
        assert_eq!(a.errors().len(), 1);
        assert_eq!(a.remarks().len(), 1);
        assert_eq!(a.original_value(), Some(&Value::from("a")));
        assert_eq!(a.original_length(), Some(3));
    }

    #[test]
    fn unknown_error_kinds_round_trip() {
        assert_eq!(ErrorKind::parse("weird").as_str(), "weird");
        assert_eq!(ErrorKind::parse("clock_drift"), ErrorKind::ClockDrift);
    }
}
