#!/usr/bin/env python3
"""Differential test harness of event normalization: ours (`relay normalize`) against Sentry's.

Why: relay-normalization reimplements Sentry Relay's event normalization step by step, and the
only complete specification of its output is Sentry's own implementation. The `sentry-relay`
PyPI package (pinned in tests/requirements.txt) ships it as
`sentry_relay.processing.StoreNormalizer`; this script runs both on the same events with
matching options and lists the JSON paths where the outputs differ, so each new step can be
checked against real SDK payloads and the remaining gaps are visible. It is a development tool,
not part of the test command.

What it does, for every event JSON file (default: every `*.json` under
`../shared/corpus/sentry-samples`, relative to the repository):

1. Pins what Sentry would otherwise generate at random: an event without `event_id` gets one
   derived from its file name (in the real pipeline the id always exists before normalization),
   and the received time is fixed for both (`--received`, default 2024-01-01T00:00:00Z).
2. Runs `StoreNormalizer(**options).normalize_event(event)` and
   `relay normalize --stdin <flags>`. Options that `relay normalize --help` does not list yet
   are given to Sentry only (a warning names them); their effect then shows up as differences.
3. Removes what legitimately differs: `received` (payload and `_meta`).
4. Compares the two JSON documents (payload and `_meta`): a path is `missing` (only Sentry
   has it), `extra` (only ours has it) or `value` (both, different; `1` and `1.0` differ).
   Missing or extra objects and arrays are reported once, not per leaf.

Output: per event, its differing paths (at most `--max-paths`), then totals and the most
common differing paths with array indices generalized to `*` (counted once per event).

Usage:
  .venv/bin/python scripts/normalize-diff.py [PATH ...] [--relay BIN] [--enable-trimming]
      [--renormalize] [--remove-other | --keep-other] [--received ISO] [--sent-at ISO]
      [--client-ip IP] [--infer-ip-address] [--normalize-user-agent] [--normalize-spans]
      [--client CLIENT] [--max-secs-in-past N] [--max-secs-in-future N]
      [--project-id N] [--key-id N] [--protocol-version N] [--max-paths N] [--top N]
Exit status: 0 when every event matches, 1 otherwise, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import re
import subprocess
import sys
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "sentry-samples"
DEFAULT_RECEIVED = "2024-01-01T00:00:00Z"
# Fields removed from both outputs before comparing (payload and `_meta`).
IGNORED_TOP_LEVEL = ("received",)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=pathlib.Path, help="event files or directories")
    parser.add_argument(
        "--relay",
        default=os.environ.get("RELAY_BIN") or str(ROOT / "target" / "debug" / "relay"),
        help="the relay binary (default: $RELAY_BIN or target/debug/relay)",
    )
    parser.add_argument("--renormalize", action="store_true", help="is_renormalize=True")
    parser.add_argument("--enable-trimming", action="store_true", help="enable_trimming=True")
    other = parser.add_mutually_exclusive_group()
    other.add_argument("--remove-other", dest="remove_other", action="store_const", const=True)
    other.add_argument("--keep-other", dest="remove_other", action="store_const", const=False)
    parser.add_argument("--received", default=DEFAULT_RECEIVED, help="received_at (RFC 3339)")
    parser.add_argument("--sent-at", help="sent_at (RFC 3339)")
    parser.add_argument("--client-ip", help="client_ip")
    parser.add_argument("--max-secs-in-past", type=int, help="max_secs_in_past")
    parser.add_argument("--max-secs-in-future", type=int, help="max_secs_in_future")
    parser.add_argument("--infer-ip-address", action="store_true", help="infer_ip_address=True")
    parser.add_argument("--normalize-user-agent", action="store_true", help="normalize_user_agent=True")
    parser.add_argument("--normalize-spans", action="store_true", help="normalize_spans=True")
    parser.add_argument("--client", help="client string, e.g. sentry.python/2.1.0")
    parser.add_argument("--project-id", type=int, help="project_id")
    parser.add_argument("--key-id", type=int, help="key_id (a string for Sentry)")
    parser.add_argument("--protocol-version", type=int, help="protocol_version (a string for Sentry)")
    parser.add_argument("--max-paths", type=int, default=25, help="paths listed per event (0: all)")
    parser.add_argument("--top", type=int, default=25, help="most common paths listed in the totals")
    return parser.parse_args(argv)


def options(args):
    """[(StoreNormalizer key, value, relay flag and arguments)] of the options that are set."""
    result = [("is_renormalize", True, ["--renormalize"])] if args.renormalize else []
    if args.enable_trimming:
        result.append(("enable_trimming", True, ["--enable-trimming"]))
    if args.remove_other is not None:
        result.append(("remove_other", args.remove_other, ["--remove-other" if args.remove_other else "--keep-other"]))
    result.append(("received_at", args.received, ["--received", args.received]))
    if args.infer_ip_address:
        result.append(("infer_ip_address", True, ["--infer-ip-address"]))
    if args.normalize_user_agent:
        result.append(("normalize_user_agent", True, ["--normalize-user-agent"]))
    if args.normalize_spans:
        result.append(("normalize_spans", True, ["--normalize-spans"]))
    if args.client is not None:
        result.append(("client", args.client, ["--client", args.client]))
    for key, flag, convert in [
        ("sent_at", "--sent-at", None),
        ("client_ip", "--client-ip", None),
        ("max_secs_in_past", "--max-secs-in-past", None),
        ("max_secs_in_future", "--max-secs-in-future", None),
        ("project_id", "--project-id", None),
        ("key_id", "--key-id", str),
        ("protocol_version", "--protocol-version", str),
    ]:
        value = getattr(args, key)
        if value is not None:
            result.append((key, convert(value) if convert else value, [flag, str(value)]))
    return result


def relay_flags(binary):
    """The long flags `relay normalize --help` lists."""
    try:
        help_text = subprocess.run(
            [binary, "normalize", "--help"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        sys.exit("error: cannot run %s normalize --help: %s (build it with `cargo build -p relay-server`)" % (binary, error))
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", help_text))


def event_files(paths):
    for path in paths or [DEFAULT_CORPUS]:
        if path.is_dir():
            yield from sorted(path.glob("*.json"))
        else:
            yield path


def first_line(text):
    return (str(text).strip().splitlines() or [""])[0]


def run_sentry(normalizer_class, config, event):
    """(normalized event, None) or (None, rejection message)."""
    try:
        return normalizer_class(**config).normalize_event(json.loads(json.dumps(event))), None
    except Exception as error:  # noqa: BLE001 - any rejection is a result to compare
        return None, "%s: %s" % (type(error).__name__, first_line(error))


def run_relay(binary, flags, event):
    """(normalized event, None) or (None, rejection message)."""
    result = subprocess.run(
        [binary, "normalize", "--stdin", *flags],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        return None, "exit %d: %s" % (result.returncode, first_line(result.stderr))
    return json.loads(result.stdout), None


def strip_ignored(document):
    for key in IGNORED_TOP_LEVEL:
        document.pop(key, None)
        meta = document.get("_meta")
        if isinstance(meta, dict):
            meta.pop(key, None)
            if not meta:
                document.pop("_meta")
    return document


def same(a, b):
    return type(a) is type(b) and a == b


def diff(expected, actual, path, out):
    """Appends (kind, path) for every difference of `actual` (ours) from `expected` (Sentry's)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in list(expected) + [k for k in actual if k not in expected]:
            child = path + [str(key)]
            if key not in actual:
                out.append(("missing", child))
            elif key not in expected:
                out.append(("extra", child))
            else:
                diff(expected[key], actual[key], child, out)
    elif isinstance(expected, list) and isinstance(actual, list):
        for index in range(max(len(expected), len(actual))):
            child = path + [str(index)]
            if index >= len(actual):
                out.append(("missing", child))
            elif index >= len(expected):
                out.append(("extra", child))
            else:
                diff(expected[index], actual[index], child, out)
    elif not same(expected, actual):
        out.append(("value", path))


def show(path):
    return ".".join(segment if segment else '""' for segment in path) or "<root>"


def generalize(path):
    return ".".join("*" if segment.isdigit() else (segment or '""') for segment in path)


def main(argv=None):
    args = parse_args(argv)
    try:
        from sentry_relay.processing import StoreNormalizer
    except ImportError:
        sys.exit("error: the oracle is missing: .venv/bin/pip install -r tests/requirements.txt")

    supported = relay_flags(args.relay)
    sentry_config, flags, unsupported = {}, [], []
    for key, value, relay_args in options(args):
        sentry_config[key] = value
        if relay_args[0] in supported:
            flags += relay_args
        else:
            unsupported.append(relay_args[0])
    print("StoreNormalizer(%s)" % ", ".join("%s=%r" % item for item in sentry_config.items()))
    print("relay normalize --stdin %s" % " ".join(flags))
    if unsupported:
        print("warning: relay normalize has no %s yet; only Sentry gets these options" % ", ".join(unsupported))
    print()

    files = list(event_files(args.paths))
    identical = 0
    skipped = 0
    same_rejections = 0
    rejections_differ = 0
    totals = collections.Counter()
    common = collections.Counter()
    for path in files:
        try:
            event = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            print("%s: skipped, cannot read: %s" % (path.name, error))
            skipped += 1
            continue
        if isinstance(event, dict) and "event_id" not in event:
            event["event_id"] = uuid.uuid5(uuid.NAMESPACE_URL, path.name).hex

        expected, sentry_error = run_sentry(StoreNormalizer, sentry_config, event)
        actual, relay_error = run_relay(args.relay, flags, event)
        if sentry_error or relay_error:
            if sentry_error and relay_error:
                # Sentry's message ("invalid transaction event: <reason>") is the end of ours.
                reason = sentry_error.split(": ", 1)[-1]
                if reason in relay_error:
                    identical += 1
                    same_rejections += 1
                    print("%s: both reject: %s" % (path.name, reason))
                    continue
            rejections_differ += 1
            print("%s: rejections differ (sentry: %s; relay: %s)" % (path.name, sentry_error or "accepts", relay_error or "accepts"))
            continue

        differences = []
        diff(strip_ignored(expected), strip_ignored(actual), [], differences)
        if not differences:
            identical += 1
            print("%s: identical" % path.name)
            continue
        payload = sum(1 for _, p in differences if p[0] != "_meta")
        print("%s: %d differing paths (%d payload, %d _meta)" % (path.name, len(differences), payload, len(differences) - payload))
        shown = differences if args.max_paths == 0 else differences[: args.max_paths]
        for kind, p in shown:
            print("  %-7s %s" % (kind, show(p)))
        if len(shown) < len(differences):
            print("  ... %d more" % (len(differences) - len(shown)))
        totals["payload"] += payload
        totals["_meta"] += len(differences) - payload
        for key in {(kind, generalize(p)) for kind, p in differences}:
            common[key] += 1

    compared = len(files) - skipped
    print()
    print("totals: %d events, %d identical (%d of them rejected by both for the same reason), %d differ, "
          "%d with differing rejection, %d skipped" % (
        compared, identical, same_rejections, compared - identical - rejections_differ, rejections_differ, skipped))
    print("differing paths: %d payload, %d _meta" % (totals["payload"], totals["_meta"]))
    if common:
        print("most common differing paths (events):")
        for (kind, p), count in common.most_common(args.top):
            print("  %4d  %-7s %s" % (count, kind, p))
    return 0 if identical == compared and not skipped else 1


if __name__ == "__main__":
    sys.exit(main())
