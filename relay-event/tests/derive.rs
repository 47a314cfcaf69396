//! The derives of `relay-event-derive` on a small two-level schema: lenient parsing, unknown
//! attributes, serialization order, `_meta`, round trips and the attributes processors see.

use std::cell::Cell;

use relay_event::{
    from_json, process_value, to_json_string, Annotated, FieldAttrs, FromValue, IntoValue, Meta,
    Object, Pii, ProcessValue, ProcessingResult, ProcessingState, Processor, Value,
};
use serde_json::json;

#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
struct Event {
    #[metastructure(max_chars = 32, nonempty = true, trim_whitespace = "true")]
    level: Annotated<String>,
    #[metastructure(max_chars = 8192, max_chars_allowance = 200, pii = "maybe")]
    message: Annotated<String>,
    #[metastructure(skip_serialization = "never")]
    release: Annotated<String>,
    #[metastructure(pii = "true", max_bytes = 8192, skip_serialization = "empty")]
    tags: Annotated<Object<Value>>,
    user: Annotated<User>,
    #[metastructure(additional_properties)]
    other: Object<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(process_func = "process_user")]
struct User {
    #[metastructure(required = true, max_chars = 128)]
    id: Annotated<String>,
    #[metastructure(field = "email", pii = "true", max_chars = 75, retain = true)]
    mail: Annotated<String>,
    #[metastructure(additional_properties)]
    other: Object<Value>,
}

thread_local! {
    static USER_HOOK_CALLS: Cell<usize> = const { Cell::new(0) };
}

/// The processor hook named by `process_func`: here an extension trait for every processor.
trait UserHook: Processor {
    fn process_user(
        &mut self,
        user: &mut User,
        meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult;
}

impl<P: Processor> UserHook for P {
    fn process_user(
        &mut self,
        user: &mut User,
        _meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        USER_HOOK_CALLS.with(|calls| calls.set(calls.get() + 1));
        user.process_child_values(self, state)
    }
}

fn text<T: IntoValue>(annotated: &Annotated<T>) -> String {
    to_json_string(annotated).unwrap_or_else(|err| err.to_string())
}

#[test]
fn parses_leniently_and_keeps_unknown_attributes() {
    let event: Annotated<Event> = from_json(json!({
        "platform": "rust",
        "user": {"name": "Jane", "email": ["not", "a", "string"], "id": "u1"},
        "tags": {"a": "b"},
        "message": "hello",
        "level": 42,
    }));
    let value = event.value().expect("an event");
    assert_eq!(value.level.value(), None);
    assert_eq!(value.level.meta().original_value(), Some(&Value::I64(42)));
    assert_eq!(
        value.other.get("platform"),
        Some(&Annotated::new(Value::from("rust")))
    );
    let user = value.user.value().expect("a user");
    assert_eq!(user.id.value().map(String::as_str), Some("u1"));
    assert_eq!(user.other.keys().collect::<Vec<_>>(), ["name"]);

    // Declaration order, then unknown attributes; `release` is never skipped; `_meta` last.
    assert_eq!(
        text(&event),
        concat!(
            r#"{"level":null,"message":"hello","release":null,"tags":{"a":"b"},"#,
            r#""user":{"id":"u1","email":null,"name":"Jane"},"platform":"rust","#,
            r#""_meta":{"level":{"":{"err":[["invalid_data",{"reason":"expected a string"}]],"val":42}},"#,
            r#""user":{"email":{"":{"err":[["invalid_data",{"reason":"expected a string"}]],"#,
            r#""val":["not","a","string"]}}}}}"#
        )
    );
}

#[test]
fn wrong_type_for_a_struct_is_invalid_data() {
    // The expectation is the struct's name in lower case (Sentry's wording).
    let event: Annotated<Event> = from_json(json!({"user": "jane"}));
    assert_eq!(
        text(&event),
        concat!(
            r#"{"release":null,"user":null,"#,
            r#""_meta":{"user":{"":{"err":[["invalid_data",{"reason":"expected user"}]],"val":"jane"}}}}"#
        )
    );
}

#[test]
fn round_trips_unchanged() {
    let input = json!({
        "level": "error",
        "message": "",
        "release": "1.0",
        "tags": {"a": "b", "c": null},
        "user": {"id": 5, "email": "jane@example.org", "extra": {"deep": [1, 2.5, true]}},
        "zzz": "kept",
    });
    let event: Annotated<Event> = from_json(input);
    let first = text(&event);
    let reparsed: Annotated<Event> = from_json(serde_json::from_str(&first).expect("json"));
    assert_eq!(reparsed, event);
    assert_eq!(text(&reparsed), first);
    // An empty string is not null: kept with the default `skip_serialization = "null"`.
    assert!(first.starts_with(r#"{"level":"error","message":"","release":"1.0""#));
}

#[test]
fn skip_serialization_and_emptiness() {
    let event: Annotated<Event> = from_json(json!({"tags": {}, "user": {}}));
    // `tags` (empty) is skipped, `release` (never) is written, `user` (null mode) is written.
    assert_eq!(text(&event), r#"{"release":null,"user":{}}"#);
    assert!(Event::default().is_empty());
    assert!(event.value().is_some_and(IntoValue::is_empty));
    let mut user = User::default();
    user.other
        .insert("x".into(), Annotated::new(Value::from("y")));
    assert!(!user.is_empty());
}

#[test]
fn into_value_builds_an_object_of_all_fields() {
    let event: Annotated<Event> = from_json(json!({"level": "info", "user": {"id": "u"}, "k": 1}));
    let Annotated(Some(Value::Object(map)), _) = event.into_annotated_value() else {
        panic!("expected an object");
    };
    assert_eq!(
        map.keys().map(String::as_str).collect::<Vec<_>>(),
        ["k", "level", "message", "release", "tags", "user"]
    );
    let Some(Value::Object(user)) = map.get("user").and_then(Annotated::value) else {
        panic!("expected a user object");
    };
    assert_eq!(
        user.get("id").and_then(Annotated::value),
        Some(&Value::from("u"))
    );
    assert!(user.contains_key("email"));
}

/// Records the path and attributes of every value it visits.
#[derive(Default)]
struct Recorder(Vec<(String, FieldAttrs)>);

impl Processor for Recorder {
    fn before_process<T: ProcessValue>(
        &mut self,
        _value: Option<&T>,
        _meta: &mut Meta,
        state: &ProcessingState<'_>,
    ) -> ProcessingResult {
        self.0.push((state.path().to_string(), *state.attrs()));
        Ok(())
    }
}

#[test]
fn processor_sees_paths_and_field_attributes() {
    let mut event: Annotated<Event> = from_json(json!({
        "level": "error",
        "tags": {"t": "v"},
        "user": {"id": "u1", "email": "a@b.c", "name": "Jane"},
        "platform": "rust",
    }));
    let mut recorder = Recorder::default();
    let calls_before = USER_HOOK_CALLS.with(Cell::get);
    assert_eq!(
        process_value(&mut event, &mut recorder, &ProcessingState::root()),
        Ok(())
    );
    assert_eq!(USER_HOOK_CALLS.with(Cell::get), calls_before + 1);

    let paths: Vec<&str> = recorder.0.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "",
            "level",
            "message",
            "release",
            "tags",
            "tags.t",
            "user",
            "user.id",
            "user.email",
            "user.name",
            "platform",
        ]
    );
    let attrs = |path: &str| {
        recorder
            .0
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, attrs)| *attrs)
            .expect("visited")
    };

