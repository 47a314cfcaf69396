"""Vercel log drain (http-api.md §4.10): the body becomes an internal `integration` item."""

import json

import pytest

from fixtures.asserts import (
    RATE_LIMITED_DETAIL,
    assert_cors,
    assert_empty,
    assert_json_error,
    assert_plain_text,
    assert_status,
)
from fixtures.projects import DEFAULT_DSN_KEY
from fixtures.ratelimits import learn_rate_limit

AUTH = "?sentry_key=%s" % DEFAULT_DSN_KEY
PATH = "/api/42/integration/vercel/logs/"
LOG_ENTRIES = [
    {"id": "1", "message": "hello", "timestamp": 1700000000000, "source": "lambda"},
    {"id": "2", "message": "world", "timestamp": 1700000000001, "source": "edge"},
]
JSON_BODY = json.dumps(LOG_ENTRIES).encode()
NDJSON_BODY = b"\n".join(json.dumps(entry).encode() for entry in LOG_ENTRIES) + b"\n"


def post(relay, body, content_type, path=PATH, query=AUTH):
    headers = {"Content-Type": content_type} if content_type else {}
    return relay.post(path + query, data=body, headers=headers)


@pytest.mark.parametrize(
    "content_type,body,expected",
    [
        ("application/json", JSON_BODY, "application/vnd.sentry.integration.vercel.logs+json"),
        ("application/x-ndjson", NDJSON_BODY, "application/vnd.sentry.integration.vercel.logs+ndjson"),
        ("application/json; charset=utf-8", JSON_BODY, "application/vnd.sentry.integration.vercel.logs+json"),
    ],
)
@pytest.mark.parametrize("path", [PATH, PATH.rstrip("/")])
def test_drain_becomes_an_integration_item(proxy_relay, upstream, content_type, body, expected, path):
    response = post(proxy_relay, body, content_type, path=path)
    assert_empty(response, 202)
    assert_cors(response)
    [received] = upstream.wait_for_envelopes(1, item_type="integration")
    [item] = received.items
    assert item.headers["content_type"] == expected
    assert item.payload == body


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-protobuf", None])
def test_unsupported_content_type_is_415(proxy_relay, content_type):
    response = post(proxy_relay, JSON_BODY, content_type)
    assert_empty(response, 415)
    assert_cors(response)


def test_empty_body_is_400(proxy_relay):
    assert_json_error(post(proxy_relay, b"", "application/json"), 400, "empty request body")


def test_missing_auth_is_401(proxy_relay):
    response = post(proxy_relay, JSON_BODY, "application/json", query="")
    assert_json_error(response, 401, "missing authorization information")


def test_body_over_the_container_limit_is_413_plain_text(relay, upstream):
    small = relay(upstream, mode="proxy", config={"limits": {"max_container_size": "1KiB"}})
    response = post(small, b"[" + b" " * 2048 + b"]", "application/json")
    assert_plain_text(response, 413, "Failed to buffer the request body: length limit exceeded")


def test_rate_limits_answer_429(proxy_relay, upstream):
    learn_rate_limit(proxy_relay, upstream, "60::key:drain_quota")
    response = post(proxy_relay, JSON_BODY, "application/json")
    assert_json_error(response, 429, RATE_LIMITED_DETAIL)
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["X-Sentry-Rate-Limits"].endswith(":key:drain_quota")
    assert_cors(response)


def test_get_is_405(proxy_relay):
    response = proxy_relay.get(PATH + AUTH)
    assert_status(response, 405)
    assert response.headers["Allow"] == "POST"
