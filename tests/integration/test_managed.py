"""Managed mode (relay-protocol.md §3, §5; http-api.md §3.6): registration, project and global
configs, caching and the fast-path checks against the project config."""

import json
import time

import pytest

from fixtures import signing
from fixtures.asserts import assert_cors, assert_json_error, assert_status
from fixtures.envelope import event_envelope
from fixtures.projects import DEFAULT_DSN_KEY, disabled_project_config, new_dsn_key, project_config
from fixtures.relay import RELAY_VERSION
from fixtures.util import wait_until


def _event_arrives(upstream, envelope, timeout=10):
    return upstream.wait_for_envelopes(
        1, timeout=timeout, item_type="event", predicate=lambda e: e.envelope.event_id == envelope.event_id
    )[0]


def _wait_for_status(relay, status, dsn_key=DEFAULT_DSN_KEY, project_id=42, headers=None):
    """Sends events until the relay answers `status` (the first requests for an unknown project
    are accepted while its config is fetched); returns that response."""

    def attempt():
        response = relay.send_envelope(project_id, event_envelope(), dsn_key=dsn_key, headers=headers)
        # A `requests.Response` is falsy for 4xx statuses, so it is wrapped for `wait_until`.
        return (response,) if response.status_code == status else None

    return wait_until(attempt, message="relay never answered %s" % status)[0]


def test_registration(managed_relay, upstream):
    relay_id = managed_relay.relay_id
    assert upstream.registered_relays[relay_id] == {"public_key": managed_relay.public_key, "version": RELAY_VERSION}
    [challenge] = [r for r in upstream.requests_to(r"/register/challenge/$") if r.response_status == 200][:1]
    body = json.loads(challenge.body)
    assert body == {"relay_id": relay_id, "public_key": managed_relay.public_key, "version": RELAY_VERSION}
    assert challenge.headers["Content-Type"] == "application/json"
    assert challenge.headers["X-Sentry-Relay-Id"] == relay_id
    signing.verify(managed_relay.public_key, challenge.headers["X-Sentry-Relay-Signature"], challenge.body)
    [response] = [r for r in upstream.requests_to(r"/register/response/$") if r.response_status == 200][:1]
    response_body = json.loads(response.body)
    assert response_body["relay_id"] == relay_id
    assert response_body["version"] == RELAY_VERSION
    assert response_body["token"].startswith("token-")


def test_registration_is_retried_after_errors(relay, upstream):
    upstream.fail_with(500, match=r"/register/challenge/$", count=2)
    managed = relay(upstream, mode="managed")
    assert managed.relay_id in upstream.registered_relays
    assert len(upstream.requests_to(r"/register/challenge/$")) >= 3


def test_project_config_request_shape(managed_relay, upstream):
    envelope = event_envelope()
    assert_status(managed_relay.send_envelope(42, envelope), 200)
    _event_arrives(upstream, envelope)
    [request] = [r for r in upstream.requests_to(r"/projectconfigs/$") if DEFAULT_DSN_KEY in r.body.decode()][:1]
    assert request.query == "version=3"
    assert request.headers["X-Sentry-Relay-Id"] == managed_relay.relay_id
    signing.verify(managed_relay.public_key, request.headers["X-Sentry-Relay-Signature"], request.body)
    body = json.loads(request.body)
    assert body["publicKeys"] == [DEFAULT_DSN_KEY]
    assert len(body["revisions"]) == 1
    assert body["fullConfig"] is False
    assert body["noCache"] is False


def test_envelope_is_processed_and_forwarded(managed_relay, upstream):
    envelope = event_envelope("managed hello")
    response = managed_relay.send_envelope(42, envelope)
    assert_status(response, 200)
    assert response.json() == {"id": envelope.event_id}
    received = _event_arrives(upstream, envelope)
    assert received.request.path == "/api/42/envelope/"
    assert "managed hello" in received.envelope.get_item("event").payload.decode()
    assert received.request.headers["X-Sentry-Relay-Id"] == managed_relay.relay_id
    assert received.signature_error is None and received.signature is not None


