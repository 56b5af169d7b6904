#!/usr/bin/env bash
# Builds a Debian reference root (a chroot) that runs the real upstream code volt is checked against.
#
#   scripts/reference-roots/build-root.sh sid|trixie [DIR]
#
#   sid:    Hugging Face transformers, PyTorch, tokenizers, safetensors, gguf, llama.cpp (Python refs)
#   trixie: LibTorch 2.6 and volt's build dependencies (building volt against a newer LibTorch)
#
# DIR defaults to ${VOLT_ROOTS_DIR:-<repo>/.deps/roots}/SUITE. A stamp in the root records this
# script's version and the package list: when it matches, the script exits at once. A root without a
# matching stamp (half-built, interrupted, or an older package list) is rebuilt from scratch in
# DIR.partial and only moved to DIR once it has passed its check, so DIR is never a half-built root.
set -euo pipefail

SCRIPT_VERSION=1
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
IN_ROOT="$REPO/scripts/reference-roots/in-root.sh"
fail() { echo "[build-root] $*" >&2; exit 1; }

suite="${1:-}"
case "$suite" in
  sid)
    PACKAGES=(python3-transformers python3-torch libopenblas0-pthread python3-tokenizers
              python3-safetensors python3-jinja2 python3-gguf llama.cpp-tools
              python3-sentencepiece python3-protobuf python3-numpy python3-yaml ca-certificates) ;;
  trixie)
    PACKAGES=(libtorch-dev build-essential cmake pkg-config libgloo-dev libopenblas0-pthread
              libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libgtest-dev libicu-dev
              libpython3-stdlib libprotobuf-dev protobuf-compiler python3-protobuf
              python3-crc32c curl ca-certificates) ;;
  *) fail "usage: build-root.sh sid|trixie [DIR]" ;;
esac
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap and chroot)"

dir="${2:-${VOLT_ROOTS_DIR:-$REPO/.deps/roots}/$suite}"
mkdir -p "$(dirname "$dir")"
dir="$(cd "$(dirname "$dir")" && pwd -P)/$(basename "$dir")"
expected_stamp="$(printf 'script-version=%s\nsuite=%s\npackages=%s\n' "$SCRIPT_VERSION" "$suite" "${PACKAGES[*]}")"
stamp_matches() { [ -f "$1/.volt-root-stamp" ] && [ "$(cat "$1/.volt-root-stamp")" = "$expected_stamp" ]; }

if stamp_matches "$dir"; then exit 0; fi

# One build of a root at a time; in-root.sh holds this lock shared while it runs in the root.
exec 9>"$dir.lock"
flock -n 9 || { echo "[build-root] waiting for other users of $dir to finish" >&2; flock 9; }
if stamp_matches "$dir"; then exit 0; fi   # built by someone else while we waited

# The Debian mirror this machine's apt uses (first URI ending in /debian), else deb.debian.org.
mirror="${VOLT_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE '(https?|file)://[^ ]*/debian/?( |$)' | head -n1 | tr -d ' ' || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
fi

if ! command -v debootstrap >/dev/null; then
  echo "[build-root] installing debootstrap"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >/dev/null ||
    fail "debootstrap is missing and apt-get install debootstrap failed"
fi

partial="$dir.partial"
log="$dir.build.log"
mounts_under() { awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts; }
[ -z "$(mounts_under "$partial")" ] || fail "$partial has mounts on it ($(mounts_under "$partial" | head -n1)); unmount them first"
rm -rf "$partial"
: >"$log"
echo "[build-root] building $suite in $dir from $mirror (log: $log)"
start=$(date +%s)

# Prints the step and the log's last meaningful line, then exits.
step_failed() {
  local why
  why="$(grep -E '^(E:|W:|dpkg:|debootstrap:|Err:)|[Ee]rror|[Ff]ailed|Unable' "$log" | tail -n1)"
  [ -n "$why" ] || why="$(tail -n1 "$log")"
  fail "$suite: $1 failed: ${why:-no output} (full log: $log)"
}

echo "[build-root] 1/4 debootstrap --variant=minbase $suite"
# In its own mount namespace: the /proc and /sys it mounts in the target die with it.
unshare --mount --propagation private debootstrap --variant=minbase "$suite" "$partial" "$mirror" >>"$log" 2>&1 ||
  step_failed "debootstrap"

# sid's Release file can be past its Valid-Until on a snapshot mirror; services must not start.
cat >"$partial/etc/apt/apt.conf.d/99volt-reference-root" <<'CONF'
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
CONF
printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"
chmod +x "$partial/usr/sbin/policy-rc.d"
in_partial() { VOLT_IN_ROOT_UNSTAMPED=1 "$IN_ROOT" "$partial" "$@"; }

echo "[build-root] 2/4 apt-get update"
in_partial apt-get -o Acquire::Check-Valid-Until=false update >>"$log" 2>&1 || step_failed "apt-get update"

missing=()
for p in "${PACKAGES[@]}"; do
  in_partial apt-cache show "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] || fail "$suite: apt-cache finds no package named: ${missing[*]}"

echo "[build-root] 3/4 apt-get install ${PACKAGES[*]}"
in_partial apt-get install -y --no-install-recommends "${PACKAGES[@]}" >>"$log" 2>&1 ||
  step_failed "apt-get install"
in_partial apt-get clean >>"$log" 2>&1 || true

echo "[build-root] 4/4 checking the root"
"$REPO/scripts/reference-roots/check-root.sh" "$suite" "$partial" >>"$log" 2>&1 || step_failed "the check of the root"

printf '%s\n' "$expected_stamp" >"$partial/.volt-root-stamp"
if [ -e "$dir" ]; then
  [ -z "$(mounts_under "$dir")" ] || fail "$dir has mounts on it; cannot replace it"
  rm -rf "$dir"
fi
mv "$partial" "$dir"
rm -f "$partial.lock"
echo "[build-root] $suite ready in $dir: $(( $(date +%s) - start )) s, $(du -sh "$dir" | cut -f1)"
cat "$dir/.volt-root-versions"
