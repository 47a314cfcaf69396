"""Pytest wiring for the relay integration tests.

Fixtures:
* `upstream` - a started `FakeUpstream` with the default project config for key
  `31a5a894b4524f74a9a8d0e27e21ba91` / project 42; the test fails at teardown if the upstream
  recorded protocol violations (bad signatures, unparsable envelopes, ...).
* `make_upstream` - factory for additional fake upstreams (same teardown checks).
* `relay` - `RelayFactory`: `relay(upstream, mode="proxy"|"managed"|"static", config={...})`.
* `managed_relay` / `proxy_relay` - shortcuts that start a relay of that mode against `upstream`.
* `kafka_topics` - per-test Kafka topics, processing config and consumers (fixtures/kafka.py).

When a test fails, the stderr of every relay it started is printed in the teardown section.
"""

import os
import sys

import pytest

from fixtures.relay import RelayFactory, relay_binary
from fixtures.upstream import FakeUpstream


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def _test_failed(request):
    report = getattr(request.node, "rep_call", None)
    return report is None or report.failed


@pytest.fixture(scope="session")
def relay_bin():
    path = relay_binary()
    if not os.access(path, os.X_OK):
        pytest.fail("relay binary not found at %s (build it with `cargo build`, or set RELAY_BIN)" % path)
    return path


@pytest.fixture
def make_upstream():
    created = []

    def factory():
        upstream = FakeUpstream().start()
        created.append(upstream)
        return upstream

    yield factory
    for upstream in created:
        upstream.stop()
    violations = [error for upstream in created for error in upstream.errors]
    if violations:
        pytest.fail("fake upstream recorded protocol violations:\n  " + "\n  ".join(violations), pytrace=False)


@pytest.fixture
def upstream(make_upstream):
    return make_upstream()


@pytest.fixture
def relay(relay_bin, tmp_path_factory, request):
    factory = RelayFactory(tmp_path_factory)
    yield factory
    factory.stop_all()
    if _test_failed(request):
        for index, instance in enumerate(factory.created):
            sys.stderr.write(
                "\n===== relay #%d %s (config %s) stderr =====\n%s\n"
                % (index, instance.url(), instance.config_dir, instance.stderr_text()[-20000:])
            )


@pytest.fixture
def proxy_relay(relay, upstream):
    return relay(upstream, mode="proxy")


@pytest.fixture
def managed_relay(relay, upstream):
    return relay(upstream, mode="managed")


# --- processing mode (Kafka) -----------------------------------------------------------------


@pytest.fixture
def kafka_topics():
    """`KafkaTopics` (fixtures/kafka.py): a fresh, uniquely named Kafka topic per logical topic
    of `processing.topics`, the relay `processing` config using them (`.config()`,
    `.relay_config()`) and consumers (`.consumer("events")`, `.outcomes_consumer()`).
    Consumers are closed and the topics deleted at teardown."""
    # Imported here so that tests without Kafka do not need confluent-kafka.
    from fixtures.kafka import KafkaTopics

    topics = KafkaTopics()
    yield topics
    topics.close()


@pytest.fixture
def processing_relay(relay, upstream, kafka_topics):
    """Factory for managed processing relays against `upstream` (which serves the project
    configs) writing to the per-test `kafka_topics`: `processing_relay(config=None,
    processing=None)`; `config` is deep-merged over `kafka_topics.relay_config()` (fast
    aggregator), `processing` over its `processing` section."""

    def factory(config=None, processing=None):
        return relay(upstream, mode="managed", config=kafka_topics.relay_config(config, processing))

    return factory