def test_project_config_is_cached(managed_relay, upstream):
    envelopes = [event_envelope("cached %d" % index) for index in range(6)]
    for envelope in envelopes:
        assert_status(managed_relay.send_envelope(42, envelope), 200)
    upstream.wait_for_envelopes(6, item_type="event")
    assert len(upstream.config_fetches(DEFAULT_DSN_KEY)) == 1


def test_pending_project_is_buffered(managed_relay, upstream):
    key = new_dsn_key()
    upstream.project_configs[key] = project_config(project_id=43, public_key=key)
    upstream.set_pending(key, times=2)
    envelope = event_envelope("pending")
    assert_status(managed_relay.send_envelope(43, envelope, dsn_key=key), 200)
    received = _event_arrives(upstream, envelope, timeout=15)
    assert received.project_id == 43
    assert len(upstream.config_fetches(key)) >= 3


def test_disabled_project(managed_relay, upstream):
    key = new_dsn_key()
    upstream.project_configs[key] = disabled_project_config(project_id=42, public_key=key)
    response = _wait_for_status(managed_relay, 403, dsn_key=key)
    assert_json_error(response, 403, "event submission rejected with_reason: ProjectId")
    assert_cors(response)


def test_null_config_means_disabled(managed_relay, upstream):
    key = new_dsn_key()
    upstream.project_configs[key] = None
    assert_json_error(_wait_for_status(managed_relay, 403, dsn_key=key), 403, "event submission rejected with_reason: ProjectId")


def test_unknown_key(managed_relay, upstream):
    response = _wait_for_status(managed_relay, 403, dsn_key=new_dsn_key())
    assert_json_error(response, 403, "event submission rejected with_reason: ProjectId")


def test_wrong_project_id(managed_relay, upstream):
    response = _wait_for_status(managed_relay, 403, project_id=99)
    assert_json_error(response, 403, "event submission rejected with_reason: ProjectId")


def test_key_not_first_public_key(managed_relay, upstream):
    key = new_dsn_key()
    state = project_config(public_key=DEFAULT_DSN_KEY)
    upstream.project_configs[key] = state  # served for `key`, but lists another key first
    response = _wait_for_status(managed_relay, 403, dsn_key=key)
    assert_json_error(response, 403, "event submission rejected with_reason: ProjectId")


@pytest.mark.parametrize(
    "allowed, origin, status",
    [
        (["good.example"], "http://evil.example", 403),
        (["good.example"], "http://good.example", 200),
        (["*.good.example"], "https://sub.good.example", 200),
        (["*.good.example"], "https://good.example", 200),
        (["http://good.example:8080"], "http://good.example:9090", 403),
        ([], "http://good.example", 403),
        (["*"], "http://anything.example", 200),
    ],
)
def test_allowed_domains(managed_relay, upstream, allowed, origin, status):
    key = new_dsn_key()
    upstream.project_configs[key] = project_config(public_key=key, config={"allowedDomains": allowed})
    # Requests without an origin always pass; use one to make sure the config is loaded.
    envelope = event_envelope("warm up")
    assert_status(managed_relay.send_envelope(42, envelope, dsn_key=key), 200)
    _event_arrives(upstream, envelope)
    response = managed_relay.send_envelope(42, event_envelope(), dsn_key=key, headers={"Origin": origin})
    if status == 403:
        assert_json_error(response, 403, "event submission rejected with_reason: Cors")
    else:
        assert_status(response, 200)


@pytest.mark.parametrize(
    "origin, referer, status",
    [
        ("null", "http://evil.example/page", 403),
        ("null", "http://good.example/page", 200),
        ("file:///index.html", "http://evil.example/page", 403),
    ],
)
def test_unusable_origin_falls_back_to_referer(managed_relay, upstream, origin, referer, status):
    # `Origin: null` (sandboxed pages) must not bypass `allowedDomains`: the Referer decides.
    key = new_dsn_key()
    upstream.project_configs[key] = project_config(public_key=key, config={"allowedDomains": ["good.example"]})
    envelope = event_envelope("warm up")
    assert_status(managed_relay.send_envelope(42, envelope, dsn_key=key), 200)
    _event_arrives(upstream, envelope)
    headers = {"Origin": origin, "Referer": referer}
    response = managed_relay.send_envelope(42, event_envelope(), dsn_key=key, headers=headers)
    if status == 403:
        assert_json_error(response, 403, "event submission rejected with_reason: Cors")
    else:
        assert_status(response, 200)


