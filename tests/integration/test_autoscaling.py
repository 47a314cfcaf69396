"""Autoscaling gauges (http-api.md §8): `GET /api/relay/autoscaling/`."""

import re

import pytest
import requests

from fixtures.asserts import assert_empty, assert_status
from fixtures.util import free_port

LINE = re.compile(r'^relay_([a-z_]+)(\{[a-z_]+="[^"]*"(?:, [a-z_]+="[^"]*")*\})? (\S+)$')
EXPECTED_NAMES = [
    "memory_usage",
    "up",
    "spool_item_count",
    "spool_total_size",
    "service_utilization",
    "worker_pool_utilization",
    "runtime_utilization",
]


def parse_gauges(text):
    assert text.endswith("\n"), repr(text)
    gauges = []
    for line in text.splitlines():
        match = LINE.match(line)
        assert match, "malformed gauge line %r" % line
        gauges.append((match.group(1), match.group(2), float(match.group(3))))
    return gauges


def test_gauges_in_managed_mode(managed_relay, upstream):
    response = managed_relay.get("/api/relay/autoscaling/")
    assert_status(response, 200)
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    gauges = parse_gauges(response.text)
    assert [name for name, _, _ in gauges] == EXPECTED_NAMES
    values = {name: value for name, _, value in gauges}
    assert "relay_up 1\n" in response.text
    assert 0 < values["memory_usage"] <= 1
    assert values["spool_item_count"] >= 0
    assert values["spool_total_size"] >= 0
    for name in ("service_utilization", "worker_pool_utilization", "runtime_utilization"):
        assert 0 <= values[name] <= 1, name
    [tags] = [tags for name, tags, _ in gauges if name == "service_utilization"]
    assert tags == '{relay_service="UpstreamRelayService", instance_id="0"}'
    # A second scrape reports the time since the first one and stays well-formed.
    again = parse_gauges(managed_relay.get("/api/relay/autoscaling/").text)
    assert [name for name, _, _ in again] == EXPECTED_NAMES


def test_head_is_answered(managed_relay):
    response = managed_relay.request("HEAD", "/api/relay/autoscaling/")
    assert_status(response, 200)


def test_proxy_mode_is_404(proxy_relay):
    response = proxy_relay.get("/api/relay/autoscaling/")
    assert_status(response, 404)
    assert response.text == "Autoscaling metrics not enabled"


def test_post_is_405(managed_relay):
    response = managed_relay.post("/api/relay/autoscaling/")
    assert_status(response, 405)
    assert response.headers["Allow"] == "GET,HEAD"


@pytest.mark.parametrize("path", ["/api/relay/autoscaling", "/api/relay/autoscaling/extra/"])
def test_other_paths_are_reserved(managed_relay, path):
    assert_empty(managed_relay.get(path), 404)


def test_served_on_the_internal_listener(relay, upstream):
    managed = relay(upstream, mode="managed", config={"relay": {"internal_port": free_port()}})
    internal = requests.get(managed.internal_url("/api/relay/autoscaling/"), timeout=5)
    assert_status(internal, 200)
    assert [name for name, _, _ in parse_gauges(internal.text)] == EXPECTED_NAMES
    assert_empty(managed.get("/api/relay/autoscaling/"), 404)
