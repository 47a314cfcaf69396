"""Event normalization through the real binary (normalization.md, processing.md §3.1-§3.2,
config.md §4.8): what a processing relay writes to Kafka, what a managed relay forwards at
either `normalization.level`, and GeoIP from a database the test creates.

Needs Redis on 127.0.0.1:6379 and Kafka (tansu) on 127.0.0.1:9092 (`scripts/services.sh`).
"""

import json
import time

from fixtures.asserts import assert_status
from fixtures.geoip import make_test_geoip
from fixtures.envelope import build_envelope, event_item, transaction_item, transaction_payload
from fixtures.projects import DEFAULT_PROJECT_ID
from fixtures.relay import RELAY_VERSION

from test_processing_events import read_event

PROJECT_ID = DEFAULT_PROJECT_ID


def _errors_by_name(event):
    return {error.get("name"): error for error in event.get("errors", [])}


def test_processing_relay_writes_normalized_events_with_meta_and_errors(processing_relay, kafka_topics):
    relay = processing_relay()
    events = kafka_topics.consumer("events")
    payload = {
        "message": "Order %s failed",
        "level": "catastrophic",
        "platform": "cobol",
        "release": "latest",
        "environment": "none",
        "user": {"email": 42, "id": "u1", "favourite_colour": "green"},
        "tags": {"a": "b", "empty": None},
        "contexts": {"os": {"name": "Linux"}, "runtime": {"raw_description": ".NET Framework 4.8.4250.0"}},
        "extra": {},
        "unknown_attribute": {"x": 1},
    }
    envelope = build_envelope(event_item(payload))
    before = time.time()
    assert_status(relay.send_envelope(PROJECT_ID, envelope), 200)
    event, _ = read_event(events, "events", envelope.event_id, before)

    # message → logentry (normalization.md §7.2); defaults and contexts typed (§7.8, §7.10).
    assert event["logentry"] == {"formatted": "Order %s failed"}
    assert event["level"] == "error" and event["platform"] == "other"
    assert event["contexts"]["os"] == {"os": "Linux", "name": "Linux", "type": "os"}
    assert event["contexts"]["runtime"]["name"] == ".NET Framework"
    assert event["contexts"]["trace"]["type"] == "trace"
    # Invalid values became null with their original value in `_meta` (§2, §10.1).
    meta = event["_meta"]
    assert meta["level"][""]["val"] == "catastrophic"
    assert meta["platform"][""]["val"] == "cobol"
    assert event["release"] is None and meta["release"][""]["val"] == "latest"
    assert event["environment"] is None and meta["environment"][""]["val"] == "none"
    assert meta["user"]["email"][""]["val"] == 42
    # Unknown user attributes move to user.data (§7 step 8); empty values are left out (§11).
    assert event["user"]["data"] == {"favourite_colour": "green"}
    assert event["tags"] == [["a", "b"], ["empty", None]]  # as StoreNormalizer keeps it
    assert "extra" not in event
    # Full normalization: unknown attributes removed, every error listed (§9, §10.2).
    assert event["unknown_attribute"] is None
    errors = _errors_by_name(event)
    assert errors["level"]["type"] == "invalid_data" and errors["level"]["value"] == "catastrophic"
    assert errors["user.email"]["type"] == "invalid_data"
    assert errors["unknown_attribute"]["type"] == "invalid_attribute"


