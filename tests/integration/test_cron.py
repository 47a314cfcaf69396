"""Cron check-ins (http-api.md §4.8) in proxy mode."""

import base64
import json
import uuid

import pytest

from fixtures.asserts import assert_cors, assert_empty, assert_status
from fixtures.envelope import build_envelope, make_item
from fixtures.projects import DEFAULT_DSN_KEY
from fixtures.ratelimits import learn_rate_limit
from fixtures.relay import sentry_auth_header


def _check_in(upstream):
    [received] = upstream.wait_for_envelopes(1)
    return received, received.envelope.get_item("check_in").json()


@pytest.mark.parametrize("suffix", ["/", ""])
def test_json_check_in_with_key_in_path(proxy_relay, upstream, suffix):
    check_in_id = str(uuid.uuid4())
    body = {"check_in_id": check_in_id, "monitor_slug": "overwritten", "status": "in_progress", "environment": "prod"}
    response = proxy_relay.post(
        "/api/42/cron/my-monitor/%s%s" % (DEFAULT_DSN_KEY, suffix),
        data=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert_empty(response, 202)
    assert_cors(response)
    received, check_in = _check_in(upstream)
    assert check_in["monitor_slug"] == "my-monitor"
    assert check_in["status"] == "in_progress"
    assert uuid.UUID(check_in["check_in_id"]) == uuid.UUID(check_in_id)
    assert received.auth["sentry_key"] == DEFAULT_DSN_KEY


def test_get_with_query_parameters(proxy_relay, upstream):
    response = proxy_relay.get(
        "/api/42/cron/nightly/%s/" % DEFAULT_DSN_KEY, params={"status": "ok", "environment": "prod", "duration": "2.5"}
    )
    assert_empty(response, 202)
    received, check_in = _check_in(upstream)
    assert check_in["monitor_slug"] == "nightly"
    assert check_in["status"] == "ok"
    assert check_in["environment"] == "prod"
    assert check_in["duration"] == 2.5
    assert uuid.UUID(check_in["check_in_id"]).int == 0
    assert received.auth.get("sentry_client") == "relay-http"
    assert received.envelope.headers.get("client") == "relay-http"


def test_post_with_query_parameters(proxy_relay, upstream):
    response = proxy_relay.post("/api/42/cron/nightly/%s/?status=error" % DEFAULT_DSN_KEY)
    assert_empty(response, 202)
    _, check_in = _check_in(upstream)
    assert check_in["status"] == "error"


def test_auth_header_without_key_in_path(proxy_relay, upstream):
    response = proxy_relay.post("/api/42/cron/nightly/?status=ok", headers={"X-Sentry-Auth": sentry_auth_header()})
    assert_empty(response, 202)
    received, _ = _check_in(upstream)
    assert received.auth["sentry_key"] == DEFAULT_DSN_KEY


def test_basic_auth(proxy_relay, upstream):
    token = base64.b64encode(("%s:" % DEFAULT_DSN_KEY).encode()).decode()
    response = proxy_relay.get("/api/42/cron/nightly/?status=ok", headers={"Authorization": "Basic " + token})
    assert_empty(response, 202)
    _check_in(upstream)


def test_query_auth(proxy_relay, upstream):
    response = proxy_relay.get("/api/42/cron/nightly/", params={"status": "ok", "sentry_key": DEFAULT_DSN_KEY})
    assert_empty(response, 202)
    _check_in(upstream)


def test_sentry_client_is_kept(proxy_relay, upstream):
    response = proxy_relay.post(
        "/api/42/cron/nightly/?status=ok", headers={"X-Sentry-Auth": sentry_auth_header(client="cron-sdk/2.0")}
    )
    assert_empty(response, 202)
    received, _ = _check_in(upstream)
    assert received.auth["sentry_client"] == "cron-sdk/2.0"


def test_missing_status_is_rejected(proxy_relay):
    response = proxy_relay.get("/api/42/cron/nightly/%s/" % DEFAULT_DSN_KEY)
    assert_status(response, 400)


def test_never_answers_429(proxy_relay, upstream):
    learn_rate_limit(proxy_relay, upstream, "60:monitor:key:crons", check=_check_in_envelope)
    response = proxy_relay.get("/api/42/cron/nightly/%s/" % DEFAULT_DSN_KEY, params={"status": "ok"})
    assert_empty(response, 202)


def _check_in_envelope():
    return build_envelope(
        make_item("check_in", {"check_in_id": uuid.uuid4().hex, "monitor_slug": "probe", "status": "ok"})
    )
