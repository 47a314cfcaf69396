"""Rate limits learned from upstream 429s (http-api.md §7, relay-protocol.md §7.2, §11)."""

import pytest

from fixtures.asserts import RATE_LIMITED_DETAIL, assert_cors, assert_json_error, assert_status, parse_rate_limits
from fixtures.envelope import build_envelope, event_envelope, event_item, session_item, transaction_item
from fixtures.projects import DEFAULT_DSN_KEY, new_dsn_key, project_config, quota
from fixtures.ratelimits import learn_rate_limit
from fixtures.relay import RELAY_VERSION
from fixtures.util import wait_until


def _wait_for_429(relay, make_envelope, dsn_key=DEFAULT_DSN_KEY):
    def attempt():
        response = relay.send_envelope(42, make_envelope(), dsn_key=dsn_key)
        # A `requests.Response` is falsy for 4xx statuses, so it is wrapped for `wait_until`.
        return (response,) if response.status_code == 429 else None

    return wait_until(attempt, message="relay never answered 429")[0]


@pytest.fixture
def reporting_proxy(relay, upstream):
    """Proxy relay that flushes every outcome immediately as its own client report."""
    return relay(upstream, mode="proxy", config={"aggregator": {"bucket_interval": 1, "initial_delay": 0}})


def _transaction_envelope():
    return build_envelope(transaction_item())


def test_429_is_returned_and_items_are_dropped(reporting_proxy, upstream):
    learn_rate_limit(reporting_proxy, upstream, "60:error:key:my_reason")
    dropped = event_envelope("dropped")
    response = reporting_proxy.send_envelope(42, dropped)
    assert_json_error(response, 429, RATE_LIMITED_DETAIL)
    assert_cors(response)
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 60
    [limit] = parse_rate_limits(response.headers["X-Sentry-Rate-Limits"])
    assert limit["categories"] == ["error"]
    assert limit["scope"] == "key"
    assert limit["reason"] == "my_reason"
    assert 0 < limit["retry_after"] <= 60
    reporting_proxy.barrier(upstream)
    assert [e for e in upstream.envelopes if e.envelope.event_id == dropped.event_id] == []


def test_rate_limited_outcome_is_reported(reporting_proxy, upstream):
    first_limited = learn_rate_limit(reporting_proxy, upstream, "60:error:key:my_reason")
    assert first_limited.status_code == 429
    assert_status(reporting_proxy.send_envelope(42, event_envelope("dropped")), 429)
    limited_requests = 2

    def reported_quantity():
        entries = [
            entry
            for entry in upstream.client_report_entries("rate_limited_events")
            if entry["category"] == "error" and entry["reason"] == "my_reason"
        ]
        return sum(entry["quantity"] for entry in entries) >= limited_requests

    upstream.wait_for(reported_quantity, message="no client report with rate_limited_events arrived")
    reports = upstream.envelopes_with("client_report")
    for report in reports:
        assert report.request.path == "/api/42/envelope/"
        assert report.item_types() == ["client_report"]
        assert report.auth == {
            "sentry_key": DEFAULT_DSN_KEY,
            "sentry_version": "7",
            "sentry_client": "sentry.relay/%s" % RELAY_VERSION,
        }
        assert report.request.headers["User-Agent"] == "sentry-relay/%s" % RELAY_VERSION
        assert report.envelope.headers["client"] == "sentry.relay/%s" % RELAY_VERSION
        assert report.envelope.headers["dsn"] == "http://%s:@127.0.0.1:%d/42" % (DEFAULT_DSN_KEY, upstream.port)
        assert "event_id" not in report.envelope.headers
        payload = report.envelope.get_item("client_report").json()
        assert isinstance(payload["timestamp"], int)
        assert len(payload["rate_limited_events"]) == 1
        assert payload["discarded_events"] == []


def test_limits_are_per_category(reporting_proxy, upstream):
    learn_rate_limit(reporting_proxy, upstream, "60:transaction:key:tx_quota", check=_transaction_envelope)
    error = event_envelope("errors still flow")
    assert_status(reporting_proxy.send_envelope(42, error), 200)
    upstream.wait_for_envelopes(1, predicate=lambda e: e.envelope.event_id == error.event_id)
    transaction = _transaction_envelope()
    response = reporting_proxy.send_envelope(42, transaction)
    assert_status(response, 429)
    [limit] = parse_rate_limits(response.headers["X-Sentry-Rate-Limits"])
    assert limit["categories"] == ["transaction", "span"]
    assert limit["reason"] == "tx_quota"
    reporting_proxy.barrier(upstream)
    assert [e for e in upstream.envelopes if e.envelope.event_id == transaction.event_id] == []


def test_partially_limited_envelope_answers_429(reporting_proxy, upstream):
    learn_rate_limit(reporting_proxy, upstream, "60:session:key:no_sessions", check=lambda: build_envelope(session_item()))
    mixed = build_envelope(event_item(), session_item())
    response = reporting_proxy.send_envelope(42, mixed)
    assert_status(response, 429)
    [received] = upstream.wait_for_envelopes(1, predicate=lambda e: e.envelope.event_id == mixed.event_id)
    assert received.item_types() == ["event"]


def test_limits_are_per_key(reporting_proxy, upstream):
    learn_rate_limit(reporting_proxy, upstream, "60:error:key:k")
    other = event_envelope("other key")
    assert_status(reporting_proxy.send_envelope(42, other, dsn_key=new_dsn_key()), 200)
    upstream.wait_for_envelopes(1, predicate=lambda e: e.envelope.event_id == other.event_id)


def test_retry_after_only_creates_generic_limit(reporting_proxy, upstream):
    rule = upstream.fail_with(429, headers={"Retry-After": "60"}, count=1)
    assert_status(reporting_proxy.send_envelope(42, event_envelope()), 200)
    upstream.wait_for(lambda: rule.hits == 1)
    response = _wait_for_429(reporting_proxy, lambda: build_envelope(session_item()))
    [limit] = parse_rate_limits(response.headers["X-Sentry-Rate-Limits"])
    assert limit["categories"] == []
    assert limit["scope"] == "key"
    assert limit["reason"] == "generic"


def test_only_applying_limits_are_reported(reporting_proxy, upstream):
    learn_rate_limit(reporting_proxy, upstream, "60:error:project:errors_off, 30:transaction:organization:tx_off")
    response = reporting_proxy.send_envelope(42, event_envelope())
    assert_status(response, 429)
    limits = parse_rate_limits(response.headers["X-Sentry-Rate-Limits"])
    assert [(l["categories"], l["scope"], l["reason"]) for l in limits] == [(["error"], "project", "errors_off")]


def test_unknown_items_are_never_limited(reporting_proxy, upstream):
    learn_rate_limit(reporting_proxy, upstream, "60::key:everything")
    reporting_proxy.barrier(upstream)


def test_zero_quota_in_project_config(relay, upstream):
    upstream.project_configs[DEFAULT_DSN_KEY] = project_config(config={"quotas": [quota(["error"], 0, "disabled")]})
    managed = relay(upstream, mode="managed")
    response = _wait_for_429(managed, event_envelope)
    [limit] = parse_rate_limits(response.headers["X-Sentry-Rate-Limits"])
    assert limit["categories"] == ["error"]
    assert limit["reason"] == "disabled"
    assert 0 < int(response.headers["Retry-After"]) <= 60
