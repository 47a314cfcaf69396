"""Browser security reports (http-api.md §4.3) in proxy mode."""

import json

import pytest

from fixtures.asserts import assert_cors, assert_empty, assert_json_error, assert_status
from fixtures.projects import DEFAULT_DSN_KEY

CSP_REPORT = {
    "csp-report": {
        "document-uri": "https://example.com/foo/bar",
        "referrer": "https://www.google.com/",
        "violated-directive": "default-src self",
        "effective-directive": "img-src",
        "original-policy": "default-src self; report-uri /csp-hotline.php",
        "blocked-uri": "http://evilhackerscripts.com",
    }
}
AUTH_QUERY = "?sentry_key=%s" % DEFAULT_DSN_KEY


def _post(relay, body, content_type="application/csp-report", path="/api/42/security/", query=AUTH_QUERY):
    headers = {} if content_type is None else {"Content-Type": content_type}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return relay.post(path + query, data=data, headers=headers)


@pytest.mark.parametrize("path", ["/api/42/security/", "/api/42/csp-report/"])
def test_csp_report(proxy_relay, upstream, path):
    response = _post(proxy_relay, CSP_REPORT, path=path, query=AUTH_QUERY + "&sentry_release=1.0&sentry_environment=prod")
    assert_empty(response, 200)
    assert_cors(response)
    [received] = upstream.wait_for_envelopes(1)
    item = received.envelope.get_item("raw_security")
    assert item.json() == CSP_REPORT
    assert item.headers["sentry_release"] == "1.0"
    assert item.headers["sentry_environment"] == "prod"
    assert len(received.envelope.event_id) == 32


def test_without_release_query_no_item_headers(proxy_relay, upstream):
    assert_empty(_post(proxy_relay, CSP_REPORT), 200)
    [received] = upstream.wait_for_envelopes(1)
    item = received.envelope.get_item("raw_security")
    assert "sentry_release" not in item.headers
    assert "sentry_environment" not in item.headers


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/reports+json", "application/csp-report"],
)
def test_accepted_content_types(proxy_relay, upstream, content_type):
    assert_empty(_post(proxy_relay, CSP_REPORT, content_type=content_type), 200)
    upstream.wait_for_envelopes(1)


def test_missing_content_type(proxy_relay):
    response = _post(proxy_relay, CSP_REPORT, content_type=None)
    assert_status(response, 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
def test_unsupported_content_type(proxy_relay, content_type):
    assert_status(_post(proxy_relay, CSP_REPORT, content_type=content_type), 415)


def test_array_body_becomes_one_envelope_per_report(proxy_relay, upstream):
    reports = [
        {"type": "csp-violation", "url": "https://example.com/a", "body": {"blockedURL": "https://evil.example/1"}},
        {"type": "csp-violation", "url": "https://example.com/b", "body": {"blockedURL": "https://evil.example/2"}},
    ]
    assert_empty(_post(proxy_relay, reports, content_type="application/reports+json"), 200)
    received = upstream.wait_for_envelopes(2)
    proxy_relay.barrier(upstream)
    assert len(upstream.envelopes) == 2
    payloads = sorted((e.envelope.get_item("raw_security").json() for e in received), key=lambda r: r["url"])
    assert payloads == reports
    assert received[0].envelope.event_id != received[1].envelope.event_id


def test_empty_body(proxy_relay):
    assert_json_error(_post(proxy_relay, b""), 400, "empty request body")
