"""Project configs of a processing relay come from Redis first (redis-and-quotas.md §2,
processing.md §1.3).

Needs the Redis on 127.0.0.1:6379 and Kafka on 127.0.0.1:9092 that `scripts/services.sh`
starts. Every test uses its own key prefix (tests run in parallel) and removes its keys
afterwards. Outage tests never touch the shared Redis: they run a throwaway `redis-server` on a
free port.

Which source a config came from is made visible through a reject-all quota (`limit: 0`) whose
reason code names the source: once the relay knows the config, the endpoint answers `429` with
that reason in `X-Sentry-Rate-Limits`. The fake upstream serves a config with a different
reason for the same key, and records whether it was asked at all.
"""

import json
import os
import shutil
import subprocess
import time
import uuid

import pytest
import requests

from fixtures.asserts import assert_json_error, parse_rate_limits
from fixtures.envelope import event_envelope
from fixtures.projects import disabled_project_config, new_dsn_key, project_config, quota
from fixtures.util import free_port, wait_until
from test_project_config_cli import Redis

REDIS_URL = "redis://127.0.0.1:6379"
KAFKA = "127.0.0.1:9092"
# Small cache windows so refreshes happen within a test.
EXPIRY_SECS = 1
GRACE_SECS = 30
WAIT_SECS = 20


def processing_config(prefix, redis_url=REDIS_URL, **sections):
    config = {
        "processing": {
            "enabled": True,
            "kafka_config": [{"name": "bootstrap.servers", "value": KAFKA}],
            "redis": redis_url,
            "projectconfig_cache_prefix": prefix,
        },
    }
    config.update(sections)
    return config


def sourced_config(public_key, source, **kwargs):
    """A project state whose reject-all error quota names `source` as its reason code."""
    return project_config(
        public_key=public_key,
        config={"quotas": [quota(["error"], 0, reason_code=source)]},
        **kwargs,
    )


@pytest.fixture
def prefix():
    value = "relay-processing-cache-test:%s" % uuid.uuid4().hex
    yield value
    client = Redis()
    try:
        for key in client.command("KEYS", value + ":*"):
            client.command("DEL", key)
    finally:
        client.close()


