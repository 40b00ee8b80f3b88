# SPDX-License-Identifier: MIT
"""Stage 1 flow: dense DiT over the 16^3 sparse-structure latent (`SparseStructureFlowModel`)."""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..modules.attention.rope import rope_phases
from ..modules.transformer import ModulatedTransformerCrossBlock, TimestepEmbedder
from ..modules.utils import convert_module_to, manual_cast, str_to_dtype

_LOGGER = logging.getLogger(__name__)


def _dtype_arg(dtype: str | torch.dtype | None, use_fp16: bool) -> torch.dtype:
    if dtype is None:
        return torch.float16 if use_fp16 else torch.float32
    return str_to_dtype(dtype)


class SparseStructureFlowModel(nn.Module):
    """Velocity model v(x_t, t, cond) on a dense latent.

    forward(x [B, C_in, R, R, R] fp32, t [B] (= 1000 * t_flow), cond [B, L, cond_channels])
    -> [B, C_out, R, R, R] in x's dtype. Tokens are the row-major (x, y, z) flatten of the grid;
    RoPE phases come from the integer grid coords (buffer `rope_phases`, complex64, recomputed,
    never loaded). Trunk (block linears) in `dtype`; embedders, ends and norms stay fp32.
    """

    computed_buffers = ("rope_phases",)

    def __init__(
        self,
        resolution: int,
        in_channels: int,
        model_channels: int,
        cond_channels: int,
        out_channels: int,
        num_blocks: int,
        num_heads: int | None = None,
        num_head_channels: int | None = 64,
        mlp_ratio: float = 4,
        pe_mode: str = "ape",
        rope_freq: tuple[float, float] = (1.0, 10000.0),
        dtype: str | None = None,
        use_fp16: bool = False,
        use_checkpoint: bool = False,
        share_mod: bool = False,
        initialization: str = "vanilla",
        qk_rms_norm: bool = False,
        qk_rms_norm_cross: bool = False,
        **kwargs: Any,  # the reference ignores extra JSON args here; so do we (logged)
    ) -> None:
        super().__init__()
        if kwargs:
            _LOGGER.warning("SparseStructureFlowModel ignores args %s", sorted(kwargs))
        if pe_mode != "rope":
            raise NotImplementedError("TRELLIS.2 flow models use pe_mode='rope' only")
        self.resolution = resolution
        self.in_channels = in_channels
        self.model_channels = model_channels
        self.cond_channels = cond_channels
        self.out_channels = out_channels
        self.num_blocks = num_blocks
        self.num_heads = num_heads or model_channels // num_head_channels
        self.mlp_ratio = mlp_ratio
        self.pe_mode = pe_mode
        self.rope_freq = tuple(rope_freq)
        self.share_mod = share_mod
        self.initialization = initialization
        self.dtype = _dtype_arg(dtype, use_fp16)

        self.t_embedder = TimestepEmbedder(model_channels)
        if share_mod:  # one t -> 6C modulation MLP shared by all blocks
            self.adaLN_modulation = nn.Sequential(
                nn.SiLU(), nn.Linear(model_channels, 6 * model_channels, bias=True)
            )
        self.register_buffer("rope_phases", self._grid_phases(), persistent=True)
        self.input_layer = nn.Linear(in_channels, model_channels)
        self.blocks = nn.ModuleList(
            ModulatedTransformerCrossBlock(
                model_channels,
                cond_channels,
                num_heads=self.num_heads,
                mlp_ratio=mlp_ratio,
                use_rope=True,
                rope_freq=self.rope_freq,
                qk_rms_norm=qk_rms_norm,
                qk_rms_norm_cross=qk_rms_norm_cross,
                share_mod=share_mod,
            )
            for _ in range(num_blocks)
        )
        self.out_layer = nn.Linear(model_channels, out_channels)
        self.convert_to(self.dtype)

    def _grid_phases(self) -> torch.Tensor:
        r = torch.arange(self.resolution)
        grid = torch.stack(torch.meshgrid(r, r, r, indexing="ij"), dim=-1).reshape(-1, 3)
        return rope_phases(grid, self.model_channels // self.num_heads, self.rope_freq)

    def reset_computed_buffers(self) -> None:
        """Recompute `rope_phases` on the module's device (after meta build or to_empty)."""
        device = self.input_layer.weight.device
        with torch.device(device):
            self.rope_phases = self._grid_phases()

    def convert_to(self, dtype: torch.dtype) -> None:
        """Trunk precision: only the linears inside `blocks` change dtype."""
        self.dtype = dtype
        self.blocks.apply(lambda m: convert_module_to(m, dtype))

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        b, c, *spatial = x.shape
        if any(s != self.resolution for s in spatial):
            raise ValueError(f"expected a {self.resolution}^3 grid, got {tuple(spatial)}")
        h = x.reshape(b, c, -1).permute(0, 2, 1)  # [B, R^3, C_in] row-major (x, y, z)
        h = self.input_layer(h)
        t_emb = self.t_embedder(t)  # [B, C] fp32
        if self.share_mod:
            t_emb = self.adaLN_modulation(t_emb)  # [B, 6C]
        t_emb = manual_cast(t_emb, self.dtype)
        h = manual_cast(h, self.dtype)
        cond = manual_cast(cond, self.dtype)
        if not self.rope_phases.is_complex():  # a Module.to(real dtype) dropped the phases
            self.reset_computed_buffers()
        for block in self.blocks:
            h = block(h, t_emb, cond, self.rope_phases)
        h = manual_cast(h, x.dtype)
        h = F.layer_norm(h, h.shape[-1:])
        h = self.out_layer(h)  # [B, R^3, C_out]
        return h.permute(0, 2, 1).reshape(b, self.out_channels, *spatial)
