"""The legacy store endpoint (http-api.md §4.2) in proxy mode."""

import base64
import json
import re
import zlib

import pytest

from fixtures.asserts import assert_cors, assert_json_error, assert_plain_text, assert_status
from fixtures.envelope import event_envelope, new_event_id
from fixtures.projects import DEFAULT_DSN_KEY
from fixtures.relay import sentry_auth_header

EVENT_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def _post_store(relay, body, headers=None, path="/api/42/store/", client="test-sdk/1.0"):
    all_headers = {"Content-Type": "application/json", "X-Sentry-Auth": sentry_auth_header(DEFAULT_DSN_KEY, client)}
    all_headers.update(headers or {})
    return relay.post(path, data=body, headers=all_headers)


def test_json_event(proxy_relay, upstream):
    event_id = new_event_id()
    event = {"event_id": event_id, "message": "stored", "level": "error"}
    response = proxy_relay.send_event(42, event)
    assert_status(response, 200)
    assert response.json() == {"id": event_id}
    assert_cors(response)
    [received] = upstream.wait_for_envelopes(1)
    assert received.request.path == "/api/42/envelope/"
    assert received.envelope.event_id == event_id
    item = received.envelope.get_item("event")
    assert item.json() == event


def test_event_id_is_generated(proxy_relay, upstream):
    response = proxy_relay.send_event(42, {"message": "no id"})
    assert_status(response, 200)
    event_id = response.json()["id"]
    assert EVENT_ID_PATTERN.match(event_id)
    [received] = upstream.wait_for_envelopes(1)
    assert received.envelope.event_id == event_id


@pytest.mark.parametrize(
    "event_type, item_type",
    [("transaction", "transaction"), ("csp", "security"), ("feedback", "feedback"), ("default", "event"), ("whatever", "event")],
)
def test_item_type_from_event_type(proxy_relay, upstream, event_type, item_type):
    assert_status(proxy_relay.send_event(42, {"type": event_type, "message": "typed"}), 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.item_types() == [item_type]


def test_base64_body(proxy_relay, upstream):
    event = {"message": "base64 event"}
    body = base64.b64encode(json.dumps(event).encode())
    assert_status(_post_store(proxy_relay, body), 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.envelope.get_item("event").json() == event


def test_base64_zlib_body(proxy_relay, upstream):
    event = {"message": "zlib event"}
    body = base64.b64encode(zlib.compress(json.dumps(event).encode()))
    assert_status(_post_store(proxy_relay, body), 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.envelope.get_item("event").json() == event


def test_leading_whitespace_is_taken_for_base64(proxy_relay):
    assert_json_error(_post_store(proxy_relay, b'  {"message":"x"}'), 400, "invalid request body")


def test_undecodable_body(proxy_relay):
    assert_json_error(_post_store(proxy_relay, b"!!!not base64!!!"), 400, "invalid request body")


def test_empty_body(proxy_relay):
    assert_json_error(_post_store(proxy_relay, b""), 400, "empty request body")


def test_invalid_json(proxy_relay):
    response = _post_store(proxy_relay, b'{"message": ')
    assert_status(response, 400)
    assert response.json()["detail"].startswith("invalid JSON data: ")


@pytest.mark.parametrize("client", ["sentry-python/1.0", "raven-python/6.0"])
def test_nan_is_tolerated_for_python_clients(proxy_relay, upstream, client):
    response = _post_store(proxy_relay, b'{"message":"nan","extra":{"a":NaN,"b":Infinity,"c":-Infinity}}', client=client)
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    json.loads(received.envelope.get_item("event").payload)  # valid JSON now


def test_nan_is_rejected_for_other_clients(proxy_relay):
    response = _post_store(proxy_relay, b'{"message":"nan","extra":{"a":NaN}}', client="sentry.javascript/1.0")
    assert_status(response, 400)
    assert response.json()["detail"].startswith("invalid JSON data: ")


def test_envelope_content_type(proxy_relay, upstream):
    envelope = event_envelope("via store")
    response = _post_store(proxy_relay, envelope.serialize(), headers={"Content-Type": "application/x-sentry-envelope"})
    assert_status(response, 200)
    assert response.json() == {"id": envelope.event_id}
    [received] = upstream.wait_for_envelopes(1)
    assert received.envelope.event_id == envelope.event_id


def test_get_with_sentry_data(proxy_relay, upstream):
    event = {"message": "from a pixel"}
    response = proxy_relay.get(
        "/api/42/store/",
        params={"sentry_key": DEFAULT_DSN_KEY, "sentry_version": "7", "sentry_data": json.dumps(event)},
    )
    assert_status(response, 200)
    assert response.headers["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF")
    [received] = upstream.wait_for_envelopes(1)
    assert received.envelope.get_item("event").json() == event


def test_legacy_store_without_project_id(proxy_relay, upstream):
    response = proxy_relay.send_event("", {"message": "legacy"})  # -> /api//store/ normalizes to /api/store/
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.request.path == "/api/0/envelope/"
    assert received.envelope.headers["dsn"].endswith("/0")


def test_legacy_store_route(proxy_relay, upstream):
    response = _post_store(proxy_relay, json.dumps({"message": "legacy"}), path="/api/store/")
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.request.path == "/api/0/envelope/"


def test_missing_auth(proxy_relay):
    response = proxy_relay.post("/api/42/store/", data=b'{"message":"x"}', headers={"Content-Type": "application/json"})
    assert_json_error(response, 401, "missing authorization information")
    assert_cors(response)


def test_body_over_max_event_size(relay, upstream):
    limited = relay(upstream, mode="proxy", config={"limits": {"max_event_size": 500}})
    response = limited.send_event(42, {"message": "x" * 1000})
    assert_plain_text(response, 413, "Failed to buffer the request body: length limit exceeded")
