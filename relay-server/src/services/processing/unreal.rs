//! Unreal Engine crash archives (`unreal_report` items, `processing.md` §3.1 row "Unreal").
//!
//! The Unreal crash reporter uploads one zlib-compressed container of the crash folder's files.
//! Uncompressed, every integer is a little-endian `i32` and every name an "ANSI char array"
//! (an `i32` length of at least 260, then that many bytes, NUL-padded):
//!
//! ```text
//! "CR1"                               marker of the current layout (absent in old uploads)
//! directory name, file name            ANSI char arrays
//! uncompressed size, file count        i32, i32
//! file count × { index: i32, name: ANSI char array, length: i32, data: [u8; length] }
//! ```
//!
//! Old uploads (no marker) start with a placeholder header whose counts are not reliable and
//! repeat the real header after the files; their files are read while the indexes run 0, 1, 2,
//! …. Uploads without any header (first `i32` is file index 0) are read the same way.
//!
//! Expansion (what [`expand`] returns):
//! * every file becomes an attachment: `*.dmp` → `event.minidump` when it is a minidump
//!   (`MDMP` magic), else `event.applecrashreport` (the Mac crash reporter writes its text
//!   report under that name), `*.crash` → `event.applecrashreport`,
//!   `CrashContext.runtime-xml` → `unreal.context`, `*.log` → `unreal.logs`, anything else
//!   `event.attachment`;
//! * the crash context's `UserDescription` becomes a user report (`user_report` item);
//! * the event JSON: the `__sentry` game data of the context (JSON set by the game), the
//!   runtime properties as `contexts.unreal` (snake_case keys), OS / GPU / device facts,
//!   `user.id` from the `UserID` query parameter (envelope header `unreal_user_id`), the last
//!   log lines as breadcrumbs, and the context's `ErrorMessage` as message when the archive
//!   has no crash dump. The error processor adds the crash placeholder exception.
//!
//! Failures: bad zlib data → `invalid`/`invalid_compression`; more uncompressed data than
//! `limits.max_attachments_size` → `invalid`/`too_large:unreal_report`; a malformed container
//! → `invalid`/`invalid_unreal_report`; an unreadable crash context → `invalid`/
//! `process_unreal`. All reject the whole event.

use std::io::Read;

use bytes::Bytes;
use chrono::NaiveDateTime;
use flate2::read::ZlibDecoder;
use relay_protocol::envelope::{AttachmentType, ContentType, Item, ItemType};
use relay_protocol::EventId;
use serde_json::{json, Map, Value};

use super::event::{object_entry, unix_seconds_value, EventObject};
use super::ProcessingContext;
use crate::outcome::DiscardReason;

/// Marker of the current container layout.
const CR1_MARKER: &[u8] = b"CR1";
/// Minidump file magic.
const MINIDUMP_MAGIC: &[u8] = b"MDMP";
/// The crash context's file name.
const CONTEXT_FILE_NAME: &str = "CrashContext.runtime-xml";
/// At most this many log lines become breadcrumbs (the last ones: closest to the crash).
const MAX_LOG_BREADCRUMBS: usize = 40;

/// What an Unreal crash archive expands into.
#[derive(Default)]
pub struct ExpandedUnreal {
    /// Event JSON from the archive's context, if any.
    pub event: Option<EventObject>,
    pub attachments: Vec<Item>,
    pub user_reports: Vec<Item>,
}

/// Why an archive cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnrealError {
    #[error("invalid zlib compression")]
    Compression,
    #[error("uncompressed archive exceeds {0} bytes")]
    TooLarge(usize),
    #[error("malformed crash archive: {0}")]
    Malformed(&'static str),
    #[error("unreadable crash context: {0}")]
    Context(#[from] xml::XmlError),
}

impl UnrealError {
    /// The `invalid` outcome reason (see the module docs).
    pub fn discard_reason(&self) -> DiscardReason {
        match self {
            UnrealError::Compression => DiscardReason::InvalidCompression,
            UnrealError::TooLarge(_) => DiscardReason::too_large(ItemType::UnrealReport),
            UnrealError::Malformed(_) => DiscardReason::InvalidUnrealReport,
            UnrealError::Context(_) => DiscardReason::ProcessUnreal,
        }
    }
}

/// Inputs of the expansion besides the archive.
#[derive(Debug, Clone, Copy)]
pub struct ExpandOptions<'a> {
    /// Upper bound of the uncompressed archive size.
    pub size_limit: usize,
    /// The envelope's event id: user reports need it.
    pub event_id: Option<EventId>,
    /// `unreal_user_id` envelope header.
    pub user_id: Option<&'a str>,
}

/// Unpacks an `unreal_report` item.
pub fn expand(context: &ProcessingContext, item: &Item) -> Result<ExpandedUnreal, UnrealError> {
    let options = ExpandOptions {
        size_limit: context.config.max_attachments_size().as_usize(),
        event_id: context.event_id(),
        user_id: context
            .headers
            .other
            .get("unreal_user_id")
            .and_then(Value::as_str),
    };
    expand_payload(item.payload_slice(), &options).map_err(|error| {
        tracing::debug!(%error, "unreal crash report rejected");
        error
    })
}

