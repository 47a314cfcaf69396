//! Release, environment and dist (normalization.md §7 steps 6, 7 and 12).
//!
//! An invalid release or environment is removed, its original value kept and an
//! `invalid_data` error without reason recorded. A release is invalid when it is longer than
//! 200 bytes, exactly `.` or `..`, equal to `latest` (any case) or contains `/`, `\r`, `\n`,
//! `\t` or a form feed; an environment when it is longer than 64 bytes, `.` or `..`, `none`
//! (any case) or contains one of those characters. A dist is trimmed, removed silently when
//! empty and removed with `value_too_long` (original kept) above 64 characters.

use relay_event::schema::Event;
use relay_event::{Annotated, ErrorKind, IntoValue};

fn has_forbidden_char(text: &str) -> bool {
    text.contains(['/', '\r', '\n', '\t', '\u{c}'])
}

/// Whether `release` passes release validation (§7 step 6).
pub fn is_valid_release(release: &str) -> bool {
    release.len() <= 200
        && release != "."
        && release != ".."
        && !release.eq_ignore_ascii_case("latest")
        && !has_forbidden_char(release)
}

/// Whether `environment` passes environment validation (§7 step 7).
pub fn is_valid_environment(environment: &str) -> bool {
    environment.len() <= 64
        && environment != "."
        && environment != ".."
        && !environment.eq_ignore_ascii_case("none")
        && !has_forbidden_char(environment)
}

/// Removes the value, keeping it as the original value, with `kind` as error.
fn reject<T: IntoValue>(annotated: &mut Annotated<T>, kind: ErrorKind) {
    if let Some(value) = annotated.take() {
        let meta = annotated.meta_mut();
        meta.add_error(kind);
        meta.set_original_value(Some(value.into_value()));
    }
}

/// Steps 6 and 7: validates `release` and `environment`.
pub fn normalize_release_and_environment(event: &mut Event) {
    if event
        .release
        .value()
        .is_some_and(|release| !is_valid_release(release))
    {
        reject(&mut event.release, ErrorKind::InvalidData);
    }
    if event
        .environment
        .value()
        .is_some_and(|environment| !is_valid_environment(environment))
    {
        reject(&mut event.environment, ErrorKind::InvalidData);
    }
}

/// Step 12: trims `dist`, drops an empty one and rejects one above 64 characters.
pub fn normalize_dist(event: &mut Event) {
    let Some(dist) = event.dist.value_mut() else {
        return;
    };
    let trimmed = dist.trim();
    if trimmed.len() != dist.len() {
        *dist = trimmed.to_owned();
    }
    if dist.is_empty() {
        event.dist.set_value(None);
    } else if dist.chars().count() > 64 {
        reject(&mut event.dist, ErrorKind::ValueTooLong);
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    fn run(input: serde_json::Value) -> serde_json::Value {
        let mut event: Annotated<Event> = from_json(input);
        if let Some(event) = event.value_mut() {
            normalize_release_and_environment(event);
            normalize_dist(event);
        }
        to_json(&event).unwrap_or_default()
    }

    #[test]
    fn invalid_release_and_environment() {
        // §13: `{"release": "latest"}`, `{"environment": "none"}`.
        assert_eq!(
            run(json!({"release": "latest", "environment": "none"})),
            json!({"release": null, "environment": null, "_meta": {
                "release": {"": {"err": ["invalid_data"], "val": "latest"}},
                "environment": {"": {"err": ["invalid_data"], "val": "none"}}}})
        );
        assert_eq!(run(json!({"release": 123})), json!({"release": "123"}));
        for bad in [".", "..", "LATEST", "a/b", "a\tb", "x".repeat(201).as_str()] {
            assert!(!is_valid_release(bad), "{bad}");
        }
        assert!(is_valid_release("backend@1.2.0"));
        assert!(is_valid_release(&"x".repeat(200)));
        assert!(!is_valid_environment(&"x".repeat(65)));
        assert!(!is_valid_environment("None"));
        assert!(is_valid_environment("production"));
    }

    #[test]
    fn dist_too_long() {
        // §13: `{"dist": "x" * 70}`.
        let long = "x".repeat(70);
        assert_eq!(
            run(json!({"dist": long})),
            json!({"dist": null, "_meta": {"dist": {"": {"err": ["value_too_long"],
                "val": long}}}})
        );
        assert_eq!(run(json!({"dist": " 1 "})), json!({"dist": "1"}));
    }
}
