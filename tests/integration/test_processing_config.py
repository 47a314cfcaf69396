"""Startup checks of the processing section (config.md §4.11, §5): broken Kafka or Redis
settings fail `relay run` with a message naming the setting; unused topic assignments are
logged."""

import json

from fixtures import signing
from fixtures.relay import run_cli
from fixtures.util import wait_until


def _run_processing(tmp_path, processing):
    directory = tmp_path / "config"
    directory.mkdir()
    config = {"relay": {"mode": "managed"}, "processing": dict({"enabled": True}, **processing)}
    (directory / "config.yml").write_text(json.dumps(config))
    (directory / "credentials.json").write_text(json.dumps(signing.generate_credentials()))
    return run_cli(["run"], config_dir=directory)


def test_unknown_secondary_kafka_config_is_fatal(tmp_path, relay_bin):
    result = _run_processing(
        tmp_path,
        {
            "kafka_config": [{"name": "bootstrap.servers", "value": "127.0.0.1:9092"}],
            "topics": {"profiles": {"name": "profiles", "config": "nowhere"}},
        },
    )
    assert result.returncode == 1
    assert "invalid kafka configuration for topic 'Profiles'" in result.stderr
    assert "unknown kafka config name" in result.stderr


def test_invalid_redis_url_names_the_setting(tmp_path, relay_bin):
    result = _run_processing(tmp_path, {"redis": "not a url"})
    assert result.returncode == 1
    assert "processing.redis" in result.stderr


def test_unused_topic_assignment_is_logged_and_relay_runs(relay, upstream):
    processing_relay = relay(
        upstream,
        mode="managed",
        config={
            "processing": {
                "enabled": True,
                "kafka_config": [{"name": "bootstrap.servers", "value": "127.0.0.1:9092"}],
                "topics": {"not_a_topic": "whatever"},
            }
        },
    )
    # The settings are valid: the error is logged and relay serves requests.
    wait_until(
        lambda: "unused topic assignment 'not_a_topic'" in processing_relay.stderr_text(),
        message="unused topic assignment was not logged",
    )
    assert processing_relay.get("/api/relay/healthcheck/live/").status_code == 200
