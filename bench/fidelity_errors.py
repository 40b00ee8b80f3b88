# SPDX-License-Identifier: MIT
"""Where a round trip's base-colour error sits (issue 4, export-fidelity helper).

Runs `convert_asset` on one asset, then, over the same 100k output samples as `fidelity`:
- PSNR of the baked texture and of the trilinear voxel field at those points (the gap is the
  export's: UV atlas, bake);
- texels of the output atlas covered by more than one face (independent per-face count);
- the squared error binned by the 3D distance to the nearest source point of a visibly
  different colour (max channel > 0.1), in voxels.

Usage: python bench/fidelity_errors.py ASSET.glb [--resolution 256] [--texture-size 2048]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

from trellis2.generation.types import ExportSettings
from trellis2.postprocess.closest_point import SubdividedSurface
from trellis2.postprocess.convert import (
    AABB,
    _sample_surface,
    asset_to_ovoxel,
    convert_asset,
    psnr_db,
    read_glb_mesh,
)
from trellis2.representations.o_voxel.gltf_source import bilinear, load_gltf
from trellis2.representations.o_voxel.grid_sample import sample_attrs


def texel_coverage(uvs: np.ndarray, faces: np.ndarray, size: int) -> np.ndarray:
    """Number of faces covering each texel centre [size, size] (independent of the rasteriser:
    per-face edge functions over its bounding box; strict, so shared edges are not overlaps)."""
    t = uvs[faces].astype(np.float64) * size - 0.5
    count = np.zeros((size, size), np.int32)
    for a, b, c in t:
        lo = np.maximum(np.ceil(np.minimum(np.minimum(a, b), c)), 0).astype(int)
        hi = np.minimum(np.floor(np.maximum(np.maximum(a, b), c)), size - 1).astype(int)
        if (hi < lo).any():
            continue
        x, y = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1))
        w = np.stack(
            [
                (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])
                for p, q in ((b, c), (c, a), (a, b))
            ]
        )
        inside = (w > 0).all(0) | (w < 0).all(0)
        count[y[inside], x[inside]] += 1
    return count


def shared_texels(uvs: np.ndarray, faces: np.ndarray, size: int) -> tuple[int, int]:
    """(texels covered by a face, texels covered by two or more) at size² texel centres."""
    count = texel_coverage(uvs, faces, size)
    return int((count > 0).sum()), int((count > 1).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("asset", type=Path)
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--texture-size", type=int, default=2048)
    ap.add_argument("--neighbours", type=int, default=400)
    args = ap.parse_args()
    res = args.resolution
    t = time.perf_counter()
    settings = ExportSettings(decimation_target=200_000, texture_size=args.texture_size)
    # Baked from the voxels: the texture-vs-field gap below is then the export's own loss.
    asset, rep = convert_asset(args.asset, res, settings, bake_from="voxels")
    took = time.perf_counter() - t
    print(f"{args.asset.name} at {res}: {rep.base_color_psnr_db:.2f} dB ({took:.0f} s)")
    src = load_gltf(args.asset)
    src.normalize()
    ov, of, ouv, otex = read_glb_mesh(asset.files[0].data)
    p, fo, bo = _sample_surface(ov, of, 100_000, np.random.default_rng(0))
    _, fs, bs = SubdividedSurface(src.vertices, src.faces, 1.0 / res).project(p)
    q = src.vertices[src.faces[fs]].astype(np.float64)
    q = (q * bs[:, :, None]).sum(1)
    uv = (ouv[of[fo]] * bo[:, :, None]).sum(1)
    ours = bilinear(otex, np.stack([uv[:, 0], 1.0 - uv[:, 1]], 1))
    theirs = src.sample(fs, bs)[:, :3]
    err = ((ours - theirs) ** 2).mean(1)

    vox = asset_to_ovoxel(src, res)
    field = sample_attrs(
        torch.from_numpy(vox.attrs),
        torch.from_numpy(vox.coords).long(),
        torch.from_numpy(p),
        torch.tensor(AABB[0]),
        1.0 / res,
    ).numpy()[:, :3]
    field_db = psnr_db(((field - theirs) ** 2).mean())
    texture_db = psnr_db(err.mean())
    print(f"texture {texture_db:.2f} dB, trilinear field at the same points {field_db:.2f} dB")
    covered, shared = shared_texels(ouv, of, min(args.texture_size, 2048))
    pct = 100 * shared / max(covered, 1)
    print(f"atlas: {shared} of {covered} covered texels shared by two faces ({pct:.3f} %)")
    n = 2_000_000
    dp, dfc, dbc = _sample_surface(src.vertices, src.faces, n, np.random.default_rng(1))
    dcol = src.sample(dfc, dbc)[:, :3]
    d, idx = cKDTree(dp).query(q, k=args.neighbours, workers=-1)
    differs = np.abs(dcol[idx] - theirs[:, None, :]).max(2) > 0.1
    found = differs.any(1)
    dist = np.where(differs, d, np.inf).min(1) * res
    radius = float(np.median(d[:, -1])) * res
    print(
        f"distance to a colour edge (voxels; search ~{radius:.1f}) | points | share of MSE | PSNR"
    )
    bins = [(0, 0.25), (0.25, 0.5), (0.5, 1.0), (1.0, np.inf)]

    def row(label: str, s: np.ndarray) -> None:
        share = err[s].sum() / err.sum()
        print(f"{label} | {s.mean():.3f} | {share:.3f} | {psnr_db(err[s].mean()):.1f}")

    for lo, hi in bins:
        s = found & (dist >= lo) & (dist < hi)
        if s.any():
            row(f"[{lo}, {hi})", s)
    if (~found).any():
        row("none found", ~found)


if __name__ == "__main__":
    main()
