"""The envelope endpoint (http-api.md §1, §3, §4.1, §5, §6; envelope.md §2, §9) in proxy mode."""

import base64
import gzip
import json

import pytest

from fixtures.asserts import (
    EXPECT_CORS_ALLOW_HEADERS,
    EXPECT_CORS_VARY,
    EXPECT_SERVER,
    assert_cors,
    assert_empty,
    assert_json_error,
    assert_no_cors,
    assert_plain_text,
    assert_status,
    header,
)
from fixtures.envelope import (
    attachment_item,
    build_envelope,
    event_envelope,
    event_item,
    make_item,
    session_item,
)
from fixtures.projects import DEFAULT_DSN_KEY
from fixtures.relay import DEFAULT_CLIENT, sentry_auth_header
from fixtures.util import compress

INVALID_ENVELOPE = "invalid event envelope"


@pytest.fixture
def signed_proxy(relay, upstream):
    """A proxy relay with credentials, so forwarded envelopes are signed."""
    return relay(upstream, mode="proxy", credentials=True)


def _upstream_dsn(upstream, project_id=42, key=DEFAULT_DSN_KEY):
    return "http://%s:@127.0.0.1:%d/%d" % (key, upstream.port, project_id)


# --- forwarding --------------------------------------------------------------------------------


def test_forwards_envelope_with_request_meta(signed_proxy, upstream):
    sent = build_envelope(
        event_item({"message": "forward me"}),
        attachment_item(b"\x00binary\nbytes\xff", filename="a.bin", content_type="application/octet-stream"),
        make_item("some_future_type", b"opaque", with_length=False),
        sdk={"name": "test.sdk", "version": "1.0"},
    )
    response = signed_proxy.send_envelope(42, sent, headers={"User-Agent": "test-agent/2.0"})
    assert_status(response, 200)
    assert response.json() == {"id": sent.event_id}

    [received] = upstream.wait_for_envelopes(1)
    assert received.request.path == "/api/42/envelope/"
    assert received.project_id == 42
    assert [item.headers for item in received.items] == [item.headers for item in sent.items]
    assert [item.payload for item in received.items] == [item.payload for item in sent.items]
    assert "length" not in received.items[2].headers

    headers = received.envelope.headers
    assert headers["event_id"] == sent.event_id
    assert headers["dsn"] == _upstream_dsn(upstream)
    assert headers["client"] == DEFAULT_CLIENT
    assert headers["version"] == 7
    assert headers["remote_addr"] == "127.0.0.1"
    assert headers["forwarded_for"] == "127.0.0.1"
    assert headers["user_agent"] == "test-agent/2.0"
    assert headers["sdk"] == {"name": "test.sdk", "version": "1.0"}

    request = received.request
    assert request.headers["Content-Type"] == "application/x-sentry-envelope"
    assert request.headers["Content-Encoding"] == "zstd"
    assert request.headers["X-Sentry-Auth"] == "Sentry sentry_key=%s, sentry_version=7, sentry_client=%s" % (
        DEFAULT_DSN_KEY,
        DEFAULT_CLIENT,
    )
    assert request.headers["X-Forwarded-For"] == "127.0.0.1"
    assert request.headers["User-Agent"] == "test-agent/2.0"
    assert request.headers["X-Sentry-Relay-Id"] == signed_proxy.relay_id
    assert received.signature is not None
    assert received.signature_error is None


def test_forwarded_for_chain_is_extended(proxy_relay, upstream):
    response = proxy_relay.send_envelope(42, event_envelope(), headers={"X-Forwarded-For": "9.9.9.9"})
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.request.headers["X-Forwarded-For"] == "9.9.9.9, 127.0.0.1"
    assert received.envelope.headers["forwarded_for"] == "9.9.9.9, 127.0.0.1"


def test_origin_is_forwarded_normalized(proxy_relay, upstream):
    response = proxy_relay.send_envelope(42, event_envelope(), headers={"Origin": "http://example.com"})
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.request.headers["Origin"] == "http://example.com/"
    assert received.envelope.headers["origin"] == "http://example.com/"


