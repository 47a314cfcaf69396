//! Wire formats of relay.
//!
//! Everything in this crate is pure: parsing and serializing envelopes, item headers, DSNs,
//! auth headers, client reports and data categories, without any I/O. It never panics on input
//! data; [`fuzzing`] holds the invariant checks that the fuzz targets and the fuzz test mode run.

#![warn(missing_docs)]

pub mod auth;
mod category;
pub mod client_report;
pub mod dsn;
pub mod envelope;
pub mod fuzzing;
mod ids;
mod json_writer;
mod outcome_id;

pub use auth::{
    parse_basic_auth, parse_sentry_auth, parse_sentry_auth_header, parse_sentry_auth_query,
    AuthError, SentryAuth,
};
pub use category::{CategoryUnit, DataCategory};
pub use client_report::{ClientReport, DiscardedEvent, ParseClientReportError};
pub use dsn::{Dsn, DsnScheme, ParseDsnError};
pub use envelope::size_limits::{check_envelope_size_limits, ItemTooLarge, SizeLimits};
pub use envelope::{
    AttachmentType, ClientHints, ContentType, DynamicSamplingContext, Envelope, EnvelopeError,
    EnvelopeHeaders, IntegrationKind, Item, ItemHeaders, ItemType, RequestMeta, TraceHeader,
};
pub use ids::{
    EventId, KeyFlags, ParseEventIdError, ParseProjectIdError, ParseProjectKeyError, ProjectId,
    ProjectKey, TraceId, PROJECT_KEY_LENGTH,
};
pub use outcome_id::OutcomeId;
