#!/usr/bin/env bash
# Name resolution latency from inside a container's namespace: sequential UDP
# A queries for another container's name to the embedded DNS on the gateway
# (the server process as it runs in production), median and p99.
# Usage (root): bench/net-dns.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --quiet -p berth-network --example netbench
"$target/release/examples/netbench" dns "${1:-20000}"
