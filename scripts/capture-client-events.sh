#!/usr/bin/env bash
# Regenerate tests/integration/fixtures/client-events/: events produced by
# real Sentry clients, used as inputs for the normalization differential test.
#
# What: for each client install the pinned SDK into a throwaway dir under
#   /tmp, run its tiny app from scripts/client-events/ once per scenario, and
#   let scripts/client-events/capture_server.py (a local HTTP server on
#   127.0.0.1 that the DSN points to) unpack the envelopes and write each
#   event/transaction/feedback payload as pretty JSON to
#   <fixtures>/<client>-<version>-<scenario>[-<type>].json. Streamed span
#   items (sentry-python 3.x, @sentry/node's default) go to <fixtures>/spans/.
#   The clients:
#   - python: sentry-python 1.x/2.x/3.x (a venv per version), python_app.py
#   - node: @sentry/node (an npm dir), node_app.cjs
#   - browser: @sentry/browser in headless Chromium (Debian's `chromium`,
#     driven by playwright-core): the npm package is bundled into one IIFE
#     script with esbuild, browser_app.cjs serves a page on
#     localhost:$BROWSER_PAGE_PORT that loads it plus browser_page.js
#   - rust: the `sentry` crate; a cargo project assembled under the work dir
#     from rust_app.rs, rust_app.Cargo.toml and rust_app.Cargo.lock, built
#     with the cargo on PATH (needs crates.io)
#   - sentry-cli: `sentry-cli send-event` (PyPI package sentry-cli, in a
#     venv), the invocations are in run_sentry_cli below
# Why: hand-written fixtures miss what real clients actually send.
# How: bash scripts/capture-client-events.sh   (needs python3, node, npm,
#   cargo, /usr/bin/chromium (`apt-get install chromium`) and access to
#   PyPI/npm/crates.io). CLIENTS="browser rust" restricts the run to some
#   clients (default: all of python node browser rust sentry-cli); only their
#   fixtures are replaced, the others' files stay untouched. Override
#   versions with PY_SDK_VERSIONS="2.76.0 3.0.1", NODE_SDK_VERSION=11.16.0,
#   BROWSER_SDK_VERSION, RUST_SDK_VERSION, SENTRY_CLI_VERSION; KEEP_WORK=1
#   keeps the /tmp work dir.
#   Events are captured into the work dir first; only after every scenario
#   of every selected client succeeded do they replace that client's *.json
#   fixtures in the output dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE="$ROOT/scripts/client-events"
OUT="$ROOT/tests/integration/fixtures/client-events"
# A fixed work dir keeps the stack-trace paths in the fixtures stable.
WORK=/tmp/relay-client-events
PY_SDK_VERSIONS=${PY_SDK_VERSIONS:-"1.45.1 2.76.0 3.0.1"}
NODE_SDK_VERSION=${NODE_SDK_VERSION:-11.16.0}
BROWSER_SDK_VERSION=${BROWSER_SDK_VERSION:-11.19.0}
PLAYWRIGHT_VERSION=1.65.2   # playwright-core: the driver only, Chromium is Debian's
ESBUILD_VERSION=0.28.2      # bundles @sentry/browser into one script for the page
RUST_SDK_VERSION=${RUST_SDK_VERSION:-0.49.5}
SENTRY_CLI_VERSION=${SENTRY_CLI_VERSION:-3.8.2}
CLIENTS=${CLIENTS:-"python node browser rust sentry-cli"}
PY_SCENARIOS="exception message breadcrumbs transaction invalid unhandled"
NODE_SCENARIOS="exception message breadcrumbs transaction spanstream invalid feedback unhandled"
BROWSER_SCENARIOS="exception message breadcrumbs pageload transaction invalid feedback unhandled"
RUST_SCENARIOS="exception message breadcrumbs transaction invalid unhandled"
SENTRY_CLI_SCENARIOS="message attributes logfile environ invalid"
export BROWSER_PAGE_PORT=${BROWSER_PAGE_PORT:-47810}

for c in $CLIENTS; do
  case $c in python|node|browser|rust|sentry-cli) ;; *) echo "unknown client $c" >&2; exit 2 ;; esac
done
wanted() { [[ " $CLIENTS " == *" $1 "* ]]; }

SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ "${KEEP_WORK:-0}" != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

