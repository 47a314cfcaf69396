#!/usr/bin/env bash
# Runs the whole test suite: formatting and lints, the Rust unit tests (including the
# fuzz targets in test mode), then the Python integration tests against the real binary,
# real Redis and real Kafka (tansu). Installs and starts what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

scripts/services.sh

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
cargo build --locked -p relay-server --bin relay

RELAY_BIN="$PWD/target/debug/relay" .venv/bin/python -m pytest tests/integration -q -p no:cacheprovider "$@"
