"""Relay chains: SDK -> outer relay -> inner managed relay -> fake upstream
(relay-protocol.md §3.4, §6, §11)."""

import pytest
import sentry_sdk

from fixtures import signing
from fixtures.asserts import assert_status, parse_rate_limits
from fixtures.envelope import event_envelope
from fixtures.projects import DEFAULT_DSN_KEY
from fixtures.ratelimits import learn_rate_limit


@pytest.fixture(params=["proxy", "managed"])
def chain(request, relay, upstream):
    """(outer, inner): the inner relay knows the outer one as an internal static relay."""
    outer_credentials = signing.generate_credentials()
    inner = relay(
        upstream,
        mode="managed",
        config={
            "auth": {
                "static_relays": {
                    outer_credentials["id"]: {"public_key": outer_credentials["public_key"], "internal": True}
                }
            }
        },
    )
    outer = relay(inner, mode=request.param, credentials=outer_credentials)
    return outer, inner


def test_envelope_arrives_once(chain, upstream):
    outer, inner = chain
    envelope = event_envelope("through the chain")
    response = outer.send_envelope(42, envelope)
    assert_status(response, 200)
    assert response.json() == {"id": envelope.event_id}
    [received] = upstream.wait_for_envelopes(1, item_type="event")
    outer.barrier(upstream)
    matching = [e for e in upstream.envelopes if e.envelope.event_id == envelope.event_id]
    assert len(matching) == 1
    assert received.envelope.event_id == envelope.event_id
    assert received.project_id == 42
    assert received.auth["sentry_key"] == DEFAULT_DSN_KEY
    assert received.relay_id == inner.relay_id
    assert received.signature_error is None
    assert received.envelope.headers["remote_addr"] == "127.0.0.1"


def test_outer_managed_relay_registered_through_inner(relay, upstream):
    outer_credentials = signing.generate_credentials()
    inner = relay(upstream, mode="managed")
    outer = relay(inner, mode="managed", credentials=outer_credentials)
    assert outer.relay_id in upstream.registered_relays
    assert inner.relay_id in upstream.registered_relays
    challenges = [r for r in upstream.requests_to(r"/register/challenge/$") if r.headers["X-Sentry-Relay-Id"] == outer.relay_id]
    assert challenges, "the outer relay's challenge did not reach the fake upstream"
    # The inner relay forwards verbatim: the signature is the outer relay's own.
    signing.verify(outer.public_key, challenges[-1].headers["X-Sentry-Relay-Signature"], challenges[-1].body)


def test_outer_managed_relay_gets_config_via_publickeys(relay, upstream):
    """Without static_relays the inner relay asks the upstream for the outer relay's key."""
    inner = relay(upstream, mode="managed")
    outer = relay(inner, mode="managed")
    envelope = event_envelope("key lookup")
    assert_status(outer.send_envelope(42, envelope), 200)
    upstream.wait_for_envelopes(1, item_type="event", predicate=lambda e: e.envelope.event_id == envelope.event_id)
    assert any(outer.relay_id in body["relay_ids"] for _, body in upstream.publickeys_requests)


def test_rate_limit_propagates_through_both_relays(chain, upstream):
    outer, inner = chain
    limited = learn_rate_limit(outer, upstream, "60:error:key:chain_quota")
    [limit] = parse_rate_limits(limited.headers["X-Sentry-Rate-Limits"])
    assert limit["categories"] == ["error"]
    assert limit["reason"] == "chain_quota"
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    # The inner relay enforces the limit itself as well.
    direct = inner.send_envelope(42, event_envelope("direct"))
    assert_status(direct, 429)


def test_sentry_sdk_through_chain(relay, upstream):
    inner = relay(upstream, mode="managed")
    outer = relay(inner, mode="proxy")
    sentry_sdk.init(
        dsn="http://%s@127.0.0.1:%d/42" % (DEFAULT_DSN_KEY, outer.port),
        traces_sample_rate=1.0,
        default_integrations=False,
        auto_enabling_integrations=False,
        release="integration-tests@1.0",
    )
    try:
        try:
            raise ValueError("integration test exception")
        except ValueError:
            event_id = sentry_sdk.capture_exception()
        with sentry_sdk.start_transaction(name="integration-test-transaction", op="test.op"):
            with sentry_sdk.start_span(op="db.query", name="select 1"):
                pass
        sentry_sdk.flush(timeout=10)
    finally:
        sentry_sdk.get_client().close(timeout=2)
        sentry_sdk.init()

    event_item = upstream.wait_for(
        lambda: next((i for e in upstream.envelopes if e.envelope.event_id == event_id for i in e.items if i.type == "event"), None),
        message="the SDK's error event did not arrive",
    )
    event = event_item.json()
    [exception] = event["exception"]["values"]
    assert exception["type"] == "ValueError"
    assert exception["value"] == "integration test exception"
    assert event["release"] == "integration-tests@1.0"

    transaction_item = upstream.wait_for(
        lambda: next(
            (i for i in upstream.items("transaction") if i.json().get("transaction") == "integration-test-transaction"),
            None,
        ),
        message="the SDK's transaction did not arrive",
    )
    transaction = transaction_item.json()
    assert transaction["contexts"]["trace"]["op"] == "test.op"
    assert [span["op"] for span in transaction["spans"]] == ["db.query"]
