# SPDX-License-Identifier: MIT
"""Flexible-Dual-Grid shape SC-VAE: `FlexiDualGridVaeEncoder`, `FlexiDualGridVaeDecoder`.

Decoder head (7 channels per output voxel, eval): dual vertex = (1 + 2m) * sigmoid(h[:, 0:3]) - m
(voxel-local, m = voxel_margin = 0.5), intersected = h[:, 3:6] > 0 (x, y, z edge flags),
quad_lerp = softplus(h[:, 6:7]) (quad split weight). The mesh of each sample comes from
`flexible_dual_grid_to_mesh` on the (x, y, z) voxel coords at grid `resolution`, aabb [-0.5, 0.5]^3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from ...modules.sparse.tensor import SparseTensor
from .sparse_unet_vae import SparseUnetVaeDecoder, SparseUnetVaeEncoder

AABB = ((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))


class DecodedMesh(NamedTuple):
    """Fallback mesh container: vertices [V, 3] float32 in the aabb frame, faces [F, 3] int."""

    vertices: torch.Tensor
    faces: torch.Tensor


@dataclass
class FlexiDualGridVoxels:
    """Per-voxel head outputs of the shape decoder (rows follow ``coords``).

    coords int32 [N, 4] (b, x, y, z) at grid ``resolution``; raw fp32 [N, 7]; vertices fp32 [N, 3]
    voxel-local; intersected bool [N, 3]; quad_lerp fp32 [N, 1].
    """

    coords: torch.Tensor
    raw: torch.Tensor
    vertices: torch.Tensor
    intersected: torch.Tensor
    quad_lerp: torch.Tensor
    layout: list[slice]


def _make_mesh(vertices: torch.Tensor, faces: torch.Tensor) -> Any:
    """The representations package's `Mesh` when it has one, else a plain container."""
    try:
        from ... import representations

        mesh_cls = getattr(representations, "Mesh", None)
        if mesh_cls is None:
            from ...representations.mesh import Mesh as mesh_cls  # type: ignore[no-redef]
    except (ImportError, AttributeError):
        return DecodedMesh(vertices, faces)
    return mesh_cls(vertices, faces)


class FlexiDualGridVaeDecoder(SparseUnetVaeDecoder):
    """Shape decoder: latent SparseTensor -> per-sample meshes (and subdivision logits).

    forward(x, return_subs=False) -> list of meshes (or (meshes, subs)); ``decode_voxels`` gives
    the raw head outputs instead. ``set_resolution(res)`` sets the output grid (16x the latent).
    """

    def __init__(
        self,
        resolution: int,
        model_channels: list[int],
        latent_channels: int,
        num_blocks: list[int],
        block_type: list[str] | str,
        up_block_type: list[str] | str,
        block_args: list[dict[str, Any]] | dict[str, Any] | None = None,
        voxel_margin: float = 0.5,
        use_fp16: bool = False,
    ) -> None:
        self.resolution = resolution
        self.voxel_margin = voxel_margin
        super().__init__(
            7,
            model_channels,
            latent_channels,
            num_blocks,
            block_type,
            up_block_type,
            block_args,
            use_fp16=use_fp16,
            pred_subdiv=True,
        )

    def set_resolution(self, resolution: int) -> None:
        self.resolution = resolution

    def head(self, h: SparseTensor) -> FlexiDualGridVoxels:
        raw = h.feats.float()
        m = self.voxel_margin
        return FlexiDualGridVoxels(
            coords=h.coords,
            raw=raw,
            vertices=(1 + 2 * m) * torch.sigmoid(raw[:, 0:3]) - m,
            intersected=raw[:, 3:6] > 0,
            quad_lerp=F.softplus(raw[:, 6:7]),
            layout=h.layout,
        )

    def decode_voxels(self, x: SparseTensor, return_subs: bool = False, **kwargs: Any) -> Any:
        h, subs = super().forward(x, return_subs=True, **kwargs)
        vox = self.head(h)
        return (vox, subs) if return_subs else vox

    def to_meshes(self, vox: FlexiDualGridVoxels) -> list[Any]:
        from ...representations.o_voxel.flexible_dual_grid import flexible_dual_grid_to_mesh

        meshes = []
        for sl in vox.layout:
            v, f = flexible_dual_grid_to_mesh(
                vox.coords[sl, 1:],
                vox.vertices[sl],
                vox.intersected[sl],
                vox.quad_lerp[sl],
                aabb=[list(AABB[0]), list(AABB[1])],
                grid_size=self.resolution,
                train=False,
            )
            meshes.append(_make_mesh(v, f))
        return meshes

    def forward(self, x: SparseTensor, return_subs: bool = False, **kwargs: Any) -> Any:
        vox, subs = self.decode_voxels(x, return_subs=True, **kwargs)
        meshes = self.to_meshes(vox)
        return (meshes, subs) if return_subs else meshes


class FlexiDualGridVaeEncoder(SparseUnetVaeEncoder):
    """O-Voxel geometry -> shape latent. Input = cat(dual_vertices - 0.5, intersected - 0.5)."""

    def __init__(
        self,
        model_channels: list[int],
        latent_channels: int,
        num_blocks: list[int],
        block_type: list[str] | str,
        down_block_type: list[str] | str,
        block_args: list[dict[str, Any]] | dict[str, Any] | None = None,
        use_fp16: bool = False,
    ) -> None:
        super().__init__(
            6,
            model_channels,
            latent_channels,
            num_blocks,
            block_type,
            down_block_type,
            block_args,
            use_fp16=use_fp16,
        )

    def forward(  # type: ignore[override]
        self,
        vertices: SparseTensor,
        intersected: SparseTensor,
        sample_posterior: bool = False,
        return_raw: bool = False,
    ) -> Any:
        feats = torch.cat([vertices.feats - 0.5, intersected.feats.float() - 0.5], dim=1)
        return super().forward(vertices.replace(feats), sample_posterior, return_raw)
