#!/usr/bin/env bash
# Processing-relay throughput: wrk -> relay (managed mode, processing on, project config in
# Redis) -> Kafka (tansu). Counts what reached the topic, not what the HTTP side accepted.
#
#   scripts/bench-processing.sh BIN [seconds] [connections] [kinds]
#
#   BIN          the relay binary (a release build: cargo build --release -p relay-server --bin relay)
#   seconds      wrk duration per run (default 15)
#   connections  wrk connections, one wrk thread (default 32)
#   kinds        "error", "transaction" or both (default "error transaction"); one fresh relay,
#                fresh topics and a fresh Redis key prefix per kind
#
# Environment: THREADS (limits.max_thread_count, default 2 = the cores of the bench machine),
# KAFKA_PARAMS ("name=value ..." extra librdkafka settings of the relay's producer),
# PROJECT_CONFIG (a project state JSON file to push instead of the built-in one; its
# publicKeys[0] must be the DSN key 31a5a894b4524f74a9a8d0e27e21ba91), IDLE (seconds without a
# new Kafka message after which the topic counts as stopped growing, default 3), KEEP=1 keeps the
# run directory (config, logs, wrk output) even when the run succeeded, PERF=1 records a CPU
# profile of relay during wrk (`perf record -e cpu-clock --call-graph dwarf`, kept in the run
# directory, with a flat `perf report` in perf.txt).
#
# Per kind it
#   1. starts Redis and tansu if needed (scripts/services.sh) and a stub upstream
#      (scripts/bench/stub_upstream.py: registration + global config; a managed relay processes
#      nothing without them),
#   2. creates a unique topic for every `processing.topics` key, generates credentials and
#      pushes the project config into Redis with `relay project-config push`,
#   3. starts relay, sends one warm-up envelope and waits until it is on the topic (so the
#      project config is loaded and the producer connected before the clock starts),
#   4. runs wrk, sampling the relay's RSS every 0.2 s,
#   5. reads the main topic (events / transactions) from offset 0 until no message arrived for
#      IDLE seconds (scripts/bench/kafka_count.py), with relay still running,
# and prints what HTTP accepted, what reached Kafka and how fast (delivered / time from the
# first request to the Kafka timestamp of the last message), p99 latency, peak RSS and CPU time.
# Needs wrk (apt-get install -y wrk) and the test venv (.venv with confluent-kafka, msgpack).
set -u

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
BIN=$(readlink -f "$1"); SECS=${2:-15}; CONNS=${3:-32}; KINDS=${4:-error transaction}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE="$ROOT/scripts/bench"
PY=${PYTHON:-$ROOT/.venv/bin/python}
THREADS=${THREADS:-2}
IDLE=${IDLE:-3}
DSN_KEY=31a5a894b4524f74a9a8d0e27e21ba91
PROJECT_ID=42
REDIS_URL=redis://127.0.0.1:6379
KAFKA=127.0.0.1:9092
# Every key of `processing.topics`; each run gets its own topic for each of them.
LOGICAL_TOPICS="events attachments transactions outcomes outcomes_billing metrics_sessions profiles
replay_recordings monitors spans feedback items"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
"$PY" -c "import confluent_kafka, msgpack" 2>/dev/null || {
    echo "$PY lacks confluent-kafka/msgpack: python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt" >&2
    exit 2
}
bash "$ROOT/scripts/services.sh" || { echo "Redis/tansu did not start (see /tmp/services.log)" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# utime + stime of a process, in seconds (0 if it is gone).
cpu_secs() {
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}

kb_to_mb() { awk -v kb="$1" 'BEGIN { printf "%.0f", kb / 1024 }'; }

# The project state pushed into Redis: an enabled project with what a typical Sentry project
# has switched on (default data scrubbing, the common inbound filters, span-op breakdowns).
default_project_config() {
    cat <<JSON
{
  "disabled": false,
  "projectId": $PROJECT_ID,
  "slug": "bench",
  "organizationId": 1,
  "rev": "$1",
  "lastChange": "2025-01-01T00:00:00Z",
  "publicKeys": [{"publicKey": "$DSN_KEY", "numericId": 123}],
  "config": {
    "allowedDomains": ["*"],
    "trustedRelays": [],
    "piiConfig": null,
    "datascrubbingSettings": {"scrubData": true, "scrubDefaults": true, "scrubIpAddresses": false,
                              "sensitiveFields": [], "excludeFields": []},
    "filterSettings": {"browserExtensions": {"isEnabled": true}, "webCrawlers": {"isEnabled": true},
                       "localhost": {"isEnabled": false}, "legacyBrowsers": {"isEnabled": false}},
    "eventRetention": 90,
    "breakdownsV2": {"span_ops": {"type": "spanOperations", "matches": ["http", "db", "browser", "resource", "ui"]}},
    "quotas": [],
    "features": []
  }
}
JSON
}

run_kind() {
    local kind=$1 main_topic
    case "$kind" in
        error) main_topic=events ;;
        transaction) main_topic=transactions ;;
        *) echo "unknown kind $kind (error|transaction)" >&2; return 2 ;;
    esac
    local D; D=$(mktemp -d /tmp/bench-processing.XXXXXX)
    local id=${D##*.}
    local port; port=$(free_port)
    local upstream_port; upstream_port=$(free_port)
    local prefix="relay-bench:$id"
    local topics="" assignments="" name logical
    for logical in $LOGICAL_TOPICS; do
        name="bench-$id-$logical"
        topics="$topics $name"
        assignments="$assignments    $logical: $name
"
    done

    # Stops what this run started (by pid) and removes its topics and Redis key.
    local pid="" stub=""
    cleanup() {
        [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
        [ -n "$stub" ] && { kill "$stub" 2>/dev/null; wait "$stub" 2>/dev/null; }
        # shellcheck disable=SC2086
        "$PY" "$HERE/kafka_count.py" delete $topics 2>/dev/null
        "$BIN" -c "$D" project-config delete "$DSN_KEY" >/dev/null 2>&1
        trap - INT TERM
    }
    trap 'cleanup; exit 130' INT TERM

    "$PY" "$HERE/make_envelopes.py" "$kind" > "$D/envelope.bin"
    local size; size=$(wc -c < "$D/envelope.bin")

    python3 "$HERE/stub_upstream.py" "$upstream_port" > "$D/upstream.log" 2>&1 &
    stub=$!
    # Relay backs off between registration attempts: start it only once the stub answers.
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$upstream_port/__stats" >/dev/null && break
        sleep 0.1
    done

    local kafka_params="      - {name: bootstrap.servers, value: \"$KAFKA\"}
" kv
    for kv in ${KAFKA_PARAMS:-}; do
        kafka_params="$kafka_params      - {name: \"${kv%%=*}\", value: \"${kv#*=}\"}
"
    done
    cat > "$D/config.yml" <<YML
relay:
  mode: managed
  upstream: http://127.0.0.1:$upstream_port/
  host: 127.0.0.1
  port: $port
logging:
  level: warn
limits:
  max_thread_count: $THREADS
processing:
  enabled: true
  redis: $REDIS_URL
  projectconfig_cache_prefix: "$prefix"
  kafka_config:
$kafka_params  topics:
$assignments
YML
    "$BIN" -c "$D" credentials generate >/dev/null 2>&1 \
        || { echo "credentials generate failed" >&2; cleanup; return 1; }
    if [ -n "${PROJECT_CONFIG:-}" ]; then
        cp "$PROJECT_CONFIG" "$D/project.json"
    else
        default_project_config "$id" > "$D/project.json"
    fi
    # shellcheck disable=SC2086 # topic names have no spaces
    "$PY" "$HERE/kafka_count.py" create $topics || { cleanup; return 1; }
    "$BIN" -c "$D" project-config push "$D/project.json" > "$D/push.log" 2>&1 \
        || { cat "$D/push.log" >&2; cleanup; return 1; }

    "$BIN" -c "$D" run > "$D/relay.log" 2>&1 &
    pid=$!
    local ready=""
    for _ in $(seq 300); do
        if curl -sf "http://127.0.0.1:$port/api/relay/healthcheck/ready/" >/dev/null; then ready=1; break; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$ready" ]; then
        echo "relay did not become ready; last log lines ($D/relay.log):" >&2
        tail -20 "$D/relay.log" >&2
        cleanup; return 1
    fi

    # Warm-up: one envelope through the whole pipeline before the clock starts.
    local auth="Sentry sentry_version=7, sentry_key=$DSN_KEY, sentry_client=perf/1.0" status=""
    for _ in $(seq 50); do
        status=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "@$D/envelope.bin" \
            -H "Content-Type: application/x-sentry-envelope" -H "X-Sentry-Auth: $auth" \
            "http://127.0.0.1:$port/api/$PROJECT_ID/envelope/")
        [ "$status" = 200 ] && break
        sleep 0.2
    done
    local warmup
    if [ "$status" != 200 ] || ! warmup=$("$PY" "$HERE/kafka_count.py" wait "bench-$id-$main_topic" --timeout 30); then
        echo "warm-up envelope (HTTP $status) never reached the $main_topic topic; relay log tail:" >&2
        tail -20 "$D/relay.log" >&2
        cleanup; return 1
    fi

    local tansu; tansu=$(pgrep -xo tansu || true)
    local relay_cpu0 tansu_cpu0
    relay_cpu0=$(cpu_secs "$pid"); tansu_cpu0=$([ -n "$tansu" ] && cpu_secs "$tansu" || echo 0)
    local load; load=$(cut -d' ' -f1-3 /proc/loadavg)

    # RSS sampler: the peak over the run; VmHWM (the kernel's own high-water mark) is read too.
    ( peak=0
      while kill -0 "$pid" 2>/dev/null && [ ! -e "$D/stop-sampling" ]; do
          rss=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
          [ "${rss:-0}" -gt "$peak" ] && peak=$rss && echo "$peak" > "$D/rss-peak"
          sleep 0.2
      done ) &
    local sampler=$!

    local perf=""
    if [ "${PERF:-}" = 1 ]; then
        # DWARF unwinding: release builds have no frame pointers, so `-g` alone gives no
        # usable call chains; the low frequency keeps perf.data at a few hundred MB.
        perf record -q -e cpu-clock -F 250 --call-graph dwarf,16384 -p "$pid" -o "$D/perf.data" -- sleep "$SECS" > "$D/perf.log" 2>&1 &
        perf=$!
    fi
    local t0_ms; t0_ms=$(date +%s%3N)
    ENVELOPE="$D/envelope.bin" DSN_KEY=$DSN_KEY PROJECT_ID=$PROJECT_ID \
        wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s "$HERE/envelope.lua" "http://127.0.0.1:$port" \
        > "$D/wrk.txt" 2>&1
    local wrk_end_ms; wrk_end_ms=$(date +%s%3N)
    [ -n "$perf" ] && wait "$perf"

    local also="" other
    for other in $LOGICAL_TOPICS; do
        [ "$other" = "$main_topic" ] || also="$also --also bench-$id-$other:$other"
    done
    # shellcheck disable=SC2086
    "$PY" "$HERE/kafka_count.py" count "bench-$id-$main_topic" --skip "$warmup" --t0-ms "$t0_ms" \
        --idle "$IDLE" $also > "$D/kafka.txt" 2>&1
    touch "$D/stop-sampling"; wait "$sampler" 2>/dev/null

    local relay_cpu tansu_cpu hwm_kb peak_kb
    relay_cpu=$(awk -v a="$(cpu_secs "$pid")" -v b="$relay_cpu0" 'BEGIN { printf "%.1f", a - b }')
    tansu_cpu=$(awk -v a="$([ -n "$tansu" ] && cpu_secs "$tansu" || echo 0)" -v b="$tansu_cpu0" 'BEGIN { printf "%.1f", a - b }')
    hwm_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    peak_kb=$(cat "$D/rss-peak" 2>/dev/null || echo 0)
    local stub_stats; stub_stats=$(curl -s "http://127.0.0.1:$upstream_port/__stats")
    local relay_alive=yes; kill -0 "$pid" 2>/dev/null || relay_alive=no
    cleanup

    # --- report ------------------------------------------------------------------------------
    local wrk_line kafka_line
    wrk_line=$(grep '^RESULT' "$D/wrk.txt")
    kafka_line=$(grep -E '^delivered=' "$D/kafka.txt")
    if [ -z "$wrk_line" ] || [ -z "$kafka_line" ]; then
        echo "run failed; see $D (wrk.txt, kafka.txt, relay.log)" >&2
        cat "$D/wrk.txt" "$D/kafka.txt" >&2
        return 1
    fi
    field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print substr($0, length(k) + 2) }'; }
    local codes ok requests delivered kafka_eps rps p50 p99 max_ms
    codes=$(field "$wrk_line" codes); requests=$(field "$wrk_line" requests)
    ok=$(echo "$codes" | tr ',' '\n' | awk -F: '$1 == 200 { print $2 }'); ok=${ok:-0}
    delivered=$(field "$kafka_line" delivered); kafka_eps=$(field "$kafka_line" kafka_eps)
    rps=$(field "$wrk_line" rps); p50=$(field "$wrk_line" p50_ms); p99=$(field "$wrk_line" p99_ms)
    max_ms=$(field "$wrk_line" max_ms)
    local last_ms; last_ms=$(field "$kafka_line" last_ms)
    local drain_s="?"
    [ -n "$last_ms" ] && drain_s=$(awk -v a="$last_ms" -v b="$wrk_end_ms" 'BEGIN { d = (a - b) / 1000; printf "%.2f", d < 0 ? 0 : d }')
    local cpu_us="?"
    [ "${delivered:-0}" -gt 0 ] && cpu_us=$(awk -v c="$relay_cpu" -v n="$delivered" 'BEGIN { printf "%.0f", c * 1e6 / n }')
    local pct; pct=$(awk -v d="${delivered:-0}" -v a="$ok" 'BEGIN { if (a > 0) printf "%.2f", 100 * d / a; else print "-" }')

    echo "== $kind envelope ($size bytes): ${SECS}s, $CONNS connections, max_thread_count=$THREADS, load before: $load"
    echo "http   requests=$requests rps=$rps p50=${p50}ms p99=${p99}ms max=${max_ms}ms codes=$codes socket_errors=$(field "$wrk_line" socket_errors)"
    # wrk does not count the requests in flight when it stops (at most one per connection), so
    # up to $CONNS more than "accepted" can reach the topic.
    echo "kafka  delivered=$delivered of $ok accepted ($pct%; up to +$CONNS in flight at wrk stop) envelopes/s=$kafka_eps over $(field "$kafka_line" kafka_secs)s (first request -> last message; last message ${drain_s}s after wrk ended)"
    echo "       received->produced latency p50=$(field "$kafka_line" e2e_p50_ms)ms p99=$(field "$kafka_line" e2e_p99_ms)ms max=$(field "$kafka_line" e2e_max_ms)ms"
    local others
    others=$(echo "$kafka_line" | tr ' ' '\n' | grep -vE '^(delivered|warmup_skipped|first_ms|last_ms|kafka_secs|kafka_eps|e2e_[a-z0-9_]+|read_secs|stopped|timing)=' | grep -vE '=0$' | tr '\n' ' ')
    echo "       other topics: ${others:-(nothing)}"
    echo "relay  peak_rss=$(kb_to_mb "$peak_kb")MB (VmHWM $(kb_to_mb "${hwm_kb:-0}")MB) cpu=${relay_cpu}s (${cpu_us}us per delivered envelope, refused requests included) alive_after_run=$relay_alive; tansu cpu=${tansu_cpu}s"
    echo "       stub upstream: $stub_stats"
    echo "RESULT kind=$kind rps=$rps kafka_eps=$kafka_eps delivered=$delivered accepted=$ok requests=$requests p50_ms=$p50 p99_ms=$p99 peak_rss_mb=$(kb_to_mb "${hwm_kb:-0}") relay_cpu_us_per_envelope=$cpu_us"
    if [ "$kind" = error ]; then
        local verdict
        verdict=$(awk -v eps="${kafka_eps:-0}" -v d="${delivered:-0}" -v a="$ok" -v r="$requests" \
            -v p99="$p99" -v rss="$(kb_to_mb "${hwm_kb:-0}")" 'BEGIN {
            out = ""
            if (eps < 8000) out = out " envelopes/s<8000"
            if (d < a) out = out " lost-after-200"
            if (a != r) out = out " non-200-answers"
            if (p99 >= 20) out = out " p99>=20ms"
            if (rss >= 300) out = out " rss>=300MB"
            print (out == "" ? "PASS" : "MISS:" out) }')
        echo "TARGET (>=8,000/s, all on the topic, p99 < 20 ms, peak RSS < 300 MB): $verdict"
    fi
    [ -n "$(field "$kafka_line" stopped)" ] && echo "warning: counting stopped at its timeout, the topic was still growing" >&2
    if [ -n "$perf" ]; then
        perf report -i "$D/perf.data" --no-children --percent-limit 0.7 --stdio -g none \
            > "$D/perf.txt" 2>/dev/null
        echo "       profile: $D/perf.txt (perf report -i $D/perf.data for more)"
        KEEP=1
    fi
    if [ "${KEEP:-}" = 1 ]; then echo "       run directory: $D"; else rm -rf "$D"; fi
}

status=0
for kind in $KINDS; do
    run_kind "$kind" || status=1
done
exit $status
