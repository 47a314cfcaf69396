"""Sessions in a processing relay (processing.md §3.6, §3.12, §7.3.8): `session` updates,
`sessions` aggregates and `metric_buckets` items become session metric buckets on the
`metrics_sessions` topic (`ingest-metrics`), validated against sentry-kafka-schemas; sessions
never produce outcomes. With the global option `relay.sessions-eap.rollout-rate` selecting the
organization, `session`/`user`/`error` buckets are also written to `snuba-items` as USER_SESSION
TraceItems (§7.3.11).

The relay uses a one-second aggregator without initial delay, so buckets arrive about a second
after the data.
"""

import datetime
import time
import uuid

from fixtures.asserts import assert_status
from fixtures.envelope import build_envelope, make_item
from fixtures.processing import assert_schema, decode_trace_item, trace_item_attributes, trace_item_id
from fixtures.projects import DEFAULT_ORGANIZATION_ID, DEFAULT_PROJECT_ID

SDK = "sentry.javascript.browser/8.0.0"
RELEASE = "app@1.0"
ENVIRONMENT = "production"
USER = "foobarbaz"
USER_HASH = 1617781333  # FNV-1a 32-bit of "foobarbaz" (processing.md §3.6)
COMMON_TAGS = {"release": RELEASE, "environment": ENVIRONMENT, "sdk": SDK}
METRIC_TIMEOUT_SECS = 15


def fnv1a32(text):
    value = 0x811C9DC5
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def _rfc3339(timestamp):
    return timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _started():
    """A session start a few seconds ago, on a whole second, with its unix timestamp."""
    now = int(time.time()) - 5
    return _rfc3339(datetime.datetime.fromtimestamp(now, datetime.timezone.utc)), now


def _session_update(started, **fields):
    update = {
        "sid": str(uuid.uuid4()),
        "did": USER,
        "init": True,
        "started": started,
        "timestamp": started,
        "status": "ok",
        "seq": 0,
        "attrs": {"release": RELEASE, "environment": ENVIRONMENT},
    }
    update.update(fields)
    return update


def _send(relay, *items):
    response = relay.send_envelope(DEFAULT_PROJECT_ID, build_envelope(*items), client=SDK)
    assert_status(response, 200)


def _key(bucket):
    """(name, tags without the common ones) of a bucket message."""
    tags = {key: value for key, value in bucket["tags"].items() if key not in COMMON_TAGS}
    return bucket["name"], tuple(sorted(tags.items()))


def _decode(message):
    """A bucket message as JSON, validated with the sentry-kafka-schemas `ingest-metrics` codec."""
    return assert_schema("metrics_sessions", message.value)


def _collect(consumer, expected, timeout=METRIC_TIMEOUT_SECS):
    """Reads buckets until every `expected` (name, extra tags) key arrived; returns the bucket
    messages read (a key may arrive in several messages, see `_by_key`)."""
    wanted = {(name, tuple(sorted(tags.items()))) for name, tags in expected}
    buckets = consumer.collect_until(
        lambda values: wanted <= {_key(bucket) for bucket in values},
        timeout=timeout,
        decode=_decode,
        description="session buckets %s" % sorted(wanted),
    )
    return buckets


def _by_key(buckets):
    """Bucket messages by `_key`; values of messages with the same key are merged."""
    merged = {}
    for bucket in buckets:
        key = _key(bucket)
        if key not in merged:
            merged[key] = dict(bucket)
            continue
        value = bucket["value"]
        if bucket["type"] == "c":
            merged[key]["value"] += value
        else:
            merged[key]["value"] = sorted(set(merged[key]["value"]) | set(value))
    return merged


