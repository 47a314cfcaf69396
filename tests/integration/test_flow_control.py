"""Flow control between ingestion and a slow upstream (relay extension).

While the upstream is reachable but slower than ingestion, at most
`spool.envelopes.max_queued_for_upstream` envelopes wait in its send queue; further requests
wait up to `spool.envelopes.admission_timeout_ms` for room and are answered 503 ("failed to
queue envelope") when none appears. Nothing accepted is lost.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

from fixtures.asserts import assert_json_error, assert_status
from fixtures.envelope import event_envelope


def _slow_envelopes(upstream, release: threading.Event):
    """Makes the upstream hold every envelope request until `release` is set."""

    def handler(_request):
        release.wait(timeout=30)
        return None  # fall through to the normal envelope handling

    upstream.add_route("POST", r"^/api/\d+/envelope/$", handler)


def _flow_controlled_relay(relay, upstream, admission_timeout_ms):
    return relay(
        upstream,
        mode="proxy",
        config={
            "limits": {"max_concurrent_requests": 1},
            "spool": {
                "envelopes": {
                    "max_queued_for_upstream": 1,
                    "admission_timeout_ms": admission_timeout_ms,
                }
            },
        },
    )


def test_requests_beyond_the_send_queue_are_refused_after_the_admission_timeout(relay, upstream):
    release = threading.Event()
    _slow_envelopes(upstream, release)
    instance = _flow_controlled_relay(relay, upstream, admission_timeout_ms=200)
    try:
        # One envelope in flight (held by the upstream), one queued: the queue is full.
        first = event_envelope("in flight")
        assert_status(instance.send_envelope(42, first), 200)
        upstream.wait_for(lambda: len(upstream.requests_to(r"^/api/42/envelope/$")) >= 1)
        second = event_envelope("queued")
        assert_status(instance.send_envelope(42, second), 200)

        refused = instance.send_envelope(42, event_envelope("no room"))
        assert_json_error(refused, 503, "failed to queue envelope", cause="envelope buffer does not have capacity")
    finally:
        release.set()
    received = upstream.wait_for_envelopes(2)
    assert {e.envelope.event_id for e in received} == {first.event_id, second.event_id}


def test_waiting_requests_are_admitted_when_the_queue_drains(relay, upstream):
    release = threading.Event()
    _slow_envelopes(upstream, release)
    instance = _flow_controlled_relay(relay, upstream, admission_timeout_ms=20_000)
    envelopes = [event_envelope("flow %d" % index) for index in range(4)]
    with ThreadPoolExecutor(max_workers=len(envelopes)) as pool:
        futures = [pool.submit(instance.send_envelope, 42, envelope) for envelope in envelopes]
        # At most two can be accepted while the upstream holds the first one; the others wait.
        upstream.wait_for(lambda: len(upstream.requests_to(r"^/api/42/envelope/$")) >= 1)
        assert sum(1 for future in futures if future.done()) <= 2
        release.set()
        responses = [future.result(timeout=30) for future in futures]
    for response in responses:
        assert_status(response, 200)
    received = upstream.wait_for_envelopes(len(envelopes))
    assert {e.envelope.event_id for e in received} == {e.event_id for e in envelopes}
