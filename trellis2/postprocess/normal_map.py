# SPDX-License-Identifier: MIT
"""Tangent-space normal map: detail of the dense mesh baked onto the decimated, unwrapped one.

The dense mesh's normals become a voxel attribute: each dense vertex adds its (area-weighted)
normal to the voxel containing it; flexible-dual-grid meshes have one vertex per voxel, so this is
the dense mesh's own normal per voxel. Each texel then samples that field with the same sparse
trilinear rule as the PBR attributes (fast, no closest-point search) and expresses it in the
low-poly tangent frame (T, B = cross(N, T) * w, N), exactly the frame glTF viewers rebuild from
the TANGENT and NORMAL attributes we write.
"""

from __future__ import annotations

import numpy as np
import torch

from trellis2.postprocess.bake import dilate_fill, nearest_covered
from trellis2.postprocess.textured_mesh import compute_tangents
from trellis2.postprocess.topology import vertex_normals
from trellis2.representations.o_voxel.grid_sample import sample_attrs


def dense_normal_field(
    vertices: np.ndarray, faces: np.ndarray, origin: np.ndarray, voxel_size: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(coords [M, 3] int64, unit normals [M, 3] float32) of the voxels holding dense vertices."""
    vn = vertex_normals(vertices, faces).astype(np.float64)
    used = np.zeros(len(vertices), bool)
    used[faces.reshape(-1)] = True
    cell = np.floor((vertices[used] - origin) / voxel_size).astype(np.int64)
    cell = np.maximum(cell, 0)
    uniq, inv = np.unique(cell, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    acc = np.stack([np.bincount(inv, vn[used][:, k], minlength=len(uniq)) for k in range(3)], 1)
    acc /= np.maximum(np.linalg.norm(acc, axis=1, keepdims=True), 1e-12)
    return torch.from_numpy(uniq), torch.from_numpy(acc.astype(np.float32))


def bake_normal_map(
    field: tuple[torch.Tensor, torch.Tensor],
    origin: np.ndarray,
    voxel_size: float,
    low_vertices: np.ndarray,
    low_normals: np.ndarray,
    uvs: np.ndarray,
    faces: np.ndarray,
    face_id: np.ndarray,
    bary: np.ndarray,
    positions: np.ndarray,
    fill: tuple[np.ndarray, np.ndarray] | None = None,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Encoded tangent-space normal map [S, S, 3] in [0, 1] (flat = (0.5, 0.5, 1)).

    face_id [S, S] (-1 empty), bary [S, S, 3], positions [S, S, 3] come from the attribute bake
    (same rasterisation); low_* describe the exported mesh (Z-up; tangents are rotation-
    equivariant, so the Y-up frame the writer uses gives the same components)."""
    s = face_id.shape[0]
    mask = face_id >= 0
    out = np.zeros((s, s, 3), np.float32)
    out[...] = (0.5, 0.5, 1.0)
    if not mask.any():
        return out
    tangents = compute_tangents(low_vertices, low_normals, uvs, faces)
    f = faces[face_id[mask]]  # [L, 3]
    b = bary[mask][:, :, None]
    n_low = (low_normals[f] * b).sum(1)
    t4 = tangents[f]
    t_low = (t4[..., :3] * b).sum(1)
    w = np.where((t4[..., 3:] * b).sum(1) < 0, -1.0, 1.0)
    n_low /= np.maximum(np.linalg.norm(n_low, axis=1, keepdims=True), 1e-12)
    t_low -= n_low * (t_low * n_low).sum(1, keepdims=True)
    t_low /= np.maximum(np.linalg.norm(t_low, axis=1, keepdims=True), 1e-12)
    b_low = np.cross(n_low, t_low) * w
    coords, normals = field
    n_hi = sample_attrs(
        normals.to(device),
        coords.to(device),
        torch.from_numpy(positions[mask]).to(device),
        origin,
        voxel_size,
    )
    n_hi = n_hi.cpu().numpy().astype(np.float64)
    n_len = np.linalg.norm(n_hi, axis=1, keepdims=True)
    # Texels the field does not reach keep the low-poly normal.
    n_hi = np.where(n_len > 1e-6, n_hi / np.maximum(n_len, 1e-12), n_low)
    ts = np.stack([(n_hi * t_low).sum(1), (n_hi * b_low).sum(1), (n_hi * n_low).sum(1)], axis=1)
    # Normals facing away from the low-poly surface (folds) would render black; keep them in
    # the upper hemisphere.
    ts[:, 2] = np.maximum(ts[:, 2], 0.05)
    ts /= np.linalg.norm(ts, axis=1, keepdims=True)
    out[mask] = (ts * 0.5 + 0.5).astype(np.float32)
    return dilate_fill(out, mask, fill if fill is not None else nearest_covered(mask))
