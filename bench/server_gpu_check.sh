#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# GPU smoke check of the server: auto backend → trellis2 (GPU + tiny weights), CUDA only in the worker.
# Carry the server's missing wheels in .whl-server/ (ignored; fetch them with
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 -d .whl-server \
#     grpcio==1.85.1 grpcio-health-checking==1.85.1 grpcio-reflection==1.85.1 grpcio-status==1.85.1 \
#     protobuf==7.36.2 googleapis-common-protos==1.76.0 trimesh==5.2.0 xatlas==0.0.11 \
#     fast_simplification==0.2.0)
# and run `bash bench/server_gpu_check.sh` on the device; logs land in $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl-server/*.whl || exit 1
export PYTHONPATH="$PWD:$PWD/server:$PWD/kernels:/tmp/site"
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -c "from trellis2.pipelines.tiny import write_tiny_checkpoint as w; import pathlib; print(w(pathlib.Path('/tmp/tiny'), ss_target_voxels=16))" 2>&1 | tail -1
python3 -m trellis2_server.cli serve --data-dir /tmp/d --host 127.0.0.1 --grpc-port 50051 --http-port -1 --weights-dir /tmp/tiny > $OUT/serve.out 2> $OUT/serve.err &
SPID=$!
cat > /tmp/client.py <<'PY'
import asyncio, sys, time
sys.path.insert(0, "tests/server")
from server_helpers import make_png
from trellis2_server.client import Client
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
async def main():
    c = Client("127.0.0.1:50051")
    few = pb.SamplerParams(steps=2)
    for attempt in range(100):
        try:
            info = await c.stub.GetServerInfo(pb.GetServerInfoRequest(), timeout=5)
            break
        except Exception:
            await asyncio.sleep(0.5)
    t = time.time()
    for pt in (pb.PIPELINE_TYPE_512, pb.PIPELINE_TYPE_1024_CASCADE):
        job = await c.create_job(pb.CreateJobRequest(image=make_png(256), seed=1, pipeline_type=pt,
            sparse_structure_sampler=few, shape_slat_sampler=few, tex_slat_sampler=few,
            export_options=pb.ExportOptions(texture_size=512, decimation_target=5000)))
        async for ev in c.watch(job.name):
            k = ev.WhichOneof("event")
            if k in ("started", "completed", "failed", "preview") or (k == "progress" and ev.progress.step == 0):
                print(f"{time.time()-t:7.2f}s seq {ev.seq:3d} {k} {ev.progress.stage if k=='progress' else ''} {ev.failed.error.message if k=='failed' else ''} {ev.completed.stats.triangle_count if k=='completed' else ''}")
    info = await c.stub.GetServerInfo(pb.GetServerInfoRequest())
    print("default_backend", info.default_backend, "gpus", [(g.name, g.memory_total_bytes) for g in info.gpus], "workers", info.workers)
    await c.close()
asyncio.run(main())
PY
timeout 400 python3 /tmp/client.py 2>&1 | tail -40
echo "--- gateway maps (expect no libtorch/libcuda):"; grep -c -E "libtorch|libcuda" /proc/$SPID/maps
echo "--- GPU processes:"; nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv
echo "--- gateway pid $SPID; worker pids:"; pgrep -P $SPID
kill -TERM $SPID; wait $SPID; echo "serve exit $?"
grep -E "backend|worker-0|ERROR|Error" $OUT/serve.err | head -30
head -5 $OUT/serve.out
