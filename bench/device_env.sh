#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Source this first in every device call: `source bench/device_env.sh`.
# The device image has torch + triton but none of our other dependencies and no network:
# wheels found in .whl/ (spconv-triton, fast-simplification, xatlas, trimesh) are installed
# offline into /tmp/site; a Triton cache tarball in .tcache/ (written by an earlier run into
# $OUT) skips recompiling the kernels; .shared/ holds a copy of ../shared/fixtures.
cd "$(dirname "${BASH_SOURCE[0]}")/.." || return 1
export OUT=${OUT:-/tmp/trellis2-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
export TRITON_CACHE_DIR=/tmp/triton-cache TRITON_CACHE_AUTOTUNING=1
export PYTHONPATH="$PWD:$PWD/kernels:$PWD/server${PYTHONPATH:+:$PYTHONPATH}"
export PY=${PY:-python3}
if compgen -G ".whl/*.whl" >/dev/null && [ ! -d /tmp/site ]; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
fi
[ -d /tmp/site ] && export PYTHONPATH="$PYTHONPATH:/tmp/site"
[ -d .shared/fixtures ] && export TRELLIS2_SHARED="$PWD/.shared"
if compgen -G ".tcache/triton-cache.tgz*" >/dev/null && [ ! -d /tmp/triton-cache ]; then
    mkdir -p /tmp/triton-cache && cat .tcache/triton-cache.tgz* | tar xzf - -C /tmp/triton-cache
fi
# Save the (grown) Triton cache back into $OUT in <16 MiB parts; carry them in .tcache/ next time.
save_triton_cache() {
    tar czf - -C /tmp/triton-cache . 2>/dev/null | split -b 15M -d - "$OUT/triton-cache.tgz.part"
}
