#!/usr/bin/env bash
# `berth run --rm busybox true` end to end through the daemon (create, monitor,
# overlay, libcontainer create/start, wait, --rm removal), without a network
# and on the default bridge (namespace, veth, address), against `crun run` of the same rootfs (the
# floor: no image store, no overlay, no record), with hyperfine; then the RSS of
# an idle container's monitor. The image comes from Debian's docker-registry on
# 127.0.0.1 (busybox-static, one layer), pushed with skopeo and pulled by berth.
# crun refuses hybrid cgroup hosts whose hugetlb controller sits in the cgroup2
# tree; for its runs only, hugetlb is mounted as a v1 hierarchy and unmounted after.
# Usage: bench/run.sh [RUNS]   (root; needs docker-registry, skopeo, busybox-static, crun, hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}
cargo build --release --quiet -p berth
berth=${CARGO_TARGET_DIR:-$PWD/target}/release/berth

work=$(mktemp -d /tmp/berth-bench-run.XXXXXX)
# Its own state, daemon, link prefix and address pool; forwarded DNS goes nowhere.
export BERTH_ROOT=$work/root BERTH_RUN=$work/run BERTH_NETWORK_PREFIX=bbr BERTH_NETWORK_POOL=10.252.0.0/16
export BERTH_DNS_UPSTREAMS=127.0.0.1:9
registry_pid=
hugetlb=
cleanup() {
  if [ -n "$hugetlb" ]; then umount "$hugetlb" 2>/dev/null || true; rmdir "$hugetlb" 2>/dev/null || true; fi
  "$berth" ps -aq 2>/dev/null | xargs -r "$berth" rm -f >/dev/null 2>&1 || true
  if [ -f "$work/run/berth.pid" ]; then
    # SIGTERM, then SIGKILL if it is still there after 5 s.
    daemon=$(cat "$work/run/berth.pid")
    kill "$daemon" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$daemon" 2>/dev/null || true
  fi
  nft delete table inet bbr 2>/dev/null || true
  for link in $(ip -o link show | awk -F': ' '{print $2}' | grep '^bbr' | cut -d@ -f1); do
    ip link delete "$link" 2>/dev/null || true
  done
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  unmount_under "$work"
  rm -rf "$work"
}
. bench/lib/mounts.sh
trap cleanup EXIT

. bench/lib/registry.sh
start_registry

# The busybox image: one layer, as an OCI layout.
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,etc,tmp,root,proc,sys,dev}
chmod 1777 "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\n' >"$rootfs/etc/group"
layout=$work/layout
mkdir -p "$layout/blobs/sha256"
echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
sha() { sha256sum "$1" | cut -d' ' -f1; }
tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -cf "$work/layer.tar" .
gzip -1 -c "$work/layer.tar" >"$work/layer.tar.gz"
diff=$(sha "$work/layer.tar"); digest=$(sha "$work/layer.tar.gz"); size=$(stat -c %s "$work/layer.tar.gz")
cp "$work/layer.tar.gz" "$layout/blobs/sha256/$digest"
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff" >"$work/config.json"
config=$(sha "$work/config.json"); cp "$work/config.json" "$layout/blobs/sha256/$config"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
  "$config" "$(stat -c %s "$work/config.json")" "$digest" "$size" >"$work/manifest.json"
manifest=$(sha "$work/manifest.json"); cp "$work/manifest.json" "$layout/blobs/sha256/$manifest"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
  "$manifest" "$(stat -c %s "$work/manifest.json")" >"$layout/index.json"
image=127.0.0.1:$port/busybox:latest
skopeo copy --quiet --dest-tls-verify=false "oci:$layout:latest" "docker://$image"

"$berth" pull -q "$image" >/dev/null
"$berth" tag "$image" busybox

# crun's bundle: the same layer as berth unpacked it, copied; `true`, no terminal.
bundle=$work/bundle
mkdir -p "$bundle"
cp -a "$(find "$BERTH_ROOT/layers" -mindepth 1 -maxdepth 1 -type d | head -1)" "$bundle/rootfs"
(cd "$bundle" && crun spec)
python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["/bin/true"]
json.dump(spec, open(path, "w"))
PY
if grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; then
  hugetlb=$work/hugetlb-v1
  mkdir -p "$hugetlb"
  mount -t cgroup -o hugetlb berth-bench-hugetlb "$hugetlb"
fi

"$berth" version >/dev/null  # the daemon, started once
hyperfine --warmup 5 --runs "$runs" -N --export-markdown "$work/run.md" \
  -n "berth run --rm --network none busybox true" "$berth run --rm --network none busybox true" \
  -n "berth run --rm busybox true (default bridge)" "$berth run --rm busybox true" \
  -n "crun run (same rootfs, bundle ready)" "crun run --bundle $bundle berth-bench-$$"
cat "$work/run.md"

# One idle container: its monitor's memory (it drops its startup pages once the container has run 1 s).
id=$("$berth" run -d busybox sleep 1000)
pid=$("$berth" inspect -f '{{.State.Pid}}' "$id")
monitor=$(ps -o ppid= -p "$pid" | tr -d ' ')
sleep 2
echo "idle monitor (pid $monitor): $(grep -E '^(VmRSS|RssAnon|RssFile|RssShmem)' "/proc/$monitor/status" | tr -s ' \t' ' ' | paste -sd';'); $(grep -E '^(Pss|Private_Clean|Private_Dirty):' "/proc/$monitor/smaps_rollup" | tr -s ' \t' ' ' | paste -sd';')"
"$berth" rm -f "$id" >/dev/null
