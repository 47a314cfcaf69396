"""Unreal Engine crash reports (http-api.md §4.7) in proxy mode."""

import zlib

from fixtures.asserts import assert_cors, assert_hyphenated_event_id, assert_json_error, assert_status
from fixtures.projects import DEFAULT_DSN_KEY

CRASH_ARCHIVE = zlib.compress(b"CR1\x00" + b"fake unreal crash archive" * 20)


def _path(key=DEFAULT_DSN_KEY, query=""):
    return "/api/42/unreal/%s/%s" % (key, query)


def test_unreal_report_is_forwarded(proxy_relay, upstream):
    response = proxy_relay.post(_path(), data=CRASH_ARCHIVE, headers={"Content-Type": "application/octet-stream"})
    assert_status(response, 200)
    assert_cors(response)
    event_id = assert_hyphenated_event_id(response.text)
    [received] = upstream.wait_for_envelopes(1)
    assert received.envelope.event_id == event_id
    assert received.auth["sentry_key"] == DEFAULT_DSN_KEY
    item = received.envelope.get_item("unreal_report")
    assert item.payload == CRASH_ARCHIVE
    assert item.headers["content_type"] == "application/octet-stream"
    assert "unreal_user_id" not in received.envelope.headers


def test_user_id_query(proxy_relay, upstream):
    response = proxy_relay.post(_path(query="?UserID=user-123"), data=CRASH_ARCHIVE)
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.envelope.headers["unreal_user_id"] == "user-123"


def test_each_report_gets_a_fresh_event_id(proxy_relay, upstream):
    first = assert_hyphenated_event_id(proxy_relay.post(_path(), data=CRASH_ARCHIVE).text)
    second = assert_hyphenated_event_id(proxy_relay.post(_path(), data=CRASH_ARCHIVE).text)
    assert first != second
    upstream.wait_for_envelopes(2)


def test_empty_body(proxy_relay):
    assert_json_error(proxy_relay.post(_path(), data=b""), 400, "empty request body")


def test_bad_key_in_path(proxy_relay):
    assert_json_error(proxy_relay.post(_path(key="short"), data=CRASH_ARCHIVE), 400, "bad sentry DSN public key")
