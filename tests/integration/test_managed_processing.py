"""Managed-mode processing of a non-processing relay (relay-protocol.md §7.3, §8.2,
outcomes.md §7): envelopes split by product, `sent_at` stamped with the send time, SDK client
reports turned into outcomes, and parked envelopes expiring with `invalid`/`timestamp`."""

import datetime
import json
import time

from fixtures.asserts import assert_status
from fixtures.envelope import (
    attachment_item,
    build_envelope,
    event_item,
    make_item,
    session_item,
    transaction_item,
)
from fixtures.projects import DEFAULT_DSN_KEY, new_dsn_key, project_config
from fixtures.relay import DEFAULT_CLIENT, RELAY_VERSION
from fixtures.upstream import FOREVER

OLD_SENT_AT = "2020-01-01T00:00:00Z"
SECONDS_PER_DAY = 24 * 60 * 60
# Outcomes flushed as soon as they are tracked, in one-second buckets.
FAST_OUTCOMES = {"aggregator": {"bucket_interval": 1, "initial_delay": 0}}
# How close to "now" a rewritten `sent_at` must be.
SENT_AT_TOLERANCE_SECS = 30


def _parse_sent_at(value):
    # Relay writes up to nine fractional digits; Python parses at most six.
    text = value.rstrip("Z")
    if "." in text:
        whole, fraction = text.split(".")
        text = "%s.%s" % (whole, fraction[:6])
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc)


def _check_in_item():
    return make_item("check_in", {"check_in_id": "a" * 32, "monitor_slug": "nightly", "status": "ok"})


def _mixed_envelope():
    # An envelope holds at most one event-like item (envelope.md §8), so the event travels
    # with other products rather than with a transaction.
    return build_envelope(
        event_item({"message": "split me", "level": "error"}),
        attachment_item(b"attached bytes", filename="log.txt"),
        session_item(),
        _check_in_item(),
        sent_at=OLD_SENT_AT,
        custom_header="kept",
    )


def _envelopes_of(upstream, event_id, n):
    return upstream.wait_for_envelopes(n, predicate=lambda e: e.envelope.event_id == event_id)


def _client_report(timestamp=None, **sections):
    payload = {"discarded_events": sections.pop("discarded_events", [])}
    if timestamp is not None:
        payload["timestamp"] = timestamp
    payload.update(sections)
    return make_item("client_report", payload)


def _entry(reason, category="error", quantity=1):
    return {"reason": reason, "category": category, "quantity": quantity}


def test_envelope_is_split_by_product(managed_relay, upstream):
    envelope = _mixed_envelope()
    assert_status(managed_relay.send_envelope(42, envelope), 200)
    received = _envelopes_of(upstream, envelope.event_id, 3)
    assert sorted(r.item_types() for r in received) == [["check_in"], ["event", "attachment"], ["session"]]

    by_type = {r.item_types()[0]: r for r in received}
    event_part = by_type["event"].envelope
    assert event_part.get_item("attachment").payload == b"attached bytes"
    # The event was normalized before forwarding (normalization.level default: the
    # forward-compatible subset, no `errors` list) and records this relay in `ingest_path`.
    event = json.loads(event_part.get_item("event").payload)
    assert event["logentry"] == {"formatted": "split me"}
    assert event["level"] == "error"
    assert "errors" not in event
    assert event["ingest_path"] == [{"version": RELAY_VERSION, "public_key": managed_relay.public_key}]
    assert not event_part.get_item("event").headers.get("fully_normalized")
    # Every part carries the original envelope headers.
    headers = [r.envelope.headers for r in received]
    assert all(h == headers[0] for h in headers)
    assert headers[0]["event_id"] == envelope.event_id
    assert headers[0]["custom_header"] == "kept"
    assert headers[0]["dsn"].endswith("/42")
    for part in received:
        assert part.request.path == "/api/42/envelope/"
        assert part.auth["sentry_key"] == DEFAULT_DSN_KEY


