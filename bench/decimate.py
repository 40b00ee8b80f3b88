# SPDX-License-Identifier: MIT
"""Decimation timings and error: the issue-4 dense mesh (~1M faces) → 200k faces.

The mesh is the preview body of apple.png at grid 424 (as in bench/export.py's dense case),
hole-filled and oriented like the export path does before decimating. Rows:
  fast_simplification  direct, and the export path's two steps (3× target, clean, target)
  torch cpu            our parallel quadric edge collapse on the CPU
  torch cuda           the same on the GPU (when available; first run is a warm-up)
Error: symmetric point-to-surface distance to the dense mesh (Chamfer mean, Hausdorff max) in
voxels, from 200k area-uniform samples per side; manifold = every edge in at most 2 faces.

Usage: python bench/decimate.py [--grid 424] [--target 200000] [--devices cuda,cpu] [--runs 3]
       [--samples 200000] [--no-fast-simplification] [--profile]
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

from trellis2.postprocess.cleanup import clean_mesh, fill_holes, unify_face_orientations  # noqa: E402
from trellis2.postprocess.decimate import simplify, surface_error  # noqa: E402
from trellis2.postprocess.decimate_gpu import DecimateStats  # noqa: E402
from trellis2.postprocess.topology import unique_edges  # noqa: E402
from trellis2.preview.body import build_ovoxel  # noqa: E402
from trellis2.preview.silhouette import crop_to_object, image_to_rgba, resize_rgba  # noqa: E402
from trellis2.representations.o_voxel import flexible_dual_grid_to_mesh  # noqa: E402

AABB = ((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))


def dense_mesh(grid: int) -> tuple[np.ndarray, np.ndarray]:
    rgba = crop_to_object(image_to_rgba(Image.open(SHARED / "images" / "apple.png")))
    ov = build_ovoxel(resize_rgba(rgba, 2 * grid), grid)
    v, f = flexible_dual_grid_to_mesh(
        torch.from_numpy(ov.coords.astype(np.int64)),
        torch.from_numpy(ov.dual_vertices),
        torch.from_numpy(ov.intersected),
        None,
        AABB,
        grid_size=grid,
    )
    v, f = fill_holes(v.numpy().astype(np.float32), f.numpy().astype(np.int64), 3e-2)
    return unify_face_orientations(v, f)


def export_two_step(v: np.ndarray, f: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """fast-simplification as process_mesh ran it: 3× target, clean, target, clean."""
    v, f = simplify(v, f, 3 * target)
    v, f = clean_mesh(v, f)
    v, f = simplify(v, f, target)
    return clean_mesh(v, f)


def manifold_report(v: np.ndarray, f: np.ndarray) -> str:
    _, _, counts = unique_edges(f, len(v))
    return f"max faces/edge {counts.max()}, open edges {(counts == 1).sum()}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grid", type=int, default=424)
    ap.add_argument("--target", type=int, default=200_000)
    ap.add_argument("--devices", default="cuda,cpu")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--profile", action="store_true", help="torch profiler tables of a CUDA run")
    ap.add_argument("--no-fast-simplification", dest="fast_simplification", action="store_false")
    args = ap.parse_args()
    print(
        f"# {platform.node()} {platform.machine()}, {len(os.sched_getaffinity(0))} usable CPUs, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    t = time.perf_counter()
    v, f = dense_mesh(args.grid)
    voxel = 1.0 / args.grid
    print(
        f"dense mesh: {len(f):,} faces, {len(v):,} vertices, {manifold_report(v, f)} "
        f"(built in {time.perf_counter() - t:.1f} s)"
    )
    rows: list[str] = []

    def report(name: str, sec: float, ov: np.ndarray, of: np.ndarray) -> None:
        err = surface_error(v, f, ov, of, args.samples)
        rows.append(
            f"| {name} | {sec:.3f} | {len(of):,} | {err['chamfer'] / voxel:.4f} | "
            f"{err['hausdorff'] / voxel:.3f} | {manifold_report(ov, of)} |"
        )
        print(rows[-1], flush=True)

    def timed(name: str, fn, runs: int) -> None:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        print(f"{name}: {' '.join(f'{x:.3f}' for x in times)} s", flush=True)
        report(name, statistics.median(times), *out)

    for dev in [d for d in args.devices.split(",") if d]:
        if dev == "cuda" and not torch.cuda.is_available():
            print("cuda: not available, skipped")
            continue
        vt, ft = torch.from_numpy(v).to(dev), torch.from_numpy(f).to(dev)
        stats = DecimateStats()
        if dev == "cuda":  # warm-up (kernels, allocator), then timed runs without stats syncs
            simplify(vt, ft, args.target, method="torch")
            torch.cuda.synchronize()

            def run(vt=vt, ft=ft):
                ov, of = simplify(vt, ft, args.target, method="torch")
                torch.cuda.synchronize()
                return ov.cpu().numpy(), of.cpu().numpy()

            timed("torch cuda", run, args.runs)
            simplify(vt, ft, args.target, method="torch", stats=stats)
            if args.profile:
                with torch.profiler.profile() as prof:
                    run()
                print(prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=20))
                print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
        else:  # one run (the first on a fresh process also pays for page faults)

            def run(vt=vt, ft=ft, stats=stats):
                ov, of = simplify(vt, ft, args.target, method="torch", stats=stats)
                return ov.numpy(), of.numpy()

            timed(f"torch {dev}", run, 1)
        print(
            f"\ntorch {dev} per pass ({len(stats.passes)} passes, {stats.seconds:.3f} s)\n"
            "| pass | faces | candidates | valid | collapsed | ms |\n|---|---|---|---|---|---|"
        )
        for i, p in enumerate(stats.passes):
            print(
                f"| {i} | {p['faces']:,} | {p['candidates']:,} | {p['valid']:,} | "
                f"{p['collapsed']:,} | {1000 * p['seconds']:.1f} |",
                flush=True,
            )
    if args.fast_simplification:
        timed("fast_simplification direct", lambda: simplify(v, f, args.target), 1)
        timed(
            "fast_simplification export path (3x, clean, target, clean)",
            lambda: export_two_step(v, f, args.target),
            1,
        )
    print(
        f"\n{len(f):,} → {args.target:,} faces; error in voxels (1/{args.grid})\n"
        "| method | s | faces | Chamfer | Hausdorff | topology |\n|---|---|---|---|---|---|"
    )
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
