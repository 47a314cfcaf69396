#!/usr/bin/env bash
# Makes sure the build tools and the services the test suite talks to are installed and
# running:
#   - a C/C++ toolchain, make and pkg-config (librdkafka is compiled from source),
#   - Redis on 127.0.0.1:6379 (Debian's redis-server),
#   - the Kafka-compatible broker tansu on 127.0.0.1:9092 (built once with cargo, then cached
#     in ~/.cargo/bin).
# Idempotent: running services are left alone.
set -euo pipefail

port_open() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

wait_for_port() {
    for _ in $(seq 100); do
        port_open "$1" && return 0
        sleep 0.1
    done
    echo "service on port $1 did not come up" >&2
    return 1
}

apt_install() {
    if [ -z "${APT_UPDATED:-}" ]; then
        apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Build tools: librdkafka (bundled by the rdkafka crate) and zstd are compiled from source
# with the system C/C++ toolchain, make and pkg-config.
for tool in cc c++ make pkg-config; do
    if ! command -v "$tool" >/dev/null; then
        apt_install build-essential pkg-config
        break
    fi
done

# Redis
if ! port_open 6379; then
    command -v redis-server >/dev/null || apt_install redis-server
    mkdir -p /tmp/relay-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /tmp/relay-redis --logfile /tmp/relay-redis/redis.log
    wait_for_port 6379
fi

# tansu (Kafka)
export PATH="$HOME/.cargo/bin:$PATH"
if ! port_open 9092; then
    if ! command -v tansu >/dev/null; then
        echo "building tansu (first run only)..." >&2
        cargo install tansu --locked --features dynostore --quiet
    fi
    mkdir -p /tmp/relay-tansu
    nohup tansu broker \
        --listener-url tcp://127.0.0.1:9092 \
        --advertised-listener-url tcp://127.0.0.1:9092 \
        --storage-engine memory://tansu/ >/tmp/relay-tansu/tansu.log 2>&1 &
    wait_for_port 9092
fi
