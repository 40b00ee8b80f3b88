# SPDX-License-Identifier: MIT
"""Plugs the Triton kernels into the model's dispatch points (trellis2.modules).

`trellis2.modules.sparse.conv.submanifold_conv3d` imports this package on its first CUDA call;
importing it registers `triton_submanifold_conv3d` for "cuda" tensors. The Gray-code row order
the conv kernel wants is a sort per voxel set, so it is cached per neighbour-map tensor (the
model caches one map per SparseTensor and reuses it for every conv layer on it).
"""

from __future__ import annotations

import weakref

import torch

from .neighbor_map import neighbor_order
from .sparse_conv import sparse_conv

# id(neighbor_map) -> (weak ref to it, its row order); entries leave with their map.
_ORDERS: dict[int, tuple[weakref.ref, torch.Tensor]] = {}


def _cached_order(neighbor_map: torch.Tensor) -> torch.Tensor:
    key = id(neighbor_map)
    hit = _ORDERS.get(key)
    if hit is not None and hit[0]() is neighbor_map:
        return hit[1]
    order = neighbor_order(neighbor_map)
    _ORDERS[key] = (weakref.ref(neighbor_map), order)
    weakref.finalize(neighbor_map, _ORDERS.pop, key, None)
    return order


def triton_submanifold_conv3d(
    feats: torch.Tensor,
    neighbor_map: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
) -> torch.Tensor:
    """The model's conv signature: feats [N, Ci], neighbor_map int [N, 27] (-1 = none),
    weight [Co, 3, 3, 3, Ci], bias [Co] or None -> [N, Co] in feats' dtype."""
    if weight.dtype != feats.dtype:
        weight = weight.to(feats.dtype)
    allow_tf32 = feats.dtype == torch.float32 and torch.backends.cuda.matmul.allow_tf32
    return sparse_conv(
        feats, neighbor_map, weight, bias, order=_cached_order(neighbor_map), allow_tf32=allow_tf32
    )


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
