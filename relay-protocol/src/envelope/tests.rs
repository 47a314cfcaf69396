//! Tests of envelope framing, serialization and request-meta merging.

use super::*;
use crate::dsn::{Dsn, DsnScheme};
use crate::ids::{ProjectId, ProjectKey};

const KEY: &str = "0123456789abcdef0123456789abcdef";
const OTHER_KEY: &str = "fedcba9876543210fedcba9876543210";
const EVENT_ID: &str = "4b7b9e0d4c1f4f0a9a3f6a2d8f1c2b3a";

fn parse(input: &[u8]) -> Result<Envelope, EnvelopeError> {
    Envelope::parse(Bytes::copy_from_slice(input))
}

fn payloads(envelope: &Envelope) -> Vec<&[u8]> {
    envelope.items().iter().map(Item::payload_slice).collect()
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

#[test]
fn framing_table_rows() {
    let envelope = parse(b"{}\n{\"type\":\"attachment\",\"length\":0}\n\n").unwrap();
    assert_eq!(payloads(&envelope), vec![b"".as_slice()]);

    let envelope = parse(b"{}\n{\"type\":\"attachment\"}").unwrap();
    assert_eq!(payloads(&envelope), vec![b"".as_slice()]);

    let envelope = parse(b"{}\n{\"type\":\"attachment\"}\nhelloworld").unwrap();
    assert_eq!(payloads(&envelope), vec![b"helloworld".as_slice()]);

    assert_eq!(
        parse(b"{}\n{\"type\":\"attachment\",\"length\":0}\n\n\n"),
        Err(EnvelopeError::UnexpectedEof)
    );
    assert_eq!(
        parse(b"{}\n{\"type\":\"x\",\"length\":5}\nabc"),
        Err(EnvelopeError::UnexpectedEof)
    );
}

#[test]
fn empty_remainder_has_no_items() {
    assert!(parse(b"{}").unwrap().is_empty());
    assert!(parse(b"{}\n").unwrap().is_empty());
    assert!(parse(b"  {}\n").unwrap().is_empty());
}

#[test]
fn spec_example_round_trips_byte_for_byte() {
    let input = format!(
        "{{\"event_id\":\"{EVENT_ID}\",\"dsn\":\"https://{KEY}:@o1.ingest.example/7\",\"sent_at\":\"2025-01-01T12:00:00.000000Z\"}}\n\
         {{\"type\":\"event\",\"length\":26,\"content_type\":\"application/json\"}}\n\
         {{\"message\":\"disk is full\"}}\n\
         {{\"type\":\"attachment\",\"length\":5,\"content_type\":\"text/plain\",\"filename\":\"out.txt\"}}\n\
         hello\n"
    );
    let envelope = parse(input.as_bytes()).unwrap();
    assert_eq!(envelope.len(), 2);
    assert_eq!(envelope.event_id().unwrap().to_string(), EVENT_ID);
    assert_eq!(envelope.items()[0].ty(), &ItemType::Event);
    assert_eq!(envelope.items()[0].content_type(), Some(ContentType::Json));
    assert_eq!(envelope.items()[1].filename(), Some("out.txt"));
    assert_eq!(envelope.event_category(), Some(DataCategory::Error));
    // Relay adds `version` and writes `sent_at` with the shortest exact fraction.
    let expected = input
        .replace(
            ":@o1.ingest.example/7\",",
            ":@o1.ingest.example/7\",\"version\":7,",
        )
        .replace("12:00:00.000000Z", "12:00:00Z");
    assert_eq!(text(&envelope.to_vec()), expected);
}

#[test]
fn error_reasons_are_verbatim() {
    let cases: Vec<(&[u8], EnvelopeError, &str)> = vec![
        (
            b"{}\n   ",
            EnvelopeError::UnexpectedEof,
            "unexpected end of file",
        ),
        (b"", EnvelopeError::MissingHeader, "missing envelope header"),
        (
            b" \n\t ",
            EnvelopeError::MissingHeader,
            "missing envelope header",
        ),
        (
            b"{}x",
            EnvelopeError::MissingNewline,
            "missing newline after header or payload",
        ),
        (
            b"{} \n",
            EnvelopeError::MissingNewline,
            "missing newline after header or payload",
        ),
        (
            b"{}\n{\"type\":\"event\"} \n",
            EnvelopeError::MissingNewline,
            "missing newline after header or payload",
        ),
        (
            b"{}\n{\"type\":\"event\",\"length\":1}\nab\n",
            EnvelopeError::MissingNewline,
            "missing newline after header or payload",
        ),
        (
            b"{\"event_id\":\"x\"}\n",
            EnvelopeError::InvalidHeader,
            "invalid envelope header",
        ),
        (
            b"{\"dsn\":\"nope\"}\n",
            EnvelopeError::InvalidHeader,
            "invalid envelope header",
        ),
        (
            b"{\"sent_at\":\"x\"}\n",
            EnvelopeError::InvalidHeader,
            "invalid envelope header",
        ),
        (
            b"{\"a\":\n",
            EnvelopeError::InvalidHeader,
            "invalid envelope header",
        ),
        (
            b"[1]\n",
            EnvelopeError::InvalidHeader,
            "invalid envelope header",
        ),
        (
            b"{}\n{\"length\":1}\nx\n",
            EnvelopeError::InvalidItemHeader,
            "invalid item header",
        ),
        (
            b"{}\n{\"type\":\n",
            EnvelopeError::InvalidItemHeader,
            "invalid item header",
        ),
        (
            b"{}\n{\"type\":\"event\",\"length\":\"1\"}\nx\n",
            EnvelopeError::InvalidItemHeader,
            "invalid item header",
        ),
        (
            b"{}\n{\"type\":\"event\",\"length\":null}\nx\n",
            EnvelopeError::InvalidItemHeader,
            "invalid item header",
        ),
        (
            b"{}\nnot json\n",
            EnvelopeError::InvalidItemHeader,
            "invalid item header",
        ),
        (
            b"{}\n{\"type\":\"event\",\"length\":18446744073709551615}\n",
            EnvelopeError::UnexpectedEof,
            "unexpected end of file",
        ),
    ];
    for (input, error, message) in cases {
        assert_eq!(
            parse(input),
            Err(error.clone()),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(error.to_string(), message);
    }
    assert_eq!(
        EnvelopeError::TooManyItems.to_string(),
        "too many individual items"
    );
    assert_eq!(
        EnvelopeError::HeaderMismatchOrigin.to_string(),
        "origin header mismatch between envelope and request"
    );
    assert_eq!(
        EnvelopeError::HeaderMismatchProjectId.to_string(),
        "project id header mismatch between envelope and request"
    );
    assert_eq!(
        EnvelopeError::HeaderMismatchPublicKey.to_string(),
        "public key header mismatch between envelope and request"
    );
}

fn envelope_with_sessions(count: usize) -> Vec<u8> {
    let mut input = b"{}\n".to_vec();
    for _ in 0..count {
        input.extend_from_slice(b"{\"type\":\"session\",\"length\":2}\n{}\n");
    }
    input
}

#[test]
fn item_limit() {
    assert_eq!(
        parse(&envelope_with_sessions(MAX_ITEMS_PER_ENVELOPE))
            .unwrap()
            .len(),
        500
    );
    assert_eq!(
        parse(&envelope_with_sessions(MAX_ITEMS_PER_ENVELOPE + 1)),
        Err(EnvelopeError::TooManyItems)
    );
}

#[test]
fn payloads_are_binary_safe_and_keep_carriage_returns() {
    let mut input = b"{}\n{\"type\":\"attachment\",\"length\":6}\n".to_vec();
    input.extend_from_slice(&[0, 0xff, b'\n', b'\r', b'\n', 7]);
    input.extend_from_slice(b"\n{\"type\":\"attachment\"}\nline\r\n");
    let envelope = parse(&input).unwrap();
    assert_eq!(
        payloads(&envelope),
        vec![
            [0u8, 0xff, b'\n', b'\r', b'\n', 7].as_slice(),
            b"line\r".as_slice()
        ]
    );
    assert_eq!(envelope.to_vec(), {
        let mut expected = b"{\"version\":7}\n".to_vec();
        expected.extend_from_slice(&input[3..]);
        expected
    });
}

#[test]
fn whitespace_before_item_header_is_tolerated() {
    let envelope = parse(b"{}\n  {\"type\":\"event\",\"length\":2}\n{}\n").unwrap();
    assert_eq!(payloads(&envelope), vec![b"{}".as_slice()]);
}

#[test]
fn payloads_are_not_copied() {
    let input = Bytes::from_static(b"{}\n{\"type\":\"attachment\",\"length\":5}\nhello\n");
    let envelope = Envelope::parse(input.clone()).unwrap();
    let payload = envelope.items()[0].payload();
    let input_range = input.as_ptr() as usize..input.as_ptr() as usize + input.len();
    assert!(input_range.contains(&(payload.as_ptr() as usize)));
}

#[test]
fn items_without_length_are_written_back_without_it() {
    let input = b"{\"version\":7}\n{\"type\":\"attachment\",\"filename\":\"a\"}\nabc\n";
    let envelope = parse(input).unwrap();
    assert_eq!(envelope.to_vec(), input.to_vec());
}

#[test]
fn unknown_items_are_forwarded_with_original_headers() {
    let input = b"{\"version\":7}\n{\"type\":\"statsd\",\"zeta\":1,\"alpha\":[true]}\nfoo:1|c\n";
    let envelope = parse(input).unwrap();
    let item = &envelope.items()[0];
    assert!(item.is_unknown());
    assert_eq!(item.ty().name(), "statsd");
    assert_eq!(
        text(&envelope.to_vec()),
        "{\"version\":7}\n{\"type\":\"statsd\",\"alpha\":[true],\"zeta\":1}\nfoo:1|c\n"
    );
}

#[test]
fn round_trips_are_stable() {
    let inputs: Vec<Vec<u8>> = vec![
        format!(
            "{{\"sdk\":{{\"version\":\"1\",\"name\":\"x\"}},\"trace\":{{\"trace_id\":\"{EVENT_ID}\",\"public_key\":\"{KEY}\",\"sample_rate\":\"0.1\",\"sampled\":\"false\"}},\"sent_at\":\"2025-01-01T12:00:00.123456789+00:00\",\"required_features\":[\"f\"]}}\n\
             {{\"type\":\"transaction\",\"span_count\":2,\"length\":2}}\n{{}}\n\
             {{\"type\":\"profile_chunk_ui\",\"platform\":\"android\"}}\n{{}}\n\
             {{\"type\":\"log\",\"item_count\":1,\"content_type\":\"application/vnd.sentry.items.log+json\",\"length\":20}}\n{{\"items\":[{{\"a\":1}}]}}\n"
        )
        .into_bytes(),
        b"{\"x\":[1]}\n{\"type\":\"attachment\",\"filename\":5,\"item_count\":\"2\"}\n\n".to_vec(),
        b"{\"no_cache\":true,\"client_hints\":{\"sec_ch_ua_model\":\"\"}}\n".to_vec(),
    ];
    for input in inputs {
        let first = parse(&input).unwrap();
        let serialized = first.to_vec();
        let second = parse(&serialized).unwrap();
        assert_eq!(second.items(), first.items());
        assert_eq!(second.to_vec(), serialized, "{}", text(&serialized));
        let third = parse(&second.to_vec()).unwrap();
        assert_eq!(third, second);
    }
}

#[test]
fn invalid_trace_is_written_as_null_which_reads_back_as_absent() {
    let first = parse(b"{\"trace\":[1]}\n").unwrap();
    assert_eq!(first.headers().trace, Some(TraceHeader::Invalid));
    assert_eq!(text(&first.to_vec()), "{\"version\":7,\"trace\":null}\n");
    let second = parse(&first.to_vec()).unwrap();
    assert_eq!(second.headers().trace, None);
    assert_eq!(text(&second.to_vec()), "{\"version\":7}\n");
}

#[test]
fn profile_chunk_alias_is_written_canonically() {
    let envelope = parse(b"{}\n{\"type\":\"profile_chunk_ui\",\"length\":0}\n\n").unwrap();
    assert_eq!(envelope.items()[0].ty(), &ItemType::ProfileChunk);
    assert_eq!(
        text(&envelope.to_vec()),
        "{\"version\":7}\n{\"type\":\"profile_chunk\",\"length\":0}\n\n"
    );
}

#[test]
fn item_management() {
    let mut envelope = parse(
        b"{}\n{\"type\":\"event\",\"length\":0}\n\n{\"type\":\"session\",\"length\":0}\n\n{\"type\":\"statsd\",\"length\":0}\n\n",
    )
    .unwrap();
    assert_eq!(envelope.len(), 3);
    envelope.retain_items(|item| !item.is_unknown());
    assert_eq!(envelope.len(), 2);
    let mut attachment = Item::new(ItemType::Attachment);
    attachment.set_payload(ContentType::OctetStream, b"a\nb".to_vec());
    envelope.add_item(attachment);
    envelope.items_mut()[0].set_fully_normalized(true);
    let serialized = envelope.to_vec();
    assert_eq!(
        text(&serialized),
        "{\"version\":7}\n{\"type\":\"event\",\"length\":0,\"fully_normalized\":true}\n\n{\"type\":\"session\",\"length\":0}\n\n{\"type\":\"attachment\",\"length\":3,\"content_type\":\"application/octet-stream\"}\na\nb\n"
    );
    assert!(envelope.serialized_size_hint() >= serialized.len());
    let items = envelope.take_items();
    assert_eq!(items.len(), 3);
    assert!(envelope.is_empty());
}

#[test]
fn event_ids_and_categories() {
    let mut envelope = parse(b"{}\n{\"type\":\"session\",\"length\":0}\n\n").unwrap();
    assert_eq!(envelope.ensure_event_id(), None);
    assert_eq!(envelope.event_category(), None);
    envelope.add_item(Item::new(ItemType::Transaction));
    let generated = envelope.ensure_event_id().unwrap();
    assert_eq!(envelope.event_id(), Some(generated));
    assert_eq!(envelope.ensure_event_id(), Some(generated));
    assert_eq!(envelope.event_category(), Some(DataCategory::Transaction));
    envelope.set_event_id(crate::ids::EventId::nil());
    assert!(envelope.event_id().unwrap().is_nil());

    let mut crash = Item::new(ItemType::Attachment);
    crash.set_attachment_type(AttachmentType::AppleCrashReport);
    let mut envelope = Envelope::new(EnvelopeHeaders::default());
    envelope.add_item(Item::new(ItemType::Attachment));
    envelope.add_item(crash);
    envelope.add_item(Item::new(ItemType::Security));
    assert_eq!(envelope.event_category(), Some(DataCategory::Error));
}

fn request_meta(key: &str, project_id: u64) -> RequestMeta {
    let key = ProjectKey::parse(key).unwrap();
    RequestMeta::new(Dsn::internal(
        DsnScheme::Http,
        key,
        "upstream.example",
        Some(3000),
        ProjectId(project_id),
    ))
}

fn complete(header: &str, meta: &mut RequestMeta) -> Result<Envelope, EnvelopeError> {
    let mut envelope = parse(format!("{header}\n").as_bytes())?;
    envelope.complete_with_request_meta(meta)?;
    Ok(envelope)
}

#[test]
fn origin_must_match_the_request() {
    let mut meta = request_meta(KEY, 1);
    meta.origin = Some(url::Url::parse("http://a.com").unwrap());
    assert!(complete(r#"{"origin":"http://a.com/"}"#, &mut meta).is_ok());
    assert_eq!(
        complete(r#"{"origin":"http://b.com"}"#, &mut meta).unwrap_err(),
        EnvelopeError::HeaderMismatchOrigin
    );

    let mut without_origin = request_meta(KEY, 1);
    assert_eq!(
        complete(r#"{"origin":"http://a.com"}"#, &mut without_origin).unwrap_err(),
        EnvelopeError::HeaderMismatchOrigin
    );

    let mut from_envelope_dsn = request_meta(KEY, 1);
    from_envelope_dsn.from_envelope_dsn = true;
    let envelope = complete(r#"{"origin":"http://a.com"}"#, &mut from_envelope_dsn).unwrap();
    assert_eq!(
        from_envelope_dsn.origin.as_ref().map(url::Url::as_str),
        Some("http://a.com/")
    );
    assert_eq!(
        envelope.headers().origin.as_ref().map(url::Url::as_str),
        Some("http://a.com/")
    );

    let mut different = request_meta(KEY, 1);
    different.from_envelope_dsn = true;
    different.origin = Some(url::Url::parse("http://c.com").unwrap());
    assert_eq!(
        complete(r#"{"origin":"http://a.com"}"#, &mut different).unwrap_err(),
        EnvelopeError::HeaderMismatchOrigin
    );
}

#[test]
fn header_dsn_must_match_the_request() {
    let mut meta = request_meta(KEY, 42);
    let header = format!(r#"{{"dsn":"https://{KEY}@elsewhere.example/42"}}"#);
    let envelope = complete(&header, &mut meta).unwrap();
    // The request DSN wins.
    assert_eq!(
        envelope.headers().dsn.as_deref(),
        Some(format!("http://{KEY}:@upstream.example:3000/42").as_str())
    );
    let header = format!(r#"{{"dsn":"https://{KEY}@elsewhere.example/43"}}"#);
    assert_eq!(
        complete(&header, &mut meta).unwrap_err(),
        EnvelopeError::HeaderMismatchProjectId
    );
    let header = format!(r#"{{"dsn":"https://{OTHER_KEY}@elsewhere.example/42"}}"#);
    assert_eq!(
        complete(&header, &mut meta).unwrap_err(),
        EnvelopeError::HeaderMismatchPublicKey
    );
    // Project id is checked first.
    let header = format!(r#"{{"dsn":"https://{OTHER_KEY}@elsewhere.example/43"}}"#);
    assert_eq!(
        complete(&header, &mut meta).unwrap_err(),
        EnvelopeError::HeaderMismatchProjectId
    );
}

#[test]
fn header_values_override_request_meta_and_are_written_back() {
    let mut meta = request_meta(KEY, 1);
    meta.client = Some("request-sdk/1".into());
    meta.remote_addr = Some("10.0.0.1".parse().unwrap());
    meta.forwarded_for = "10.0.0.1".into();
    meta.user_agent = Some("request-agent".into());
    meta.client_hints.sec_ch_ua = Some("request-ua".into());
    meta.client_hints.sec_ch_ua_model = Some("request-model".into());
    meta.version = 7;
    let header = r#"{"client":"sdk/2","version":5,"remote_addr":"192.0.2.1","forwarded_for":"198.51.100.1, 10.0.0.1","user_agent":"ua","client_hints":{"sec_ch_ua":"header-ua"},"no_cache":true,"sdk":{"name":"s"}}"#;
    let envelope = complete(header, &mut meta).unwrap();
    assert_eq!(meta.client.as_deref(), Some("sdk/2"));
    assert_eq!(meta.version, 5);
    assert_eq!(meta.remote_addr, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(meta.forwarded_for, "198.51.100.1, 10.0.0.1");
    assert_eq!(meta.user_agent.as_deref(), Some("ua"));
    assert_eq!(meta.client_hints.sec_ch_ua.as_deref(), Some("header-ua"));
    assert_eq!(
        meta.client_hints.sec_ch_ua_model.as_deref(),
        Some("request-model")
    );
    assert!(meta.no_cache);
    assert_eq!(meta.client_addr(), Some("198.51.100.1".parse().unwrap()));
    assert_eq!(
        text(&envelope.to_vec()),
        format!(
            "{{\"dsn\":\"http://{KEY}:@upstream.example:3000/1\",\"client\":\"sdk/2\",\"version\":5,\"remote_addr\":\"192.0.2.1\",\"forwarded_for\":\"198.51.100.1, 10.0.0.1\",\"user_agent\":\"ua\",\"client_hints\":{{\"sec_ch_ua\":\"header-ua\",\"sec_ch_ua_model\":\"request-model\"}},\"no_cache\":true,\"sdk\":{{\"name\":\"s\"}}}}\n"
        )
    );
}

#[test]
fn version_seven_and_empty_values_do_not_override() {
    let mut meta = request_meta(KEY, 1);
    meta.version = 5;
    meta.forwarded_for = "10.0.0.1".into();
    meta.no_cache = true;
    let envelope = complete(
        r#"{"version":7,"forwarded_for":"","no_cache":false}"#,
        &mut meta,
    )
    .unwrap();
    assert_eq!(meta.version, 5);
    assert_eq!(meta.forwarded_for, "10.0.0.1");
    assert!(meta.no_cache);
    assert_eq!(envelope.headers().version, Some(5));
    assert!(envelope.headers().no_cache);
}

#[test]
fn relay_generated_envelopes() {
    let mut meta = request_meta(KEY, 9);
    meta.client = Some("sentry.relay/26.9.0".into());
    meta.user_agent = Some("sentry-relay/26.9.0".into());
    let envelope = Envelope::from_request_meta(&meta);
    assert_eq!(
        text(&envelope.to_vec()),
        format!(
            "{{\"dsn\":\"http://{KEY}:@upstream.example:3000/9\",\"client\":\"sentry.relay/26.9.0\",\"version\":7,\"user_agent\":\"sentry-relay/26.9.0\"}}\n"
        )
    );
    assert_eq!(envelope.event_id(), None);
}
