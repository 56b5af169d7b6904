#!/usr/bin/env bash
# Offline test of scripts/fetch-data.sh (ctest: FetchData.LookupAndChecksums). A fake manifest and
# a file:// mirror stand in for the network:
#   found locally -> verified, nothing downloaded;  missing -> fetched from the mirror, verified;
#   damaged locally -> failure naming the file and both hashes, the file left as it was;
#   missing on the mirror, or different there -> failure naming the file, nothing left behind;
#   unknown path argument, malformed manifest -> failure before anything is fetched.
# Then the real manifest: well formed, and every file in the data directory matches it.
set -uo pipefail
# A relative VOLT_DATA_DIR is the caller's: make it absolute before moving to the repository root.
case ${VOLT_DATA_DIR:-} in '' | /*) ;; *) export VOLT_DATA_DIR=$PWD/$VOLT_DATA_DIR ;; esac
cd "$(dirname "$0")/.." || exit 1
FETCH=$PWD/scripts/fetch-data.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
check() {  # check DESCRIPTION COMMAND...: the command must succeed
  local what=$1
  shift
  if "$@"; then echo "ok    $what"; else echo "FAIL  $what" >&2; failures=$((failures + 1)); fi
}
contains() { grep -qF -- "$2" "$1" || { echo "  '$2' not in $1:" >&2; sed 's/^/  | /' "$1" >&2; false; }; }
run() {  # run NAME ARGS...: fetch into $tmp/data from $tmp/mirror with the fake manifest; rc in $tmp/NAME.rc
  local name=$1
  shift
  VOLT_DATA_DIR=$tmp/data VOLT_FETCH_MIRROR=file://$tmp/mirror VOLT_DATA_MANIFEST=$tmp/manifest.tsv \
    "$FETCH" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  echo $? >"$tmp/$name.rc"
}
rc_is() { [ "$(cat "$tmp/$1.rc")" = "$2" ]; }

mkdir -p "$tmp/mirror/corpora/tiny" "$tmp/mirror/tokenizers/toy" "$tmp/data"
printf 'First Citizen:\nBefore we proceed any further, hear me speak.\n' >"$tmp/mirror/corpora/tiny/input.txt"
printf '{"version": "1.0"}\n' >"$tmp/mirror/tokenizers/toy/tokenizer.json"
text_sha=$(sha256sum "$tmp/mirror/corpora/tiny/input.txt" | cut -d' ' -f1)
tok_sha=$(sha256sum "$tmp/mirror/tokenizers/toy/tokenizer.json" | cut -d' ' -f1)
{
  echo "# a fake manifest; its URLs are never used (the mirror replaces them)"
  printf 'corpora/tiny/input.txt\t%s\thttps://example.invalid/input.txt\n' "$text_sha"
  printf 'tokenizers/toy/tokenizer.json\t%s\thttps://example.invalid/tokenizer.json\n' "$tok_sha"
} >"$tmp/manifest.tsv"

# Missing locally: fetched from the mirror and verified.
run fetch
check "missing files are fetched from the mirror" rc_is fetch 0
check "  and reported as fetched" contains "$tmp/fetch.out" "fetched   corpora/tiny/input.txt"
check "  with the mirror's content" cmp -s "$tmp/mirror/corpora/tiny/input.txt" "$tmp/data/corpora/tiny/input.txt"
check "  and no partial file left" bash -c "! ls '$tmp'/data/*/*/*.part.* 2>/dev/null"

# Present locally: only verified. The mirror is emptied first, so a download would fail.
mv "$tmp/mirror" "$tmp/mirror.away"
before=$(stat -c %Y.%i "$tmp/data/corpora/tiny/input.txt")
run again
check "files found locally are verified without a download" rc_is again 0
check "  and reported as verified" contains "$tmp/again.out" "verified  tokenizers/toy/tokenizer.json"
check "  and left untouched" test "$before" = "$(stat -c %Y.%i "$tmp/data/corpora/tiny/input.txt")"
check "  with a summary line" contains "$tmp/again.out" "2 verified, 0 fetched, 0 failed"

# Damaged locally: a clear failure naming the file and both hashes; the file is not replaced.
mv "$tmp/mirror.away" "$tmp/mirror"
printf 'x' >>"$tmp/data/corpora/tiny/input.txt"
bad_sha=$(sha256sum "$tmp/data/corpora/tiny/input.txt" | cut -d' ' -f1)
run damaged
check "a damaged local file fails" rc_is damaged 1
check "  naming the file" contains "$tmp/damaged.err" "$tmp/data/corpora/tiny/input.txt"
check "  with its sha256" contains "$tmp/damaged.err" "$bad_sha"
check "  and the manifest's" contains "$tmp/damaged.err" "$text_sha"
check "  and is not overwritten" test "$(sha256sum <"$tmp/data/corpora/tiny/input.txt" | cut -d' ' -f1)" = "$bad_sha"
check "  while the good file still verifies" contains "$tmp/damaged.out" "verified  tokenizers/toy/tokenizer.json"

# Missing locally and on the mirror: a clear failure naming the file and the URL tried.
rm "$tmp/data/corpora/tiny/input.txt" "$tmp/mirror/corpora/tiny/input.txt"
run absent corpora/tiny/input.txt
check "a file missing on the mirror fails" rc_is absent 1
check "  naming the file and the URL" contains "$tmp/absent.err" "corpora/tiny/input.txt: could not download file://$tmp/mirror/corpora/tiny/input.txt"
check "  leaving nothing behind" test ! -e "$tmp/data/corpora/tiny/input.txt"

# Different on the mirror: a failure with both hashes, and the download is not kept.
printf 'Second Citizen:\n' >"$tmp/mirror/corpora/tiny/input.txt"
other_sha=$(sha256sum "$tmp/mirror/corpora/tiny/input.txt" | cut -d' ' -f1)
run different corpora/tiny
check "a download with the wrong sha256 fails" rc_is different 1
check "  naming both hashes" bash -c "grep -qF '$other_sha' '$tmp/different.err' && grep -qF '$text_sha' '$tmp/different.err'"
check "  and is not kept" bash -c "! ls '$tmp'/data/corpora/tiny/* 2>/dev/null"

# Arguments select paths or folders; an unknown one is an error before anything happens.
run one tokenizers/toy/
check "a folder argument selects its files only" bash -c "rc=\$(cat '$tmp/one.rc'); [ \$rc = 0 ] && grep -q '1 verified, 0 fetched' '$tmp/one.out'"
run unknown corpora/nope
check "an unknown path fails" rc_is unknown 1
check "  naming it" contains "$tmp/unknown.err" "'corpora/nope' is not in"

# A malformed manifest line is reported with its number.
printf 'corpora/tiny/input.txt\tnot-a-hash\thttps://example.invalid/x\n' >>"$tmp/manifest.tsv"
run malformed
check "a malformed manifest fails" rc_is malformed 1
check "  naming the line" contains "$tmp/malformed.err" "manifest.tsv line 4: 'not-a-hash' is not a sha256"

# The real manifest against the real data directory: every file present and matching. The mirror
# points at an empty folder, so nothing is downloaded even when a file is missing.
data_dir=${VOLT_DATA_DIR:-../shared/data}
mkdir -p "$tmp/empty"
VOLT_FETCH_MIRROR=file://$tmp/empty "$FETCH" >"$tmp/real.out" 2>"$tmp/real.err"
echo $? >"$tmp/real.rc"
check "the manifest matches every file of $data_dir (else run scripts/fetch-data.sh)" rc_is real 0 ||
  sed 's/^/  | /' "$tmp/real.err" >&2
check "  and has an https URL on every line" bash -c \
  "awk -F'\t' '!/^#/ && NF && \$3 !~ /^https:\/\//' scripts/data-manifest.tsv | grep -q . && exit 1 || exit 0"

if [ $failures -gt 0 ]; then
  echo "[test-fetch-data] $failures check(s) failed" >&2
  exit 1
fi
echo "[test-fetch-data] all checks passed"
