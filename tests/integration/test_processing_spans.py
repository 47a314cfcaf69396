"""Spans in a processing relay (processing.md §3.3, §3.2 steps 10-12, §3.2a, §7.3.9): span v2
containers, legacy span items, OTLP traces and spans extracted from transactions become JSON
span messages on `ingest-spans`, validated with the `sentry-kafka-schemas` codec; rejected
spans get `invalid` outcomes for `span` and `span_indexed`.

Needs Redis on 127.0.0.1:6379 and Kafka (tansu) on 127.0.0.1:9092 (`scripts/services.sh`).
Project 42 / org 1 / numeric key id 123 comes from the fake upstream.
"""

import json
import time
import uuid

import pytest

from fixtures.asserts import assert_status
from fixtures.geoip import make_test_geoip
from fixtures.envelope import build_envelope, make_item, new_event_id, transaction_item, transaction_payload
from fixtures.projects import (
    DEFAULT_DSN_KEY,
    DEFAULT_KEY_NUMERIC_ID,
    DEFAULT_ORGANIZATION_ID,
    DEFAULT_PROJECT_ID,
    project_config,
)

PROJECT_ID = DEFAULT_PROJECT_ID
SPAN_CONTAINER = "application/vnd.sentry.items.span.v2+json"
SPAN_RETENTION = 42
DOWNSAMPLED_RETENTION = 390
CLOCK_TOLERANCE_SECS = 30


def _start(relay, upstream, kafka_topics, features=(), config=None):
    upstream.project_configs[DEFAULT_DSN_KEY] = project_config(
        config={
            "features": list(features),
            "eventRetention": 90,
            "downsampledEventRetention": DOWNSAMPLED_RETENTION,
            "retentions": {"span": {"standard": SPAN_RETENTION}},
        }
    )
    return relay(upstream, mode="managed", config=kafka_topics.relay_config(config))


@pytest.fixture
def processing_relay(relay, upstream, kafka_topics):
    return lambda **kwargs: _start(relay, upstream, kafka_topics, **kwargs)


def partition_key(uuid_hex, organization_id=DEFAULT_ORGANIZATION_ID):
    """processing.md §7.4: the UUID bytes with the first 8 XORed with the org id (big-endian)."""
    raw = uuid.UUID(uuid_hex).bytes
    head = int.from_bytes(raw[:8], "big") ^ organization_id
    return head.to_bytes(8, "big") + raw[8:]


def dsc(trace_id):
    return {"trace_id": trace_id, "public_key": DEFAULT_DSN_KEY, "release": "app@1.0", "environment": "prod",
            "sample_rate": "1.0", "sampled": "true"}


def v2_span(trace_id, span_id, name="GET /users", is_segment=True, end=None, **extra):
    end = time.time() if end is None else end
    span = {
        "trace_id": trace_id,
        "span_id": span_id,
        "name": name,
        "status": "ok",
        "is_segment": is_segment,
        "start_timestamp": end - 0.5,
        "end_timestamp": end,
        "attributes": {"sentry.op": {"type": "string", "value": "http.server"},
                       "custom": {"type": "integer", "value": 7}},
    }
    span.update(extra)
    return span


def container(spans, **headers):
    return make_item("span", {"items": spans}, content_type=SPAN_CONTAINER, item_count=len(spans), **headers)


def read_spans(consumer, n):
    """The next `n` span messages: schema-checked, with key and headers verified."""
    messages = consumer.get_messages(n)
    spans = []
    for message in messages:
        span = consumer._decoded(message)
        assert message.key == partition_key(span["trace_id"]), message.describe()
        assert message.headers == {"project_id": str(PROJECT_ID)}
        spans.append(span)
    return spans


def assert_meta_fields(span, before, event_id=None):
    keys = list(span)
    expected_head = ["organization_id", "project_id", "key_id"]
    if event_id is not None:
        expected_head.append("event_id")
    expected_head += ["received", "retention_days", "downsampled_retention_days"]
    assert keys[: len(expected_head)] == expected_head, keys
    assert span["organization_id"] == DEFAULT_ORGANIZATION_ID
    assert span["project_id"] == PROJECT_ID
    assert span["key_id"] == DEFAULT_KEY_NUMERIC_ID
    if event_id is not None:
        assert span["event_id"] == event_id
    assert before - 1 <= span["received"] <= time.time() + CLOCK_TOLERANCE_SECS
    assert span["retention_days"] == SPAN_RETENTION
    # `retentions.span` without `downsampled`: its standard retention.
    assert span["downsampled_retention_days"] == SPAN_RETENTION


