"""Upstream outages (relay-protocol.md §4.3), the envelope buffer limit and graceful shutdown
(config.md §5)."""

import signal

from fixtures.asserts import assert_json_error, assert_status
from fixtures.envelope import attachment_item, build_envelope, event_envelope
from fixtures.upstream import FOREVER

OUTAGE_DELIVERY_TIMEOUT_SECS = 20


def test_envelopes_are_held_during_outage(proxy_relay, upstream):
    upstream.go_down()
    sent = [event_envelope("during outage %d" % index) for index in range(3)]
    for envelope in sent:
        assert_status(proxy_relay.send_envelope(42, envelope), 200)
    upstream.come_back()
    received = upstream.wait_for_envelopes(3, timeout=OUTAGE_DELIVERY_TIMEOUT_SECS)
    assert sorted(e.envelope.event_id for e in received) == sorted(e.event_id for e in sent)


def test_503_answers_are_retried(proxy_relay, upstream):
    upstream.fail_with(503, count=3)
    envelope = event_envelope("retried")
    assert_status(proxy_relay.send_envelope(42, envelope), 200)
    [received] = upstream.wait_for_envelopes(1, timeout=OUTAGE_DELIVERY_TIMEOUT_SECS)
    assert received.envelope.event_id == envelope.event_id
    assert len(upstream.requests_to(r"/api/42/envelope/$")) == 4


def test_other_errors_are_not_retried(proxy_relay, upstream):
    rule = upstream.fail_with(500, count=FOREVER)
    assert_status(proxy_relay.send_envelope(42, event_envelope("lost")), 200)
    upstream.wait_for(lambda: rule.hits >= 1)
    upstream.clear_failures()
    proxy_relay.barrier(upstream)
    assert rule.hits == 1
    assert upstream.envelopes == []


def test_full_buffer_answers_503(relay, upstream):
    buffered = relay(upstream, mode="proxy", config={"spool": {"envelopes": {"max_memory_size": "4KiB"}}})
    upstream.go_down()
    statuses = []
    rejected = None
    for index in range(200):
        response = buffered.send_envelope(42, build_envelope(attachment_item(b"x" * 1024), with_event_id=True))
        statuses.append(response.status_code)
        if response.status_code != 200:
            rejected = response
            break
    assert rejected is not None, "the relay never refused an envelope with a 4KiB buffer"
    assert statuses[0] == 200
    assert_json_error(rejected, 503, "failed to queue envelope")
    accepted = statuses.count(200)
    upstream.come_back()
    upstream.wait_for_envelopes(accepted, timeout=OUTAGE_DELIVERY_TIMEOUT_SECS)


def test_sigterm_flushes_buffered_envelopes(relay, upstream):
    shutdown_timeout = 10
    instance = relay(upstream, mode="proxy", config={"limits": {"shutdown_timeout": shutdown_timeout}})
    upstream.go_down()
    sent = [event_envelope("before shutdown %d" % index) for index in range(3)]
    for envelope in sent:
        assert_status(instance.send_envelope(42, envelope), 200)
    instance.send_signal(signal.SIGTERM)
    upstream.come_back()
    received = upstream.wait_for_envelopes(3, timeout=shutdown_timeout)
    assert sorted(e.envelope.event_id for e in received) == sorted(e.event_id for e in sent)
    assert instance.wait_exit(timeout=shutdown_timeout + 5) == 0
    assert "relay shutdown complete" in instance.stderr_text()


def test_sigterm_without_work_exits_zero(proxy_relay):
    assert proxy_relay.shutdown(signal.SIGTERM) == 0


def test_sigint_exits_immediately(proxy_relay):
    assert proxy_relay.shutdown(signal.SIGINT, timeout=5) == 0
