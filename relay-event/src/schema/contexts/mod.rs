//! [`Contexts`]: the event's contexts by name, and the typed [`Context`]s.
//!
//! `contexts` is an object from a freely chosen name to a context object. A context's `type`
//! names its kind; a context without a string `type` gets its key as `type` when parsed
//! (normalization.md §2), so `{"os": {"name": "Linux"}}` is an OS context. Known types are
//! parsed into their typed structs (one module each, fields from the published event schema),
//! every other type is kept as an untyped object ([`Context::Other`]) with its `type`.
//! A typed context writes its `type` after its fields and unknown attributes; the type itself
//! is not a field and is not visited by processors.
//!
//! A context value that is not an object becomes `null` with `invalid_data` `expected a
//! context` and its original value; a `contexts` value that is not an object is `expected
//! contexts`.

mod app;
mod browser;
mod cloud_resource;
mod culture;
mod device;
mod flags;
mod gpu;
mod nel;
mod os;
mod otel;
mod performance_score;
mod profile;
mod replay;
mod response;
mod runtime;
mod state;
mod trace;

use serde::Serializer;

use super::pairs::container_newtype;
use crate::{
    invalid_type, Annotated, FromValue, IntoValue, Meta, MetaMap, Object, ProcessValue,
    ProcessingResult, ProcessingState, Processor, Value,
};

pub use app::AppContext;
pub use browser::BrowserContext;
pub use cloud_resource::CloudResourceContext;
pub use culture::CultureContext;
pub use device::DeviceContext;
pub use flags::{FlagEntry, FlagsContext};
pub use gpu::GpuContext;
pub use nel::NelContext;
pub use os::{LinuxDistribution, OsContext};
pub use otel::OtelContext;
pub use performance_score::PerformanceScoreContext;
pub use profile::ProfileContext;
pub use replay::ReplayContext;
pub use response::ResponseContext;
pub use runtime::RuntimeContext;
pub use state::{StateContext, StateValue};
pub use trace::{SpanId, SpanStatus, TraceContext, TraceId};

mod type_serializer;

/// Declares [`Context`] with one variant per known type and its dispatch.
macro_rules! contexts {
    ($($variant:ident($ty:ty) = $name:literal,)*) => {
        /// One context: a known type parsed into its struct, or an untyped object.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Context {
            $(
                #[doc = concat!("A context of type `", $name, "`.")]
                $variant(Box<$ty>),
            )*
            /// A context of any other type, kept as an object (its `type` included).
            Other(Object<Value>),
        }

        impl Context {
            /// Whether `ty` names a typed context.
            fn is_known(ty: &str) -> bool {
                matches!(ty, $($name)|*)
            }

            /// The type name of a known context, `None` for [`Context::Other`].
            pub fn known_type(&self) -> Option<&'static str> {
                match self {
                    $(Context::$variant(_) => Some($name),)*
                    Context::Other(_) => None,
                }
            }

            /// Parses a context object whose `type` (a string) is `ty`.
            fn parse(ty: &str, object: Object<Value>, meta: Meta) -> Annotated<Self> {
                let value = Annotated(Some(Value::Object(object)), meta);
                match ty {
                    $($name => <$ty>::from_value(value).map_value(|c| Context::$variant(Box::new(c))),)*
                    _ => Object::<Value>::from_value(value).map_value(Context::Other),
                }
            }
        }

        impl IntoValue for Context {
            fn into_value(self) -> Value {
                match self {
                    $(Context::$variant(context) => with_type(context.into_value(), $name),)*
                    Context::Other(object) => Value::Object(object),
                }
            }

            fn serialize_payload<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Context::$variant(context) => context
                        .serialize_payload(type_serializer::AppendType::new(serializer, $name)),)*
                    Context::Other(object) => object.serialize_payload(serializer),
                }
            }

            fn extract_child_meta(&self) -> MetaMap {
                match self {
                    $(Context::$variant(context) => context.extract_child_meta(),)*
                    Context::Other(object) => object.extract_child_meta(),
                }
            }

            fn has_child_meta(&self) -> bool {
                match self {
                    $(Context::$variant(context) => context.has_child_meta(),)*
                    Context::Other(object) => object.has_child_meta(),
                }
            }

            // A typed context always has its `type`, so it is never empty.
            fn is_empty(&self) -> bool {
                false
            }
        }

        impl ProcessValue for Context {
            fn process_value<P: Processor>(
                &mut self,
                meta: &mut Meta,
                processor: &mut P,
                state: &ProcessingState<'_>,
            ) -> ProcessingResult {
                match self {
                    $(Context::$variant(context) => context.process_value(meta, processor, state),)*
                    Context::Other(object) => processor.process_object(object, meta, state),
                }
            }

            fn process_child_values<P: Processor>(
                &mut self,
                processor: &mut P,
                state: &ProcessingState<'_>,
            ) -> ProcessingResult {
                match self {
                    $(Context::$variant(context) => context.process_child_values(processor, state),)*
                    Context::Other(object) => object.process_child_values(processor, state),
                }
            }
        }
    };
}

