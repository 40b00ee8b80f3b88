# SPDX-License-Identifier: MIT
"""Fused per-head RMS norm + 3D RoPE for q or k, one pass over the tensor.

The reference does, per token and head (x: D channels):
    y = normalize(x.float()) * gamma[h] * sqrt(D)          -> cast to x.dtype   (MultiHeadRMSNorm)
    z = complex(y[2i], y[2i+1]) * exp(i * phase[t, i])      -> cast to x.dtype   (RoPE, fp32)
i.e. out[2i] = y[2i] cos - y[2i+1] sin, out[2i+1] = y[2i] sin + y[2i+1] cos. In torch that is
~10 kernels and several fp32 copies of q; here it is one read of x and one write of the result
(each program covers whole (token, head) rows of D contiguous channels, coalesced), fp32
throughout (the reference's intermediate cast to bf16 is skipped, so results differ from it by
bf16 rounding only). normalize() divides by max(||x||, 1e-12), as F.normalize does.

Layouts: x [B, L, H, D] or [L, H, D] with a contiguous last dim and any other strides (a view
into a packed qkv projection works); gamma [H, D]; phases [L, D/2, 2] fp32 = (cos, sin), i.e.
`torch.view_as_real(complex_phases)`, shared by every batch item. Output contiguous, x's dtype.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from ._launch import check_runnable, next_pow2


@triton.jit
def _rmsnorm_rope_kernel(
    # pointers
    x_ptr,  # [B, L, H, D], last dim contiguous
    gamma_ptr,  # [H, D]
    phase_ptr,  # fp32 [L, D/2, 2] (cos, sin)
    out_ptr,  # [B, L, H, D] contiguous
    # sizes
    R,  # B * L * H rows of D channels
    L,
    H,
    D,
    # strides of x (elements)
    stride_xb,
    stride_xl,
    stride_xh,
    # meta-parameters
    SCALE: tl.constexpr,  # sqrt(D)
    APPLY_ROPE: tl.constexpr,
    BLOCK_R: tl.constexpr,  # (token, head) rows per program
    BLOCK_P: tl.constexpr,  # >= D / 2 pairs
):
    # One row = one head of one token: D contiguous channels, read and written as whole rows
    # (coalesced), the (even, odd) pairs separated in registers by reshape + split.
    rows = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    offs = tl.arange(0, 2 * BLOCK_P)
    r_mask = rows < R
    mask = r_mask[:, None] & (offs < D)[None, :]
    head = rows % H
    token = rows // H  # b * L + t
    t = token % L
    b = token // L

    src = x_ptr + (b * stride_xb + t * stride_xl + head * stride_xh)[:, None] + offs[None, :]
    x = tl.load(src, mask=mask, other=0.0).to(tl.float32)

    # Per-head L2 norm (F.normalize: x / max(||x||, 1e-12)), then gamma * sqrt(D).
    norm = tl.sqrt(tl.sum(x * x, axis=1))
    inv = SCALE / tl.maximum(norm, 1e-12)
    g = tl.load(gamma_ptr + head[:, None] * D + offs[None, :], mask=mask, other=0.0)
    y = x * inv[:, None] * g.to(tl.float32)

    if APPLY_ROPE:
        # [L, D/2, 2] rows are D floats (cos, sin interleaved) like the channel pairs.
        ph = tl.load(phase_ptr + t[:, None] * D + offs[None, :], mask=mask, other=0.0)
        cos, sin = tl.split(tl.reshape(ph, (BLOCK_R, BLOCK_P, 2)))
        ye, yo = tl.split(tl.reshape(y, (BLOCK_R, BLOCK_P, 2)))
        y = tl.reshape(tl.join(ye * cos - yo * sin, ye * sin + yo * cos), (BLOCK_R, 2 * BLOCK_P))

    dst = out_ptr + rows[:, None] * D + offs[None, :]
    tl.store(dst, y.to(out_ptr.dtype.element_ty), mask=mask)


def qk_rmsnorm_rope(
    x: torch.Tensor, gamma: torch.Tensor, phases: torch.Tensor | None
) -> torch.Tensor:
    """Per-head RMS norm (x gamma x sqrt(D)) then RoPE, fused. See the module docstring.

    x [B, L, H, D] or [L, H, D]; gamma [H, D]; phases fp32 [L, D/2, 2] (cos, sin) or None for
    the norm alone. Returns a contiguous tensor shaped like x, in x's dtype.
    """
    squeeze = x.dim() == 3
    x4 = x[None] if squeeze else x
    # 1. check
    check_runnable(x4, gamma)
    if x4.dim() != 4 or x4.stride(-1) != 1:
        raise ValueError("x must be [B, L, H, D] or [L, H, D] with a contiguous last dim")
    bsz, length, heads, dim = x4.shape
    if dim % 2:
        raise ValueError(f"head dim must be even for RoPE pairs; got {dim}")
    if gamma.shape != (heads, dim):
        raise ValueError(f"gamma must be [H={heads}, D={dim}]; got {tuple(gamma.shape)}")
    if phases is not None and phases.shape != (length, dim // 2, 2):
        raise ValueError(
            f"phases must be fp32 [L={length}, D/2={dim // 2}, 2]; pass "
            "torch.view_as_real(complex_phases)"
        )
    gamma = gamma.contiguous()
    ph = phases.to(torch.float32).contiguous() if phases is not None else gamma
    # 2. allocate
    out = torch.empty((bsz, length, heads, dim), dtype=x.dtype, device=x.device)
    if out.numel() == 0:
        return out[0] if squeeze else out
    # 3. grid and launch: ~4K elements (32 rows at D = 128) per program.
    block_p = max(2, next_pow2(dim // 2))
    block_r = max(1, 4096 // (2 * block_p))
    rows = bsz * length * heads
    _rmsnorm_rope_kernel[(triton.cdiv(rows, block_r),)](
        x4,
        gamma,
        ph,
        out,
        rows,
        length,
        heads,
        dim,
        x4.stride(0),
        x4.stride(1),
        x4.stride(2),
        SCALE=math.sqrt(dim),
        APPLY_ROPE=phases is not None,
        BLOCK_R=block_r,
        BLOCK_P=block_p,
        num_warps=4,
    )
    return out[0] if squeeze else out


def qk_rmsnorm_rope_ref(
    x: torch.Tensor, gamma: torch.Tensor, phases: torch.Tensor | None
) -> torch.Tensor:
    """The reference's two steps exactly: fp32 norm -> cast, then fp32 complex RoPE -> cast."""
    dim = x.shape[-1]
    y = (torch.nn.functional.normalize(x.float(), dim=-1) * gamma.float() * math.sqrt(dim)).to(
        x.dtype
    )
    if phases is None:
        return y.contiguous()
    rot = torch.view_as_complex(phases.to(torch.float32).contiguous())  # [L, D/2]
    yc = torch.view_as_complex(y.float().reshape(*y.shape[:-1], -1, 2))
    return torch.view_as_real(yc * rot[:, None, :]).reshape(y.shape).to(x.dtype)
