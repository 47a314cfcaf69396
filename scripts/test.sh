#!/usr/bin/env bash
# Runs the whole test suite: the module-cycle and doc-reference checks, formatting and lints,
# the Rust unit tests (including the fuzz targets in test mode) with and without the
# `processing` feature, then the Python integration tests against the real binary, real Redis
# and real Kafka (tansu). Installs and starts what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

scripts/services.sh

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt

# The repository's shape: no module cycles in any crate, every cited reference section exists.
python3 scripts/check-module-cycles.py
python3 scripts/check-doc-references.py

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The edge relay without the `processing` feature: no librdkafka, no Redis.
if cargo tree --locked -p relay-server --no-default-features -e normal | grep -q rdkafka; then
    echo "relay-server without the processing feature still depends on rdkafka" >&2
    exit 1
fi
cargo clippy --locked -p relay-server --no-default-features --all-targets -- -D warnings
cargo test --locked -p relay-server --no-default-features
cargo build --locked -p relay-server --no-default-features --bin relay
cp target/debug/relay target/debug/relay-edge
cargo build --locked -p relay-server --bin relay

RELAY_BIN="$PWD/target/debug/relay" RELAY_EDGE_BIN="$PWD/target/debug/relay-edge" \
    .venv/bin/python -m pytest tests/integration -q -p no:cacheprovider "$@"
