//! Native crash uploads: `POST /api/<id>/minidump[/]` (http-api.md §4.5) and event
//! attachments: `POST /api/<id>/events/<event_id>/attachments/` (§4.6).

use std::io::Read;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use relay_protocol::envelope::{AttachmentType, ContentType, Envelope, Item, ItemType};
use relay_protocol::EventId;

use crate::endpoints::common::{
    handle_envelope, new_request_envelope, reject_request_items, require_project_meta,
    BadStoreRequest, RateLimitResponse,
};
use crate::extractors::{read_body, RequestMeta};
use crate::outcome::{DiscardReason, Outcome};
use crate::service::ServiceState;
use crate::utils::multipart::{encode_form_data, parse_multipart, Part};

/// Magic bytes a decoded minidump starts with.
const MINIDUMP_MAGICS: &[&[u8]] = &[b"MDMP", b"PMDM"];
/// Name of the multipart part holding the minidump.
const MINIDUMP_PART: &str = "upload_file_minidump";
/// File name of raw uploads.
const RAW_MINIDUMP_FILENAME: &str = "Minidump";
/// Magic bytes of the container formats minidumps may arrive in.
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
const BZIP2_MAGIC: &[u8] = b"BZh";

/// Attachment type by multipart part name (http-api.md §4.5).
fn attachment_type_for(part: &Part) -> AttachmentType {
    match part.name.as_deref() {
        Some(MINIDUMP_PART) => return AttachmentType::Minidump,
        Some("__sentry-event") => return AttachmentType::EventPayload,
        Some("__sentry-breadcrumb1") | Some("__sentry-breadcrumb2") => {
            return AttachmentType::Breadcrumbs
        }
        Some("view-hierarchy.json") => return AttachmentType::ViewHierarchy,
        _ => {}
    }
    match part.filename.as_deref() {
        Some(name) if name.ends_with(".nv-gpudmp") => AttachmentType::NvidiaGpuDump,
        Some(name) if name.ends_with(".nvdbg") => AttachmentType::NvidiaShaderDebug,
        _ => AttachmentType::Attachment,
    }
}

fn attachment_item(data: Bytes, filename: Option<&str>, ty: AttachmentType) -> Item {
    let mut item = Item::new(ItemType::Attachment);
    item.set_payload(ContentType::OctetStream, data);
    item.set_attachment_type(ty);
    if let Some(filename) = filename {
        item.set_filename(filename);
    }
    item
}

/// Decodes a compressed minidump (detected by magic bytes) and strips the container's file
/// extension from its name.
fn decode_minidump(
    data: Bytes,
    filename: Option<String>,
    limit: usize,
) -> Result<(Bytes, Option<String>), BadStoreRequest> {
    let (decoded, extension) = if data.starts_with(GZIP_MAGIC) {
        (
            read_limited(flate2::read::MultiGzDecoder::new(&data[..]), limit)?,
            ".gz",
        )
    } else if data.starts_with(ZSTD_MAGIC) {
        let decoder = zstd::stream::read::Decoder::new(&data[..])
            .map_err(|_| BadStoreRequest::InvalidCompression)?;
        (read_limited(decoder, limit)?, ".zst")
    } else if data.starts_with(XZ_MAGIC) {
        (decode_xz(&data, limit)?, ".xz")
    } else if data.starts_with(BZIP2_MAGIC) {
        (
            read_limited(bzip2::read::BzDecoder::new(&data[..]), limit)?,
            ".bz2",
        )
    } else {
        return Ok((data, filename));
    };
    let filename = filename.map(|name| name.strip_suffix(extension).unwrap_or(&name).to_owned());
    Ok((Bytes::from(decoded), filename))
}

/// The rejection of a minidump over its size limit (`too_large:attachment:minidump`).
fn minidump_too_large() -> BadStoreRequest {
    BadStoreRequest::TooLarge(format!(
        "attachment:{}",
        AttachmentType::Minidump.size_limit_kind()
    ))
}

/// Decodes an xz container, never writing more than `limit` bytes.
fn decode_xz(data: &[u8], limit: usize) -> Result<Vec<u8>, BadStoreRequest> {
    let mut output = LimitedWriter {
        buffer: Vec::new(),
        limit,
    };
    let mut input = std::io::BufReader::new(data);
    match lzma_rs::xz_decompress(&mut input, &mut output) {
        Ok(()) => Ok(output.buffer),
        Err(_) if output.buffer.len() >= limit => Err(minidump_too_large()),
        Err(_) => Err(BadStoreRequest::InvalidCompression),
    }
}

/// A writer that fails once more than `limit` bytes were written.
struct LimitedWriter {
    buffer: Vec<u8>,
    limit: usize,
}

