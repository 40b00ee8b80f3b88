# SPDX-License-Identifier: MIT
"""Plugs the Triton kernels into the model's dispatch points (trellis2.modules).

`trellis2.modules.sparse.conv.submanifold_conv3d` imports this package on its first CUDA call;
importing it registers `triton_submanifold_conv3d` for "cuda" tensors. The Gray-code row order
the conv kernel wants is a sort per voxel set, so it is cached per neighbour-map tensor (the
model caches one map per SparseTensor and reuses it for every conv layer on it).
"""

from __future__ import annotations

import logging
import weakref

import torch

from .neighbor_map import neighbor_order
from .sparse_conv import sparse_conv

_LOGGER = logging.getLogger(__name__)
# id(neighbor_map) -> (weak ref to it, int32 copy or None when the map is int32 already, row
# order); entries leave with their map. Holding the map itself here would keep every map (and
# its voxel set's memory) alive for the whole process.
_PREP: dict[int, tuple[weakref.ref, torch.Tensor | None, torch.Tensor]] = {}
_FAILED: set[str] = set()  # device types where the Triton conv raised: the reference runs there


def _prepared(neighbor_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The map as int32 (the kernel's index type) and its Gray-code row order, once per map."""
    key = id(neighbor_map)
    hit = _PREP.get(key)
    if hit is not None and hit[0]() is neighbor_map:
        return (neighbor_map if hit[1] is None else hit[1]), hit[2]
    nbr32 = neighbor_map.to(torch.int32)
    order = neighbor_order(nbr32)
    _PREP[key] = (weakref.ref(neighbor_map), None if nbr32 is neighbor_map else nbr32, order)
    weakref.finalize(neighbor_map, _PREP.pop, key, None)
    return nbr32, order


def triton_submanifold_conv3d(
    feats: torch.Tensor,
    neighbor_map: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
) -> torch.Tensor:
    """The model's conv signature: feats [N, Ci], neighbor_map int [N, 27] (-1 = none),
    weight [Co, 3, 3, 3, Ci], bias [Co] or None -> [N, Co] in feats' dtype."""
    from trellis2.modules.sparse.conv import submanifold_conv3d_reference

    if feats.device.type in _FAILED:
        return submanifold_conv3d_reference(feats, neighbor_map, weight, bias)
    if weight.dtype != feats.dtype:
        weight = weight.to(feats.dtype)
    allow_tf32 = feats.dtype == torch.float32 and torch.backends.cuda.matmul.allow_tf32
    nbr32, order = _prepared(neighbor_map)
    try:
        return sparse_conv(feats, nbr32, weight, bias, order=order, allow_tf32=allow_tf32)
    except Exception as exc:  # a kernel that cannot compile here must not stop a generation
        _FAILED.add(feats.device.type)
        _LOGGER.warning("Triton sparse conv failed (%s); using the torch reference", exc)
        return submanifold_conv3d_reference(feats, neighbor_map, weight, bias)


def register() -> bool:
    """Register the Triton conv for CUDA tensors; False where CUDA or the model is absent."""
    if not torch.cuda.is_available():
        return False
    try:
        from trellis2.modules.sparse.conv import register_submanifold_conv3d
    except ImportError:
        return False
    register_submanifold_conv3d("cuda", triton_submanifold_conv3d)
    return True
