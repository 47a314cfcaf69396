"""What a processing relay writes to Kafka for error events, attachments, user reports,
transactions, profiles and check-ins, and the outcomes of what it rejects (processing.md §3.1,
§3.2, §3.8, §3.10, §3.11, §7.2-§7.4, outcomes.md §5).

Needs Redis on 127.0.0.1:6379 and Kafka (tansu) on 127.0.0.1:9092 (`scripts/services.sh`).
Every test gets its own topics (`kafka_topics`); the relay is a managed processing relay whose
project config (project 42, org 1, numeric key id 123) comes from the fake upstream.

Message-level checks use the raw Kafka message (key, headers, msgpack field order) and the
`sentry-kafka-schemas` validation of `fixtures/processing.py`. Order is only asserted within
one topic (processing.md §3.2 step 12).
"""

import base64
import datetime
import json
import os
import shutil
import re
import time
import unicodedata
import uuid

import msgpack
import pytest

from fixtures.asserts import assert_hyphenated_event_id, assert_status
from fixtures.envelope import (
    attachment_item,
    build_envelope,
    event_item,
    make_item,
    new_event_id,
    transaction_item,
    transaction_payload,
)
from fixtures.processing import CATEGORIES, assert_schema, decode_msgpack
from fixtures.projects import (
    DEFAULT_DSN_KEY,
    DEFAULT_KEY_NUMERIC_ID,
    DEFAULT_ORGANIZATION_ID,
    DEFAULT_PROJECT_ID,
    project_config,
)
from fixtures.relay import DEFAULT_CLIENT, REPO_ROOT, Relay
from fixtures.util import Part, free_port, multipart_body, wait_until

PROJECT_ID = DEFAULT_PROJECT_ID
AUTH_QUERY = "?sentry_key=%s" % DEFAULT_DSN_KEY
DEFAULT_RETENTION_DAYS = 90
# How far Kafka timestamps may be from the test's clock.
CLOCK_TOLERANCE_SECS = 30

EVENT_MESSAGE_KEYS = ["type", "payload", "start_time", "event_id", "project_id", "remote_addr", "attachments"]
CHECK_IN_MESSAGE_KEYS = ["type", "message_type", "payload", "start_time", "sdk", "project_id", "retention_days"]

MINIDUMP = b"MDMP" + b"\x93\xa7\x00\x00" + bytes(range(256)) * 4


# --- helpers -------------------------------------------------------------------------------


def partition_key(uuid_hex, organization_id=DEFAULT_ORGANIZATION_ID):
    """processing.md §7.4: the UUID bytes with the first 8 XORed with the org id (big-endian)."""
    raw = uuid.UUID(uuid_hex).bytes
    head = int.from_bytes(raw[:8], "big") ^ organization_id
    return head.to_bytes(8, "big") + raw[8:]


def raw_msgpack_keys(message):
    """The top-level keys of a msgpack message in wire order."""
    return list(msgpack.unpackb(message.value, raw=False, object_pairs_hook=lambda pairs: [k for k, _ in pairs]))


def assert_recent(seconds, before):
    assert before - 1 <= seconds <= time.time() + CLOCK_TOLERANCE_SECS, (seconds, before)


def read_event(consumer, topic, event_id, before):
    """The next `event` message of `consumer`: checks the §7.3.1 envelope of the message (key,
    field order and types, schema) and returns (event JSON, message dict)."""
    message = consumer.get_message()
    assert message.logical == topic, message.describe()
    assert message.key == partition_key(event_id), message.describe()
    assert message.header_list is None, message.describe()
    assert raw_msgpack_keys(message) == EVENT_MESSAGE_KEYS
    # Event messages on ingest-attachments are described by the ingest-events schema.
    decoded = assert_schema("events", message.value)
    assert decoded["type"] == "event"
    assert isinstance(decoded["payload"], bytes)
    assert decoded["event_id"] == event_id
    assert decoded["project_id"] == PROJECT_ID
    assert decoded["remote_addr"] == "127.0.0.1"
    assert isinstance(decoded["start_time"], int)
    assert_recent(decoded["start_time"], before)
    return json.loads(decoded["payload"]), decoded


def assert_finalized_event(event, event_id, before, ingested_bytes, event_type="default", level="error",
                           platform="other"):
    """The fields processing writes into every error event (processing.md §3.1)."""
    assert event["event_id"] == event_id
    assert event["project"] == PROJECT_ID
    assert event["key_id"] == str(DEFAULT_KEY_NUMERIC_ID)
    assert event["version"] == "7"
    assert isinstance(event["received"], float)
    assert_recent(event["received"], before)
    assert event["type"] == event_type
    assert event["platform"] == platform
    assert event["level"] == level
    assert event["_metrics"]["bytes.ingested.event"] == ingested_bytes
    assert isinstance(event["timestamp"], (int, float))
    name, version = DEFAULT_CLIENT.split("/")
    assert event["sdk"] == {"name": name, "version": version}


