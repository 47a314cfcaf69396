"""Self-test of the Kafka fixtures (fixtures/kafka.py, fixtures/processing.py) against the real
broker: messages are produced here with confluent-kafka, no relay binary is involved."""

import json
import time
import uuid

import msgpack
import pytest

from fixtures.kafka import FAST_AGGREGATOR, KafkaMessage
from fixtures.processing import (
    LOGICAL_TOPICS,
    SchemaError,
    assert_schema,
    category_id,
    decode_trace_item,
    outcome_id,
    summarize_outcomes,
    trace_item_attributes,
    trace_item_id,
    trace_item_to_dict,
)

EVENT_ID = "9f0c3b0a2c9e4d3f8c2b7a1e5d4c3b2a"


def _outcome(outcome, category, quantity, reason=None, **extra):
    message = {"timestamp": "2024-05-29T16:26:40.000000Z", "org_id": 1, "project_id": 42, "key_id": 123,
               "outcome": outcome}
    if reason is not None:
        message["reason"] = reason
    message.update({"category": category, "quantity": quantity})
    message.update(extra)
    return json.dumps(message).encode()


def _event_message(event_id=EVENT_ID, **event):
    payload = json.dumps(dict({"event_id": event_id, "level": "error"}, **event)).encode()
    return msgpack.packb({"type": "event", "payload": payload, "start_time": int(time.time()),
                          "event_id": event_id, "project_id": 42, "remote_addr": "127.0.0.1",
                          "attachments": []})


# --- topics and config -------------------------------------------------------------------


def test_topics_are_fresh_and_unique(kafka_topics):
    assert set(kafka_topics) == set(LOGICAL_TOPICS)
    names = list(kafka_topics.names.values())
    assert len(set(names)) == len(names)
    for logical, name in kafka_topics.items():
        assert name.startswith(LOGICAL_TOPICS[logical] + "-")
        assert kafka_topics[LOGICAL_TOPICS[logical]] == name  # default name works as key too
    # A fresh topic is empty.
    kafka_topics.consumer("events").assert_empty(timeout=0.5)


def test_processing_config_and_overrides(kafka_topics):
    config = kafka_topics.config()
    assert config["enabled"] is True
    assert config["topics"] == kafka_topics.names
    assert {"name": "bootstrap.servers", "value": "127.0.0.1:9092"} in config["kafka_config"]
    assert config["redis"] == "redis://127.0.0.1:6379"
    assert kafka_topics.run_id in config["projectconfig_cache_prefix"]

    shard = kafka_topics.create_topic("shard")
    changed = kafka_topics.config(
        {"topics": {"events": [kafka_topics["events"], shard], "items": None}, "attachment_chunk_size": "1KiB"},
        kafka_params={"queue.buffering.max.ms": None, "compression.type": "zstd"},
    )
    assert changed["topics"]["events"] == [kafka_topics["events"], shard]
    assert "items" not in changed["topics"]
    assert changed["topics"]["spans"] == kafka_topics["spans"]
    assert changed["attachment_chunk_size"] == "1KiB"
    params = {entry["name"]: entry["value"] for entry in changed["kafka_config"]}
    assert "queue.buffering.max.ms" not in params and params["compression.type"] == "zstd"
    assert kafka_topics.config()["topics"]["events"] == kafka_topics["events"]  # base untouched

    relay_config = kafka_topics.relay_config({"aggregator": {"bucket_interval": 2}})
    assert relay_config["processing"]["topics"] == kafka_topics.names
    assert relay_config["aggregator"] == dict(FAST_AGGREGATOR, bucket_interval=2)


# --- raw consumer ------------------------------------------------------------------------


def test_raw_messages_round_trip_in_order(kafka_topics):
    consumer = kafka_topics.consumer("events")
    for index in range(3):
        kafka_topics.produce("events", b"value-%d" % index, key=b"key-%d" % index,
                             headers=[("project_id", b"42"), ("index", str(index).encode())])
    kafka_topics.produce("events", b"no headers")

    messages = consumer.get_messages(3)
    assert [m.value for m in messages] == [b"value-0", b"value-1", b"value-2"]
    value, key, headers = messages[1]
    assert (value, key, headers) == (b"value-1", b"key-1", {"project_id": "42", "index": "1"})
    assert messages[1].header_list == [("project_id", b"42"), ("index", b"1")]
    assert messages[1].logical == "events" and messages[1].topic == kafka_topics["events"]

    last = consumer.get_message()
    assert last.value == b"no headers" and last.key is None
    assert not last.header_list and last.headers == {}
    consumer.assert_empty(timeout=0.5)


