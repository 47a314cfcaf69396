//! Legacy conversions (normalization.md §6.1) and the parse-time conversions of §2 that the
//! typed model of `relay-event` leaves to normalization.
//!
//! Runs first and always, also when renormalizing (§12):
//!
//! * the legacy interface aliases (`sentry.interfaces.Message`, `…User`, `…Http`,
//!   `…Contexts`, `…Breadcrumbs`, `…Exception`, `…Stacktrace`, `…Template`, `…Csp`) move to
//!   their modern keys; the modern key wins when both are present, the alias is consumed
//!   either way;
//! * the top-level `message`: a string becomes `logentry.formatted`, `false` is ignored, an
//!   object is parsed as a logentry, anything else becomes its JSON text in
//!   `logentry.formatted`; precedence `logentry` > `sentry.interfaces.Message` > `message`;
//! * `logentry.params` that is neither a list nor an object is `expected message parameters`;
//! * breadcrumb `ty` → `type` (the modern key wins);
//! * debug images of type `apple` become `macho` images (`name` → `code_file`, `uuid` →
//!   `debug_id`; `arch`, `image_addr`, `image_size`, `image_vmaddr` and unknown attributes
//!   carried over, `cpu_type` and `cpu_subtype` dropped); other native images take the
//!   legacy `name` as `code_file` and `id` as `debug_id` unless those are present (the alias
//!   is dropped either way);
//! * tag keys: spaces become `-`, then trimmed; tag values trimmed (§7.3 step 1, "at parse
//!   time", so before the schema checks see them);
//! * `user.ip_address` must be an IP address or `{{auto}}`, otherwise it becomes `null` with
//!   `expected an ip address` and its original value (§2).

use std::net::IpAddr;

use relay_event::schema::{
    Breadcrumb, Contexts, DebugId, DebugImage, Event, Exception, LogEntry, NativeDebugImage,
    Request, Stacktrace, Template, User, Values,
};
use relay_event::{Annotated, Error, FromValue, Object, Value};

/// Runs all legacy and parse-time conversions of this module on `event`.
pub fn convert_legacy(event: &mut Annotated<Event>) {
    let Some(event) = event.value_mut() else {
        return;
    };
    convert_interface_aliases(event);
    convert_message(event);
    validate_logentry_params(event);
    convert_breadcrumb_types(event);
    convert_debug_images(event);
    fix_tags(event);
    validate_ip_address(event);
}

/// Moves `other[alias]` into `target` unless `target` already has a value or meta.
fn take_alias<T: FromValue>(other: &mut Object<Value>, alias: &str, target: &mut Annotated<T>) {
    if let Some(value) = other.remove(alias) {
        if target.is_empty() {
            *target = T::from_value(value);
        }
    }
}

fn convert_interface_aliases(event: &mut Event) {
    let other = &mut event.other;
    take_alias::<User>(other, "sentry.interfaces.User", &mut event.user);
    take_alias::<Request>(other, "sentry.interfaces.Http", &mut event.request);
    take_alias::<Contexts>(other, "sentry.interfaces.Contexts", &mut event.contexts);
    take_alias::<Values<Breadcrumb>>(
        other,
        "sentry.interfaces.Breadcrumbs",
        &mut event.breadcrumbs,
    );
    take_alias::<Values<Exception>>(other, "sentry.interfaces.Exception", &mut event.exceptions);
    take_alias::<Stacktrace>(other, "sentry.interfaces.Stacktrace", &mut event.stacktrace);
    take_alias::<Template>(other, "sentry.interfaces.Template", &mut event.template);
    take_alias::<Value>(other, "sentry.interfaces.Csp", &mut event.csp);
}

/// The legacy `message` forms (§2): `false` is ignored, anything else is parsed as a logentry
/// (an object as its fields, any other value as the formatted text). Meta sent with the
/// message (e.g. the remarks of a client's trimming) goes with it: onto the logentry for an
/// object or `null`, onto `logentry.formatted` for text, as in Sentry's output.
fn message_to_logentry(value: Annotated<Value>) -> Option<Annotated<LogEntry>> {
    match value {
        Annotated(Some(Value::Bool(false)), _) => None,
        Annotated(None, meta) if meta.is_empty() => None,
        other => Some(LogEntry::from_value(other)),
    }
}

/// `logentry.params` must be a list or an object (else `expected message parameters`, the
/// original kept, as Sentry's parser does).
fn validate_logentry_params(event: &mut Event) {
    let Some(logentry) = event.logentry.value_mut() else {
        return;
    };
    let params = &mut logentry.params;
    if matches!(
        params.value(),
        None | Some(Value::Array(_) | Value::Object(_))
    ) {
        return;
    }
    let original = params.value_mut().take();
    let meta = params.meta_mut();
    meta.add_error(Error::expected("message parameters"));
    meta.set_original_value(original);
}

