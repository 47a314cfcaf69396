//! Invariant checks for fuzzing, shared by the cargo-fuzz targets in `/fuzz` and by the
//! deterministic "fuzz test mode" unit test below.
//!
//! Unlike the rest of the crate these functions *do* panic — on a violated invariant, which is
//! how a fuzzer notices a bug. On any input the parsers under test must return normally.
//!
//! Envelope invariants: a parsed envelope re-serializes to bytes that parse again to the same
//! items and (normalized) headers, and the second serialization is a fixed point. Merging request
//! meta either fails with a mismatch error or yields an envelope that still round-trips.
//!
//! "The same" allows one thing to move: floats in header values. serde_json reads them with
//! its default parser (the workspace does not enable `float_roundtrip`, so that events are read
//! like Sentry reads them), which is not correctly rounded: a float read back from its own
//! shortest text can land an ULP or two away (`1.5e200` → `1.5000000000000001e200`), on every
//! hop, as in Sentry's relays. See [`same_up_to_float_drift`].

use bytes::Bytes;

use crate::auth::{parse_basic_auth, parse_sentry_auth_header, parse_sentry_auth_query};
use crate::client_report::ClientReport;
use crate::dsn::{Dsn, DsnScheme};
use crate::envelope::size_limits::{check_envelope_size_limits, SizeLimits};
use crate::envelope::{
    ContentType, Envelope, EnvelopeError, EnvelopeHeaders, RequestMeta, TraceHeader,
    DEFAULT_ENVELOPE_VERSION, MAX_ITEMS_PER_ENVELOPE,
};
use crate::ids::{EventId, ProjectId, ProjectKey};

/// Project key of the request meta merged into fuzzed envelopes.
const FUZZ_PROJECT_KEY: &str = "0123456789abcdef0123456789abcdef";
/// Project id of the request meta merged into fuzzed envelopes.
const FUZZ_PROJECT_ID: u64 = 42;

/// Parses `data` as an envelope and checks the round-trip invariants.
pub fn fuzz_envelope(data: &[u8]) {
    let Ok(envelope) = Envelope::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    assert!(
        envelope.len() <= MAX_ITEMS_PER_ENVELOPE,
        "item limit not enforced"
    );
    exercise_accessors(&envelope);
    assert_round_trip(&envelope);

    let mut completed = envelope.clone();
    let mut meta = fuzz_request_meta();
    match completed.complete_with_request_meta(&mut meta) {
        Ok(()) => {
            assert_eq!(completed.headers().dsn, Some(meta.dsn.to_string()));
            assert_round_trip(&completed);
        }
        Err(
            EnvelopeError::HeaderMismatchOrigin
            | EnvelopeError::HeaderMismatchProjectId
            | EnvelopeError::HeaderMismatchPublicKey,
        ) => {}
        Err(other) => panic!("unexpected error while merging request meta: {other}"),
    }

    // A rewritten payload with line feeds must be framed by `length`.
    if let Some(first) = envelope.items().first() {
        let mut rewritten = Envelope::new(envelope.headers().clone());
        let mut item = first.clone();
        let mut payload = item.payload_slice().to_vec();
        payload.extend_from_slice(b"\n\n");
        item.set_payload(ContentType::OctetStream, payload.clone());
        rewritten.add_item(item);
        let reparsed = Envelope::parse(Bytes::from(rewritten.to_vec()))
            .unwrap_or_else(|error| panic!("rewritten payload does not parse: {error}"));
        assert_eq!(reparsed.items()[0].payload_slice(), payload.as_slice());
    }
}

fn fuzz_request_meta() -> RequestMeta {
    let key = ProjectKey::parse(FUZZ_PROJECT_KEY).expect("the fuzz project key constant is valid");
    let dsn = Dsn::internal(
        DsnScheme::Https,
        key,
        "relay.example",
        None,
        ProjectId(FUZZ_PROJECT_ID),
    );
    RequestMeta::new(dsn)
}