def test_second_consumer_reads_from_the_beginning(kafka_topics):
    kafka_topics.produce("spans", b"early")
    first = kafka_topics.consumer("spans").get_message()
    second = kafka_topics.consumer(kafka_topics["spans"]).get_message()
    assert first.value == second.value == b"early"
    assert second.logical == "spans"


def test_timeout_fails_fast_and_lists_what_arrived(kafka_topics):
    consumer = kafka_topics.consumer("events")
    kafka_topics.produce("events", b"only-one")
    started = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        consumer.get_messages(2, timeout=1.5)
    assert time.monotonic() - started < 5
    text = str(failure.value)
    assert "expected 2 Kafka message(s)" in text and "got 1" in text and "only-one" in text
    # Nothing was lost by the failed call.
    assert consumer.get_message(timeout=1).value == b"only-one"


def test_assert_empty_reports_unexpected_messages(kafka_topics):
    consumer = kafka_topics.consumer("monitors")
    kafka_topics.produce("monitors", b"surprise")
    with pytest.raises(AssertionError) as failure:
        consumer.assert_empty(timeout=5)
    assert "surprise" in str(failure.value)


def test_predicate_leaves_other_messages_buffered(kafka_topics):
    consumer = kafka_topics.consumer("events", "transactions")
    kafka_topics.produce("events", b"a")
    kafka_topics.produce("transactions", b"b")
    kafka_topics.produce("events", b"c")

    wanted = consumer.get_message(predicate=lambda m: m.logical == "transactions")
    assert wanted.value == b"b"
    rest = consumer.get_messages(2, predicate=lambda m: m.logical == "events")
    assert [m.value for m in rest] == [b"a", b"c"]
    consumer.assert_empty(timeout=0.3)


def test_collect_until_and_collect(kafka_topics):
    consumer = kafka_topics.consumer("metrics_sessions")
    for index in range(4):
        kafka_topics.produce("metrics_sessions", json.dumps({"n": index}).encode())
    values = consumer.collect_until(lambda got: sum(v["n"] for v in got) >= 3, decode=KafkaMessage.json)
    assert [v["n"] for v in values] == [0, 1, 2]
    assert [m.json()["n"] for m in consumer.collect(0.5)] == [3]
    with pytest.raises(AssertionError, match="never"):
        consumer.collect_until(lambda got: False, timeout=0.5, description="never")


# --- typed decoders and schemas ----------------------------------------------------------


def test_event_decoding_keeps_bin_and_str_apart(kafka_topics):
    consumer = kafka_topics.consumer("events")
    kafka_topics.produce("events", _event_message(message="hello"))
    event, message = consumer.get_event()
    assert event == {"event_id": EVENT_ID, "level": "error", "message": "hello"}
    assert isinstance(message["payload"], bytes)
    assert isinstance(message["event_id"], str) and message["event_id"] == EVENT_ID
    assert message["attachments"] == []


def test_typed_getter_rejects_wrong_kind(kafka_topics):
    consumer = kafka_topics.consumer("attachments")
    kafka_topics.produce("attachments", _event_message())
    with pytest.raises(AssertionError, match="expected a 'attachment_chunk' message"):
        consumer.get_attachment_chunk(timeout=2)


