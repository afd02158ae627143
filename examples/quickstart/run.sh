#!/bin/sh
# Sets up a fresh Debian machine (as root) and runs the quickstart stack:
# installs the packages berth and the example images need, builds berth,
# installs it (berth and berth-monitor) into /usr/local/bin, builds the two images from Debian
# packages (build-images.sh), brings the stack up and asks it for a page twice.
#
# Needs a Rust toolchain (rustup's; Debian's own cargo is too old).
# Environment: WEB_PORT (default from .env: 8080), REBUILD_IMAGES=1 to build
# the images again even when berth has them.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: run me as root: berth creates namespaces, mounts, cgroups and bridges" >&2
    exit 1
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "run.sh: cargo is missing: install Rust with rustup (https://rustup.rs), then run me again" >&2
    exit 1
fi

echo "== Debian packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# To build berth: gcc, libc6-dev, pkg-config, libseccomp-dev. To run it: iproute2,
# nftables, libseccomp2. For the images: busybox-static, redis-tools (Debian's redis
# server binary and redis-cli, without the host service the redis-server package
# adds). curl to try the stack.
apt-get install -y -qq --no-install-recommends \
    gcc libc6-dev pkg-config libseccomp-dev libseccomp2 iproute2 nftables \
    busybox-static redis-tools curl ca-certificates >/dev/null

echo "== berth"
(cd "$repo" && cargo build --release --locked -p berth)
# berth-monitor (the containers' monitors) goes next to berth, where the daemon looks for it.
install -m 0755 "${CARGO_TARGET_DIR:-$repo/target}/release/berth" /usr/local/bin/berth
install -m 0755 "${CARGO_TARGET_DIR:-$repo/target}/release/berth-monitor" /usr/local/bin/berth-monitor
berth --version

echo "== images"
if [ "${REBUILD_IMAGES:-0}" = 1 ] || ! berth image inspect berth-example/busybox:latest >/dev/null 2>&1 ||
    ! berth image inspect berth-example/redis:latest >/dev/null 2>&1; then
    BERTH=/usr/local/bin/berth "$here/build-images.sh"
else
    echo "berth-example/busybox:latest and berth-example/redis:latest are there (REBUILD_IMAGES=1 builds them again)"
fi

echo "== the stack"
cd "$here"
port=${WEB_PORT:-$(sed -n 's/^WEB_PORT=//p' .env)}
# --wait: returns once every service runs and the cache reports healthy.
berth compose up -d --wait
berth compose ps

echo "== two visits"
curl -fsS "http://127.0.0.1:$port/cgi-bin/hits"
curl -fsS "http://127.0.0.1:$port/cgi-bin/hits"

cat <<EOF

The stack runs. In $here:
  berth compose ps          what runs
  berth compose logs -f     its logs
  berth compose down        stop and remove it (the visit count stays in the volume)
  berth compose down -v     ... and remove the volume too
EOF
