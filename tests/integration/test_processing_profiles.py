"""Profile chunks and standalone profiles in a processing relay (processing.md §3.9, §7.3.5):
`profile_chunk` messages (continuous profiling) and `profile` messages with header
`sampled: false` on the `profiles` topic; feature gates drop silently; invalid items get
`invalid` outcomes in their profile categories.

Not covered here (unit tests in relay-server/src/services/processing/profiles.rs): several
profiles or chunks in one envelope (the endpoint's size limits allow one item of the profile
group per envelope, envelope.md §8) and `profiling_exceed_size_limit` (the endpoint rejects
such items first). Perfetto chunks are rejected with `profiling_platform_not_supported`
because this relay does not convert them.

Needs Redis on 127.0.0.1:6379 and Kafka (tansu) on 127.0.0.1:9092 (`scripts/services.sh`).
"""

import json
import time

import pytest

from fixtures.asserts import assert_status
from fixtures.envelope import build_envelope, make_item
from fixtures.processing import assert_schema
from fixtures.projects import (
    DEFAULT_DSN_KEY,
    DEFAULT_KEY_NUMERIC_ID,
    DEFAULT_ORGANIZATION_ID,
    DEFAULT_PROJECT_ID,
    project_config,
)

CONTINUOUS_PROFILING = "organizations:continuous-profiling"
PERFETTO = "organizations:continuous-profiling-perfetto"
RETENTION_DAYS = 45
RECEIVED_TOLERANCE_SECS = 30

CHUNK = {
    "version": "2",
    "chunk_id": "0432a0a4c25f4697bf9f0a2fcbe6a814",
    "profiler_id": "4d229f1d3807421ba62a5f8bc295d836",
    "platform": "python",
    "release": "backend@1.0",
    "environment": "prod",
    "client_sdk": {"name": "sentry.python", "version": "2.0.0"},
    "profile": {
        "samples": [{"stack_id": 0, "thread_id": "1", "timestamp": 1717000000.25}],
        "stacks": [[0]],
        "frames": [{"function": "main", "module": "app", "in_app": True}],
        "thread_metadata": {"1": {"name": "MainThread"}},
    },
}

PROFILE = {
    "version": "1",
    "event_id": "41fed0925670468bb0457f61a74688ec",
    "platform": "python",
    "release": "backend@1.0",
    "os": {"name": "Linux", "version": "6.1"},
    "device": {"architecture": "x86_64"},
    "timestamp": "2024-05-29T16:26:40Z",
    "profile": {
        "samples": [{"stack_id": 0, "thread_id": "1", "elapsed_since_start_ns": "0"}],
        "stacks": [[0]],
        "frames": [{"function": "main", "module": "app"}],
    },
    "transaction": {"id": "a" * 32, "name": "/", "trace_id": "b" * 32, "active_thread_id": "1"},
}


def _start(relay, upstream, kafka_topics, features=(CONTINUOUS_PROFILING,)):
    upstream.project_configs[DEFAULT_DSN_KEY] = project_config(
        config={"features": list(features), "eventRetention": RETENTION_DAYS}
    )
    return relay(upstream, mode="managed", config=kafka_topics.relay_config())


@pytest.fixture
def processing_relay(relay, upstream, kafka_topics):
    return _start(relay, upstream, kafka_topics)


def _payload(value):
    return value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()


def _chunk_item(chunk=CHUNK, **headers):
    return make_item("profile_chunk", _payload(chunk), content_type="application/json", **headers)


def _profile_item(profile=PROFILE, **headers):
    return make_item("profile", _payload(profile), content_type="application/json", **headers)


def _perfetto_item():
    # Any bytes: the relay never looks inside a Perfetto trace.
    return make_item("profile_chunk", b"\x0a\x04\x08\x01\x10\x02", content_type="application/x-perfetto-trace",
                     platform="android")


def _send(relay, *items):
    envelope = build_envelope(*items)
    assert_status(relay.send_envelope(DEFAULT_PROJECT_ID, envelope), 200)
    return envelope


def _message(consumer):
    """The next message on `profiles`: (decoded dict, raw KafkaMessage), schema-checked with the
    documented `key_id` deviation (processing.md §7.9)."""
    raw = consumer.get_message()
    decoded = raw.msgpack()
    assert_schema("profiles", decoded)
    return decoded, raw


def _check_received(message):
    assert isinstance(message["received"], int)
    assert abs(message["received"] - time.time()) < RECEIVED_TOLERANCE_SECS


def _barrier_items():
    """A check-in without `status` (`invalid`/`invalid_json`, category `monitor`): processed in
    the same pass, so once its outcome arrived anything produced for the profiles would have
    been produced too."""
    return [make_item("check_in", {"check_in_id": "a" * 32, "monitor_slug": "profile-barrier"})]


def _assert_nothing_but_barrier(kafka_topics, profiles, extra_outcomes=None):
    outcomes = kafka_topics.outcomes_consumer()
    expected = {("invalid", "invalid_json", "monitor"): 1}
    expected.update(extra_outcomes or {})
    outcomes.wait_for_outcomes(expected)
    profiles.assert_empty(timeout=2.0)
    outcomes.assert_empty(timeout=2.0)


# --- profile chunks ------------------------------------------------------------------------