contexts! {
    Device(DeviceContext) = "device",
    Os(OsContext) = "os",
    Runtime(RuntimeContext) = "runtime",
    App(AppContext) = "app",
    Browser(BrowserContext) = "browser",
    Gpu(GpuContext) = "gpu",
    Trace(TraceContext) = "trace",
    Profile(ProfileContext) = "profile",
    Replay(ReplayContext) = "replay",
    Response(ResponseContext) = "response",
    Otel(OtelContext) = "otel",
    CloudResource(CloudResourceContext) = "cloud_resource",
    Culture(CultureContext) = "culture",
    State(StateContext) = "state",
    Flags(FlagsContext) = "flags",
    Nel(NelContext) = "nel",
    PerformanceScore(PerformanceScoreContext) = "performance_score",
}

/// Adds `"type": name` to the object a typed context was turned into.
fn with_type(value: Value, name: &str) -> Value {
    match value {
        Value::Object(mut object) => {
            object.insert("type".to_owned(), Annotated::new(Value::from(name)));
            Value::Object(object)
        }
        other => other,
    }
}

/// Parses one context: `type` defaults from `key` (normalization.md §2), non-objects are
/// `invalid_data`.
fn parse_context(key: &str, value: Annotated<Value>) -> Annotated<Context> {
    match value {
        Annotated(Some(Value::Object(mut object)), meta) => {
            let ty = match object
                .get("type")
                .and_then(|t| t.value())
                .and_then(Value::as_str)
            {
                Some(ty) => ty.to_owned(),
                None => {
                    object.insert("type".to_owned(), Annotated::new(Value::from(key)));
                    key.to_owned()
                }
            };
            if Context::is_known(&ty) {
                object.remove("type");
            }
            Context::parse(&ty, object, meta)
        }
        Annotated(Some(other), meta) => invalid_type(other, meta, "an object"),
        Annotated(None, meta) => Annotated(None, meta),
    }
}

impl Context {
    /// The context's type: the known type's name, or the `type` of an untyped context.
    pub fn ty(&self) -> Option<&str> {
        match self {
            Context::Other(object) => object.get("type").and_then(|t| t.value()?.as_str()),
            known => known.known_type(),
        }
    }
}

/// The contexts of an event by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Contexts(pub Object<Context>);

impl Contexts {
    /// The context stored under `key`, if present and valid.
    pub fn get(&self, key: &str) -> Option<&Context> {
        self.0.get(key)?.value()
    }

    /// The trace context (under the key `trace`).
    pub fn trace(&self) -> Option<&TraceContext> {
        match self.get("trace")? {
            Context::Trace(trace) => Some(trace),
            _ => None,
        }
    }

    /// The trace context (under the key `trace`), mutably; `None` when absent, invalid or of
    /// another type.
    pub fn trace_mut(&mut self) -> Option<&mut TraceContext> {
        match self.0.get_mut("trace")?.value_mut().as_mut()? {
            Context::Trace(trace) => Some(trace),
            _ => None,
        }
    }
}

container_newtype!(Contexts, Object<Context>, process_object);

