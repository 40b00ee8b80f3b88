# SPDX-License-Identifier: MIT
"""Norms computed in fp32 whatever the trunk dtype (reference `LayerNorm32` and friends)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm32(nn.LayerNorm):
    """nn.LayerNorm on the fp32 upcast of x, result cast back to x's dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = None if self.weight is None else self.weight.float()
        b = None if self.bias is None else self.bias.float()
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).to(x.dtype)


class ChannelLayerNorm32(LayerNorm32):
    """LayerNorm over the channel axis of [B, C, *spatial] tensors (TRELLIS v1 dense VAE)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = x.dim()
        h = x.permute(0, *range(2, dims), 1)
        h = super().forward(h)
        return h.permute(0, dims - 1, *range(1, dims - 1)).contiguous()


class MultiHeadRMSNorm(nn.Module):
    """Per-head RMS norm of q/k: normalize(x, -1) * gamma[H, D] * sqrt(D) in fp32, cast back."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.scale = dim**0.5
        self.gamma = nn.Parameter(torch.ones(heads, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [..., H, D]
        return (F.normalize(x.float(), dim=-1) * self.gamma.float() * self.scale).to(x.dtype)
