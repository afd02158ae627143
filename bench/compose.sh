#!/usr/bin/env bash
# berth compose end to end, against a 10-service stack (busybox httpd, one
# network, a depends_on chain of 3) from an image already in the store:
#   1. `compose up -d` until all run, and `compose down` (hyperfine);
#   2. restart latency: kill -9 of a service's process until its replacement
#      runs (from the daemon's event stream: the `start` event's time minus
#      the time of the kill), for a first crash;
#   3. memory: RSS of the daemon plus every container monitor, stack up.
# Usage: bench/compose.sh [RUNS]   (root; release build; needs hyperfine, busybox-static)
# Everything it makes has the prefix `bbc` and its own BERTH_ROOT; it is all
# removed at the end, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
cargo build --release --quiet -p berth
berth=${CARGO_TARGET_DIR:-$PWD/target}/release/berth

work=$(mktemp -d /tmp/berth-bench-compose.XXXXXX)
export BERTH_ROOT=$work/root BERTH_RUN=$work/run BERTH_NETWORK_PREFIX=bbc BERTH_NETWORK_POOL=10.251.0.0/16
export BERTH_DNS_UPSTREAMS=127.0.0.1:9 HOME=$work
project=$work/project
mkdir -p "$project"

# SIGTERM, then SIGKILL if it is still there after 5 s (it closes open streams after 3 s).
stop_daemon() {
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
}

cleanup() {
    "$berth" compose -f "$project/compose.yaml" down -t 1 >/dev/null 2>&1 || true
    if [ -f "$BERTH_RUN/berth.pid" ]; then
        stop_daemon "$(cat "$BERTH_RUN/berth.pid")"
    fi
    nft delete table inet bbc 2>/dev/null || true
    for link in $(ip -o link show | awk -F': ' '{print $2}' | grep '^bbc' | cut -d@ -f1); do
        ip link delete "$link" 2>/dev/null || true
    done
    unmount_under "$work"
  rm -rf "$work"
}
. bench/lib/mounts.sh
trap cleanup EXIT

# The image: busybox-static as one layer, imported.
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/sbin" "$rootfs/usr/bin" "$rootfs/usr/sbin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/www"
cp /bin/busybox "$rootfs/bin/busybox"
chroot "$rootfs" /bin/busybox --install -s
echo 'root:x:0:0:root:/root:/bin/sh' > "$rootfs/etc/passwd"
echo 'root:x:0:' > "$rootfs/etc/group"
echo hello > "$rootfs/www/index.html"
tar --numeric-owner -C "$rootfs" -cf "$work/rootfs.tar" .
"$berth" import "$work/rootfs.tar" bench/busybox:latest >/dev/null

{
    echo "name: bench"
    echo "services:"
    for i in $(seq 1 10); do
        echo "  s$i:"
        echo "    image: bench/busybox:latest"
        echo "    command: [sh, -c, \"trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait\"]"
        echo "    restart: always"
        case $i in
            2) echo "    depends_on: [s1]" ;;
            3) echo "    depends_on: [s2]" ;;
        esac
    done
} > "$project/compose.yaml"
compose() { "$berth" compose -f "$project/compose.yaml" "$@"; }

# Start the daemon and warm everything once.
compose up -d >/dev/null 2>&1
compose down >/dev/null 2>&1

echo "== 1. up -d / down of 10 services"
hyperfine --runs "$runs" --warmup 2 \
    --prepare "$berth compose -f $project/compose.yaml down >/dev/null 2>&1" \
    "$berth compose -f $project/compose.yaml up -d"
hyperfine --runs "$runs" --warmup 2 \
    --prepare "$berth compose -f $project/compose.yaml up -d >/dev/null 2>&1" \
    "$berth compose -f $project/compose.yaml down"

echo "== 2. restart latency after kill -9 (first crash of a container)"
compose up -d >/dev/null 2>&1
latencies=()
for i in $(seq 1 10); do
    name=bench-s$((i % 10 + 1))-1
    # Each kill targets another container, so each is that container's first crash.
    pid=$("$berth" inspect "$name" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["State"]["Pid"])')
    events=$work/events-$i.jsonl
    "$berth" compose -f "$project/compose.yaml" events --json > "$events" &
    listener=$!
    sleep 0.3
    killed=$(date +%s%N)
    kill -9 "$pid"
    for _ in $(seq 1 200); do
        grep -q "\"action\":\"start\",\"id\":\"$name\"" "$events" && break
        sleep 0.01
    done
    kill "$listener" 2>/dev/null || true
    wait "$listener" 2>/dev/null || true
    started=$(python3 - "$events" "$name" <<'PY'
import json, sys, datetime
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["action"] == "start" and e["id"] == sys.argv[2]:
        t = e["time"]
        seconds, frac = t.rstrip("Z").split(".")
        base = datetime.datetime.strptime(seconds, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
        print(int(base.timestamp()) * 10**9 + int(frac.ljust(9, "0")[:9]))
        break
PY
)
    latencies+=($(( (started - killed) / 1000 )))
done
printf '%s\n' "${latencies[@]}" | sort -n | awk '{a[NR]=$1} END {printf "restart latency (µs): min %d, median %d, max %d over %d kills\n", a[1], a[int((NR+1)/2)], a[NR], NR}'

echo "== 3. memory with the stack up (RSS and PSS, KiB)"
# RSS counts a page in every process that maps it (the berth binary's pages
# in the daemon, the spawner and every monitor alike); PSS splits shared
# pages between the processes sharing them, so PSS adds up to what the
# processes together use.
memory() { awk -v key="$2:" '$1 == key {print $2}' "/proc/$1/smaps_rollup"; }
sum() { local total=0 pid; for pid in $2; do total=$((total + $(memory "$pid" "$1"))); done; echo "$total"; }
daemon=$(cat "$BERTH_RUN/berth.pid")
spawner=$(pgrep -P "$daemon" -f "berth-monitor spawner" || true)
monitors=$(pgrep -P "$spawner" || true)
dns=$(pgrep -f "__dns-server.*$BERTH_RUN" || true)
for kind in Rss Pss; do
    d=$(sum "$kind" "$daemon"); s=$(sum "$kind" "$spawner"); m=$(sum "$kind" "$monitors"); n=$(sum "$kind" "$dns")
    echo "$kind: daemon $d; spawner $s; $(echo "$monitors" | wc -w) monitors $m; DNS server $n; total $((d + s + m + n))"
done
