#!/usr/bin/env bash
# Runs CMD inside a reference root (a Debian chroot made by build-root.sh) with /proc, /sys, /dev,
# this repository and the data dir mounted at the same absolute paths as outside.
#
#   scripts/reference-roots/in-root.sh ROOT CMD [ARGS...]
#
# ROOT is a directory or a suite name (sid, trixie: then ${VOLT_ROOTS_DIR:-<repo>/.deps/roots}/SUITE).
# The mounts live in a private mount namespace (unshare -m) that dies with the command, so they are
# gone on any exit (failure, Ctrl-C, kill -9) and two commands can run in one root at once.
# The environment is cleared except for a whitelist (below) plus the names in $VOLT_IN_ROOT_ENV.
# $VOLT_IN_ROOT_BIND is a colon-separated list of more directories to mount at the same paths
# (e.g. a model directory outside the repository).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
SELF="$REPO/scripts/reference-roots/in-root.sh"
fail() { echo "[in-root] $*" >&2; exit 1; }

if [ "${1:-}" != "--inside" ]; then
  [ $# -ge 2 ] || fail "usage: in-root.sh ROOT CMD [ARGS...]  (ROOT: a directory, or sid|trixie)"
  [ "$(id -u)" -eq 0 ] || fail "needs root (chroot and mount namespaces)"
  root="$1"; shift
  case "$root" in
    */*) ;;
    *) root="${VOLT_ROOTS_DIR:-$REPO/.deps/roots}/$root" ;;
  esac
  [ -d "$root" ] || fail "$root: no such root; build it with scripts/reference-roots/build-root.sh"
  root="$(cd "$root" && pwd -P)"
  # build-root.sh writes the stamp last: without it the root is half-built and must not be used.
  if [ ! -f "$root/.volt-root-stamp" ] && [ "${VOLT_IN_ROOT_UNSTAMPED:-}" != 1 ]; then
    fail "$root: no .volt-root-stamp, so it is half-built; rerun scripts/reference-roots/build-root.sh"
  fi
  data="${VOLT_DATA_DIR:-$REPO/../shared/data}"
  if [ -d "$data" ]; then data="$(cd "$data" && pwd -P)"; else data=""; fi
  # A shared lock: build-root.sh takes it exclusively before it replaces this root.
  exec 8>"$root.lock"
  flock -s -n 8 || { echo "[in-root] waiting: $root is being rebuilt" >&2; flock -s 8; }
  binds=""
  IFS=: read -r -a extra <<<"${VOLT_IN_ROOT_BIND:-}"
  for d in "${extra[@]}"; do
    [ -n "$d" ] || continue
    [ -d "$d" ] || fail "VOLT_IN_ROOT_BIND: $d is not a directory"
    binds="$binds:$(cd "$d" && pwd -P)"
  done
  exec unshare --mount --propagation private -- "$SELF" --inside "$root" "$data" "$PWD" "$binds" "$@"
fi

# Inside the new mount namespace: nothing mounted here is seen outside it.
shift
root="$1" data="$2" cwd="$3" binds="$4"; shift 4

mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"   # with /dev/shm and /dev/pts
bind_same_path() {
  mkdir -p "$root$1"
  mount --rbind "$1" "$root$1"
}
bind_same_path "$REPO"
if [ -n "$data" ]; then bind_same_path "$data"; fi
IFS=: read -r -a extra <<<"$binds"
for d in "${extra[@]}"; do
  if [ -n "$d" ]; then bind_same_path "$d"; fi
done
# A read-only copy of the host's resolver so apt (build-root.sh) can reach the mirror.
if [ -f /etc/resolv.conf ]; then cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true; fi

envs=(
  HOME=/root
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  LANG=C.UTF-8
  LC_ALL=C.UTF-8
  DEBIAN_FRONTEND=noninteractive
  HF_HUB_OFFLINE=1
  TRANSFORMERS_OFFLINE=1
  HF_DATASETS_OFFLINE=1
  HF_HUB_DISABLE_TELEMETRY=1
  PYTHONDONTWRITEBYTECODE=1
)
if [ -n "$data" ]; then envs+=("VOLT_DATA_DIR=$data"); fi
for name in TERM OMP_NUM_THREADS MKL_NUM_THREADS OPENBLAS_NUM_THREADS PYTHONUNBUFFERED \
            TOKENIZERS_PARALLELISM PYTHONHASHSEED CUBLAS_WORKSPACE_CONFIG VOLT_ROOTS_DIR \
            ${VOLT_IN_ROOT_ENV:-}; do
  if [ -n "${!name+x}" ]; then envs+=("$name=${!name}"); fi
done

# Start where the caller was if that path exists inside (e.g. in the repository), else at /.
if [ -d "$root$cwd" ]; then dir="$cwd"; else dir=/; fi
exec chroot "$root" /usr/bin/env -i "${envs[@]}" /bin/sh -c 'cd "$1" && shift && exec "$@"' in-root "$dir" "$@"
