"""OTLP over HTTP (http-api.md §4.9): traces and logs become internal `integration` items; every
answer is in the request's encoding, errors carry the OTLP status with the mapped gRPC code."""

import json

import pytest

from fixtures.asserts import RATE_LIMITED_DETAIL, assert_cors, assert_status, describe, parse_rate_limits
from fixtures.envelope import event_envelope
from fixtures.projects import DEFAULT_DSN_KEY, project_config
from fixtures.ratelimits import learn_rate_limit
from fixtures.util import compress

AUTH = "?sentry_key=%s" % DEFAULT_DSN_KEY
TRACES = "/api/42/integration/otlp/v1/traces/"
LOGS = "/api/42/integration/otlp/v1/logs/"
LOGS_FEATURE = "organizations:ourlogs-ingestion"
JSON_TRACES = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "GET /"}]}]}]}).encode()
JSON_LOGS = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "hi"}}]}]}]}).encode()
# Any bytes will do: relay forwards OTLP without parsing it.
PROTOBUF_BODY = b"\x0a\x10\x12\x0e\x12\x0c\x0a\x0aprotobuf\x00\xff"


def read_varint(data, offset):
    value, shift = 0, 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, offset


def decode_status(data):
    """Decodes a `google.rpc.Status` protobuf message into (code, message)."""
    code, message, offset = 0, "", 0
    while offset < len(data):
        tag, offset = read_varint(data, offset)
        if tag == 0x08:
            code, offset = read_varint(data, offset)
        elif tag == 0x12:
            length, offset = read_varint(data, offset)
            message = data[offset : offset + length].decode("utf-8")
            offset += length
        else:
            raise AssertionError("unexpected field tag %#x in %r" % (tag, data))
    return code, message


def assert_otlp_error(response, status, code, message, protobuf=False):
    assert_status(response, status)
    if protobuf:
        assert response.headers["Content-Type"] == "application/x-protobuf", describe(response)
        assert decode_status(response.content) == (code, message), describe(response)
    else:
        assert response.headers["Content-Type"].startswith("application/json"), describe(response)
        assert response.json() == {"code": code, "message": message}, describe(response)


def post(relay, path, body, content_type, headers=None, query=AUTH):
    all_headers = {"Content-Type": content_type} if content_type else {}
    all_headers.update(headers or {})
    return relay.post(path + query, data=body, headers=all_headers)


def single_item(upstream):
    [received] = upstream.wait_for_envelopes(1, item_type="integration")
    [item] = received.items
    return received, item


@pytest.mark.parametrize("path", [TRACES, TRACES.rstrip("/")])
def test_json_traces_become_an_integration_item(proxy_relay, upstream, path):
    response = post(proxy_relay, path, JSON_TRACES, "application/json")
    assert_status(response, 200)
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {}
    assert_cors(response)
    received, item = single_item(upstream)
    assert item.type == "integration"
    assert item.headers["content_type"] == "application/vnd.sentry.integration.otel.spans+json"
    assert item.payload == JSON_TRACES
    assert "required_features" not in received.envelope.headers


def test_protobuf_traces_answer_an_empty_protobuf_message(proxy_relay, upstream):
    response = post(proxy_relay, TRACES, PROTOBUF_BODY, "application/x-protobuf")
    assert_status(response, 200)
    assert response.headers["Content-Type"] == "application/x-protobuf"
    assert response.content == b""
    _, item = single_item(upstream)
    assert item.headers["content_type"] == "application/vnd.sentry.integration.otel.spans+protobuf"
    assert item.payload == PROTOBUF_BODY


@pytest.mark.parametrize(
    "content_type,expected",
    [
        ("application/json", "application/vnd.sentry.integration.otel.logs+json"),
        ("application/x-protobuf", "application/vnd.sentry.integration.otel.logs+protobuf"),
    ],
)
def test_logs_require_the_logs_feature_but_proxy_mode_cannot_check_it(proxy_relay, upstream, content_type, expected):
    body = JSON_LOGS if content_type == "application/json" else PROTOBUF_BODY
    response = post(proxy_relay, LOGS.rstrip("/"), body, content_type)
    assert_status(response, 200)
    received, item = single_item(upstream)
    assert item.headers["content_type"] == expected
    assert item.payload == body
    assert received.envelope.headers["required_features"] == [LOGS_FEATURE]


def test_compressed_request_body_is_forwarded_decoded(proxy_relay, upstream):
    response = post(proxy_relay, TRACES, compress(JSON_TRACES, "gzip"), "application/json", {"Content-Encoding": "gzip"})
    assert_status(response, 200)
    _, item = single_item(upstream)
    assert item.payload == JSON_TRACES


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
def test_unsupported_content_type_is_415_with_json_status(proxy_relay, upstream, content_type):
    response = post(proxy_relay, TRACES, JSON_TRACES, content_type)
    assert_otlp_error(response, 415, 3, "unsupported media type")
    assert_cors(response)