def assert_descriptor(descriptor, name, size, chunks=None, data=None, attachment_type="event.attachment",
                      content_type=None, rate_limited=False):
    """An attachment descriptor (processing.md §7.3.2), including key order."""
    expected_keys = ["id", "name", "rate_limited"]
    if content_type is not None:
        expected_keys.append("content_type")
    expected_keys += ["attachment_type", "size", "retention_days", "chunks" if data is None else "data"]
    assert list(descriptor) == expected_keys, descriptor
    assert str(uuid.UUID(descriptor["id"])) == descriptor["id"]  # hyphenated UUID
    assert uuid.UUID(descriptor["id"]).version == 4
    assert descriptor["name"] == name
    assert descriptor["rate_limited"] is rate_limited
    if content_type is not None:
        assert descriptor["content_type"] == content_type
    assert descriptor["attachment_type"] == attachment_type
    assert descriptor["size"] == size
    assert descriptor["retention_days"] == DEFAULT_RETENTION_DAYS
    if data is None:
        assert descriptor["chunks"] == chunks
    else:
        assert isinstance(descriptor["data"], bytes) and descriptor["data"] == data


def read_chunks(consumer, event_id, payload, chunk_size):
    """The `attachment_chunk` messages of one attachment, in order; returns the attachment id
    they carry."""
    expected = [payload[index:index + chunk_size] for index in range(0, len(payload), chunk_size)]
    attachment_id = None
    for index, chunk in enumerate(expected):
        message = consumer.get_message()
        if attachment_id is None:
            attachment_id = decode_msgpack(message.value).get("id")
        assert message.key == partition_key(event_id), message.describe()
        assert raw_msgpack_keys(message) == ["type", "payload", "event_id", "project_id", "id", "chunk_index"]
        decoded = assert_schema("attachments", message.value)
        assert decoded["type"] == "attachment_chunk"
        assert decoded == {"type": "attachment_chunk", "payload": chunk, "event_id": event_id,
                           "project_id": PROJECT_ID, "id": attachment_id, "chunk_index": index}
    return attachment_id


def user_report_item(event_id, **fields):
    report = {"event_id": event_id, "name": "Jane Doe", "email": "jane@example.com", "comments": "it broke"}
    report.update(fields)
    return make_item("user_report", report)


def read_user_report(consumer, event_id, before):
    message = consumer.get_message()
    assert message.key == partition_key(event_id), message.describe()
    assert message.header_list is None
    assert raw_msgpack_keys(message) == ["type", "project_id", "start_time", "payload"]
    decoded = assert_schema("attachments", message.value)
    assert decoded["type"] == "user_report"
    assert decoded["project_id"] == PROJECT_ID
    assert_recent(decoded["start_time"], before)
    return decoded["payload"]


