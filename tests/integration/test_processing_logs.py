"""Logs and trace metrics in a processing relay (processing.md §3.4, §3.5, §3.2a, §7.3.11): log
containers, OTLP logs, Vercel log drains and NEL reports become `TraceItem`s of type LOG on
`snuba-items`, trace metric containers TraceItems of type METRIC; both are decoded with the
`sentry-protos` package. Without their feature, items are dropped silently.

Needs Redis on 127.0.0.1:6379 and Kafka (tansu) on 127.0.0.1:9092 (`scripts/services.sh`).
"""

import json
import time
import uuid

import pytest

from fixtures.asserts import assert_status
from fixtures.envelope import build_envelope, make_item
from fixtures.processing import CATEGORIES, TRACE_ITEM_TYPES, trace_item_attributes, trace_item_id
from fixtures.projects import (
    DEFAULT_DSN_KEY,
    DEFAULT_KEY_NUMERIC_ID,
    DEFAULT_ORGANIZATION_ID,
    DEFAULT_PROJECT_ID,
    project_config,
)

PROJECT_ID = DEFAULT_PROJECT_ID
LOGS_FEATURE = "organizations:ourlogs-ingestion"
METRICS_FEATURE = "organizations:tracemetrics-ingestion"
LOG_CONTAINER = "application/vnd.sentry.items.log+json"
METRIC_CONTAINER = "application/vnd.sentry.items.trace-metric+json"
AUTH_QUERY = "?sentry_key=%s" % DEFAULT_DSN_KEY
CLOCK_TOLERANCE_SECS = 30


def _start(relay, upstream, kafka_topics, features=(LOGS_FEATURE, METRICS_FEATURE)):
    upstream.project_configs[DEFAULT_DSN_KEY] = project_config(
        config={
            "features": list(features),
            "eventRetention": 90,
            "downsampledEventRetention": 390,
            "retentions": {"log": {"standard": 30, "downsampled": 60}},
        }
    )
    return relay(upstream, mode="managed", config=kafka_topics.relay_config())


@pytest.fixture
def processing_relay(relay, upstream, kafka_topics):
    return lambda **kwargs: _start(relay, upstream, kafka_topics, **kwargs)


def log_entry(trace_id, body="hello", level="info", timestamp=None, **attributes):
    return {
        "timestamp": time.time() if timestamp is None else timestamp,
        "trace_id": trace_id,
        "span_id": "eee19b7ec3c1b175",
        "level": level,
        "body": body,
        "attributes": {name: value for name, value in attributes.items()},
    }


def container(item_type, content_type, entries):
    return make_item(item_type, {"items": entries}, content_type=content_type, item_count=len(entries))


def read_items(consumer, n, item_type):
    """The next `n` TraceItems; checks headers and the item type."""
    messages = consumer.get_messages(n)
    items = []
    for message in messages:
        assert message.key is not None  # counter key
        assert message.headers == {"item_type": str(TRACE_ITEM_TYPES[item_type]), "project_id": str(PROJECT_ID)}
        item = message.trace_item()
        assert item.item_type == TRACE_ITEM_TYPES[item_type]
        items.append(item)
    return items


def assert_common(item, before, retention=(30, 60)):
    assert item.organization_id == DEFAULT_ORGANIZATION_ID
    assert item.project_id == PROJECT_ID
    assert (item.retention_days, item.downsampled_retention_days) == retention
    assert before - 1 <= item.received.seconds <= time.time() + CLOCK_TOLERANCE_SECS
    assert item.server_sample_rate == 1.0
    assert item.outcomes.key_id == DEFAULT_KEY_NUMERIC_ID