rm -rf "$WORK"
STAGE="$WORK/out"
mkdir -p "$WORK/app" "$STAGE"
cp "$HERE/python_app.py" "$HERE/node_app.cjs" "$HERE/browser_app.cjs" "$HERE/browser_page.js" "$WORK/app/"

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
  # "unhandled" dies of its uncaught exception on purpose (exit code 1; a
  # Rust panic exits with 101).
  if [[ $rc -ne 0 && ! ( $scenario == unhandled && ( $rc -eq 1 || $rc -eq 101 ) ) ]]; then
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

if wanted python; then
  for v in $PY_SDK_VERSIONS; do
    python3 -m venv "$WORK/py-$v"
    "$WORK/py-$v/bin/pip" install -q --disable-pip-version-check "sentry-sdk==$v"
    for s in $PY_SCENARIOS; do
      (cd "$WORK/app" && run_scenario "python-$v-$s" "$WORK/py-$v/bin/python" python_app.py "$s")
    done
  done
fi

if wanted node; then
  mkdir -p "$WORK/node"
  npm install --prefix "$WORK/node" --no-audit --no-fund --silent "@sentry/node@$NODE_SDK_VERSION"
  for s in $NODE_SCENARIOS; do
    (cd "$WORK/app" && NODE_PATH="$WORK/node/node_modules" run_scenario "node-$NODE_SDK_VERSION-$s" node node_app.cjs "$s")
  done
fi

if wanted browser; then
  [[ -x ${CHROMIUM:-/usr/bin/chromium} ]] || { echo "browser: no ${CHROMIUM:-/usr/bin/chromium} (apt-get install chromium)" >&2; exit 1; }
  mkdir -p "$WORK/browser"
  npm install --prefix "$WORK/browser" --no-audit --no-fund --silent \
    "@sentry/browser@$BROWSER_SDK_VERSION" "playwright-core@$PLAYWRIGHT_VERSION" "esbuild@$ESBUILD_VERSION"
  # The npm package ships ES modules only (no CDN bundle): bundle them into
  # one unminified IIFE that defines the global `Sentry`, like the CDN script.
  echo "export * from '@sentry/browser';" >"$WORK/browser/entry.mjs"
  "$WORK/browser/node_modules/.bin/esbuild" "$WORK/browser/entry.mjs" --bundle --format=iife \
    --global-name=Sentry --target=es2020 --log-level=warning --outfile="$WORK/browser/sentry.bundle.js"
  for s in $BROWSER_SCENARIOS; do
    (cd "$WORK/app" && NODE_PATH="$WORK/browser/node_modules" SENTRY_BUNDLE="$WORK/browser/sentry.bundle.js" \
      run_scenario "browser-$BROWSER_SDK_VERSION-$s" node browser_app.cjs "$s")
  done
fi

if wanted rust; then
  mkdir -p "$WORK/rust/src"
  cp "$HERE/rust_app.rs" "$WORK/rust/src/main.rs"
  sed "s/^sentry = { version = \"=[^\"]*\"/sentry = { version = \"=$RUST_SDK_VERSION\"/" "$HERE/rust_app.Cargo.toml" >"$WORK/rust/Cargo.toml"
  cp "$HERE/rust_app.Cargo.lock" "$WORK/rust/Cargo.lock"
  # Stack frames of dependencies carry absolute source paths: map the cargo
  # home (registry sources) to a fixed prefix so no user/home dir leaks.
  CARGO_HOME_DIR=${CARGO_HOME:-$HOME/.cargo}
  (cd "$WORK/rust" && CARGO_TARGET_DIR="$WORK/rust/target" \
    RUSTFLAGS="--remap-path-prefix=$CARGO_HOME_DIR=/cargo-home" cargo build --quiet)
  for s in $RUST_SCENARIOS; do
    # RUST_BACKTRACE=1 makes anyhow capture the backtrace sentry-anyhow sends.
    (cd "$WORK/rust" && RUST_BACKTRACE=1 run_scenario "rust-$RUST_SDK_VERSION-$s" "$WORK/rust/target/debug/client-events-app" "$s")
  done
fi

