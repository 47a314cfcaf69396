#!/usr/bin/env python3
"""Times Sentry's `sentry_relay.processing.StoreNormalizer().normalize_event(...)` on the
fixtures of `relay-normalization/benches/normalize.rs`, for comparison with our criterion
figures (BENCHMARKS.md, "Event normalization").

    .venv/bin/python scripts/bench-normalize-oracle.py [--runs N]

Per event it prints the median over N calls (after a warm-up) in µs, two ways:

* `raw`: `normalize_event(raw_event=<bytes>, json_loads=<identity>)`: JSON text in, JSON
  text out, i.e. Relay's parse + normalize + serialize plus the FFI crossing: the figure to
  compare with our `total`;
* `dict`: `normalize_event(<dict>)` as Sentry's event manager calls it (json.dumps before,
  json.loads after, both in Python).

The config is `StoreNormalizer`'s default with `received_at` fixed to the benchmark's
(2023-11-14T22:13:21Z), like our `NormalizationConfig::default()` with `received_at`.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

from sentry_relay.processing import StoreNormalizer

FIXTURES = Path(__file__).resolve().parent.parent / "relay-normalization" / "benches" / "fixtures"
EVENTS = [
    ("error_event_6_6kb", "error_event.json"),
    ("transaction_10_spans", "transaction_event.json"),
    ("native_event_58kb", "native_event.json"),
]
RECEIVED_AT = "2023-11-14T22:13:21Z"


def median_us(call, runs: int) -> float:
    for _ in range(max(runs // 10, 10)):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="timed calls per event and mode")
    args = parser.parse_args()

    normalizer = StoreNormalizer(received_at=RECEIVED_AT)
    print(f"{'event':<22} {'bytes':>7} {'raw µs':>9} {'dict µs':>9}")
    for name, file in EVENTS:
        raw = (FIXTURES / file).read_bytes()
        data = json.loads(raw)
        # Sanity: the event is accepted and comes back as an object.
        out = normalizer.normalize_event(raw_event=raw)
        assert isinstance(out, dict) and out.get("event_id"), name
        raw_us = median_us(lambda: normalizer.normalize_event(raw_event=raw, json_loads=lambda text: text), args.runs)
        dict_us = median_us(lambda: normalizer.normalize_event(dict(data)), args.runs)
        print(f"{name:<22} {len(raw):>7} {raw_us:>9.1f} {dict_us:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
