//! Envelopes: parsing, serialization and request-meta merging (`envelope.md` §1–§2, §9).
//!
//! Framing: one JSON header, then items of `item-header \n payload \n`. Parsing never copies a
//! payload: each item's payload is a [`Bytes`] slice of the input. Serialization writes the
//! header line, then `item-header \n payload \n` for every item (§1.4).
//!
//! Errors are [`EnvelopeError`], whose messages are the exact reason texts of §9.

mod attachment;
mod content_type;
mod headers;
mod item;
mod request_meta;
pub mod size_limits;

use bytes::Bytes;

pub use self::attachment::{AttachmentType, ParseAttachmentTypeError};
pub use self::content_type::{ContentType, IntegrationKind};
pub use self::headers::{
    format_sent_at, ClientHints, DynamicSamplingContext, EnvelopeHeaders, InvalidDscError,
    TraceHeader, DEFAULT_ENVELOPE_VERSION,
};
pub use self::item::{Item, ItemHeaders, ItemType, KnownItemHeader, SetItemHeaderError};
pub use self::request_meta::RequestMeta;

use self::item::ParsedItemHeaders;
use crate::category::DataCategory;
use crate::ids::EventId;

/// Maximum number of items in one envelope.
pub const MAX_ITEMS_PER_ENVELOPE: usize = 500;

/// Byte that terminates header lines and payloads.
const LINE_FEED: u8 = b'\n';

/// Why an envelope was rejected. Display texts are the reasons of `envelope.md` §9, verbatim.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Truncated payload, length overflow or a whitespace-only remainder.
    #[error("unexpected end of file")]
    UnexpectedEof,
    /// More than [`MAX_ITEMS_PER_ENVELOPE`] items.
    #[error("too many individual items")]
    TooManyItems,
    /// Empty or whitespace-only body.
    #[error("missing envelope header")]
    MissingHeader,
    /// A header or length-delimited payload not followed by `\n` or the end of input.
    #[error("missing newline after header or payload")]
    MissingNewline,
    /// Envelope header malformed or with wrongly typed fields.
    #[error("invalid envelope header")]
    InvalidHeader,
    /// Item header malformed, missing `type` or with an invalid `length`.
    #[error("invalid item header")]
    InvalidItemHeader,
    /// Header `origin` differs from the request's origin.
    #[error("origin header mismatch between envelope and request")]
    HeaderMismatchOrigin,
    /// Header `dsn` names another project than the request.
    #[error("project id header mismatch between envelope and request")]
    HeaderMismatchProjectId,
    /// Header `dsn` has another public key than the request.
    #[error("public key header mismatch between envelope and request")]
    HeaderMismatchPublicKey,
}

/// A parsed envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    headers: EnvelopeHeaders,
    items: Vec<Item>,
}

impl Envelope {
    /// An envelope with the given headers and no items.
    pub fn new(headers: EnvelopeHeaders) -> Envelope {
        Envelope {
            headers,
            items: Vec::new(),
        }
    }

    /// An envelope for data relay generates itself (§10): headers from the request meta, no
    /// `event_id`.
    pub fn from_request_meta(meta: &RequestMeta) -> Envelope {
        let mut headers = EnvelopeHeaders::default();
        meta.write_into_headers(&mut headers);
        Envelope::new(headers)
    }

    /// Parses an envelope (§1). Payloads are slices of `bytes`.
    pub fn parse(bytes: Bytes) -> Result<Envelope, EnvelopeError> {
        let (headers, header_end) = parse_envelope_headers(&bytes)?;
        let mut items = Vec::new();
        let mut offset = header_end;
        while offset < bytes.len() {
            let (item, next_offset) = parse_item(&bytes, offset)?;
            items.push(item);
            if items.len() > MAX_ITEMS_PER_ENVELOPE {
                return Err(EnvelopeError::TooManyItems);
            }
            offset = next_offset;
        }
        Ok(Envelope { headers, items })
    }

    /// The headers.
    pub fn headers(&self) -> &EnvelopeHeaders {
        &self.headers
    }

    /// The headers, mutably.
    pub fn headers_mut(&mut self) -> &mut EnvelopeHeaders {
        &mut self.headers
    }

    /// The items.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// The items, mutably.
    pub fn items_mut(&mut self) -> &mut [Item] {
        &mut self.items
    }

    /// Appends an item.
    pub fn add_item(&mut self, item: Item) {
        self.items.push(item);
    }

    /// Keeps only the items for which `keep` returns `true`.
    pub fn retain_items(&mut self, keep: impl FnMut(&mut Item) -> bool) {
        self.items.retain_mut(keep);
    }

    /// Removes and returns all items.
    pub fn take_items(&mut self) -> Vec<Item> {
        std::mem::take(&mut self.items)
    }

    /// Whether the envelope has no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The `event_id` header.
    pub fn event_id(&self) -> Option<EventId> {
        self.headers.event_id
    }

    /// Sets the `event_id` header.
    pub fn set_event_id(&mut self, event_id: EventId) {
        self.headers.event_id = Some(event_id);
    }

