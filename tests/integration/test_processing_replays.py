"""Replays in a processing relay (processing.md §3.7, §3.2a, §7.3.7): web replays (event +
recording), standalone recordings and native replays (msgpack video) become one
`replay_recording_not_chunked` message on `ingest-replay-recordings`; feature gates drop
silently; invalid replays get `invalid` outcomes in category `replay`.

Needs Redis on 127.0.0.1:6379 and Kafka (tansu) on 127.0.0.1:9092 (`scripts/services.sh`).
"""

import json
import time
import zlib

import msgpack
import pytest

from fixtures.asserts import assert_status
from fixtures.envelope import build_envelope, make_item, new_event_id
from fixtures.processing import assert_schema
from fixtures.projects import (
    DEFAULT_DSN_KEY,
    DEFAULT_KEY_NUMERIC_ID,
    DEFAULT_ORGANIZATION_ID,
    DEFAULT_PROJECT_ID,
    project_config,
)

SESSION_REPLAY = "organizations:session-replay"
VIDEO_DISABLED = "organizations:session-replay-video-disabled"
RETENTION_DAYS = 30
DAY_SECS = 24 * 60 * 60
# Seconds the `received` time may differ from the test's clock.
RECEIVED_TOLERANCE_SECS = 30
RECORDING = b'{"segment_id":0}\n' + zlib.compress(b'[{"type":4,"timestamp":1,"data":{"href":"https://x"}}]')
VIDEO = b"\x00\x00\x00\x18ftypmp42 fake video bytes"


def _start(relay, upstream, kafka_topics, features=(SESSION_REPLAY,), config=None):
    upstream.project_configs[DEFAULT_DSN_KEY] = project_config(
        config={"features": list(features), "eventRetention": RETENTION_DAYS}
    )
    return relay(upstream, mode="managed", config=kafka_topics.relay_config(config))


@pytest.fixture
def processing_relay(relay, upstream, kafka_topics):
    return _start(relay, upstream, kafka_topics)


def _replay_event(replay_id, timestamp=None, **extra):
    now = time.time() if timestamp is None else timestamp
    event = {
        "type": "replay_event",
        "replay_id": replay_id,
        "replay_type": "session",
        "segment_id": 0,
        "timestamp": now,
        "replay_start_timestamp": now - 5,
        "urls": ["https://example.com/"],
        "error_ids": [],
        "trace_ids": [],
        "platform": "javascript",
        "user": {"id": "u1", "ip_address": "{{auto}}"},
    }
    event.update(extra)
    return event


def _event_item(event):
    return make_item("replay_event", event if isinstance(event, bytes) else json.dumps(event).encode())


def _recording_item(recording=RECORDING):
    return make_item("replay_recording", recording)


def _video_payload(event, recording=RECORDING, video=VIDEO):
    return msgpack.packb(
        {"replay_event": event, "replay_recording": recording, "replay_video": video},
        use_bin_type=True,
    )


def _video_item(payload):
    return make_item("replay_video", payload, content_type="application/x-msgpack")


def _send(relay, *items, event_id=None, with_event_id=True):
    envelope = build_envelope(*items, event_id=event_id or new_event_id(), with_event_id=with_event_id)
    assert_status(relay.send_envelope(DEFAULT_PROJECT_ID, envelope), 200)
    return envelope


def _check_common_fields(message, replay_id):
    assert message["type"] == "replay_recording_not_chunked"
    assert message["replay_id"] == replay_id
    assert message["key_id"] == DEFAULT_KEY_NUMERIC_ID
    assert message["org_id"] == DEFAULT_ORGANIZATION_ID
    assert message["project_id"] == DEFAULT_PROJECT_ID
    assert isinstance(message["received"], int)
    assert abs(message["received"] - time.time()) < RECEIVED_TOLERANCE_SECS
    assert message["retention_days"] == RETENTION_DAYS
    assert message["relay_snuba_publish_disabled"] is True
    assert list(message)[0] == "type"


def _recording_message(consumer):
    """The next replay message: (decoded dict, raw KafkaMessage), schema-checked."""
    raw = consumer.get_message()
    decoded = raw.msgpack()
    assert_schema("replay_recordings", decoded)
    return decoded, raw


# --- accepted replays ----------------------------------------------------------------------


