#!/usr/bin/env bash
# Throughput and latency through a published port (kernel DNAT, no proxy) against
# the same busybox httpd reached directly from the host; wrk, 10 s, 50 connections.
# ROUNDS=N repeats the pair N times, alternating which goes first.
# (Not measured: the container's address straight from the host. Its client
# ports collide with the TIME_WAIT sockets the container's httpd keeps from
# earlier runs and stall for a second each; masquerade picks ports that avoid
# conntrack's entries, so the published port does not suffer from it.)
# Usage (root): bench/net-throughput.sh   (needs wrk and busybox-static: .ci/run installs them)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --quiet -p berth-network --example netbench
netbench=$target/release/examples/netbench
direct_port=${DIRECT_PORT:-18481}
published_port=${PUBLISHED_PORT:-18482}
work=$(mktemp -d)
mkdir -p "$work/www"
printf 'hello from berth\n' > "$work/www/index.html"

busybox httpd -f -p "127.0.0.1:$direct_port" -h "$work/www" &
direct_pid=$!
coproc NETBENCH { "$netbench" serve "$published_port"; }
netbench_pid=$NETBENCH_PID
cleanup() {
  kill "$direct_pid" 2>/dev/null || true
  exec {NETBENCH[1]}>&- 2>/dev/null || true   # closing its stdin makes netbench tear down
  wait "$netbench_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
read -r container_ip <&"${NETBENCH[0]}"
sleep 0.5

run() {
  echo "== $1: $2"
  wrk -t2 -c50 -d10s --latency "$2" | grep -E 'Requests/sec|Latency |50%|99%|requests in|Socket errors|Non-2xx'
}
direct() { run "host-direct (busybox httpd on the host)" "http://127.0.0.1:$direct_port/"; }
published() { run "published port (127.0.0.1:$published_port -> $container_ip:80, DNAT)" "http://127.0.0.1:$published_port/"; }
for round in $(seq "${ROUNDS:-1}"); do
  if [ $((round % 2)) -eq 1 ]; then direct; published; else published; direct; fi
done
