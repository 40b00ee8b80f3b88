# SPDX-License-Identifier: MIT
"""Stages 2 and 3 flow: sparse DiT over structured latents (`SLatFlowModel`)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..modules.sparse.tensor import SparseTensor
from ..modules.transformer import ModulatedSparseTransformerCrossBlock, TimestepEmbedder
from ..modules.utils import convert_module_to, manual_cast
from .sparse_structure_flow import _dtype_arg


class SLatFlowModel(nn.Module):
    """Velocity model on a SparseTensor latent.

    forward(x: SparseTensor feats [N, C_x], t [B] (= 1000 * t_flow), cond [B, L, cond_channels],
    concat_cond: SparseTensor [N, C_c] | None) -> SparseTensor [N, out_channels] on x's voxels.
    The model input is cat([x.feats, concat_cond.feats], -1) (texture flow). Full self-attention
    within each sample, RoPE from the voxel coords (cached on the voxel set). `resolution` is
    informational; the coords decide the positions.
    """

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
    ) -> None:
        super().__init__()
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
        self.input_layer = nn.Linear(in_channels, model_channels)
        self.blocks = nn.ModuleList(
            ModulatedSparseTransformerCrossBlock(
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

    def convert_to(self, dtype: torch.dtype) -> None:
        """Trunk precision: only the linears inside `blocks` change dtype."""
        self.dtype = dtype
        self.blocks.apply(lambda m: convert_module_to(m, dtype))

    def forward(
        self,
        x: SparseTensor,
        t: torch.Tensor,
        cond: torch.Tensor,
        concat_cond: SparseTensor | None = None,
        **kwargs: Any,
    ) -> SparseTensor:
        feats = x.feats
        if concat_cond is not None:
            feats = torch.cat([feats, concat_cond.feats], dim=-1)
        if feats.shape[1] != self.in_channels:
            raise ValueError(
                f"model expects {self.in_channels} input channels, got {feats.shape[1]} "
                "(the texture flow needs concat_cond=<normalised shape SLat>)"
            )
        h = x.replace(self.input_layer(feats))
        t_emb = self.t_embedder(t)  # [B, C] fp32
        if self.share_mod:
            t_emb = self.adaLN_modulation(t_emb)  # [B, 6C]
        t_emb = manual_cast(t_emb, self.dtype)
        h = manual_cast(h, self.dtype)
        cond = manual_cast(cond, self.dtype)
        for block in self.blocks:
            h = block(h, t_emb, cond)
        f = manual_cast(h.feats, x.dtype)
        f = F.layer_norm(f, f.shape[-1:])
        return x.replace(self.out_layer(f))
