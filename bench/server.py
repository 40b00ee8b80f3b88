# SPDX-License-Identifier: MIT
"""Server benchmark: preview backend time per stage, submit → first event latency, and
FetchArtifact throughput on loopback. Prints one table per part.

    .venv/bin/python bench/server.py [--image ../shared/images/apple.png] [--runs 20]

The preview part runs the backend in this process (the same code a worker runs); the other
parts go through a real server on 127.0.0.1 with one preview worker process.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import grpc
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2_grpc as pb_grpc
from trellis2_server.config import ServerConfig
from trellis2_server.server import start_server

REPO = Path(__file__).resolve().parent.parent


class _StageClock:
    """A ProgressReporter that records when each stage starts."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.marks: list[tuple[str, float]] = []

    def progress(self, stage: str, step: int, total: int, fraction: float) -> None:
        if not self.marks or self.marks[-1][0] != stage:
            self.marks.append((stage, time.perf_counter()))

    def preview(self, kind: str, glb: bytes, thumbnail_png: bytes | None) -> None:
        pass


def bench_preview(image_path: Path, runs: int) -> None:
    from PIL import Image

    from trellis2.generation.types import GenerationParams
    from trellis2.preview import PreviewBackend

    image = Image.open(image_path).convert("RGBA").resize((1024, 1024), Image.LANCZOS)
    backend = PreviewBackend()
    params = GenerationParams(seed=1, display_name="bench")  # defaults: 1024_cascade
    backend.generate(image, params, _StageClock())  # warm-up (imports, caches)
    per_stage: dict[str, list[float]] = {}
    totals = []
    for _ in range(runs):
        clock = _StageClock()
        t0 = time.perf_counter()
        asset = backend.generate(image, params, clock)
        end = time.perf_counter()
        totals.append(end - t0)
        marks = [*clock.marks, ("end", end)]
        for (stage, start), (_, stop) in itertools.pairwise(marks):
            per_stage.setdefault(stage, []).append(stop - start)
        for name, seconds in getattr(backend, "last_timings", {}).items():
            if name.startswith("export."):
                per_stage.setdefault("  " + name, []).append(seconds)
    print(f"\n## preview backend, 1024x1024 {image_path.name}, default export, {runs} runs")
    print(
        f"triangles {asset.triangle_count}, texture {asset.texture_size}px, "
        f"GLB {len(asset.files[0].data) / 1e6:.2f} MB"
    )
    print(f"{'stage':<24}{'median s':>10}")
    for stage, times in per_stage.items():
        print(f"{stage:<24}{statistics.median(times):>10.3f}")
    print(f"{'total':<24}{statistics.median(totals):>10.3f}")


def _png(size: int) -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(im).ellipse((size // 8, size // 8, size * 7 // 8, size * 7 // 8), fill="red")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


async def bench_server(runs: int, fetch_mb: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = ServerConfig(
            data_dir=Path(tmp), host="127.0.0.1", grpc_port=0, http_port=-1,
            backend="preview", workers=1,
        )  # fmt: skip
        server = await start_server(config)
        await server.service.wait_ready(300)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
                stub = pb_grpc.AssetGenerationServiceStub(ch)
                await stub.GetServerInfo(pb.GetServerInfoRequest())  # connect
                await _latency(stub, runs)
                await _throughput(stub, server.service, fetch_mb)
        finally:
            await server.stop(0)


async def _latency(stub: pb_grpc.AssetGenerationServiceStub, runs: int) -> None:
    image = _png(256)
    first, started = [], []
    for i in range(runs):
        req = pb.GenerateAssetRequest(
            job=pb.CreateJobRequest(
                image=image, seed=i, pipeline_type=pb.PIPELINE_TYPE_512,
                export_options=pb.ExportOptions(texture_size=256, decimation_target=2000),
            )
        )  # fmt: skip
        t0 = time.perf_counter()
        async for ev in stub.GenerateAsset(req):
            kind = ev.WhichOneof("event")
            if kind == "queued":
                first.append(time.perf_counter() - t0)
            elif kind == "started":
                started.append(time.perf_counter() - t0)
    print(
        f"\n## submit → event latency over gRPC loopback (GenerateAsset), {runs} jobs, 256 px PNG"
    )
    print(f"{'event':<24}{'median ms':>10}{'p90 ms':>10}")
    for name, xs in (("first event (queued)", first), ("started (worker idle)", started)):
        xs = sorted(xs)
        p90 = xs[min(len(xs) - 1, int(0.9 * len(xs)))]
        print(f"{name:<24}{statistics.median(xs) * 1e3:>10.1f}{p90 * 1e3:>10.1f}")


async def _throughput(stub: pb_grpc.AssetGenerationServiceStub, service, mb: int) -> None:  # type: ignore[no-untyped-def]
    data = os.urandom(mb * 1024 * 1024)
    info = service.artifacts.put(data, "application/octet-stream")
    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        n = 0
        async for chunk in stub.FetchArtifact(pb.FetchArtifactRequest(digest=info.digest)):
            n += len(chunk.data)
        rates.append(n / (time.perf_counter() - t0) / 1e6)
        assert n == len(data)
    print(f"\n## FetchArtifact on loopback, {mb} MiB artifact, 1 MiB chunks, 3 runs")
    print(f"{'median MB/s':<24}{statistics.median(rates):>10.0f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--image", type=Path, default=REPO.parent / "shared/images/apple.png")
    p.add_argument("--runs", type=int, default=5, help="preview backend runs")
    p.add_argument("--latency-runs", type=int, default=20)
    p.add_argument("--fetch-mb", type=int, default=64)
    p.add_argument("--skip-preview", action="store_true")
    args = p.parse_args()
    print(
        f"# bench/server.py on {platform.node()}: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    if not args.skip_preview:
        bench_preview(args.image, args.runs)
    asyncio.run(bench_server(args.latency_runs, args.fetch_mb))


if __name__ == "__main__":
    main()
