# SPDX-License-Identifier: MIT
"""Tangent-space normal map: detail of the dense mesh baked onto the decimated, unwrapped one.

The high-resolution normal per texel comes either from the dense mesh at the texel's closest
point (interpolated dense vertex normals, when the bake snapped texels) or from a voxel field:
each dense vertex adds its (area-weighted) normal to the voxel containing it (flexible-dual-grid
meshes have one vertex per voxel), and texels sample that field with the same sparse trilinear
rule as the PBR attributes. It is expressed in the low-poly tangent frame (T, B = cross(N, T) * w,
N), exactly the frame glTF viewers rebuild from the TANGENT and NORMAL attributes we write.
All of it is torch on the bake's device.
"""

from __future__ import annotations

import numpy as np
import torch

from trellis2.postprocess.closest_point import vertex_normals_torch
from trellis2.representations.o_voxel.grid_sample import sample_attrs


def dense_normal_field(
    vertices: torch.Tensor, faces: torch.Tensor, origin: np.ndarray, voxel_size: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(coords [M, 3] int64, unit normals [M, 3] float32) of the voxels holding dense vertices
    (on the vertices' device)."""
    dev = vertices.device
    vn = vertex_normals_torch(vertices, faces).double()
    used = torch.zeros(len(vertices), dtype=torch.bool, device=dev)
    used[faces.reshape(-1)] = True
    o = torch.as_tensor(origin, dtype=torch.float64, device=dev)
    cell = torch.floor((vertices[used].double() - o) / voxel_size).to(torch.int64).clamp_min(0)
    g = int(cell.max()) + 1 if len(cell) else 1
    key, inv = torch.unique((cell[:, 0] * g + cell[:, 1]) * g + cell[:, 2], return_inverse=True)
    uniq = torch.stack([key // (g * g), (key // g) % g, key % g], 1)
    acc = torch.zeros(len(uniq), 3, dtype=torch.float64, device=dev)
    acc.index_add_(0, inv.reshape(-1), vn[used])
    acc /= acc.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return uniq, acc.float()


def tangents_torch(
    positions: torch.Tensor, normals: torch.Tensor, uvs: torch.Tensor, faces: torch.Tensor
) -> torch.Tensor:
    """Per-vertex tangents [V, 4] float64 (xyz unit, w = ±1); the torch twin of
    `textured_mesh.compute_tangents` (same UV-gradient rule and fallback)."""
    p = positions.double()[faces]
    t = uvs.double()[faces]
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    d1, d2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    det = d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1]
    r = torch.where(det.abs() > 1e-20, 1.0 / torch.where(det == 0, 1.0, det), 0.0)[:, None]
    sdir = (e1 * d2[:, 1:2] - e2 * d1[:, 1:2]) * r
    tdir = (e2 * d1[:, 0:1] - e1 * d2[:, 0:1]) * r
    flat = faces.reshape(-1)
    tan = torch.zeros(len(positions), 3, dtype=torch.float64, device=positions.device)
    bit = torch.zeros_like(tan)
    tan.index_add_(0, flat, sdir.repeat_interleave(3, 0))
    bit.index_add_(0, flat, tdir.repeat_interleave(3, 0))
    n = normals.double()
    tan = tan - n * (n * tan).sum(1, keepdim=True)
    ln = tan.norm(dim=1, keepdim=True)
    x = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64, device=n.device)
    y = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64, device=n.device)
    helper = torch.where(n[:, :1].abs() < 0.9, x, y)
    alt = torch.linalg.cross(n, helper)
    alt /= alt.norm(dim=1, keepdim=True).clamp_min(1e-20)
    tan = torch.where(ln > 1e-12, tan / ln.clamp_min(1e-20), alt)
    w = torch.where((torch.linalg.cross(n, tan) * bit).sum(1) < 0.0, -1.0, 1.0)
    return torch.cat([tan, w[:, None].double()], 1)


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def bake_normal_map(
    low_vertices: torch.Tensor,
    low_normals: torch.Tensor,
    uvs: torch.Tensor,
    faces: torch.Tensor,
    texel_face: torch.Tensor,
    texel_bary: torch.Tensor,
    high_normals: torch.Tensor,
) -> torch.Tensor:
    """Encoded tangent-space normals [L, 3] float32 in [0, 1] (flat = (0.5, 0.5, 1)) of the
    covered texels.

    low_* [V, 3] / uvs [V, 2] / faces [F, 3] describe the exported mesh (Z-up; tangents are
    rotation-equivariant, so the Y-up frame the writer uses gives the same components);
    texel_face [L] / texel_bary [L, 3] come from the bake's rasterisation; high_normals [L, 3]
    are the dense surface's normals at the texels (zero rows = unknown: flat)."""
    tangents = tangents_torch(low_vertices, low_normals, uvs, faces)
    f = faces[texel_face]  # [L, 3]
    b = texel_bary.double()[:, :, None]
    n_low = _unit((low_normals.double()[f] * b).sum(1))
    t4 = tangents[f]
    t_low = (t4[..., :3] * b).sum(1)
    w = torch.where((t4[..., 3:] * b).sum(1) < 0, -1.0, 1.0)
    t_low = _unit(t_low - n_low * (t_low * n_low).sum(1, keepdim=True))
    b_low = torch.linalg.cross(n_low, t_low) * w
    n_hi = high_normals.double()
    n_len = n_hi.norm(dim=1, keepdim=True)
    # Texels the dense normals do not reach keep the low-poly normal.
    n_hi = torch.where(n_len > 1e-6, n_hi / n_len.clamp_min(1e-12), n_low)
    ts = torch.stack([(n_hi * t_low).sum(1), (n_hi * b_low).sum(1), (n_hi * n_low).sum(1)], 1)
    # Normals facing away from the low-poly surface (folds) would render black; keep them in
    # the upper hemisphere.
    ts[:, 2] = ts[:, 2].clamp_min(0.05)
    ts = _unit(ts)
    return (ts * 0.5 + 0.5).float()


def field_normals_at(
    field: tuple[torch.Tensor, torch.Tensor],
    positions: torch.Tensor,
    origin: np.ndarray,
    voxel_size: float,
) -> torch.Tensor:
    """Dense normals [L, 3] at world positions [L, 3] from `dense_normal_field` (not unit)."""
    coords, normals = field
    dev = positions.device
    return sample_attrs(normals.to(dev), coords.to(dev), positions, origin, voxel_size)
