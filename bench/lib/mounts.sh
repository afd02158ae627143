# Sourced by the bench scripts: unmounts whatever is still mounted under a
# directory (deepest first), so that a daemon stopped before it settled its
# last container cannot leave a namespace mount behind the removed work dir.
unmount_under() {
  awk -v dir="$1/" 'index($5, dir) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r mount; do
    umount -l "$mount" 2>/dev/null || true
  done
}
