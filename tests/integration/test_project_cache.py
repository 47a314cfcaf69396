"""The managed relay's project cache (relay-protocol.md §5.4-§5.5): the `no-cache` flag, the
per-key fetch deadline, proactive refreshes that do not extend eviction, and eviction dropping
cached rate limits."""

import time

from fixtures.asserts import assert_status
from fixtures.envelope import event_envelope
from fixtures.projects import DEFAULT_DSN_KEY, new_dsn_key, project_config
from fixtures.ratelimits import learn_rate_limit
from fixtures.upstream import FOREVER
from fixtures.util import wait_until

# expiry < refresh interval < expiry + grace, so the refresh is honoured.
EXPIRY_SECS = 2
GRACE_SECS = 3
REFRESH_SECS = 3
REFRESH_CACHE = {
    "cache": {
        "project_expiry": EXPIRY_SECS,
        "project_grace_period": GRACE_SECS,
        "project_refresh_interval": REFRESH_SECS,
    }
}
# The cache maintenance that queues refreshes and evicts states runs once per second.
MAINTENANCE_SLACK_SECS = 1.5


def _fetch_times(upstream, key=DEFAULT_DSN_KEY):
    """Arrival times of the project config requests that asked for `key`."""
    return [
        request.received_at
        for request in upstream.requests_to(r"/projectconfigs/$")
        if key.encode() in request.body
    ]


def _event_arrives(upstream, envelope, timeout=10):
    return upstream.wait_for_envelopes(
        1, timeout=timeout, predicate=lambda e: e.envelope.event_id == envelope.event_id
    )[0]


def _sleep_until(deadline):
    remaining = deadline - time.time()
    if remaining > 0:
        time.sleep(remaining)


def test_no_cache_flag_bypasses_the_cache_and_is_sent_upstream(managed_relay, upstream):
    first = event_envelope("cached")
    assert_status(managed_relay.send_envelope(42, first), 200)
    _event_arrives(upstream, first)
    assert [body["noCache"] for body in upstream.config_fetches(DEFAULT_DSN_KEY)] == [False]

    # The state is fresh, yet a no-cache request fetches it again, asking the upstream to
    # bypass its caches too.
    second = event_envelope("no cache")
    assert_status(managed_relay.send_envelope(42, second, dsn_key=DEFAULT_DSN_KEY + ".no-cache"), 200)
    _event_arrives(upstream, second)
    upstream.wait_for(lambda: len(upstream.config_fetches(DEFAULT_DSN_KEY)) >= 2, message="no second fetch")
    assert [body["noCache"] for body in upstream.config_fetches(DEFAULT_DSN_KEY)] == [False, True]


def test_no_cache_keys_are_fetched_in_their_own_batch(relay, upstream):
    managed = relay(upstream, mode="managed", config={"cache": {"batch_interval": 300}})
    other_key = new_dsn_key()
    upstream.project_configs[other_key] = project_config(public_key=other_key)
    assert_status(managed.send_envelope(42, event_envelope(), dsn_key=DEFAULT_DSN_KEY + ".no-cache"), 200)
    assert_status(managed.send_envelope(42, event_envelope(), dsn_key=other_key), 200)
    upstream.wait_for(lambda: upstream.config_fetches(other_key) and upstream.config_fetches(DEFAULT_DSN_KEY))
    [cached] = upstream.config_fetches(other_key)
    [uncached] = upstream.config_fetches(DEFAULT_DSN_KEY)
    assert cached["publicKeys"] == [other_key] and cached["noCache"] is False
    assert uncached["publicKeys"] == [DEFAULT_DSN_KEY] and uncached["noCache"] is True


def test_fetch_deadline_resolves_the_key_as_pending(relay, upstream):
    managed = relay(upstream, mode="managed", config={"limits": {"query_timeout": 1}})
    key = new_dsn_key()
    upstream.project_configs[key] = project_config(public_key=key)
    upstream.fail_with(
        500,
        count=FOREVER,
        match=lambda request: request.path.endswith("/projectconfigs/") and key.encode() in request.raw_body,
    )
    envelope = event_envelope("waits for the deadline")
    assert_status(managed.send_envelope(42, envelope, dsn_key=key), 200)
    warning = "error fetching project state %s: deadline exceeded" % key
    wait_until(lambda: warning in managed.stderr_text(), message="no deadline warning")
    assert "WARN" in [line for line in managed.stderr_text().splitlines() if warning in line][0]

    # Resolved as pending, the key is fetched again after its backoff: once the upstream
    # answers, the parked envelope flows.
    upstream.clear_failures()
    _event_arrives(upstream, envelope, timeout=15)