def test_unsigned_without_credentials(relay, upstream):
    unsigned = relay(upstream, mode="proxy", credentials=False)
    assert_status(unsigned.send_envelope(42, event_envelope()), 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.request.headers.get("X-Sentry-Relay-Id") is None
    assert received.request.headers.get("X-Sentry-Relay-Signature") is None


def test_protocol_version_is_kept(proxy_relay, upstream):
    auth = "Sentry sentry_version=5, sentry_client=old-sdk/0.1, sentry_key=%s" % DEFAULT_DSN_KEY
    response = proxy_relay.send_envelope(42, event_envelope(), headers={"X-Sentry-Auth": auth})
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.auth == {"sentry_key": DEFAULT_DSN_KEY, "sentry_version": "5", "sentry_client": "old-sdk/0.1"}
    assert received.envelope.headers["version"] == 5


def test_response_without_event_id_is_empty_object(proxy_relay, upstream):
    response = proxy_relay.send_envelope(42, build_envelope(session_item()))
    assert_status(response, 200)
    assert response.json() == {}
    [received] = upstream.wait_for_envelopes(1)
    assert "event_id" not in received.envelope.headers
    assert received.item_types() == ["session"]


def test_response_is_not_compressed(proxy_relay):
    response = proxy_relay.raw_request(
        "POST",
        "/api/42/envelope/",
        body=event_envelope().serialize(),
        headers={"X-Sentry-Auth": sentry_auth_header(), "Accept-Encoding": "gzip"},
    )
    assert_status(response, 200)
    assert header(response, "Content-Encoding") is None
    assert set(response.json()) == {"id"}


def test_no_cache_flag_is_forwarded(proxy_relay, upstream):
    response = proxy_relay.send_envelope(42, event_envelope(), dsn_key=DEFAULT_DSN_KEY + ".no-cache")
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.envelope.headers["no_cache"] is True
    assert received.auth["sentry_key"] == DEFAULT_DSN_KEY


# --- authentication sources ----------------------------------------------------------------------


def test_auth_from_query_string(proxy_relay, upstream):
    body = event_envelope().serialize()
    response = proxy_relay.post(
        "/api/42/envelope/?sentry_key=%s&sentry_version=7" % DEFAULT_DSN_KEY,
        data=body,
        headers={"Content-Type": "application/x-sentry-envelope"},
    )
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.auth["sentry_key"] == DEFAULT_DSN_KEY


def test_auth_from_basic_authorization(proxy_relay, upstream):
    token = base64.b64encode(("%s:ignored" % DEFAULT_DSN_KEY).encode()).decode()
    response = proxy_relay.send_envelope(42, event_envelope(), auth=False, headers={"Authorization": "Basic " + token})
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.auth["sentry_key"] == DEFAULT_DSN_KEY


def test_auth_from_sentry_authorization_header(proxy_relay, upstream):
    response = proxy_relay.send_envelope(
        42, event_envelope(), auth=False, headers={"Authorization": sentry_auth_header()}
    )
    assert_status(response, 200)
    upstream.wait_for_envelopes(1)


def test_dsn_in_envelope_header(proxy_relay, upstream):
    dsn = "http://%s@somewhere.example:1234/42" % DEFAULT_DSN_KEY
    response = proxy_relay.send_envelope(42, event_envelope(dsn=dsn), auth=False)
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    # The client's own DSN (its host, not the upstream's) travels on, written in the
    # normalized form relay writes every DSN in (`<key>:@host`, envelope.md §10).
    assert received.envelope.headers["dsn"] == "http://%s:@somewhere.example:1234/42" % DEFAULT_DSN_KEY
    assert received.auth["sentry_key"] == DEFAULT_DSN_KEY
    assert received.project_id == 42


def test_dsn_in_envelope_header_takes_its_project_id(proxy_relay, upstream):
    dsn = "http://%s@somewhere.example/42" % DEFAULT_DSN_KEY
    assert_status(proxy_relay.send_envelope(99, event_envelope(dsn=dsn), auth=False), 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.project_id == 42


def test_envelope_header_without_dsn_and_without_auth(proxy_relay):
    response = proxy_relay.send_envelope(42, event_envelope(), auth=False)
    assert_json_error(response, 401, "bad envelope authentication header", cause_prefix="missing field `dsn` at line 1 column ")
    assert_cors(response)


def test_empty_body_without_auth(proxy_relay):
    response = proxy_relay.send_envelope(42, b"", auth=False)
    assert_json_error(
        response, 401, "bad envelope authentication header", cause="EOF while parsing a value at line 1 column 0"
    )


def test_dsn_with_flags_in_envelope_header_is_rejected(proxy_relay):
    dsn = "http://%s.no-cache@somewhere.example/42" % DEFAULT_DSN_KEY
    response = proxy_relay.send_envelope(42, event_envelope(dsn=dsn), auth=False)
    assert_json_error(response, 401, "bad envelope authentication header")


def test_multiple_auth_payloads(proxy_relay):
    response = proxy_relay.post(
        "/api/42/envelope/?sentry_key=%s" % DEFAULT_DSN_KEY,
        data=event_envelope().serialize(),
        headers={"X-Sentry-Auth": sentry_auth_header()},
    )
    assert_json_error(response, 401, "multiple authorization payloads detected")


def test_any_sentry_query_parameter_counts_as_auth(proxy_relay):
    response = proxy_relay.post(
        "/api/42/envelope/?sentry_release=1.0",
        data=event_envelope().serialize(),
        headers={"X-Sentry-Auth": sentry_auth_header()},
    )
    assert_json_error(response, 401, "multiple authorization payloads detected")


def test_non_sentry_auth_header_is_ignored(proxy_relay, upstream):
    """`X-Sentry-Auth` not starting with `sentry ` is ignored; the envelope DSN is used."""
    dsn = "http://%s@somewhere.example/42" % DEFAULT_DSN_KEY
    response = proxy_relay.send_envelope(
        42, event_envelope(dsn=dsn), auth=False, headers={"X-Sentry-Auth": "Bearer abc"}
    )
    assert_status(response, 200)
    upstream.wait_for_envelopes(1)


@pytest.mark.parametrize(
    "auth, cause",
    [
        ("Sentry sentry_version=7", "missing public key in auth header"),
        ("Sentry sentry_key=, sentry_version=7", "missing public key in auth header"),
        ("Sentry sentry_key=%s, sentry_version=abc" % DEFAULT_DSN_KEY, "invalid value for version"),
    ],
)
def test_bad_auth_header(proxy_relay, auth, cause):
    response = proxy_relay.send_envelope(42, event_envelope(), auth=False, headers={"X-Sentry-Auth": auth})
    assert_json_error(response, 401, "bad x-sentry-auth header", cause=cause)


def test_bad_public_key(proxy_relay):
    response = proxy_relay.send_envelope(42, event_envelope(), dsn_key="tooshort")
    assert_json_error(response, 400, "bad sentry DSN public key")


def test_unsupported_protocol_version(proxy_relay):
    auth = "Sentry sentry_version=8, sentry_key=%s" % DEFAULT_DSN_KEY
    response = proxy_relay.send_envelope(42, event_envelope(), auth=False, headers={"X-Sentry-Auth": auth})
    assert_json_error(response, 400, "unsupported protocol version (8)")


def test_bad_project_path(proxy_relay):
    response = proxy_relay.post(
        "/api/abc/envelope/", data=event_envelope().serialize(), headers={"X-Sentry-Auth": sentry_auth_header()}
    )
    assert_json_error(response, 400, "bad project path parameter")


def test_bad_relay_signature_header(proxy_relay):
    response = proxy_relay.raw_request(
        "POST",
        "/api/42/envelope/",
        body=event_envelope().serialize(),
        headers=[("X-Sentry-Auth", sentry_auth_header()), ("X-Sentry-Relay-Signature", b"\xff\xfe")],
    )
    assert_json_error(response, 400, "bad x-sentry-relay-signature header")


# --- body and envelope errors ----------------------------------------------------------------------


def test_empty_body(proxy_relay):
    response = proxy_relay.send_envelope(42, b"")
    assert_json_error(response, 400, "empty request body")
    assert_cors(response)


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"   \n", "missing envelope header"),
        (b"{not json}\n", "invalid envelope header"),
        (b'{"event_id":"not-a-uuid"}\n', "invalid envelope header"),
        (b'{"sent_at":"yesterday"}\n', "invalid envelope header"),
        (b"{} trailing\n", "missing newline after header or payload"),
        (b'{}\n{"type":"event","length":50}\n{}\n', "unexpected end of file"),
        (b'{}\n{"type":"attachment","length":1}\nabc\n', "missing newline after header or payload"),
        (b'{}\n{"type":"attachment"}\nabc\n\n', "unexpected end of file"),
        (b'{}\n{"length":2}\nab\n', "invalid item header"),
        (b'{}\n{"type":"attachment","length":-1}\n\n', "invalid item header"),
        (b'{}\n{"type":"attachment","length":"2"}\nab\n', "invalid item header"),
        (b'{}\n{"type":7}\n\n', "invalid item header"),
        (b"{}\n" + b'{"type":"attachment","length":1}\nx\n' * 501, "too many individual items"),
    ],
)
def test_envelope_parse_errors(proxy_relay, upstream, body, reason):
    response = proxy_relay.send_envelope(42, body)
    assert_json_error(response, 400, INVALID_ENVELOPE, cause=reason)