/// [`expand`] on the raw item payload.
pub fn expand_payload(
    payload: &[u8],
    options: &ExpandOptions<'_>,
) -> Result<ExpandedUnreal, UnrealError> {
    let data = Bytes::from(decompress(payload, options.size_limit)?);
    let archive = parse_archive(&data)?;

    let mut expanded = ExpandedUnreal::default();
    let mut crash_context = None;
    let mut log = None;
    let mut has_crash_dump = false;
    for file in &archive.files {
        let attachment_type = classify(file);
        match attachment_type {
            AttachmentType::UnrealContext if crash_context.is_none() => {
                crash_context = Some(CrashContext::parse(&file.data)?);
            }
            AttachmentType::UnrealLogs if log.is_none() => log = Some(file.data.clone()),
            AttachmentType::Minidump | AttachmentType::AppleCrashReport => has_crash_dump = true,
            _ => {}
        }
        expanded
            .attachments
            .push(attachment_item(file, attachment_type));
    }

    let mut event = crash_context
        .as_ref()
        .and_then(CrashContext::sentry_event)
        .unwrap_or_default();
    if let Some(crash_context) = &crash_context {
        crash_context.merge_into(&mut event, has_crash_dump);
        if let Some(report) = crash_context.user_report(options.event_id) {
            expanded.user_reports.push(report);
        }
    }
    if let Some(user_id) = options.user_id.filter(|id| !id.is_empty()) {
        let user = object_entry(&mut event, "user");
        user.entry("id").or_insert_with(|| user_id.into());
    }
    if let Some(log) = log {
        add_log_breadcrumbs(&mut event, &log);
    }
    expanded.event = Some(event);
    Ok(expanded)
}

// --- container ------------------------------------------------------------------------------

/// Uncompressed archives (starting with the marker) are taken as they are; everything else must
/// be zlib data.
fn decompress(payload: &[u8], limit: usize) -> Result<Vec<u8>, UnrealError> {
    if payload.starts_with(CR1_MARKER) {
        if payload.len() > limit {
            return Err(UnrealError::TooLarge(limit));
        }
        return Ok(payload.to_vec());
    }
    let mut data = Vec::new();
    // One byte over the limit tells "exactly at the limit" from "too large".
    let bound = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    ZlibDecoder::new(payload)
        .take(bound)
        .read_to_end(&mut data)
        .map_err(|_| UnrealError::Compression)?;
    if data.len() > limit {
        return Err(UnrealError::TooLarge(limit));
    }
    Ok(data)
}

/// One file of the archive.
#[derive(Debug, Clone, PartialEq)]
pub struct UnrealFile {
    pub name: String,
    pub data: Bytes,
}

/// The parsed container.
#[derive(Debug, Clone, PartialEq)]
pub struct UnrealArchive {
    pub directory_name: String,
    pub files: Vec<UnrealFile>,
}

/// Parses an uncompressed archive (layouts in the module docs).
pub fn parse_archive(data: &Bytes) -> Result<UnrealArchive, UnrealError> {
    let mut reader = Reader { data, position: 0 };
    let mut directory_name = String::new();
    let declared_count = if data.starts_with(CR1_MARKER) {
        reader.position = CR1_MARKER.len();
        directory_name = reader.ansi_string()?;
        let _file_name = reader.ansi_string()?;
        let _uncompressed_size = reader.i32()?;
        let count = reader.i32()?;
        Some(usize::try_from(count).map_err(|_| UnrealError::Malformed("negative file count"))?)
    } else {
        // A header starts with a name length (≥ 260); a headerless archive with file index 0.
        if reader.peek_i32() != Some(0) {
            directory_name = reader.ansi_string()?;
            let _file_name = reader.ansi_string()?;
            let _uncompressed_size = reader.i32()?;
            let _file_count = reader.i32()?;
        }
        None
    };

    let mut files = Vec::new();
    loop {
        match declared_count {
            Some(count) if files.len() >= count => break,
            Some(_) => {}
            // Legacy: stop at the end or at the trailing header (its length is no file index).
            None => {
                let expected = i32::try_from(files.len()).ok();
                if reader.remaining() == 0 || reader.peek_i32() != expected {
                    break;
                }
            }
        }
        let _index = reader.i32()?;
        let name = reader.ansi_string()?;
        let data = reader.bytes()?;
        files.push(UnrealFile { name, data });
    }
    if files.is_empty() {
        return Err(UnrealError::Malformed("archive without files"));
    }
    Ok(UnrealArchive {
        directory_name,
        files,
    })
}

/// A bounds-checked little-endian reader over the uncompressed archive.
struct Reader<'a> {
    data: &'a Bytes,
    position: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.position)
    }

    fn peek_i32(&self) -> Option<i32> {
        let bytes = self
            .data
            .get(self.position..self.position.checked_add(4)?)?;
        Some(i32::from_le_bytes(bytes.try_into().ok()?))
    }

    fn i32(&mut self) -> Result<i32, UnrealError> {
        let value = self
            .peek_i32()
            .ok_or(UnrealError::Malformed("truncated archive"))?;
        self.position += 4;
        Ok(value)
    }

    /// A length-prefixed byte run.
    fn bytes(&mut self) -> Result<Bytes, UnrealError> {
        let length =
            usize::try_from(self.i32()?).map_err(|_| UnrealError::Malformed("negative length"))?;
        if length > self.remaining() {
            return Err(UnrealError::Malformed("truncated archive"));
        }
        let bytes = self.data.slice(self.position..self.position + length);
        self.position += length;
        Ok(bytes)
    }

    /// An ANSI char array: the text up to the first NUL.
    fn ansi_string(&mut self) -> Result<String, UnrealError> {
        let bytes = self.bytes()?;
        let end = bytes
            .iter()
            .position(|byte| *byte == 0)
            .unwrap_or(bytes.len());
        Ok(String::from_utf8_lossy(&bytes[..end]).into_owned())
    }
}