def test_proactive_refresh_without_traffic(relay, upstream):
    managed = relay(upstream, mode="managed", config=REFRESH_CACHE)
    envelope = event_envelope()
    assert_status(managed.send_envelope(42, envelope), 200)
    _event_arrives(upstream, envelope)
    [first_fetch] = _fetch_times(upstream)
    upstream.wait_for(
        lambda: len(_fetch_times(upstream)) >= 2,
        timeout=REFRESH_SECS + MAINTENANCE_SLACK_SECS + 2,
        message="no proactive refresh",
    )
    refresh = _fetch_times(upstream)[1]
    assert refresh - first_fetch >= REFRESH_SECS - 0.2


def test_refresh_interval_outside_the_grace_window_is_ignored(relay, upstream):
    config = {"cache": {"project_expiry": EXPIRY_SECS, "project_grace_period": GRACE_SECS, "project_refresh_interval": 1}}
    managed = relay(upstream, mode="managed", config=config)
    envelope = event_envelope()
    assert_status(managed.send_envelope(42, envelope), 200)
    _event_arrives(upstream, envelope)
    [first_fetch] = _fetch_times(upstream)
    _sleep_until(first_fetch + EXPIRY_SECS + GRACE_SECS + MAINTENANCE_SLACK_SECS)
    assert len(_fetch_times(upstream)) == 1
    assert "project_refresh_interval" in managed.stderr_text()


def test_refresh_does_not_extend_eviction_and_eviction_drops_rate_limits(relay, upstream):
    managed = relay(upstream, mode="managed", config=REFRESH_CACHE)
    # The probe fetches the config and is answered 429: the relay caches the limit.
    learn_rate_limit(managed, upstream, "60::key:cached_limit")
    first_fetch = _fetch_times(upstream)[0]
    assert time.time() - first_fetch < EXPIRY_SECS, "the state must still be fresh here"
    assert len(_fetch_times(upstream)) == 1

    # No traffic: the refresh comes, the state is evicted anyway after expiry + grace.
    upstream.wait_for(
        lambda: len(_fetch_times(upstream)) >= 2,
        timeout=REFRESH_SECS + MAINTENANCE_SLACK_SECS + 2,
        message="no proactive refresh",
    )
    assert _fetch_times(upstream)[1] < first_fetch + EXPIRY_SECS + GRACE_SECS
    _sleep_until(first_fetch + EXPIRY_SECS + GRACE_SECS + 0.5)

    # Evicted: the rate limit is gone, the request is accepted and waits for a new fetch.
    after_eviction = event_envelope("after eviction")
    assert_status(managed.send_envelope(42, after_eviction), 200)
    _event_arrives(upstream, after_eviction)
    assert len(_fetch_times(upstream)) >= 3


def test_lookup_of_a_stale_state_refetches_and_extends_eviction(relay, upstream):
    config = {"cache": {"project_expiry": EXPIRY_SECS, "project_grace_period": GRACE_SECS}}
    managed = relay(upstream, mode="managed", config=config)
    learn_rate_limit(managed, upstream, "60::key:cached_limit")
    first_fetch = _fetch_times(upstream)[0]
    # A stale lookup (still rate limited) starts a normal fetch, which moves the eviction.
    _sleep_until(first_fetch + EXPIRY_SECS + 0.3)
    assert_status(managed.send_envelope(42, event_envelope("stale lookup")), 429)
    upstream.wait_for(lambda: len(_fetch_times(upstream)) >= 2, message="stale state was not refetched")
    _sleep_until(first_fetch + EXPIRY_SECS + GRACE_SECS + 0.5)
    # Past the first fetch's eviction time, the state and its rate limits are still there.
    assert_status(managed.send_envelope(42, event_envelope("still limited")), 429)
