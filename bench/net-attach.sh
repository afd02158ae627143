#!/usr/bin/env bash
# Network setup cost per container: `connect` = veth pair (peer born in the
# container's namespace), address, link up, default route, lease in SQLite and
# DNS registration acknowledged by the DNS server; and with the namespace's
# creation. COUNT containers on one network, median and p99.
# Usage (root): bench/net-attach.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --quiet -p berth-network --example netbench
"$target/release/examples/netbench" attach "${1:-200}"