def test_log_container_to_trace_items(processing_relay, kafka_topics):
    relay = processing_relay()
    consumer = kafka_topics.consumer("items")
    trace_id = uuid.uuid4().hex
    before = time.time()
    entries = [
        log_entry(trace_id, body="first", level="info", timestamp=before - 5,
                  **{"user.id": {"type": "string", "value": "u1"}, "count": {"type": "integer", "value": 3},
                     "dropped": {"type": "string", "value": None}}),
        log_entry(trace_id, body="second", level="error", timestamp=before - 4),
    ]
    envelope = build_envelope(container("log", LOG_CONTAINER, entries))
    user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
    assert_status(relay.send_envelope(PROJECT_ID, envelope, headers={"User-Agent": user_agent}), 200)

    items = sorted(read_items(consumer, 2, "log"), key=lambda item: item.timestamp.seconds)
    first, second = items
    for item in items:
        assert_common(item, before)
        assert item.trace_id == trace_id
        assert item.client_sample_rate == 1.0
        assert trace_item_id(item).version == 7
        counts = {count.data_category: count.quantity for count in item.outcomes.category_count}
        assert counts[CATEGORIES["log_item"]] == 1
        assert counts[CATEGORIES["log_byte"]] >= 1
    attributes = trace_item_attributes(first)
    assert attributes["sentry.body"] == "first"
    assert attributes["sentry.severity_text"] == "info"
    assert attributes["sentry.span_id"] == "eee19b7ec3c1b175"
    assert attributes["user.id"] == "u1"
    assert attributes["count"] == 3
    assert "dropped" not in attributes
    assert attributes["sentry.relay.ingress"] == "container"
    assert attributes["browser.name"] == "Firefox"
    assert attributes["browser.version"] == "121.0"
    assert attributes["user_agent.original"] == user_agent
    assert isinstance(attributes["sentry.observed_timestamp_nanos"], str)
    assert attributes["sentry.payload_size_bytes"] > 0
    precise = attributes["sentry.timestamp_precise"]
    assert precise == first.timestamp.seconds * 1_000_000_000 + first.timestamp.nanos
    assert abs(precise / 1e9 - (before - 5)) < 0.001
    assert trace_item_attributes(second)["sentry.severity_text"] == "error"


def test_logs_without_feature_are_dropped_silently(processing_relay, kafka_topics):
    relay = processing_relay(features=[METRICS_FEATURE])
    consumer = kafka_topics.consumer("items")
    outcomes = kafka_topics.outcomes_consumer()
    trace_id = uuid.uuid4().hex
    assert_status(relay.send_envelope(PROJECT_ID, build_envelope(
        container("log", LOG_CONTAINER, [log_entry(trace_id)]))), 200)
    # A trace metric of the same relay shows the logs envelope had its turn.
    metric = {"timestamp": time.time(), "trace_id": trace_id, "name": "marker", "type": "counter", "value": 1}
    assert_status(relay.send_envelope(PROJECT_ID, build_envelope(
        container("trace_metric", METRIC_CONTAINER, [metric]))), 200)
    read_items(consumer, 1, "metric")
    consumer.assert_empty(timeout=1.0)
    outcomes.assert_empty(timeout=1.5)


def test_invalid_and_old_logs_get_outcomes(processing_relay, kafka_topics):
    relay = processing_relay()
    consumer = kafka_topics.consumer("items")
    outcomes = kafka_topics.outcomes_consumer()
    trace_id = uuid.uuid4().hex
    no_body = log_entry(trace_id)
    del no_body["body"]
    old = log_entry(trace_id, timestamp=time.time() - 40 * 24 * 3600)
    entries = [no_body, old, log_entry(trace_id, body="kept")]
    assert_status(relay.send_envelope(PROJECT_ID, build_envelope(container("log", LOG_CONTAINER, entries))), 200)
    [item] = read_items(consumer, 1, "log")
    assert trace_item_attributes(item)["sentry.body"] == "kept"
    received = outcomes.wait_for_outcomes({
        ("invalid", "invalid_log", "log_item"): 1,
        ("invalid", "timestamp", "log_item"): 1,
    }, exact=False, predicate=lambda outcome: outcome["category"] == CATEGORIES["log_item"])
    assert all(outcome["outcome"] == 3 for outcome in received)


def test_future_log_is_moved_to_receive_time(processing_relay, kafka_topics):
    relay = processing_relay()
    consumer = kafka_topics.consumer("items")
    before = time.time()
    entry = log_entry(uuid.uuid4().hex, timestamp=before + 3600)
    assert_status(relay.send_envelope(PROJECT_ID, build_envelope(container("log", LOG_CONTAINER, [entry]))), 200)
    [item] = read_items(consumer, 1, "log")
    assert before - 1 <= item.timestamp.seconds <= time.time() + 1


