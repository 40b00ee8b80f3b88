# SPDX-License-Identifier: MIT
"""Submanifold 3x3x3 sparse convolution: neighbour maps, one dispatch point, the module.

Semantics (FlexGEMM's, which the published weights use):
    out[p] = bias + sum_{kx,ky,kz in 0..2} W[:, kx, ky, kz, :] @ in[p + (kx-1, ky-1, kz-1)]
over the active neighbours of the same batch item (missing neighbours count as zero). ``W`` is
[Co, Kx, Ky, Kz, Ci]; the kernel offset index is v = 9*kx + 3*ky + kz; kx acts on coords[:, 1] (x).
Output sites are the input sites (stride 1, dilation 1).

Dispatch: ``submanifold_conv3d`` runs a registered implementation for the tensor's device type if
there is one (``trellis2_kernels`` registers its Triton kernel for "cuda" through
``register_submanifold_conv3d``), else the gather + matmul reference below, which is exact in fp32
and works on every device. ``TRELLIS2_SPARSE_CONV=torch`` forces the reference.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
from collections.abc import Callable

import torch
from torch import nn

from .tensor import SparseTensor

_LOGGER = logging.getLogger(__name__)

ConvImpl = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]

NEIGHBOR_CACHE_KEY = "SubMConv3d_neighbor_cache_3x3x3_dilation1"
_IMPLS: dict[str, ConvImpl] = {}
_KERNELS_IMPORTED = False
# Bytes of gathered rows ([rows, 27 * Ci]) materialised at once by the reference path.
_GATHER_BUDGET = 256 * 2**20

# Packed key: batch in bits 48..62, (x+1, y+1, z+1) in 16-bit fields. The +1 keeps a -1
# neighbour coordinate inside its field, so adding a packed offset never carries across fields.
_FIELD = 16
_MAP_CHUNK = 1 << 18  # rows per neighbour-map pass (int64 temporaries: ~0.2 GiB)


def register_submanifold_conv3d(device_type: str, impl: ConvImpl) -> None:
    """Install ``impl(feats [N,Ci], neighbor_map [N,27] int32 (-1 = none), weight
    [Co,3,3,3,Ci], bias [Co] | None) -> [N,Co]`` as the convolution for ``device_type``."""
    _IMPLS[device_type] = impl


def unregister_submanifold_conv3d(device_type: str) -> None:
    _IMPLS.pop(device_type, None)


def _kernel_offsets(device: torch.device) -> torch.Tensor:
    """int64 [27] packed key offsets in v = 9*kx + 3*ky + kz order."""
    r = torch.arange(3, device=device, dtype=torch.int64) - 1
    dx, dy, dz = torch.meshgrid(r, r, r, indexing="ij")
    packed = (dx << (2 * _FIELD)) + (dy << _FIELD) + dz
    return packed.reshape(27)


def _pack(coords: torch.Tensor) -> torch.Tensor:
    c = coords.long()
    return (
        (c[:, 0] << (3 * _FIELD))
        + ((c[:, 1] + 1) << (2 * _FIELD))
        + ((c[:, 2] + 1) << _FIELD)
        + (c[:, 3] + 1)
    )


def build_neighbor_map(coords: torch.Tensor) -> torch.Tensor:
    """int32 [N, 27] row index of each voxel's neighbour at offset v (-1 = none).

    coords: int32 [N, 4] (b, x, y, z), any order, 0 <= x, y, z <= 65533, b < 32768.
    Sort the packed keys once, then binary-search the 27 shifted keys of every voxel.
    """
    n = coords.shape[0]
    if n == 0:
        return torch.empty(0, 27, dtype=torch.int32, device=coords.device)
    keys = _pack(coords)  # [N]
    sorted_keys, order = torch.sort(keys)
    order = order.to(torch.int32)
    offsets = _kernel_offsets(coords.device)[None, :]
    out = torch.empty(n, 27, dtype=torch.int32, device=coords.device)
    minus_one = torch.tensor(-1, dtype=torch.int32, device=coords.device)
    for s in range(0, n, _MAP_CHUNK):  # bounds the int64 temporaries at large N
        query = keys[s : s + _MAP_CHUNK, None] + offsets  # [n, 27]
        pos = torch.searchsorted(sorted_keys, query).clamp_(max=n - 1)
        out[s : s + _MAP_CHUNK] = torch.where(sorted_keys[pos] == query, order[pos], minus_one)
    return out


def submanifold_conv3d_reference(
    feats: torch.Tensor,
    neighbor_map: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
) -> torch.Tensor:
    """Gather + matmul (im2col in row chunks). feats [N,Ci], weight [Co,3,3,3,Ci] -> [N,Co]."""
    n, ci = feats.shape
    co = weight.shape[0]
    kv = weight.shape[1] * weight.shape[2] * weight.shape[3]
    w = weight.reshape(co, kv * ci).t()  # [27*Ci, Co], row index v*Ci + ci
    padded = torch.cat([feats, feats.new_zeros(1, ci)], dim=0)  # row N = zeros
    idx = torch.where(neighbor_map < 0, n, neighbor_map).long()
    rows = max(1, _GATHER_BUDGET // max(1, kv * ci * feats.element_size()))
    out = feats.new_empty(n, co)
    for s in range(0, n, rows):
        cols = padded[idx[s : s + rows]].reshape(-1, kv * ci)
        if bias is None:
            torch.mm(cols, w, out=out[s : s + rows])
        else:
            torch.addmm(bias, cols, w, out=out[s : s + rows])
    return out


def _ensure_kernels_registered() -> None:
    global _KERNELS_IMPORTED
    if _KERNELS_IMPORTED:
        return
    _KERNELS_IMPORTED = True
    try:  # The kernels package registers itself on import, when it provides a conv.
        importlib.import_module("trellis2_kernels")
    except Exception as exc:  # absent or broken kernels mean: use the reference
        _LOGGER.warning("trellis2_kernels not usable (%s); sparse conv uses the torch path", exc)


def submanifold_conv3d(
    feats: torch.Tensor,
    neighbor_map: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
) -> torch.Tensor:
    """The single dispatch point for sparse submanifold convolution (see module docstring)."""
    if os.environ.get("TRELLIS2_SPARSE_CONV", "auto") != "torch":
        if feats.device.type != "cpu":
            _ensure_kernels_registered()
        impl = _IMPLS.get(feats.device.type)
        if impl is not None:
            return impl(feats, neighbor_map, weight, bias)
    return submanifold_conv3d_reference(feats, neighbor_map, weight, bias)


def neighbor_map_of(x: SparseTensor) -> torch.Tensor:
    """The cached neighbour map of ``x``'s voxel set."""
    return x.cached(NEIGHBOR_CACHE_KEY, lambda: build_neighbor_map(x.coords))


class SparseConv3d(nn.Module):
    """Submanifold 3x3x3 convolution with FlexGEMM parameter names and layout.

    weight: [Co, 3, 3, 3, Ci]; bias: [Co]. Input and output are SparseTensors on the same voxels.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        padding: int | None = None,
        bias: bool = True,
        indice_key: str | None = None,
    ) -> None:
        super().__init__()
        if kernel_size != 3 or stride != 1 or dilation != 1:
            raise NotImplementedError(
                "only submanifold 3x3x3 convolutions (stride 1, dilation 1) are implemented; "
                "TRELLIS.2 uses no other"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.weight = nn.Parameter(torch.empty(out_channels, 3, 3, 3, in_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight.device.type == "meta":
            return
        fan_in = 27 * self.in_channels
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: SparseTensor) -> SparseTensor:
        out = submanifold_conv3d(x.feats, neighbor_map_of(x), self.weight, self.bias)
        return x.replace(out)