def _assert_bucket_fields(bucket, timestamp):
    assert bucket["org_id"] == DEFAULT_ORGANIZATION_ID
    assert bucket["project_id"] == DEFAULT_PROJECT_ID
    assert bucket["timestamp"] == timestamp
    assert bucket["retention_days"] == 90
    assert abs(bucket["received_at"] - time.time()) < 60
    assert "width" not in bucket
    for key, value in COMMON_TAGS.items():
        assert bucket["tags"][key] == value, bucket


def test_fnv_reference():
    assert fnv1a32(USER) == USER_HASH


def test_session_updates_become_session_metrics(processing_relay, kafka_topics):
    relay = processing_relay()
    metrics = kafka_topics.consumer("metrics_sessions")
    outcomes = kafka_topics.outcomes_consumer()
    started, timestamp = _started()
    crashed = _session_update(started, init=False, status="crashed", errors=1)
    # Two healthy init updates of the same second merge into one counter.
    _send(relay, make_item("session", _session_update(started)), make_item("session", _session_update(started)))
    _send(relay, make_item("session", crashed))

    buckets = _collect(metrics, [
        ("c:sessions/session@none", {"session.status": "init"}),
        ("c:sessions/session@none", {"session.status": "crashed"}),
        ("s:sessions/user@none", {}),
        ("s:sessions/user@none", {"session.status": "errored"}),
        ("s:sessions/user@none", {"session.status": "crashed"}),
        ("s:sessions/error@none", {}),
    ])
    for bucket in buckets:
        _assert_bucket_fields(bucket, timestamp)
    by_key = _by_key(buckets)
    assert by_key[("c:sessions/session@none", (("session.status", "init"),))]["value"] == 2.0
    assert by_key[("c:sessions/session@none", (("session.status", "crashed"),))]["value"] == 1.0
    assert by_key[("s:sessions/user@none", ())]["value"] == [USER_HASH]
    assert by_key[("s:sessions/user@none", (("session.status", "crashed"),))]["value"] == [USER_HASH]
    assert by_key[("s:sessions/error@none", ())]["value"] == [fnv1a32(crashed["sid"])]
    assert by_key[("s:sessions/error@none", ())]["type"] == "s"

    # Every message carries the namespace header; nothing else arrives later.
    assert all(message.headers == {"namespace": "sessions"} for message in metrics.received)
    metrics.assert_empty(timeout=2)
    outcomes.assert_empty(timeout=1)


def test_session_aggregates_become_session_metrics(processing_relay, kafka_topics):
    relay = processing_relay()
    metrics = kafka_topics.consumer("metrics_sessions")
    started, timestamp = _started()
    aggregates = {
        "aggregates": [
            {"started": started, "did": USER, "exited": 5, "errored": 2, "abnormal": 1, "crashed": 1},
            {"started": started, "exited": 3},
        ],
        "attrs": {"release": RELEASE, "environment": ENVIRONMENT},
    }
    _send(relay, make_item("sessions", aggregates))

    buckets = _collect(metrics, [
        ("c:sessions/session@none", {"session.status": "init"}),
        ("c:sessions/session@none", {"session.status": "errored_preaggr"}),
        ("c:sessions/session@none", {"session.status": "abnormal"}),
        ("c:sessions/session@none", {"session.status": "crashed"}),
        ("s:sessions/user@none", {"session.status": "errored"}),
        ("s:sessions/user@none", {"session.status": "abnormal"}),
        ("s:sessions/user@none", {"session.status": "crashed"}),
    ])
    for bucket in buckets:
        _assert_bucket_fields(bucket, timestamp)
    by_key = _by_key(buckets)
    assert by_key[("c:sessions/session@none", (("session.status", "init"),))]["value"] == 12.0
    assert by_key[("c:sessions/session@none", (("session.status", "errored_preaggr"),))]["value"] == 4.0
    assert by_key[("c:sessions/session@none", (("session.status", "abnormal"),))]["value"] == 1.0
    assert by_key[("c:sessions/session@none", (("session.status", "crashed"),))]["value"] == 1.0
    # An errored user gets no status-less user bucket.
    metrics.assert_empty(timeout=2)
    assert ("s:sessions/user@none", ()) not in by_key


