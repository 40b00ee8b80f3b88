# SPDX-License-Identifier: MIT
"""Channel <-> space reshuffles of the SC-VAE blocks (factor 2 on every axis).

Child sub-index k of a parent voxel p is k = dx + 2*dy + 4*dz, child coords = 2*p + (dx, dy, dz).
Channel2Spatial (decoder): parent features [N, 8*W] become up to 8 children [*, W] (slot k ->
child k), for the children a boolean mask selects; output rows are parent-major, children in
ascending k. Spatial2Channel (encoder): children go back into slot k of their parent's [8*W]
feature (empty slots are zero); parents are sorted lexicographically by (b, x, y, z).

The encoder's Spatial2Channel registers its inverse under ``channel2spatial_2`` on the coarse
tensor; Channel2Spatial prefers that map over a mask, which is how the texturing pipeline decodes
back onto exactly the encoder's input voxels (reference behaviour).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .tensor import Scale, SparseTensor

C2S_CACHE_KEY = "channel2spatial_2"


@dataclass(frozen=True)
class SubdivisionMap:
    """Parent row and child slot of every fine voxel, and the fine voxels' coords [M, 4] int32."""

    parent: torch.Tensor  # int64 [M]
    slot: torch.Tensor  # int64 [M]
    fine_coords: torch.Tensor  # int32 [M, 4]
    from_encoder: bool = False  # the inverse of an encoder's Spatial2Channel


def _child_offsets(device: torch.device) -> torch.Tensor:
    k = torch.arange(8, device=device)
    return torch.stack([k & 1, (k >> 1) & 1, (k >> 2) & 1], dim=1).to(torch.int32)  # [8, 3]


def _finer(scale: Scale) -> Scale:
    return (scale[0] / 2, scale[1] / 2, scale[2] / 2)


def _coarser(scale: Scale) -> Scale:
    return (scale[0] * 2, scale[1] * 2, scale[2] * 2)


def channel2spatial_map(x: SparseTensor, mask: torch.Tensor | None) -> SubdivisionMap:
    """The subdivision of ``x``: the encoder's cached inverse if any, else ``mask`` [N, 8] bool."""
    cached = x.get_spatial_cache(C2S_CACHE_KEY)
    if cached is not None:
        return SubdivisionMap(cached.parent, cached.slot, cached.fine_coords, from_encoder=True)
    if mask is None:
        raise ValueError(
            "Channel2Spatial needs a subdivision mask (guide_subs or pred_subdiv) when the "
            "tensor has no cached encoder map"
        )
    parent, slot = mask.nonzero(as_tuple=True)  # row-major: parent-major, ascending slot
    coords = x.coords[parent].clone()
    coords[:, 1:] = coords[:, 1:] * 2 + _child_offsets(x.device)[slot]
    return SubdivisionMap(parent, slot, coords)


def channel2spatial(x: SparseTensor, m: SubdivisionMap) -> SparseTensor:
    """feats [N, 8*W] -> [M, W] on the fine voxels of ``m`` (scale halves).

    The output keeps x's cache dict only when it follows an encoder's map (whose finer levels
    are cached there); otherwise it starts a fresh one, so a decoder's big fine-level maps do
    not stay alive with the latent (reference behaviour).
    """
    n, c = x.feats.shape
    feats = x.feats.view(n, 8, c // 8)[m.parent, m.slot]
    if m.from_encoder:
        return x.derive(feats, m.fine_coords, _finer(x.scale))
    return SparseTensor(feats, m.fine_coords, scale=_finer(x.scale))


def spatial2channel_map(x: SparseTensor) -> tuple[torch.Tensor, SubdivisionMap]:
    """Coarse coords [P, 4] int32 (sorted) and the map from ``x``'s rows to (parent, slot)."""
    c = x.coords
    parent_coords = torch.cat([c[:, :1], c[:, 1:] // 2], dim=1)
    slot = ((c[:, 1] % 2) + 2 * (c[:, 2] % 2) + 4 * (c[:, 3] % 2)).long()
    coarse, parent = torch.unique(parent_coords, dim=0, return_inverse=True)
    return coarse.to(torch.int32), SubdivisionMap(parent, slot, c)


def spatial2channel(
    x: SparseTensor, coarse: torch.Tensor, m: SubdivisionMap, register: bool = True
) -> SparseTensor:
    """feats [M, W] -> [P, 8*W] on the coarse voxels (scale doubles); registers the inverse."""
    w = x.feats.shape[1]
    feats = x.feats.new_zeros(coarse.shape[0], 8, w)
    feats[m.parent, m.slot] = x.feats
    out = x.derive(feats.reshape(coarse.shape[0], 8 * w), coarse, _coarser(x.scale))
    if register:
        out.register_spatial_cache(C2S_CACHE_KEY, m)
    return out


__all__ = [
    "C2S_CACHE_KEY",
    "SubdivisionMap",
    "channel2spatial",
    "channel2spatial_map",
    "spatial2channel",
    "spatial2channel_map",
]
