"""Differential test of event normalization: `relay normalize` against Sentry's own normalizer
(`sentry_relay.processing.StoreNormalizer` of the pinned `sentry-relay` package), on every
sample event of `../shared/corpus/sentry-samples`, on the events captured from real clients in
`fixtures/client-events/` (sentry-sdk 1.x/2.x/3.x, @sentry/node, @sentry/browser in Chromium, the Rust
`sentry` crate, `sentry-cli send-event`; `scripts/capture-client-events.sh`)
and on hand-made events with invalid values of every field type, oversized strings and
databags (with trimming on).

Both get the same event and options; `received` is pinned and then ignored. An event must come
out identical (payload, `_meta`, `errors`), or be listed in `KNOWN_DIFFERENCES` with the exact
set of differing paths (array indices as `*`) and the reason. The list is exact both ways: a
new difference fails, and so does a listed one that disappeared (remove it from the list).
These are open gaps of normalization, not deliberate deviations; the harness for looking at
them is `scripts/normalize-diff.py`.
"""

import importlib.util
import json
import os
import uuid

import pytest
from sentry_relay.processing import StoreNormalizer

from fixtures.relay import REPO_ROOT

RECEIVED = "2024-01-01T00:00:00Z"
CORPUS_DIRECTORIES = [
    os.path.join(REPO_ROOT, "..", "shared", "corpus", "sentry-samples"),
    os.path.join(REPO_ROOT, "tests", "integration", "fixtures", "client-events"),
]

_spec = importlib.util.spec_from_file_location("normalize_diff", os.path.join(REPO_ROOT, "scripts", "normalize-diff.py"))
normalize_diff = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(normalize_diff)

KNOWN_DIFFERENCES = {}

LONG = "x" * 10_000

def _span(op, span_id, start, end):
    return {"op": op, "span_id": span_id, "parent_span_id": "c" * 16, "trace_id": "b" * 32,
            "start_timestamp": start, "timestamp": end, "exclusive_time": 1}

# Hand-made events: invalid values of every field type, oversized strings and databags.
HANDMADE = {
    # App start spans of an old React Native SDK, a sent trace exclusive time, nested spans.
    "react-native-4-transaction": {
        "type": "transaction", "transaction": "App", "start_timestamp": 1704067190.0,
        "timestamp": 1704067195.0, "platform": "javascript",
        "sdk": {"name": "sentry.javascript.react-native", "version": "4.2.0"},
        "contexts": {"trace": {"trace_id": "b" * 32, "span_id": "c" * 16, "op": "ui.load", "exclusive_time": 3}},
        "measurements": {"app_start_cold": {"value": 1200}},
        "spans": [_span("app_start_cold", "d" * 16, 1704067190.0, 1704067191.2),
                  _span("app_start_warm", "e" * 16, 1704067191.0, 1704067191.5),
                  _span("db", "f" * 16, 1704067192.0, 1704067193.0)],
    },
    "invalid-types": {
        "level": 5, "platform": ["python"], "release": {"a": 1}, "dist": 3, "environment": True,
        "timestamp": "yesterday", "fingerprint": "abc", "tags": "a=b", "extra": [1, 2],
        "user": {"id": {"x": 1}, "email": 42, "ip_address": "not an ip", "geo": "here"},
        "request": {"url": 1, "method": 2, "headers": "h", "cookies": 3, "data": {"a": 1}},
        "contexts": {"os": "Linux", "device": {"memory_size": "big"}, "trace": {"trace_id": "xyz"}},
        "breadcrumbs": {"values": [{"timestamp": "then", "level": "loud", "message": 1}]},
        "exception": {"values": [{"type": 1, "value": {"a": 1}, "mechanism": "oops"}]},
        "modules": {"a": 1}, "sdk": {"name": 1}, "logentry": {"message": 5, "params": "p"},
    },
    "oversized": {
        "message": LONG, "culprit": LONG, "transaction": LONG, "server_name": LONG,
        "extra": {"k%d" % i: {"nested": {"deeper": {"deepest": {"bottom": LONG}}}} for i in range(50)},
        "tags": {"t%d" % i: LONG for i in range(20)},
        "breadcrumbs": {"values": [{"message": LONG, "data": {"d": LONG}} for _ in range(120)]},
        "request": {"data": {"big": LONG * 3}, "url": "https://example.com/" + LONG},
    },
    "transaction-spans-measurements": {
        "type": "transaction", "transaction": "/api/users/1234/orders/abcdef0123456789abcdef0123456789",
        "transaction_info": {"source": "url"},
        "start_timestamp": 1704067100.0, "timestamp": 1704067110.0,
        "contexts": {"trace": {"trace_id": "a" * 32, "span_id": "b" * 16, "op": "http.server"}},
        "measurements": {"lcp": {"value": 1200}, "fcp": {"value": 800, "unit": "millisecond"},
                         "frames_total": {"value": 100}, "frames_slow": {"value": 10}, "Bad-Name": {"value": 1}},
        "spans": [
            {"span_id": "c" * 16, "parent_span_id": "b" * 16, "trace_id": "a" * 32, "op": "db",
             "start_timestamp": 1704067101.0, "timestamp": 1704067102.5, "description": "SELECT 1"},
            {"span_id": "d" * 16, "parent_span_id": "b" * 16, "trace_id": "a" * 32,
             "start_timestamp": "2024-01-01T00:58:22Z", "timestamp": 1704067105.0},
        ],
    },
}


