"""The fallback forwarder (http-api.md §9)."""

import gzip
import json
import threading

import pytest

from fixtures import signing
from fixtures.asserts import assert_empty, assert_no_cors, assert_status


def test_get_is_forwarded_with_query(proxy_relay, upstream):
    response = proxy_relay.get("/api/0/organizations/acme/releases/?per_page=10&x=%2F", headers={"X-Custom": "kept"})
    assert_status(response, 200)
    assert response.json() == {
        "fake_upstream": True,
        "method": "GET",
        "path": "/api/0/organizations/acme/releases/",
        "query": "per_page=10&x=%2F",
    }
    assert response.headers["X-Fake-Upstream"] == "catch-all"
    [request] = upstream.requests_to(r"^/api/0/organizations/acme/releases/$")
    assert request.headers["X-Custom"] == "kept"
    assert request.headers["Host"] == "127.0.0.1:%d" % upstream.port
    assert request.headers.get("X-Sentry-Relay-Id") is None
    assert request.headers.get("X-Sentry-Relay-Signature") is None
    assert request.headers.get_all("X-Forwarded-For") == ["127.0.0.1"]
    assert_no_cors(response)


def test_signed_relay_does_not_sign_forwarded_requests(relay, upstream):
    signed = relay(upstream, mode="proxy", credentials=True)
    assert_status(signed.get("/api/0/projects/"), 200)
    [request] = upstream.requests_to(r"^/api/0/projects/$")
    assert request.headers.get("X-Sentry-Relay-Id") is None
    assert request.headers.get("X-Sentry-Relay-Signature") is None


def test_incoming_forwarded_for_is_kept_and_chain_appended(proxy_relay, upstream):
    assert_status(proxy_relay.get("/api/0/whoami/", headers={"X-Forwarded-For": "9.9.9.9"}), 200)
    [request] = upstream.requests_to(r"^/api/0/whoami/$")
    assert request.headers.get_all("X-Forwarded-For") == ["9.9.9.9", "9.9.9.9, 127.0.0.1"]


def test_post_body_is_forwarded_decompressed(proxy_relay, upstream):
    body = json.dumps({"hello": "world" * 50}).encode()
    response = proxy_relay.post(
        "/api/0/projects/acme/web/releases/",
        data=gzip.compress(body),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert_status(response, 200)
    [request] = upstream.requests_to(r"^/api/0/projects/acme/web/releases/$")
    assert request.method == "POST"
    assert request.headers.get("Content-Encoding") is None
    assert request.body == body
    assert request.headers["Content-Type"] == "application/json"


def test_upstream_errors_are_passed_through(proxy_relay, upstream):
    upstream.add_route(
        "GET", r"^/api/0/missing/$", lambda r: (404, [("Content-Type", "application/json"), ("X-Up", "1")], b'{"detail":"nope"}')
    )
    response = proxy_relay.get("/api/0/missing/")
    assert_status(response, 404)
    assert response.json() == {"detail": "nope"}
    assert response.headers["X-Up"] == "1"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_forwarded(proxy_relay, upstream, method):
    response = proxy_relay.request(method, "/api/0/things/1/")
    assert_status(response, 200)
    assert response.json()["method"] == method


@pytest.mark.parametrize("path", ["/", "/api/", "/other/path/", "/favicon.ico"])
def test_paths_outside_api_are_404(proxy_relay, upstream, path):
    assert_empty(proxy_relay.get(path), 404)
    assert upstream.requests_to(r".*", method="GET") == []


def test_forwarding_disabled(relay, upstream):
    closed = relay(upstream, mode="proxy", config={"http": {"forward": False}})
    assert_empty(closed.get("/api/0/organizations/"), 404)
    assert upstream.requests_to(r"^/api/0/organizations/") == []


def test_outcomes_path_is_just_forwarded(proxy_relay, upstream):
    assert_status(proxy_relay.post("/api/0/relays/outcomes/", json={"outcomes": []}), 200)
    assert len(upstream.requests_to(r"^/api/0/relays/outcomes/$")) == 1


def test_connection_failure_is_502(relay, upstream):
    instance = relay(upstream, mode="proxy")
    upstream.go_down()
    assert_empty(instance.get("/api/0/organizations/"), 502)


def test_slow_upstream_is_504(relay, upstream):
    release = threading.Event()

    def slow(request):
        release.wait(10)
        return 200, [], b"too late"

    upstream.add_route("GET", r"^/api/0/slow/$", slow)
    instance = relay(upstream, mode="proxy", config={"http": {"timeout": 1}})
    try:
        assert_empty(instance.get("/api/0/slow/"), 504)
    finally:
        release.set()


def test_oversized_forwarded_body(relay, upstream):
    instance = relay(upstream, mode="proxy", config={"limits": {"max_api_payload_size": 1000}})
    response = instance.post("/api/0/organizations/acme/", data=b"x" * 5000)
    assert_status(response, 413)
    assert response.content == b"length limit exceeded"
    assert upstream.requests_to(r"^/api/0/organizations/acme/$") == []


def test_register_routes_are_forwarded_verbatim(proxy_relay, upstream):
    credentials = signing.generate_credentials()
    body = json.dumps({"relay_id": credentials["id"], "public_key": credentials["public_key"], "version": "26.9.0"}).encode()
    response = proxy_relay.post(
        "/api/0/relays/register/challenge/",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Sentry-Relay-Id": credentials["id"],
            "X-Sentry-Relay-Signature": signing.sign(credentials["secret_key"], body),
        },
    )
    assert_status(response, 200)
    assert response.json()["relay_id"] == credentials["id"]
    [request] = upstream.requests_to(r"/register/challenge/$")
    assert request.body == body
    assert request.headers["X-Sentry-Relay-Id"] == credentials["id"]


def test_register_body_limit(proxy_relay, upstream):
    response = proxy_relay.post("/api/0/relays/register/challenge/", data=b"x" * 262145)
    assert_status(response, 413)
    assert response.content == b"Failed to buffer the request body: length limit exceeded"
    assert upstream.requests_to(r"/register/") == []


def test_upstream_encoded_answer_keeps_its_encoding(proxy_relay, upstream):
    """The caller's Accept-Encoding is forwarded; an answer the HTTP client does not decode
    itself (br) must reach the caller with its Content-Encoding, not as garbage."""
    import brotli

    payload = json.dumps({"answer": "x" * 500}).encode()
    upstream.add_route(
        "GET",
        r"^/api/0/brotli-answer/$",
        lambda _request: (200, [("Content-Type", "application/json"), ("Content-Encoding", "br")], brotli.compress(payload)),
    )
    response = proxy_relay.get("/api/0/brotli-answer/", headers={"Accept-Encoding": "br"})
    assert_status(response, 200)
    assert response.headers.get("Content-Encoding") == "br"
    assert response.content == payload
