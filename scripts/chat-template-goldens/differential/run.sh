#!/usr/bin/env bash
# Builds render_batch against build/libvolt_text.a (cmake --build build --target volt_text first)
# and runs differential.py: volt against jinja2 on random templates, random conversations on every
# golden template, and the span property.
#   scripts/chat-template-goldens/differential/run.sh            # 3000 of each, seed 1
#   scripts/chat-template-goldens/differential/run.sh 10000 7
set -euo pipefail
cd "$(dirname "$0")"
repo="$(cd ../../.. && pwd)"
n="${1:-3000}"
seed="${2:-1}"
lib="$repo/build/libvolt_text.a"
[ -f "$lib" ] || { echo "[differential] $lib is missing: cmake --build build --target volt_text"; exit 2; }
out="$repo/build/chat-template-differential"
mkdir -p "$out"
g++ -std=c++17 -O2 -I"$repo/include" render_batch.cpp "$lib" -licuuc -licui18n -o "$out/render_batch"
status=0
for mode in templates conversations spans; do
  RENDER_BATCH="$out/render_batch" python3 differential.py "$mode" "$n" "$seed" || status=1
done
exit $status
