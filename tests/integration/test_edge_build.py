"""The edge relay: the binary built without the `processing` cargo feature (no librdkafka, no
Redis), as a POP relay would run it. `scripts/test.sh` builds it as `target/debug/relay-edge`
and passes its path in `RELAY_EDGE_BIN`."""

import json
import os

import pytest

from fixtures import signing
from fixtures.asserts import assert_status
from fixtures.envelope import build_envelope, event_item
from fixtures.relay import run_cli

PROCESSING_NOT_COMPILED = "was not compiled with processing, cannot enable processing"


@pytest.fixture
def edge_bin(monkeypatch):
    """Makes every relay this test starts the edge build."""
    path = os.environ.get("RELAY_EDGE_BIN", "")
    if not os.access(path, os.X_OK):
        pytest.fail(
            "edge relay binary not found at %r: build it with "
            "`cargo build -p relay-server --no-default-features` and set RELAY_EDGE_BIN "
            "(scripts/test.sh does both)" % path
        )
    monkeypatch.setenv("RELAY_BIN", path)
    return path


def test_edge_build_refuses_processing(edge_bin, tmp_path):
    directory = tmp_path / "config"
    directory.mkdir()
    config = {"relay": {"mode": "managed"}, "processing": {"enabled": True}}
    (directory / "config.yml").write_text(json.dumps(config))
    (directory / "credentials.json").write_text(json.dumps(signing.generate_credentials()))
    result = run_cli(["run"], config_dir=directory)
    assert result.returncode == 1
    assert PROCESSING_NOT_COMPILED in result.stderr


def test_edge_build_has_no_project_config_command(edge_bin):
    # `relay project-config` writes to the processing Redis; the edge build has no Redis.
    result = run_cli(["project-config", "--help"])
    assert result.returncode == 2


def test_edge_build_forwards_envelopes(edge_bin, relay, upstream):
    edge = relay(upstream, mode="managed")
    sent = build_envelope(event_item({"message": "through the edge build"}))
    response = edge.send_envelope(42, sent)
    assert_status(response, 200)
    [received] = upstream.wait_for_envelopes(1)
    assert received.envelope.headers["event_id"] == sent.event_id
