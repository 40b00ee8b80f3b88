# SPDX-License-Identifier: MIT
"""SC-VAE blocks: ConvNeXt, channel-to-space up block (decoder), space-to-channel down block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...modules.norm import LayerNorm32
from ...modules.sparse.conv import SparseConv3d
from ...modules.sparse.spatial import (
    channel2spatial,
    channel2spatial_map,
    spatial2channel,
    spatial2channel_map,
)
from ...modules.sparse.tensor import SparseTensor

# Rows per chunk of the row-wise glue (LayerNorm32's fp32 copies, the ConvNeXt MLP's 4x hidden
# layer): at 2.9M voxels (1024^3) the unchunked temporaries are 1.5-3 GiB. Tensors of at most
# this many rows run in one piece, exactly as before.
ROW_CHUNK = 1 << 18


def _norm_silu_(norm: nn.Module, f: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """silu(norm(f)) row chunk by row chunk into ``out`` (``f`` itself when None: in place).
    Per-row ops, so the result is bit-identical to the unchunked expression."""
    out = f if out is None else out
    for s in range(0, f.shape[0], ROW_CHUNK):
        out[s : s + ROW_CHUNK] = F.silu(norm(f[s : s + ROW_CHUNK]))
    return out


class SparseConvNeXtBlock3d(nn.Module):
    """x + MLP(LN(conv3x3x3(x))); MLP = Linear(C->rC) -> SiLU -> Linear(rC->C)."""

    def __init__(self, channels: int, mlp_ratio: float = 4.0, use_checkpoint: bool = False):
        super().__init__()
        self.channels = channels
        self.norm = LayerNorm32(channels, elementwise_affine=True, eps=1e-6)
        self.conv = SparseConv3d(channels, channels, 3)
        hidden = int(channels * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden), nn.SiLU(), nn.Linear(hidden, channels)
        )

    def forward(self, x: SparseTensor) -> SparseTensor:
        h = self.conv(x).feats
        if h.shape[0] <= ROW_CHUNK:
            return x.replace(x.feats + self.mlp(self.norm(h)))
        # Large sets: the MLP in row chunks, written over the conv output (dead afterwards).
        for s in range(0, h.shape[0], ROW_CHUNK):
            e = s + ROW_CHUNK
            h[s:e] = x.feats[s:e] + self.mlp(self.norm(h[s:e]))
        return x.replace(h)


class SparseResBlockC2S3d(nn.Module):
    """Decoder up block: C -> C_out at twice the resolution, children chosen by a subdivision.

    forward(x, subdiv=None) -> out (pred_subdiv=False) or (out, predicted_logits) (pred_subdiv).
    ``subdiv``: SparseTensor [N, 8] of logits on x's voxels (child k kept where > 0). With
    pred_subdiv the block predicts the logits from x (``to_subdiv``) and uses them unless a
    ``subdiv`` is given (teacher forcing, e.g. to compare two precisions on one voxel set).
    """

    def __init__(
        self,
        channels: int,
        out_channels: int | None = None,
        use_checkpoint: bool = False,
        pred_subdiv: bool = True,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.out_channels = out_channels or channels
        self.pred_subdiv = pred_subdiv
        if channels % 8:
            raise ValueError(f"C2S needs channels divisible by 8, got {channels}")
        self.norm1 = LayerNorm32(channels, elementwise_affine=True, eps=1e-6)
        self.norm2 = LayerNorm32(self.out_channels, elementwise_affine=False, eps=1e-6)
        self.conv1 = SparseConv3d(channels, self.out_channels * 8, 3)
        self.conv2 = SparseConv3d(self.out_channels, self.out_channels, 3)
        if pred_subdiv:
            self.to_subdiv = nn.Linear(channels, 8)

    def forward(self, x: SparseTensor, subdiv: SparseTensor | None = None):
        pred = x.replace(self.to_subdiv(x.feats)) if self.pred_subdiv else None
        if subdiv is None:
            subdiv = pred
        h = self.conv1(x.replace(_norm_silu_(self.norm1, x.feats, torch.empty_like(x.feats))))
        m = channel2spatial_map(x, None if subdiv is None else subdiv.feats > 0)
        h = channel2spatial(h, m)  # [M, C_out]; fresh rows, so the norm may overwrite them
        xs = channel2spatial(x, m)  # [M, C / 8]
        del m  # its parent/slot rows (int64 [M] each) are dead: h carries the fine coords
        h = self.conv2(h.replace(_norm_silu_(self.norm2, h.feats)))
        repeat = self.out_channels // (self.channels // 8)
        f = h.feats  # += the skip: each of x's C/8 child channels feeds `repeat` out channels
        f.view(f.shape[0], -1, repeat).add_(xs.feats[:, :, None])
        if pred is not None:  # the logits must not keep x's level (neighbour maps) alive
            pred = SparseTensor(pred.feats, pred.coords, scale=pred.scale)
        return (h, pred) if self.pred_subdiv else h


class SparseResBlockS2C3d(nn.Module):
    """Encoder down block: C -> C_out at half the resolution (children packed into channels)."""

    def __init__(
        self, channels: int, out_channels: int | None = None, use_checkpoint: bool = False
    ):
        super().__init__()
        self.channels = channels
        self.out_channels = out_channels or channels
        self.norm1 = LayerNorm32(channels, elementwise_affine=True, eps=1e-6)
        self.norm2 = LayerNorm32(self.out_channels, elementwise_affine=False, eps=1e-6)
        self.conv1 = SparseConv3d(channels, self.out_channels // 8, 3)
        self.conv2 = SparseConv3d(self.out_channels, self.out_channels, 3)

    def forward(self, x: SparseTensor) -> SparseTensor:
        h = self.conv1(x.replace(F.silu(self.norm1(x.feats))))
        coarse, m = spatial2channel_map(x)
        h = spatial2channel(h, coarse, m)  # [P, C_out]
        xs = spatial2channel(x, coarse, m)  # [P, 8 C]
        h = self.conv2(h.replace(F.silu(self.norm2(h.feats))))
        p = xs.feats.shape[0]
        skip = xs.feats.view(p, self.out_channels, -1).mean(dim=-1)
        return h.replace(h.feats + skip)


BLOCKS: dict[str, type[nn.Module]] = {
    "SparseConvNeXtBlock3d": SparseConvNeXtBlock3d,
    "SparseResBlockC2S3d": SparseResBlockC2S3d,
    "SparseResBlockS2C3d": SparseResBlockS2C3d,
}


def block_class(name: str) -> type[nn.Module]:
    try:
        return BLOCKS[name]
    except KeyError:
        raise ValueError(f"unknown SC-VAE block type {name!r}; known: {sorted(BLOCKS)}") from None
