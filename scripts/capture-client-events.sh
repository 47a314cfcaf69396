#!/usr/bin/env bash
# Regenerate tests/integration/fixtures/client-events/: events produced by
# real Sentry SDKs, used as inputs for the normalization differential test.
#
# What: for each client (sentry-python 1.x/2.x/3.x, @sentry/node) install the
#   pinned SDK into a throwaway dir under /tmp (a venv per Python version, an
#   npm dir for node), run scripts/client-events/{python_app.py,node_app.cjs}
#   once per scenario, and let scripts/client-events/capture_server.py (a
#   local HTTP server on 127.0.0.1 that the DSN points to) unpack the
#   envelopes and write each event/transaction/feedback payload as pretty JSON
#   to <fixtures>/<client>-<version>-<scenario>[-<type>].json. Streamed span
#   items (sentry-python 3.x, @sentry/node's default) go to <fixtures>/spans/.
# Why: hand-written fixtures miss what real clients actually send.
# How: bash scripts/capture-client-events.sh   (needs python3, node, npm and
#   access to PyPI/npm). Override versions with PY_SDK_VERSIONS="2.76.0 3.0.1"
#   and NODE_SDK_VERSION=11.16.0; KEEP_WORK=1 keeps the /tmp work dir.
#   Events are captured into the work dir first; only after every scenario
#   succeeded do they replace all *.json fixtures in the output dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE="$ROOT/scripts/client-events"
OUT="$ROOT/tests/integration/fixtures/client-events"
# A fixed work dir keeps the stack-trace paths in the fixtures stable.
WORK=/tmp/relay-client-events
PY_SDK_VERSIONS=${PY_SDK_VERSIONS:-"1.45.1 2.76.0 3.0.1"}
NODE_SDK_VERSION=${NODE_SDK_VERSION:-11.16.0}
PY_SCENARIOS="exception message breadcrumbs transaction invalid unhandled"
NODE_SCENARIOS="exception message breadcrumbs transaction spanstream invalid feedback unhandled"

SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ "${KEEP_WORK:-0}" != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

rm -rf "$WORK"
STAGE="$WORK/out"
mkdir -p "$WORK/app" "$STAGE"
cp "$HERE/python_app.py" "$HERE/node_app.cjs" "$WORK/app/"

python3 "$HERE/capture_server.py" "$STAGE" "$WORK/port" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 50); do [[ -s "$WORK/port" ]] && break; sleep 0.1; done
[[ -s "$WORK/port" ]] || { echo "capture server did not start" >&2; cat "$WORK/server.log" >&2; exit 1; }
PORT=$(cat "$WORK/port")

# run_scenario NAME CMD...: run one app process with the DSN aimed at NAME,
# then insist that it produced at least one fixture and no server error.
run_scenario() {
  local name=$1; shift
  local scenario=${name##*-} rc=0
  echo "== $name"
  SENTRY_DSN="http://public@127.0.0.1:$PORT/$name/1" timeout 120 "$@" >"$WORK/$name.log" 2>&1 || rc=$?
  # "unhandled" dies of its uncaught exception on purpose (exit code 1).
  if [[ $rc -ne 0 && ! ( $scenario == unhandled && $rc -eq 1 ) ]]; then
    echo "$name: exit code $rc" >&2; cat "$WORK/$name.log" >&2; exit 1
  fi
  if grep -q 'capture-server: ERROR' "$WORK/server.log"; then
    cat "$WORK/server.log" >&2; exit 1
  fi
  if ! compgen -G "$STAGE/$name.json" >/dev/null && ! compgen -G "$STAGE/$name-*.json" >/dev/null \
     && ! compgen -G "$STAGE/spans/$name*.json" >/dev/null; then
    echo "$name: no event captured" >&2; cat "$WORK/$name.log" >&2; exit 1
  fi
}

for v in $PY_SDK_VERSIONS; do
  python3 -m venv "$WORK/py-$v"
  "$WORK/py-$v/bin/pip" install -q --disable-pip-version-check "sentry-sdk==$v"
  for s in $PY_SCENARIOS; do
    (cd "$WORK/app" && run_scenario "python-$v-$s" "$WORK/py-$v/bin/python" python_app.py "$s")
  done
done

mkdir -p "$WORK/node"
npm install --prefix "$WORK/node" --no-audit --no-fund --silent "@sentry/node@$NODE_SDK_VERSION"
for s in $NODE_SCENARIOS; do
  (cd "$WORK/app" && NODE_PATH="$WORK/node/node_modules" run_scenario "node-$NODE_SDK_VERSION-$s" node node_app.cjs "$s")
done

mkdir -p "$OUT"
find "$OUT" -name '*.json' -delete
cp -R "$STAGE/." "$OUT/"
echo "captured $(find "$OUT" -name '*.json' | wc -l) files ($(du -sh "$OUT" | cut -f1)) in $OUT"
