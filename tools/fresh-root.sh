#!/usr/bin/env bash
# The README's two commands on a brand-new Debian 12, so that a package missing from
# tools/install-deps.sh cannot go unnoticed: bootstraps a minimal Debian 12 (bookworm) root
# with mmdebstrap from Debian's own packages, copies a clean clone of the repository's
# HEAD into it, and runs inside it, by chroot,
#   bash tools/quickstart.sh --train.epochs 2 --data.train_limit 2000   (the main job, shortened)
#   bash tools/test.sh
# printing the wall time of the root's creation and of each command. Exits non-zero when
# either fails. Needs root (chroot, mounts) and mmdebstrap (tools/install-deps.sh --fresh-root).
#   sudo tools/fresh-root.sh [--dir DIR] [--keep] [--quickstart-args "ARGS"]
# --dir: where to build the root (default: a new folder under /var/tmp); --keep: leave the
# root in place afterwards (default: removed on success, kept on failure for a look).
# The apt sources are this machine's Debian ones (/etc/apt/sources.list.d/debian.sources)
# when present, else deb.debian.org's bookworm, bookworm-updates and bookworm-security.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
dir=""
keep=0
quick_args="--train.epochs 2 --data.train_limit 2000"
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=${2:?--dir needs a folder}; shift 2 ;;
    --keep) keep=1; shift ;;
    --quickstart-args) quick_args=${2?--quickstart-args needs a value}; shift 2 ;;
    *) echo "fresh-root.sh: unknown argument '$1' (expected --dir DIR, --keep or --quickstart-args ARGS)" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" -ne 0 ]; then
  echo "fresh-root.sh: needs root for chroot and mounts (run it with sudo)" >&2; exit 2
fi
if ! command -v mmdebstrap >/dev/null; then
  echo "fresh-root.sh: mmdebstrap not found (tools/install-deps.sh --fresh-root installs it)" >&2; exit 2
fi
sha=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "fresh-root.sh: note: uncommitted changes are not tested, only HEAD $sha" >&2
fi
if [ -z "$dir" ]; then
  dir=$(mktemp -d /var/tmp/deconvscope-fresh.XXXXXX)
elif [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
  echo "fresh-root.sh: --dir $dir exists and is not empty (expected a new or empty folder)" >&2; exit 2
fi
root=$(realpath -m "$dir")
mkdir -p "$root"

# Mounts made by this script, unmounted in reverse order on any exit. The root is removed
# only after every mount is gone, and rm stays on the root's own file system so that a
# mount left over by accident can never take the host's /dev or /proc with it.
mounts=()
status=1
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount -R "${mounts[i]}" 2>/dev/null || umount -R -l "${mounts[i]}" || true
  done
  if [ "$keep" -eq 0 ] && [ "$status" -eq 0 ] && ! grep -q " $root/" /proc/mounts; then
    rm -rf --one-file-system "$root"
  else
    echo "fresh-root.sh: root left at $root" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { s = b - a; printf "%d min %02d s", s / 60, s % 60 }'; }

sources=/etc/apt/sources.list.d/debian.sources
if [ ! -f "$sources" ]; then
  sources=$(mktemp)
  printf '%s\n' "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main" >"$sources"
fi

echo "== creating a minimal Debian 12 root at $root (sources: $sources)"
t0=$(now)
mmdebstrap --quiet --variant=minbase --mode=root bookworm "$root" "$sources"
cp /etc/resolv.conf "$root/etc/resolv.conf"
git clone --quiet --no-checkout "$repo" "$root/root/deconvscope"
git -C "$root/root/deconvscope" checkout --quiet --detach "$sha"
t1=$(now)
echo "== root created in $(secs "$t0" "$t1"), clone of $sha"

mnt() { mount "$@" && mounts+=("${@: -1}"); }
mnt -t proc proc "$root/proc"
mnt -t sysfs sys "$root/sys"
# /dev with its submounts (pts, shm), made a slave so that nothing mounted inside the root
# (the test suite's tmpfs test) can propagate back to the host.
mnt --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"

# A clean environment, as on a new machine: no host PATH, ccache or OMP settings.
in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash -c "cd /root/deconvscope && $1"
}
result=()
run() {
  local name=$1 cmd=$2 a b rc=0
  echo "== $name: $cmd"
  a=$(now)
  in_root "$cmd" || rc=$?
  b=$(now)
  result+=("$(printf '%-10s %-70s %s, exit %d' "$name" "$cmd" "$(secs "$a" "$b")" "$rc")")
  echo "== $name finished in $(secs "$a" "$b") with exit $rc"
  return $rc
}
rc_main=0; rc_test=0
run main "bash tools/quickstart.sh $quick_args" || rc_main=$?
run test "bash tools/test.sh" || rc_test=$?

echo
echo "== summary (Debian 12 minbase root, $(nproc) cores, HEAD $sha)"
printf '%-10s %-70s %s\n' root "mmdebstrap --variant=minbase bookworm + git clone" "$(secs "$t0" "$t1")"
printf '%s\n' "${result[@]}"
if [ "$rc_main" -eq 0 ] && [ "$rc_test" -eq 0 ]; then
  status=0
  echo "fresh-root.sh: both README commands passed on a fresh Debian 12"
else
  echo "fresh-root.sh: FAILED (main exit $rc_main, test exit $rc_test)" >&2
fi
exit $status