def test_invalid_sessions_are_dropped_without_outcomes(processing_relay, kafka_topics):
    relay = processing_relay()
    metrics = kafka_topics.consumer("metrics_sessions")
    outcomes = kafka_topics.outcomes_consumer()
    started, _ = _started()
    old = _rfc3339(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=6))
    _send(
        relay,
        make_item("session", _session_update(started, attrs={"release": "latest"})),
        make_item("session", _session_update(started, attrs={"environment": ENVIRONMENT})),
        make_item("session", _session_update(old)),
        make_item("session", b"{not json"),
        make_item("sessions", {"aggregates": [{"started": started, "exited": 1}], "attrs": {}}),
    )
    # A valid update afterwards: its buckets are the only ones.
    _send(relay, make_item("session", _session_update(started, did=None, attrs={"release": "valid@1"})))
    [bucket] = metrics.get_metrics(1, timeout=METRIC_TIMEOUT_SECS)
    assert bucket["name"] == "c:sessions/session@none"
    assert bucket["tags"] == {"release": "valid@1", "sdk": SDK, "session.status": "init"}
    assert bucket["value"] == 1.0
    metrics.assert_empty(timeout=2)
    outcomes.assert_empty(timeout=1)


def test_invalid_environment_is_removed(processing_relay, kafka_topics):
    relay = processing_relay()
    metrics = kafka_topics.consumer("metrics_sessions")
    started, _ = _started()
    update = _session_update(started, did=None, attrs={"release": RELEASE, "environment": "none"})
    _send(relay, make_item("session", update))
    [bucket] = metrics.get_metrics(1, timeout=METRIC_TIMEOUT_SECS)
    assert bucket["tags"] == {"release": RELEASE, "sdk": SDK, "session.status": "init"}


def test_metric_buckets_items_accept_only_the_sessions_namespace(processing_relay, kafka_topics):
    relay = processing_relay()
    metrics = kafka_topics.consumer("metrics_sessions")
    outcomes = kafka_topics.outcomes_consumer()
    now = int(time.time())
    buckets = [
        {"timestamp": now, "width": 1, "name": "c:sessions/session@none", "type": "c", "value": 3.0,
         "tags": {"release": RELEASE, "session.status": "init"},
         "metadata": {"merges": 1, "received_at": 1}},
        {"timestamp": now, "width": 1, "name": "s:sessions/user@none", "type": "s", "value": [3, 1]},
        {"timestamp": now, "width": 1, "name": "c:spans/usage@none", "type": "c", "value": 5.0,
         "tags": {"is_segment": "true"}},
        {"timestamp": now, "width": 1, "name": "c:transactions/usage@none", "type": "c", "value": 1.0},
        # Outside the aggregator's time window: discarded.
        {"timestamp": now - 6 * 24 * 3600, "width": 1, "name": "c:sessions/session@none", "type": "c",
         "value": 1.0},
    ]
    _send(relay, make_item("metric_buckets", buckets))
    received = metrics.collect_until(
        lambda values: len(values) >= 2, timeout=METRIC_TIMEOUT_SECS, decode=_decode,
        description="two session buckets",
    )
    by_name = {bucket["name"]: bucket for bucket in received}
    counter = by_name["c:sessions/session@none"]
    assert counter["value"] == 3.0
    assert counter["tags"] == {"release": RELEASE, "session.status": "init"}
    assert counter["timestamp"] == now
    # Metadata of untrusted senders is reset to this relay's receive time.
    assert abs(counter["received_at"] - now) < 60
    assert by_name["s:sessions/user@none"]["value"] == [1, 3]
    metrics.assert_empty(timeout=2)
    # Span usage from an untrusted sender was dropped, so no accepted outcomes either.
    outcomes.assert_empty(timeout=1)