fn exercise_accessors(envelope: &Envelope) {
    let _ = envelope.event_category();
    let _ = check_envelope_size_limits(envelope, &SizeLimits::default());
    let tiny_limits = SizeLimits {
        max_event_size: 1,
        max_attachment_size: 1,
        max_attachment_count: 1,
        max_attachments_size: 1,
        max_replay_compressed_size: 1,
        max_sessions_size: 1,
        max_session_count: 1,
        max_client_reports_size: 1,
        max_client_reports_count: 1,
        max_profile_size: 1,
        max_check_in_size: 1,
        max_metric_buckets_size: 1,
        max_log_size: 1,
        max_trace_metric_size: 1,
        max_span_size: 1,
        max_standalone_span_count: 1,
        max_container_size: 1,
    };
    if let Err(error) = check_envelope_size_limits(envelope, &tiny_limits) {
        assert!(!error.item_name.is_empty());
    }
    for item in envelope.items() {
        let quantities = item.quantities();
        // Byte categories count at least one byte; count categories may be 0 (`item_count: 0`).
        assert!(quantities
            .iter()
            .filter(|(category, _)| category.unit() == Some(crate::category::CategoryUnit::Bytes))
            .all(|(_, quantity)| *quantity >= 1));
        if item.ty().is_unknown() {
            assert!(quantities.is_empty());
            assert!(!item.creates_event() && !item.requires_event());
        }
        let _ = (
            item.content_type(),
            item.attachment_type(),
            item.is_unknown(),
        );
        let _ = (item.size_limit_name(), item.entry_count(), item.sampled());
        if item.ty().name() == "client_report" {
            if let Ok(report) = ClientReport::parse(item.payload_slice()) {
                assert_client_report_round_trip(&report);
            }
        }
    }
}

/// What a second hop sees of the first hop's headers: `version` is always written and an invalid
/// `trace` is written as `null`, which reads back as absent.
fn normalized_headers(headers: &EnvelopeHeaders) -> EnvelopeHeaders {
    let mut normalized = headers.clone();
    normalized.version = Some(normalized.version.unwrap_or(DEFAULT_ENVELOPE_VERSION));
    if normalized.trace == Some(TraceHeader::Invalid) {
        normalized.trace = None;
    }
    normalized
}

fn assert_round_trip(envelope: &Envelope) {
    let first_bytes = envelope.to_vec();
    let reparsed = Envelope::parse(Bytes::from(first_bytes.clone())).unwrap_or_else(|error| {
        panic!(
            "serialized envelope does not parse ({error}): {:?}",
            String::from_utf8_lossy(&first_bytes)
        )
    });
    assert_same(
        reparsed.items(),
        envelope.items(),
        "items changed in a round trip",
    );
    assert_same(
        reparsed.headers(),
        &normalized_headers(envelope.headers()),
        "headers changed in a round trip",
    );
    let second_bytes = reparsed.to_vec();
    let third = Envelope::parse(Bytes::from(second_bytes.clone()))
        .unwrap_or_else(|error| panic!("second serialization does not parse: {error}"));
    let third_bytes = third.to_vec();
    assert_same(
        &String::from_utf8_lossy(&third_bytes),
        &String::from_utf8_lossy(&second_bytes),
        "serialization is not a fixed point",
    );
}

/// Panics with `what` unless `a == b` or their debug forms differ only by float drift.
fn assert_same<T: PartialEq + std::fmt::Debug + ?Sized>(a: &T, b: &T, what: &str) {
    if a != b && !same_up_to_float_drift(&format!("{a:?}"), &format!("{b:?}")) {
        panic!("{what}\n left: {a:?}\nright: {b:?}");
    }
}

/// Whether two texts are equal except for number literals that both read as floats a few ULP
/// apart (the error of serde_json's default float parser, see the module docs). Everything
/// else, digits of integers included, must be identical.
fn same_up_to_float_drift(a: &str, b: &str) -> bool {
    let (a, b) = (number_tokens(a), number_tokens(b));
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| {
            let is_float = |token: &str| token.contains(['.', 'e', 'E']);
            x == y
                || is_float(x)
                    && is_float(y)
                    && match (x.parse::<f64>(), y.parse::<f64>()) {
                        (Ok(x), Ok(y)) if x.is_finite() && y.is_finite() => {
                            let difference = (x - y).abs();
                            // A few ULP, or a tiny absolute error where subnormals lose precision.
                            difference <= 8.0 * f64::EPSILON * x.abs().max(y.abs())
                                || difference <= f64::MIN_POSITIVE
                        }
                        _ => false,
                    }
        })
}

/// `text` split into maximal runs of the characters of a JSON number and single other
/// characters.
fn number_tokens(text: &str) -> Vec<&str> {
    let is_number_char = |c: char| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-');
    let mut tokens = Vec::new();
    let mut rest = text;
    while let Some(first) = rest.chars().next() {
        let end = if is_number_char(first) {
            rest.find(|c: char| !is_number_char(c))
                .unwrap_or(rest.len())
        } else {
            first.len_utf8()
        };
        let (token, tail) = rest.split_at(end);
        tokens.push(token);
        rest = tail;
    }
    tokens
}