def test_transaction_keeps_its_attachment_and_sessions_split_off(managed_relay, upstream):
    envelope = build_envelope(
        transaction_item(),
        attachment_item(b"transaction attachment"),
        session_item(),
        sent_at=OLD_SENT_AT,
    )
    assert_status(managed_relay.send_envelope(42, envelope), 200)
    received = _envelopes_of(upstream, envelope.event_id, 2)
    assert sorted(r.item_types() for r in received) == [["session"], ["transaction", "attachment"]]
    assert received[0].envelope.headers == received[1].envelope.headers
    assert received[0].envelope.headers["sent_at"] != OLD_SENT_AT


def test_unknown_items_travel_in_their_own_envelope(managed_relay, upstream):
    envelope = build_envelope(event_item(), make_item("brand_new_type", b"opaque"))
    assert_status(managed_relay.send_envelope(42, envelope), 200)
    received = _envelopes_of(upstream, envelope.event_id, 2)
    assert sorted(r.item_types() for r in received) == [["brand_new_type"], ["event"]]
    unknown = [r for r in received if r.item_types() == ["brand_new_type"]][0]
    assert unknown.envelope.items[0].payload == b"opaque"


def test_sent_at_is_the_send_time_in_managed_mode(managed_relay, upstream):
    envelope = build_envelope(event_item(), sent_at=OLD_SENT_AT)
    before = datetime.datetime.now(datetime.timezone.utc)
    assert_status(managed_relay.send_envelope(42, envelope), 200)
    [received] = _envelopes_of(upstream, envelope.event_id, 1)
    sent_at = _parse_sent_at(received.envelope.headers["sent_at"])
    assert before - datetime.timedelta(seconds=1) <= sent_at
    assert sent_at <= datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)


def test_sent_at_is_set_even_when_the_client_sent_none(managed_relay, upstream):
    envelope = build_envelope(event_item())
    assert_status(managed_relay.send_envelope(42, envelope), 200)
    [received] = _envelopes_of(upstream, envelope.event_id, 1)
    sent_at = _parse_sent_at(received.envelope.headers["sent_at"])
    age = datetime.datetime.now(datetime.timezone.utc) - sent_at
    assert abs(age.total_seconds()) < SENT_AT_TOLERANCE_SECS


def test_proxy_mode_neither_splits_nor_touches_sent_at(proxy_relay, upstream):
    envelope = _mixed_envelope()
    assert_status(proxy_relay.send_envelope(42, envelope), 200)
    [received] = _envelopes_of(upstream, envelope.event_id, 1)
    assert received.item_types() == ["event", "attachment", "session", "check_in"]
    assert received.envelope.headers["sent_at"] == OLD_SENT_AT


def test_static_mode_does_not_split(relay, upstream):
    static = relay(upstream, mode="static", projects={42: project_config()})
    envelope = _mixed_envelope()
    assert_status(static.send_envelope(42, envelope), 200)
    [received] = _envelopes_of(upstream, envelope.event_id, 1)
    assert received.item_types() == ["event", "attachment", "session", "check_in"]
    assert received.envelope.headers["sent_at"] == OLD_SENT_AT


