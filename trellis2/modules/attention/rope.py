# SPDX-License-Identifier: MIT
"""3D rotary position embedding on integer voxel coordinates.

head_dim D gives D/2 complex pairs made of adjacent channels (2i, 2i+1). With freq_dim = D//2//3
frequencies per axis, f_j = rope_freq[0] / rope_freq[1] ** (j / freq_dim), a token at (x, y, z)
gets phases concat(x*f, y*f, z*f) padded with zero phase (identity) up to D/2. All math in fp32.
"""

from __future__ import annotations

import torch
from torch import nn


def rope_frequencies(
    head_dim: int, dims: int = 3, rope_freq: tuple[float, float] = (1.0, 10000.0), device=None
) -> torch.Tensor:
    freq_dim = head_dim // 2 // dims
    j = torch.arange(freq_dim, dtype=torch.float32, device=device) / freq_dim
    return rope_freq[0] / (rope_freq[1] ** j)  # [freq_dim] fp32


def rope_phases(
    coords: torch.Tensor, head_dim: int, rope_freq: tuple[float, float] = (1.0, 10000.0)
) -> torch.Tensor:
    """coords [L, 3] integer (x, y, z) -> complex64 [L, head_dim // 2] unit phases."""
    freqs = rope_frequencies(head_dim, coords.shape[1], rope_freq, device=coords.device)
    angles = coords.float()[:, :, None] * freqs[None, None, :]  # [L, 3, freq_dim]
    angles = angles.reshape(coords.shape[0], -1)
    pad = head_dim // 2 - angles.shape[1]
    if pad > 0:
        angles = torch.cat([angles, angles.new_zeros(angles.shape[0], pad)], dim=1)
    return torch.polar(torch.ones_like(angles), angles)


def apply_rope(x: torch.Tensor, phases: torch.Tensor) -> torch.Tensor:
    """Rotate x [..., L, H, D] by phases [L, D/2] (complex64); computed in fp32, cast back."""
    xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    out = torch.view_as_real(xc * phases[:, None, :]).reshape(x.shape)
    return out.to(x.dtype)


class RotaryPositionEmbedder(nn.Module):
    """Parameter-free (no state-dict entries) 3D RoPE; ``forward(q, k, phases)``."""

    def __init__(
        self, head_dim: int, dim: int = 3, rope_freq: tuple[float, float] = (1.0, 10000.0)
    ) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.dim = dim
        self.rope_freq = tuple(rope_freq)

    def phases(self, coords: torch.Tensor) -> torch.Tensor:
        return rope_phases(coords, self.head_dim, self.rope_freq)

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, phases: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return apply_rope(q, phases), apply_rope(k, phases)