def test_web_replay(processing_relay, kafka_topics):
    replays = kafka_topics.consumer("replay_recordings")
    replay_id = new_event_id()
    event = _replay_event(replay_id)
    _send(processing_relay, _event_item(event), _recording_item(), event_id=replay_id)

    message, raw = _recording_message(replays)
    _check_common_fields(message, replay_id)
    assert list(message) == [
        "type", "replay_id", "key_id", "org_id", "project_id", "received", "retention_days",
        "payload", "replay_event", "replay_video", "relay_snuba_publish_disabled",
    ]
    assert isinstance(message["payload"], bytes)
    assert message["payload"] == RECORDING
    assert message["replay_video"] is None
    assert isinstance(message["replay_event"], bytes)
    replay_event = json.loads(message["replay_event"])
    assert replay_event["replay_id"] == replay_id
    assert replay_event["segment_id"] == 0
    assert replay_event["urls"] == ["https://example.com/"]
    assert replay_event["timestamp"] == pytest.approx(event["timestamp"])
    # `{{auto}}` is the address the request came from.
    assert replay_event["user"]["ip_address"] == "127.0.0.1"
    # No partition key of its own: a 16-byte counter key; no headers.
    assert raw.key is not None and len(raw.key) == 16
    assert raw.header_list is None
    replays.assert_empty()


def test_standalone_recording(processing_relay, kafka_topics):
    replays = kafka_topics.consumer("replay_recordings")
    replay_id = new_event_id()
    _send(processing_relay, _recording_item(), event_id=replay_id)

    message, _ = _recording_message(replays)
    _check_common_fields(message, replay_id)
    assert message["payload"] == RECORDING
    assert message["replay_event"] is None
    assert message["replay_video"] is None


def test_native_replay(processing_relay, kafka_topics):
    replays = kafka_topics.consumer("replay_recordings")
    replay_id = new_event_id()
    event = json.dumps(_replay_event(replay_id, platform="cocoa")).encode()
    _send(processing_relay, _video_item(_video_payload(event)), event_id=replay_id)

    message, _ = _recording_message(replays)
    _check_common_fields(message, replay_id)
    assert message["payload"] == RECORDING
    assert message["replay_video"] == VIDEO
    replay_event = json.loads(message["replay_event"])
    assert replay_event["replay_id"] == replay_id
    assert replay_event["platform"] == "cocoa"
    assert replay_event["user"]["ip_address"] == "127.0.0.1"


def test_future_timestamp_is_pulled_back(processing_relay, kafka_topics):
    replays = kafka_topics.consumer("replay_recordings")
    replay_id = new_event_id()
    future = time.time() + 3600
    before = time.time()
    _send(processing_relay, _event_item(_replay_event(replay_id, timestamp=future)), _recording_item(),
          event_id=replay_id)

    message, _ = _recording_message(replays)
    replay_event = json.loads(message["replay_event"])
    assert before - 1 <= replay_event["timestamp"] <= time.time() + 1
    # The start moved by the same amount.
    assert replay_event["timestamp"] - replay_event["replay_start_timestamp"] == pytest.approx(5, abs=0.01)


# --- silent drops --------------------------------------------------------------------------


def _barrier_items():
    """A check-in without `status` (`invalid`/`invalid_json`, category `monitor`): processed
    in the same pass as the replay items, so once its outcome arrived anything produced for
    the replay would have been produced too."""
    return [make_item("check_in", {"check_in_id": "a" * 32, "monitor_slug": "replay-barrier"})]


def _assert_only_barrier(kafka_topics, replays):
    outcomes = kafka_topics.outcomes_consumer()
    outcomes.wait_for_outcomes({("invalid", "invalid_json", "monitor"): 1})
    replays.assert_empty(timeout=2.0)
    outcomes.assert_empty(timeout=2.0)


def test_without_session_replay_feature_everything_is_dropped_silently(relay, upstream, kafka_topics):
    processing_relay = _start(relay, upstream, kafka_topics, features=())
    replays = kafka_topics.consumer("replay_recordings")
    replay_id = new_event_id()
    _send(processing_relay, _event_item(_replay_event(replay_id)), _recording_item(), *_barrier_items(),
          event_id=replay_id)
    _assert_only_barrier(kafka_topics, replays)