def test_client_report_becomes_client_report_outcomes(relay, upstream):
    managed = relay(upstream, mode="managed", config=FAST_OUTCOMES)
    timestamp = int(time.time()) - 30
    report = _client_report(
        timestamp=timestamp,
        discarded_events=[_entry("queue_overflow", "error", 3)],
        rate_limited_events=[_entry("my_quota", "transaction", 2), _entry("", "span", 4)],
        filtered_events=[_entry("release-version", "error", 5)],
        filtered_sampling_events=[_entry("Sampled:7,1004", "transaction", 6)],
    )
    assert_status(managed.send_envelope(42, build_envelope(report, event_item())), 200)

    def entries(kind):
        return sorted(
            (entry["reason"], entry["category"], entry["quantity"])
            for entry in upstream.client_report_entries(kind)
        )

    upstream.wait_for(lambda: len(entries("filtered_sampling_events")) >= 1, message="no converted client report")
    upstream.wait_for(
        lambda: len(entries("discarded_events")) + len(entries("rate_limited_events")) + len(entries("filtered_events"))
        >= 4
    )
    assert entries("discarded_events") == [("queue_overflow", "error", 3)]
    assert entries("rate_limited_events") == [("", "span", 4), ("my_quota", "transaction", 2)]
    assert entries("filtered_events") == [("release-version", "error", 5)]
    # Rule ids are re-rendered as rule categories.
    assert entries("filtered_sampling_events") == [("Sampled:1004,0", "transaction", 6)]

    reports = upstream.envelopes_with("client_report")
    for received in reports:
        assert received.auth["sentry_client"].startswith("sentry.relay/")
        assert received.item_types() == ["client_report"] * len(received.items)
        for item in received.items:
            assert item.json()["timestamp"] == timestamp
    # The SDK's own item was not forwarded: the event travelled without it.
    [event] = upstream.wait_for_envelopes(1, item_type="event")
    assert event.item_types() == ["event"]


def test_client_report_only_envelope_is_consumed(relay, upstream):
    managed = relay(upstream, mode="managed", config=FAST_OUTCOMES)
    report = _client_report(discarded_events=[_entry("network_error", "attachment", 7)])
    assert_status(managed.send_envelope(42, build_envelope(report)), 200)
    upstream.wait_for(lambda: upstream.client_report_entries("discarded_events"), message="no converted report")
    assert upstream.client_report_entries("discarded_events") == [_entry("network_error", "attachment", 7)]
    managed.barrier(upstream)
    sdk_reports = [
        e for e in upstream.envelopes_with("client_report") if not e.auth["sentry_client"].startswith("sentry.relay/")
    ]
    assert sdk_reports == []