impl FromValue for Contexts {
    fn from_value(value: Annotated<Value>) -> Annotated<Self> {
        match value {
            Annotated(Some(Value::Object(map)), meta) => Annotated(
                Some(Contexts(
                    map.into_iter()
                        .map(|(key, value)| {
                            let context = parse_context(&key, value);
                            (key, context)
                        })
                        .collect(),
                )),
                meta,
            ),
            Annotated(Some(other), meta) => invalid_type(other, meta, "contexts"),
            Annotated(None, meta) => Annotated(None, meta),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    fn parse(input: serde_json::Value) -> Contexts {
        let contexts: Annotated<Contexts> = from_json(input);
        contexts.value().cloned().unwrap_or_default()
    }

    #[test]
    fn type_defaults_from_the_key() {
        let contexts = parse(json!({
            "os": {"name": "Linux"},
            "client_os": {"type": "os", "name": "Windows"},
            "device": {"type": 5, "model": "Pixel"},
            "redux.state": {"value": 1},
        }));
        assert!(matches!(contexts.get("os"), Some(Context::Os(_))));
        assert!(matches!(contexts.get("client_os"), Some(Context::Os(_))));
        assert!(matches!(contexts.get("device"), Some(Context::Device(_))));
        assert_eq!(
            contexts.get("redux.state").and_then(Context::ty),
            Some("redux.state")
        );
        let output = to_json(&Annotated::new(contexts)).unwrap_or_default();
        assert_eq!(
            output,
            json!({
                "os": {"name": "Linux", "type": "os"},
                "client_os": {"name": "Windows", "type": "os"},
                "device": {"model": "Pixel", "type": "device"},
                "redux.state": {"value": 1, "type": "redux.state"},
            })
        );
    }

    #[test]
    fn every_known_type_is_typed_and_keeps_unknown_attributes() {
        for ty in [
            "device",
            "os",
            "runtime",
            "app",
            "browser",
            "gpu",
            "trace",
            "profile",
            "replay",
            "response",
            "otel",
            "cloud_resource",
            "culture",
            "state",
            "flags",
            "nel",
            "performance_score",
        ] {
            let input = json!({"ctx": {"type": ty, "custom": {"a": [1, 2]}}});
            let contexts = parse(input.clone());
            let context = contexts.get("ctx");
            assert_eq!(context.and_then(Context::known_type), Some(ty));
            let output = to_json(&Annotated::new(contexts)).unwrap_or_default();
            assert_eq!(output, input, "{ty}");
        }
    }

    #[test]
    fn unknown_types_stay_untyped() {
        let input = json!({"Unreal Engine": {"type": "Unreal Engine", "x": {"y": 1}},
            "unity": {"a": true}});
        let contexts = parse(input);
        assert!(matches!(
            contexts.get("Unreal Engine"),
            Some(Context::Other(_))
        ));
        let output = to_json(&Annotated::new(contexts)).unwrap_or_default();
        assert_eq!(output["unity"], json!({"a": true, "type": "unity"}));
    }

    #[test]
    fn invalid_values_are_null_with_meta() {
        let contexts: Annotated<Contexts> = from_json(json!({
            "os": "Linux",
            "gone": null,
            "trace": {"trace_id": "nope", "span_id": "babaae0d4b7512d9"},
            "runtime": {"name": ["x"]},
        }));
        let output = to_json(&contexts).unwrap_or_default();
        assert_eq!(output["os"], serde_json::Value::Null);
        assert_eq!(output["_meta"]["os"][""]["err"][0][0], "invalid_data");
        assert_eq!(
            output["_meta"]["os"][""]["err"][0][1]["reason"],
            "expected an object"
        );
        assert_eq!(output["_meta"]["os"][""]["val"], "Linux");
        assert_eq!(output["_meta"]["trace"]["trace_id"][""]["val"], "nope");
        assert_eq!(output["trace"]["type"], "trace");
        assert_eq!(output["_meta"]["runtime"]["name"][""]["val"], json!(["x"]));

        let contexts: Annotated<Contexts> = from_json(json!([1]));
        assert!(contexts.value().is_none());
        assert_eq!(
            contexts.meta().errors()[0].get("reason"),
            Some(&Value::from("expected contexts"))
        );
        assert_eq!(
            contexts.meta().original_value(),
            Some(&Value::Array(vec![Annotated::new(Value::I64(1))]))
        );
    }

    #[test]
    fn trace_accessor() {
        let contexts = parse(
            json!({"trace": {"trace_id": "a7d67cf796774551a95be6543cacd459",
            "span_id": "babaae0d4b7512d9"}}),
        );
        let trace = contexts.trace().cloned().unwrap_or_default();
        assert_eq!(
            trace.span_id.value().map(SpanId::as_str),
            Some("babaae0d4b7512d9")
        );
    }
}
