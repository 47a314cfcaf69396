"""Response compression (http-api.md §1): bodies of at least 128 bytes are compressed per the
client's `Accept-Encoding`; small bodies, and clients that accept nothing relay supports, get
plain answers."""

import json

import pytest

from fixtures.asserts import RATE_LIMITED_DETAIL, assert_cors
from fixtures.envelope import event_envelope
from fixtures.projects import DEFAULT_DSN_KEY
from fixtures.ratelimits import learn_rate_limit
from fixtures.relay import sentry_auth_header
from fixtures.util import decompress

LARGE_PATH = "/api/0/large-answer/"
LARGE_BODY = json.dumps({"items": ["entry-%d" % index for index in range(200)]}).encode()


@pytest.fixture
def large_upstream(upstream):
    upstream.add_route(
        "GET", r"^%s$" % LARGE_PATH, lambda request: (200, [("Content-Type", "application/json")], LARGE_BODY)
    )
    return upstream


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_large_forwarded_body_is_compressed(proxy_relay, large_upstream, encoding):
    response = proxy_relay.raw_request("GET", LARGE_PATH, headers={"Accept-Encoding": encoding})
    assert response.status == 200
    assert response.header("Content-Encoding") == encoding
    assert int(response.header("Content-Length")) == len(response.body)
    assert decompress(response.body, encoding) == LARGE_BODY


@pytest.mark.parametrize(
    "accept,expected",
    [
        ("gzip, deflate", "gzip"),
        ("gzip, deflate, br, zstd", "zstd"),
        ("gzip;q=0.5, br", "br"),
        ("zstd;q=0, deflate", "deflate"),
    ],
)
def test_encoding_is_negotiated(proxy_relay, large_upstream, accept, expected):
    response = proxy_relay.raw_request("GET", LARGE_PATH, headers={"Accept-Encoding": accept})
    assert response.header("Content-Encoding") == expected
    assert decompress(response.body, expected) == LARGE_BODY


@pytest.mark.parametrize("accept", [None, "identity", "compress", "gzip;q=0"])
def test_without_a_supported_encoding_the_body_is_plain(proxy_relay, large_upstream, accept):
    headers = {"Accept-Encoding": accept} if accept else {}
    response = proxy_relay.raw_request("GET", LARGE_PATH, headers=headers)
    assert response.status == 200
    assert response.header("Content-Encoding") is None
    assert response.body == LARGE_BODY


def test_small_body_is_never_compressed(proxy_relay, upstream):
    envelope = event_envelope("small answer")
    response = proxy_relay.raw_request(
        "POST",
        "/api/42/envelope/",
        body=envelope.serialize(),
        headers={
            "Accept-Encoding": "gzip, br, zstd",
            "Content-Type": "application/x-sentry-envelope",
            "X-Sentry-Auth": sentry_auth_header(DEFAULT_DSN_KEY),
        },
    )
    assert response.status == 200
    assert response.header("Content-Encoding") is None
    assert json.loads(response.body) == {"id": envelope.event_id}
    assert response.header("Vary") == "origin, access-control-request-method, access-control-request-headers"


def test_large_error_body_is_compressed_with_its_headers(proxy_relay, upstream):
    learn_rate_limit(proxy_relay, upstream, "60::key:big_error")
    response = proxy_relay.raw_request(
        "POST",
        "/api/42/envelope/",
        body=event_envelope("limited").serialize(),
        headers={"Accept-Encoding": "gzip", "X-Sentry-Auth": sentry_auth_header(DEFAULT_DSN_KEY)},
    )
    assert response.status == 429
    assert response.header("Content-Encoding") == "gzip"
    assert json.loads(decompress(response.body, "gzip")) == {"detail": RATE_LIMITED_DETAIL}
    assert response.header("Retry-After")
    assert response.header("X-Sentry-Rate-Limits").endswith(":key:big_error")
    assert response.header("Access-Control-Allow-Origin") == "*"


def test_requests_client_decodes_transparently(proxy_relay, large_upstream):
    response = proxy_relay.get(LARGE_PATH)
    assert response.headers["Content-Encoding"] in ("gzip", "deflate", "br", "zstd")
    assert response.content == LARGE_BODY


def test_cors_headers_are_unchanged_when_compressing(proxy_relay, upstream):
    learn_rate_limit(proxy_relay, upstream, "60::key:vary_check")
    response = proxy_relay.send_event(42, {"message": "limited"})
    assert response.status_code == 429
    assert response.headers["Content-Encoding"] in ("gzip", "deflate", "br", "zstd")
    assert response.json() == {"detail": RATE_LIMITED_DETAIL}
    assert_cors(response)
