#!/usr/bin/env bash
# Puts the data volt's tests, examples and scripts read (corpora, tokenizers, a tiny Hugging Face
# model) into the data directory, from their public sources, each checked against its sha256 in
# scripts/data-manifest.tsv.
#
#   scripts/fetch-data.sh                       every file of the manifest
#   scripts/fetch-data.sh corpora/tinyshakespeare/input.txt tokenizers/gpt2   files, or folders
#
# The data directory is $VOLT_DATA_DIR, else ../shared/data beside the repository: where the tests
# and examples look. A file already there is only verified (a wrong checksum is an error, never a
# silent re-download over it); a missing one is downloaded into it. Environment:
#   VOLT_FETCH_MIRROR=URL    fetch <path> from URL/<path> instead of its source (file:// works)
#   VOLT_DATA_MANIFEST=FILE  another manifest (the offline test, scripts/test-fetch-data.sh)
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."
# Paths given in the environment are the caller's, relative to where it ran the script.
from_caller() { case $1 in /*) echo "$1" ;; *) echo "$caller/$1" ;; esac; }

MANIFEST=scripts/data-manifest.tsv
[ -z "${VOLT_DATA_MANIFEST:-}" ] || MANIFEST=$(from_caller "$VOLT_DATA_MANIFEST")
DATA_DIR=../shared/data
[ -z "${VOLT_DATA_DIR:-}" ] || DATA_DIR=$(from_caller "$VOLT_DATA_DIR")
MIRROR=${VOLT_FETCH_MIRROR:-}

die() { echo "[fetch-data] $*" >&2; exit 1; }
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# The one place that touches the network: curl, retried on transient errors, into a file.
download() {
  local url=$1 dest=$2
  curl --fail --silent --show-error --location --retry 3 --retry-delay 2 --connect-timeout 30 \
    --output "$dest" "$url"
}

[ -f "$MANIFEST" ] || die "$MANIFEST: no such manifest"

# The manifest, checked up front: a bad line is reported before anything is fetched.
paths=() hashes=() urls=()
line_no=0
while IFS= read -r line || [ -n "$line" ]; do
  line_no=$((line_no + 1))
  case $line in '' | '#'*) continue ;; esac
  IFS=$'\t' read -r path hash url extra <<<"$line"
  [[ -n ${url:-} && -z ${extra:-} ]] ||
    die "$MANIFEST line $line_no: expected 3 tab-separated columns (path, sha256, URL), got '$line'"
  [[ $hash =~ ^[0-9a-f]{64}$ ]] || die "$MANIFEST line $line_no: '$hash' is not a sha256 (64 lowercase hex digits)"
  [[ $path != /* && $path != *..* ]] || die "$MANIFEST line $line_no: '$path' must be relative, without '..'"
  paths+=("$path") hashes+=("$hash") urls+=("$url")
done <"$MANIFEST"

# Which entries: all, or those named (a path, or a folder holding paths).
selected=()
if [ $# -eq 0 ]; then
  selected=("${!paths[@]}")
else
  for want in "$@"; do
    want=${want%/}
    found=0
    for i in "${!paths[@]}"; do
      if [ "${paths[$i]}" = "$want" ] || [[ ${paths[$i]} == "$want"/* ]]; then
        selected+=("$i") found=1
      fi
    done
    [ $found -eq 1 ] || die "'$want' is not in $MANIFEST (a path or folder under the data directory)"
  done
fi

verified=0 fetched=0 failed=0 part=
trap 'rm -f "$part"' EXIT  # an interrupted download leaves no partial file
fail() { echo "[fetch-data] FAILED $*" >&2; failed=$((failed + 1)); }

for i in "${selected[@]}"; do
  path=${paths[$i]} want=${hashes[$i]}
  dest=$DATA_DIR/$path
  if [ -f "$dest" ]; then
    got=$(sha256_of "$dest")
    if [ "$got" = "$want" ]; then
      echo "verified  $path"
      verified=$((verified + 1))
    else
      fail "$dest: sha256 $got, but the manifest says $want (damaged, or another version: delete it and run again to fetch it)"
    fi
    continue
  fi
  url=${urls[$i]}
  [ -z "$MIRROR" ] || url=${MIRROR%/}/$path
  mkdir -p "$(dirname "$dest")"
  part=$dest.part.$$
  if ! download "$url" "$part"; then
    rm -f "$part"
    fail "$path: could not download $url"
    continue
  fi
  got=$(sha256_of "$part")
  if [ "$got" != "$want" ]; then
    rm -f "$part"
    fail "$path: $url has sha256 $got, but the manifest says $want (not kept)"
    continue
  fi
  mv -f "$part" "$dest"
  echo "fetched   $path  ($url)"
  fetched=$((fetched + 1))
done

echo "[fetch-data] $DATA_DIR: $verified verified, $fetched fetched, $failed failed"
[ $failed -eq 0 ]
