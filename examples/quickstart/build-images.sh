#!/bin/sh
# Builds the quickstart's two images from this machine's Debian packages, with
# no registry: each is a root file system tarball given to `berth import`.
#
#   berth-example/busybox:latest  busybox-static with its applet links, /etc/passwd,
#                                 /etc/group, /tmp (1777)
#   berth-example/redis:latest    the same, plus Debian's redis server and redis-cli
#                                 with the shared libraries ldd finds, and a redis user
#
# Needs root (chroot, file ownership) and the packages busybox-static and
# redis-tools (which holds the server binary; the redis-server package only adds
# a symlink to it and a host service we do not want). BERTH names the berth
# binary (default: berth on PATH); BERTH_ROOT is passed through as usual.
set -eu

BERTH=${BERTH:-berth}
REDIS_UID=999

for tool in /bin/busybox /usr/bin/redis-check-rdb /usr/bin/redis-cli; do
    if [ ! -x "$tool" ]; then
        echo "build-images.sh: $tool is missing: apt-get install busybox-static redis-tools" >&2
        exit 1
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-quickstart.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# A busybox root file system in $1: the binary, its applets linked where
# busybox itself puts them, the accounts files and the usual directories.
busybox_rootfs() {
    root=$1
    mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/etc" "$root/root" "$root/tmp" \
        "$root/var" "$root/proc" "$root/sys" "$root/dev"
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    chroot "$root" /bin/busybox --install -s
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' \
        > "$root/etc/passwd"
    printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' > "$root/etc/group"
}

# Copies the program $2 into the root file system $1 as $3, with every shared
# library ldd names (and the dynamic loader) at the same path as on this machine.
add_program() {
    root=$1
    mkdir -p "$root$(dirname "$3")"
    cp "$2" "$root$3"
    ldd "$2" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p' | while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

# Makes the tarball of $1 and imports it as $2 with the --change options that follow.
import() {
    root=$1
    name=$2
    shift 2
    tar --numeric-owner -C "$root" -czf "$root.tar.gz" .
    id=$("$BERTH" import "$@" "$root.tar.gz" "$name")
    echo "$name $id"
}

busybox_rootfs "$work/busybox"
import "$work/busybox" berth-example/busybox:latest --change 'CMD ["sh"]'

busybox_rootfs "$work/redis"
# Debian's redis-server is this same binary: it acts as the server unless called redis-check-rdb.
add_program "$work/redis" /usr/bin/redis-check-rdb /usr/bin/redis-server
add_program "$work/redis" /usr/bin/redis-cli /usr/bin/redis-cli
echo "redis:x:$REDIS_UID:$REDIS_UID:redis:/data:/bin/false" >> "$work/redis/etc/passwd"
echo "redis:x:$REDIS_UID:" >> "$work/redis/etc/group"
mkdir -p "$work/redis/data"
chown "$REDIS_UID:$REDIS_UID" "$work/redis/data"
import "$work/redis" berth-example/redis:latest \
    --change 'CMD ["redis-server"]' --change 'WORKDIR /data' --change 'EXPOSE 6379'
