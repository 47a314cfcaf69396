//! OTLP traces and logs (the `integration` items of the OTLP endpoint): a minimal protobuf
//! reader that turns OTLP protobuf into the OTLP/JSON shape, and the conversion of OTLP/JSON
//! traces into span v2. Logs use the same reader (`logs.rs`).
//!
//! Invariant: the protobuf reader produces exactly the OTLP/JSON shape, so one conversion
//! handles both encodings.

use serde_json::{Map, Value};

use super::{attribute_from_json, string_attribute, SpanV2};

/// The payload is not valid protobuf of the expected message.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid OTLP protobuf")]
pub struct ProtoError;

/// One protobuf field value.
enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

/// Iterates the fields of one protobuf message.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ProtoError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.data.split_first().ok_or(ProtoError)?;
            self.data = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtoError)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], ProtoError> {
        if self.data.len() < len {
            return Err(ProtoError);
        }
        let (head, rest) = self.data.split_at(len);
        self.data = rest;
        Ok(head)
    }

    fn next_field(&mut self) -> Result<Option<(u64, Field<'a>)>, ProtoError> {
        if self.data.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = key >> 3;
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                let bytes = self.take(8)?;
                Field::Fixed64(u64::from_le_bytes(
                    bytes.try_into().map_err(|_| ProtoError)?,
                ))
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| ProtoError)?;
                Field::Bytes(self.take(len)?)
            }
            5 => {
                let bytes = self.take(4)?;
                Field::Fixed32(u32::from_le_bytes(
                    bytes.try_into().map_err(|_| ProtoError)?,
                ))
            }
            _ => return Err(ProtoError),
        };
        Ok(Some((number, field)))
    }
}

/// Calls `visit` for every field of a message.
fn for_each_field<'a>(
    data: &'a [u8],
    mut visit: impl FnMut(u64, Field<'a>) -> Result<(), ProtoError>,
) -> Result<(), ProtoError> {
    let mut reader = Reader { data };
    while let Some((number, field)) = reader.next_field()? {
        visit(number, field)?;
    }
    Ok(())
}

fn text(bytes: &[u8]) -> Result<Value, ProtoError> {
    std::str::from_utf8(bytes)
        .map(|text| Value::String(text.to_owned()))
        .map_err(|_| ProtoError)
}

