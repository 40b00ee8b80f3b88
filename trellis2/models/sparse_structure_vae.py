# SPDX-License-Identifier: MIT
"""TRELLIS v1 dense sparse-structure decoder (`SparseStructureDecoder`, conv3d, 16^3 -> 64^3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..modules.norm import ChannelLayerNorm32
from ..modules.utils import convert_module_to


def pixel_shuffle_3d(x: torch.Tensor, scale_factor: int) -> torch.Tensor:
    """[B, C*s^3, H, W, D] -> [B, C, sH, sW, sD].

    out[b, c, s*h + i, s*w + j, s*d + k] = in[b, c*s^3 + (i*s + j)*s + k, h, w, d].
    """
    b, c, h, w, d = x.shape
    s = scale_factor
    c_ = c // s**3
    x = x.reshape(b, c_, s, s, s, h, w, d)
    x = x.permute(0, 1, 5, 2, 6, 3, 7, 4)
    return x.reshape(b, c_, h * s, w * s, d * s)


def _norm(norm_type: str, channels: int) -> nn.Module:
    if norm_type == "layer":
        return ChannelLayerNorm32(channels)  # eps 1e-5, affine
    if norm_type == "group":
        return _GroupNorm32(32, channels)
    raise ValueError(f"unknown norm_type {norm_type!r}")


class _GroupNorm32(nn.GroupNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float()).type(x.dtype)


class ResBlock3d(nn.Module):
    """norm1 -> SiLU -> conv1 -> norm2 -> SiLU -> conv2, plus skip (identity or 1x1 conv)."""

    def __init__(self, channels: int, out_channels: int | None = None, norm_type: str = "layer"):
        super().__init__()
        out_channels = out_channels or channels
        self.norm1 = _norm(norm_type, channels)
        self.norm2 = _norm(norm_type, out_channels)
        self.conv1 = nn.Conv3d(channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv3d(out_channels, out_channels, 3, padding=1)
        self.skip_connection = (
            nn.Conv3d(channels, out_channels, 1) if channels != out_channels else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip_connection(x)


class UpsampleBlock3d(nn.Module):
    """Conv3d(C -> C_out * 8) then 3D pixel shuffle x2 ("conv" mode) or nearest ("nearest")."""

    def __init__(self, in_channels: int, out_channels: int, mode: str = "conv") -> None:
        super().__init__()
        self.mode = mode
        if mode == "conv":
            self.conv = nn.Conv3d(in_channels, out_channels * 8, 3, padding=1)
        elif mode != "nearest" or in_channels != out_channels:
            raise ValueError("nearest upsampling needs in_channels == out_channels")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "conv":
            return pixel_shuffle_3d(self.conv(x), 2)
        return F.interpolate(x, scale_factor=2, mode="nearest")


class SparseStructureDecoder(nn.Module):
    """z [B, latent_channels, R, R, R] -> occupancy logits [B, out_channels, 4R, 4R, 4R].

    With use_fp16 the middle block and blocks (convs) run in fp16; input/output layers and the
    channel LayerNorms stay fp32.
    """

    def __init__(
        self,
        out_channels: int,
        latent_channels: int,
        num_res_blocks: int,
        channels: list[int],
        num_res_blocks_middle: int = 2,
        norm_type: str = "layer",
        use_fp16: bool = False,
    ) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.latent_channels = latent_channels
        self.channels = list(channels)
        self.use_fp16 = use_fp16
        self.dtype = torch.float16 if use_fp16 else torch.float32

        self.input_layer = nn.Conv3d(latent_channels, channels[0], 3, padding=1)
        self.middle_block = nn.Sequential(
            *[ResBlock3d(channels[0], channels[0], norm_type) for _ in range(num_res_blocks_middle)]
        )
        self.blocks = nn.ModuleList()
        for i, ch in enumerate(channels):
            self.blocks.extend(ResBlock3d(ch, ch, norm_type) for _ in range(num_res_blocks))
            if i < len(channels) - 1:
                self.blocks.append(UpsampleBlock3d(ch, channels[i + 1]))
        self.out_layer = nn.Sequential(
            _norm(norm_type, channels[-1]),
            nn.SiLU(),
            nn.Conv3d(channels[-1], out_channels, 3, padding=1),
        )
        if use_fp16:
            self.convert_to_fp16()

    def convert_to_fp16(self) -> None:
        self.use_fp16, self.dtype = True, torch.float16
        self.blocks.apply(lambda m: convert_module_to(m, torch.float16))
        self.middle_block.apply(lambda m: convert_module_to(m, torch.float16))

    def convert_to_fp32(self) -> None:
        self.use_fp16, self.dtype = False, torch.float32
        self.blocks.apply(lambda m: convert_module_to(m, torch.float32))
        self.middle_block.apply(lambda m: convert_module_to(m, torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input_layer(x)
        h = h.type(self.dtype)
        h = self.middle_block(h)
        for block in self.blocks:
            h = block(h)
        h = h.type(x.dtype)
        return self.out_layer(h)