// --- attachments ----------------------------------------------------------------------------

fn classify(file: &UnrealFile) -> AttachmentType {
    let name = file.name.to_ascii_lowercase();
    if name == CONTEXT_FILE_NAME.to_ascii_lowercase() {
        AttachmentType::UnrealContext
    } else if name.ends_with(".dmp") {
        if file.data.starts_with(MINIDUMP_MAGIC) {
            AttachmentType::Minidump
        } else {
            AttachmentType::AppleCrashReport
        }
    } else if name.ends_with(".crash") {
        AttachmentType::AppleCrashReport
    } else if name.ends_with(".log") {
        AttachmentType::UnrealLogs
    } else {
        AttachmentType::Attachment
    }
}

fn attachment_item(file: &UnrealFile, attachment_type: AttachmentType) -> Item {
    let content_type = match attachment_type {
        AttachmentType::UnrealContext => ContentType::ApplicationXml,
        AttachmentType::UnrealLogs | AttachmentType::AppleCrashReport => ContentType::Text,
        _ => ContentType::OctetStream,
    };
    let mut item = Item::new(ItemType::Attachment);
    item.set_payload(content_type, file.data.clone());
    item.set_filename(file.name.clone());
    item.set_attachment_type(attachment_type);
    item
}

// --- crash context --------------------------------------------------------------------------

/// The parts of `CrashContext.runtime-xml` the event uses.
#[derive(Debug, Default)]
struct CrashContext {
    /// `RuntimeProperties` leaf elements in document order (original names).
    runtime: Vec<(String, String)>,
    /// `GameData` leaf elements.
    game_data: Vec<(String, String)>,
}

impl CrashContext {
    fn parse(data: &[u8]) -> Result<CrashContext, UnrealError> {
        let text = decode_text(data);
        let root = xml::parse(&text)?;
        let leaves = |section: &str| -> Vec<(String, String)> {
            root.children
                .iter()
                .filter(|element| element.name == section)
                .flat_map(|element| &element.children)
                .filter(|element| element.children.is_empty())
                .map(|element| (element.name.clone(), element.text.trim().to_owned()))
                .collect()
        };
        Ok(CrashContext {
            runtime: leaves("RuntimeProperties"),
            game_data: leaves("GameData"),
        })
    }

    fn runtime(&self, name: &str) -> Option<&str> {
        self.runtime
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    /// The `__sentry` game data: event JSON the game attached to its crash context.
    fn sentry_event(&self) -> Option<EventObject> {
        let (_, json) = self.game_data.iter().find(|(key, _)| key == "__sentry")?;
        match serde_json::from_str(json) {
            Ok(Value::Object(event)) => Some(event),
            _ => None,
        }
    }

    /// Writes the context into the event; what the event already has wins.
    fn merge_into(&self, event: &mut EventObject, has_crash_dump: bool) {
        let mut unreal = Map::new();
        unreal.insert("type".into(), "unreal".into());
        for (key, value) in &self.runtime {
            if value.is_empty() {
                continue;
            }
            let key = snake_case(key);
            let value = match value.to_ascii_lowercase().as_str() {
                "true" if key.starts_with("is_") => Value::Bool(true),
                "false" if key.starts_with("is_") => Value::Bool(false),
                _ => Value::String(value.clone()),
            };
            unreal.entry(key).or_insert(value);
        }
        let contexts = object_entry(event, "contexts");
        contexts.entry("unreal").or_insert(Value::Object(unreal));

        if let Some(os) = self.runtime("Misc.OSVersionMajor") {
            let mut context = json!({"type": "os", "name": os});
            if let Some(version) = self.runtime("Misc.OSVersionMinor") {
                context["version"] = version.into();
            }
            contexts.entry("os").or_insert(context);
        }
        if let Some(gpu) = self.runtime("Misc.PrimaryGPUBrand") {
            contexts
                .entry("gpu")
                .or_insert(json!({"type": "gpu", "name": gpu}));
        }
        let mut device = Map::new();
        if let Some(memory) = self
            .runtime("MemoryStats.TotalPhysical")
            .and_then(|v| v.parse::<u64>().ok())
        {
            device.insert("memory_size".into(), memory.into());
        }
        if let Some(cores) = self
            .runtime("Misc.NumberOfCores")
            .and_then(|v| v.parse::<u64>().ok())
        {
            device.insert("processor_count".into(), cores.into());
        }
        if let Some(cpu) = self.runtime("Misc.CPUBrand") {
            device.insert("cpu_description".into(), cpu.into());
        }
        if !device.is_empty() {
            device.insert("type".into(), "device".into());
            contexts.entry("device").or_insert(Value::Object(device));
        }

        // Without a dump there is no exception: the error message is all that names the crash.
        let has_message = ["logentry", "message", "exception"]
            .iter()
            .any(|key| event.contains_key(*key));
        if !has_crash_dump && !has_message {
            if let Some(message) = self.runtime("ErrorMessage") {
                event.insert("logentry".into(), json!({"formatted": message}));
            }
        }
    }

    /// The user's crash description as a user report.
    fn user_report(&self, event_id: Option<EventId>) -> Option<Item> {
        let comments = self.runtime("UserDescription")?;
        let event_id = event_id?;
        let report = json!({
            "event_id": event_id.to_string(),
            "name": self.runtime("UserName").unwrap_or_default(),
            "email": "",
            "comments": comments,
        });
        let mut item = Item::new(ItemType::UserReport);
        item.set_payload(ContentType::Json, report.to_string().into_bytes());
        Some(item)
    }
}

/// `CrashGUID` → `crash_guid`, `IsUE4Release` → `is_ue4_release`, `Misc.CPUBrand` →
/// `misc_cpu_brand`.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (index, &current) in chars.iter().enumerate() {
        if current == '.' || current == '-' || current == ' ' {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if current.is_ascii_uppercase() {
            let previous = index.checked_sub(1).and_then(|i| chars.get(i)).copied();
            let next = chars.get(index + 1).copied();
            let boundary = match previous {
                Some(previous) if previous.is_ascii_lowercase() || previous.is_ascii_digit() => {
                    true
                }
                Some(previous) if previous.is_ascii_uppercase() => {
                    next.is_some_and(|next| next.is_ascii_lowercase())
                }
                _ => false,
            };
            if boundary && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            out.push(current.to_ascii_lowercase());
        } else {
            out.push(current);
        }
    }
    out
}