# run_sentry_cli SCENARIO: one `sentry-cli send-event` invocation per scenario.
# HOME points into the work dir so no ~/.sentryclirc is read; --no-environ
# keeps the caller's environment out of the event, except in "environ",
# which runs with a fixed minimal environment instead.
run_sentry_cli() {
  local cli="$WORK/sentry-cli/bin/sentry-cli"
  local common=(--release client-events@1.0.0 --env fixtures)
  case $1 in
    message) "$cli" send-event "${common[@]}" --no-environ --level warning \
        -m "Payment provider %s slow to respond after %s attempts" -a acme-pay -a 2 ;;
    attributes) "$cli" send-event "${common[@]}" --no-environ --dist 7 --platform python \
        -m "Payment provider slow to respond" -t feature:checkout -t customer.tier:gold \
        -e cart:3 -e currency:EUR -e "note:has: colons" -u id:user-42 -u username:jane \
        -u email:jane@example.com -u "ip_address:{{auto}}" -f "{{ default }}" -f checkout ;;
    logfile) "$cli" send-event "${common[@]}" --no-environ -m "Import failed" \
        --logfile "$WORK/sentry-cli/import.log" --with-categories ;;
    environ) # The DSN (with the capture server's random port) comes from
      # ~/.sentryclirc here, not from the environment that ends up in the event.
      printf '[auth]\ndsn=%s\n' "$SENTRY_DSN" >"$WORK/sentry-cli/home/.sentryclirc"
      env -i PATH=/usr/bin:/bin HOME="$WORK/sentry-cli/home" LANG=C.UTF-8 APP_MODE=batch \
        USER=fixture-user LOGNAME=fixture-user SENTRY_DISABLE_UPDATE_CHECK=true \
        "$cli" send-event "${common[@]}" -m "Nightly job finished"
      rm "$WORK/sentry-cli/home/.sentryclirc" ;;
    invalid) "$cli" send-event "${common[@]}" --no-environ --level fatal --timestamp 946684800 \
        -m "$(printf 'x%.0s' $(seq 9000))" -t "long:$(printf 'v%.0s' $(seq 300))" \
        -t "$(printf 'k%.0s' $(seq 250)):long key" -e "huge:$(printf 'x%.0s' $(seq 20480))" \
        -u id: -u email:not-an-email -u username: -f "" ;;
  esac
}

if wanted sentry-cli; then
  python3 -m venv "$WORK/sentry-cli"
  "$WORK/sentry-cli/bin/pip" install -q --disable-pip-version-check "sentry-cli==$SENTRY_CLI_VERSION"
  mkdir -p "$WORK/sentry-cli/home"
  printf '%s\n' "INFO: import started" "DEBUG: reading orders.csv" "WARNING: row 17: empty amount" \
    "ERROR: row 42: bad amount 'twelve'" "a line without category" >"$WORK/sentry-cli/import.log"
  touch -d 2026-01-01T00:00:00Z "$WORK/sentry-cli/import.log" # breadcrumb timestamps = file mtime
  export -f run_sentry_cli
  for s in $SENTRY_CLI_SCENARIOS; do
    (cd "$WORK/sentry-cli" && HOME="$WORK/sentry-cli/home" SENTRY_DISABLE_UPDATE_CHECK=true WORK="$WORK" \
      run_scenario "sentry-cli-$SENTRY_CLI_VERSION-$s" bash -c 'run_sentry_cli "$0"' "$s")
  done
  # sentry-cli has no option for server_name and always adds the OS user
  # (getpwuid, not $USER) as user.username: it sends the host and user name
  # of the machine. Pin them like the other clients do through their options.
  python3 - "$STAGE" "$(hostname)" "$(id -un)" <<'PY'
import glob, json, sys
stage, host, user = sys.argv[1:]
for path in glob.glob(f"{stage}/sentry-cli-*.json"):
    with open(path) as f:
        doc = json.load(f)
    changed = False
    if doc.get("server_name") == host:
        doc["server_name"] = "fixture-host"
        changed = True
    if isinstance(doc.get("user"), dict) and doc["user"].get("username") == user:
        doc["user"]["username"] = "fixture-user"
        changed = True
    if changed:
        with open(path, "w") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False, sort_keys=True)
            f.write("\n")
PY
fi

mkdir -p "$OUT"
for c in $CLIENTS; do
  find "$OUT" -name "$c-*.json" -delete
done
cp -R "$STAGE/." "$OUT/"
echo "captured $(find "$STAGE" -name '*.json' | wc -l) files of $CLIENTS; $(find "$OUT" -name '*.json' | wc -l) files ($(du -sh "$OUT" | cut -f1)) in $OUT"
