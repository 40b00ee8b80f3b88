# SPDX-License-Identifier: MIT
"""Ambient occlusion from the O-Voxel itself (no ray tracer): per output vertex, rays over the
normal's hemisphere march through a coarse occupancy grid of the active voxels; AO is the
cosine-weighted fraction of rays that escape within `max_distance` voxels. Per-vertex values are
then interpolated per texel (face id + barycentrics from the bake), so the map costs one small
pass over the vertices, not a ray cast per texel.
"""

from __future__ import annotations

import numpy as np
import torch

from trellis2.representations.o_voxel.flexible_dual_grid import VoxelHash

# Cosine-weighted hemisphere directions (z up), a fixed golden-angle spiral.
_N_DIRS = 12


def _hemisphere_dirs(n: int = _N_DIRS) -> np.ndarray:
    i = np.arange(n) + 0.5
    r = np.sqrt(i / n)
    phi = i * np.pi * (3.0 - np.sqrt(5.0))
    return np.stack([r * np.cos(phi), r * np.sin(phi), np.sqrt(1.0 - r * r)], 1)


def vertex_ambient_occlusion(
    vertices: np.ndarray,
    normals: np.ndarray,
    coords: np.ndarray,
    origin: np.ndarray,
    voxel_size: float,
    grid_size: int,
    max_distance: float = 8.0,
    max_grid: int = 256,
) -> np.ndarray:
    """AO in [0, 1] (1 = open) per vertex [V]. vertices/normals [V, 3] world (aabb frame);
    coords [N, 3] active voxels at `grid_size`, pooled to at most `max_grid` per axis."""
    f = max(1, int(np.ceil(grid_size / max_grid)))
    g = int(np.ceil(grid_size / f))
    cells = np.unique(coords.astype(np.int64) // f, axis=0)
    table = VoxelHash(torch.from_numpy(cells), g)
    cell = voxel_size * f
    p = (vertices - origin) / cell  # coarse-voxel units
    n = normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    helper = np.where(np.abs(n[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    t = np.cross(n, helper)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    b = np.cross(n, t)
    dirs = _hemisphere_dirs()
    world = dirs[None, :, 0:1] * t[:, None] + dirs[None, :, 1:2] * b[:, None]
    world = world + dirs[None, :, 2:3] * n[:, None]  # [V, K, 3]
    steps = np.arange(0.5, max_distance / f + 0.5, 1.0)
    hit = np.zeros(world.shape[:2], dtype=bool)
    # Start one coarse voxel above the surface so grazing rays do not hit the surface's own shell.
    pt = torch.from_numpy((p + n).astype(np.float32))[:, None, :]
    wt = torch.from_numpy(world.astype(np.float32))
    for s in steps:
        q = torch.floor(pt + wt * float(s)).to(torch.int64)
        inside = ((q >= 0) & (q < g)).all(-1)
        idx = table.lookup(q.clamp(-1, g))
        hit |= (inside & (idx >= 0)).numpy()
    return (1.0 - hit.mean(1)).astype(np.float32)


def bake_occlusion(
    ao_per_vertex: np.ndarray, faces: np.ndarray, face_id: np.ndarray, bary: np.ndarray
) -> np.ndarray:
    """Texel AO [S, S] from per-vertex values (1 where no face covers the texel)."""
    out = np.ones(face_id.shape, dtype=np.float32)
    m = face_id >= 0
    out[m] = (ao_per_vertex[faces[face_id[m]]] * bary[m]).sum(1)
    return out
