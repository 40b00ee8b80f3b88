#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the web dashboard (dashboard/src: plain JS + three.js from npm, bundled by esbuild, no
# CDN) into server/trellis2_server/http/static, where the server serves it on its HTTP port.
# Needs Node.js 18+ and npm; skips the work when the output is newer than every input.
set -euo pipefail
cd "$(dirname "$0")/.."
out="server/trellis2_server/http/static"
if ! command -v npm >/dev/null; then
  echo "build-dashboard: npm not found; install Node.js 18+ to get the web dashboard" \
       "(the API and downloads work without it)" >&2
  exit 1
fi
if [ ! -d dashboard/node_modules ] || [ dashboard/package-lock.json -nt dashboard/node_modules ]; then
  (cd dashboard && npm ci --no-audit --no-fund --loglevel=error)
  touch dashboard/node_modules
fi
stamp="$out/.inputs"
inputs="$(cat dashboard/package-lock.json dashboard/build.mjs dashboard/src/* | sha256sum | cut -c1-32)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs" ]; then
  exit 0
fi
node dashboard/build.mjs "$out"
echo "$inputs" >"$stamp"
