#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Starts the server on its embedded defaults (SQLite + artifact folder under ./data, gRPC :50051,
# HTTP :8080, best backend available). Extra arguments go to `trellis2 serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh gpu
exec .venv/bin/trellis2 serve "$@"