def test_known_msgpack_deviations_are_adapted(kafka_topics):
    # One consumer per topic: there is no ordering across topics.
    consumer = kafka_topics.consumer("attachments")
    profiles = kafka_topics.consumer("profiles")
    attachment_id = str(uuid.uuid4())
    chunk = {"type": "attachment_chunk", "payload": b"\x00\x01", "event_id": EVENT_ID, "project_id": 42,
             "id": attachment_id, "chunk_index": 0}
    report = {"type": "user_report", "project_id": 42, "start_time": int(time.time()),
              "payload": json.dumps({"event_id": EVENT_ID, "name": "", "email": "", "comments": "hi"}).encode()}
    profile = {"type": "profile", "organization_id": 1, "project_id": 42, "key_id": None,
               "received": int(time.time()), "retention_days": 90, "payload": b"{}"}
    attachment = {"type": "attachment", "event_id": EVENT_ID, "project_id": 42,
                  "attachment": {"id": attachment_id, "name": "log.txt", "rate_limited": False,
                                 "attachment_type": "event.attachment", "size": 2, "retention_days": 90,
                                 "data": b"hi"}}
    kafka_topics.produce("attachments", msgpack.packb(chunk))
    kafka_topics.produce("attachments", msgpack.packb(report))
    kafka_topics.produce("attachments", _event_message())
    kafka_topics.produce("attachments", msgpack.packb(attachment))
    kafka_topics.produce("profiles", msgpack.packb(profile))

    data, message = consumer.get_attachment_chunk()
    assert data == b"\x00\x01" and message["id"] == attachment_id and "attachment_id" not in message
    user_report, _ = consumer.get_user_report()
    assert user_report["comments"] == "hi"
    # The ingest-attachments schema does not describe events: they are checked as ingest-events.
    event, _ = consumer.get_event()
    assert event["event_id"] == EVENT_ID
    assert consumer.get_individual_attachment()["attachment"]["data"] == b"hi"
    _, profile_message = profiles.get_profile()
    assert profile_message["key_id"] is None

    # Without the documented adaptations these messages do not match the schemas...
    for topic, decoded in (("attachments", chunk), ("attachments", report), ("profiles", profile),
                           ("attachments", msgpack.unpackb(_event_message()))):
        with pytest.raises(SchemaError):
            assert_schema(topic, decoded, known_deviations=False)
    # ...and an adaptation only covers the documented shape.
    broken_chunk = dict(chunk)
    del broken_chunk["id"]
    with pytest.raises(SchemaError, match="without a string `id`"):
        assert_schema("ingest-attachments", broken_chunk)


def test_outcome_schema_valid_and_invalid(kafka_topics):
    valid = _outcome(2, 1, 3, reason="get_lost")
    invalid = json.dumps({"org_id": 1, "project_id": 42, "outcome": "rate_limited", "quantity": 1}).encode()

    assert assert_schema("outcomes", valid)["reason"] == "get_lost"  # raw bytes are decoded
    assert_schema("outcomes-billing", json.loads(valid))
    with pytest.raises(SchemaError) as failure:
        assert_schema("outcomes", invalid)
    assert "outcomes" in str(failure.value) and "rate_limited" in str(failure.value)

    consumer = kafka_topics.consumer("outcomes")
    kafka_topics.produce("outcomes", invalid)
    with pytest.raises(SchemaError):
        consumer.get_outcome(timeout=5)
    # validate=False reads it anyway.
    unchecked = kafka_topics.consumer("outcomes", validate=False)
    assert unchecked.get_outcome(timeout=5)["outcome"] == "rate_limited"


def test_metric_and_span_getters_validate(kafka_topics):
    metrics = kafka_topics.consumer("metrics_sessions")
    spans = kafka_topics.consumer("spans")
    bucket = {"org_id": 1, "project_id": 42, "name": "c:sessions/session@none", "type": "c", "value": 1.0,
              "timestamp": 1717000000, "tags": {"release": "app@1.0"}, "retention_days": 90}
    span = {"organization_id": 1, "project_id": 42, "received": 1717000001.5, "retention_days": 90,
            "trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b175", "name": "GET /",
            "status": "ok", "is_segment": True, "start_timestamp": 1717000000.0, "end_timestamp": 1717000000.5,
            "attributes": {"sentry.op": {"type": "string", "value": "http.server"}}}
    kafka_topics.produce("metrics_sessions", json.dumps(bucket).encode(), headers=[("namespace", b"sessions")])
    kafka_topics.produce("spans", json.dumps(span).encode(), headers=[("project_id", b"42")])
    kafka_topics.produce("spans", json.dumps(dict(span, span_id=None)).encode())

    assert metrics.get_metrics(1) == [bucket]
    assert spans.get_span() == span
    with pytest.raises(SchemaError, match="ingest-spans"):
        spans.get_span()