fn hex(bytes: &[u8]) -> Value {
    Value::String(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

fn push(object: &mut Map<String, Value>, key: &str, value: Value) {
    if let Value::Array(values) = object
        .entry(key)
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        values.push(value);
    }
}

/// `AnyValue` → its OTLP/JSON form (`{"stringValue": …}` etc.).
fn any_value(data: &[u8]) -> Result<Value, ProtoError> {
    let mut out = Map::new();
    for_each_field(data, |number, field| {
        match (number, field) {
            (1, Field::Bytes(bytes)) => {
                out.insert("stringValue".into(), text(bytes)?);
            }
            (2, Field::Varint(value)) => {
                out.insert("boolValue".into(), Value::Bool(value != 0));
            }
            // int64 travels as a two's complement varint; OTLP/JSON writes it as a string.
            (3, Field::Varint(value)) => {
                out.insert("intValue".into(), Value::String((value as i64).to_string()));
            }
            (4, Field::Fixed64(bits)) => {
                let number = serde_json::Number::from_f64(f64::from_bits(bits));
                out.insert(
                    "doubleValue".into(),
                    number.map_or(Value::Null, Value::Number),
                );
            }
            (5, Field::Bytes(bytes)) => {
                let mut values = Vec::new();
                for_each_field(bytes, |number, field| {
                    if let (1, Field::Bytes(element)) = (number, field) {
                        values.push(any_value(element)?);
                    }
                    Ok(())
                })?;
                out.insert("arrayValue".into(), serde_json::json!({ "values": values }));
            }
            (6, Field::Bytes(bytes)) => {
                let mut values = Vec::new();
                for_each_field(bytes, |number, field| {
                    if let (1, Field::Bytes(entry)) = (number, field) {
                        values.push(key_value(entry)?);
                    }
                    Ok(())
                })?;
                out.insert(
                    "kvlistValue".into(),
                    serde_json::json!({ "values": values }),
                );
            }
            (7, Field::Bytes(bytes)) => {
                out.insert("bytesValue".into(), hex(bytes));
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(Value::Object(out))
}

/// `KeyValue` → `{"key": …, "value": {…}}`.
fn key_value(data: &[u8]) -> Result<Value, ProtoError> {
    let mut out = Map::new();
    for_each_field(data, |number, field| {
        match (number, field) {
            (1, Field::Bytes(bytes)) => {
                out.insert("key".into(), text(bytes)?);
            }
            (2, Field::Bytes(bytes)) => {
                out.insert("value".into(), any_value(bytes)?);
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(Value::Object(out))
}

/// `Resource` (1: attributes) or `InstrumentationScope` (1: name, 2: version,
/// 3: attributes).
fn resource_or_scope(data: &[u8], is_scope: bool) -> Result<Value, ProtoError> {
    let mut out = Map::new();
    for_each_field(data, |number, field| {
        match (is_scope, number, field) {
            (false, 1, Field::Bytes(bytes)) | (true, 3, Field::Bytes(bytes)) => {
                push(&mut out, "attributes", key_value(bytes)?);
            }
            (true, 1, Field::Bytes(bytes)) => {
                out.insert("name".into(), text(bytes)?);
            }
            (true, 2, Field::Bytes(bytes)) => {
                out.insert("version".into(), text(bytes)?);
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(Value::Object(out))
}

/// Which record type a scope container holds.
#[derive(Clone, Copy)]
enum Signal {
    Traces,
    Logs,
}

/// `Span` → OTLP/JSON.
fn span(data: &[u8]) -> Result<Value, ProtoError> {
    let mut out = Map::new();
    for_each_field(data, |number, field| {
        match (number, field) {
            (1, Field::Bytes(bytes)) => {
                out.insert("traceId".into(), hex(bytes));
            }
            (2, Field::Bytes(bytes)) => {
                out.insert("spanId".into(), hex(bytes));
            }
            (4, Field::Bytes(bytes)) if !bytes.is_empty() => {
                out.insert("parentSpanId".into(), hex(bytes));
            }
            (5, Field::Bytes(bytes)) => {
                out.insert("name".into(), text(bytes)?);
            }
            (6, Field::Varint(kind)) => {
                out.insert("kind".into(), Value::from(kind));
            }
            (7, Field::Fixed64(nanos)) => {
                out.insert("startTimeUnixNano".into(), Value::String(nanos.to_string()));
            }
            (8, Field::Fixed64(nanos)) => {
                out.insert("endTimeUnixNano".into(), Value::String(nanos.to_string()));
            }
            (9, Field::Bytes(bytes)) => push(&mut out, "attributes", key_value(bytes)?),
            (13, Field::Bytes(bytes)) => {
                let mut link = Map::new();
                for_each_field(bytes, |number, field| {
                    match (number, field) {
                        (1, Field::Bytes(bytes)) => {
                            link.insert("traceId".into(), hex(bytes));
                        }
                        (2, Field::Bytes(bytes)) => {
                            link.insert("spanId".into(), hex(bytes));
                        }
                        (4, Field::Bytes(bytes)) => {
                            push(&mut link, "attributes", key_value(bytes)?)
                        }
                        (6, Field::Fixed32(flags)) => {
                            link.insert("flags".into(), Value::from(flags));
                        }
                        _ => {}
                    }
                    Ok(())
                })?;
                push(&mut out, "links", Value::Object(link));
            }
            (15, Field::Bytes(bytes)) => {
                let mut status = Map::new();
                for_each_field(bytes, |number, field| {
                    match (number, field) {
                        (2, Field::Bytes(bytes)) => {
                            status.insert("message".into(), text(bytes)?);
                        }
                        (3, Field::Varint(code)) => {
                            status.insert("code".into(), Value::from(code));
                        }
                        _ => {}
                    }
                    Ok(())
                })?;
                out.insert("status".into(), Value::Object(status));
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(Value::Object(out))
}

/// `LogRecord` → OTLP/JSON.
fn log_record(data: &[u8]) -> Result<Value, ProtoError> {
    let mut out = Map::new();
    for_each_field(data, |number, field| {
        match (number, field) {
            (1, Field::Fixed64(nanos)) => {
                out.insert("timeUnixNano".into(), Value::String(nanos.to_string()));
            }
            (11, Field::Fixed64(nanos)) => {
                out.insert(
                    "observedTimeUnixNano".into(),
                    Value::String(nanos.to_string()),
                );
            }
            (2, Field::Varint(severity)) => {
                out.insert("severityNumber".into(), Value::from(severity));
            }
            (3, Field::Bytes(bytes)) => {
                out.insert("severityText".into(), text(bytes)?);
            }
            (5, Field::Bytes(bytes)) => {
                out.insert("body".into(), any_value(bytes)?);
            }
            (6, Field::Bytes(bytes)) => push(&mut out, "attributes", key_value(bytes)?),
            (9, Field::Bytes(bytes)) if !bytes.is_empty() => {
                out.insert("traceId".into(), hex(bytes));
            }
            (10, Field::Bytes(bytes)) if !bytes.is_empty() => {
                out.insert("spanId".into(), hex(bytes));
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(Value::Object(out))
}

/// `Scope{Spans,Logs}` → OTLP/JSON.
fn scope_records(data: &[u8], signal: Signal) -> Result<Value, ProtoError> {
    let records_key = match signal {
        Signal::Traces => "spans",
        Signal::Logs => "logRecords",
    };
    let mut out = Map::new();
    for_each_field(data, |number, field| {
        match (number, field) {
            (1, Field::Bytes(bytes)) => {
                out.insert("scope".into(), resource_or_scope(bytes, true)?);
            }
            (2, Field::Bytes(bytes)) => {
                let record = match signal {
                    Signal::Traces => span(bytes)?,
                    Signal::Logs => log_record(bytes)?,
                };
                push(&mut out, records_key, record);
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(Value::Object(out))
}

/// `Export{Trace,Logs}ServiceRequest` → OTLP/JSON.
fn export_request(data: &[u8], signal: Signal) -> Result<Value, ProtoError> {
    let (resources_key, scopes_key) = match signal {
        Signal::Traces => ("resourceSpans", "scopeSpans"),
        Signal::Logs => ("resourceLogs", "scopeLogs"),
    };
    let mut out = Map::new();
    for_each_field(data, |number, field| {
        if let (1, Field::Bytes(bytes)) = (number, field) {
            let mut resource = Map::new();
            for_each_field(bytes, |number, field| {
                match (number, field) {
                    (1, Field::Bytes(bytes)) => {
                        resource.insert("resource".into(), resource_or_scope(bytes, false)?);
                    }
                    (2, Field::Bytes(bytes)) => {
                        push(&mut resource, scopes_key, scope_records(bytes, signal)?);
                    }
                    _ => {}
                }
                Ok(())
            })?;
            push(&mut out, resources_key, Value::Object(resource));
        }
        Ok(())
    })?;
    Ok(Value::Object(out))
}

/// Decodes an `ExportTraceServiceRequest` into its OTLP/JSON form.
pub fn decode_traces_protobuf(data: &[u8]) -> Result<Value, ProtoError> {
    export_request(data, Signal::Traces)
}

/// Decodes an `ExportLogsServiceRequest` into its OTLP/JSON form.
pub fn decode_logs_protobuf(data: &[u8]) -> Result<Value, ProtoError> {
    export_request(data, Signal::Logs)
}

/// The plain JSON value of an OTLP/JSON `AnyValue`.
pub fn plain_value(value: &Value) -> Value {
    let Some(object) = value.as_object() else {
        return Value::Null;
    };
    if let Some(text) = object.get("stringValue") {
        return text.clone();
    }
    if let Some(flag) = object.get("boolValue") {
        return flag.clone();
    }
    if let Some(integer) = object.get("intValue") {
        return match integer {
            Value::String(text) => text.parse::<i64>().map_or(Value::Null, Value::from),
            other => other.clone(),
        };
    }
    if let Some(double) = object.get("doubleValue") {
        return match double {
            Value::String(text) => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number),
            other => other.clone(),
        };
    }
    if let Some(array) = object.get("arrayValue") {
        let values = array
            .get("values")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        return Value::Array(values.iter().map(plain_value).collect());
    }
    if let Some(list) = object.get("kvlistValue") {
        let mut map = Map::new();
        for entry in list
            .get("values")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if let Some(key) = entry.get("key").and_then(Value::as_str) {
                map.insert(
                    key.to_owned(),
                    entry.get("value").map_or(Value::Null, plain_value),
                );
            }
        }
        return Value::Object(map);
    }
    if let Some(bytes) = object.get("bytesValue") {
        return bytes.clone();
    }
    Value::Null
}

/// OTLP/JSON `attributes` (`[{key, value}]`) into typed attributes (later keys win).
pub fn collect_attributes(list: Option<&Value>, into: &mut Map<String, Value>) {
    for entry in list
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let Some(key) = entry.get("key").and_then(Value::as_str) else {
            continue;
        };
        let value = entry.get("value").map_or(Value::Null, plain_value);
        if let Some(attribute) = attribute_from_json(&value) {
            into.insert(key.to_owned(), attribute);
        }
    }
}

/// A nanosecond timestamp (string or number) as unix seconds.
pub fn nanos_to_seconds(value: Option<&Value>) -> Option<f64> {
    let nanos = match value? {
        Value::String(text) => text.parse::<u64>().ok()?,
        Value::Number(number) => number.as_u64()?,
        _ => return None,
    };
    Some(nanos as f64 / 1e9)
}

/// The `resource → scope → record` triples of an OTLP/JSON export request, with the
/// resource and scope attributes merged into one attribute map per scope.
pub fn records<'a>(
    request: &'a Value,
    resources_key: &str,
    scopes_key: &str,
    records_key: &str,
) -> Vec<(Map<String, Value>, &'a Value)> {
    let mut out = Vec::new();
    let array = |value: Option<&'a Value>| {
        value
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    };
    for resource in array(request.get(resources_key)) {
        let mut resource_attributes = Map::new();
        collect_attributes(
            resource.get("resource").and_then(|r| r.get("attributes")),
            &mut resource_attributes,
        );
        for scope in array(resource.get(scopes_key)) {
            let mut shared = resource_attributes.clone();
            if let Some(scope_info) = scope.get("scope") {
                if let Some(name) = scope_info
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                {
                    shared.insert("instrumentation.name".into(), string_attribute(name));
                }
                if let Some(version) = scope_info
                    .get("version")
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
                {
                    shared.insert("instrumentation.version".into(), string_attribute(version));
                }
                collect_attributes(scope_info.get("attributes"), &mut shared);
            }
            for record in array(scope.get(records_key)) {
                out.push((shared.clone(), record));
            }
        }
    }
    out
}

/// OTLP span kinds by enum value.
fn span_kind(kind: Option<&Value>) -> Option<&'static str> {
    let kind = match kind? {
        Value::Number(number) => number.as_u64()?,
        Value::String(text) => match text.as_str() {
            "SPAN_KIND_INTERNAL" => 1,
            "SPAN_KIND_SERVER" => 2,
            "SPAN_KIND_CLIENT" => 3,
            "SPAN_KIND_PRODUCER" => 4,
            "SPAN_KIND_CONSUMER" => 5,
            _ => return None,
        },
        _ => return None,
    };
    match kind {
        1 => Some("internal"),
        2 => Some("server"),
        3 => Some("client"),
        4 => Some("producer"),
        5 => Some("consumer"),
        _ => None,
    }
}

/// The spans of an OTLP/JSON `ExportTraceServiceRequest` in span v2: ids as given
/// (hex), `startTimeUnixNano`/`endTimeUnixNano` as seconds, status code 2 (`ERROR`) →
/// `error` else `ok`, resource + scope + span attributes (span wins), `kind` as
/// `sentry.kind`, `sentry.op` from the `sentry.op` attribute if any. A span without a
/// parent is a segment.
pub fn traces_to_spans(request: &Value) -> Vec<SpanV2> {
    records(request, "resourceSpans", "scopeSpans", "spans")
        .into_iter()
        .map(|(shared, record)| {
            let mut span = SpanV2::new();
            for (from, to) in [
                ("traceId", "trace_id"),
                ("spanId", "span_id"),
                ("parentSpanId", "parent_span_id"),
            ] {
                if let Some(id) = record
                    .get(from)
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
                {
                    span.insert(to.into(), Value::String(id.to_owned()));
                }
            }
            let name = record
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            span.insert("name".into(), Value::String(name.to_owned()));
            let is_error = record
                .get("status")
                .and_then(|status| status.get("code"))
                .is_some_and(|code| {
                    code.as_u64() == Some(2) || code.as_str() == Some("STATUS_CODE_ERROR")
                });
            span.insert(
                "status".into(),
                Value::String(if is_error { "error" } else { "ok" }.into()),
            );
            span.insert(
                "is_segment".into(),
                Value::Bool(!span.contains_key("parent_span_id")),
            );
            for (from, to) in [
                ("startTimeUnixNano", "start_timestamp"),
                ("endTimeUnixNano", "end_timestamp"),
            ] {
                if let Some(seconds) =
                    nanos_to_seconds(record.get(from)).and_then(serde_json::Number::from_f64)
                {
                    span.insert(to.into(), Value::Number(seconds));
                }
            }
            let mut attributes = shared;
            collect_attributes(record.get("attributes"), &mut attributes);
            if let Some(kind) = span_kind(record.get("kind")) {
                attributes.insert("sentry.kind".into(), string_attribute(kind));
            }
            if let Some(message) = record
                .get("status")
                .and_then(|status| status.get("message"))
                .and_then(Value::as_str)
                .filter(|message| !message.is_empty())
            {
                attributes.insert("sentry.status.message".into(), string_attribute(message));
            }
            let links: Vec<Value> = record
                .get("links")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(|link| {
                    let mut out = Map::new();
                    out.insert("trace_id".into(), link.get("traceId")?.clone());
                    out.insert("span_id".into(), link.get("spanId")?.clone());
                    if let Some(flags) = link.get("flags").and_then(Value::as_u64) {
                        // W3C trace flags: bit 0 is "sampled".
                        out.insert("sampled".into(), Value::Bool(flags & 1 == 1));
                    }
                    let mut link_attributes = Map::new();
                    collect_attributes(link.get("attributes"), &mut link_attributes);
                    if !link_attributes.is_empty() {
                        out.insert("attributes".into(), Value::Object(link_attributes));
                    }
                    Some(Value::Object(out))
                })
                .collect();
            if !links.is_empty() {
                span.insert("links".into(), Value::Array(links));
            }
            span.insert("attributes".into(), Value::Object(attributes));
            span
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::services::processing::spans::process;
    use crate::services::processing::spans::tests::{harness_with, now_seconds, TRACE_ID};

    #[test]
    fn otlp_json_traces_are_converted_without_dsc() {
        let now_nanos = (now_seconds() * 1e9) as u64;
        let request = json!({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
            "scopeSpans": [{"scope": {"name": "lib", "version": "1"}, "spans": [{
                "traceId": TRACE_ID, "spanId": "eee19b7ec3c1b175", "name": "GET /", "kind": 2,
                "startTimeUnixNano": (now_nanos - 1_000_000_000).to_string(), "endTimeUnixNano": now_nanos.to_string(),
                "status": {"code": 2, "message": "boom"},
                "attributes": [{"key": "http.method", "value": {"stringValue": "GET"}}]
            }]}]
        }]});
        let payload = request.to_string();
        let item = format!(
            "{{\"type\":\"integration\",\"content_type\":\"application/vnd.sentry.integration.otel.spans+json\",\"length\":{}}}\n{}\n",
            payload.len(),
            payload
        );
        let mut harness = harness_with(&item, &[], json!({}));
        harness.run(process);
        let spans = harness.spans();
        assert_eq!(spans.len(), 1, "{:?}", harness.outcome_reasons());
        let span = &spans[0];
        assert_eq!(span["name"], "GET /");
        assert_eq!(span["status"], "error");
        assert_eq!(span["is_segment"], true);
        assert_eq!(span["attributes"]["service.name"]["value"], "api");
        assert_eq!(span["attributes"]["http.method"]["value"], "GET");
        assert_eq!(span["attributes"]["sentry.kind"]["value"], "server");
        assert_eq!(span["attributes"]["sentry.relay.ingress"]["value"], "otlp");
    }

    #[test]
    fn otlp_protobuf_traces_decode() {
        // ExportTraceServiceRequest{resource_spans: [{scope_spans: [{spans: [{trace_id, span_id,
        // name: "n", start 1s, end 2s}]}]}]}
        let trace_id: Vec<u8> = (1..=16).collect();
        let span_id: Vec<u8> = (1..=8).collect();
        let span = [
            vec![0x0a, 16],
            trace_id,
            vec![0x12, 8],
            span_id,
            vec![0x2a, 1, b'n'],
            vec![0x39],
            1_000_000_000u64.to_le_bytes().to_vec(),
            vec![0x41],
            2_000_000_000u64.to_le_bytes().to_vec(),
        ]
        .concat();
        let scope = [vec![0x12, span.len() as u8], span].concat();
        let resource = [vec![0x12, scope.len() as u8], scope].concat();
        let request = [vec![0x0a, resource.len() as u8], resource].concat();
        let json = decode_traces_protobuf(&request).unwrap();
        let spans = traces_to_spans(&json);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0]["trace_id"], "0102030405060708090a0b0c0d0e0f10");
        assert_eq!(spans[0]["span_id"], "0102030405060708");
        assert_eq!(spans[0]["start_timestamp"], 1.0);
        assert_eq!(spans[0]["end_timestamp"], 2.0);
        assert!(decode_traces_protobuf(&[0x0a, 0x09]).is_err());
    }
}
