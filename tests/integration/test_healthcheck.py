"""Health checks (http-api.md §8) and the internal listener (§1)."""

import pytest
import requests

from fixtures.asserts import EXPECT_SERVER, assert_empty, assert_status
from fixtures.upstream import FOREVER
from fixtures.util import free_port, wait_until


def _ready_status(relay):
    return requests.get(relay.internal_url("/api/relay/healthcheck/ready/"), timeout=5)


@pytest.mark.parametrize("path", ["/api/relay/healthcheck/live/", "/api/0/relays/live/"])
def test_live(proxy_relay, path):
    response = proxy_relay.get(path)
    assert_status(response, 200)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"is_healthy": True}
    assert response.headers["Server"] == EXPECT_SERVER


def test_head_is_answered_for_get_routes(proxy_relay):
    response = proxy_relay.request("HEAD", "/api/relay/healthcheck/live/")
    assert_status(response, 200)


def test_proxy_mode_becomes_ready(proxy_relay):
    proxy_relay.wait_ready()
    response = _ready_status(proxy_relay)
    assert_status(response, 200)
    assert response.json() == {"is_healthy": True}


def test_unknown_variant(proxy_relay):
    response = proxy_relay.get("/api/relay/healthcheck/foo/")
    assert_status(response, 400)
    assert response.text == "Invalid URL: unknown variant `foo`, expected `live` or `ready`"
    assert not response.headers.get("Content-Type", "").startswith("application/json")


@pytest.mark.parametrize(
    "path", ["/api/relay/healthcheck/live", "/api/relay/healthcheck/ready", "/api/relay/whatever/", "/api/relay/some/deep/path/"]
)
def test_reserved_paths_are_404(proxy_relay, upstream, path):
    assert_empty(proxy_relay.get(path), 404)
    assert upstream.requests_to(r"^/api/relay") == []


def test_health_routes_reject_options(proxy_relay):
    assert_status(proxy_relay.options("/api/relay/healthcheck/live/"), 405)


def test_post_to_health_route_is_405(proxy_relay):
    response = proxy_relay.post("/api/relay/healthcheck/live/")
    assert_empty(response, 405)
    assert "GET" in response.headers["Allow"]


def test_managed_ready_only_after_registration(relay, upstream):
    upstream.fail_with(500, body=b"registration broken", match=r"/register/challenge/$", count=FOREVER)
    managed = relay(upstream, mode="managed", wait_ready=False)
    upstream.wait_for(
        lambda: len(upstream.requests_to(r"/register/challenge/$")) >= 2, message="relay did not retry registration"
    )
    not_ready = _ready_status(managed)
    assert_status(not_ready, 503)
    assert not_ready.json() == {"is_healthy": False}
    assert managed.get("/api/relay/healthcheck/live/").status_code == 200
    upstream.clear_failures()
    managed.wait_ready(timeout=15)
    assert managed.relay_id in upstream.registered_relays


def test_managed_ready_always(relay, upstream):
    upstream.fail_with(500, match=r"/register/", count=FOREVER)
    managed = relay(upstream, mode="managed", config={"auth": {"ready": "always"}}, wait_ready=False)
    managed.wait_ready()


def test_internal_listener(relay, upstream):
    internal_port = free_port()
    instance = relay(upstream, mode="proxy", config={"relay": {"internal_port": internal_port}})
    internal = "http://127.0.0.1:%d" % internal_port
    live = requests.get(internal + "/api/relay/healthcheck/live/", timeout=5)
    assert_status(live, 200)
    assert live.json() == {"is_healthy": True}
    assert_empty(instance.get("/api/relay/healthcheck/live/"), 404)
    assert_status(requests.get(internal + "/api/0/relays/live/", timeout=5), 404)
    assert requests.get(internal + "/api/0/relays/live/", timeout=5).content == b""
    assert_status(requests.get(internal + "/api/0/some/forwarded/path/", timeout=5), 404)
    assert upstream.requests_to(r"^/api/0/some/") == []
    wait_until(lambda: requests.get(internal + "/api/relay/healthcheck/ready/", timeout=5).status_code == 200)
