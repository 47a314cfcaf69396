"""A processing relay behind an edge relay, and its Kafka delivery guarantees (processing.md §7,
config.md §5).

* The real `sentry_sdk` sends to an edge relay (managed, non-processing), which forwards to a
  processing relay (managed, Kafka = the tansu of `scripts/services.sh`); every product lands on
  its topic exactly once.
* An unreachable broker: the processing relay holds each envelope's buffer permit until Kafka
  acknowledged its messages, so the memory budget fills and the endpoint answers 503; nothing
  that got a 200 is lost once the broker is reachable again (librdkafka keeps the messages
  queued until `message.timeout.ms`).
* SIGTERM flushes what the workers and librdkafka still hold before the process exits.
* A processing relay without `processing.redis` takes its project configs from the upstream.

"Broker unreachable" is simulated with `KafkaGate`, a TCP forwarder in front of the shared
tansu that the relay uses as its only bootstrap server. While the gate is closed it accepts and
immediately closes connections, so librdkafka never learns a broker address and keeps every
message queued; once open, the bootstrap metadata points librdkafka at tansu itself. The topics
exist all along (no topic-creation race with librdkafka's metadata requests), and nothing was
ever sent to the broker before the gate opened, so there is nothing librdkafka could retry into
a duplicate.
"""

import signal
import socket
import threading

import pytest
import sentry_sdk
import sentry_sdk.crons

from fixtures import signing
from fixtures.asserts import assert_json_error, assert_status
from fixtures.envelope import build_envelope, event_envelope, make_item, transaction_item
from fixtures.kafka import BOOTSTRAP_SERVERS
from fixtures.processing import decode_json
from fixtures.projects import DEFAULT_DSN_KEY, DEFAULT_PROJECT_ID
from fixtures.util import wait_until

