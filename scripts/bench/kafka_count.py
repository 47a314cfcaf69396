"""Kafka side of `scripts/bench-processing.sh`: topics, and counting what reached them.

    kafka_count.py create NAME...                  single-partition topics, waits until listed
    kafka_count.py delete NAME...                  best effort
    kafka_count.py wait TOPIC [--timeout S]        waits for a first message, then until the
                                                   topic is quiet for 1 s; prints the count
    kafka_count.py count TOPIC [--skip N] [--t0-ms MS] [--idle S] [--also NAME:KIND ...]

`count` reads TOPIC (and the `--also` topics) from offset 0 until no message arrived for
`--idle` seconds, i.e. until the topics stopped growing, and prints one `key=value` line:

* `delivered`: messages on TOPIC after the first `--skip` (the warm-up ones),
* `first_ms` / `last_ms`: Kafka timestamps (producer create time) of the first and last counted
  message; `kafka_eps` = delivered / (last_ms − t0_ms) s, the Kafka-side throughput measured
  from the first request (`--t0-ms`) to the last message,
* `e2e_p50_ms` / `e2e_p99_ms` / `e2e_max_ms`: message timestamp minus the event's `received`
  (set by relay when the request arrived), over every 16th counted message: how long envelopes
  waited inside relay before they were produced,
* for each `--also NAME:KIND`: `KIND=<count>`; for KIND `outcomes`/`outcomes_billing` also a
  summary `KIND_summary=outcome/reason/category:quantity,...` (outcomes are JSON).

tansu (the test broker) reports an unreliable high watermark and joins consumer groups slowly,
so partitions are assigned directly and counted by consuming, never by asking for offsets.
"""

import argparse
import json
import sys
import time
import uuid

import msgpack
from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

BOOTSTRAP = "127.0.0.1:9092"
ADMIN_TIMEOUT_SECS = 20.0
BATCH = 5000
POLL_SECS = 0.2
SAMPLE_EVERY = 16
OUTCOME_NAMES = {0: "accepted", 1: "filtered", 2: "rate_limited", 3: "invalid", 4: "abuse",
                 5: "client_discard", 6: "cardinality_limited"}


def create(names):
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    futures = admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1) for name in names],
                                  operation_timeout=ADMIN_TIMEOUT_SECS, request_timeout=ADMIN_TIMEOUT_SECS)
    for name, future in futures.items():
        try:
            future.result(timeout=ADMIN_TIMEOUT_SECS)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                sys.exit("creating topic %s failed: %s" % (name, error))
    deadline = time.monotonic() + ADMIN_TIMEOUT_SECS
    missing = set(names)
    while missing:
        metadata = admin.list_topics(timeout=ADMIN_TIMEOUT_SECS)
        missing = {n for n in missing if n not in metadata.topics or metadata.topics[n].error}
        if missing and time.monotonic() > deadline:
            sys.exit("topics not listed after %.0fs: %s" % (ADMIN_TIMEOUT_SECS, sorted(missing)))
        if missing:
            time.sleep(0.1)


def delete(names):
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    try:
        for future in admin.delete_topics(list(names), operation_timeout=5, request_timeout=5).values():
            try:
                future.result(timeout=5)
            except Exception:  # noqa: BLE001 - cleanup only
                pass
    except Exception:  # noqa: BLE001 - cleanup only
        pass


def consumer(topics):
    c = Consumer({
        "bootstrap.servers": BOOTSTRAP,
        "group.id": "relay-bench-%s" % uuid.uuid4().hex,  # required, never joined (assign only)
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "fetch.wait.max.ms": 50,
        "topic.metadata.refresh.interval.ms": 1000,
    })
    c.assign([TopicPartition(name, 0, 0) for name in topics])
    return c


def drain(c, idle_secs, timeout_secs, on_message, first_timeout_secs=None):
    """Consumes until nothing arrived for `idle_secs` (after the first message, if
    `first_timeout_secs` is given: until then the wait for the first one is that long)."""
    started = last_seen = time.monotonic()
    seen_any = False
    while True:
        now = time.monotonic()
        if now - started > timeout_secs:
            return "timeout"
        quiet = now - last_seen
        if seen_any or first_timeout_secs is None:
            if quiet >= idle_secs:
                return "idle"
        elif quiet >= first_timeout_secs:
            return "nothing"
        for message in c.consume(BATCH, POLL_SECS):
            error = message.error()
            if error is not None:
                if error.fatal():
                    sys.exit("consumer failed: %s" % error)
                continue
            seen_any = True
            last_seen = time.monotonic()
            on_message(message)


