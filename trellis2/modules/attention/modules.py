# SPDX-License-Identifier: MIT
"""Dense multi-head attention with the reference's parameter names (to_qkv / to_q + to_kv)."""

from __future__ import annotations

import torch
from torch import nn

from .. import fused
from ..norm import MultiHeadRMSNorm
from .dispatch import dense_attention
from .rope import RotaryPositionEmbedder


class MultiHeadAttention(nn.Module):
    """Self ("self") or cross ("cross") attention on [B, L, C] tokens.

    Projections: to_qkv -> [q | k | v] (self) or to_q and to_kv -> [k | v] (cross), each C wide
    and split into heads of C/H contiguous channels. q/k RMS norm (per head) comes before RoPE.
    """

    def __init__(
        self,
        channels: int,
        num_heads: int,
        ctx_channels: int | None = None,
        type: str = "self",
        attn_mode: str = "full",
        qkv_bias: bool = True,
        use_rope: bool = False,
        rope_freq: tuple[float, float] = (1.0, 10000.0),
        qk_rms_norm: bool = False,
    ) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"channels {channels} not divisible by num_heads {num_heads}")
        if attn_mode != "full":
            raise NotImplementedError("TRELLIS.2 uses only full attention")
        self.channels = channels
        self.num_heads = num_heads
        self.head_dim = channels // num_heads
        self._type = type
        self.use_rope = use_rope
        self.qk_rms_norm = qk_rms_norm
        ctx = channels if ctx_channels is None else ctx_channels
        if type == "self":
            self.to_qkv = nn.Linear(channels, channels * 3, bias=qkv_bias)
        else:
            self.to_q = nn.Linear(channels, channels, bias=qkv_bias)
            self.to_kv = nn.Linear(ctx, channels * 2, bias=qkv_bias)
        if qk_rms_norm:
            self.q_rms_norm = MultiHeadRMSNorm(self.head_dim, num_heads)
            self.k_rms_norm = MultiHeadRMSNorm(self.head_dim, num_heads)
        self.to_out = nn.Linear(channels, channels)
        if use_rope:
            self.rope = RotaryPositionEmbedder(self.head_dim, rope_freq=rope_freq)

    def _prepare_qk(
        self, q: torch.Tensor, k: torch.Tensor, phases: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """q/k RMS norm, then RoPE by ``phases`` [L, D/2] complex64 (self-attention only).

        q [..., L, H, D]; k [..., Lk, H, D]. One fused kernel per tensor when registered for
        this device and dtype (see `fused`), else the fp32 torch ops of the reference.
        """
        fused_qk = fused.get("qk_rmsnorm_rope", q) if self.qk_rms_norm else None
        if fused_qk is not None:
            ph = torch.view_as_real(phases) if phases is not None else None  # [L, D/2, 2] fp32
            q = fused_qk(q, self.q_rms_norm.gamma, ph)
            k = fused_qk(k, self.k_rms_norm.gamma, ph if self._type == "self" else None)
            return q, k
        if self.qk_rms_norm:
            q, k = self.q_rms_norm(q), self.k_rms_norm(k)
        if phases is not None:
            q, k = self.rope(q, k, phases)
        return q, k

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        phases: torch.Tensor | None = None,
    ) -> torch.Tensor:
        b, length, c = x.shape
        h, d = self.num_heads, self.head_dim
        if self._type == "self":
            q, k, v = self.to_qkv(x).reshape(b, length, 3, h, d).unbind(2)  # [B, L, H, D] each
        else:
            assert context is not None
            q = self.to_q(x).reshape(b, length, h, d)
            k, v = self.to_kv(context).reshape(b, context.shape[1], 2, h, d).unbind(2)
        if self.use_rope:
            assert phases is not None, "RoPE attention needs phases [L, D/2]"
        q, k = self._prepare_qk(q, k, phases if self.use_rope else None)
        out = dense_attention(q, k, v).reshape(b, length, c)
        return self.to_out(out)
