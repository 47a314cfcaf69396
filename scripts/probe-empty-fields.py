#!/usr/bin/env python3
"""Probe: which empty fields Sentry leaves out of a normalized event, compared with ours.

Why: Sentry does not serialize some fields when they are empty (`""`, `[]`, `{}`), without
`_meta`, while normalization still sees them (`user: {"id": ""}` → `{"sentry_user": "id:"}`),
and a parent whose fields are all left out disappears. Our model says the same with the field
attribute `skip_serialization = "empty"` and `IntoValue::is_empty` (relay-event). Which fields
carry it can only be learned from Sentry's observable output, so this script tries every field
of our typed schema instead of waiting for differences to show up in real events.

What it does:

1. Walks the structs of `relay-event/src/schema/` (their `Annotated<…>` fields, serialized
   names from `field = "…"`, newtypes, `Values<T>`, the context types of the `contexts!` macro
   and the debug image types) from `Event` down, and lists every field path with the empty
   values of its type: `""` for strings and string-like leaves, `[]` and `[<empty element>]`
   for arrays, `{}` and `{"k": <empty value>}` for maps, `{}` for structs, all three for
   `Value`. Numbers and booleans have no empty value and are not probed.
2. For each (path, empty value) builds two events: `alone` (the field is the only content of
   its parents) and `anchored` (its parent struct also has a non-empty sibling, so the parent
   survives and the field's own treatment shows). `spans`, `measurements`, `breakdowns` and
   `transaction_info` are probed in a transaction, everything else in a minimal error event.
3. Normalizes each with Sentry (`sentry_relay` StoreNormalizer, the oracle) and with ours
   (`relay normalize --stdin`), with the same received time and event id.
4. Reports, per probe, whether the field (or a parent) is kept or omitted by each, and the
   differing JSON paths that the probed field causes (differences already present without the
   field are subtracted, so unrelated gaps do not show), classified as `skip` (Sentry leaves
   out what we write and nothing else differs: a `skip_serialization` question), `keep` (the
   reverse) or `other` (the empty value is validated or normalized differently).

Usage (from the repository root; build first with `cargo build -p relay-server --bin relay`):
  /work/main/.venv/bin/python scripts/probe-empty-fields.py [--relay BIN] [--only PREFIX]
      [--all] [--json FILE]
`--only user.` restricts to paths starting with the prefix; `--all` lists equal probes too;
`--json` writes every result. Exit status 0 when no probe differs, 1 otherwise.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "relay-event" / "src" / "schema"
EVENT_ID = "a" * 32

# Types that are not plain structs of the schema, by name.
STRING_LEAVES = {
    "String", "LenientString", "JsonLenientString", "Timestamp", "EventId", "Level",
    "EventType", "SpanStatus", "TraceId", "SpanId", "ThreadId", "Addr", "DebugId", "CodeId",
    "LockReasonType", "NativeImagePath", "InstructionAddrAdjustment", "TransactionSource",
    "AutoInferSetting", "Uuid", "RegVal",
}
NO_EMPTY = {"bool", "u64", "i64", "f64", "u32", "i32", "usize"}
# `DebugImage` is an enum dispatched on `type`: one struct per type name.
DEBUG_IMAGES = {
    "apple": "AppleDebugImage",
    "macho": "NativeDebugImage",
    "proguard": "ProguardDebugImage",
    "sourcemap": "SourceMapDebugImage",
    "jvm": "JvmDebugImage",
}
# What a created list element needs so that neither normalizer drops or rejects it whatever
# the probed field is (by the dotted path of its list).
ELEMENT_SEEDS = {
    "exception.values": {"type": "ProbeError"},
    "threads.values": {"id": 1},
    "spans": {
        "span_id": "d" * 16,
        "trace_id": "b" * 32,
        "start_timestamp": 1704067000.0,
        "timestamp": 1704067100.0,
    },
}
TRANSACTION_FIELDS = {"spans", "measurements", "breakdowns", "transaction_info"}
TRANSACTION = {
    "type": "transaction",
    "transaction": "/probe",
    "timestamp": 1704067100.0,
    "start_timestamp": 1704067000.0,
    "contexts": {"trace": {"trace_id": "b" * 32, "span_id": "c" * 16}},
}


def load_diff_helpers():
    """`scripts/normalize-diff.py` as a module: its runners and JSON diff."""
    spec = importlib.util.spec_from_file_location("normalize_diff", ROOT / "scripts" / "normalize-diff.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------
# Reading the schema structs


def split_generic(text):
    """`Array<Object<Value>>` → ("Array", "Object<Value>"); `String` → ("String", None)."""
    text = text.strip()
    if "<" not in text:
        return text.split("::")[-1], None
    head, rest = text.split("<", 1)
    return head.strip().split("::")[-1], rest[: rest.rfind(">")].strip()


def read_structs():
    """{struct name: [(json name, field type, attributes)]} and {newtype name: inner type}."""
    structs, newtypes = {}, {}
    for path in sorted(SCHEMA_DIR.rglob("*.rs")):
        text = path.read_text()
        for match in re.finditer(r"pub struct (\w+)(?:<[^>]*>)?\s*\((?:pub )?([^;]*?)\);", text):
            newtypes[match.group(1)] = match.group(2).strip()
        for match in re.finditer(r"pub struct (\w+)(?:<[^>{]*>)?\s*\{", text):
            depth, start = 1, match.end()
            index = start
            while depth and index < len(text):
                depth += {"{": 1, "}": -1}.get(text[index], 0)
                index += 1
            body = text[start : index - 1]
            fields = []
            for field in re.finditer(
                r"((?:#\[metastructure\((?:[^()]|\([^()]*\))*\)\]\s*)*)pub (\w+): Annotated<(.*)>,", body
            ):
                attrs = field.group(1)
                if "additional_properties" in attrs:
                    continue
                name = re.search(r'field = "([^"]+)"', attrs)
                fields.append((name.group(1) if name else field.group(2), field.group(3), attrs))
            if fields:
                structs[match.group(1)] = fields
    return structs, newtypes


def read_context_types():
    """[(context key, struct name)] from the `contexts!` invocation."""
    text = (SCHEMA_DIR / "contexts" / "mod.rs").read_text()
    block = text[text.index("contexts! {") :]
    return [(name, ty) for ty, name in re.findall(r"\w+\((\w+)\) = \"(\w+)\",", block)]


# ---------------------------------------------------------------------------------------------
# Listing probes


class Walker:
    def __init__(self):
        self.structs, self.newtypes = read_structs()
        self.contexts = read_context_types()
        self.probes = []  # (path, empty value, struct type of the parent or None)

    def empties(self, ty):
        """The empty values of a field type (first one: the simplest)."""
        head, inner = split_generic(ty)
        if head == "Box":
            return self.empties(inner)
        if head in NO_EMPTY:
            return []
        if head == "Value":
            return ["", [], {}]
        # Containers: empty, one empty element, and an empty element beside a non-empty
        # string (does the element go, or the container, or nothing?).
        if head == "Array":
            element = self.empties(inner)
            mixed = [["", "x"]] if element and element[0] == "" else []
            return [[]] + ([[element[0]]] if element else []) + mixed
        if head == "Object":
            element = self.empties(inner)
            mixed = [{"k": "", "l": "x"}] if element and element[0] == "" else []
            return [{}] + ([{"k": element[0]}] if element else []) + mixed
        if head == "Values":
            return [{"values": []}]
        if head in ("Contexts", "Tags", "Headers", "Measurements", "Breakdowns"):
            return [{}] if head != "Tags" else [{}, []]
        if head in self.newtypes:
            return self.empties(self.newtypes[head])
        if head in self.structs:
            return [{}]
        return [""]

    def walk_type(self, path, ty, parent, stack):
        """Records the probes of a field of type `ty` at `path`, then of its children."""
        for value in self.empties(ty):
            self.probes.append((path, value, parent))
        head, inner = split_generic(ty)
        if head == "Box":
            return self.walk_type(path, inner, parent, stack)
        if head in stack:
            return
        if head in ("Array", "Values"):
            element_path = path + ([0] if head == "Array" else ["values", 0])
            self.walk_children(element_path, inner, stack)
        elif head == "Object":
            self.walk_children(path + ["k"], inner, stack)
        elif head == "Contexts":
            for key, struct in self.contexts:
                self.walk_struct(path + [key], struct, stack)
        elif head == "DebugMeta":
            self.walk_struct(path, head, stack, skip={"images"})
            self.probes.append((path + ["images"], [], (head, None)))
            for image_type, struct in DEBUG_IMAGES.items():
                self.walk_struct(path + ["images", 0], struct, stack, extra={"type": image_type})
        elif head in ("Measurements", "Breakdowns"):
            self.walk_children(path + ["k"], self.newtypes[head].split("<", 1)[1][:-1], stack)
        elif head in self.structs:
            self.walk_struct(path, head, stack)

    def walk_children(self, path, ty, stack):
        """Children of a container element: only struct-like elements have field probes."""
        head, _ = split_generic(ty)
        if head in self.structs or head in ("Values", "Measurements", "Box"):
            # The element itself was already probed as `[{}]` / `{"k": {}}` by the container.
            self.walk_type(path, ty, None, stack) if head == "Box" else self.walk_nested(path, ty, stack)

    def walk_nested(self, path, ty, stack):
        head, inner = split_generic(ty)
        if head == "Measurements":
            self.walk_children(path + ["k"], "Measurement", stack)
        elif head in self.structs:
            self.walk_struct(path, head, stack)

    def walk_struct(self, path, struct, stack, skip=(), extra=None):
        for name, ty, _attrs in self.structs[struct]:
            if name in skip or (extra and name in extra):
                continue
            self.walk_type(path + [name], ty, (struct, extra), stack | {struct})


# ---------------------------------------------------------------------------------------------
# Building events


def anchor_for(walker, parent, field):
    """A sibling (name, value) that keeps a struct parent non-empty: its first other string field."""
    struct, extra = parent
    for name, ty, _attrs in walker.structs.get(struct, []):
        if name != field and split_generic(ty)[0] in ("String", "LenientString") and name not in ("type",):
            return name, "probe"
    return None


def set_path(document, path, value, anchor=None, extra=None):
    """Sets `path` in `document` (creating objects and one-element arrays); the anchor and the
    extra attributes go into the immediate parent."""
    node = document
    for index, (step, next_step) in enumerate(zip(path[:-1], path[1:])):
        child = {} if isinstance(next_step, str) else []
        if isinstance(node, list):
            list_path = ".".join(str(s) for s in path[:index])
            seed = ELEMENT_SEEDS.get(list_path, child) if isinstance(child, dict) else child
            while len(node) <= step:
                node.append(copy.deepcopy(seed))
            node = node[step]
        else:
            node = node.setdefault(step, child)
    last = path[-1]
    if isinstance(node, list):
        node.append(value)
    else:
        node[last] = value
        if extra:
            for key, item in extra.items():
                node.setdefault(key, item)
        if anchor:
            node.setdefault(anchor[0], anchor[1])
    return document


def base_event(path):
    event = copy.deepcopy(TRANSACTION) if path[0] in TRANSACTION_FIELDS else {}
    event["event_id"] = EVENT_ID
    return event


def lookup(document, path):
    """'kept' / 'omitted' (the parent is there) / 'parent omitted'."""
    node = document
    for index, step in enumerate(path):
        present = (
            isinstance(node, dict) and step in node and node[step] is not None
        ) or (isinstance(node, list) and isinstance(step, int) and step < len(node) and node[step] is not None)
        if not present:
            return "omitted" if index == len(path) - 1 else "parent omitted"
        node = node[step]
    return "kept"


# ---------------------------------------------------------------------------------------------
# Running


def classify(result):
    """'skip': only ours writes the probed field (or something under it), and Sentry does not,
    nothing else differs: a serialization difference. 'keep': the reverse. 'other': anything
    else (validation, normalization or error differences that the empty value triggers)."""
    path = result["path"]
    under = [p == path or p.startswith(path + ".") for _, p in result["differences"]]
    kinds = {kind for kind, _ in result["differences"]}
    if all(under) and kinds == {"extra"} and result["sentry"] != "kept":
        return "skip"
    if all(under) and kinds == {"missing"} and result["ours"] != "kept":
        return "keep"
    return "other"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--relay", default=os.environ.get("RELAY_BIN") or str(ROOT / "target" / "debug" / "relay"))
    parser.add_argument("--only", default="", help="probe only paths starting with this prefix")
    parser.add_argument("--all", action="store_true", help="list equal probes too")
    parser.add_argument("--json", type=pathlib.Path, help="write all results to this file")
    args = parser.parse_args(argv)

    helpers = load_diff_helpers()
    from sentry_relay.processing import StoreNormalizer  # noqa: PLC0415 - the oracle

    config = {"received_at": "2024-01-01T00:00:00Z"}
    flags = ["--received", config["received_at"]]
    walker = Walker()
    walker.walk_struct([], "Event", frozenset({"Event"}))

    cache = {}

    def both(event):
        key = json.dumps(event, sort_keys=True)
        if key not in cache:
            sentry, sentry_error = helpers.run_sentry(StoreNormalizer, config, event)
            ours, ours_error = helpers.run_relay(args.relay, flags, event)
            differences = []
            if sentry is not None and ours is not None:
                helpers.diff(helpers.strip_ignored(sentry), helpers.strip_ignored(ours), [], differences)
            elif sentry_error != ours_error:
                differences.append(("rejection", ["%s | %s" % (sentry_error, ours_error)]))
            cache[key] = (sentry, ours, {(kind, ".".join(p)) for kind, p in differences})
        return cache[key]

    results, seen = [], set()
    for path, value, parent in walker.probes:
        dotted = ".".join(str(step) for step in path)
        if not dotted.startswith(args.only):
            continue
        key = (dotted, json.dumps(value))
        if key in seen:
            continue
        seen.add(key)
        extra = parent[1] if parent else None
        variants = [("alone", None)]
        anchor = anchor_for(walker, parent, path[-1]) if parent else None
        if anchor and len(path) > 1:
            variants.append(("anchored", anchor))
        for variant, anchor in variants:
            event = set_path(base_event(path), path, copy.deepcopy(value), anchor, extra)
            baseline = set_path(base_event(path), path, None, anchor, extra)
            sentry, ours, differences = both(event)
            _, _, baseline_differences = both(baseline)
            caused = sorted(differences - baseline_differences)
            sentry_verdict = lookup(sentry, path) if sentry is not None else "rejected"
            ours_verdict = lookup(ours, path) if ours is not None else "rejected"
            results.append(
                {
                    "path": dotted,
                    "value": value,
                    "variant": variant,
                    "sentry": sentry_verdict,
                    "ours": ours_verdict,
                    "differences": caused,
                }
            )

    differing = [r for r in results if r["differences"]]
    for result in results if args.all else differing:
        result["kind"] = classify(result)
        print(
            "%-55s %-12s %-8s sentry=%-14s ours=%-14s %-10s %s"
            % (
                result["path"],
                json.dumps(result["value"]),
                result["variant"],
                result["sentry"],
                result["ours"],
                result.get("kind", ""),
                " ".join("%s:%s" % d for d in result["differences"][:6]),
            )
        )
    kinds = [classify(r) for r in differing]
    print(
        "\n%d probes (%d field paths): %d equal, %d differ: %d skip (Sentry leaves out what we "
        "write, nothing else differs), %d keep (the reverse), %d other (validation, "
        "normalization, errors)"
        % (
            len(results),
            len({r["path"] for r in results}),
            len(results) - len(differing),
            len(differing),
            kinds.count("skip"),
            kinds.count("keep"),
            kinds.count("other"),
        )
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
