#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Everything GPU-side in one device call: set up, GPU tests, kernel bench, network and pipeline
# benches. Every step has its own time limit so the whole run stays under ~9 minutes; each
# step's log lands in $OUT (the device tool returns that folder).
#
#   bench/device_all.sh                 # all steps
#   STEPS="tests kernels" QUICK=1 bench/device_all.sh
#   PIPELINE_ARGS="--pipeline-type 512" LIMIT_PIPELINE=200 STEPS=pipeline bench/device_all.sh
# Per-step limits (seconds): LIMIT_TESTS, LIMIT_KERNELS, LIMIT_PIPELINE, LIMIT_NETWORKS; extra
# arguments: KERNELS_ARGS, PIPELINE_ARGS, NETWORKS_ARGS (word-split).
#
# The device image has torch + triton but none of our other dependencies and no network:
# wheels found in .whl/ (spconv-triton) are installed offline into /tmp/site; a Triton cache
# tarball in .tcache/ (written by an earlier run into $OUT) skips recompiling the kernels.
# Carry .whl, .tcache and .shared (a copy of ../shared/fixtures) with the device call.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/trellis2-out}
STEPS=${STEPS:-"tests kernels networks pipeline"}
TEST_PATHS=${TEST_PATHS:-"tests/kernels tests/models tests/pipelines"}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
export TRITON_CACHE_DIR=/tmp/triton-cache TRITON_CACHE_AUTOTUNING=1
export PYTHONPATH="$PWD:$PWD/kernels:$PWD/server${PYTHONPATH:+:$PYTHONPATH}"
PY=${PY:-python3}
T0=$(date +%s)

if compgen -G ".whl/*.whl" >/dev/null; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
# Parity fixtures for the models' GPU tests: a copy of ../shared/fixtures in .shared/ (carried).
[ -d .shared/fixtures ] && export TRELLIS2_SHARED="$PWD/.shared"
if compgen -G ".tcache/triton-cache.tgz*" >/dev/null; then  # one file or split parts
    mkdir -p /tmp/triton-cache && cat .tcache/triton-cache.tgz* | tar xzf - -C /tmp/triton-cache
fi

{
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
    $PY -c 'import torch, triton; print("torch", torch.__version__, "cuda", torch.version.cuda,
"cudnn", torch.backends.cudnn.version(), "triton", triton.__version__)'
} 2>&1 | tee "$OUT/env.txt"

step() {  # step NAME LIMIT_S CMD...: run CMD under a time limit, log to $OUT/NAME.log
    local name=$1 limit=$2
    shift 2
    case " $STEPS " in *" $name "*) ;; *) return 0 ;; esac
    echo "=== $name (limit ${limit}s, at $(( $(date +%s) - T0 ))s)"
    timeout -k 10 "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    tail -n 60 "$OUT/$name.log"
    echo "=== $name rc=$rc"
}

QUICK_ARG=""
[ "${QUICK:-0}" = 1 ] && QUICK_ARG="--quick"

# shellcheck disable=SC2086  # TEST_PATHS is a list
step tests "${LIMIT_TESTS:-100}" $PY -m pytest -m gpu $TEST_PATHS -q \
    -p no:cacheprovider -o addopts="" -o asyncio_mode=strict -W ignore::pytest.PytestConfigWarning \
    --continue-on-collection-errors --durations=8
# shellcheck disable=SC2086  # the *_ARGS variables are word lists
step kernels "${LIMIT_KERNELS:-190}" $PY bench/kernels.py $QUICK_ARG --json "$OUT/kernels.json" \
    ${KERNELS_ARGS:-}
# shellcheck disable=SC2086
[ -f bench/pipeline_random.py ] && step pipeline "${LIMIT_PIPELINE:-110}" $PY bench/pipeline_random.py \
    ${PIPELINE_ARGS:-}
# shellcheck disable=SC2086
[ -f bench/networks_gpu.py ] && step networks "${LIMIT_NETWORKS:-110}" $PY bench/networks_gpu.py \
    ${NETWORKS_ARGS:---repeats 2}

# The device tool returns files of at most 16 MiB: split the cache; carry the parts in .tcache/.
tar czf - -C /tmp/triton-cache . 2>/dev/null | split -b 15M -d - "$OUT/triton-cache.tgz.part"
echo "=== total $(( $(date +%s) - T0 ))s"
