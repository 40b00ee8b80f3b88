# SPDX-License-Identifier: MIT
"""Modulated DiT cross blocks (dense and sparse) and the pieces they share.

Block equations (share_mod: per-block `modulation` [6C] + the shared t-modulation, cast to the
t-modulation dtype, chunked as shift/scale/gate for attention, then for the MLP):
    x = x + gate_msa * SelfAttn(LN1(x) * (1 + scale_msa) + shift_msa)
    x = x + CrossAttn(LN2_affine(x), context)            # no modulation, no gate
    x = x + gate_mlp * MLP(LN3(x) * (1 + scale_mlp) + shift_mlp)
LNs are fp32 LayerNorm32 with eps 1e-6; only LN2 has affine parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .. import perf
from . import fused
from .attention.modules import MultiHeadAttention
from .norm import LayerNorm32
from .sparse import official
from .sparse.attention import SparseMultiHeadAttention
from .sparse.tensor import SparseTensor


class TimestepEmbedder(nn.Module):
    """t (already x1000) [B] -> [B, C]: [cos(t f), sin(t f)] (cos first), then an MLP."""

    def __init__(self, hidden_size: int, frequency_embedding_size: int = 256) -> None:
        super().__init__()
        self.frequency_embedding_size = frequency_embedding_size
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden_size, bias=True),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size, bias=True),
        )

    @staticmethod
    def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
        half = dim // 2
        freqs = torch.exp(
            -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half
        )
        args = t[:, None].float() * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if dim % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return emb

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        t_freq = self.timestep_embedding(t, self.frequency_embedding_size)
        return self.mlp(t_freq.to(self.mlp[0].weight.dtype))


class FeedForwardNet(nn.Module):
    """Linear(C -> int(C * mlp_ratio)) -> GELU(tanh) -> Linear(-> C). Keys mlp.0 / mlp.2.

    x [..., C]. With the fused ``linear_gelu`` op registered for x's device and dtype (half
    trunks, default perf switches) the first linear and the GELU are one GEMM with a GELU
    epilogue; otherwise (fp32, baseline) the three torch modules run as in the reference."""

    def __init__(self, channels: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        hidden = int(channels * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fc1, fc2 = self.mlp[0], self.mlp[2]
        linear_gelu = fused.get("linear_gelu", x)
        if linear_gelu is None or fc1.bias is None or fc1.weight.dtype != x.dtype:
            return self.mlp(x)
        h = linear_gelu(x.reshape(-1, x.shape[-1]), fc1.weight, fc1.bias)
        return fc2(h).reshape(*x.shape[:-1], fc2.out_features)


class _ModulatedCrossBlockBase(nn.Module):
    attn_cls: type[nn.Module] = MultiHeadAttention

    def __init__(
        self,
        channels: int,
        ctx_channels: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        attn_mode: str = "full",
        use_checkpoint: bool = False,
        use_rope: bool = False,
        rope_freq: tuple[float, float] = (1.0, 10000.0),
        qk_rms_norm: bool = False,
        qk_rms_norm_cross: bool = False,
        qkv_bias: bool = True,
        share_mod: bool = False,
    ) -> None:
        super().__init__()
        self.share_mod = share_mod
        self.norm1 = LayerNorm32(channels, elementwise_affine=False, eps=1e-6)
        self.norm2 = LayerNorm32(channels, elementwise_affine=True, eps=1e-6)
        self.norm3 = LayerNorm32(channels, elementwise_affine=False, eps=1e-6)
        self.self_attn = self.attn_cls(
            channels,
            num_heads=num_heads,
            type="self",
            attn_mode=attn_mode,
            qkv_bias=qkv_bias,
            use_rope=use_rope,
            rope_freq=rope_freq,
            qk_rms_norm=qk_rms_norm,
        )
        self.cross_attn = self.attn_cls(
            channels,
            ctx_channels=ctx_channels,
            num_heads=num_heads,
            type="cross",
            attn_mode="full",
            qkv_bias=qkv_bias,
            qk_rms_norm=qk_rms_norm_cross,
        )
        self.mlp = FeedForwardNet(channels, mlp_ratio=mlp_ratio)
        if share_mod:
            self.modulation = nn.Parameter(torch.randn(6 * channels) / channels**0.5)
        else:
            self.adaLN_modulation = nn.Sequential(
                nn.SiLU(), nn.Linear(channels, 6 * channels, bias=True)
            )

    def _mods(self, mod: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.share_mod:
            return (self.modulation + mod).type(mod.dtype).chunk(6, dim=1)
        return self.adaLN_modulation(mod).chunk(6, dim=1)

    def _fused_rows(
        self,
        rnm: Callable[..., Any],
        x: torch.Tensor,
        mods: tuple[torch.Tensor, ...],
        self_attn: Callable[[torch.Tensor], torch.Tensor],
        cross_attn: Callable[[torch.Tensor], torch.Tensor],
        batch_ids: torch.Tensor | None,
    ) -> torch.Tensor:
        """The block on rows x [R, C] with the fused residual + LN + modulation kernel.

        mods are [B, C]; row r uses item batch_ids[r], or r // (R / B) when batch_ids is None
        (equal-length items, rows item-major)."""
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mods
        kw = {"eps": 1e-6, "batch_ids": batch_ids}
        _, h = rnm(x, shift=shift_msa, scale=scale_msa, **kw)
        x, h = rnm(x, self_attn(h), gate_msa, weight=self.norm2.weight, bias=self.norm2.bias, **kw)
        x, h = rnm(x, cross_attn(h), None, shift=shift_mlp, scale=scale_mlp, **kw)
        x, _ = rnm(x, self.mlp(h), gate_mlp, norm=False, **kw)
        return x

    def _torch_rows(
        self,
        x: torch.Tensor,
        mods: tuple[torch.Tensor, ...],
        self_attn: Callable[[torch.Tensor], torch.Tensor],
        cross_attn: Callable[[torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """The block with torch ops (fp32 LayerNorm32) on x, mods already broadcastable to x
        ([B, L, C] with [B, 1, C], or rows [N, C] with [N, C] or [1, C])."""
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mods
        h = self.norm1(x) * (1 + scale_msa) + shift_msa
        x = x + self_attn(h) * gate_msa
        x = x + cross_attn(self.norm2(x))
        h = self.norm3(x) * (1 + scale_mlp) + shift_mlp
        return x + self.mlp(h) * gate_mlp


class ModulatedTransformerCrossBlock(_ModulatedCrossBlockBase):
    """Dense block on x [B, L, C]; mod [B, 6C]; context [B, Lc, C_ctx]; phases [L, D/2]."""

    def forward(
        self,
        x: torch.Tensor,
        mod: torch.Tensor,
        context: torch.Tensor,
        phases: torch.Tensor | None = None,
    ) -> torch.Tensor:
        mods = self._mods(mod)
        rnm = fused.get("residual_norm_modulate", x)
        if rnm is not None:
            b, length, c = x.shape
            out = self._fused_rows(
                rnm,
                x.reshape(b * length, c),
                mods,
                lambda h: self.self_attn(h.view(b, length, c), phases=phases).view(-1, c),
                lambda h: self.cross_attn(h.view(b, length, c), context).view(-1, c),
                None,
            )
            return out.view(b, length, c)
        return self._torch_rows(
            x,
            tuple(m.unsqueeze(1) for m in mods),
            lambda h: self.self_attn(h, phases=phases),
            lambda h: self.cross_attn(h, context),
        )


class ModulatedSparseTransformerCrossBlock(_ModulatedCrossBlockBase):
    """Sparse block on x (SparseTensor [N, C]); mod [B, 6C] broadcast to each sample's rows.

    Equal-length batches (``x.equal_length``, e.g. batched CFG) run as dense [B, T, C] blocks
    (broadcast modulation, no per-row gathers); the choice uses host values cached on the voxel
    set. Under ``perf.current().official_glue`` the reference's way is used instead: a host read
    of the batch size and per-row copies of every modulation vector, whatever the batch.
    """

    attn_cls = SparseMultiHeadAttention

    def forward(self, x: SparseTensor, mod: torch.Tensor, context: torch.Tensor) -> SparseTensor:
        mods = self._mods(mod)  # 6 x [B, C]
        n, c = x.feats.shape

        def self_attn(h: torch.Tensor) -> torch.Tensor:
            return self.self_attn(x.replace(h.reshape(n, c))).feats.view(h.shape)

        def cross_attn(h: torch.Tensor) -> torch.Tensor:
            return self.cross_attn(x.replace(h.reshape(n, c)), context).feats.view(h.shape)

        if perf.current().official_glue:
            official.read_batch_size(x)  # the reference's shape read before broadcasting
            mods = tuple(m[x.batch_ids] for m in mods)
            return x.replace(self._torch_rows(x.feats, mods, self_attn, cross_attn))
        t = x.equal_length
        rnm = fused.get("residual_norm_modulate", x.feats)
        if rnm is not None:
            bid = x.batch_ids if x.batch_size > 1 and not t else None
            out = self._fused_rows(rnm, x.feats, mods, self_attn, cross_attn, bid)
            return x.replace(out)
        if t:  # [B, T, C] view: the [B, C] vectors broadcast, no per-row copies
            rows = x.feats.view(n // t, t, c)
            out = self._torch_rows(rows, tuple(m.unsqueeze(1) for m in mods), self_attn, cross_attn)
            return x.replace(out.reshape(n, c))
        mods = tuple(m[x.batch_ids] for m in mods)
        return x.replace(self._torch_rows(x.feats, mods, self_attn, cross_attn))