    let level = attrs("level");
    assert_eq!(level.name, Some("level"));
    assert!(level.nonempty && level.trim_whitespace && !level.required);
    assert_eq!((level.max_chars, level.max_chars_allowance), (Some(32), 0));

    let message = attrs("message");
    assert_eq!(
        (message.max_chars, message.max_chars_allowance),
        (Some(8192), 200)
    );
    assert_eq!(message.pii, Pii::Maybe);

    let tags = attrs("tags");
    assert_eq!(
        (tags.pii, tags.max_bytes, tags.max_depth),
        (Pii::True, Some(8192), None)
    );
    // Children of a container inherit only the PII level.
    assert_eq!(attrs("tags.t"), FieldAttrs::new().pii(Pii::True));

    let id = attrs("user.id");
    assert!(id.required);
    assert_eq!(
        (id.name, id.max_chars, id.pii),
        (Some("id"), Some(128), Pii::False)
    );

    let email = attrs("user.email");
    assert_eq!(
        email,
        FieldAttrs::new()
            .name("email")
            .pii(Pii::True)
            .max_chars(75, 0)
            .retain(true)
    );

    // Unknown attributes are visited at the struct's state with default attributes.
    assert_eq!(attrs("user.name"), FieldAttrs::new());
    assert_eq!(attrs("platform"), FieldAttrs::new());
    assert_eq!(attrs("user").name, Some("user"));
}

const DIST_CHARS: relay_event::CharacterSet =
    relay_event::CharacterSet::allow(&[('a', 'z'), ('0', '9'), ('.', '.')]);

#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
struct WithCharacters {
    #[metastructure(characters = DIST_CHARS, max_chars = LIMIT)]
    dist: Annotated<String>,
}

const LIMIT: usize = 64;

#[test]
fn characters_and_constant_limits_and_no_additional_properties() {
    let mut value: Annotated<WithCharacters> = from_json(json!({"dist": "1.0", "unknown": 1}));
    // Without an `additional_properties` field, unknown attributes are dropped.
    assert_eq!(text(&value), r#"{"dist":"1.0"}"#);
    let mut recorder = Recorder::default();
    assert_eq!(
        process_value(&mut value, &mut recorder, &ProcessingState::root()),
        Ok(())
    );
    let dist = recorder
        .0
        .iter()
        .find(|(p, _)| p == "dist")
        .map(|(_, a)| *a);
    assert_eq!(
        dist,
        Some(
            FieldAttrs::new()
                .name("dist")
                .max_chars(64, 0)
                .characters(DIST_CHARS)
        )
    );
}

#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "a location")]
struct Place {
    name: Annotated<String>,
}

#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(from_non_object = "from_name")]
struct Named {
    name: Annotated<String>,
}

impl Named {
    fn from_name(value: Value, meta: Meta) -> Annotated<Self> {
        let name = match value {
            Value::String(name) => name,
            _ => "?".to_owned(),
        };
        Annotated::new(Named {
            name: Annotated(Some(name), meta),
        })
    }
}

#[test]
fn container_attributes_for_non_object_values() {
    let place: Annotated<Place> = from_json(json!(5));
    assert_eq!(
        text(&place),
        r#"null"#,
        "the payload of an invalid value is null"
    );
    assert_eq!(
        place.meta().errors()[0].get("reason"),
        Some(&Value::from("expected a location"))
    );
    let named: Annotated<Named> = from_json(json!("Ada"));
    assert_eq!(text(&named), r#"{"name":"Ada"}"#);
}
