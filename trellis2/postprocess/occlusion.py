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


def _unique_cells(cells: torch.Tensor, g: int) -> torch.Tensor:
    """Distinct rows of int cells [N, 3] in [0, g) (flat keys: much faster than unique(dim=0))."""
    key = (cells[:, 0] * g + cells[:, 1]) * g + cells[:, 2]
    k = torch.unique(key)
    return torch.stack([k // (g * g), (k // g) % g, k % g], 1)


def vertex_ambient_occlusion(
    vertices: object,
    normals: object,
    coords: object,
    origin: np.ndarray,
    voxel_size: float,
    grid_size: int,
    max_distance: float = 8.0,
    max_grid: int = 256,
) -> np.ndarray | torch.Tensor:
    """AO in [0, 1] (1 = open) per vertex [V]. vertices/normals [V, 3] world (aabb frame);
    coords [N, 3] active voxels at `grid_size`, pooled to at most `max_grid` per axis.
    Runs in torch on the vertices' device; returns numpy for numpy vertices, else a tensor."""
    as_numpy = not isinstance(vertices, torch.Tensor)
    dev = vertices.device if isinstance(vertices, torch.Tensor) else torch.device("cpu")
    v = torch.as_tensor(np.asarray(vertices) if as_numpy else vertices).to(dev).double()
    nrm = torch.as_tensor(np.asarray(normals) if as_numpy else normals).to(dev).double()
    c = torch.as_tensor(coords).to(dev, torch.int64)
    f = max(1, int(np.ceil(grid_size / max_grid)))
    g = int(np.ceil(grid_size / f))
    cells = _unique_cells(torch.div(c, f, rounding_mode="floor"), g)
    table = VoxelHash(cells, g)
    cell = voxel_size * f
    o = torch.as_tensor(origin, dtype=torch.float64, device=dev)
    p = (v - o) / cell  # coarse-voxel units
    n = nrm / nrm.norm(dim=1, keepdim=True).clamp_min(1e-12)
    x = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64, device=dev)
    y = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64, device=dev)
    t = torch.linalg.cross(n, torch.where(n[:, :1].abs() < 0.9, x, y))
    t /= t.norm(dim=1, keepdim=True).clamp_min(1e-12)
    b = torch.linalg.cross(n, t)
    dirs = torch.from_numpy(_hemisphere_dirs()).to(dev)
    world = dirs[None, :, 0:1] * t[:, None] + dirs[None, :, 1:2] * b[:, None]
    world = (world + dirs[None, :, 2:3] * n[:, None]).float()  # [V, K, 3]
    steps = np.arange(0.5, max_distance / f + 0.5, 1.0)
    hit = torch.zeros(world.shape[:2], dtype=torch.bool, device=dev)
    # Start one coarse voxel above the surface so grazing rays do not hit the surface's own shell.
    pt = (p + n).float()[:, None, :]
    for s in steps:
        q = torch.floor(pt + world * float(s)).to(torch.int64)
        inside = ((q >= 0) & (q < g)).all(-1)
        idx = table.lookup(q.clamp(-1, g))
        hit |= inside & (idx >= 0)
    ao = 1.0 - hit.float().mean(1)
    return ao.cpu().numpy() if as_numpy else ao


def bake_occlusion(
    ao_per_vertex: torch.Tensor, faces: torch.Tensor, texel_face: torch.Tensor, texel_bary
) -> torch.Tensor:
    """AO [L, 1] of the covered texels from per-vertex values (face id + barycentrics)."""
    return (ao_per_vertex[faces[texel_face]] * texel_bary).sum(1, keepdim=True)