fn convert_message(event: &mut Event) {
    let interface = event.other.remove("sentry.interfaces.Message");
    let message = event.other.remove("message");
    if !event.logentry.is_empty() {
        return;
    }
    for candidate in [interface, message].into_iter().flatten() {
        if let Some(logentry) = message_to_logentry(candidate) {
            event.logentry = logentry;
            return;
        }
    }
}

fn convert_breadcrumb_types(event: &mut Event) {
    let Some(values) = event.breadcrumbs.value_mut() else {
        return;
    };
    let Some(crumbs) = values.values.value_mut() else {
        return;
    };
    for crumb in crumbs.iter_mut().filter_map(|c| c.value_mut().as_mut()) {
        if let Some(ty) = crumb.other.remove("ty") {
            if crumb.ty.is_empty() {
                crumb.ty = String::from_value(ty);
            }
        }
    }
}

fn convert_debug_images(event: &mut Event) {
    let Some(debug_meta) = event.debug_meta.value_mut() else {
        return;
    };
    let Some(images) = debug_meta.images.value_mut() else {
        return;
    };
    for image in images.iter_mut() {
        if let Some(DebugImage::Native(_, native)) = image.value_mut() {
            // Parse-time aliases of native images (StoreNormalizer 0.10.1): `name` for
            // `code_file`, `id` for `debug_id`; the modern key wins, the alias goes either way.
            take_alias(&mut native.other, "name", &mut native.code_file);
            take_alias(&mut native.other, "id", &mut native.debug_id);
            continue;
        }
        let Some(DebugImage::Apple(apple)) = image.value_mut() else {
            continue;
        };
        // `cpu_type` and `cpu_subtype` have no place in a macho image (StoreNormalizer drops
        // them); everything else keeps its value and meta.
        let apple = std::mem::take(&mut **apple);
        let native = NativeDebugImage {
            code_file: apple.name,
            debug_id: apple.uuid.map_value(DebugId::from),
            arch: apple.arch,
            image_addr: apple.image_addr,
            image_size: apple.image_size,
            image_vmaddr: apple.image_vmaddr,
            other: apple.other,
            ..NativeDebugImage::default()
        };
        image.set_value(Some(DebugImage::Native("macho", Box::new(native))));
    }
}

fn fix_tags(event: &mut Event) {
    let Some(tags) = event.tags.value_mut() else {
        return;
    };
    for entry in tags.iter_mut().filter_map(|e| e.value_mut().as_mut()) {
        if let Some(key) = entry.0.value_mut() {
            let fixed = key.replace(' ', "-");
            key.0 = fixed.trim().to_owned();
        }
        if let Some(value) = entry.1.value_mut() {
            let trimmed = value.trim();
            if trimmed.len() != value.len() {
                value.0 = trimmed.to_owned();
            }
        }
    }
}

/// Whether `text` is a valid `user.ip_address`: an IP address or `{{auto}}`.
pub fn is_valid_ip_address(text: &str) -> bool {
    text == "{{auto}}" || text.parse::<IpAddr>().is_ok()
}