def test_profile_chunk(processing_relay, kafka_topics):
    profiles = kafka_topics.consumer("profiles")
    payload = _payload(CHUNK)
    _send(processing_relay, _chunk_item(platform="python"))

    message, raw = _message(profiles)
    assert list(message) == ["type", "organization_id", "project_id", "received", "retention_days", "payload"]
    assert message["type"] == "profile_chunk"
    assert message["organization_id"] == DEFAULT_ORGANIZATION_ID
    assert message["project_id"] == DEFAULT_PROJECT_ID
    assert message["retention_days"] == RETENTION_DAYS
    _check_received(message)
    # Binary payload, unchanged; no `key_id`, no `attachments` key.
    assert isinstance(message["payload"], bytes)
    assert message["payload"] == payload
    assert json.loads(message["payload"])["chunk_id"] == CHUNK["chunk_id"]
    assert raw.header_list == [("project_id", b"%d" % DEFAULT_PROJECT_ID)]
    assert raw.key is not None and len(raw.key) == 16
    profiles.assert_empty()


def test_profile_chunk_without_platform_header(processing_relay, kafka_topics):
    profiles = kafka_topics.consumer("profiles")
    _send(processing_relay, _chunk_item(dict(CHUNK, platform="javascript")))
    message, _ = _message(profiles)
    assert json.loads(message["payload"])["platform"] == "javascript"


def test_profile_chunks_need_continuous_profiling(relay, upstream, kafka_topics):
    processing_relay = _start(relay, upstream, kafka_topics, features=())
    profiles = kafka_topics.consumer("profiles")
    _send(processing_relay, _chunk_item(platform="python"), *_barrier_items())
    _assert_nothing_but_barrier(kafka_topics, profiles)


@pytest.mark.parametrize("platform, category", [("python", "profile_chunk"), ("cocoa", "profile_chunk_ui")])
def test_invalid_profile_chunk(processing_relay, kafka_topics, platform, category):
    profiles = kafka_topics.consumer("profiles")
    outcomes = kafka_topics.outcomes_consumer()
    _send(processing_relay, _chunk_item(b"{not json", platform=platform))
    outcomes.wait_for_outcomes({("invalid", "profiling_invalid_json", category): 1})
    profiles.assert_empty()


def test_perfetto_chunk_without_its_feature_is_dropped_silently(processing_relay, kafka_topics):
    profiles = kafka_topics.consumer("profiles")
    _send(processing_relay, _perfetto_item(), *_barrier_items())
    _assert_nothing_but_barrier(kafka_topics, profiles)


def test_perfetto_chunk_is_not_supported(relay, upstream, kafka_topics):
    processing_relay = _start(relay, upstream, kafka_topics, features=(CONTINUOUS_PROFILING, PERFETTO))
    profiles = kafka_topics.consumer("profiles")
    _send(processing_relay, _perfetto_item(), *_barrier_items())
    _assert_nothing_but_barrier(
        kafka_topics, profiles, {("invalid", "profiling_platform_not_supported", "profile_chunk_ui"): 1}
    )


# --- standalone profiles -------------------------------------------------------------------


def test_standalone_profile_is_sampled_false(processing_relay, kafka_topics):
    profiles = kafka_topics.consumer("profiles")
    payload = _payload(PROFILE)
    _send(processing_relay, _profile_item(sampled=False, platform="python"))

    message, raw = _message(profiles)
    assert list(message) == [
        "type", "organization_id", "project_id", "key_id", "received", "retention_days", "payload",
    ]
    assert message["type"] == "profile"
    assert message["organization_id"] == DEFAULT_ORGANIZATION_ID
    assert message["project_id"] == DEFAULT_PROJECT_ID
    assert message["key_id"] == DEFAULT_KEY_NUMERIC_ID
    assert message["retention_days"] == RETENTION_DAYS
    _check_received(message)
    assert isinstance(message["payload"], bytes)
    assert message["payload"] == payload
    # Headers in ascending name order.
    assert raw.header_list == [("project_id", b"%d" % DEFAULT_PROJECT_ID), ("sampled", b"false")]
    profiles.assert_empty()


@pytest.mark.parametrize("sampled", [None, True], ids=["no_header", "sampled_true"])
def test_standalone_profile_must_be_sampled_out(processing_relay, kafka_topics, sampled):
    profiles = kafka_topics.consumer("profiles")
    outcomes = kafka_topics.outcomes_consumer()
    headers = {} if sampled is None else {"sampled": sampled}
    # No `platform` header: the category comes from the payload's platform.
    _send(processing_relay, _profile_item(dict(PROFILE, platform="cocoa"), **headers))
    outcomes.wait_for_outcomes({
        ("invalid", "profiling_invalid_standalone", "profile"): 1,
        ("invalid", "profiling_invalid_standalone", "profile_indexed"): 1,
        ("invalid", "profiling_invalid_standalone", "profile_ui"): 1,
    })
    profiles.assert_empty()


def test_standalone_profile_must_be_json(processing_relay, kafka_topics):
    profiles = kafka_topics.consumer("profiles")
    outcomes = kafka_topics.outcomes_consumer()
    _send(processing_relay, _profile_item(b"{broken", sampled=False, platform="python"))
    outcomes.wait_for_outcomes({
        ("invalid", "profiling_invalid_json", "profile"): 1,
        ("invalid", "profiling_invalid_json", "profile_indexed"): 1,
        ("invalid", "profiling_invalid_json", "profile_backend"): 1,
    })
    profiles.assert_empty()