fn assert_client_report_round_trip(report: &ClientReport) {
    let serialized = report.serialize();
    let reparsed = ClientReport::parse(&serialized)
        .unwrap_or_else(|error| panic!("serialized client report does not parse: {error}"));
    assert_eq!(&reparsed, report);
}

/// Runs the auth, key, DSN, event id, content type and client report parsers on `data`.
pub fn fuzz_auth(data: &[u8]) {
    if let Ok(report) = ClientReport::parse(data) {
        assert_client_report_round_trip(&report);
    }
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();

    if let Ok(Some(auth)) = parse_sentry_auth_header(text) {
        assert!(
            !auth.public_key.is_empty(),
            "empty key accepted from a header"
        );
        assert!(text.len() >= "sentry ".len());
    }
    if let Ok(Some(auth)) = parse_sentry_auth_query(text) {
        assert!(
            !auth.public_key.is_empty(),
            "empty key accepted from a query"
        );
        assert!(text.contains("sentry_"));
    }
    if let Some(key) = parse_basic_auth(text) {
        assert!(!key.is_empty() && !key.contains(':'));
    }
    if let Ok((key, _flags)) = ProjectKey::parse_with_flags(text) {
        assert_eq!(key.as_str().len(), crate::ids::PROJECT_KEY_LENGTH);
        assert_eq!(ProjectKey::parse(key.as_str()), Ok(key));
    }
    if let Ok(dsn) = Dsn::parse(text) {
        let rendered = dsn.to_string();
        let reparsed = Dsn::parse(&rendered)
            .unwrap_or_else(|error| panic!("rendered DSN {rendered:?} does not parse: {error}"));
        assert_eq!(
            reparsed.to_string(),
            rendered,
            "DSN rendering is not a fixed point"
        );
        assert_eq!(reparsed.public_key(), dsn.public_key());
        assert_eq!(reparsed.project_id(), dsn.project_id());
    }
    if let Ok(event_id) = EventId::parse(text) {
        assert_eq!(EventId::parse(&event_id.to_string()), Ok(event_id));
    }
    let content_type = ContentType::parse(text);
    if content_type.is_known() {
        assert_eq!(ContentType::parse(content_type.as_str()), content_type);
    }
}

/// Spec examples and edge cases used as seeds (also stored in the cargo-fuzz corpus).
pub fn envelope_seeds() -> Vec<Vec<u8>> {
    const KEY: &str = "0123456789abcdef0123456789abcdef";
    const TRACE_ID: &str = "4b7b9e0d4c1f4f0a9a3f6a2d8f1c2b3a";
    let mut seeds: Vec<Vec<u8>> = vec![
        format!(
            "{{\"event_id\":\"{TRACE_ID}\",\"dsn\":\"https://{KEY}:@o1.ingest.example/7\",\"sent_at\":\"2025-01-01T12:00:00.000000Z\"}}\n\
             {{\"type\":\"event\",\"length\":26,\"content_type\":\"application/json\"}}\n\
             {{\"message\":\"disk is full\"}}\n\
             {{\"type\":\"attachment\",\"length\":5,\"content_type\":\"text/plain\",\"filename\":\"out.txt\"}}\n\
             hello\n"
        )
        .into_bytes(),
        b"{}\n{\"type\":\"attachment\",\"length\":0}\n\n".to_vec(),
        b"{}\n{\"type\":\"attachment\"}".to_vec(),
        b"{}\n{\"type\":\"attachment\"}\nhelloworld".to_vec(),
        b"{}\n{\"type\":\"attachment\",\"length\":0}\n\n\n".to_vec(),
        b"{}\n{\"type\":\"x\",\"length\":5}\nabc".to_vec(),
        b"{}".to_vec(),
        b"{}\n".to_vec(),
        b"{} \n".to_vec(),
        b"  \n ".to_vec(),
        b"{\"event_id\":\"nope\"}\n".to_vec(),
        b"{}\n{\"type\":\"event\",\"length\":18446744073709551615}\n".to_vec(),
        b"{}\n{\"length\":1}\nx\n".to_vec(),
        format!(
            "{{\"trace\":{{\"trace_id\":\"{TRACE_ID}\",\"public_key\":\"{KEY}\",\"sample_rate\":0.5,\"user\":{{\"id\":\"u1\"}}}},\"sdk\":{{\"name\":\"s\"}}}}\n\
             {{\"type\":\"transaction\",\"span_count\":2}}\n{{}}\n"
        )
        .into_bytes(),
        format!(
            "{{\"origin\":\"http://a.com\",\"dsn\":\"https://{KEY}@relay.example/42\",\"forwarded_for\":\"1.2.3.4\",\"client_hints\":{{\"sec_ch_ua\":\"x\"}},\"no_cache\":true,\"version\":5}}\n"
        )
        .into_bytes(),
        b"{\"trace\":\"broken\"}\n{\"type\":\"statsd\"}\nfoo:1|c\n".to_vec(),
        b"{}\n{\"type\":\"log\",\"item_count\":2,\"content_type\":\"application/vnd.sentry.items.log+json\",\"length\":41}\n{\"items\":[{\"body\":\"a\"},{\"body\":\"b\"}]}  \n".to_vec(),
        b"{}\n{\"type\":\"client_report\"}\n{\"timestamp\":1,\"discarded_events\":[{\"reason\":\"r\",\"category\":\"error\",\"quantity\":1}]}\n".to_vec(),
        b"{}\n{\"type\":\"attachment\",\"filename\":\"dying_message.dat\"}\nsntr\n".to_vec(),
        b"{}\n{\"type\":\"attachment\",\"attachment_type\":\"event.other\",\"zz\":[1.5e300,-0.0]}\nx\n".to_vec(),
    ];
    let mut many_items = b"{}\n".to_vec();
    for _ in 0..=MAX_ITEMS_PER_ENVELOPE {
        many_items.extend_from_slice(b"{\"type\":\"session\",\"length\":2}\n{}\n");
    }
    seeds.push(many_items);
    seeds
}

