#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the non-Python tools the tests use. npm packages go to tools/node (pinned by its
# package-lock.json); Debian packages are installed when running as root and missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d tools/node/node_modules ] || [ tools/node/package-lock.json -nt tools/node/node_modules ]; then
  (cd tools/node && npm ci --no-audit --no-fund --loglevel=error)
  touch tools/node/node_modules
fi
need=()
command -v mcs >/dev/null || need+=(mono-mcs)
command -v nunit-console >/dev/null || need+=(nunit-console)
# The Unity client's core compiles against these (tests/clients/unity_build.py).
[ -f /usr/lib/mono/4.5/System.Net.Http.dll ] || need+=(libmono-system-net-http4.0-cil)
ls /usr/lib/cli/nunit.framework-*/nunit.framework.dll >/dev/null 2>&1 || need+=(libnunit-framework2.6.3-cil)
[ -f /usr/lib/cli/Newtonsoft.Json-5.0/Newtonsoft.Json.dll ] || ls /usr/lib/cli/newtonsoft-json*/Newtonsoft.Json.dll >/dev/null 2>&1 || need+=(libnewtonsoft-json5.0-cil)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "missing Debian packages (tests that need them will fail): ${need[*]}" >&2
  fi
fi
