"""Network Error Logging reports (http-api.md §4.4) in proxy mode."""

import json

import pytest

from fixtures.asserts import assert_cors, assert_empty, assert_status
from fixtures.projects import DEFAULT_DSN_KEY
from fixtures.util import wait_until

NEL_CONTENT_TYPE = "application/vnd.sentry.integration.browser.nel+json"
NEL_REPORTS = [
    {
        "age": 0,
        "type": "network-error",
        "url": "https://example.com/about/",
        "user_agent": "Mozilla/5.0",
        "body": {
            "sampling_fraction": 1.0,
            "server_ip": "192.0.2.1",
            "protocol": "http/1.1",
            "method": "GET",
            "status_code": 0,
            "elapsed_time": 823,
            "phase": "connection",
            "type": "tcp.refused",
        },
    }
]
PATH = "/api/42/nel/?sentry_key=%s" % DEFAULT_DSN_KEY


@pytest.mark.parametrize("content_type", ["application/json", "application/reports+json"])
def test_nel_report_becomes_integration_item(proxy_relay, upstream, content_type):
    response = proxy_relay.post(PATH, data=json.dumps(NEL_REPORTS), headers={"Content-Type": content_type})
    assert_empty(response, 200)
    assert_cors(response)
    [received] = upstream.wait_for_envelopes(1)
    [item] = received.items
    assert item.type == "integration"
    assert item.headers["content_type"] == NEL_CONTENT_TYPE
    assert item.json() == NEL_REPORTS


def test_unsupported_content_type(proxy_relay):
    response = proxy_relay.post(PATH, data=json.dumps(NEL_REPORTS), headers={"Content-Type": "text/plain"})
    assert_status(response, 415)


def test_rate_limits_never_answer_429(proxy_relay, upstream):
    upstream.fail_with(429, headers={"X-Sentry-Rate-Limits": "60::key:everything", "Retry-After": "60"}, count=1)
    first = proxy_relay.post(PATH, data=json.dumps(NEL_REPORTS), headers={"Content-Type": "application/json"})
    assert_empty(first, 200)
    upstream.wait_for(lambda: any(r.failed_by_rule for r in upstream.requests), message="the 429 was not served")

    def envelope_is_limited():
        return proxy_relay.send_envelope(42, b'{}\n{"type":"session"}\n{}\n').status_code == 429

    wait_until(envelope_is_limited, message="relay never applied the learned limit")
    second = proxy_relay.post(PATH, data=json.dumps(NEL_REPORTS), headers={"Content-Type": "application/json"})
    assert_empty(second, 200)