/// Text of a context or log file: UTF-8 (BOM optional) or UTF-16 with BOM.
fn decode_text(data: &[u8]) -> String {
    let utf16 = |bytes: &[u8], little: bool| -> String {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|pair| {
                let pair = [pair[0], pair[1]];
                if little {
                    u16::from_le_bytes(pair)
                } else {
                    u16::from_be_bytes(pair)
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    match data {
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
        _ => String::from_utf8_lossy(data).into_owned(),
    }
}

// --- logs -----------------------------------------------------------------------------------

/// Adds the last timestamped log lines (`[2024.05.29-16.26.40:123][  0]LogTemp: Warning: …`)
/// as breadcrumbs after the event's own.
fn add_log_breadcrumbs(event: &mut EventObject, log: &[u8]) {
    let text = decode_text(log);
    let mut breadcrumbs: Vec<Value> = text
        .lines()
        .rev()
        .filter_map(parse_log_line)
        .take(MAX_LOG_BREADCRUMBS)
        .collect();
    if breadcrumbs.is_empty() {
        return;
    }
    breadcrumbs.reverse();
    let container = event
        .entry("breadcrumbs")
        .or_insert_with(|| json!({"values": []}));
    // Breadcrumbs may come as a bare list or as `{"values": [...]}` (normalization.md §2).
    if let Value::Array(list) = container {
        *container = json!({ "values": std::mem::take(list) });
    }
    match container.get_mut("values") {
        Some(Value::Array(values)) => values.extend(breadcrumbs),
        _ => *container = json!({ "values": breadcrumbs }),
    }
}

fn parse_log_line(line: &str) -> Option<Value> {
    let rest = line.strip_prefix('[')?;
    let (timestamp, rest) = rest.split_once(']')?;
    let timestamp = NaiveDateTime::parse_from_str(timestamp, "%Y.%m.%d-%H.%M.%S:%3f").ok()?;
    // The frame counter: `[  0]`.
    let rest = rest
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .map_or(rest, |(_, rest)| rest);
    let (category, message) = match rest.split_once(": ") {
        Some((category, message)) if !category.is_empty() && !category.contains(' ') => {
            (Some(category), message)
        }
        _ => (None, rest),
    };
    let (level, message) = match message.split_once(": ") {
        Some((verbosity, text)) => match log_level(verbosity) {
            Some(level) => (level, text),
            None => ("info", message),
        },
        None => ("info", message),
    };
    let message = message.trim();
    if message.is_empty() {
        return None;
    }
    let mut breadcrumb = json!({
        "timestamp": unix_seconds_value(timestamp.and_utc()),
        "message": message,
        "level": level,
    });
    if let Some(category) = category {
        breadcrumb["category"] = category.into();
    }
    Some(breadcrumb)
}

fn log_level(verbosity: &str) -> Option<&'static str> {
    Some(match verbosity {
        "Fatal" => "fatal",
        "Error" => "error",
        "Warning" => "warning",
        "Display" | "Log" => "info",
        "Verbose" | "VeryVerbose" => "debug",
        _ => return None,
    })
}

/// The small XML reader the crash context needs: elements, text, CDATA, the five named entities
/// and character references. Attributes, processing instructions, comments and DOCTYPEs are
/// skipped; namespaces are not interpreted. Malformed nesting is an error.
mod xml {
    /// Maximum element nesting: crash contexts are three levels deep.
    const MAX_DEPTH: usize = 64;

    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    pub enum XmlError {
        #[error("unexpected end of document")]
        UnexpectedEof,
        #[error("mismatched closing tag")]
        MismatchedTag,
        #[error("malformed markup")]
        Malformed,
        #[error("no root element")]
        NoRoot,
        #[error("elements nested too deep")]
        TooDeep,
    }

    #[derive(Debug, Default, Clone, PartialEq)]
    pub struct Element {
        pub name: String,
        /// The element's own text (all text segments, entities decoded).
        pub text: String,
        pub children: Vec<Element>,
    }

    pub fn parse(text: &str) -> Result<Element, XmlError> {
        let mut stack: Vec<Element> = Vec::new();
        let mut root = None;
        let mut rest = text;
        while !rest.is_empty() {
            let Some(start) = rest.find('<') else {
                append_text(&mut stack, rest)?;
                break;
            };
            append_text(&mut stack, &rest[..start])?;
            rest = &rest[start..];
            if let Some(after) = rest.strip_prefix("<?") {
                rest = skip_past(after, "?>")?;
            } else if let Some(after) = rest.strip_prefix("<!--") {
                rest = skip_past(after, "-->")?;
            } else if let Some(after) = rest.strip_prefix("<![CDATA[") {
                let end = after.find("]]>").ok_or(XmlError::UnexpectedEof)?;
                match stack.last_mut() {
                    Some(element) => element.text.push_str(&after[..end]),
                    None => return Err(XmlError::Malformed),
                }
                rest = &after[end + 3..];
            } else if let Some(after) = rest.strip_prefix("<!") {
                rest = skip_past(after, ">")?;
            } else if let Some(after) = rest.strip_prefix("</") {
                let end = after.find('>').ok_or(XmlError::UnexpectedEof)?;
                let name = after[..end].trim();
                let element = stack.pop().ok_or(XmlError::Malformed)?;
                if element.name != name {
                    return Err(XmlError::MismatchedTag);
                }
                close(&mut stack, &mut root, element)?;
                rest = &after[end + 1..];
            } else {
                let after = &rest[1..];
                let end = tag_end(after).ok_or(XmlError::UnexpectedEof)?;
                let tag = &after[..end];
                let (tag, self_closing) = match tag.strip_suffix('/') {
                    Some(tag) => (tag, true),
                    None => (tag, false),
                };
                let name_end = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
                let name = &tag[..name_end];
                if name.is_empty() {
                    return Err(XmlError::Malformed);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let element = Element {
                    name: name.to_owned(),
                    ..Element::default()
                };
                if self_closing {
                    close(&mut stack, &mut root, element)?;
                } else {
                    stack.push(element);
                }
                rest = &after[end + 1..];
            }
        }
        if !stack.is_empty() {
            return Err(XmlError::UnexpectedEof);
        }
        root.ok_or(XmlError::NoRoot)
    }

    /// The end of a start tag (`>` outside quoted attribute values).
    fn tag_end(text: &str) -> Option<usize> {
        let mut quote = None;
        for (index, c) in text.char_indices() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(open), c) if c == open => quote = None,
                (None, '>') => return Some(index),
                _ => {}
            }
        }
        None
    }

    fn skip_past<'a>(text: &'a str, terminator: &str) -> Result<&'a str, XmlError> {
        let end = text.find(terminator).ok_or(XmlError::UnexpectedEof)?;
        Ok(&text[end + terminator.len()..])
    }

    fn close(
        stack: &mut [Element],
        root: &mut Option<Element>,
        element: Element,
    ) -> Result<(), XmlError> {
        match stack.last_mut() {
            Some(parent) => parent.children.push(element),
            None if root.is_none() => *root = Some(element),
            None => return Err(XmlError::Malformed),
        }
        Ok(())
    }

    fn append_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
        match stack.last_mut() {
            Some(element) => {
                decode_entities(text, &mut element.text);
                Ok(())
            }
            // Outside the root only whitespace may appear.
            None if text.trim().is_empty() => Ok(()),
            None => Err(XmlError::Malformed),
        }
    }

    fn decode_entities(text: &str, out: &mut String) {
        let mut rest = text;
        while let Some(start) = rest.find('&') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let decoded = after.find(';').filter(|end| *end <= 10).and_then(|end| {
                let entity = &after[..end];
                let c = match entity {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => {
                        let code = match entity
                            .strip_prefix("#x")
                            .or_else(|| entity.strip_prefix("#X"))
                        {
                            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                            None => entity.strip_prefix('#')?.parse().ok()?,
                        };
                        char::from_u32(code)?
                    }
                };
                Some((c, end))
            });
            match decoded {
                Some((c, end)) => {
                    out.push(c);
                    rest = &after[end + 1..];
                }
                // Not an entity: keep the ampersand as text.
                None => {
                    out.push('&');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn parses_elements_text_and_entities() {
            let root = parse(
                "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c --><!DOCTYPE x>\
                 <Root a=\"1>2\"><A>x &lt;y&gt; &amp; &#65;&#x42; &bogus</A><B/><C><![CDATA[<raw>]]></C></Root>",
            );
            // A BOM outside the root is not whitespace: callers strip it first.
            assert_eq!(root, Err(XmlError::Malformed));
            let root = parse(
                "<?xml version=\"1.0\"?>\n<!-- c --><!DOCTYPE x>\
                 <Root a=\"1>2\"><A>x &lt;y&gt; &amp; &#65;&#x42; &bogus</A><B/><C><![CDATA[<raw>]]></C></Root>\n",
            )
            .unwrap();
            assert_eq!(root.name, "Root");
            assert_eq!(root.children.len(), 3);
            assert_eq!(root.children[0].text, "x <y> & AB &bogus");
            assert_eq!(root.children[1].name, "B");
            assert_eq!(root.children[2].text, "<raw>");
        }

        #[test]
        fn rejects_malformed_documents() {
            assert_eq!(parse("<a><b></a>"), Err(XmlError::MismatchedTag));
            assert_eq!(parse("<a>"), Err(XmlError::UnexpectedEof));
            assert_eq!(parse("<a></a><b/>"), Err(XmlError::Malformed));
            assert_eq!(parse("text"), Err(XmlError::Malformed));
            assert_eq!(parse(""), Err(XmlError::NoRoot));
            assert_eq!(parse("<a"), Err(XmlError::UnexpectedEof));
            assert_eq!(parse(&"<a>".repeat(100)), Err(XmlError::TooDeep));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::ZlibEncoder;
    use flate2::Compression;

    use super::*;

    fn ansi(out: &mut Vec<u8>, text: &str) {
        let length = text.len().max(260);
        out.extend_from_slice(&(length as i32).to_le_bytes());
        let mut bytes = text.as_bytes().to_vec();
        bytes.resize(length, 0);
        out.extend_from_slice(&bytes);
    }

    fn file_record(out: &mut Vec<u8>, index: i32, name: &str, data: &[u8]) {
        out.extend_from_slice(&index.to_le_bytes());
        ansi(out, name);
        out.extend_from_slice(&(data.len() as i32).to_le_bytes());
        out.extend_from_slice(data);
    }

    fn header(out: &mut Vec<u8>, uncompressed_size: i32, file_count: i32) {
        ansi(out, "UECC-Windows-1234_0000");
        ansi(out, "UECC-Windows-1234_0000.uecrash");
        out.extend_from_slice(&uncompressed_size.to_le_bytes());
        out.extend_from_slice(&file_count.to_le_bytes());
    }

    /// A current-layout ("CR1") archive, uncompressed.
    fn cr1_archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (index, (name, data)) in files.iter().enumerate() {
            file_record(&mut body, index as i32, name, data);
        }
        let mut out = CR1_MARKER.to_vec();
        header(&mut out, 0, files.len() as i32);
        out.extend_from_slice(&body);
        out
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    const CONTEXT_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<FGenericCrashContext>
  <RuntimeProperties>
    <CrashVersion>3</CrashVersion>
    <CrashGUID>UECC-Windows-1234_0000</CrashGUID>
    <IsEnsure>false</IsEnsure>
    <IsUE4Release>true</IsUE4Release>
    <CrashType>Crash</CrashType>
    <GameName>UE4-YetAnotherGame</GameName>
    <EngineVersion>4.27.2-0+++UE4+Release-4.27</EngineVersion>
    <ErrorMessage>Access violation - code c0000005</ErrorMessage>
    <UserName>player1</UserName>
    <UserDescription>It crashed when I opened the &lt;map&gt;</UserDescription>
    <Misc.NumberOfCores>8</Misc.NumberOfCores>
    <Misc.CPUBrand>Intel(R) Core(TM) i7</Misc.CPUBrand>
    <Misc.PrimaryGPUBrand>NVIDIA GeForce RTX 3080</Misc.PrimaryGPUBrand>
    <Misc.OSVersionMajor>Windows 10</Misc.OSVersionMajor>
    <Misc.OSVersionMinor></Misc.OSVersionMinor>
    <MemoryStats.TotalPhysical>34359738368</MemoryStats.TotalPhysical>
    <Modules><Module>ignored.dll</Module></Modules>
  </RuntimeProperties>
  <PlatformProperties><PlatformIsRunningWindows>1</PlatformIsRunningWindows></PlatformProperties>
  <GameData><__sentry>{"release": "game@1.2.3", "user": {"email": "p@example.com"}, "tags": {"map": "arena"}}</__sentry></GameData>
</FGenericCrashContext>
"#;

    const LOG: &str = "Log file open, 05/29/24 16:26:39\n\
[2024.05.29-16.26.40:100][  0]LogInit: Display: Starting game\n\
[2024.05.29-16.26.41:250][ 12]LogTemp: Warning: Low memory\n\
continuation without timestamp\n\
[2024.05.29-16.26.42:000][ 13]LogWindows: Error: === Critical error: ===\n";

    fn options(event_id: Option<EventId>) -> ExpandOptions<'static> {
        ExpandOptions {
            size_limit: 1 << 20,
            event_id,
            user_id: Some("login|account|machine"),
        }
    }

    const MINIDUMP: &[u8] = b"MDMP\x93\xa7rest-of-minidump";
    const INI: &[u8] = b"[CrashReportClient]\nbAllowToBeContacted=true\n";

    fn full_archive() -> Vec<u8> {
        cr1_archive(&[
            ("UEMinidump.dmp", MINIDUMP),
            ("CrashContext.runtime-xml", CONTEXT_XML.as_bytes()),
            ("YetAnotherGame.log", LOG.as_bytes()),
            ("CrashReportClient.ini", INI),
        ])
    }

    #[test]
    fn expands_compressed_archive() {
        let event_id = EventId::new();
        let expanded = expand_payload(&zlib(&full_archive()), &options(Some(event_id))).unwrap();

        let summary: Vec<(Option<&str>, Option<AttachmentType>, usize)> = expanded
            .attachments
            .iter()
            .map(|item| (item.filename(), item.attachment_type(), item.len()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    Some("UEMinidump.dmp"),
                    Some(AttachmentType::Minidump),
                    MINIDUMP.len()
                ),
                (
                    Some("CrashContext.runtime-xml"),
                    Some(AttachmentType::UnrealContext),
                    CONTEXT_XML.len()
                ),
                (
                    Some("YetAnotherGame.log"),
                    Some(AttachmentType::UnrealLogs),
                    LOG.len()
                ),
                (
                    Some("CrashReportClient.ini"),
                    Some(AttachmentType::Attachment),
                    INI.len()
                ),
            ]
        );
        assert!(expanded
            .attachments
            .iter()
            .all(|item| *item.ty() == ItemType::Attachment));
        assert_eq!(expanded.attachments[0].payload_slice(), MINIDUMP);

        assert_eq!(expanded.user_reports.len(), 1);
        let report: Value =
            serde_json::from_slice(expanded.user_reports[0].payload_slice()).unwrap();
        assert_eq!(
            report,
            json!({"event_id": event_id.to_string(), "name": "player1", "email": "",
                   "comments": "It crashed when I opened the <map>"})
        );

        let event = Value::Object(expanded.event.unwrap());
        // `__sentry` game data is the base; the context fills in around it.
        assert_eq!(event["release"], "game@1.2.3");
        assert_eq!(event["tags"], json!({"map": "arena"}));
        assert_eq!(
            event["user"],
            json!({"email": "p@example.com", "id": "login|account|machine"})
        );
        let unreal = &event["contexts"]["unreal"];
        assert_eq!(unreal["type"], "unreal");
        assert_eq!(unreal["crash_guid"], "UECC-Windows-1234_0000");
        assert_eq!(unreal["crash_type"], "Crash");
        assert_eq!(unreal["is_ensure"], false);
        assert_eq!(unreal["is_ue4_release"], true);
        assert_eq!(unreal["game_name"], "UE4-YetAnotherGame");
        assert_eq!(unreal["misc_cpu_brand"], "Intel(R) Core(TM) i7");
        assert_eq!(unreal["memory_stats_total_physical"], "34359738368");
        assert!(unreal.get("modules").is_none());
        assert!(unreal.get("misc_os_version_minor").is_none());
        assert_eq!(
            event["contexts"]["os"],
            json!({"type": "os", "name": "Windows 10"})
        );
        assert_eq!(
            event["contexts"]["gpu"],
            json!({"type": "gpu", "name": "NVIDIA GeForce RTX 3080"})
        );
        assert_eq!(
            event["contexts"]["device"],
            json!({"type": "device", "memory_size": 34_359_738_368u64, "processor_count": 8,
                   "cpu_description": "Intel(R) Core(TM) i7"})
        );
        // A minidump is present: its exception names the crash, not the error message.
        assert!(event.get("logentry").is_none());

        let breadcrumbs = event["breadcrumbs"]["values"].as_array().unwrap();
        assert_eq!(breadcrumbs.len(), 3);
        assert_eq!(breadcrumbs[0]["category"], "LogInit");
        assert_eq!(breadcrumbs[0]["message"], "Starting game");
        assert_eq!(breadcrumbs[0]["level"], "info");
        assert_eq!(breadcrumbs[0]["timestamp"].as_f64(), Some(1_717_000_000.1));
        assert_eq!(breadcrumbs[1]["level"], "warning");
        assert_eq!(breadcrumbs[2]["message"], "=== Critical error: ===");
        assert_eq!(breadcrumbs[2]["level"], "error");
    }

    #[test]
    fn uncompressed_archive_and_apple_crash_report() {
        let archive = cr1_archive(&[
            (
                "minidump.dmp",
                b"Process: Game [123]\nException Type: EXC_BAD_ACCESS",
            ),
            ("CrashContext.runtime-xml", CONTEXT_XML.as_bytes()),
        ]);
        let expanded = expand_payload(&archive, &options(None)).unwrap();
        assert_eq!(
            expanded.attachments[0].attachment_type(),
            Some(AttachmentType::AppleCrashReport)
        );
        // No event id: the description cannot become a user report.
        assert!(expanded.user_reports.is_empty());
    }

    #[test]
    fn context_without_dump_names_the_error() {
        let context = r#"<FGenericCrashContext><RuntimeProperties><CrashType>Ensure</CrashType>
            <ErrorMessage>Ensure condition failed: Foo</ErrorMessage></RuntimeProperties></FGenericCrashContext>"#;
        let archive = cr1_archive(&[("CrashContext.runtime-xml", context.as_bytes())]);
        let mut options = options(Some(EventId::new()));
        options.user_id = None;
        let expanded = expand_payload(&zlib(&archive), &options).unwrap();
        let event = Value::Object(expanded.event.unwrap());
        assert_eq!(
            event["logentry"],
            json!({"formatted": "Ensure condition failed: Foo"})
        );
        assert_eq!(event["contexts"]["unreal"]["crash_type"], "Ensure");
        assert!(event.get("user").is_none());
        assert!(expanded.user_reports.is_empty());
    }

    #[test]
    fn legacy_layout_with_trailing_header() {
        let mut data = Vec::new();
        header(&mut data, 0, 0);
        file_record(&mut data, 0, "UE4Minidump.dmp", b"MDMP....");
        file_record(&mut data, 1, "Game.log", b"line\n");
        header(&mut data, 1234, 2);
        let archive = parse_archive(&Bytes::from(data)).unwrap();
        assert_eq!(archive.directory_name, "UECC-Windows-1234_0000");
        let names: Vec<&str> = archive
            .files
            .iter()
            .map(|file| file.name.as_str())
            .collect();
        assert_eq!(names, ["UE4Minidump.dmp", "Game.log"]);
        assert_eq!(archive.files[1].data, Bytes::from_static(b"line\n"));

        // No header at all.
        let mut data = Vec::new();
        file_record(&mut data, 0, "a.txt", b"a");
        let archive = parse_archive(&Bytes::from(data)).unwrap();
        assert_eq!(archive.files.len(), 1);
        assert_eq!(archive.directory_name, "");
    }

    #[test]
    fn failures_map_to_outcome_reasons() {
        let reason = |payload: &[u8]| {
            expand_payload(payload, &options(None))
                .err()
                .map(|error| error.discard_reason().to_string())
        };
        assert_eq!(
            reason(b"definitely not zlib").as_deref(),
            Some("invalid_compression")
        );
        assert_eq!(
            reason(&zlib(b"garbage")).as_deref(),
            Some("invalid_unreal_report")
        );

        // Truncated file data.
        let mut archive = cr1_archive(&[("a.log", b"0123456789")]);
        archive.truncate(archive.len() - 3);
        assert_eq!(
            reason(&zlib(&archive)).as_deref(),
            Some("invalid_unreal_report")
        );

        // Declared count larger than the files present.
        let mut archive = CR1_MARKER.to_vec();
        header(&mut archive, 0, 3);
        file_record(&mut archive, 0, "a.log", b"x");
        assert_eq!(reason(&archive).as_deref(), Some("invalid_unreal_report"));

        // No files.
        assert_eq!(
            reason(&cr1_archive(&[])).as_deref(),
            Some("invalid_unreal_report")
        );

        // A broken crash context.
        let archive =
            cr1_archive(&[("CrashContext.runtime-xml", b"<FGenericCrashContext><A></B>")]);
        assert_eq!(reason(&zlib(&archive)).as_deref(), Some("process_unreal"));

        // Zip bombs stop at the limit.
        let big = cr1_archive(&[("big.bin", &vec![0u8; 4096])]);
        let small_limit = ExpandOptions {
            size_limit: 1024,
            ..options(None)
        };
        let error = expand_payload(&zlib(&big), &small_limit).err().unwrap();
        assert_eq!(
            error.discard_reason().to_string(),
            "too_large:unreal_report"
        );
        let error = expand_payload(&big, &small_limit).err().unwrap();
        assert_eq!(error, UnrealError::TooLarge(1024));
    }

    #[test]
    fn snake_case_names() {
        let cases = [
            ("CrashGUID", "crash_guid"),
            ("IsUE4Release", "is_ue4_release"),
            ("LanguageLCID", "language_lcid"),
            ("SecsSinceStart", "secs_since_start"),
            ("PCallStackHash", "p_call_stack_hash"),
            ("Misc.CPUBrand", "misc_cpu_brand"),
            ("MemoryStats.TotalPhysical", "memory_stats_total_physical"),
            ("EpicAccountId", "epic_account_id"),
            ("crash_type", "crash_type"),
        ];
        for (name, expected) in cases {
            assert_eq!(snake_case(name), expected, "{name}");
        }
    }

    #[test]
    fn utf16_context_is_decoded() {
        let mut data = vec![0xFF, 0xFE];
        for unit in "<R><RuntimeProperties><CrashType>Hang</CrashType></RuntimeProperties></R>"
            .encode_utf16()
        {
            data.extend_from_slice(&unit.to_le_bytes());
        }
        let context = CrashContext::parse(&data).unwrap();
        assert_eq!(context.runtime("CrashType"), Some("Hang"));
    }

    #[test]
    fn log_lines() {
        let line = parse_log_line("[2024.05.29-16.26.40:100][  0]LogTemp: plain message").unwrap();
        assert_eq!(line["category"], "LogTemp");
        assert_eq!(line["message"], "plain message");
        assert_eq!(line["level"], "info");
        let line = parse_log_line("[2024.05.29-16.26.40:100][  0]Fatal error!").unwrap();
        assert!(line.get("category").is_none());
        assert_eq!(line["message"], "Fatal error!");
        assert!(parse_log_line("no timestamp").is_none());
        assert!(parse_log_line("[not a date][ 0]LogTemp: x").is_none());

        // Existing breadcrumbs (bare list) are kept first.
        let mut event: EventObject =
            serde_json::from_str(r#"{"breadcrumbs": [{"message": "sdk"}]}"#).unwrap();
        add_log_breadcrumbs(&mut event, LOG.as_bytes());
        let values = event["breadcrumbs"]["values"].as_array().unwrap();
        assert_eq!(values.len(), 4);
        assert_eq!(values[0]["message"], "sdk");
    }
}
