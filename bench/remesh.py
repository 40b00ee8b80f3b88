# SPDX-License-Identifier: MIT
"""Narrow-band dual-contouring remesh on shared assets: time, size, closedness, Chamfer.

Each asset goes glTF → O-Voxel (texturing-pipeline weights) → flexible-dual-grid mesh at R, then
`remesh_for_export` (the to_glb(remesh=True) grid: band, projection, inner shells dropped).
Chamfer is the mean of both one-sided surface distances between the remeshed and the FDG mesh,
in voxels (the Chamfer column).

    OMP_NUM_THREADS=2 python bench/remesh.py --resolution 64 128 --assets khronos_fox
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from trellis2.postprocess.convert import AABB
from trellis2.postprocess.decimate import surface_error
from trellis2.postprocess.remesh import remesh_for_export
from trellis2.postprocess.topology import unique_edges
from trellis2.representations.o_voxel.flexible_dual_grid import flexible_dual_grid_to_mesh
from trellis2.representations.o_voxel.gltf_source import load_gltf
from trellis2.representations.o_voxel.mesh_to_ovoxel import mesh_to_flexible_dual_grid

SHARED = Path(__file__).resolve().parents[2] / "shared" / "assets" / "gltf"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resolution", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--assets", nargs="+", default=["khronos_fox", "polyhaven_tea_set_01"])
    ap.add_argument("--band", type=float, default=1.0)
    ap.add_argument("--project", type=float, default=0.9)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    print("| asset | R | FDG faces | remesh s (wall / CPU) | out faces | 2-face edges | Chamfer |")
    print("|---|---|---|---|---|---|---|")
    for name in args.assets:
        src = load_gltf(SHARED / f"{name}.glb")
        src.normalize()
        for res in args.resolution:
            coords, dual, inter = mesh_to_flexible_dual_grid(
                torch.from_numpy(src.vertices),
                torch.from_numpy(src.faces),
                res,
                AABB,
                face_weight=1.0,
                boundary_weight=0.2,
                regularization_weight=1e-2,
            )
            v, f = flexible_dual_grid_to_mesh(coords, dual, inter, None, AABB, grid_size=res)
            v, f = v.to(args.device), f.to(args.device)
            remesh_for_export(v, f, AABB, None, res, args.band, args.project)  # warm-up
            if args.device == "cuda":
                torch.cuda.synchronize()
            t, c = time.perf_counter(), time.process_time()
            rv, rf = remesh_for_export(v, f, AABB, None, res, args.band, args.project)
            if args.device == "cuda":
                torch.cuda.synchronize()
            dt, dc = time.perf_counter() - t, time.process_time() - c
            rv, rf = rv.cpu().numpy(), rf.cpu().numpy()
            _, _, counts = unique_edges(rf, len(rv))
            err = surface_error(v.cpu().numpy(), f.cpu().numpy(), rv, rf, n_samples=50_000)
            print(
                f"| {name} | {res} | {len(f)} | {dt:.2f} / {dc:.2f} | {len(rf)} | "
                f"{(counts == 2).mean() * 100:.1f}% | {err['chamfer'] * res:.3f} |"
            )


if __name__ == "__main__":
    main()