@pytest.mark.parametrize("protobuf", [False, True])
def test_missing_auth_is_401_unauthenticated(proxy_relay, protobuf):
    content_type = "application/x-protobuf" if protobuf else "application/json"
    response = post(proxy_relay, TRACES, JSON_TRACES, content_type, query="")
    assert_otlp_error(response, 401, 16, "missing authorization information", protobuf=protobuf)


def test_bad_project_id_is_400_invalid_argument(proxy_relay):
    response = post(proxy_relay, "/api/abc/integration/otlp/v1/traces/", JSON_TRACES, "application/json")
    assert_otlp_error(response, 400, 3, "bad project path parameter")


@pytest.mark.parametrize("protobuf", [False, True])
def test_body_over_the_container_limit_is_413(relay, upstream, protobuf):
    small = relay(upstream, mode="proxy", config={"limits": {"max_container_size": "1KiB"}})
    content_type = "application/x-protobuf" if protobuf else "application/json"
    message = "unable to read body: Failed to buffer the request body: length limit exceeded"
    response = post(small, TRACES, b"x" * 2048, content_type)
    assert_otlp_error(response, 413, 8, message, protobuf=protobuf)
    # Discovered while reading a chunked body, too.
    chunked = small.raw_request(
        "POST",
        TRACES + AUTH,
        headers={"Content-Type": content_type},
        chunks=[b"x" * 600, b"x" * 600],
    )
    assert chunked.status == 413
    if protobuf:
        assert decode_status(chunked.body) == (8, message)
    else:
        assert json.loads(chunked.body) == {"code": 8, "message": message}


@pytest.mark.parametrize("protobuf", [False, True])
def test_rate_limited_request_is_429_with_headers(proxy_relay, upstream, protobuf):
    learn_rate_limit(proxy_relay, upstream, "60::key:otlp_quota")
    content_type = "application/x-protobuf" if protobuf else "application/json"
    response = post(proxy_relay, TRACES, PROTOBUF_BODY if protobuf else JSON_TRACES, content_type)
    assert_otlp_error(response, 429, 8, RATE_LIMITED_DETAIL, protobuf=protobuf)
    assert int(response.headers["Retry-After"]) > 0
    [limit] = parse_rate_limits(response.headers["X-Sentry-Rate-Limits"])
    assert limit["reason"] == "otlp_quota"
    assert_cors(response)


def _warm_up(relay, upstream):
    warm = event_envelope("warm up")
    assert_status(relay.send_envelope(42, warm), 200)
    upstream.wait_for_envelopes(1, item_type="event", predicate=lambda e: e.envelope.event_id == warm.event_id)


def test_logs_without_the_feature_are_403_in_managed_mode(managed_relay, upstream):
    _warm_up(managed_relay, upstream)
    response = post(managed_relay, LOGS, JSON_LOGS, "application/json")
    assert_otlp_error(
        response, 403, 7, 'event submission rejected with_reason: FeatureDisabled("%s")' % LOGS_FEATURE
    )
    protobuf = post(managed_relay, LOGS, PROTOBUF_BODY, "application/x-protobuf")
    assert_otlp_error(
        protobuf, 403, 7, 'event submission rejected with_reason: FeatureDisabled("%s")' % LOGS_FEATURE, protobuf=True
    )
    # Traces need no feature.
    assert_status(post(managed_relay, TRACES, JSON_TRACES, "application/json"), 200)
    upstream.wait_for_envelopes(1, item_type="integration")


def test_logs_with_the_feature_are_accepted_in_managed_mode(relay, upstream):
    upstream.project_configs[DEFAULT_DSN_KEY] = project_config(config={"features": [LOGS_FEATURE]})
    managed = relay(upstream, mode="managed")
    _warm_up(managed, upstream)
    response = post(managed, LOGS, JSON_LOGS, "application/json")
    assert_status(response, 200)
    assert response.json() == {}
    _, item = single_item(upstream)
    assert item.headers["content_type"] == "application/vnd.sentry.integration.otel.logs+json"
    assert item.payload == JSON_LOGS


def test_get_is_405(proxy_relay):
    response = proxy_relay.get(TRACES + AUTH)
    assert_status(response, 405)
    assert response.headers["Allow"] == "POST"


def test_preflight(proxy_relay):
    response = proxy_relay.options(LOGS)
    assert_status(response, 200)
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
