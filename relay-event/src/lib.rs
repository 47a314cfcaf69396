//! The annotated event model: the foundation of event normalization (normalization.md §2,
//! §10, §11).
//!
//! Every value of an event is an [`Annotated`]: an optional value plus a [`Meta`] that records
//! what happened to it — errors (`invalid_data`, …), remarks of rules that changed it, its
//! original length and, for invalid or removed values, its original value. Serialized, the
//! metas form the `_meta` tree that mirrors the payload.
//!
//! * [`annotated`](Annotated), [`Meta`], [`Value`]: the core types ([`Array`] and [`Object`]
//!   hold annotated children, so meta can sit anywhere, also inside free-form data).
//! * [`FromValue`]: lenient parsing; a value of the wrong type becomes `None` with an
//!   `invalid_data` error and its original value, never a parse failure. [`Timestamp`],
//!   [`LenientString`] and [`JsonLenientString`] implement the coercions of normalization.md §2.
//! * [`IntoValue`]: the payload serializer and the collection of the [`MetaTree`];
//!   [`to_json`] / [`from_json`] join and split payload and `_meta`.
//! * The fast paths for JSON text, which build no `serde_json::Value` and give the same
//!   results: [`from_json_str`] / [`from_json_slice`] parse straight into the model
//!   ([`de`], through [`FromValue::deserialize_annotated`]); [`to_json_string`] /
//!   [`to_json_vec`] / [`to_json_writer`] write payload and `_meta` straight to bytes.
//! * [`ProcessValue`], [`Processor`], [`process_value`], [`ProcessingState`], [`FieldAttrs`]:
//!   the typed traversal every normalization step, trimmer and scrubber is written as.
//! * [`schema`]: the typed event schema (`Event` and its interfaces), built on the above.
//!
//! # Invariants
//!
//! * `null` is `Annotated(None, _)`; [`Value`] has no null variant.
//! * Parsing never fails and never loses information silently: what does not fit is either
//!   kept as the original value in meta or (when its JSON size is ≥ 500 bytes) only reported.
//! * An empty meta costs one null pointer and is never written; an identical error is not
//!   recorded twice on one value.
//! * Objects keep their keys sorted; struct fields are written in schema order
//!   (normalization.md §11), unknown attributes after them.
//!
//! # Implementing the traits for a schema struct (what a derive generates)
//!
//! For `struct S { a: Annotated<A>, …, other: Object<Value> }` with per-field attributes:
//!
//! * [`FromValue`]: accept [`Value::Object`]; for each field remove its key (a missing key is
//!   `Annotated::empty()`) and call `A::from_value`; the remaining keys become `other`. Any
//!   other value: [`invalid_type`]`(value, meta, "an object")`. `deserialize_annotated`
//!   streams an object key by key into the fields (the last occurrence of a key wins) and
//!   hands any other input to `from_value`.
//! * [`IntoValue`]: `into_value` builds a [`Value::Object`] of all fields (through
//!   [`Annotated::into_annotated_value`]) plus `other`; `serialize_payload` writes a map with
//!   each field in declaration order unless [`Annotated::skip_serialization`] says so, then
//!   `other`; `extract_child_meta` inserts each field's non-empty [`Annotated::meta_tree`]
//!   under its name (and those of `other`), only for fields whose [`Annotated::has_meta`]
//!   holds; `has_child_meta` is whether any field or unknown attribute has meta; `is_empty`
//!   is true when every field is skippable with [`SkipSerialization::Empty`] (whatever the
//!   field's own attribute: a struct of empty fields is empty, as Sentry treats it);
//!   `is_blank` when every field is skipped by its own attribute (written as `{}`). An unknown
//!   attribute named like a field is written once, at the field's place, with its own value
//!   (what a JSON object map would keep).
//! * [`ProcessValue`]: `process_child_values` calls [`process_value`] for each field with
//!   `state.enter_static("<name>", Some(Cow::Borrowed(&FIELD_ATTRS)))` (a `static`
//!   [`FieldAttrs`] built with its `const` builders), then [`Processor::process_other`] on
//!   `other`. A struct with its own processor hook overrides `process_value` to call it.
//!
//! The derives [`FromValue`](macro@FromValue), [`IntoValue`](macro@IntoValue) and
//! [`ProcessValue`](macro@ProcessValue) (from the `relay-event-derive` crate, re-exported here
//! under the names of their traits, like serde does) generate exactly this from
//! `#[metastructure(...)]` field attributes:
//!
//! ```
//! use relay_event::{from_json, Annotated, FromValue, IntoValue, Object, ProcessValue, Value};
//!
//! #[derive(Debug, Default, FromValue, IntoValue, ProcessValue)]
//! struct User {
//!     #[metastructure(max_chars = 128, pii = "true")]
//!     id: Annotated<String>,
//!     #[metastructure(field = "ip_address", pii = "true")]
//!     ip: Annotated<String>,
//!     #[metastructure(additional_properties)]
//!     other: Object<Value>,
//! }
//!
//! let user: Annotated<User> = from_json(serde_json::json!({"ip_address": "::1", "x": 1}));
//! let user = user.value().unwrap();
//! assert_eq!(user.ip.value().map(String::as_str), Some("::1"));
//! assert!(user.other.contains_key("x"));
//! ```

#![warn(missing_docs)]

// Lets the derives' `::relay_event::…` paths resolve inside this crate, too.
extern crate self as relay_event;

mod annotated;
mod attrs;
#[cfg(doctest)]
mod derive_compile_fail;
mod from_value;
pub mod fuzzing;
mod into_value;
pub mod json;
mod lenient;
mod meta_tree;
mod processor;
pub mod schema;
mod state;
mod timestamp;

#[cfg(test)]
mod testutils;

pub use annotated::{
    Annotated, Array, Error, ErrorKind, Meta, Object, Remark, RemarkType, Value,
    MAX_ORIGINAL_VALUE_SIZE,
};
pub use attrs::{CharacterSet, FieldAttrs, Pii, DEFAULT_FIELD_ATTRS};
pub use from_value::{annotated_from_json, invalid_type, FromValue};
pub use into_value::{
    IntoValue, SerializePayload, SerializePayloadWithoutBlankElements, SkipSerialization,
};
pub use json::{
    from_json, from_json_slice, from_json_str, to_json, to_json_string, to_json_vec, to_json_writer,
};
pub use lenient::{JsonLenientString, LenientString};
pub use meta_tree::{MetaMap, MetaTree};
pub use processor::{process_value, ProcessValue, ProcessingAction, ProcessingResult, Processor};
pub use state::{Path, ProcessingState, Segment};
pub use timestamp::Timestamp;

/// The streaming JSON parser (a child of `from_value`: it fills [`FromValue`] types).
pub use from_value::de;

pub use relay_event_derive::{FromValue, IntoValue, ProcessValue};

/// Not public API: what the derives' generated code needs.
#[doc(hidden)]
pub mod __private {
    pub use serde;

    pub use crate::de::{
        deserialize_ignored, deserialize_other, deserialize_struct, deserialize_struct_into,
        AnnotatedSeed, DeserializeFields, FieldSeed, KeySeed,
    };
    pub use crate::json::ser::other_override;
}