    /// Generates a random `event_id` if the header has none and any item creates an event
    /// (§2.1). Returns the event id the envelope now has.
    pub fn ensure_event_id(&mut self) -> Option<EventId> {
        if self.headers.event_id.is_none() && self.items.iter().any(Item::creates_event) {
            self.headers.event_id = Some(EventId::new());
        }
        self.headers.event_id
    }

    /// The event category: that of the first event-creating item (§4.1).
    pub fn event_category(&self) -> Option<DataCategory> {
        self.items.iter().find_map(Item::event_category)
    }

    /// Validates the header against the request and merges request meta (§2.2).
    ///
    /// 1. A header `origin` must equal the request's (compared as URLs); when the request was
    ///    authenticated from the header's own DSN and has no origin, the header's is taken.
    /// 2. A header `dsn` must name the request's project id and public key.
    /// 3. Header values override `meta` (`client`, `origin`, `remote_addr`, non-empty
    ///    `forwarded_for`, `user_agent`, each client hint, `no_cache` if true, `version` if not
    ///    7).
    /// 4. The merged meta is written back into the headers (`dsn` from the request), so
    ///    forwarding carries it.
    pub fn complete_with_request_meta(
        &mut self,
        meta: &mut RequestMeta,
    ) -> Result<(), EnvelopeError> {
        if let Some(header_origin) = &self.headers.origin {
            match &meta.origin {
                Some(request_origin) if request_origin == header_origin => {}
                None if meta.from_envelope_dsn => {}
                _ => return Err(EnvelopeError::HeaderMismatchOrigin),
            }
        }
        if let Some(header_dsn) = &self.headers.dsn {
            let header_dsn =
                crate::dsn::Dsn::parse(header_dsn).map_err(|_| EnvelopeError::InvalidHeader)?;
            if header_dsn.project_id() != meta.dsn.project_id() {
                return Err(EnvelopeError::HeaderMismatchProjectId);
            }
            if header_dsn.public_key() != meta.dsn.public_key() {
                return Err(EnvelopeError::HeaderMismatchPublicKey);
            }
        }
        meta.override_from_headers(&self.headers);
        meta.write_into_headers(&mut self.headers);
        Ok(())
    }

    /// Writes the envelope (§1.4).
    pub fn serialize_into(&self, out: &mut Vec<u8>) {
        self.headers.serialize_into(out);
        out.push(LINE_FEED);
        for item in &self.items {
            item.serialize_into(out);
        }
    }

    /// The serialized envelope.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.serialized_size_hint());
        self.serialize_into(&mut out);
        out
    }

    /// An estimate of the serialized size (exact for payloads, generous for headers).
    pub fn serialized_size_hint(&self) -> usize {
        self.headers.size_hint()
            + self
                .items
                .iter()
                .map(Item::serialized_size_hint)
                .sum::<usize>()
    }
}

/// Parses the envelope header at the start of `bytes`; returns it and the offset of the first
/// item.
fn parse_envelope_headers(bytes: &[u8]) -> Result<(EnvelopeHeaders, usize), EnvelopeError> {
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<EnvelopeHeaders>();
    let headers = match stream.next() {
        None => return Err(EnvelopeError::MissingHeader),
        Some(Err(_)) => return Err(EnvelopeError::InvalidHeader),
        Some(Ok(headers)) => headers,
    };
    let header_end = stream.byte_offset();
    Ok((headers, require_line_end(bytes, header_end)?))
}

/// Checks that `offset` is at a `\n` or the end of input; returns the offset just after it.
fn require_line_end(bytes: &[u8], offset: usize) -> Result<usize, EnvelopeError> {
    match bytes.get(offset) {
        None => Ok(bytes.len()),
        Some(&LINE_FEED) => Ok(offset + 1),
        Some(_) => Err(EnvelopeError::MissingNewline),
    }
}

/// Parses one item starting at `offset` (§1.2); returns it and the offset of the next item.
fn parse_item(bytes: &Bytes, offset: usize) -> Result<(Item, usize), EnvelopeError> {
    let remainder = &bytes[offset..];
    let mut stream =
        serde_json::Deserializer::from_slice(remainder).into_iter::<ParsedItemHeaders>();
    let parsed = match stream.next() {
        None => return Err(EnvelopeError::UnexpectedEof),
        Some(Err(_)) => return Err(EnvelopeError::InvalidItemHeader),
        Some(Ok(parsed)) => parsed,
    };
    let payload_start = require_line_end(bytes, offset + stream.byte_offset())?;

    let payload_end = match parsed.length {
        Some(length) => {
            let payload_end = usize::try_from(length)
                .ok()
                .and_then(|length| payload_start.checked_add(length))
                .filter(|&end| end <= bytes.len())
                .ok_or(EnvelopeError::UnexpectedEof)?;
            if bytes
                .get(payload_end)
                .is_some_and(|&byte| byte != LINE_FEED)
            {
                return Err(EnvelopeError::MissingNewline);
            }
            payload_end
        }
        None => bytes[payload_start..]
            .iter()
            .position(|&byte| byte == LINE_FEED)
            .map_or(bytes.len(), |position| payload_start + position),
    };

    let item = Item::from_parts(parsed.headers, bytes.slice(payload_start..payload_end));
    Ok((item, payload_end + 1))
}

#[cfg(test)]
mod tests;
