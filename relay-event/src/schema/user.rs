//! [`User`] and [`Geo`]: the user affected by the event.
//!
//! Limits (normalization.md §8.1): `id`, `username`, `name` 128, `email` 75; geo
//! `country_code` 102 (+1004), `city`, `subdivision`, `region` 1024 (+100). `id` and
//! `username` are lenient strings (normalization.md §2). PII (pii.md): everything `true`.
//! `ip_address` is kept as a string; its validation is a normalization step (§7.1).

use crate::{Annotated, FromValue, IntoValue, LenientString, Object, ProcessValue, Value};

/// Information about the user.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct User {
    /// The unique id of the user.
    #[metastructure(pii = "true", max_chars = 128, skip_serialization = "empty")]
    pub id: Annotated<LenientString>,
    /// The email address.
    #[metastructure(pii = "true", max_chars = 75, skip_serialization = "empty")]
    pub email: Annotated<String>,
    /// The remote IP address (`{{auto}}` for the client address).
    #[metastructure(pii = "true")]
    pub ip_address: Annotated<String>,
    /// The username.
    #[metastructure(pii = "true", max_chars = 128, skip_serialization = "empty")]
    pub username: Annotated<LenientString>,
    /// The human-readable name.
    #[metastructure(pii = "true", max_chars = 128, skip_serialization = "empty")]
    pub name: Annotated<String>,
    /// The user as Sentry shows it (`id:…`, `email:…`, …).
    #[metastructure(pii = "true")]
    pub sentry_user: Annotated<String>,
    /// Approximate location.
    #[metastructure(pii = "true", skip_serialization = "empty")]
    pub geo: Annotated<Geo>,
    /// The user segment.
    #[metastructure(skip_serialization = "empty")]
    pub segment: Annotated<String>,
    /// Additional data.
    #[metastructure(pii = "true", skip_serialization = "empty")]
    pub data: Annotated<Object<Value>>,
    /// Unknown attributes (moved into `data` by normalization).
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

/// The approximate geographical location of a user.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
pub struct Geo {
    /// Two-letter country code (ISO 3166-1 alpha-2).
    #[metastructure(pii = "true", max_chars = 102, max_chars_allowance = 1004)]
    pub country_code: Annotated<String>,
    /// City name.
    #[metastructure(pii = "true", max_chars = 1024, max_chars_allowance = 100)]
    pub city: Annotated<String>,
    /// ISO 3166-2 subdivision name.
    #[metastructure(pii = "true", max_chars = 1024, max_chars_allowance = 100)]
    pub subdivision: Annotated<String>,
    /// Region name.
    #[metastructure(pii = "true", max_chars = 1024, max_chars_allowance = 100)]
    pub region: Annotated<String>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    #[test]
    fn lenient_id_and_roundtrip() {
        let input = json!({"id": "1", "email": "a@b.c", "geo": {"city": "Vienna"}, "x": 1});
        let user: Annotated<User> = from_json(input.clone());
        assert_eq!(to_json(&user).ok(), Some(input));

        let user: Annotated<User> = from_json(json!({"id": 42, "email": ["x"]}));
        let user = user.value().cloned().unwrap_or_default();
        assert_eq!(user.id.value().map(|id| id.as_str()), Some("42"));
        assert!(user.email.value().is_none());
        assert!(user.email.meta().has_errors());
    }
}