def test_trace_items_decode(kafka_topics):
    from sentry_protos.snuba.v1.trace_item_pb2 import AnyValue, TraceItem

    item_uuid = uuid.uuid4()
    item = TraceItem(organization_id=1, project_id=42, trace_id="5b8efff798038103d269b633813fc60c",
                     item_id=item_uuid.int.to_bytes(16, "little"), item_type=3, retention_days=90)
    item.attributes["sentry.body"].CopyFrom(AnyValue(string_value="hello"))
    item.attributes["sentry.payload_size_bytes"].CopyFrom(AnyValue(int_value=5))
    item.outcomes.key_id = 123
    item.outcomes.category_count.add(data_category=23, quantity=1)

    consumer = kafka_topics.consumer("items")
    kafka_topics.produce("items", item.SerializeToString(), headers=[("project_id", b"42"), ("item_type", b"3")])
    message = consumer.get_message()
    assert message.headers == {"project_id": "42", "item_type": "3"}
    decoded = message.trace_item()
    assert decoded == decode_trace_item(message.value) == assert_schema("snuba-items", message.value)
    assert trace_item_attributes(decoded) == {"sentry.body": "hello", "sentry.payload_size_bytes": 5}
    assert trace_item_id(decoded) == item_uuid
    as_dict = trace_item_to_dict(decoded)
    assert as_dict["item_id"] == str(item_uuid) and as_dict["project_id"] == "42"
    assert as_dict["outcomes"]["category_count"] == [{"data_category": 23, "quantity": "1"}]
    with pytest.raises(SchemaError):
        decode_trace_item(b"\xff\xff\xff")


# --- outcomes ----------------------------------------------------------------------------


def test_wait_for_outcomes_sums_across_messages_and_topics(kafka_topics):
    consumer = kafka_topics.outcomes_consumer()
    kafka_topics.produce("outcomes_billing", _outcome(2, 1, 2, reason="get_lost"))
    kafka_topics.produce("outcomes", _outcome(3, 4, 100, reason="too_large"))
    kafka_topics.produce("outcomes_billing", _outcome(2, 1, 1, reason="get_lost"))
    kafka_topics.produce("outcomes_billing", _outcome(0, 12, 5))

    outcomes = consumer.wait_for_outcomes({
        ("rate_limited", "get_lost", "error"): 3,
        (3, "too_large", 4): 100,
        ("accepted", None, "span"): 5,
    })
    assert len(outcomes) == 4
    assert summarize_outcomes(outcomes)[(2, "get_lost", 1)] == 3
    consumer.assert_empty(timeout=0.3)
    assert outcome_id("client_discard") == 5 and category_id("log_byte") == 24


def test_wait_for_outcomes_failures_are_explicit(kafka_topics):
    consumer = kafka_topics.outcomes_consumer()
    kafka_topics.produce("outcomes_billing", _outcome(2, 1, 2))
    with pytest.raises(AssertionError, match="too many rate_limited/None/error: 2 > 1"):
        consumer.wait_for_outcomes({("rate_limited", None, "error"): 1}, timeout=5)

    kafka_topics.produce("outcomes", _outcome(1, 1, 1, reason="release-version"))
    with pytest.raises(AssertionError, match="unexpected outcome filtered/release-version/error"):
        consumer.wait_for_outcomes({("rate_limited", None, "error"): 1}, timeout=5)

    kafka_topics.produce("outcomes", _outcome(0, 12, 1))  # billing outcome on the wrong topic
    with pytest.raises(AssertionError, match="expected outcomes_billing"):
        consumer.wait_for_outcomes({("accepted", None, "span"): 1}, timeout=5)

    kafka_topics.produce("outcomes", _outcome(3, 1, 1, reason="internal"))
    with pytest.raises(AssertionError) as failure:
        consumer.wait_for_outcomes({("invalid", "internal", "error"): 2}, timeout=1)
    text = str(failure.value)
    assert "not reached within" in text and "(got {invalid/internal/error: 1})" in text


def test_wait_for_outcomes_predicate_and_inexact(kafka_topics):
    consumer = kafka_topics.outcomes_consumer()
    kafka_topics.produce("outcomes", _outcome(3, 1, 1, reason="internal", project_id=7))
    kafka_topics.produce("outcomes", _outcome(3, 1, 1, reason="internal"))
    kafka_topics.produce("outcomes", _outcome(5, 1, 4, reason="queue_overflow"))
    got = consumer.wait_for_outcomes({("invalid", "internal", "error"): 1}, exact=False,
                                     predicate=lambda outcome: outcome["project_id"] == 42)
    assert [o["project_id"] for o in got] == [42]
    # The other project's outcome is still there for a later read.
    assert consumer.get_outcome(predicate=lambda m: m.json()["project_id"] == 7)["quantity"] == 1