def test_global_config_is_fetched(managed_relay, upstream):
    upstream.wait_for(lambda: upstream.global_config_fetches(), message="no global config request")
    request = [r for r in upstream.requests_to(r"/projectconfigs/$") if json.loads(r.body).get("global")][0]
    body = json.loads(request.body)
    assert body["global"] is True
    assert body["publicKeys"] == []


def test_envelopes_wait_for_global_config(relay, upstream):
    upstream.global_status = "pending"
    managed = relay(upstream, mode="managed", config={"cache": {"global_config_fetch_interval": 1}})
    envelope = event_envelope("waits for global config")
    assert_status(managed.send_envelope(42, envelope), 200)
    upstream.wait_for(lambda: len(upstream.global_config_fetches()) >= 1)
    assert upstream.envelopes_with("event") == []
    upstream.global_status = "ready"
    _event_arrives(upstream, envelope)


def test_config_is_refetched_after_expiry(relay, upstream):
    managed = relay(upstream, mode="managed", config={"cache": {"project_expiry": 1, "project_grace_period": 5}})
    envelope = event_envelope()
    assert_status(managed.send_envelope(42, envelope), 200)
    _event_arrives(upstream, envelope)

    def refetched():
        assert_status(managed.send_envelope(42, event_envelope("again")), 200)
        return len(upstream.config_fetches(DEFAULT_DSN_KEY)) >= 2

    wait_until(refetched, timeout=15, interval=0.2, message="project config was not fetched again after expiry")


def test_required_feature_missing(managed_relay, upstream):
    envelope = event_envelope(required_features=["organizations:some-feature"])
    warm = event_envelope("warm up")
    assert_status(managed_relay.send_envelope(42, warm), 200)
    _event_arrives(upstream, warm)
    response = managed_relay.send_envelope(42, envelope)
    assert_status(response, 403)
    assert response.json()["detail"].startswith("event submission rejected with_reason: FeatureDisabled(")


def test_signature_required_by_project(managed_relay, upstream):
    key = new_dsn_key()
    trusted = signing.generate_credentials()
    upstream.project_configs[key] = project_config(
        public_key=key,
        config={"trustedRelays": [trusted["public_key"]], "trustedRelaySettings": {"verifySignature": "enabled"}},
    )
    missing = _wait_for_status(managed_relay, 403, dsn_key=key)
    assert_json_error(missing, 403, "event submission rejected with_reason: MissingSignature")
    bad = managed_relay.send_envelope(
        42, event_envelope(), dsn_key=key, headers={"X-Sentry-Relay-Signature": signing.sign(signing.generate_credentials()["secret_key"], b"")}
    )
    assert_json_error(bad, 403, "event submission rejected with_reason: InvalidSignature")
    good = managed_relay.send_envelope(
        42, event_envelope(), dsn_key=key, headers={"X-Sentry-Relay-Signature": signing.sign(trusted["secret_key"], b"")}
    )
    assert_status(good, 200)


def test_registration_denied_permanently(relay, upstream):
    """`403 {"relay": "stop"}` ends authentication for the process lifetime (§3.5)."""
    upstream.reject_registration = (403, {"detail": "relay rejected", "relay": "stop"})
    managed = relay(upstream, mode="managed", wait_ready=False)
    upstream.wait_for(lambda: upstream.requests_to(r"/register/challenge/$"), message="no registration attempt")
    # With max_retry_interval 1 s a retry would come within ~1.5 s; watch for 3 s.
    retry_window_secs = 3.0
    deadline = time.monotonic() + retry_window_secs
    while time.monotonic() < deadline:
        assert managed.get("/api/relay/healthcheck/ready/").status_code == 503
        time.sleep(0.1)
    assert len(upstream.requests_to(r"/register/challenge/$")) == 1
    assert managed.relay_id not in upstream.registered_relays