def test_origin_mismatch(proxy_relay):
    envelope = event_envelope(origin="http://a.example")
    response = proxy_relay.send_envelope(42, envelope, headers={"Origin": "http://b.example"})
    assert_json_error(response, 400, INVALID_ENVELOPE, cause="origin header mismatch between envelope and request")


def test_origin_in_header_without_request_origin(proxy_relay):
    response = proxy_relay.send_envelope(42, event_envelope(origin="http://a.example"))
    assert_json_error(response, 400, INVALID_ENVELOPE, cause="origin header mismatch between envelope and request")


def test_origin_matches_as_url(proxy_relay, upstream):
    envelope = event_envelope(origin="http://a.example")
    assert_status(proxy_relay.send_envelope(42, envelope, headers={"Origin": "http://a.example/"}), 200)
    upstream.wait_for_envelopes(1)


def test_project_id_mismatch(proxy_relay):
    envelope = event_envelope(dsn="http://%s@x.example/43" % DEFAULT_DSN_KEY)
    response = proxy_relay.send_envelope(42, envelope)
    assert_json_error(response, 400, INVALID_ENVELOPE, cause="project id header mismatch between envelope and request")


def test_public_key_mismatch(proxy_relay):
    envelope = event_envelope(dsn="http://%s@x.example/42" % ("f" * 32))
    response = proxy_relay.send_envelope(42, envelope)
    assert_json_error(response, 400, INVALID_ENVELOPE, cause="public key header mismatch between envelope and request")