/// Seeds for [`fuzz_auth`].
pub fn auth_seeds() -> Vec<Vec<u8>> {
    const KEY: &str = "0123456789abcdef0123456789abcdef";
    [
        format!("Sentry sentry_version=7, sentry_client=my-sdk/1.2.3, sentry_key={KEY}"),
        format!("sentry sentry_key={KEY}.no-cache, sentry_version=5.1"),
        "Sentry sentry_version=x".to_owned(),
        format!("sentry_key={KEY}&sentry_version=7&sentry_client=a%2Fb"),
        "Basic MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY6".to_owned(),
        format!("https://{KEY}:secret@o1.ingest.example:8443/sentry/7"),
        format!("{KEY}.no-cache"),
        "4b7b9e0d-4c1f-4f0a-9a3f-6a2d8f1c2b3a".to_owned(),
        "application/json; charset=\"utf-8\"".to_owned(),
        r#"{"timestamp":"2025-01-01T12:00:00Z","discarded_events":[]}"#.to_owned(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Deterministic inputs per fuzz function in test mode.
    const GENERATED_INPUTS: usize = 10_000;
    const RNG_SEED: u64 = 0x5eed_2026;

    /// Fragments spliced into inputs so mutations hit the interesting parts of the grammar.
    const TOKENS: &[&[u8]] = &[
        b"\n",
        b"{}",
        b"{\"type\":\"attachment\"}",
        b"{\"type\":\"event\",\"length\":3}",
        b"\"length\":",
        b"\"item_count\":2",
        b"\"attachment_type\":\"event.minidump\"",
        b"\"content_type\":\"application/vnd.sentry.items.span.v2+json\"",
        b"\"platform\":\"cocoa\"",
        b"\"trace\":{\"trace_id\":\"4b7b9e0d4c1f4f0a9a3f6a2d8f1c2b3a\",\"public_key\":\"0123456789abcdef0123456789abcdef\"}",
        b"\"origin\":\"http://a.com\"",
        b"\"sent_at\":\"2025-01-01T12:00:00.1Z\"",
        b"\\u0000",
        b"1e309",
        b"-1",
        b"null",
        b"sentry ",
        b"sentry_key=",
        b"%2F",
        b"@",
        b":",
    ];

    /// Longest chunk of another seed spliced in by one mutation.
    const MAX_SPLICE: usize = 64;

    fn mutate(rng: &mut StdRng, seeds: &[Vec<u8>]) -> Vec<u8> {
        let mut data = seeds[rng.gen_range(0..seeds.len())].clone();
        let mutations = if rng.gen_bool(0.7) {
            1
        } else {
            rng.gen_range(2..=4)
        };
        for _ in 0..mutations {
            let position = rng.gen_range(0..=data.len());
            match rng.gen_range(0..6) {
                0 if !data.is_empty() => {
                    let index = rng.gen_range(0..data.len());
                    data[index] ^= 1 << rng.gen_range(0..8);
                }
                1 if position < data.len() => {
                    let end = rng.gen_range(position..=data.len());
                    data.drain(position..end);
                }
                2 => {
                    let token = TOKENS[rng.gen_range(0..TOKENS.len())];
                    data.splice(position..position, token.iter().copied());
                }
                3 => data.insert(position, rng.gen()),
                4 => {
                    let digit = b'0' + rng.gen_range(0..10);
                    data.insert(position, digit);
                }
                _ => {
                    let other = &seeds[rng.gen_range(0..seeds.len())];
                    let start = rng.gen_range(0..=other.len());
                    let end = (start + rng.gen_range(0..=MAX_SPLICE)).min(other.len());
                    data.splice(position..position, other[start..end].iter().copied());
                }
            }
        }
        data
    }

    fn random_bytes(rng: &mut StdRng) -> Vec<u8> {
        let length = rng.gen_range(0..64);
        (0..length).map(|_| rng.gen()).collect()
    }

    /// The seeds followed by [`GENERATED_INPUTS`] deterministic random and mutated inputs.
    fn test_inputs(seeds: &[Vec<u8>]) -> Vec<Vec<u8>> {
        /// Seeds above this size (the 501-item envelope) are run once but not mutated.
        const MAX_MUTATED_SEED: usize = 4096;
        let mutation_bases: Vec<Vec<u8>> = seeds
            .iter()
            .filter(|seed| seed.len() <= MAX_MUTATED_SEED)
            .cloned()
            .collect();
        let mut rng = StdRng::seed_from_u64(RNG_SEED);
        let generated = (0..GENERATED_INPUTS).map(|index| {
            if index % 10 == 0 {
                random_bytes(&mut rng)
            } else {
                mutate(&mut rng, &mutation_bases)
            }
        });
        seeds
            .iter()
            .cloned()
            .chain(generated.collect::<Vec<_>>())
            .collect()
    }

    #[test]
    fn fuzz_test_mode_envelopes() {
        let seeds = envelope_seeds();
        let mut parsed_seeds = 0;
        for seed in &seeds {
            if Envelope::parse(Bytes::from(seed.clone())).is_ok() {
                parsed_seeds += 1;
            }
        }
        // The corpus must contain both valid and invalid envelopes to be useful.
        assert!(parsed_seeds > seeds.len() / 2 && parsed_seeds < seeds.len());

        let inputs = test_inputs(&seeds);
        let mut parsed_inputs = 0;
        for input in &inputs {
            fuzz_envelope(input);
            if Envelope::parse(Bytes::from(input.clone())).is_ok() {
                parsed_inputs += 1;
            }
        }
        // Mutations must keep a good share of inputs valid, or the round trips go untested.
        assert!(
            parsed_inputs > inputs.len() / 10 && parsed_inputs < inputs.len() * 9 / 10,
            "{parsed_inputs} of {} inputs parsed",
            inputs.len()
        );
    }

    #[test]
    fn floats_may_drift_but_nothing_else() {
        assert!(same_up_to_float_drift(
            "Number(1.5e+200), 7",
            "Number(1.5000000000000001e+200), 7"
        ));
        assert!(same_up_to_float_drift("x 0.1 y", "x 0.1 y"));
        assert!(!same_up_to_float_drift("Number(1.5), 7", "Number(1.6), 7"));
        assert!(!same_up_to_float_drift("n 7", "n 8"));
        // Integers are exact, even where f64 cannot tell them apart.
        assert!(!same_up_to_float_drift(
            "9007199254740993",
            "9007199254740992"
        ));
        assert!(!same_up_to_float_drift("a 1.0", "b 1.0"));
        assert!(!same_up_to_float_drift("1.0 2.0", "1.0"));
    }

    #[test]
    fn fuzz_test_mode_auth() {
        let seeds = auth_seeds();
        let header = String::from_utf8_lossy(&seeds[0]);
        assert!(matches!(parse_sentry_auth_header(&header), Ok(Some(_))));
        for input in test_inputs(&seeds) {
            fuzz_auth(&input);
        }
    }
}