class RedisServerProcess:
    """A throwaway `redis-server` on its own port; only this process is ever stopped."""

    def __init__(self, directory, port=None):
        self.directory = str(directory)
        self.port = port or free_port()
        self.process = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self):
        os.makedirs(self.directory, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.directory],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def answers():
            client = Redis(port=self.port)
            try:
                return client.command("PING") == "PONG"
            finally:
                client.close()

        wait_until(answers, timeout=10, message="redis-server did not start")
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_process(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (scripts/services.sh installs it)")
    created = []

    def factory(port=None):
        server = RedisServerProcess(tmp_path / ("redis-%d" % len(created)), port)
        created.append(server)
        return server

    yield factory
    for server in created:
        server.stop()


def push(relay, tmp_path, state, *extra_args):
    """`relay project-config push` with the relay's own config (processing.redis + prefix)."""
    path = tmp_path / ("state-%s.json" % uuid.uuid4().hex)
    path.write_text(json.dumps(state))
    result = relay.cli("project-config", "push", str(path), *extra_args)
    assert result.returncode == 0, (result.stdout, result.stderr)


def send(relay, key):
    return relay.send_envelope(42, event_envelope(), dsn_key=key)


def rejection_reason(response):
    """The reason code of a 429 answer, None for any other answer."""
    if response.status_code != 429:
        return None
    reasons = [limit["reason"] for limit in parse_rate_limits(response.headers.get("X-Sentry-Rate-Limits"))]
    return reasons[0] if reasons else ""


def wait_for_reason(relay, key, reason, timeout=WAIT_SECS):
    """Sends events until the relay rejects them with `reason` (its config is then known)."""
    seen = []

    def rejected():
        current = rejection_reason(send(relay, key))
        seen.append(current)
        return current == reason

    wait_until(rejected, timeout=timeout, interval=0.1,
               message="never rejected with %r; answers seen: %r" % (reason, seen[-5:]))


def ready_status(relay):
    try:
        return requests.get(relay.internal_url("/api/relay/healthcheck/ready/"), timeout=2).status_code
    except requests.RequestException:
        return None


def wait_for_log(relay, text, timeout=WAIT_SECS):
    wait_until(lambda: text in relay.stderr_text(), timeout=timeout,
               message="%r never appeared in the relay log" % text)


def start_processing_relay(relay, upstream, prefix, redis_url=REDIS_URL, wait_ready=True, **sections):
    return relay(upstream, mode="managed", config=processing_config(prefix, redis_url, **sections),
                 wait_ready=wait_ready)


# --- reading from Redis -------------------------------------------------------------------------


def test_pushed_config_is_used_without_asking_the_upstream(relay, upstream, prefix, tmp_path):
    zstd_key, plain_key = new_dsn_key(), new_dsn_key()
    for key in (zstd_key, plain_key):
        upstream.project_configs[key] = sourced_config(key, "from-upstream")
    processing = start_processing_relay(relay, upstream, prefix)
    push(processing, tmp_path, sourced_config(zstd_key, "from-redis"))
    push(processing, tmp_path, sourced_config(plain_key, "from-redis-plain"), "--plain")

    wait_for_reason(processing, zstd_key, "from-redis")
    wait_for_reason(processing, plain_key, "from-redis-plain")
    assert upstream.config_fetches(zstd_key) == []
    assert upstream.config_fetches(plain_key) == []
    # The global config still comes from the upstream.
    assert upstream.global_config_fetches()


def test_disabled_config_in_redis_rejects_the_project(relay, upstream, prefix, tmp_path):
    key = new_dsn_key()
    upstream.project_configs[key] = sourced_config(key, "from-upstream")
    processing = start_processing_relay(relay, upstream, prefix)
    push(processing, tmp_path, disabled_project_config(public_key=key))

    answers = []

    def forbidden():
        answers.append(send(processing, key))
        # A 403 response is falsy (`Response.ok`), so answer with the status check.
        return answers[-1].status_code == 403

    wait_until(forbidden, timeout=WAIT_SECS, interval=0.1, message="the project was never rejected")
    response = answers[-1]
    assert_json_error(response, 403, "event submission rejected with_reason: ProjectId")
    assert upstream.config_fetches(key) == []


def test_revision_change_is_picked_up_after_expiry(relay, upstream, prefix, tmp_path):
    key = new_dsn_key()
    upstream.project_configs[key] = sourced_config(key, "from-upstream")
    processing = start_processing_relay(
        relay, upstream, prefix,
        cache={"project_expiry": EXPIRY_SECS, "project_grace_period": GRACE_SECS},
    )
    push(processing, tmp_path, sourced_config(key, "revision-1", rev="rev-1"))
    wait_for_reason(processing, key, "revision-1")

    # Same content under the old revision: the relay keeps its state ("not modified").
    push(processing, tmp_path, sourced_config(key, "revision-1", rev="rev-1"))
    time.sleep(EXPIRY_SECS + 0.5)
    assert rejection_reason(send(processing, key)) == "revision-1"

    # A new revision replaces the state once the old one is stale.
    push(processing, tmp_path, sourced_config(key, "revision-2", rev="rev-2"))
    wait_for_reason(processing, key, "revision-2", timeout=EXPIRY_SECS + 10)
    # And a later one without any quota lets events through again.
    push(processing, tmp_path, project_config(public_key=key, rev="rev-3"))
    wait_until(lambda: send(processing, key).status_code == 200, timeout=EXPIRY_SECS + 10, interval=0.1)
    assert upstream.config_fetches(key) == []


def test_redis_miss_falls_back_to_the_upstream(relay, upstream, prefix):
    key = new_dsn_key()
    upstream.project_configs[key] = sourced_config(key, "from-upstream")
    processing = start_processing_relay(relay, upstream, prefix)
    wait_for_reason(processing, key, "from-upstream")
    fetches = upstream.config_fetches(key)
    assert fetches
    assert fetches[0]["fullConfig"] is True


def test_unparsable_redis_value_falls_back_to_the_upstream(relay, upstream, prefix):
    broken, not_a_state = new_dsn_key(), new_dsn_key()
    for key in (broken, not_a_state):
        upstream.project_configs[key] = sourced_config(key, "from-upstream")
    client = Redis()
    try:
        client.command("SET", "%s:%s" % (prefix, broken), b"\x28\xb5\x2f\xfd not zstd, not json")
        # Valid JSON, but not a valid project state (a quota with a negative limit).
        bad_state = sourced_config(not_a_state, "from-redis")
        bad_state["config"]["quotas"] = [{"id": "q", "categories": ["error"], "limit": -1, "window": 60}]
        client.command("SET", "%s:%s" % (prefix, not_a_state), json.dumps(bad_state))
    finally:
        client.close()
    processing = start_processing_relay(relay, upstream, prefix)
    wait_for_reason(processing, broken, "from-upstream")
    wait_for_reason(processing, not_a_state, "from-upstream")
    log = processing.stderr_text()
    assert "error fetching project state %s from redis, asking the upstream" % broken in log
    assert "error fetching project state %s from redis, asking the upstream" % not_a_state in log


def test_no_cache_requests_skip_redis(relay, upstream, prefix, tmp_path):
    key = new_dsn_key()
    upstream.project_configs[key] = sourced_config(key, "from-upstream")
    processing = start_processing_relay(relay, upstream, prefix)
    push(processing, tmp_path, sourced_config(key, "from-redis"))
    wait_for_reason(processing, key, "from-redis")
    assert upstream.config_fetches(key) == []
    send(processing, key + ".no-cache")
    upstream.wait_for(lambda: upstream.config_fetches(key), message="no-cache key was not fetched upstream")
    assert [body["noCache"] for body in upstream.config_fetches(key)] == [True]


# --- Redis outages -------------------------------------------------------------------------------


def test_redis_down_at_startup(relay, upstream, prefix, redis_process, tmp_path):
    server = redis_process()  # not started yet: nothing listens on its port
    fallback_key, redis_key = new_dsn_key(), new_dsn_key()
    upstream.project_configs[fallback_key] = sourced_config(fallback_key, "from-upstream")
    upstream.project_configs[redis_key] = sourced_config(redis_key, "from-upstream")
    processing = start_processing_relay(relay, upstream, prefix, redis_url=server.url, wait_ready=False)

    # Relay runs, but is not ready, and says why.
    wait_for_log(processing, "cannot connect to redis for project configs")
    assert "127.0.0.1:%d" % server.port in processing.stderr_text()
    upstream.wait_for_registration(processing.relay_id)
    time.sleep(1)
    assert ready_status(processing) == 503
    assert processing.is_running()

    # Project configs come from the upstream meanwhile.
    wait_for_reason(processing, fallback_key, "from-upstream")
    assert "asking the upstream" in processing.stderr_text()

    # Redis appears: relay connects, becomes ready and reads configs from it.
    server.start()
    processing.wait_ready(timeout=WAIT_SECS)
    wait_for_log(processing, "connected to redis at 127.0.0.1:%d" % server.port)
    push(processing, tmp_path, sourced_config(redis_key, "from-redis"))
    wait_for_reason(processing, redis_key, "from-redis")
    assert upstream.config_fetches(redis_key) == []


def test_redis_lost_mid_run_and_recovered(relay, upstream, prefix, redis_process, tmp_path):
    server = redis_process().start()
    before, during, after = new_dsn_key(), new_dsn_key(), new_dsn_key()
    for key in (before, during, after):
        upstream.project_configs[key] = sourced_config(key, "from-upstream")
    processing = start_processing_relay(relay, upstream, prefix, redis_url=server.url)
    assert ready_status(processing) == 200
    push(processing, tmp_path, sourced_config(before, "from-redis"))
    wait_for_reason(processing, before, "from-redis")

    server.stop()
    wait_until(lambda: ready_status(processing) == 503, timeout=WAIT_SECS,
               message="relay stayed ready without redis")
    wait_for_log(processing, "redis at 127.0.0.1:%d (configured by processing.redis) is unreachable" % server.port)
    assert processing.is_running()
    # The state read before the outage stays in use; new keys come from the upstream.
    assert rejection_reason(send(processing, before)) == "from-redis"
    wait_for_reason(processing, during, "from-upstream")
    assert upstream.config_fetches(before) == []

    # Redis returns (empty: a fresh process) on the same port.
    server.start()
    processing.wait_ready(timeout=WAIT_SECS)
    wait_for_log(processing, "is reachable again")
    push(processing, tmp_path, sourced_config(after, "from-redis-again"))
    wait_for_reason(processing, after, "from-redis-again")
    assert upstream.config_fetches(after) == []