impl std::io::Write for LimitedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.buffer.len() + bytes.len() > self.limit {
            self.buffer
                .extend_from_slice(&bytes[..self.limit - self.buffer.len()]);
            return Err(std::io::Error::other(
                "decoded minidump exceeds the size limit",
            ));
        }
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn read_limited(reader: impl Read, limit: usize) -> Result<Vec<u8>, BadStoreRequest> {
    let mut output = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut output)
        .map_err(|_| BadStoreRequest::InvalidCompression)?;
    if output.len() > limit {
        return Err(minidump_too_large());
    }
    Ok(output)
}

/// The part of a msgpack `__sentry-event` payload the endpoint reads.
#[derive(serde::Deserialize)]
struct MsgpackEventId {
    #[serde(default)]
    event_id: Option<String>,
}

/// The event id of a msgpack event payload, if it has a valid one.
fn event_id_from_msgpack(parts: &[Part]) -> Option<EventId> {
    let payload = parts
        .iter()
        .find(|part| part.name.as_deref() == Some("__sentry-event"))?;
    let event: MsgpackEventId = rmp_serde::from_slice(&payload.data).ok()?;
    EventId::parse(&event.event_id?).ok()
}

/// The event id carried by form fields: `sentry` (JSON) or `sentry[event_id]`.
fn event_id_from_fields(fields: &[Part]) -> Option<EventId> {
    for part in fields {
        match part.name.as_deref() {
            Some("sentry[event_id]") => {
                if let Ok(id) = EventId::parse(std::str::from_utf8(&part.data).ok()?.trim()) {
                    return Some(id);
                }
            }
            Some("sentry") => {
                let value: serde_json::Value = serde_json::from_slice(&part.data).ok()?;
                if let Some(id) = value.get("event_id").and_then(|id| id.as_str()) {
                    if let Ok(id) = EventId::parse(id) {
                        return Some(id);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn content_type(request: &HttpRequest) -> Option<&str> {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
}

/// Builds the crash envelope from the upload.
async fn minidump_envelope(
    state: &ServiceState,
    request: &HttpRequest,
    meta: &RequestMeta,
    body: Bytes,
) -> Result<Envelope, BadStoreRequest> {
    let max_attachment = state.config.max_attachment_size().as_usize();
    let max_attachments = state.config.max_attachments_size().as_usize();
    let max_event = state.config.max_event_size().as_usize();

    let raw = matches!(
        content_type(request),
        Some("application/octet-stream") | Some("application/x-dmp")
    );
    let (minidump, minidump_name, others, fields) = if raw {
        (
            Some(body),
            Some(RAW_MINIDUMP_FILENAME.to_owned()),
            Vec::new(),
            Vec::new(),
        )
    } else {
        let parts = parse_multipart(content_type(request).unwrap_or_default(), body)
            .await
            .map_err(|error| BadStoreRequest::InvalidMultipart(error.to_string()))?;
        let mut minidump = None;
        let mut minidump_name = None;
        let mut others = Vec::new();
        let mut fields = Vec::new();
        for part in parts {
            if part.name.as_deref() == Some(MINIDUMP_PART) && minidump.is_none() {
                minidump_name = part.filename.clone();
                minidump = Some(part.data);
            } else if part.is_file() {
                others.push(part);
            } else {
                fields.push(part);
            }
        }
        (minidump, minidump_name, others, fields)
    };

    let Some(minidump) = minidump else {
        return Err(BadStoreRequest::MissingMinidump);
    };
    let (minidump, minidump_name) = decode_minidump(minidump, minidump_name, max_attachment)?;
    if !MINIDUMP_MAGICS
        .iter()
        .any(|magic| minidump.starts_with(magic))
    {
        return Err(BadStoreRequest::InvalidMinidump);
    }
    if minidump.len() > max_attachment {
        return Err(minidump_too_large());
    }

    let event_id = event_id_from_msgpack(&others)
        .or_else(|| event_id_from_fields(&fields))
        .unwrap_or_else(EventId::new);
    let mut envelope = new_request_envelope(meta, Some(event_id));
    let mut total = minidump.len();
    envelope.add_item(attachment_item(
        minidump,
        minidump_name.as_deref(),
        AttachmentType::Minidump,
    ));
    let mut oversized = Vec::new();
    for part in others {
        let ty = attachment_type_for(&part);
        let item = attachment_item(part.data, part.filename.as_deref(), ty);
        if item.len() > max_attachment {
            oversized.push(item);
            continue;
        }
        total += item.len();
        envelope.add_item(item);
    }
    if total > max_attachments {
        return Err(BadStoreRequest::RequestTooLarge);
    }
    if !fields.is_empty() {
        let form_data = encode_form_data(
            fields
                .iter()
                .map(|part| (part.name.as_deref().unwrap_or_default(), &part.data[..])),
        );
        if form_data.len() > max_event {
            return Err(BadStoreRequest::TooLarge(
                ItemType::FormData.name().to_owned(),
            ));
        }
        let mut item = Item::new(ItemType::FormData);
        item.set_payload(ContentType::Text, Bytes::from(form_data));
        envelope.add_item(item);
    }
    track_oversized(state, meta, event_id, oversized);
    Ok(envelope)
}

/// Oversized side attachments are dropped without failing the upload, each with an outcome.
fn track_oversized(state: &ServiceState, meta: &RequestMeta, event_id: EventId, items: Vec<Item>) {
    for item in items {
        let reason = DiscardReason::TooLarge(item.size_limit_name().into());
        reject_request_items(
            state,
            meta,
            Some(event_id),
            vec![item],
            Outcome::Invalid(reason),
        );
    }
}

/// The largest minidump request body: the upload limit plus the attachments limit, saturating
/// so that huge configured sizes cannot overflow.
fn body_limit(config: &relay_config::Config) -> usize {
    let bytes = config
        .max_upload_size()
        .as_bytes()
        .saturating_add(config.max_attachments_size().as_bytes());
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

/// `POST /api/<id>/minidump[/]`.
pub async fn handle_minidump(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let meta = require_project_meta(&state, &request, &path)?;
    let body = read_body(&request, payload, body_limit(&state.config)).await?;
    let envelope = match minidump_envelope(&state, &request, &meta, body).await {
        Ok(envelope) => envelope,
        Err(error) => {
            track_failed_crash(&state, &meta, &error);
            return Err(error.into());
        }
    };
    let event_id = envelope.event_id().unwrap_or_else(EventId::new);
    handle_envelope(&state, envelope, &meta, RateLimitResponse::Silent).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(event_id.hyphenated()))
}

/// A failed crash upload counts as one invalid `error` (http-api.md §6.1 note).
fn track_failed_crash(state: &ServiceState, meta: &RequestMeta, error: &BadStoreRequest) {
    let reason = match error {
        BadStoreRequest::InvalidMultipart(_) => DiscardReason::InvalidMultipart,
        BadStoreRequest::InvalidMinidump => DiscardReason::InvalidMinidump,
        BadStoreRequest::MissingMinidump => DiscardReason::MissingMinidumpUpload,
        BadStoreRequest::InvalidCompression => DiscardReason::InvalidCompression,
        BadStoreRequest::TooLarge(item) => DiscardReason::TooLarge(item.clone().into()),
        BadStoreRequest::RequestTooLarge => DiscardReason::RequestTooLarge,
        _ => return,
    };
    let crash = vec![Item::new(ItemType::Event)];
    reject_request_items(state, meta, None, crash, Outcome::Invalid(reason));
}

/// `POST /api/<id>/events/<event_id>/attachments/`.
pub async fn handle_attachments(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let (project_id, event_id) = path.into_inner();
    let meta = require_project_meta(&state, &request, &project_id)?;
    let event_id = EventId::parse(&event_id).map_err(|_| BadStoreRequest::InvalidEventId)?;
    let limit = state.config.max_attachments_size().as_usize();
    let body = read_body(&request, payload, limit).await?;
    let parts = parse_multipart(content_type(&request).unwrap_or_default(), body)
        .await
        .map_err(|error| BadStoreRequest::InvalidMultipart(error.to_string()))?;
    let mut envelope = new_request_envelope(&meta, Some(event_id));
    let mut fields = Vec::new();
    for part in parts {
        if part.is_file() {
            envelope.add_item(attachment_item(
                part.data,
                part.filename.as_deref(),
                AttachmentType::Attachment,
            ));
        } else {
            fields.push(part);
        }
    }
    if !fields.is_empty() {
        let form_data = encode_form_data(
            fields
                .iter()
                .map(|part| (part.name.as_deref().unwrap_or_default(), &part.data[..])),
        );
        let mut item = Item::new(ItemType::FormData);
        item.set_payload(ContentType::Text, Bytes::from(form_data));
        envelope.add_item(item);
    }
    handle_envelope(&state, envelope, &meta, RateLimitResponse::TooManyRequests).await?;
    Ok(HttpResponse::Created().finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutils;

    #[test]
    fn body_limit_adds_the_upload_and_attachments_limits() {
        let config =
            testutils::config("limits: {max_upload_size: 1MiB, max_attachments_size: 2MiB}");
        assert_eq!(body_limit(&config), 3 * 1024 * 1024);
    }

    #[test]
    fn body_limit_saturates_instead_of_overflowing() {
        // 15 EiB + 15 EiB does not fit in 64 bits.
        let config =
            testutils::config("limits: {max_upload_size: 15EiB, max_attachments_size: 15EiB}");
        assert_eq!(body_limit(&config), usize::MAX);
    }
}