def test_otlp_logs_endpoint(processing_relay, kafka_topics):
    relay = processing_relay()
    consumer = kafka_topics.consumer("items")
    trace_id = uuid.uuid4().hex
    now_nanos = time.time_ns()
    body = {"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "billing"}}]},
        "scopeLogs": [{"scope": {"name": "otel.logger"}, "logRecords": [{
            "timeUnixNano": str(now_nanos), "severityNumber": 13, "severityText": "WARN",
            "body": {"stringValue": "disk almost full"}, "traceId": trace_id, "spanId": "eee19b7ec3c1b175",
            "attributes": [{"key": "disk.free", "value": {"doubleValue": 0.05}}],
        }]}],
    }]}
    response = relay.post("/api/%d/integration/otlp/v1/logs%s" % (PROJECT_ID, AUTH_QUERY),
                          data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    assert_status(response, 200)
    [item] = read_items(consumer, 1, "log")
    assert item.trace_id == trace_id
    attributes = trace_item_attributes(item)
    assert attributes["sentry.body"] == "disk almost full"
    assert attributes["sentry.severity_text"] == "warn"
    assert attributes["service.name"] == "billing"
    assert attributes["disk.free"] == 0.05
    assert attributes["sentry.relay.ingress"] == "otlp"
    assert abs(attributes["sentry.timestamp_precise"] - now_nanos) < 1000


def test_vercel_log_drain(processing_relay, kafka_topics):
    relay = processing_relay()
    consumer = kafka_topics.consumer("items")
    now_ms = int(time.time() * 1000)
    lines = [
        {"id": "1", "timestamp": now_ms, "level": "info", "message": "GET /", "source": "lambda",
         "deploymentId": "dpl_1", "proxy": {"statusCode": 200}},
        {"id": "2", "timestamp": now_ms + 1, "level": "error", "message": "boom", "source": "lambda"},
    ]
    response = relay.post("/api/%d/integration/vercel/logs%s" % (PROJECT_ID, AUTH_QUERY),
                          data="\n".join(json.dumps(line) for line in lines).encode(),
                          headers={"Content-Type": "application/x-ndjson"})
    assert_status(response, 202)
    items = sorted(read_items(consumer, 2, "log"), key=lambda item: trace_item_attributes(item)["sentry.body"])
    get, boom = items
    assert trace_item_attributes(boom)["sentry.severity_text"] == "error"
    attributes = trace_item_attributes(get)
    assert attributes["vercel.deployment_id"] == "dpl_1"
    assert attributes["vercel.proxy.status_code"] == 200
    assert attributes["sentry.relay.ingress"] == "vercel"
    assert len(get.trace_id) == 32


def test_nel_reports_become_logs(processing_relay, kafka_topics):
    relay = processing_relay()
    consumer = kafka_topics.consumer("items")
    reports = [{"age": 1000, "type": "network-error", "url": "https://example.com/index.html",
                "user_agent": "Mozilla/5.0", "body": {"type": "dns.name_not_resolved", "phase": "dns",
                                                      "elapsed_time": 12, "sampling_fraction": 1.0}}]
    response = relay.post("/api/%d/nel/%s" % (PROJECT_ID, AUTH_QUERY), data=json.dumps(reports).encode(),
                          headers={"Content-Type": "application/reports+json"})
    assert_status(response, 200)
    [item] = read_items(consumer, 1, "log")
    attributes = trace_item_attributes(item)
    assert attributes["sentry.body"] == "dns.name_not_resolved"
    assert attributes["sentry.severity_text"] == "warn"
    assert attributes["url.full"] == "https://example.com/index.html"
    assert attributes["nel.phase"] == "dns"
    assert attributes["sentry.relay.ingress"] == "nel"


def test_trace_metrics_to_trace_items(processing_relay, kafka_topics):
    relay = processing_relay()
    consumer = kafka_topics.consumer("items")
    trace_id = uuid.uuid4().hex
    before = time.time()
    metrics = [
        {"timestamp": before, "trace_id": trace_id, "span_id": "eee19b7ec3c1b175", "name": "api.latency",
         "type": "distribution", "unit": "millisecond", "value": 12.5,
         "attributes": {"route": {"type": "string", "value": "/users"},
                        "sentry.client_sample_rate": {"type": "double", "value": 0.25}}},
        {"timestamp": before, "trace_id": trace_id, "name": "api.calls", "type": "counter", "value": 1},
    ]
    assert_status(relay.send_envelope(PROJECT_ID, build_envelope(
        container("trace_metric", METRIC_CONTAINER, metrics))), 200)
    items = sorted(read_items(consumer, 2, "metric"), key=lambda item: trace_item_attributes(item)["sentry.metric_name"])
    calls, latency = items
    for item in items:
        assert_common(item, before, retention=(90, 390))
        assert item.trace_id == trace_id
        counts = {count.data_category: count.quantity for count in item.outcomes.category_count}
        assert counts[CATEGORIES["trace_metric"]] == 1
        assert counts[CATEGORIES["trace_metric_byte"]] >= 1
    attributes = trace_item_attributes(latency)
    assert latency.client_sample_rate == 0.25
    assert attributes["sentry.metric_name"] == "api.latency"
    assert attributes["sentry.metric_type"] == "distribution"
    assert attributes["sentry.metric_unit"] == "millisecond"
    assert attributes["sentry.value"] == 12.5
    assert attributes["sentry.span_id"] == "eee19b7ec3c1b175"
    assert attributes["route"] == "/users"
    assert attributes["sentry._internal.cooccuring.name.api.latency"] is True
    assert attributes["sentry._internal.cooccuring.unit.millisecond"] is True
    assert calls.client_sample_rate == 1.0
    assert "sentry.metric_unit" not in trace_item_attributes(calls)
