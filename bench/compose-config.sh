#!/usr/bin/env bash
# `berth compose config` end to end on the 300-service fixture (hyperfine).
# Usage: bench/compose-config.sh   (builds release first; needs hyperfine: apt-get install hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p berth
berth=${CARGO_TARGET_DIR:-$PWD/target}/release/berth
fixture=bench/fixtures/compose-300.yaml
hyperfine --warmup 5 --runs 50 --shell=none \
  "$berth compose -f $fixture config -q" \
  "$berth compose -f $fixture config --format json" \
  "$berth compose -f $fixture config"
