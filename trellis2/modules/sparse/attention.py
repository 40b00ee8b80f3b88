# SPDX-License-Identifier: MIT
"""Multi-head attention on packed sparse batches (full attention within each sample)."""

from __future__ import annotations

import torch

from ... import perf
from ..attention.dispatch import dense_attention, varlen_attention
from ..attention.modules import MultiHeadAttention
from . import official
from .tensor import SparseTensor


class SparseMultiHeadAttention(MultiHeadAttention):
    """Self or cross attention for SparseTensor queries; same parameter names as the dense one.

    Self: every voxel attends to all voxels of its sample. Cross: every voxel attends to its
    sample's dense context tokens [B, L, C_ctx] (a [1, L, C_ctx] context is shared by all
    samples). RoPE phases come from coords[:, 1:] and are cached on the voxel set.

    Batches whose samples all have the same number of voxels (``x.equal_length``, e.g. the
    batched CFG passes) are one dense [B, T, H, D] attention call; others go through the varlen
    dispatch. Both decisions use only host values cached per voxel set, so a warm forward
    reads nothing back from the device. Under ``perf.current().official_glue`` the reference's
    per-call host work is done instead (see `official`) and every batch goes through varlen.
    """

    def _phases(self, x: SparseTensor) -> torch.Tensor:
        key = f"rope_phases_{self.head_dim}_{self.rope.rope_freq}"
        return x.cached(key, lambda: self.rope.phases(x.coords[:, 1:]))

    def forward(self, x: SparseTensor, context: torch.Tensor | None = None) -> SparseTensor:
        n = x.feats.shape[0]
        h, d = self.num_heads, self.head_dim
        b = x.batch_size
        if self._type == "self":
            q, k, v = self.to_qkv(x.feats).reshape(n, 3, h, d).unbind(1)  # [N, H, D] each
        else:
            assert context is not None, "cross attention needs a context [B, L, C]"
            if context.shape[0] == 1 and b > 1:
                context = context.expand(b, *context.shape[1:])
            if context.shape[0] != b:
                raise ValueError(
                    f"context batch {context.shape[0]} != sparse batch {b}; pass one context "
                    "per sample (or one shared [1, L, C] context)"
                )
            q = self.to_q(x.feats).reshape(n, h, d)
            k, v = self.to_kv(context).reshape(b, context.shape[1], 2, h, d).unbind(2)
        q, k = self._prepare_qk(q, k, self._phases(x) if self.use_rope else None)
        if perf.current().official_glue:
            out = self._official_attention(x, q, k, v)
        else:
            out = self._attention(x, q, k, v)
        return x.replace(self.to_out(out.reshape(n, self.channels)))

    def _attention(
        self, x: SparseTensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        """q [N, H, D]; k/v [N, H, D] (self) or [B, L, H, D] (cross) -> [N, H, D]."""
        n, h, d = q.shape
        t = x.equal_length
        if t:  # equal-length samples: one dense call (cuDNN SDPA on CUDA beats varlen)
            b = n // t
            if self._type == "self":
                k, v = k.view(b, t, h, d), v.view(b, t, h, d)
            return dense_attention(q.view(b, t, h, d), k, v).reshape(n, h, d)
        lens_q = x.batch_counts
        if self._type == "self":
            cu_k, lens_k = x.cu_seqlens, lens_q
        else:
            b, length = k.shape[:2]
            k, v = k.reshape(b * length, h, d), v.reshape(b * length, h, d)
            cu_k = x.cached(
                f"cu_seqlens_ctx_{length}",
                lambda: torch.arange(b + 1, device=x.device, dtype=torch.int32) * length,
            )
            lens_k = [length] * b
        return varlen_attention(q, k, v, x.cu_seqlens, cu_k, lens_q, lens_k)

    def _official_attention(
        self, x: SparseTensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        """The reference's way: host batch-size read, offsets copied from the host per call,
        self-attention q/k/v re-packed into one tensor, varlen attention for every batch."""
        h, d = q.shape[1:]
        lens_q = official.batch_lengths(x)
        cu_q = official.host_offsets(lens_q, x.device)
        if self._type == "self":
            q, k, v = torch.stack([q, k, v], dim=1).unbind(1)  # packed [N, 3, H, D]
            cu_k, lens_k = cu_q, lens_q
        else:
            b, length = k.shape[:2]
            k, v = k.reshape(b * length, h, d), v.reshape(b * length, h, d)
            lens_k = [length] * b
            cu_k = official.host_offsets(lens_k, x.device)
        return varlen_attention(q, k, v, cu_q, cu_k, lens_q, lens_k)