def test_transaction_timestamps_become_numbers(processing_relay, kafka_topics):
    relay = processing_relay()
    transactions = kafka_topics.consumer("transactions")
    now = time.time()
    payload = transaction_payload(timestamp=now - 1)
    payload["start_timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 2))
    envelope = build_envelope(transaction_item(payload))
    assert_status(relay.send_envelope(PROJECT_ID, envelope), 200)
    event, _ = read_event(transactions, "transactions", envelope.event_id, now - 5)
    assert isinstance(event["start_timestamp"], float) and isinstance(event["timestamp"], float)
    assert event["start_timestamp"] <= event["timestamp"]
    assert event["transaction_info"]["source"]
    assert all(isinstance(span["start_timestamp"], float) for span in event.get("spans", []))


def test_geoip_fills_user_geo(processing_relay, kafka_topics, tmp_path):
    database = tmp_path / "geoip.mmdb"
    make_test_geoip(database)
    relay = processing_relay(config={"geoip": {"path": str(database)}})
    events = kafka_topics.consumer("events")
    envelope = build_envelope(event_item({"message": "where", "user": {"ip_address": "2.125.160.216"}}))
    before = time.time()
    assert_status(relay.send_envelope(PROJECT_ID, envelope), 200)
    event, _ = read_event(events, "events", envelope.event_id, before)
    assert event["user"]["geo"] == {"country_code": "GB", "city": "Boxford", "subdivision": "England",
                                    "region": "United Kingdom"}


def test_broken_geoip_path_stops_startup(relay, upstream, tmp_path):
    broken = tmp_path / "not-a-database.mmdb"
    broken.write_bytes(b"not a maxmind database")
    process = relay(upstream, mode="managed", config={"geoip": {"path": str(broken)}}, wait=False)
    assert process.wait_exit(timeout=30) != 0
    assert "geoip.path" in process.stderr_text()


def _managed_event(managed_relay_factory, upstream, level, payload):
    config = {"normalization": {"level": level}} if level else None
    managed = managed_relay_factory(upstream, mode="managed", config=config)
    envelope = build_envelope(event_item(payload))
    assert_status(managed.send_envelope(PROJECT_ID, envelope), 200)
    [received] = upstream.wait_for_envelopes(1, predicate=lambda e: e.envelope.event_id == envelope.event_id)
    item = received.envelope.get_item("event")
    return managed, json.loads(item.payload), item.headers


def test_managed_relay_forwards_message_as_logentry(relay, upstream):
    managed, event, headers = _managed_event(relay, upstream, None,
                                             {"message": "hello", "level": "bogus", "unknown_key": 1})
    assert event["logentry"] == {"formatted": "hello"}
    # The forward-compatible subset: unknown attributes stay, no `errors` list; invalid values
    # still move into `_meta`.
    assert event["unknown_key"] == 1
    assert "errors" not in event
    assert event["_meta"]["level"][""]["val"] == "bogus"
    assert event["ingest_path"] == [{"version": RELAY_VERSION, "public_key": managed.public_key}]
    assert not headers.get("fully_normalized")


def test_managed_relay_ignores_fully_normalized_from_an_sdk(relay, upstream):
    # Only a trusted relay may say an event needs no normalization (processing.md §3.1); an
    # SDK setting the header must not get a raw event past this relay and, through it, past
    # the processing relay that trusts it.
    managed = relay(upstream, mode="managed")
    envelope = build_envelope(event_item({"message": "hello"}, fully_normalized=True))
    assert_status(managed.send_envelope(PROJECT_ID, envelope), 200)
    [received] = upstream.wait_for_envelopes(1, predicate=lambda e: e.envelope.event_id == envelope.event_id)
    item = received.envelope.get_item("event")
    assert json.loads(item.payload)["logentry"] == {"formatted": "hello"}
    assert not item.headers.get("fully_normalized")


def test_managed_relay_with_full_level_normalizes_everything(relay, upstream):
    _, event, headers = _managed_event(relay, upstream, "full", {"message": "hello", "unknown_key": 1})
    assert event["unknown_key"] is None
    assert _errors_by_name(event)["unknown_key"]["type"] == "invalid_attribute"
    assert headers.get("fully_normalized") is True


FAST_OUTCOMES = {"aggregator": {"bucket_interval": 1, "initial_delay": 0}, "outcomes": {"emit_outcomes": True}}


def test_managed_relay_rejects_invalid_transactions(relay, upstream):
    managed = relay(upstream, mode="managed", config=FAST_OUTCOMES)
    payload = transaction_payload()
    # Ends before it starts (normalization.md §5).
    payload["timestamp"] = payload["start_timestamp"] - 10
    envelope = build_envelope(transaction_item(payload))
    assert_status(managed.send_envelope(PROJECT_ID, envelope), 200)

    def invalid_transaction_categories():
        categories = {
            bucket["tags"]["category"]
            for received in upstream.envelopes_with("metric_buckets")
            for item in received.items
            for bucket in item.json()
            if bucket["name"] == "c:outcomes/invalid@none" and bucket["tags"].get("reason") == "invalid_transaction"
        }
        # transaction (2) is the item's own category; its spans count too.
        return categories if "2" in categories else None

    upstream.wait_for(invalid_transaction_categories, message="no invalid/invalid_transaction outcome")
    assert not [e for e in upstream.envelopes_with("transaction") if e.envelope.event_id == envelope.event_id]
