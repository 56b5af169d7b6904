#!/usr/bin/env bash
# Regenerates tests/goldens/models/* with transformers in the sid reference root (built first if
# needed; cached). Arguments go to make_tiny_models.py (e.g. --only gemma2).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
"$REPO/scripts/reference-roots/build-root.sh" sid
OMP_NUM_THREADS=1 PYTHONHASHSEED=0 \
  exec "$REPO/scripts/reference-roots/in-root.sh" sid python3 "$REPO/scripts/hf-reference/make_tiny_models.py" "$@"
