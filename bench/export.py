# SPDX-License-Identifier: MIT
"""Export path and preview backend timings (CPU), one table per case.

Cases:
  preview  the preview backend per stage on a 1024x1024 image (apple.png upscaled), default
           export settings (texture 1024, decimation 100k); first run reported as warm-up.
  dense    the issue-4 case: a ~1M-face flexible-dual-grid mesh with its attribute voxels
           (the preview body of apple.png at grid 424) → 200k faces, 2048² textures.
  dense_cuda  the same with mesh, voxels and every heavy step on CUDA (warm-up run, then the
           median of --runs), per-step breakdown.
  convert  glTF → O-Voxel → GLB round trip of webgltf_barrel.glb with fidelity figures.
  assets   the same round trip for every asset in shared/assets/gltf, one row each;
           --jobs N converts them in N parallel processes; --bake-from source|voxels picks
           where the textures come from (convert's default: the source's own materials). Each
           row also gives the O-Voxel field's own base-colour PSNR (the voxels-bake ceiling).

Usage: python bench/export.py [--cases preview,dense,convert] [--runs 3] [--resolution 256]
       python bench/export.py --cases assets --resolution 512 --jobs 8 [--bake-from voxels]
Pin the cores to reproduce a 2-core budget elsewhere: taskset -c 0,1 python bench/export.py
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("TRELLIS2_SHARED", REPO.parent / "shared"))

from trellis2.generation.types import ExportSettings, GenerationParams  # noqa: E402
from trellis2.postprocess import PBR_ATTR_LAYOUT, ExportReport, export_asset  # noqa: E402
from trellis2.preview import PreviewBackend  # noqa: E402
from trellis2.preview.body import build_ovoxel  # noqa: E402
from trellis2.preview.silhouette import crop_to_object, image_to_rgba, resize_rgba  # noqa: E402
from trellis2.representations.o_voxel import flexible_dual_grid_to_mesh  # noqa: E402

AABB = ((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))


class _Sink:
    def progress(self, *args: object) -> None:
        pass

    def preview(self, *args: object) -> None:
        pass


def _table(title: str, rows: list[tuple[str, float]]) -> None:
    print(f"\n{title}\n| step | s |\n|---|---|")
    for name, sec in rows:
        print(f"| {name} | {sec:.3f} |")


def bench_preview(runs: int) -> None:
    img = Image.open(SHARED / "images" / "apple.png").resize((1024, 1024), Image.Resampling.LANCZOS)
    backend = PreviewBackend()
    samples: list[dict[str, float]] = []
    for i in range(runs + 1):
        t = time.perf_counter()
        asset = backend.generate(img, GenerationParams(), _Sink())
        total = time.perf_counter() - t
        row = {**backend.last_timings, "total": total}
        if i == 0:
            print(f"preview warm-up run: {total:.2f} s")
        else:
            samples.append(row)
    keys = list(samples[0])
    med = [(k, statistics.median(s[k] for s in samples)) for k in keys]
    _table(
        f"Preview backend, 1024x1024 apple.png, defaults ({asset.triangle_count} triangles, "
        f"median of {runs})",
        med,
    )


def bench_dense(grid: int, device: str = "cpu", runs: int = 1, profile: bool = False) -> None:
    rgba = crop_to_object(image_to_rgba(Image.open(SHARED / "images" / "apple.png")))
    t = time.perf_counter()
    ov = build_ovoxel(resize_rgba(rgba, 2 * grid), grid)
    v, f = flexible_dual_grid_to_mesh(
        torch.from_numpy(ov.coords.astype(np.int64)),
        torch.from_numpy(ov.dual_vertices),
        torch.from_numpy(ov.intersected),
        None,
        AABB,
        grid_size=grid,
    )
    prep = time.perf_counter() - t
    # On CUDA everything starts on the device (as the pipeline hands it over); the first run
    # pays CUDA/Triton warm-up and is reported separately.
    v, f = v.to(device), f.to(device)
    attrs = torch.from_numpy(ov.attrs).to(device)
    coords = torch.from_numpy(ov.coords.astype(np.int64)).to(device)
    n_runs = runs + 1 if device != "cpu" else runs
    samples = []
    for i in range(n_runs):
        report = ExportReport()
        prof = None
        if profile and i == n_runs - 1:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        t = time.perf_counter()
        asset = export_asset(
            v,
            f,
            attrs,
            coords,
            AABB,
            ExportSettings(decimation_target=200_000, texture_size=2048),
            grid_size=grid,
            attr_layout=PBR_ATTR_LAYOUT,
            report=report,
        )
        total = time.perf_counter() - t
        if prof is not None:
            import pstats

            prof.disable()
            print(f"\nprofile of the last {device} run (top 25 by own time):")
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        if device != "cpu" and i == 0:
            print(f"dense {device} warm-up run: {total:.2f} s")
            continue
        samples.append({**report.timings, "**export total**": total})
    keys = list(samples[0])
    rows = [(k, statistics.median(s[k] for s in samples)) for k in keys]
    _table(
        f"Dense export: {len(f):,} faces, {len(ov.coords):,} voxels (grid {grid}; building it "
        f"took {prep:.1f} s) → {asset.triangle_count:,} faces, 2048² textures, "
        f"uv={report.uv_method}, device={device}, median of {len(samples)}",
        rows,
    )


def bench_convert(resolution: int) -> None:
    from trellis2.postprocess.convert import convert_asset

    _, rep = convert_asset(
        SHARED / "assets" / "gltf" / "webgltf_barrel.glb",
        resolution,
        ExportSettings(decimation_target=200_000, texture_size=2048),
    )
    rows = list(rep.timings.items())
    _table(
        f"Round trip webgltf_barrel.glb at {resolution}: {rep.voxels:,} voxels, "
        f"{rep.triangles:,} triangles, Chamfer {rep.chamfer_voxels:.3f} voxel, "
        f"base colour PSNR {rep.base_color_psnr_db:.1f} dB (baked from the {rep.bake_from})",
        rows,
    )


def _convert_one(
    path: Path, resolution: int, threads: int, bake_from: str
) -> tuple[str, int, object, float]:
    import trimesh

    from trellis2.postprocess.convert import convert_asset

    torch.set_num_threads(threads)
    src_tris = sum(len(g.faces) for g in trimesh.load(str(path), force="scene").dump())
    t = time.perf_counter()
    _, rep = convert_asset(
        path,
        resolution,
        ExportSettings(decimation_target=200_000, texture_size=2048),
        bake_from=bake_from,  # type: ignore[arg-type]
    )
    total = time.perf_counter() - t - rep.timings.get("fidelity", 0.0)
    return path.stem, src_tris, rep, total


def bench_assets(resolution: int, jobs: int = 1, bake_from: str = "source") -> None:
    """Every shared asset through convert_asset; `jobs` parallel processes (spawned, each with
    cpus // jobs torch threads)."""
    paths = sorted((SHARED / "assets" / "gltf").glob("*.glb"))
    threads = max(1, len(os.sched_getaffinity(0)) // max(jobs, 1))
    print(
        f"\nRound trip of every asset at {resolution} (decimation 200k, texture 2048), "
        f"{jobs} parallel job(s) x {threads} thread(s), textures baked from the {bake_from}\n"
        "| asset | source tris | voxels | triangles | Chamfer (vox) | PSNR (dB) |"
        " O-Voxel field PSNR (dB) | atlas fill | convert s | fidelity s |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )

    def row(res: tuple[str, int, object, float]) -> None:
        name, src_tris, rep, total = res
        print(
            f"| {name} | {src_tris:,} | {rep.voxels:,} | {rep.triangles:,} | "  # type: ignore[attr-defined]
            f"{rep.chamfer_voxels:.3f} | {rep.base_color_psnr_db:.1f} | "  # type: ignore[attr-defined]
            f"{rep.ovoxel_base_color_psnr_db:.1f} | {rep.atlas_fill:.0%} | "  # type: ignore[attr-defined]
            f"{total:.1f} | "
            f"{rep.timings.get('fidelity', 0.0):.1f} |",  # type: ignore[attr-defined]
            flush=True,
        )

    t = time.perf_counter()
    if jobs <= 1:
        for p in paths:
            row(_convert_one(p, resolution, threads, bake_from))
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            futs = [pool.submit(_convert_one, p, resolution, threads, bake_from) for p in paths]
            for fut in as_completed(futs):
                row(fut.result())
    print(f"all {len(paths)} assets: {time.perf_counter() - t:.1f} s wall")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="preview,dense,convert")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dense-grid", type=int, default=424)
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--jobs", type=int, default=1, help="parallel processes for --cases assets")
    ap.add_argument("--profile", action="store_true", help="cProfile the last dense_cuda run")
    ap.add_argument("--bake-from", choices=["source", "voxels"], default="source")
    args = ap.parse_args()
    cpus = len(os.sched_getaffinity(0))
    print(
        f"# {platform.node()} {platform.machine()}, {cpus} usable CPUs, torch "
        f"{torch.__version__} ({torch.get_num_threads()} threads), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    cases = args.cases.split(",")
    if "preview" in cases:
        bench_preview(args.runs)
    if "dense" in cases:
        bench_dense(args.dense_grid)
    if "dense_cuda" in cases:
        bench_dense(args.dense_grid, "cuda", runs=args.runs, profile=args.profile)
    if "convert" in cases:
        bench_convert(args.resolution)
    if "assets" in cases:
        bench_assets(args.resolution, args.jobs, args.bake_from)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
