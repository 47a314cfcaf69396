//! Request extraction: authentication and request metadata (http-api.md §3), and reading
//! bodies with decompression and size limits (§1.1, §1.2).

mod body;
mod request_meta;
pub mod signed;

pub use body::{read_body, BodyError};
pub use request_meta::{
    envelope_dsn_meta, extract_request_meta, BadEventMeta, MetaSource, RequestMeta,
};