def slugify(text):
    """Sentry's slugify as processing.md §3.8 describes it."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    text = re.sub(r"[-\s]+", "-", text).strip("-_")
    return text[:50].rstrip("-")


def routing_hint(slug, environment=None, project_id=PROJECT_ID):
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "https://sentry.io/crons/#did")
    return uuid.uuid5(namespace, "%s:%s:%s" % (project_id, slugify(slug), environment or "production"))


def read_check_in(consumer, slug, environment, before, sdk=DEFAULT_CLIENT, retention=DEFAULT_RETENTION_DAYS):
    """The next `check_in` message (processing.md §7.3.6); returns the payload as ordered
    (key, value) pairs."""
    message = consumer.get_message()
    assert message.key == partition_key(routing_hint(slug, environment).hex), message.describe()
    assert message.header_list is None
    assert raw_msgpack_keys(message) == CHECK_IN_MESSAGE_KEYS
    decoded = assert_schema("monitors", message.value)
    assert decoded["type"] == "check_in" and decoded["message_type"] == "check_in"
    assert isinstance(decoded["payload"], bytes)
    assert_recent(decoded["start_time"], before)
    assert decoded["sdk"] == sdk
    assert decoded["project_id"] == PROJECT_ID
    assert decoded["retention_days"] == retention
    return json.loads(decoded["payload"], object_pairs_hook=list)


# --- error events ----------------------------------------------------------------------------


def test_error_event_via_store_endpoint(processing_relay, kafka_topics):
    relay = processing_relay()
    events = kafka_topics.consumer("events")
    event_id = new_event_id()
    body = json.dumps({"event_id": event_id, "message": "hello from store", "extra": {"n": 1}}).encode()
    before = time.time()
    response = relay.send_event(PROJECT_ID, body)
    assert_status(response, 200)
    assert response.json() == {"id": event_id}

    event, message = read_event(events, "events", event_id, before)
    assert message["attachments"] == []
    assert_finalized_event(event, event_id, before, len(body))
    assert event["_metrics"] == {"bytes.ingested.event": len(body)}
    assert event["extra"] == {"n": 1}
    events.assert_empty(timeout=0.5)


def test_error_event_via_envelope(processing_relay, upstream, kafka_topics):
    grouping = {"id": "newstyle:2023-01-11", "enhancements": "eJybzDRxY3J-bm5-npWVU"}
    upstream.project_configs[DEFAULT_DSN_KEY] = project_config(config={"groupingConfig": grouping})
    relay = processing_relay()
    events = kafka_topics.consumer("events")
    trace_id = uuid.uuid4().hex
    payload = {"message": "hello from an envelope", "level": "warning", "platform": "python",
               "exception": {"values": [{"type": "ValueError", "value": "bad"}]}, "tags": {"a": "b"}}
    envelope = build_envelope(event_item(payload),
                              trace={"trace_id": trace_id, "public_key": DEFAULT_DSN_KEY, "release": "app@1"})
    event_id = envelope.event_id
    before = time.time()
    assert_status(relay.send_envelope(PROJECT_ID, envelope), 200)

    event, message = read_event(events, "events", event_id, before)
    assert message["attachments"] == []
    assert_finalized_event(event, event_id, before, len(envelope.items[0].payload), event_type="error",
                           level="warning", platform="python")
    assert event["grouping_config"] == grouping
    # The DSC as re-serialized from its parsed form (envelope.md §2.3): null when absent. In
    # the event it is a free-form object, written with sorted keys like every event object.
    assert event["_dsc"] == {"trace_id": trace_id, "public_key": DEFAULT_DSN_KEY, "release": "app@1",
                             "environment": None, "transaction": None, "replay_id": None}
    assert event["tags"] == [["a", "b"]]
    events.assert_empty(timeout=0.5)


def test_error_with_attachments_and_user_report(processing_relay, kafka_topics):
    chunk_size = 10
    relay = processing_relay(processing={"attachment_chunk_size": chunk_size})
    attachments = kafka_topics.consumer("attachments")
    events = kafka_topics.consumer("events")
    log = b"0123456789abcdefghijklmnopqrstuvwxy"  # 35 bytes: chunks of 10, 10, 10, 5
    small = b"tiny"
    event_id = new_event_id()
    envelope = build_envelope(
        event_item({"message": "with attachments"}),
        attachment_item(log, filename="app.log", content_type="Text/Plain"),
        attachment_item(small, filename="small.bin"),
        attachment_item(b"", filename="empty.txt"),
        user_report_item(event_id, name=None, extra="dropped"),
        event_id=event_id,
    )
    before = time.time()
    assert_status(relay.send_envelope(PROJECT_ID, envelope), 200)

    # Chunks first (per attachment, in item order), then the user report, then the event.
    first_id = read_chunks(attachments, event_id, log, chunk_size)
    second_id = read_chunks(attachments, event_id, small, chunk_size)

    report = read_user_report(attachments, event_id, before)
    # Exactly these keys in this order; null name becomes "", unknown keys are dropped.
    assert json.loads(report, object_pairs_hook=list) == [
        ("event_id", event_id), ("name", ""), ("email", "jane@example.com"), ("comments", "it broke")]

    event, message = read_event(attachments, "attachments", event_id, before)
    assert_finalized_event(event, event_id, before, len(envelope.items[0].payload))
    assert event["_metrics"]["bytes.ingested.event.attachment"] == len(log) + len(small)
    descriptors = message["attachments"]
    assert len(descriptors) == 3
    assert_descriptor(descriptors[0], "app.log", len(log), chunks=4, content_type="text/plain")
    assert descriptors[0]["id"] == first_id
    assert_descriptor(descriptors[1], "small.bin", len(small), chunks=1)
    assert descriptors[1]["id"] == second_id
    # An empty attachment has no chunks (and error attachments are never inlined).
    assert_descriptor(descriptors[2], "empty.txt", 0, chunks=0)
    assert len({d["id"] for d in descriptors}) == 3

    attachments.assert_empty(timeout=0.5)
    events.assert_empty(timeout=0.1)


def test_minidump_upload(processing_relay, kafka_topics):
    relay = processing_relay()
    attachments = kafka_topics.consumer("attachments")
    before = time.time()
    response = relay.post("/api/%d/minidump/%s" % (PROJECT_ID, AUTH_QUERY), data=MINIDUMP,
                          headers={"Content-Type": "application/octet-stream"})
    assert_status(response, 200)
    event_id = uuid.UUID(assert_hyphenated_event_id(response.text)).hex

    attachment_id = read_chunks(attachments, event_id, MINIDUMP, 1024 * 1024)

    event, message = read_event(attachments, "attachments", event_id, before)
    [descriptor] = message["attachments"]
    assert_descriptor(descriptor, "Minidump", len(MINIDUMP), chunks=1, attachment_type="event.minidump",
                      content_type="application/octet-stream")
    assert descriptor["id"] == attachment_id
    assert event["_metrics"] == {"bytes.ingested.event": 0, "bytes.ingested.event.minidump": len(MINIDUMP)}
    assert event["platform"] == "native"
    assert event["level"] == "fatal"
    assert event["type"] == "error"
    [exception] = event["exception"]["values"]
    assert exception["type"] == "Minidump"
    assert exception["mechanism"]["type"] == "minidump"
    attachments.assert_empty(timeout=0.5)


def test_multipart_minidump_with_form_fields(processing_relay, kafka_topics):
    relay = processing_relay()
    attachments = kafka_topics.consumer("attachments")
    log = b"some log text"
    body, content_type = multipart_body([
        Part("upload_file_minidump", MINIDUMP, filename="crash.dmp"),
        Part("log", log, filename="app.log", content_type="text/plain"),
        Part("sentry[release]", "my-app@1.0"),
        Part("sentry[tags][key]", "value"),
    ])
    before = time.time()
    response = relay.post("/api/%d/minidump/%s" % (PROJECT_ID, AUTH_QUERY), data=body,
                          headers={"Content-Type": content_type})
    assert_status(response, 200)
    event_id = uuid.UUID(assert_hyphenated_event_id(response.text)).hex

    # One chunk per attachment; their order follows the upload.
    ids = [decode_msgpack(m.value)["id"] for m in attachments.get_messages(2)]
    event, message = read_event(attachments, "attachments", event_id, before)
    descriptors = {d["attachment_type"]: d for d in message["attachments"]}
    assert sorted(descriptors) == ["event.attachment", "event.minidump"]
    assert_descriptor(descriptors["event.minidump"], "crash.dmp", len(MINIDUMP), chunks=1,
                      attachment_type="event.minidump", content_type=descriptors["event.minidump"].get("content_type"))
    # The content type of multipart file parts is not specified (http-api.md §4.5).
    assert_descriptor(descriptors["event.attachment"], "app.log", len(log), chunks=1,
                      content_type=descriptors["event.attachment"].get("content_type"))
    assert sorted(ids) == sorted(d["id"] for d in message["attachments"])
    assert event["_metrics"] == {"bytes.ingested.event": 0, "bytes.ingested.event.minidump": len(MINIDUMP),
                                 "bytes.ingested.event.attachment": len(log)}
    assert event["release"] == "my-app@1.0"
    assert event["tags"] == [["key", "value"]]
    assert event["exception"]["values"][0]["type"] == "Minidump"
    attachments.assert_empty(timeout=0.5)


def test_clock_drift_is_corrected(processing_relay, kafka_topics):
    relay = processing_relay()
    events = kafka_topics.consumer("events")
    drift = 2 * 60 * 60
    client_now = time.time() - drift  # the client's clock is two hours behind
    sent_at = datetime.datetime.fromtimestamp(client_now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    envelope = build_envelope(event_item({"message": "drifting", "timestamp": client_now - 10}), sent_at=sent_at)
    before = time.time()
    assert_status(relay.send_envelope(PROJECT_ID, envelope), 200)
    event, _ = read_event(events, "events", envelope.event_id, before)
    # Shifted by the drift: ten seconds before the receive time.
    assert abs(event["timestamp"] - (event["received"] - 10)) < 5, event
    # normalization.md §4.1: the correction is recorded on `timestamp` and in `errors`; the
    # corrected timestamp is not in the past, so there is no `past_timestamp` error.
    timestamp_errors = [e for e in event.get("errors", []) if e.get("name") == "timestamp"]
    assert [e["type"] for e in timestamp_errors] == ["clock_drift"], event
    assert set(timestamp_errors[0]) >= {"sdk_time", "server_time"}
    [meta_error] = event["_meta"]["timestamp"][""]["err"]
    assert meta_error[0] == "clock_drift" and set(meta_error[1]) == {"sdk_time", "server_time"}


# --- transactions ------------------------------------------------------------------------------


def test_transaction_with_attachment_and_profile(processing_relay, kafka_topics):
    relay = processing_relay()
    attachments = kafka_topics.consumer("attachments")
    transactions = kafka_topics.consumer("transactions")
    profiles = kafka_topics.consumer("profiles")
    profile_id = uuid.uuid4().hex
    profile = {"profile_id": profile_id, "platform": "python", "version": "1", "profile": {"samples": []}}
    envelope = build_envelope(
        transaction_item(transaction_payload("/checkout")),
        attachment_item(b"transaction attachment", filename="trace.txt", content_type="text/plain"),
        make_item("profile", profile),
    )
    event_id = envelope.event_id
    before = time.time()
    assert_status(relay.send_envelope(PROJECT_ID, envelope), 200)

    # The small attachment is an individual attachment message with inline data.
    message = attachments.get_message()
    assert message.key == partition_key(event_id)
    assert raw_msgpack_keys(message) == ["type", "event_id", "project_id", "attachment"]
    attachment = assert_schema("attachments", message.value)
    assert attachment["type"] == "attachment"
    assert attachment["event_id"] == event_id and attachment["project_id"] == PROJECT_ID
    assert_descriptor(attachment["attachment"], "trace.txt", 22, data=b"transaction attachment",
                      content_type="text/plain")

    event, message = read_event(transactions, "transactions", event_id, before)
    assert message["attachments"] == []
    assert event["type"] == "transaction"
    assert event["transaction"] == "/checkout"
    assert event["event_id"] == event_id
    assert event["project"] == PROJECT_ID
    assert event["key_id"] == str(DEFAULT_KEY_NUMERIC_ID)
    assert event["level"] == "info"
    assert event["_metrics"]["bytes.ingested.event"] == len(envelope.items[0].payload)
    assert event["contexts"]["profile"]["profile_id"] == profile_id

    message = profiles.get_message()
    assert message.header_list == [("project_id", b"42"), ("sampled", b"true")]
    assert raw_msgpack_keys(message) == ["type", "organization_id", "project_id", "key_id", "received",
                                         "retention_days", "payload"]
    decoded = assert_schema("profiles", message.value)
    assert decoded["type"] == "profile"
    assert decoded["organization_id"] == DEFAULT_ORGANIZATION_ID
    assert decoded["project_id"] == PROJECT_ID
    assert decoded["key_id"] == DEFAULT_KEY_NUMERIC_ID
    assert decoded["retention_days"] == DEFAULT_RETENTION_DAYS
    assert_recent(decoded["received"], before)
    assert json.loads(decoded["payload"])["profile_id"] == profile_id

    for consumer in (attachments, transactions, profiles):
        consumer.assert_empty(timeout=0.3)


def test_transaction_attachments_are_inlined_below_the_chunk_size(processing_relay, kafka_topics):
    chunk_size = 10
    relay = processing_relay(processing={"attachment_chunk_size": chunk_size})
    attachments = kafka_topics.consumer("attachments")
    transactions = kafka_topics.consumer("transactions")
    below, exact, above = b"123456789", b"0123456789", b"abcdefghijklmnopqrstuvwxy"
    envelope = build_envelope(
        transaction_item(),
        attachment_item(below, filename="below.txt"),
        attachment_item(exact, filename="exact.txt"),
        attachment_item(above, filename="above.txt"),
    )
    event_id = envelope.event_id
    before = time.time()
    assert_status(relay.send_envelope(PROJECT_ID, envelope), 200)

    def next_attachment():
        message = attachments.get_message()
        assert message.key == partition_key(event_id)
        decoded = assert_schema("attachments", message.value)
        assert decoded["type"] == "attachment", message.describe()
        return decoded["attachment"]

    # Strictly below the chunk size: inline. At or above: chunks produced before the message.
    assert_descriptor(next_attachment(), "below.txt", 9, data=below)
    exact_id = read_chunks(attachments, event_id, exact, chunk_size)
    descriptor = next_attachment()
    assert_descriptor(descriptor, "exact.txt", 10, chunks=1)
    assert descriptor["id"] == exact_id
    above_id = read_chunks(attachments, event_id, above, chunk_size)
    descriptor = next_attachment()
    assert_descriptor(descriptor, "above.txt", 25, chunks=3)
    assert descriptor["id"] == above_id
    attachments.assert_empty(timeout=0.3)

    event, message = read_event(transactions, "transactions", event_id, before)
    assert message["attachments"] == [] and event["type"] == "transaction"


def test_invalid_transaction_and_invalid_json_event_outcomes(processing_relay, kafka_topics):
    relay = processing_relay()
    outcomes = kafka_topics.outcomes_consumer()
    transactions = kafka_topics.consumer("transactions", "events")
    broken = transaction_payload()
    broken["start_timestamp"], broken["timestamp"] = broken["timestamp"], broken["start_timestamp"]
    assert_status(relay.send_envelope(PROJECT_ID, build_envelope(transaction_item(broken))), 200)
    assert_status(relay.send_envelope(PROJECT_ID, build_envelope(event_item(b'{"message": "broken'))), 200)

    received = outcomes.wait_for_outcomes({
        ("invalid", "invalid_transaction", "transaction"): 1,
        ("invalid", "invalid_transaction", "transaction_indexed"): 1,
        ("invalid", "invalid_transaction", "span"): 1,
        ("invalid", "invalid_transaction", "span_indexed"): 1,
        ("invalid", "invalid_json", "error"): 1,
    })
    for outcome in received:
        assert outcome["org_id"] == DEFAULT_ORGANIZATION_ID
        assert outcome["project_id"] == PROJECT_ID
        assert outcome["key_id"] == DEFAULT_KEY_NUMERIC_ID
        assert list(outcome) == ["timestamp", "org_id", "project_id", "key_id", "outcome", "reason", "category",
                                 "quantity"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z", outcome["timestamp"])
    outcomes.assert_empty(timeout=1.5)
    transactions.assert_empty(timeout=0.1)


# --- standalone attachments and user reports ------------------------------------------------


def test_standalone_attachment_and_user_report(processing_relay, kafka_topics):
    relay = processing_relay()
    attachments = kafka_topics.consumer("attachments")
    event_id = new_event_id()
    before = time.time()
    envelope = build_envelope(attachment_item(b"standalone bytes", filename="s.txt"), event_id=event_id)
    assert_status(relay.send_envelope(PROJECT_ID, envelope), 200)

    message = attachments.get_message()
    assert message.key == partition_key(event_id)
    assert message.header_list is None
    attachment = assert_schema("attachments", message.value)
    assert attachment["type"] == "attachment"
    assert attachment["event_id"] == event_id
    assert attachment["project_id"] == PROJECT_ID
    assert_descriptor(attachment["attachment"], "s.txt", 16, data=b"standalone bytes")
    attachments.assert_empty(timeout=0.3)

    report_event_id = new_event_id()
    envelope = build_envelope(
        make_item("user_report", b'  {"comments": "meh", "email": null, "event_id": "%s", "foo": 1}\n  '
                  % report_event_id.encode()),
        event_id=report_event_id,
    )
    assert_status(relay.send_envelope(PROJECT_ID, envelope), 200)
    report = read_user_report(attachments, report_event_id, before)
    assert json.loads(report, object_pairs_hook=list) == [
        ("event_id", report_event_id), ("name", ""), ("email", ""), ("comments", "meh")]
    attachments.assert_empty(timeout=0.3)


# --- check-ins -------------------------------------------------------------------------------


def test_check_in_via_envelope(processing_relay, upstream, kafka_topics):
    # `retention_days` is the project's event retention.
    upstream.project_configs[DEFAULT_DSN_KEY] = project_config(config={"eventRetention": 45})
    relay = processing_relay()
    monitors = kafka_topics.consumer("monitors")
    check_in_id = str(uuid.uuid4())
    check_in = {
        "zzz": True,
        "monitor_config": {"schedule": {"type": "crontab", "value": "0 * * * *"}},
        "status": "missed",
        "duration": 2.5,
        "aaa": 1,
        "environment": "prod",
        "monitor_slug": "My Nightly  Job",
        "check_in_id": check_in_id,
        "contexts": {"trace": {"trace_id": uuid.uuid4().hex}},
    }
    before = time.time()
    assert_status(relay.send_envelope(PROJECT_ID, build_envelope(make_item("check_in", check_in))), 200)

    payload = read_check_in(monitors, "My Nightly  Job", "prod", before, retention=45)
    assert payload == [
        ("check_in_id", uuid.UUID(check_in_id).hex),
        ("monitor_slug", "My Nightly  Job"),
        ("status", "unknown"),
        ("environment", "prod"),
        ("duration", 2.5),
        ("monitor_config", [("schedule", [("type", "crontab"), ("value", "0 * * * *")])]),
        ("contexts", [("trace", [("trace_id", check_in["contexts"]["trace"]["trace_id"])])]),
        ("aaa", 1),
        ("zzz", True),
    ]
    monitors.assert_empty(timeout=0.3)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_check_in_via_cron_endpoint(processing_relay, kafka_topics, method):
    relay = processing_relay()
    monitors = kafka_topics.consumer("monitors")
    before = time.time()
    response = relay.request(method, "/api/%d/cron/nightly-backup/%s/" % (PROJECT_ID, DEFAULT_DSN_KEY),
                             params={"status": "ok", "duration": "1.5"})
    assert_status(response, 202)
    # Without `sentry_client` the client is recorded as `relay-http`; no environment → the
    # routing hint uses `production`.
    payload = read_check_in(monitors, "nightly-backup", None, before, sdk="relay-http")
    assert payload == [
        ("check_in_id", "0" * 32),
        ("monitor_slug", "nightly-backup"),
        ("status", "ok"),
        ("duration", 1.5),
    ]
    monitors.assert_empty(timeout=0.3)


# --- outcome accounting ----------------------------------------------------------------------


def item_quantities(item):
    """The data categories an item counts in (outcomes.md §2): attachments count their bytes
    (at least 1) and once as an item."""
    if item.type == "event":
        return {"error": 1}
    if item.type == "attachment":
        return {"attachment": max(len(item.payload), 1), "attachment_item": 1}
    if item.type == "user_report":
        return {"feedback": 1}
    if item.type == "check_in":
        return {"monitor": 1}
    raise AssertionError("no quantities known for %r" % item)


def add_quantities(totals, quantities):
    for category, quantity in quantities.items():
        totals[CATEGORIES[category]] = totals.get(CATEGORIES[category], 0) + quantity


def accepted_quantities(message):
    """What one produced Kafka message accounts for (chunks are part of their attachment)."""
    decoded = decode_msgpack(message.value)
    kind = decoded["type"]
    if kind == "event":
        quantities = {"error": 1}
        for descriptor in decoded["attachments"]:
            quantities["attachment"] = quantities.get("attachment", 0) + max(descriptor["size"], 1)
            quantities["attachment_item"] = quantities.get("attachment_item", 0) + 1
        return quantities
    if kind == "attachment":
        return {"attachment": max(decoded["attachment"]["size"], 1), "attachment_item": 1}
    if kind == "user_report":
        return {"feedback": 1}
    if kind == "check_in":
        return {"monitor": 1}
    if kind == "attachment_chunk":
        return {}
    raise AssertionError("unexpected message %s" % message.describe())


def test_outcome_accounting_of_mixed_items(processing_relay, kafka_topics):
    """Every item sent is either on Kafka or in an outcome, per data category."""
    max_attachment_size = 1000
    relay = processing_relay(config={"limits": {"max_attachment_size": max_attachment_size}})
    data = kafka_topics.consumer("events", "attachments", "monitors", "transactions", "feedback")
    outcomes = kafka_topics.outcomes_consumer()

    def check_in(**fields):
        payload = {"check_in_id": uuid.uuid4().hex, "monitor_slug": "accounting", "status": "ok"}
        payload.update(fields)
        return make_item("check_in", {k: v for k, v in payload.items() if v is not None})

    accepted_id = new_event_id()
    # (envelope, expected HTTP status)
    requests = [
        *[(build_envelope(event_item({"message": "valid %d" % n})), 200) for n in range(3)],
        *[(build_envelope(event_item(b'{"message": "broken %d' % n)), 200) for n in range(2)],
        # An oversized attachment rejects the whole envelope at the endpoint.
        (build_envelope(event_item(), attachment_item(b"x" * (max_attachment_size + 1)),
                        attachment_item(b"fits")), 413),
        (build_envelope(event_item(), attachment_item(b"y" * 100), user_report_item(accepted_id),
                        event_id=accepted_id), 200),
        # An envelope holds at most one event and one check-in (envelope.md §8): 413 as well.
        (build_envelope(event_item({"message": "first"}), event_item({"message": "second"})), 413),
        (build_envelope(attachment_item(b"z" * 50), event_id=new_event_id()), 200),
        (build_envelope(make_item("user_report", {"name": "no event id", "comments": "x"}),
                        event_id=new_event_id()), 200),
        (build_envelope(check_in()), 200),
        (build_envelope(check_in(status=None)), 200),
        (build_envelope(check_in(monitor_slug="")), 200),
        (build_envelope(check_in(), check_in()), 413),
    ]
    sent = {}
    for envelope, status in requests:
        for item in envelope.items:
            add_quantities(sent, item_quantities(item))
        response = relay.send_envelope(PROJECT_ID, envelope)
        assert_status(response, status)

    expected_outcomes = {
        ("invalid", "invalid_json", "error"): 2,
        ("invalid", "too_large:attachment:attachment", "error"): 1,
        ("invalid", "too_large:attachment:attachment", "attachment"): max_attachment_size + 1 + 4,
        ("invalid", "too_large:attachment:attachment", "attachment_item"): 2,
        ("invalid", "too_large:event", "error"): 2,
        ("invalid", "invalid_json", "feedback"): 1,
        ("invalid", "invalid_json", "monitor"): 1,
        ("invalid", "invalid_check_in", "monitor"): 1,
        ("invalid", "too_large:check_in", "monitor"): 2,
    }
    # Accepted: 3 + 1 events, 1 standalone attachment, 1 user report, 1 check-in, plus the
    # chunk of the 100-byte attachment.
    messages = data.get_messages(8, timeout=20)
    data.assert_empty(timeout=1)
    received = outcomes.wait_for_outcomes(expected_outcomes)
    outcomes.assert_empty(timeout=2.5)

    accounted = {}
    for message in messages:
        add_quantities(accounted, accepted_quantities(message))
    for outcome in received:
        accounted[outcome["category"]] = accounted.get(outcome["category"], 0) + outcome["quantity"]
    assert accounted == sent


# --- embedded default --------------------------------------------------------------------------


class EmbeddedRelay(Relay):
    """A relay running on a config directory as it is (the config file is never rewritten)."""

    def write_config(self):
        pass


def read_topic_file(directory, name, wanted, timeout=20):
    """The lines of `<directory>/topics/<name>` once there are at least `wanted`."""
    path = os.path.join(directory, "topics", name)

    def lines():
        if not os.path.exists(path):
            return []
        with open(path, "rb") as handle:
            content = handle.read()
        # Only whole lines count.
        return content.split(b"\n")[:-1]

    wait_until(lambda: len(lines()) >= wanted, timeout=timeout, message="%d lines in %s" % (wanted, path))
    return lines()


def test_embedded_default_writes_topic_files(relay, tmp_path):
    config_dir = tmp_path / "embedded"
    shutil.copytree(os.path.join(REPO_ROOT, "config", "embedded"), config_dir)
    output_dir = tmp_path / "data"
    port = free_port()
    config_path = config_dir / "config.yml"
    text = config_path.read_text()
    assert "port: 3000" in text and "directory: ../../data" in text
    config_path.write_text(text.replace("port: 3000", "port: %d" % port)
                           .replace("directory: ../../data", "directory: %s" % output_dir))

    instance = EmbeddedRelay(relay, config_dir, {"relay": {"host": "127.0.0.1", "port": port}}, None, None)
    relay.created.append(instance)
    instance.start()

    event_id = new_event_id()
    before = time.time()
    assert_status(instance.send_envelope(PROJECT_ID, build_envelope(event_item({"message": "embedded"}),
                                                                    event_id=event_id)), 200)
    assert_status(instance.send_envelope(PROJECT_ID, build_envelope(
        make_item("check_in", {"monitor_slug": "embedded-cron", "status": "in_progress"}))), 200)
    assert_status(instance.send_envelope(PROJECT_ID, build_envelope(event_item(b"{broken"))), 200)

    [line] = read_topic_file(str(output_dir), "ingest-events.b64", 1)
    message = assert_schema("events", base64.b64decode(line, validate=True))
    assert message["type"] == "event" and message["event_id"] == event_id
    event = json.loads(message["payload"])
    assert event["logentry"]["formatted"] == "embedded"
    assert event["project"] == PROJECT_ID and event["key_id"] == "1"
    assert_recent(message["start_time"], before)

    [line] = read_topic_file(str(output_dir), "ingest-monitors.b64", 1)
    message = assert_schema("monitors", base64.b64decode(line, validate=True))
    assert message["type"] == "check_in"
    assert json.loads(message["payload"]) == {"check_in_id": "0" * 32, "monitor_slug": "embedded-cron",
                                              "status": "in_progress"}

    # Outcomes are aggregated; a graceful shutdown flushes them.
    assert instance.shutdown() == 0
    lines = read_topic_file(str(output_dir), "outcomes.jsonl", 1, timeout=5)
    outcomes = [assert_schema("outcomes", json.loads(line)) for line in lines]
    assert [(o["outcome"], o["reason"], o["category"], o["quantity"]) for o in outcomes] == [
        (3, "invalid_json", 1, 1)]
    assert sorted(os.listdir(output_dir / "topics")) == ["ingest-events.b64", "ingest-monitors.b64",
                                                         "outcomes.jsonl"]