RELEASE = "processing-chain@1.0"
ATTACHMENT_BYTES = b"attachment sent by sentry_sdk through the chain"
# Deliveries after an outage: librdkafka reconnects within `reconnect.backoff.max.ms`.
RECOVERY_TIMEOUT_SECS = 30.0
CHAIN_TIMEOUT_SECS = 20.0
# Exactly-once checks: how long to watch for a duplicate after the expected messages arrived.
DUPLICATE_WINDOW_SECS = 1.5
BUFFERED_ENVELOPES = 20
SHUTDOWN_TIMEOUT_SECS = 15
# Reconnect quickly once the gate opens (librdkafka's default backoff grows to 10 s).
FAST_RECONNECT = {"reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 250}


# --- helpers -------------------------------------------------------------------------------


class KafkaGate:
    """A TCP forwarder on a free 127.0.0.1 port to the shared broker; `close()`d it accepts
    and drops connections (the port stays bound, so nothing else can take it), `open()` it
    forwards them."""

    def __init__(self, target=BOOTSTRAP_SERVERS.split(",")[0]):
        host, _, port = target.rpartition(":")
        self._target = (host, int(port))
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._open = False
        self._stopped = False
        self._lock = threading.Lock()
        self._sockets = set()
        self.refused = 0  # connections dropped while closed (shows librdkafka tried)
        self.forwarded = 0
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def open(self):
        with self._lock:
            self._open = True

    def close(self):
        with self._lock:
            self._open = False
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            _close_socket(sock)

    def stop(self):
        self._stopped = True
        self.close()
        _close_socket(self._listener)

    def _accept_loop(self):
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                forward = self._open
                if not forward:
                    self.refused += 1
            if not forward:
                _close_socket(client)
                continue
            try:
                server = socket.create_connection(self._target, timeout=5)
                server.settimeout(None)
            except OSError:
                _close_socket(client)
                continue
            with self._lock:
                self.forwarded += 1
                self._sockets.update((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    @staticmethod
    def _pump(source, destination):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                destination.sendall(data)
        except OSError:
            pass
        finally:
            _close_socket(source)
            _close_socket(destination)


def _close_socket(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


@pytest.fixture
def kafka_gate():
    gate = KafkaGate()
    yield gate
    gate.stop()


def processing_relay(relay, upstream, kafka_topics, config=None, processing=None, kafka_params=None,
                     downstream=None):
    """A managed processing relay producing to `kafka_topics`. `downstream`: credentials of a
    relay that may send through it as an internal relay (a static relay entry)."""
    overrides = dict(config or {})
    if downstream is not None:
        overrides["auth"] = {
            "static_relays": {downstream["id"]: {"public_key": downstream["public_key"], "internal": True}}
        }
    processing_config = kafka_topics.config(processing, kafka_params=kafka_params)
    return relay(upstream, mode="managed", config=dict(overrides, processing=processing_config,
                                                       aggregator={"bucket_interval": 1, "initial_delay": 0}))


def event_message(message):
    """The decoded msgpack `event` message and its event JSON payload."""
    decoded = message.msgpack()
    return decoded, decode_json(decoded["payload"])


def wait_for_event_ids(consumer, event_ids, timeout=CHAIN_TIMEOUT_SECS):
    """Reads `event` messages until every id of `event_ids` arrived; fails on an unexpected
    or repeated id. Returns {event_id: decoded message}."""
    wanted = set(event_ids)
    seen = {}

    def decode(message):
        decoded = message.msgpack()
        assert decoded.get("type") == "event", "unexpected message %s" % message.describe()
        event_id = decoded["event_id"]
        assert event_id in wanted, "unexpected event %s (expected one of %d)" % (event_id, len(wanted))
        assert event_id not in seen, "event %s produced twice" % event_id
        seen[event_id] = decoded
        return decoded

    consumer.collect_until(
        lambda values: set(seen) == wanted,
        timeout=timeout,
        decode=decode,
        description=lambda values: "all %d events (missing %d)" % (len(wanted), len(wanted - set(seen))),
    )
    return seen


def send_until_rejected(relay, max_attempts=200):
    """Sends event envelopes until one is refused; returns (accepted event ids, refusal)."""
    accepted = []
    for _ in range(max_attempts):
        envelope = event_envelope("held while kafka is unreachable")
        response = relay.send_envelope(DEFAULT_PROJECT_ID, envelope)
        if response.status_code != 200:
            return accepted, response
        accepted.append(envelope.event_id)
    raise AssertionError("%d envelopes accepted with the broker unreachable, none refused" % len(accepted))


# --- 1. SDK -> edge relay -> processing relay -> Kafka -----------------------------------------


def test_sentry_sdk_through_edge_and_processing_relay(relay, upstream, kafka_topics):
    edge_credentials = signing.generate_credentials()
    processing = processing_relay(relay, upstream, kafka_topics, downstream=edge_credentials)
    edge = relay(processing, mode="managed", credentials=edge_credentials)
    consumer = kafka_topics.consumer("events", "attachments", "transactions", "monitors", "metrics_sessions")

    sentry_sdk.init(
        dsn="http://%s@127.0.0.1:%d/%d" % (DEFAULT_DSN_KEY, edge.port, DEFAULT_PROJECT_ID),
        release=RELEASE,
        environment="chain-test",
        traces_sample_rate=1.0,
        auto_session_tracking=True,
        default_integrations=False,
        auto_enabling_integrations=False,
        send_client_reports=False,
    )
    try:
        with sentry_sdk.new_scope() as scope:
            scope.add_attachment(bytes=ATTACHMENT_BYTES, filename="chain.txt", content_type="text/plain")
            try:
                raise ValueError("chain test exception")
            except ValueError:
                error_id = sentry_sdk.capture_exception()
        with sentry_sdk.start_transaction(name="chain-transaction", op="chain.op"):
            with sentry_sdk.start_span(op="db.query", name="select 1"):
                pass
        check_in_id = sentry_sdk.crons.capture_checkin(monitor_slug="chain-monitor", status="ok")
        # An application-mode session: start, end (sent as a session update on flush).
        isolation = sentry_sdk.get_isolation_scope()
        isolation.start_session(session_mode="application")
        isolation.end_session()
        sentry_sdk.flush(timeout=10)
    finally:
        sentry_sdk.get_client().close(timeout=2)
        sentry_sdk.init()
    assert error_id and check_in_id

    found = {}

    def classify(message):
        logical = message.logical
        if logical in ("events", "attachments", "transactions", "monitors"):
            decoded = message.msgpack()
            key = (logical, decoded["type"])
        else:
            decoded = message.json()
            key = (logical, decoded["name"])
        found.setdefault(key, []).append(decoded)
        return key

    events_expected = {
        ("attachments", "attachment_chunk"),
        ("attachments", "event"),
        ("transactions", "event"),
        ("monitors", "check_in"),
    }
    session_expected = {("metrics_sessions", "c:sessions/session@none")}
    # Sessions are checked last (they take an aggregation cycle longer), so a failure there
    # does not hide the state of the other products.
    consumer.collect_until(
        lambda values: events_expected <= set(found),
        timeout=CHAIN_TIMEOUT_SECS,
        decode=classify,
        description=lambda values: "messages %s (got %s)" % (sorted(events_expected), sorted(found)),
    )
    # Anything late (a duplicate, a stray event on `events`) would show up here.
    for message in consumer.collect(DUPLICATE_WINDOW_SECS):
        classify(message)
    counts = {key: len(values) for key, values in found.items() if key not in session_expected}
    assert counts == {key: 1 for key in events_expected}, counts

    # The error event travels with its attachment on `ingest-attachments` (§7.2).
    [chunk] = found[("attachments", "attachment_chunk")]
    [error] = found[("attachments", "event")]
    assert error["event_id"] == error_id
    assert error["project_id"] == DEFAULT_PROJECT_ID
    assert error["remote_addr"] == "127.0.0.1"
    [descriptor] = error["attachments"]
    assert descriptor["name"] == "chain.txt"
    assert descriptor["content_type"] == "text/plain"
    assert descriptor["size"] == len(ATTACHMENT_BYTES)
    assert descriptor["chunks"] == 1
    assert chunk["payload"] == ATTACHMENT_BYTES
    assert chunk["id"] == descriptor["id"] and chunk["event_id"] == error_id
    event = decode_json(error["payload"])
    assert event["sdk"]["name"] == "sentry.python"
    assert event["sdk"]["version"] == sentry_sdk.VERSION
    assert event["release"] == RELEASE
    assert event["environment"] == "chain-test"
    [exception] = event["exception"]["values"]
    assert (exception["type"], exception["value"]) == ("ValueError", "chain test exception")

    [transaction_message] = found[("transactions", "event")]
    transaction = decode_json(transaction_message["payload"])
    assert transaction["transaction"] == "chain-transaction"
    assert transaction["contexts"]["trace"]["op"] == "chain.op"
    assert transaction["sdk"]["name"] == "sentry.python"
    assert transaction_message["remote_addr"] == "127.0.0.1"

    [check_in_message] = found[("monitors", "check_in")]
    check_in = decode_json(check_in_message["payload"])
    assert check_in["monitor_slug"] == "chain-monitor"
    assert check_in["status"] == "ok"
    assert check_in["check_in_id"].replace("-", "") == check_in_id.replace("-", "")
    assert check_in_message["project_id"] == DEFAULT_PROJECT_ID

    # Both relays were in the path: the edge registered through the processing relay, and
    # the processing relay answered the edge's config requests from the fake upstream.
    assert edge.relay_id in upstream.registered_relays
    assert upstream.config_fetches(DEFAULT_DSN_KEY)

    # The session update became session metrics in the processing relay (processing.md §3.6).
    consumer.collect_until(
        lambda values: session_expected <= set(found),
        timeout=CHAIN_TIMEOUT_SECS,
        decode=classify,
        description=lambda values: "session metrics %s (got %s)" % (sorted(session_expected), sorted(found)),
    )
    for message in consumer.collect(DUPLICATE_WINDOW_SECS):
        classify(message)
    counts = {key: len(values) for key, values in found.items()}
    assert counts == {key: 1 for key in events_expected | session_expected}, counts
    [session_bucket] = found[("metrics_sessions", "c:sessions/session@none")]
    assert session_bucket["value"] == 1.0
    assert session_bucket["project_id"] == DEFAULT_PROJECT_ID
    assert session_bucket["tags"]["session.status"] == "init"
    assert session_bucket["tags"]["release"] == RELEASE
    assert session_bucket["tags"]["environment"] == "chain-test"
    assert session_bucket["tags"]["sdk"].startswith("sentry.python/")


# --- 2. Kafka unreachable: backpressure, no loss ------------------------------------------------


def test_unreachable_broker_fills_the_budget_then_delivers_everything(relay, upstream, kafka_topics, kafka_gate):
    processing = processing_relay(
        relay,
        upstream,
        kafka_topics,
        config={"spool": {"envelopes": {"max_buffered_envelopes": BUFFERED_ENVELOPES}}},
        kafka_params=dict(FAST_RECONNECT, **{"bootstrap.servers": kafka_gate.address}),
    )
    events = kafka_topics.consumer("events")

    accepted, refused = send_until_rejected(processing)
    assert_json_error(refused, 503, "failed to queue envelope")
    # Every accepted envelope holds its permit until Kafka acknowledged it, so exactly the
    # budget's worth got in.
    assert len(accepted) == BUFFERED_ENVELOPES
    # Still refused: nothing can have been acknowledged while the gate is closed.
    rejected = []
    for _ in range(3):
        envelope = event_envelope("refused while the budget is full")
        response = processing.send_envelope(DEFAULT_PROJECT_ID, envelope)
        assert_status(response, 503)
        rejected.append(envelope.event_id)
    assert kafka_gate.refused > 0, "librdkafka never tried to reach the broker"
    assert kafka_gate.forwarded == 0

    kafka_gate.open()
    delivered = wait_for_event_ids(events, accepted, timeout=RECOVERY_TIMEOUT_SECS)
    assert all(message["project_id"] == DEFAULT_PROJECT_ID for message in delivered.values())
    # No duplicates and none of the refused envelopes show up later.
    events.assert_empty(timeout=DUPLICATE_WINDOW_SECS)
    assert not set(rejected) & set(delivered)

    # The permits came back with the acknowledgements: the relay accepts again.
    late = event_envelope("after recovery")
    wait_until(
        lambda: processing.send_envelope(DEFAULT_PROJECT_ID, late).status_code == 200,
        timeout=RECOVERY_TIMEOUT_SECS,
        message="the relay kept refusing envelopes after the broker came back",
    )
    wait_for_event_ids(events, [late.event_id])


# --- 3. SIGTERM flushes ----------------------------------------------------------------------


@pytest.mark.parametrize("broker", ["reachable", "back_during_shutdown"])
def test_sigterm_flushes_accepted_events_to_kafka(relay, upstream, kafka_topics, kafka_gate, broker):
    kafka_params = {"bootstrap.servers": kafka_gate.address}
    if broker == "reachable":
        kafka_gate.open()
        # A long batching delay keeps the messages in librdkafka's queue when SIGTERM comes.
        kafka_params["queue.buffering.max.ms"] = 3000
    else:
        kafka_params.update(FAST_RECONNECT)
    processing = processing_relay(
        relay, upstream, kafka_topics, config={"limits": {"shutdown_timeout": SHUTDOWN_TIMEOUT_SECS}},
        kafka_params=kafka_params,
    )
    events = kafka_topics.consumer("events")
    sent = [event_envelope("before shutdown %d" % index) for index in range(10)]
    for envelope in sent:
        assert_status(processing.send_envelope(DEFAULT_PROJECT_ID, envelope), 200)
    processing.send_signal(signal.SIGTERM)
    if broker == "back_during_shutdown":
        # The relay must wait for Kafka instead of exiting with the messages queued.
        wait_until(lambda: kafka_gate.refused > 0, message="librdkafka never tried to reach the broker")
        assert processing.is_running()
        kafka_gate.open()
    assert processing.wait_exit(timeout=SHUTDOWN_TIMEOUT_SECS + 10) == 0
    stderr = processing.stderr_text()
    assert "relay shutdown complete" in stderr
    # The drain ended because everything was acknowledged, not because time ran out.
    assert "shutdown timeout reached" not in stderr
    # Read only after the process is gone: whatever is on the topic now was flushed by it.
    wait_for_event_ids(events, [envelope.event_id for envelope in sent])
    events.assert_empty(timeout=DUPLICATE_WINDOW_SECS)


# --- 4. Managed processing without Redis -----------------------------------------------------


def test_managed_processing_without_redis(relay, upstream, kafka_topics):
    processing = processing_relay(relay, upstream, kafka_topics, processing={"redis": None})
    assert "redis" not in processing.config["processing"]
    consumer = kafka_topics.consumer("events", "transactions", "monitors")

    error = event_envelope("no redis")
    transaction = build_envelope(transaction_item())
    check_in = build_envelope(
        make_item("check_in", {"check_in_id": "b" * 32, "monitor_slug": "redisless", "status": "ok"})
    )
    for envelope in (error, transaction, check_in):
        assert_status(processing.send_envelope(DEFAULT_PROJECT_ID, envelope), 200)

    by_topic = {}
    consumer.collect_until(
        lambda values: len(values) == 3,
        decode=lambda message: by_topic.setdefault(message.logical, []).append(message) or message,
        description="one message on each of events, transactions, monitors",
    )
    consumer.assert_empty(timeout=DUPLICATE_WINDOW_SECS)
    assert sorted(by_topic) == ["events", "monitors", "transactions"]
    assert event_message(by_topic["events"][0])[0]["event_id"] == error.event_id
    assert event_message(by_topic["transactions"][0])[0]["event_id"] == transaction.event_id
    assert decode_json(by_topic["monitors"][0].msgpack()["payload"])["monitor_slug"] == "redisless"
    # The config came from the upstream (there is no Redis to read it from), and nothing
    # tried to reach a Redis.
    assert upstream.config_fetches(DEFAULT_DSN_KEY)
    assert "redis" not in processing.stderr_text().lower()



# --- 5. Outcomes of an edge relay reach Kafka through the processing relay ------------------


def test_edge_outcome_buckets_reach_kafka_with_the_edge_source(relay, upstream, kafka_topics):
    """An edge relay with `emit_outcomes: true` forwards its outcomes as `outcomes` metric
    buckets; the processing relay accepts them because the edge is an internal static relay
    and produces them as outcome messages, keeping the edge's `source` (outcomes.md §4.2)."""
    edge_credentials = signing.generate_credentials()
    processing = processing_relay(relay, upstream, kafka_topics, downstream=edge_credentials)
    edge = relay(
        processing,
        mode="managed",
        credentials=edge_credentials,
        config={
            "outcomes": {"emit_outcomes": True, "source": "pop-test"},
            "aggregator": {"bucket_interval": 1, "initial_delay": 0},
            "limits": {"max_event_size": "100B"},
        },
    )
    outcomes = kafka_topics.outcomes_consumer()

    oversized = build_envelope(make_item("event", b'{"message": "%s"}' % (b"x" * 200)))
    assert_status(edge.send_envelope(DEFAULT_PROJECT_ID, oversized), 413)

    received = outcomes.wait_for_outcomes(
        {("invalid", "too_large:event", "error"): 1}, timeout=CHAIN_TIMEOUT_SECS
    )
    assert [outcome.get("source") for outcome in received] == ["pop-test"]
    assert received[0]["project_id"] == DEFAULT_PROJECT_ID


# --- 6. SIGUSR1 pauses processing -------------------------------------------------------------


def test_sigusr1_pauses_and_resumes_processing(relay, upstream, kafka_topics):
    """config.md §5: SIGUSR1 toggles whether buffered envelopes are handed on for processing;
    envelopes keep being accepted meanwhile."""
    instance = processing_relay(relay, upstream, kafka_topics)
    events = kafka_topics.consumer("events")

    instance.send_signal(signal.SIGUSR1)
    wait_until(lambda: "SIGUSR1 receive, dequeue=false" in instance.stderr_text(),
               message="the pause was not logged")
    paused = event_envelope("sent while paused")
    assert_status(instance.send_envelope(DEFAULT_PROJECT_ID, paused), 200)
    events.assert_empty(timeout=1)

    instance.send_signal(signal.SIGUSR1)
    wait_until(lambda: "SIGUSR1 receive, dequeue=true" in instance.stderr_text(),
               message="the resume was not logged")
    wait_for_event_ids(events, [paused.event_id])
