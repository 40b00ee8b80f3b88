#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Creates .venv (if needed) and installs the project with the given extras. Idempotent and
# quick when everything is already there. TRELLIS2_TORCH picks the torch build to install
# (default torch==2.13.0; e.g. TRELLIS2_TORCH="torch --index-url https://download.pytorch.org/whl/cu128").
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
py="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
stamp=".venv/.installed-${extras:-base}-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    # shellcheck disable=SC2086
    .venv/bin/pip install -q ${TRELLIS2_TORCH:-torch==2.13.0}
  fi
  spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  .venv/bin/pip install -q -e "$spec"
  touch "$stamp"
fi
# The web dashboard (needs npm; the API works without it).
scripts/build-dashboard.sh || echo "bootstrap: web dashboard not built (see above)" >&2