def wait(topic, timeout):
    c = consumer([topic])
    count = [0]

    def on_message(_message):
        count[0] += 1

    state = drain(c, 1.0, timeout + 5, on_message, first_timeout_secs=timeout)
    c.close()
    print(count[0])
    if state == "nothing":
        sys.exit("no message reached %s within %ss" % (topic, timeout))


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def received_secs(value):
    """The `received` of an event message (msgpack with a JSON `payload`), or None."""
    try:
        payload = msgpack.unpackb(value, raw=False).get("payload")
        received = json.loads(payload).get("received")
        return float(received) if received is not None else None
    except Exception:  # noqa: BLE001 - a message of another shape is simply not sampled
        return None


def count(topic, skip, t0_ms, idle, timeout, also):
    kinds = {}
    for spec in also:
        name, _, kind = spec.partition(":")
        kinds[name] = kind or name
    c = consumer([topic] + list(kinds))
    state = {"seen": 0, "delivered": 0, "first_ms": None, "last_ms": None, "no_ts": 0}
    latencies = []
    others = {kind: 0 for kind in kinds.values()}
    outcome_summaries = {}
    consumer_started = time.time()
    last_arrival = [None]

    def on_message(message):
        name = message.topic()
        if name != topic:
            kind = kinds.get(name, name)
            others[kind] = others.get(kind, 0) + 1
            if kind.startswith("outcomes"):
                try:
                    outcome = json.loads(message.value())
                    key = "%s/%s/%s" % (OUTCOME_NAMES.get(outcome.get("outcome"), outcome.get("outcome")),
                                        outcome.get("reason"), outcome.get("category"))
                    summary = outcome_summaries.setdefault(kind, {})
                    summary[key] = summary.get(key, 0) + (outcome.get("quantity") or 0)
                except ValueError:
                    pass
            return
        state["seen"] += 1
        if state["seen"] <= skip:
            return
        state["delivered"] += 1
        last_arrival[0] = time.time()
        ts_type, ts_ms = message.timestamp()
        if ts_type == TIMESTAMP_NOT_AVAILABLE:
            state["no_ts"] += 1
            return
        if state["first_ms"] is None or ts_ms < state["first_ms"]:
            state["first_ms"] = ts_ms
        if state["last_ms"] is None or ts_ms > state["last_ms"]:
            state["last_ms"] = ts_ms
        if state["delivered"] % SAMPLE_EVERY == 1:
            received = received_secs(message.value())
            if received is not None:
                latencies.append(ts_ms - received * 1000.0)

    ended = drain(c, idle, timeout, on_message)
    c.close()

    fields = {"delivered": state["delivered"], "warmup_skipped": min(skip, state["seen"])}
    if state["last_ms"] is not None and t0_ms:
        span_s = max(0.001, (state["last_ms"] - t0_ms) / 1000.0)
        fields.update(first_ms=state["first_ms"], last_ms=state["last_ms"], kafka_secs="%.2f" % span_s,
                      kafka_eps="%.0f" % (state["delivered"] / span_s))
    elif last_arrival[0] is not None and t0_ms:
        # No producer timestamps: fall back to when this reader saw the last message.
        span_s = max(0.001, last_arrival[0] - t0_ms / 1000.0)
        fields.update(kafka_secs="%.2f" % span_s, kafka_eps="%.0f" % (state["delivered"] / span_s),
                      timing="reader_wallclock")
    for name, value in (("e2e_p50_ms", 0.5), ("e2e_p99_ms", 0.99), ("e2e_max_ms", 1.0)):
        result = percentile(latencies, value)
        if result is not None:
            fields[name] = "%.1f" % result
    fields.update(others)
    for kind, summary in sorted(outcome_summaries.items()):
        fields[kind + "_summary"] = ",".join("%s:%d" % item for item in sorted(summary.items()))
    fields["read_secs"] = "%.1f" % (time.time() - consumer_started)
    if ended == "timeout":
        fields["stopped"] = "timeout"
    print(" ".join("%s=%s" % item for item in fields.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("create").add_argument("names", nargs="+")
    sub.add_parser("delete").add_argument("names", nargs="+")
    w = sub.add_parser("wait")
    w.add_argument("topic")
    w.add_argument("--timeout", type=float, default=30.0)
    k = sub.add_parser("count")
    k.add_argument("topic")
    k.add_argument("--skip", type=int, default=0)
    k.add_argument("--t0-ms", type=int, default=0)
    k.add_argument("--idle", type=float, default=3.0)
    k.add_argument("--timeout", type=float, default=600.0)
    k.add_argument("--also", action="append", default=[])
    args = parser.parse_args()
    if args.command == "create":
        create(args.names)
    elif args.command == "delete":
        delete(args.names)
    elif args.command == "wait":
        wait(args.topic, args.timeout)
    else:
        count(args.topic, args.skip, args.t0_ms, args.idle, args.timeout, args.also)


if __name__ == "__main__":
    main()