def test_video_disabled_drops_all_replay_items_of_a_video_envelope(relay, upstream, kafka_topics):
    processing_relay = _start(relay, upstream, kafka_topics, features=(SESSION_REPLAY, VIDEO_DISABLED))
    replays = kafka_topics.consumer("replay_recordings")
    replay_id = new_event_id()
    event = _replay_event(replay_id)
    # Even the event of an otherwise invalid combination goes without an outcome.
    _send(processing_relay, _event_item(event), _video_item(_video_payload(json.dumps(event).encode())),
          *_barrier_items(), event_id=replay_id)
    _assert_only_barrier(kafka_topics, replays)

    # Web replays are still accepted.
    web_id = new_event_id()
    _send(processing_relay, _event_item(_replay_event(web_id)), _recording_item(), event_id=web_id)
    message, _ = _recording_message(replays)
    assert message["replay_id"] == web_id


# --- rejections ----------------------------------------------------------------------------


def _assert_rejected(kafka_topics, replays, reason, quantity):
    outcomes = kafka_topics.outcomes_consumer()
    received = outcomes.wait_for_outcomes({("invalid", reason, "replay"): quantity})
    for outcome in received:
        assert outcome["org_id"] == DEFAULT_ORGANIZATION_ID
        assert outcome["project_id"] == DEFAULT_PROJECT_ID
    replays.assert_empty()
    outcomes.assert_empty(timeout=1.0)


@pytest.mark.parametrize(
    "shape, reason, quantity",
    [
        ("event_only", "invalid_replay_missing_recording", 1),
        ("event_and_video", "duplicate_item", 2),
        ("recording_and_video", "duplicate_item", 2),
        ("all_three", "duplicate_item", 3),
    ],
)
def test_disallowed_combinations(processing_relay, kafka_topics, shape, reason, quantity):
    replays = kafka_topics.consumer("replay_recordings")
    replay_id = new_event_id()
    event = _replay_event(replay_id)
    video = _video_item(_video_payload(json.dumps(event).encode()))
    items = {
        "event_only": [_event_item(event)],
        "event_and_video": [_event_item(event), video],
        "recording_and_video": [_recording_item(), video],
        "all_three": [_event_item(event), _recording_item(), video],
    }[shape]
    _send(processing_relay, *items, event_id=replay_id)
    _assert_rejected(kafka_topics, replays, reason, quantity)


def test_envelope_event_id_is_required(processing_relay, kafka_topics):
    replays = kafka_topics.consumer("replay_recordings")
    _send(processing_relay, _recording_item(), with_event_id=False)
    _assert_rejected(kafka_topics, replays, "invalid_event_id", 1)


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"{not json", "invalid_replay"),
        (b"[1, 2, 3]", "invalid_replay"),
        (b"", "invalid_replay_no_payload"),
    ],
)
def test_invalid_replay_event_rejects_event_and_recording(processing_relay, kafka_topics, payload, reason):
    replays = kafka_topics.consumer("replay_recordings")
    _send(processing_relay, _event_item(payload), _recording_item())
    _assert_rejected(kafka_topics, replays, reason, 2)


@pytest.mark.parametrize(
    "payload",
    [
        b"not msgpack at all",
        msgpack.packb({"replay_event": b"{}", "replay_recording": RECORDING}, use_bin_type=True),
        msgpack.packb({"replay_event": b"{}", "replay_recording": RECORDING, "replay_video": b""},
                      use_bin_type=True),
    ],
    ids=["garbage", "missing_video", "empty_video"],
)
def test_invalid_video(processing_relay, kafka_topics, payload):
    replays = kafka_topics.consumer("replay_recordings")
    _send(processing_relay, _video_item(payload))
    _assert_rejected(kafka_topics, replays, "invalid_replay_video", 1)


def test_replay_older_than_retention_is_rejected(processing_relay, kafka_topics):
    replays = kafka_topics.consumer("replay_recordings")
    replay_id = new_event_id()
    old = time.time() - (RETENTION_DAYS + 1) * DAY_SECS
    _send(processing_relay, _event_item(_replay_event(replay_id, timestamp=old)), _recording_item(),
          event_id=replay_id)
    _assert_rejected(kafka_topics, replays, "timestamp", 2)


def test_message_size_limit(relay, upstream, kafka_topics):
    # recording + event + 2000 bytes overhead must stay below the limit.
    processing_relay = _start(relay, upstream, kafka_topics, config={"limits": {"max_replay_message_size": 4000}})
    replays = kafka_topics.consumer("replay_recordings")
    _send(processing_relay, _recording_item(RECORDING + b"x" * 2000))
    _assert_rejected(kafka_topics, replays, "too_large:replay_recording", 1)

    _send(processing_relay, _recording_item(RECORDING))
    message, _ = _recording_message(replays)
    assert message["payload"] == RECORDING
