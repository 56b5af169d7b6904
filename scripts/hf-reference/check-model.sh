#!/usr/bin/env bash
# Runs check_model.py in the sid reference root (built first if needed; cached).
#   scripts/hf-reference/check-model.sh MODEL_DIR [check_model.py options]
# MODEL_DIR must be inside the repository or the data dir, or be listed in $VOLT_IN_ROOT_BIND.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
"$REPO/scripts/reference-roots/build-root.sh" sid >&2
exec "$REPO/scripts/reference-roots/in-root.sh" sid python3 "$REPO/scripts/hf-reference/check_model.py" "$@"
