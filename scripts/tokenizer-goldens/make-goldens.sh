#!/usr/bin/env bash
# Regenerates every tokenizer golden (tests/goldens/tokenizers/<tokenizer>/<corpus>.json) from the
# reference implementations. Re-running it reproduces the committed goldens byte for byte; after
# it, `git status tests/goldens` shows whatever a reference or a corpus changed.
#
#   scripts/tokenizer-goldens/make-goldens.sh            # data from $VOLT_DATA_DIR or ../shared/data
#   VOLT_DATA_DIR=/path/to/data scripts/tokenizer-goldens/make-goldens.sh
#   scripts/tokenizer-goldens/make-goldens.sh --show gpt2/tinyshakespeare 81920 82000
#       (writes nothing: prints the reference's ids 81920..82000 of that golden, with their text)
#
# Needs node + npm (the npm references go into .deps/tokenizer-goldens, git-ignored), Debian's
# sentencepiece + python3-sentencepiece (installed with apt-get when missing), and the Debian sid
# reference root with python3-tokenizers (the Rust crate; scripts/reference-roots/build-root.sh
# builds it, in-root.sh runs a command in it; $VOLT_IN_ROOT names another in-root.sh,
# $VOLT_REFERENCE_ROOT another root than sid). Takes ~5 minutes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${VOLT_DATA_DIR:-$root/../shared/data}
deps=$root/.deps/tokenizer-goldens
goldens=$root/tests/goldens/tokenizers
python=/usr/bin/python3   # Debian's own python3: the one python3-sentencepiece is built for
stdlib=/usr/lib/python3.11 # the stdlib: texts (corpora.json)
in_root=${VOLT_IN_ROOT:-$root/scripts/reference-roots/in-root.sh}
reference_root=${VOLT_REFERENCE_ROOT:-sid}

show=()
if [[ ${1:-} == --show ]]; then
  [[ $# -ge 2 ]] || { echo "usage: $0 --show TOKENIZER/CORPUS [FROM [TO]]" >&2; exit 2; }
  show=(--show "$2" --from "${3:-0}" --to "${4:-$(( ${3:-0} + 64 ))}")
fi

die() { echo "make-goldens: $*" >&2; exit 1; }
[[ -d $data/tokenizers && -d $data/corpora ]] || die "data directory '$data' has no tokenizers/ and corpora/ (set VOLT_DATA_DIR)"
data=$(cd "$data" && pwd -P)
[[ -x $in_root ]] || die "$in_root is missing: the Rust tokenizers reference runs in a Debian sid root (scripts/reference-roots; set VOLT_IN_ROOT)"
command -v node >/dev/null || die "node is not installed"
command -v npm >/dev/null || die "npm is not installed"

# 1. The npm references, exactly as package-lock.json pins them (reinstalled only when it changed).
mkdir -p "$deps"
if ! cmp -s "$here/package-lock.json" "$deps/package-lock.json" || [[ ! -d $deps/node_modules ]] ||
   ! cmp -s "$here/package.json" "$deps/package.json"; then
  cp "$here/package.json" "$here/package-lock.json" "$deps/"
  (cd "$deps" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$here/package-lock.json" "$deps/package-lock.json"   # npm ci may rewrite it
fi

# 2. Debian's SentencePiece (the Llama 2 reference).
if ! dpkg-query -W -f='${Status}' sentencepiece python3-sentencepiece 2>/dev/null | grep -q '^install ok installed.*install ok installed$'; then
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq sentencepiece python3-sentencepiece
fi
spm_version=$(dpkg-query -W -f='${Version}' python3-sentencepiece)
[[ $spm_version == 0.1.97-* ]] ||
  echo "make-goldens: warning: python3-sentencepiece $spm_version, the goldens were made with 0.1.97-3+b1" >&2

# 3. Our own torture text must still be what its generator writes.
mkdir -p "$goldens"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$python" "$here/make_torture.py" "$tmp"
if [[ -f $goldens/unicode_torture.txt ]]; then
  cmp -s "$tmp" "$goldens/unicode_torture.txt" ||
    die "tests/goldens/tokenizers/unicode_torture.txt differs from what make_torture.py writes"
else
  cp "$tmp" "$goldens/unicode_torture.txt"
fi

# 4. SentencePiece ids (Python), the Rust crate's ids (Python in the reference root, which sees the
#    repository, the data and the stdlib at their own paths), then every golden (node), checking
#    the references against each other and against llama.cpp's test vectors.
"$python" "$here/spm_goldens.py" --data "$data" --goldens "$goldens" --out "$deps/spm.json"
VOLT_DATA_DIR=$data VOLT_IN_ROOT_BIND="$root:$stdlib" "$in_root" "$reference_root" \
  python3 "$here/rust_goldens.py" --data "$data" --goldens "$goldens" --stdlib "$stdlib" --out "$deps/rust"
VOLT_DATA_DIR=$data VOLT_IN_ROOT_BIND="$root" "$in_root" "$reference_root" \
  python3 "$here/special_tokens_goldens.py" --data "$data" --out "$goldens/add_special_tokens.json"
golden_args=(--data "$data" --deps "$deps" --spm "$deps/spm.json" --rust "$deps/rust" --out "$goldens")
if [[ ${#show[@]} -gt 0 ]]; then
  exec node "$here/goldens.mjs" "${golden_args[@]}" "${show[@]}"
fi
node "$here/goldens.mjs" "${golden_args[@]}"
echo "make-goldens: done; $(du -sh "$goldens" | cut -f1) in $goldens"
