#!/usr/bin/env bash
# Run HERE (the Debian 12 CPU machine), once, before scripts/gpu/run.sh goes to a GPU machine.
# That machine has python3 with a CUDA LibTorch, a compiler, nvcc, cmake and ninja, but no package
# registry: volt's other build dependencies travel as Debian 12 packages unpacked into an ignored
# folder, and the test data (../shared/data does not travel) as a tarball. Unpacked, the packages
# take 55 MiB (ICU's data library alone 30 MiB) and the data 112 MiB: over the 64 MiB that travels
# with the working tree, so both travel xz-compressed (about 13 + 16 MiB) and run.sh unpacks them.
#
#   scripts/gpu/fetch-build-deps.sh   # .gpu-debs/debs (downloads), root (unpacked, to inspect),
#                                     # carry/root.tar.xz and carry/data.tar.xz (what travels)
#
# Then `device run` with carry [".gpu-debs/carry"] (scripts/gpu/README.md). Idempotent:
# downloaded packages and an up-to-date data tarball are kept; the root is unpacked afresh.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$REPO/.gpu-debs
DATA=${VOLT_DATA_DIR:-$REPO/../shared/data}
LIMIT_MIB=64  # what `device run` carries, with the working tree (about 9 MiB)

# Only what volt's CMakeLists.txt and tests/ find beyond LibTorch (the pip wheel's, there):
# yaml-cpp, nlohmann_json, CLI11, ICU (uc, i18n), GTest (its CMake targets name gmock too),
# protobuf + protoc (TensorBoard, proto/), gloo's headers (c10d's ProcessGroupGloo.hpp includes
# them; the wheel links its own gloo). Runtime libraries come with their -dev packages.
PACKAGES=(
  libyaml-cpp-dev libyaml-cpp0.7
  nlohmann-json3-dev
  libcli11-dev
  libicu-dev libicu72
  libgtest-dev libgmock-dev
  libprotobuf-dev libprotobuf32 libprotobuf-lite32 protobuf-compiler libprotoc32
  libgloo-dev
)

fail() { echo "[fetch-build-deps] $*" >&2; exit 1; }

[ -d "$DATA/tokenizers" ] || fail "data directory $DATA not found: set VOLT_DATA_DIR"
for tool in apt-get dpkg xz; do
  command -v "$tool" >/dev/null || fail "needs $tool (a Debian machine)"
done
[ "$(dpkg --print-architecture)" = amd64 ] || fail "the GPU machine is x86-64: run this on amd64"
grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release ||
  echo "[fetch-build-deps] warning: not Debian 12 (bookworm); the packages follow this machine's suite" >&2

mkdir -p "$OUT/debs" "$OUT/carry"
grep -qxF '/.gpu-debs/' "$REPO/.gitignore" || fail ".gpu-debs/ is not in .gitignore"

missing=()
for p in "${PACKAGES[@]}"; do
  compgen -G "$OUT/debs/${p}_*_*.deb" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[fetch-build-deps] downloading ${missing[*]}"
  (cd "$OUT/debs" && apt-get download -q "${missing[@]/%/:amd64}") ||
    fail "apt-get download failed (run apt-get update first?)"
fi

rm -rf "$OUT/root"
mkdir -p "$OUT/root"
for f in "$OUT"/debs/*.deb; do dpkg -x "$f" "$OUT/root"; done
# Documentation and the static archives CMake does not link (volt links the shared yaml-cpp,
# ICU and protobuf; GTest and GMock exist only as static archives) are not needed.
rm -rf "$OUT/root/usr/share/doc" "$OUT/root/usr/share/man" "$OUT/root/usr/share/lintian"
find "$OUT/root" \( -name 'libicu*.a' -o -name 'libproto*.a' -o -name 'libyaml-cpp.a' \) -delete
# Symbolic links between the .so names survive dpkg -x; absolute ones would point outside.
if find "$OUT/root" -type l -lname '/*' | grep -q .; then
  find "$OUT/root" -type l -lname '/*' >&2
  fail "absolute symbolic links above would not resolve on the GPU machine"
fi

echo "[fetch-build-deps] packing the root (about a minute of xz)"
tar -C "$OUT/root" -cf - . | xz -6 -T0 >"$OUT/carry/root.tar.xz.tmp"
mv "$OUT/carry/root.tar.xz.tmp" "$OUT/carry/root.tar.xz"
data_tar=$OUT/carry/data.tar.xz
if [ ! -s "$data_tar" ] || [ -n "$(find -L "$DATA" -newer "$data_tar" -type f -print -quit)" ]; then
  echo "[fetch-build-deps] packing $DATA (about three minutes of xz)"
  tar -C "$DATA" -cf - . | xz -6 -T0 >"$data_tar.tmp"
  mv "$data_tar.tmp" "$data_tar"
fi

root_kib=$(du -sk "$OUT/carry/root.tar.xz" | cut -f1)
data_kib=$(du -sk "$data_tar" | cut -f1)
tree_kib=$(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
tree_kib=$((tree_kib / 1024))
total_kib=$((root_kib + data_kib + tree_kib))
printf '[fetch-build-deps] carry/root.tar.xz %d KiB (unpacked %d KiB), carry/data.tar.xz %d KiB, working tree %d KiB: %d KiB of %d MiB\n' \
  "$root_kib" "$(du -sk "$OUT/root" | cut -f1)" "$data_kib" "$tree_kib" "$total_kib" "$LIMIT_MIB"
[ "$total_kib" -le $((LIMIT_MIB * 1024)) ] || fail "over the ${LIMIT_MIB} MiB that device run carries"
