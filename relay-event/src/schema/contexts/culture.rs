//! [`CultureContext`] (`type: culture`): the culture (locale settings) of the software,
//! with the fields of Sentry's SDK documentation (not part of the published schema).

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// Culture information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct CultureContext {
    /// The calendar (e.g. `GregorianCalendar`).
    pub calendar: Annotated<String>,
    /// The human-readable name of the culture (e.g. `English (United States)`).
    pub display_name: Annotated<String>,
    /// The locale (RFC 4646, e.g. `en-US`).
    pub locale: Annotated<String>,
    /// Whether the 24-hour clock is used.
    pub is_24_hour_format: Annotated<bool>,
    /// The timezone of the locale (e.g. `Europe/Vienna`).
    pub timezone: Annotated<String>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}