def _corpus_events():
    for directory in CORPUS_DIRECTORIES:
        for name in sorted(os.listdir(directory)):
            if name.endswith(".json"):
                with open(os.path.join(directory, name)) as file:
                    yield name, json.load(file)


def _differences(relay_bin, name, event, trimming, server_knobs=False):
    if isinstance(event, dict) and "event_id" not in event:
        # Sentry would generate a random id; pin one (normalize-diff.py does the same).
        event["event_id"] = uuid.uuid5(uuid.NAMESPACE_URL, name).hex
    options = {"received_at": RECEIVED}
    flags = ["--received", RECEIVED]
    if trimming:
        options["enable_trimming"] = True
        flags.append("--enable-trimming")
    if server_knobs:
        # The steps the server pipeline enables on top (normalization.md §1.1, last column).
        options.update(normalize_user_agent=True, normalize_spans=True)
        flags += ["--normalize-user-agent", "--normalize-spans"]
    theirs, their_error = normalize_diff.run_sentry(StoreNormalizer, options, event)
    ours, our_error = normalize_diff.run_relay(relay_bin, flags, event)
    if their_error or our_error:
        # Both must reject (or neither); the reasons are worded differently.
        assert bool(their_error) == bool(our_error), (their_error, our_error)
        return set()
    found = []
    normalize_diff.diff(normalize_diff.strip_ignored(theirs), normalize_diff.strip_ignored(ours), [], found)
    return {"%s %s" % (kind, normalize_diff.generalize(path)) for kind, path in found}


@pytest.mark.parametrize("name,event", list(_corpus_events()), ids=lambda value: value if isinstance(value, str) else "")
def test_corpus_event_matches_sentry(relay_bin, name, event):
    expected = KNOWN_DIFFERENCES.get(name, ("", set()))[1]
    assert _differences(relay_bin, name, event, trimming=False) == expected


@pytest.mark.parametrize("name,event", list(_corpus_events()), ids=lambda value: value if isinstance(value, str) else "")
def test_corpus_event_matches_sentry_with_the_server_knobs(relay_bin, name, event):
    expected = KNOWN_DIFFERENCES.get(name, ("", set()))[1]
    assert _differences(relay_bin, name, event, trimming=True, server_knobs=True) == expected


@pytest.mark.parametrize("name", sorted(HANDMADE))
def test_handmade_event_matches_sentry_with_the_server_knobs(relay_bin, name):
    event = json.loads(json.dumps(HANDMADE[name]))
    expected = KNOWN_DIFFERENCES.get(name, ("", set()))[1]
    assert _differences(relay_bin, name, event, trimming=True, server_knobs=True) == expected


@pytest.mark.parametrize("name", sorted(HANDMADE))
def test_handmade_event_matches_sentry_with_trimming(relay_bin, name):
    event = json.loads(json.dumps(HANDMADE[name]))
    expected = KNOWN_DIFFERENCES.get(name, ("", set()))[1]
    assert _differences(relay_bin, name, event, trimming=True) == expected


def test_known_differences_have_reasons():
    for name, (reason, paths) in KNOWN_DIFFERENCES.items():
        assert reason and paths, name