def test_internal_items_are_rejected(proxy_relay):
    envelope = build_envelope(
        make_item("integration", b"[]", content_type="application/vnd.sentry.integration.browser.nel+json")
    )
    response = proxy_relay.send_envelope(42, envelope)
    assert_json_error(response, 400, "envelope contains internal items")


def test_item_over_size_limit(relay, upstream):
    limited = relay(upstream, mode="proxy", config={"limits": {"max_event_size": 1000}})
    envelope = build_envelope(event_item({"message": "x" * 2000}))
    response = limited.send_envelope(42, envelope)
    assert_json_error(
        response,
        413,
        "envelope exceeded size limits for type 'event' (https://develop.sentry.dev/sdk/envelopes/#size-limits)",
    )
    assert_cors(response)


def test_unknown_items_are_dropped_when_not_accepted(relay, upstream):
    strict = relay(upstream, mode="proxy", config={"routing": {"accept_unknown_items": False}})
    envelope = build_envelope(event_item(), make_item("some_future_type", b"x"))
    assert_status(strict.send_envelope(42, envelope), 200)
    only_unknown = build_envelope(make_item("some_future_type", b"y"))
    assert_status(strict.send_envelope(42, only_unknown), 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.item_types() == ["event"]
    strict.event_barrier(upstream)
    assert not any("some_future_type" in e.item_types() for e in upstream.envelopes)


# --- content encoding ----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "identity"])
def test_content_encodings_are_accepted(proxy_relay, upstream, encoding):
    sent = event_envelope("compressed")
    response = proxy_relay.send_envelope(42, sent, encoding=encoding)
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.items[0].payload == sent.items[0].payload


@pytest.mark.parametrize("value", ["", "utf-8", "UTF-8"])
def test_meaningless_content_encoding_is_ignored(proxy_relay, upstream, value):
    response = proxy_relay.send_envelope(42, event_envelope(), headers={"Content-Encoding": value})
    assert_status(response, 200)
    upstream.wait_for_envelopes(1)


def test_unsupported_content_encoding(proxy_relay):
    response = proxy_relay.send_envelope(42, event_envelope(), headers={"Content-Encoding": "compress"})
    assert_empty(response, 415)
    assert header(response, "Accept-Encoding") == "zstd,gzip,deflate,br"
    assert_no_cors(response)


def test_corrupt_gzip(proxy_relay):
    corrupt = gzip.compress(event_envelope().serialize())[:-12]
    response = proxy_relay.send_envelope(42, corrupt, headers={"Content-Encoding": "gzip"})
    assert_status(response, 400)
    assert response.content.startswith(b"Failed to buffer the request body: ")
    assert not response.headers.get("Content-Type", "").startswith("application/json")


# --- body size limits --------------------------------------------------------------------------------

LENGTH_LIMIT_EXCEEDED = "Failed to buffer the request body: length limit exceeded"


@pytest.fixture
def small_envelope_relay(relay, upstream):
    return relay(upstream, mode="proxy", config={"limits": {"max_envelope_size": 1000}})


def _big_envelope():
    return build_envelope(attachment_item(b"a" * 2000)).serialize()


def test_body_over_limit_with_content_length(small_envelope_relay):
    response = small_envelope_relay.send_envelope(42, _big_envelope())
    assert_plain_text(response, 413, LENGTH_LIMIT_EXCEEDED)
    assert_cors(response)


def test_body_over_limit_chunked(small_envelope_relay):
    body = _big_envelope()
    response = small_envelope_relay.raw_request(
        "POST",
        "/api/42/envelope/",
        headers={"X-Sentry-Auth": sentry_auth_header()},
        chunks=[body[i : i + 256] for i in range(0, len(body), 256)],
    )
    assert_plain_text(response, 413, LENGTH_LIMIT_EXCEEDED)


def test_decompressed_size_counts(small_envelope_relay):
    bomb = compress(_big_envelope(), "gzip")
    assert len(bomb) < 1000
    response = small_envelope_relay.send_envelope(42, bomb, headers={"Content-Encoding": "gzip"})
    assert_plain_text(response, 413, LENGTH_LIMIT_EXCEEDED)


def test_body_under_limit(small_envelope_relay, upstream):
    assert_status(small_envelope_relay.send_envelope(42, event_envelope()), 200)
    upstream.wait_for_envelopes(1)


# --- CORS, server headers, routing -------------------------------------------------------------------


def test_cors_preflight(proxy_relay, upstream):
    response = proxy_relay.options(
        "/api/42/envelope/",
        headers={"Origin": "http://example.com", "Access-Control-Request-Method": "POST"},
    )
    assert_empty(response, 200)
    assert response.headers["Content-Length"] == "0"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    assert response.headers["Access-Control-Allow-Headers"] == EXPECT_CORS_ALLOW_HEADERS
    assert response.headers["Access-Control-Max-Age"] == "3600"
    assert response.headers["Vary"] == EXPECT_CORS_VARY
    assert response.headers["Allow"] == "POST"
    assert upstream.envelopes == []


def test_cors_preflight_without_request_headers(proxy_relay):
    response = proxy_relay.raw_request("OPTIONS", "/api/42/envelope/")
    assert_empty(response, 200)
    assert header(response, "Access-Control-Allow-Methods") == "POST"


def test_store_preflight_allow(proxy_relay):
    response = proxy_relay.options("/api/42/store/")
    assert_empty(response, 200)
    assert response.headers["Allow"] == "POST,GET,HEAD"
    assert response.headers["Access-Control-Allow-Methods"] == "POST"


def test_cors_on_success_and_errors(proxy_relay):
    success = proxy_relay.send_envelope(42, event_envelope(), headers={"Origin": "http://example.com"})
    assert_status(success, 200)
    assert_cors(success)
    unauthorized = proxy_relay.post(
        "/api/42/envelope/?sentry_key=%s" % DEFAULT_DSN_KEY,
        data=b"x",
        headers={"X-Sentry-Auth": sentry_auth_header()},
    )
    assert_status(unauthorized, 401)
    assert_cors(unauthorized)


def test_server_headers(proxy_relay):
    for response in (
        proxy_relay.send_envelope(42, event_envelope()),
        proxy_relay.get("/api/relay/healthcheck/live/"),
        proxy_relay.get("/api/relay/nothing-here/"),
    ):
        assert response.headers["Server"] == EXPECT_SERVER
        assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_method_not_allowed(proxy_relay):
    response = proxy_relay.get("/api/42/envelope/", headers={"X-Sentry-Auth": sentry_auth_header()})
    assert_empty(response, 405)
    assert response.headers["Allow"] == "POST"
    assert_cors(response)


def test_store_method_not_allowed_lists_get(proxy_relay):
    response = proxy_relay.request("PUT", "/api/42/store/", data=b"{}")
    assert_empty(response, 405)
    assert response.headers["Allow"] == "POST,GET,HEAD"


@pytest.mark.parametrize("path", ["/api/42//envelope/", "//api/42/envelope/", "/api/42/envelope//", "/api//42///envelope/"])
def test_path_normalization(proxy_relay, upstream, path):
    response = proxy_relay.raw_request(
        "POST", path, body=event_envelope().serialize(), headers={"X-Sentry-Auth": sentry_auth_header()}
    )
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.request.path == "/api/42/envelope/"


def test_query_string_is_untouched_by_normalization(proxy_relay, upstream):
    response = proxy_relay.raw_request(
        "POST",
        "/api/42//envelope/?sentry_key=%s&x=a//b" % DEFAULT_DSN_KEY,
        body=event_envelope().serialize(),
    )
    assert_status(response, 200)
    upstream.wait_for_envelopes(1)


def test_content_type_is_not_required(proxy_relay, upstream):
    response = proxy_relay.raw_request(
        "POST", "/api/42/envelope/", body=event_envelope().serialize(), headers={"X-Sentry-Auth": sentry_auth_header()}
    )
    assert_status(response, 200)
    upstream.wait_for_envelopes(1)


def test_many_envelopes_arrive_once_each(proxy_relay, upstream):
    sent = [event_envelope("n%d" % index) for index in range(10)]
    for envelope in sent:
        assert_status(proxy_relay.send_envelope(42, envelope), 200)
    upstream.wait_for_envelopes(10)
    proxy_relay.barrier(upstream)
    ids = sorted(e.envelope.event_id for e in upstream.envelopes)
    assert ids == sorted(e.event_id for e in sent)


def test_trace_header_is_reserialized(proxy_relay, upstream):
    trace = {"trace_id": "a" * 32, "public_key": DEFAULT_DSN_KEY, "sample_rate": 0.5, "user": {"id": "u1"}}
    assert_status(proxy_relay.send_envelope(42, event_envelope(trace=trace)), 200)
    [received] = upstream.wait_for_envelopes(1)
    assert json.dumps(received.envelope.headers["trace"], separators=(",", ":")) == (
        '{"trace_id":"%s","public_key":"%s","release":null,"environment":null,"transaction":null,'
        '"sample_rate":"0.5","user_id":"u1","replay_id":null}' % ("a" * 32, DEFAULT_DSN_KEY)
    )