fn validate_ip_address(event: &mut Event) {
    let Some(user) = event.user.value_mut() else {
        return;
    };
    let ip = &mut user.ip_address;
    if ip.value().is_some_and(|text| !is_valid_ip_address(text)) {
        let original = ip.take().map(Value::String);
        ip.meta_mut().add_error(Error::expected("an ip address"));
        ip.meta_mut().set_original_value(original);
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn convert(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        convert_legacy(&mut event);
        to_json(&event).unwrap_or_default()
    }

    #[test]
    fn interface_aliases_move_and_modern_keys_win() {
        assert_eq!(
            convert(json!({"sentry.interfaces.User": {"id": "1"},
                "sentry.interfaces.Http": {"url": "https://x/"},
                "request": {"url": "https://modern/"},
                "sentry.interfaces.Exception": {"values": [{"type": "E"}]}})),
            json!({"user": {"id": "1"}, "request": {"url": "https://modern/"},
                "exception": {"values": [{"type": "E"}]}})
        );
    }

    #[test]
    fn message_forms_and_precedence() {
        assert_eq!(
            convert(json!({"message": "hello"})),
            json!({"logentry": {"formatted": "hello"}})
        );
        assert_eq!(convert(json!({"message": false})), json!({}));
        assert_eq!(
            convert(json!({"message": {"message": "a %s", "params": ["b"]}})),
            json!({"logentry": {"message": "a %s", "params": ["b"]}})
        );
        assert_eq!(
            convert(json!({"message": [1, "x"]})),
            json!({"logentry": {"formatted": "[1,\"x\"]"}})
        );
        // §13: a `message` next to `logentry` is discarded.
        assert_eq!(
            convert(json!({"message": "m", "logentry": {"message": "l"}})),
            json!({"logentry": {"message": "l"}})
        );
        assert_eq!(
            convert(json!({"message": "m", "sentry.interfaces.Message": {"message": "i"}})),
            json!({"logentry": {"message": "i"}})
        );
    }

    #[test]
    fn logentry_params_must_be_a_list_or_an_object() {
        assert_eq!(
            convert(json!({"logentry": {"message": "m", "params": "p"}})),
            json!({"logentry": {"message": "m", "params": null}, "_meta": {"logentry": {
                "params": {"": {"err": [["invalid_data",
                    {"reason": "expected message parameters"}]], "val": "p"}}}}})
        );
        let params = json!({"logentry": {"message": "m", "params": {"a": 1}}});
        assert_eq!(convert(params.clone()), params);
    }

    #[test]
    fn message_meta_moves_with_the_message() {
        let remark = json!({"": {"len": 9000, "rem": [["!limit", "s", 0, 10]]}});
        assert_eq!(
            convert(json!({"message": "hello...", "_meta": {"message": remark}})),
            json!({"logentry": {"formatted": "hello..."},
                "_meta": {"logentry": {"formatted": remark}}})
        );
        assert_eq!(
            convert(json!({"message": 5, "_meta": {"message": remark}})),
            json!({"logentry": {"formatted": "5"}, "_meta": {"logentry": {"formatted": remark}}})
        );
        assert_eq!(
            convert(json!({"message": {"formatted": "f"}, "_meta": {"message": remark}})),
            json!({"logentry": {"formatted": "f"}, "_meta": {"logentry": remark}})
        );
        let error = json!({"": {"err": ["invalid_data"]}});
        assert_eq!(
            convert(json!({"message": null, "_meta": {"message": error}})),
            json!({"logentry": null, "_meta": {"logentry": error}})
        );
    }

    #[test]
    fn breadcrumb_ty_and_apple_images() {
        assert_eq!(
            convert(json!({"breadcrumbs": [{"ty": "http"}],
                "debug_meta": {"images": [{"type": "apple", "name": "/a",
                    "uuid": "C7AD3BE9111122223333444455556666", "arch": "arm64", "cpu_type": 1, "image_size": "big", "x": 1}]}})),
            json!({"breadcrumbs": {"values": [{"type": "http"}]},
                "debug_meta": {"images": [{"code_file": "/a",
                    "debug_id": "c7ad3be9-1111-2222-3333-444455556666", "arch": "arm64", "image_size": null, "x": 1, "type": "macho"}]},
                "_meta": {"debug_meta": {"images": {"0": {"image_size": {"": {"err": [[
                    "invalid_data", {"reason": "expected an unsigned integer"}]],
                    "val": "big"}}}}}}})
        );
    }

    #[test]
    fn native_image_aliases() {
        // StoreNormalizer 0.10.1 (with remove_other off); `sourcemap` has no aliases.
        let id = "ed72b7e0-7d1c-4ba6-a6e4-91c1a6a2dd3e";
        assert_eq!(
            convert(json!({"debug_meta": {"images": [
                {"type": "elf", "name": "/n", "id": id},
                {"type": "elf", "name": "/n", "code_file": "/c", "debug_id": id},
                {"type": "sourcemap", "name": "/n", "debug_id": id}]}})),
            json!({"debug_meta": {"images": [
                {"code_file": "/n", "debug_id": id, "type": "elf"},
                {"code_file": "/c", "debug_id": id, "type": "elf"},
                {"debug_id": id, "name": "/n", "type": "sourcemap"}]}})
        );
    }

    #[test]
    fn tag_keys_and_values_and_ip_addresses() {
        assert_eq!(
            convert(json!({"tags": {"bad key": " v ", " k": "x"},
                "user": {"ip_address": "not an ip"}})),
            json!({"user": {"ip_address": null}, "tags": [["-k", "x"], ["bad-key", "v"]],
                "_meta": {"user": {"ip_address": {"": {"err": [["invalid_data",
                    {"reason": "expected an ip address"}]], "val": "not an ip"}}}}})
        );
        assert_eq!(
            convert(json!({"user": {"ip_address": "{{auto}}"}})),
            json!({"user": {"ip_address": "{{auto}}"}})
        );
    }
}
