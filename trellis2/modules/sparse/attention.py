# SPDX-License-Identifier: MIT
"""Multi-head attention on packed sparse batches (full attention within each sample)."""

from __future__ import annotations

import torch

from .. import fused
from ..attention.dispatch import varlen_attention
from ..attention.modules import MultiHeadAttention
from .tensor import SparseTensor


class SparseMultiHeadAttention(MultiHeadAttention):
    """Self or cross attention for SparseTensor queries; same parameter names as the dense one.

    Self: every voxel attends to all voxels of its sample (varlen). Cross: every voxel attends to
    its sample's dense context tokens [B, L, C_ctx]. RoPE phases come from coords[:, 1:] and are
    cached on the voxel set.
    """

    def _phases(self, x: SparseTensor) -> torch.Tensor:
        key = f"rope_phases_{self.head_dim}_{self.rope.rope_freq}"
        return x.cached(key, lambda: self.rope.phases(x.coords[:, 1:]))

    def forward(self, x: SparseTensor, context: torch.Tensor | None = None) -> SparseTensor:
        n = x.feats.shape[0]
        h, d = self.num_heads, self.head_dim
        lens_q = x.batch_counts
        if self._type == "self":
            q, k, v = self.to_qkv(x.feats).reshape(n, 3, h, d).unbind(1)  # [N, H, D] each
            cu_k, lens_k = x.cu_seqlens, lens_q
        else:
            assert context is not None, "cross attention needs a context [B, L, C]"
            b = len(lens_q)
            if context.shape[0] == 1 and b > 1:
                context = context.expand(b, *context.shape[1:])
            if context.shape[0] != b:
                raise ValueError(f"context batch {context.shape[0]} != sparse batch {b}")
            length = context.shape[1]
            q = self.to_q(x.feats).reshape(n, h, d)
            k, v = self.to_kv(context).reshape(b * length, 2, h, d).unbind(1)
            cu_k = x.cached(
                f"cu_seqlens_ctx_{length}",
                lambda: torch.arange(b + 1, device=x.device, dtype=torch.int32) * length,
            )
            lens_k = [length] * b
        phases = self._phases(x) if self.use_rope else None
        fused_qk = fused.get("qk_rmsnorm_rope", q) if self.qk_rms_norm else None
        if fused_qk is not None:
            ph = torch.view_as_real(phases) if phases is not None else None  # [N, D/2, 2] fp32
            q = fused_qk(q, self.q_rms_norm.gamma, ph)
            k = fused_qk(k, self.k_rms_norm.gamma, ph if self._type == "self" else None)
        else:
            if self.qk_rms_norm:
                q, k = self.q_rms_norm(q), self.k_rms_norm(k)
            if phases is not None:
                q, k = self.rope(q[None], k[None], phases)
                q, k = q[0], k[0]
        out = varlen_attention(q, k, v, x.cu_seqlens, cu_k, lens_q, lens_k)
        return x.replace(self.to_out(out.reshape(n, self.channels)))
