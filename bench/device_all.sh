#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Everything GPU-side in one device call: set up, GPU tests, kernel bench, network, export and
# pipeline benches. Every step has its own time limit so the whole run stays under ~9 minutes; each
# step's log lands in $OUT (the device tool returns that folder).
#
#   bench/device_all.sh                 # all steps
#   STEPS="tests kernels" QUICK=1 bench/device_all.sh
#   PIPELINE_ARGS="--types 512,1024_cascade" LIMIT_PIPELINE=280 STEPS=pipeline bench/device_all.sh
# Per-step limits (seconds): LIMIT_TESTS, LIMIT_KERNELS, LIMIT_EXPORT, LIMIT_ASSETS,
# LIMIT_PIPELINE, LIMIT_NETWORKS; extra arguments: KERNELS_ARGS, ASSETS_ARGS, PIPELINE_ARGS,
# NETWORKS_ARGS (word-split). "assets" is not in the default STEPS (about 5 minutes of CPU).
#
# Setup (offline wheels, Triton cache, fixtures) is in bench/device_env.sh. Carry .whl, .tcache
# and .shared with the device call.
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/device_env.sh
source bench/device_env.sh
STEPS=${STEPS:-"tests kernels networks export pipeline"}
TEST_PATHS=${TEST_PATHS:-"tests/kernels tests/models tests/pipelines"}
T0=$(date +%s)

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
# The export: dense 1M-face case on CUDA, then on 2 pinned CPU cores (the CI machine's size).
step export "${LIMIT_EXPORT:-120}" bash -c "$PY bench/export.py --cases dense_cuda --runs 3 && \
    OMP_NUM_THREADS=2 taskset -c 0,1 $PY bench/export.py --cases dense --runs 1"
# The round trip of every shared asset at 512 on all CPUs (ASSETS_ARGS e.g. "--bake-from voxels").
# shellcheck disable=SC2086
step assets "${LIMIT_ASSETS:-330}" $PY bench/export.py --cases assets --resolution 512 --jobs 8 \
    ${ASSETS_ARGS:-}
# shellcheck disable=SC2086
step pipeline "${LIMIT_PIPELINE:-300}" $PY bench/pipeline.py --json "$OUT/pipeline.json" \
    ${PIPELINE_ARGS:-}
# shellcheck disable=SC2086
[ -f bench/networks_gpu.py ] && step networks "${LIMIT_NETWORKS:-110}" $PY bench/networks_gpu.py \
    ${NETWORKS_ARGS:---repeats 2}

# The device tool returns files of at most 16 MiB: split the cache; carry the parts in .tcache/.
save_triton_cache
echo "=== total $(( $(date +%s) - T0 ))s"