TRACE_ITEM_TYPE_USER_SESSION = 12


def _user_session_key(attributes):
    """(value attribute, status or None) of a USER_SESSION item's attributes."""
    value_attribute = next(
        name for name in ("session_count", "user_id_hash", "errored_session_id_hash") if name in attributes
    )
    return value_attribute, attributes.get("status")


def test_sessions_eap_rollout_writes_user_session_trace_items(processing_relay, upstream, kafka_topics):
    # A rate of 1.0 selects every organization.
    upstream.global_config = {"options": {"relay.sessions-eap.rollout-rate": 1.0}}
    relay = processing_relay()
    metrics = kafka_topics.consumer("metrics_sessions")
    items = kafka_topics.consumer("items")
    started, timestamp = _started()
    crashed = _session_update(started, init=False, status="crashed", errors=1)
    _send(relay, make_item("session", _session_update(started)), make_item("session", crashed))

    expected = {
        ("session_count", "init"),
        ("session_count", "crashed"),
        ("user_id_hash", None),
        ("user_id_hash", "errored"),
        ("user_id_hash", "crashed"),
        ("errored_session_id_hash", None),
    }
    messages = items.collect_until(
        lambda values: expected <= {_user_session_key(trace_item_attributes(item)) for _, item in values},
        timeout=METRIC_TIMEOUT_SECS,
        decode=lambda message: (message, decode_trace_item(message.value)),
        description="user session items %s" % sorted(expected, key=repr),
    )
    by_key = {}
    for message, item in messages:
        assert message.headers == {"item_type": "12", "project_id": str(DEFAULT_PROJECT_ID)}
        assert item.organization_id == DEFAULT_ORGANIZATION_ID
        assert item.project_id == DEFAULT_PROJECT_ID
        assert item.item_type == TRACE_ITEM_TYPE_USER_SESSION
        # A random, hyphenated UUIDv4 trace id and a random item id.
        assert uuid.UUID(item.trace_id).version == 4
        assert str(uuid.UUID(item.trace_id)) == item.trace_id
        assert len(item.item_id) == 16
        assert item.timestamp.seconds == timestamp
        assert item.client_sample_rate == 1.0
        assert item.server_sample_rate == 1.0
        assert item.retention_days == 90
        assert abs(item.received.seconds - time.time()) < 60
        assert not item.HasField("outcomes")
        attributes = trace_item_attributes(item)
        assert "session.status" not in attributes
        for key, value in COMMON_TAGS.items():
            assert attributes[key] == value, attributes
        by_key.setdefault(_user_session_key(attributes), []).append(attributes)
    assert len({trace_item_id(item) for _, item in messages}) == len(messages)

    def values(key):
        return [attributes[key[0]] for attributes in by_key[key]]

    assert sum(values(("session_count", "init"))) == 1
    assert sum(values(("session_count", "crashed"))) == 1
    assert values(("user_id_hash", None)) == [[USER_HASH]]
    assert values(("user_id_hash", "crashed")) == [[USER_HASH]]
    assert values(("errored_session_id_hash", None)) == [[fnv1a32(crashed["sid"])]]

    # The buckets still go to ingest-metrics as well.
    _collect(metrics, [
        ("c:sessions/session@none", {"session.status": "init"}),
        ("s:sessions/error@none", {}),
    ])
    items.assert_empty(timeout=2)


def test_sessions_eap_rollout_rate_zero_writes_no_trace_items(processing_relay, upstream, kafka_topics):
    upstream.global_config = {"options": {"relay.sessions-eap.rollout-rate": 0.0}}
    relay = processing_relay()
    metrics = kafka_topics.consumer("metrics_sessions")
    items = kafka_topics.consumer("items")
    started, _ = _started()
    _send(relay, make_item("session", _session_update(started)))
    _collect(metrics, [("c:sessions/session@none", {"session.status": "init"})])
    items.assert_empty(timeout=2)
