"""Runtime operations: config reload of the `health` section (config.md §1.3) and the
`SIGUSR1` dequeue toggle (config.md §5)."""

import copy
import os
import signal
import time

from fixtures.asserts import assert_json_error, assert_status
from fixtures.envelope import event_envelope
from fixtures.relay import write_config
from fixtures.util import wait_until

# Time given to a paused relay to (wrongly) forward an envelope before asserting it did not.
PAUSED_OBSERVATION_SECS = 0.5


def _ready_status(instance):
    return instance.get("/api/relay/healthcheck/ready/").status_code


def _rewrite_health(instance, health):
    config = copy.deepcopy(instance.config)
    config["health"] = dict(config.get("health", {}), **health)
    write_config(instance.config_dir, config)


def test_reload_applies_the_health_section(relay, upstream):
    instance = relay(upstream, mode="proxy", config={"relay": {"config_reload_interval": 0}})
    wait_until(lambda: _ready_status(instance) == 200, message="relay never became ready")

    # A watermark every machine exceeds: readiness fails and ingestion is refused.
    _rewrite_health(instance, {"max_memory_bytes": 1})
    wait_until(lambda: _ready_status(instance) == 503, message="reloaded watermark not applied")
    refused = wait_until(
        lambda: (lambda r: (r,) if r.status_code == 503 else None)(instance.send_envelope(42, event_envelope()))
    )[0]
    assert_json_error(refused, 503, "failed to queue envelope", cause="relay is running out of memory")

    _rewrite_health(instance, {"max_memory_bytes": None})
    wait_until(lambda: _ready_status(instance) == 200, message="restored config not applied")
    assert_status(instance.send_envelope(42, event_envelope()), 200)


def test_broken_config_on_reload_keeps_the_running_one(relay, upstream):
    instance = relay(upstream, mode="proxy", config={"relay": {"config_reload_interval": 0}})
    wait_until(lambda: _ready_status(instance) == 200, message="relay never became ready")
    with open(os.path.join(instance.config_dir, "config.yml"), "w") as handle:
        handle.write("relay: [this is: not valid\n")
    wait_until(lambda: "config reload failed" in instance.stderr_text(), message="reload error not logged")
    assert instance.is_running()
    assert _ready_status(instance) == 200
    assert_status(instance.send_envelope(42, event_envelope()), 200)
    upstream.wait_for_envelopes(1)


def test_sigusr1_pauses_and_resumes_sending(relay, upstream):
    instance = relay(upstream, mode="proxy")
    instance.send_signal(signal.SIGUSR1)
    wait_until(lambda: "dequeue=false" in instance.stderr_text(), message="pause not logged")

    envelope = event_envelope("held while paused")
    assert_status(instance.send_envelope(42, envelope), 200)
    time.sleep(PAUSED_OBSERVATION_SECS)
    assert upstream.envelopes == []

    instance.send_signal(signal.SIGUSR1)
    wait_until(lambda: "dequeue=true" in instance.stderr_text(), message="resume not logged")
    [received] = upstream.wait_for_envelopes(1)
    assert received.envelope.event_id == envelope.event_id


def test_own_warnings_are_reported_to_sentry(relay, upstream):
    """relay-protocol.md §12: with `sentry.enabled`, warnings and errors become Sentry events
    sent to `sentry.dsn`, whatever `logging.level` is."""
    dsn = "http://%s@127.0.0.1:%d/666" % ("a1b2c3d4e5f60718293a4b5c6d7e8f90", upstream.port)
    instance = relay(
        upstream,
        mode="proxy",
        config={
            "sentry": {"enabled": True, "dsn": dsn, "environment": "ci"},
            "logging": {"level": "error"},
            # Every ingestion request is refused with 503, which relay logs as a warning.
            "health": {"max_memory_bytes": 1},
        },
    )
    wait_until(lambda: instance.send_envelope(42, event_envelope()).status_code == 503)

    def report_arrived():
        for received in upstream.envelopes:
            if received.project_id != 666:
                continue
            for item in received.envelope.items:
                event = item.json()
                if event.get("message") == "not handling request: service unavailable":
                    return event
        return None

    event = wait_until(report_arrived, message="no internal error report arrived")
    assert event["level"] == "warning"
    assert event["environment"] == "ci"
