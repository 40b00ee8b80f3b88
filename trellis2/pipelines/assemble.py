# SPDX-License-Identifier: MIT
"""Decoded mesh + PBR voxels of one sample → `MeshWithVoxel` (reference §8.3)."""

from __future__ import annotations

from typing import Any

import torch

from trellis2.modules.sparse import SparseTensor


def mesh_with_voxel(
    mesh: Any, voxels: SparseTensor, resolution: int, layout: dict[str, slice]
) -> Any:
    """`mesh` (vertices [V, 3] in [-0.5, 0.5]^3, Z-up; faces [F, 3]) and one sample's PBR voxels
    (coords (0, x, y, z) at `resolution`^3, feats [N, 6]) → MeshWithVoxel with origin -0.5 and
    voxel size 1 / resolution. Holes are filled first (perimeter 3e-2) where the mesh supports it.
    """
    from trellis2.representations.mesh import MeshWithVoxel

    fill = getattr(mesh, "fill_holes", None)
    if callable(fill):
        filled = fill()  # in place like the reference, or returning the filled mesh
        if filled is not None and hasattr(filled, "faces"):
            mesh = filled
    n_ch = voxels.feats.shape[1]
    return MeshWithVoxel(
        mesh.vertices,
        mesh.faces,
        origin=[-0.5, -0.5, -0.5],
        voxel_size=1 / resolution,
        coords=voxels.coords[:, 1:],
        attrs=voxels.feats,
        voxel_shape=torch.Size([1, n_ch, resolution, resolution, resolution]),
        layout=layout,
    )
