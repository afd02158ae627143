#!/usr/bin/env bash
# Cold and warm `berth pull` of a ~100 MB, 3-layer image of incompressible
# data from Debian's docker-registry on 127.0.0.1, against `skopeo copy`
# (to an OCI layout and to a dir, neither of which unpacks), with hyperfine.
# Usage: bench/pull.sh [RUNS]   (root; needs docker-registry, skopeo, hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
cargo build --release --quiet -p berth
berth=${CARGO_TARGET_DIR:-$PWD/target}/release/berth

work=$(mktemp -d /tmp/berth-bench-pull.XXXXXX)
registry_pid=
cleanup() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The registry, on a free loopback port.
. bench/lib/registry.sh
start_registry

# The image: three gzip layers of 33 MiB of random bytes each, as an OCI layout.
layout=$work/layout
mkdir -p "$layout/blobs/sha256"
echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
sha() { sha256sum "$1" | cut -d' ' -f1; }
layers= diffs=
for i in 1 2 3; do
  mkdir -p "$work/l$i/data"
  head -c 33M /dev/urandom >"$work/l$i/data/blob$i.bin"
  tar -C "$work/l$i" -cf "$work/l$i.tar" data
  gzip -1 -c "$work/l$i.tar" >"$work/l$i.tar.gz"
  diff=$(sha "$work/l$i.tar"); digest=$(sha "$work/l$i.tar.gz"); size=$(stat -c %s "$work/l$i.tar.gz")
  cp "$work/l$i.tar.gz" "$layout/blobs/sha256/$digest"
  layers="$layers${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$digest\",\"size\":$size}"
  diffs="$diffs${diffs:+,}\"sha256:$diff\""
done
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' "$diffs" >"$work/config.json"
config=$(sha "$work/config.json"); cp "$work/config.json" "$layout/blobs/sha256/$config"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
  "$config" "$(stat -c %s "$work/config.json")" "$layers" >"$work/manifest.json"
manifest=$(sha "$work/manifest.json"); cp "$work/manifest.json" "$layout/blobs/sha256/$manifest"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' \
  "$manifest" "$(stat -c %s "$work/manifest.json")" >"$layout/index.json"
image=127.0.0.1:$port/bench/pull:1
skopeo copy --quiet --preserve-digests --dest-tls-verify=false "oci:$layout:1" "docker://$image"
echo "image $image: $(du -sh "$layout/blobs" | cut -f1) in blobs, manifest sha256:$manifest"

root=$work/root
export BERTH_RUN=$work/run
hyperfine --warmup 2 --runs "$runs" --export-markdown "$work/cold.md" \
  --prepare "rm -rf $root $work/oci $work/dir; sync" \
  -n "berth pull (cold: download, verify, unpack)" "BERTH_ROOT=$root $berth pull -q $image" \
  -n "skopeo copy to oci layout (no unpack)" "skopeo copy --quiet --src-tls-verify=false docker://$image oci:$work/oci:1" \
  -n "skopeo copy to dir (no unpack)" "skopeo copy --quiet --src-tls-verify=false docker://$image dir:$work/dir"
BERTH_ROOT=$root "$berth" pull -q "$image" >/dev/null
hyperfine --warmup 3 --runs $((runs * 3)) --export-markdown "$work/warm.md" \
  -n "berth pull (warm: everything present)" "BERTH_ROOT=$root $berth pull -q $image"
cat "$work/cold.md" "$work/warm.md"