def test_span_container_to_kafka(processing_relay, kafka_topics):
    relay = processing_relay()
    consumer = kafka_topics.consumer("spans")
    trace_id = uuid.uuid4().hex
    before = time.time()
    envelope = build_envelope(
        container([v2_span(trace_id, "eee19b7ec3c1b175"),
                   v2_span(trace_id, "aaaaaaaaaaaaaaaa", name="db", is_segment=False,
                           parent_span_id="eee19b7ec3c1b175")]),
        trace=dsc(trace_id),
    )
    assert_status(relay.send_envelope(PROJECT_ID, envelope, headers={"User-Agent": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")}), 200)

    spans = sorted(read_spans(consumer, 2), key=lambda span: span["name"])
    segment, db = spans
    for span in spans:
        assert_meta_fields(span, before)
        assert "_performance_issues_spans" not in span
        attributes = span["attributes"]
        assert attributes["sentry.relay.ingress"] == {"type": "string", "value": "container"}
        assert attributes["sentry.relay.pipeline"] == {"type": "string", "value": "span_v2"}
        observed = attributes["sentry.observed_timestamp_nanos"]
        assert observed["type"] == "string"
        assert before - 1 <= int(observed["value"]) / 1e9 <= time.time() + 1
        assert attributes["sentry.dsc.trace_id"]["value"] == trace_id
        assert attributes["sentry.dsc.public_key"]["value"] == DEFAULT_DSN_KEY
        assert attributes["sentry.dsc.release"]["value"] == "app@1.0"
        assert attributes["custom"] == {"type": "integer", "value": 7}
        assert attributes["browser.name"]["value"] == "Chrome"
    assert segment["name"] == "GET /users"
    assert segment["is_segment"] is True
    assert "parent_span_id" not in segment
    assert db["parent_span_id"] == "eee19b7ec3c1b175"
    assert db["is_segment"] is False
    consumer.assert_empty(timeout=0.5)


def test_span_client_address_gets_a_location(processing_relay, kafka_topics, tmp_path):
    # processing.md §3.3 step 6 ("geo"): with a GeoIP database, `client.address` becomes
    # `user.geo.*` attributes, as `user.ip_address` becomes `user.geo` on events.
    database = tmp_path / "geoip.mmdb"
    make_test_geoip(database)
    relay = processing_relay(config={"geoip": {"path": str(database)}})
    consumer = kafka_topics.consumer("spans")
    trace_id = uuid.uuid4().hex
    located = v2_span(trace_id, "eee19b7ec3c1b175")
    located["attributes"]["client.address"] = {"type": "string", "value": "2.125.160.216"}
    unknown = v2_span(trace_id, "aaaaaaaaaaaaaaaa", name="db", is_segment=False)
    unknown["attributes"]["client.address"] = {"type": "string", "value": "10.0.0.1"}
    envelope = build_envelope(container([located, unknown]), trace=dsc(trace_id))
    assert_status(relay.send_envelope(PROJECT_ID, envelope), 200)

    spans = {span["name"]: span for span in read_spans(consumer, 2)}
    attributes = spans["GET /users"]["attributes"]
    assert attributes["user.geo.country_code"] == {"type": "string", "value": "GB"}
    assert attributes["user.geo.city"] == {"type": "string", "value": "Boxford"}
    assert attributes["user.geo.subdivision"] == {"type": "string", "value": "England"}
    assert attributes["user.geo.region"] == {"type": "string", "value": "United Kingdom"}
    assert not any(name.startswith("user.geo.") for name in spans["db"]["attributes"])


def test_legacy_span_items(processing_relay, kafka_topics):
    relay = processing_relay()
    consumer = kafka_topics.consumer("spans")
    trace_id = uuid.uuid4().hex
    now = time.time()
    legacy = {
        "trace_id": trace_id, "span_id": "bbbbbbbbbbbbbbbb", "parent_span_id": "aaaaaaaaaaaaaaaa",
        "segment_id": "aaaaaaaaaaaaaaaa", "op": "ui.interaction.click", "description": "body > button",
        "start_timestamp": now - 0.2, "timestamp": now, "exclusive_time": 200.0, "status": "ok",
        "data": {"sentry.environment": "prod", "count": 3}, "measurements": {"inp": {"value": 200, "unit": "millisecond"}},
    }
    envelope = build_envelope(make_item("span", legacy), make_item("span", dict(legacy, span_id="cccccccccccccccc")),
                              trace=dsc(trace_id))
    assert_status(relay.send_envelope(PROJECT_ID, envelope), 200)
    spans = sorted(read_spans(consumer, 2), key=lambda span: span["span_id"])
    span = spans[0]
    assert span["span_id"] == "bbbbbbbbbbbbbbbb"
    assert span["name"] == "ui.interaction.click"
    assert span["status"] == "ok"
    assert abs(span["end_timestamp"] - now) < 0.01
    attributes = span["attributes"]
    assert attributes["sentry.op"]["value"] == "ui.interaction.click"
    assert attributes["sentry.description"]["value"] == "body > button"
    assert attributes["sentry.segment.id"]["value"] == "aaaaaaaaaaaaaaaa"
    assert attributes["sentry.exclusive_time"] == {"type": "double", "value": 200.0}
    assert attributes["inp"] == {"type": "double", "value": 200.0}
    assert attributes["count"] == {"type": "integer", "value": 3}
    assert attributes["sentry.relay.ingress"]["value"] == "legacy"


def test_rejected_spans_get_outcomes(processing_relay, kafka_topics):
    relay = processing_relay()
    consumer = kafka_topics.consumer("spans")
    outcomes = kafka_topics.outcomes_consumer()
    trace_id = uuid.uuid4().hex
    now = time.time()
    old_end = now - 60 * 24 * 3600
    spans = [
        v2_span(trace_id, "eee19b7ec3c1b175", name="first"),
        v2_span(trace_id, "eee19b7ec3c1b175", name="second"),  # the earlier one is a duplicate
        v2_span(uuid.uuid4().hex, "aaaaaaaaaaaaaaaa"),  # trace id differs from the DSC
        v2_span(trace_id, "bbbbbbbbbbbbbbbb", end=old_end),  # older than the span retention
        {"trace_id": trace_id, "name": "no id", "start_timestamp": now, "end_timestamp": now},
    ]
    assert_status(relay.send_envelope(PROJECT_ID, build_envelope(container(spans), trace=dsc(trace_id))), 200)
    # Without a DSC, every span is rejected.
    assert_status(relay.send_envelope(PROJECT_ID, build_envelope(container([v2_span(trace_id, "cccccccccccccccc")]))), 200)

    [span] = read_spans(consumer, 1)
    assert span["name"] == "second"
    outcomes.wait_for_outcomes({
        ("invalid", "duplicate", "span"): 1,
        ("invalid", "duplicate", "span_indexed"): 1,
        ("invalid", "invalid_dsc", "span"): 1,
        ("invalid", "invalid_dsc", "span_indexed"): 1,
        ("invalid", "timestamp", "span"): 1,
        ("invalid", "timestamp", "span_indexed"): 1,
        ("invalid", "invalid_span", "span"): 1,
        ("invalid", "invalid_span", "span_indexed"): 1,
        ("invalid", "missing_dsc", "span"): 1,
        ("invalid", "missing_dsc", "span_indexed"): 1,
    }, predicate=lambda outcome: outcome["outcome"] != 0)
    consumer.assert_empty(timeout=0.5)


def test_span_usage_becomes_accepted_outcomes(processing_relay, kafka_topics):
    relay = processing_relay()
    outcomes = kafka_topics.outcomes_consumer()
    trace_id = uuid.uuid4().hex
    spans = [v2_span(trace_id, "eee19b7ec3c1b175"),
             v2_span(trace_id, "aaaaaaaaaaaaaaaa", is_segment=False, parent_span_id="eee19b7ec3c1b175")]
    assert_status(relay.send_envelope(PROJECT_ID, build_envelope(container(spans), trace=dsc(trace_id))), 200)
    # processing.md §3.12: accepted `span` per span, plus `transaction` for the segment.
    outcomes.wait_for_outcomes({
        ("accepted", None, "span"): 2,
        ("accepted", None, "transaction"): 1,
    })


def test_transaction_spans_are_extracted(processing_relay, kafka_topics):
    relay = processing_relay(features=["organizations:performance-issues-spans"])
    spans_consumer = kafka_topics.consumer("spans")
    transactions = kafka_topics.consumer("transactions")
    event_id = new_event_id()
    payload = transaction_payload(name="/users/:id")
    trace = payload["contexts"]["trace"]
    end = payload["timestamp"]
    payload["release"] = "app@2.0"
    payload["sdk"] = {"name": "sentry.python", "version": "2.0.0"}
    payload["spans"] = [
        {"span_id": "bbbbbbbbbbbbbbbb", "parent_span_id": trace["span_id"], "trace_id": trace["trace_id"],
         "op": "db.query", "description": "SELECT 1", "start_timestamp": end - 0.8, "timestamp": end - 0.3},
        {"span_id": "cccccccccccccccc", "parent_span_id": "bbbbbbbbbbbbbbbb", "trace_id": trace["trace_id"],
         "op": "cache.get", "start_timestamp": end - 0.7, "timestamp": end - 0.6, "status": "not_found"},
    ]
    before = time.time()
    envelope = build_envelope(transaction_item(payload, span_count=2), event_id=event_id,
                              trace=dsc(trace["trace_id"]))
    assert_status(relay.send_envelope(PROJECT_ID, envelope), 200)

    spans = read_spans(spans_consumer, 3)
    by_id = {span["span_id"]: span for span in spans}
    segment = by_id[trace["span_id"]]
    assert_meta_fields(segment, before, event_id=event_id)
    assert list(segment)[7] == "_performance_issues_spans"
    assert segment["_performance_issues_spans"] is True
    assert segment["is_segment"] is True
    assert segment["name"] == "/users/:id"
    assert segment["trace_id"] == trace["trace_id"]
    attributes = segment["attributes"]
    assert attributes["sentry.op"]["value"] == "http.server"
    assert attributes["sentry.segment.name"]["value"] == "/users/:id"
    assert attributes["sentry.segment.id"]["value"] == trace["span_id"]
    assert attributes["sentry.was_transaction"]["value"] is True
    assert attributes["sentry.relay.ingress"]["value"] == "legacy"
    assert attributes["sentry.relay.pipeline"]["value"] == "transaction"
    assert attributes["sentry.release"]["value"] == "app@2.0"
    assert attributes["sentry.sdk.name"]["value"] == "sentry.python"
    # 1 s transaction, the direct child covers 0.5 s.
    assert abs(attributes["sentry.exclusive_time"]["value"] - 500.0) < 1.0

    db = by_id["bbbbbbbbbbbbbbbb"]
    assert_meta_fields(db, before, event_id=event_id)
    assert "_performance_issues_spans" not in db
    assert db["is_segment"] is False
    assert db["name"] == "db.query"
    assert db["parent_span_id"] == trace["span_id"]
    assert db["attributes"]["sentry.description"]["value"] == "SELECT 1"
    assert db["attributes"]["sentry.segment.id"]["value"] == trace["span_id"]
    assert abs(db["attributes"]["sentry.exclusive_time"]["value"] - 400.0) < 1.0
    cache = by_id["cccccccccccccccc"]
    assert cache["status"] == "error"
    assert cache["attributes"]["sentry.status"]["value"] == "not_found"

    event = json.loads(transactions.get_typed("event")["payload"])
    assert event["_performance_issues_spans"] is True
    spans_consumer.assert_empty(timeout=0.5)


def test_otlp_traces_endpoint(processing_relay, kafka_topics):
    relay = processing_relay()
    consumer = kafka_topics.consumer("spans")
    trace_id = uuid.uuid4().hex
    now_nanos = time.time_ns()
    body = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
        "scopeSpans": [{"scope": {"name": "otel.lib", "version": "1.2"}, "spans": [{
            "traceId": trace_id, "spanId": "eee19b7ec3c1b175", "name": "POST /pay", "kind": 2,
            "startTimeUnixNano": str(now_nanos - 2_000_000_000), "endTimeUnixNano": str(now_nanos),
            "status": {"code": 2},
            "attributes": [{"key": "http.request.method", "value": {"stringValue": "POST"}},
                           {"key": "retries", "value": {"intValue": "2"}}],
        }]}],
    }]}
    response = relay.post(
        "/api/%d/integration/otlp/v1/traces?sentry_key=%s" % (PROJECT_ID, DEFAULT_DSN_KEY),
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert_status(response, 200)
    [span] = read_spans(consumer, 1)
    assert span["trace_id"] == trace_id
    assert span["name"] == "POST /pay"
    assert span["status"] == "error"
    assert span["is_segment"] is True
    assert abs(span["end_timestamp"] - span["start_timestamp"] - 2.0) < 0.001
    attributes = span["attributes"]
    assert attributes["service.name"]["value"] == "checkout"
    assert attributes["http.request.method"]["value"] == "POST"
    assert attributes["retries"] == {"type": "integer", "value": 2}
    assert attributes["sentry.kind"]["value"] == "server"
    assert attributes["sentry.relay.ingress"]["value"] == "otlp"
