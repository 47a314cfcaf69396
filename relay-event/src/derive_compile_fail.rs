//! Shapes and attributes the derives reject at compile time (checked as `compile_fail`
//! doctests; the messages are `syn::Error`s pointing at the offending token).
//!
//! A tuple struct:
//!
//! ```compile_fail
//! use relay_event::{Annotated, FromValue};
//! #[derive(FromValue)]
//! struct Tuple(Annotated<String>);
//! ```
//!
//! An enum:
//!
//! ```compile_fail
//! use relay_event::IntoValue;
//! #[derive(IntoValue)]
//! enum Kind { A }
//! ```
//!
//! An unknown field attribute:
//!
//! ```compile_fail
//! use relay_event::{Annotated, ProcessValue, IntoValue};
//! #[derive(IntoValue, ProcessValue)]
//! struct S {
//!     #[metastructure(max_char = 3)]
//!     a: Annotated<String>,
//! }
//! ```
//!
//! A field that is not `Annotated<T>` nor marked `additional_properties`:
//!
//! ```compile_fail
//! use relay_event::FromValue;
//! #[derive(FromValue)]
//! struct S {
//!     a: String,
//! }
//! ```
//!
//! An invalid PII level:
//!
//! ```compile_fail
//! use relay_event::{Annotated, FromValue};
//! #[derive(FromValue)]
//! struct S {
//!     #[metastructure(pii = "sometimes")]
//!     a: Annotated<String>,
//! }
//! ```
//!
//! An unknown container attribute:
//!
//! ```compile_fail
//! use relay_event::{Annotated, FromValue};
//! #[derive(FromValue)]
//! #[metastructure(process_fn = "x")]
//! struct S {
//!     a: Annotated<String>,
//! }
//! ```
//!
//! The same serialized name twice:
//!
//! ```compile_fail
//! use relay_event::{Annotated, FromValue};
//! #[derive(FromValue)]
//! struct S {
//!     #[metastructure(field = "b")]
//!     a: Annotated<String>,
//!     b: Annotated<String>,
//! }
//! ```
//!
//! The control case compiles:
//!
//! ```
//! use relay_event::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};
//! #[derive(FromValue, IntoValue, ProcessValue)]
//! struct S {
//!     #[metastructure(field = "b", skip_serialization = "empty", required = "true")]
//!     a: Annotated<String>,
//!     #[metastructure(additional_properties)]
//!     other: Object<Value>,
//! }
//! ```