def test_client_report_validation(relay, upstream):
    short_retention_key = new_dsn_key()
    upstream.project_configs[short_retention_key] = project_config(
        public_key=short_retention_key, config={"eventRetention": 1}
    )
    managed = relay(upstream, mode="managed", config=FAST_OUTCOMES)
    now = int(time.time())
    two_days_ago = now - 2 * SECONDS_PER_DAY

    def send(report, dsn_key=DEFAULT_DSN_KEY):
        assert_status(managed.send_envelope(42, build_envelope(report), dsn_key=dsn_key), 200)

    send(_client_report(timestamp=now, discarded_events=[_entry("x" * 201), _entry("y" * 200)]))
    send(_client_report(timestamp=now + 3600, discarded_events=[_entry("future")]))
    send(_client_report(timestamp=now, filtered_sampling_events=[_entry("Sampled:nope"), _entry("sampling")]))
    send(_client_report(timestamp=now, discarded_events=[_entry("bad quantity", quantity=-1)]))
    send(make_item("client_report", b"{not json"))
    # Older than the project's one-day retention: dropped; the default retention is 90 days.
    send(_client_report(timestamp=two_days_ago, discarded_events=[_entry("too_old")]), dsn_key=short_retention_key)
    send(_client_report(timestamp=two_days_ago, discarded_events=[_entry("two_days_old")]))
    # Reports far in the future are accepted when `sent_at` shows the SDK clock is that far off.
    drifted = build_envelope(
        _client_report(timestamp=now + 7200, discarded_events=[_entry("drifted")]),
        sent_at=datetime.datetime.fromtimestamp(now + 7200, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    assert_status(managed.send_envelope(42, drifted), 200)
    send(_client_report(timestamp=now, discarded_events=[_entry("last")]))

    def reasons():
        return sorted(entry["reason"] for entry in upstream.client_report_entries("discarded_events"))

    expected = ["drifted", "last", "two_days_old", "y" * 200]
    # Reports of different time slots travel in separate requests that may arrive in any
    # order, so wait for all of them rather than for the last one sent.
    upstream.wait_for(lambda: set(expected) <= set(reasons()), message="reports did not arrive")
    managed.barrier(upstream)
    assert reasons() == expected
    assert upstream.client_report_entries("filtered_sampling_events") == []
    # The drifted report is dated by the relay's clock.
    drifted_report = [
        item.json()
        for item in upstream.items("client_report")
        if any(entry["reason"] == "drifted" for entry in item.json()["discarded_events"])
    ][0]
    assert abs(drifted_report["timestamp"] - now) < SENT_AT_TOLERANCE_SECS


def test_client_report_becomes_outcome_metric_buckets(relay, upstream):
    config = dict(FAST_OUTCOMES, outcomes={"emit_outcomes": True, "source": "test-relay"})
    managed = relay(upstream, mode="managed", config=config)
    timestamp = int(time.time()) - 5
    report = _client_report(
        timestamp=timestamp,
        discarded_events=[_entry("queue_overflow", "error", 3)],
        filtered_sampling_events=[_entry("Sampled:3001", "transaction", 2)],
    )
    assert_status(managed.send_envelope(42, build_envelope(report)), 200)

    def buckets():
        return [bucket for item in upstream.items("metric_buckets") for bucket in item.json()]

    upstream.wait_for(lambda: len(buckets()) >= 2, message="no outcome buckets")
    by_name = {bucket["name"]: bucket for bucket in buckets()}
    discard = by_name["c:outcomes/client_discard@none"]
    assert discard["value"] == 3
    assert discard["timestamp"] == timestamp
    assert discard["tags"] == {"category": "1", "reason": "queue_overflow", "source": "test-relay"}
    filtered = by_name["c:outcomes/filtered@none"]
    assert filtered["value"] == 2
    assert filtered["tags"]["reason"] == "Sampled:3000"
    assert upstream.items("client_report") == []


def test_proxy_forwards_client_reports_unchanged(relay, upstream):
    proxy = relay(upstream, mode="proxy", config=FAST_OUTCOMES)
    report = _client_report(timestamp=int(time.time()), discarded_events=[_entry("queue_overflow", "error", 3)])
    envelope = build_envelope(report)
    assert_status(proxy.send_envelope(42, envelope), 200)
    [received] = upstream.wait_for_envelopes(1, item_type="client_report")
    assert received.envelope.get_item("client_report").payload == report.payload
    assert received.auth["sentry_client"] == DEFAULT_CLIENT


def test_parked_envelope_expires_with_invalid_timestamp(relay, upstream):
    key = new_dsn_key()
    upstream.project_configs[key] = project_config(project_id=43, public_key=key)
    upstream.set_pending(key, times=FOREVER)
    config = dict(
        FAST_OUTCOMES,
        outcomes={"emit_outcomes": True},
        spool={"envelopes": {"max_envelope_delay_secs": 1}},
    )
    managed = relay(upstream, mode="managed", config=config)
    parked = build_envelope(event_item({"message": "waits too long"}))
    assert_status(managed.send_envelope(43, parked, dsn_key=key), 200)

    def invalid_timestamp():
        return [
            bucket
            for received in upstream.envelopes_with("metric_buckets")
            if received.project_id == 43
            for item in received.items
            for bucket in item.json()
            if bucket["name"] == "c:outcomes/invalid@none" and bucket["tags"].get("reason") == "timestamp"
        ]

    [bucket] = upstream.wait_for(invalid_timestamp, message="no invalid/timestamp outcome")
    assert bucket["tags"]["category"] == "1"
    assert bucket["value"] == 1

    # The project resolves later; the expired envelope stays dropped, new ones flow.
    upstream.pending[key] = 0
    follow_up = build_envelope(event_item({"message": "after the project resolved"}))
    assert_status(managed.send_envelope(43, follow_up, dsn_key=key), 200)
    upstream.wait_for_envelopes(1, predicate=lambda e: e.envelope.event_id == follow_up.event_id, timeout=15)
    assert [e for e in upstream.envelopes if e.envelope.event_id == parked.event_id] == []
