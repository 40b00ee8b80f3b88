#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the whole test suite from a clean clone: creates .venv, installs the project and the
# tools the tests drive (npm: glTF validator, buf, gRPC/Connect peers; Debian: mono, NUnit,
# Chromium), lints, then runs pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev
scripts/install-tools.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
export PATH="$PWD/tools/node/node_modules/.bin:$PATH"
exec .venv/bin/python -m pytest "$@"
