# SPDX-License-Identifier: MIT
"""Fused residual + LayerNorm + adaLN modulation for the DiT blocks, one pass per row.

A TRELLIS.2 block (reference §11.2/11.3) runs, between its GEMMs and attentions:
    h = LN(x) * (1 + scale_msa) + shift_msa                     (norm1, no affine)
    x = x + gate_msa * attn(h);  h = LN_affine(x)                (residual, norm2)
    x = x + cross(h);            h = LN(x) * (1 + scale_mlp) + shift_mlp   (residual, norm3)
    x = x + gate_mlp * mlp(h)
In eager torch each arrow is 3-6 kernels (fp32 casts, the norm, mul, add, cast back). One
kernel here covers each line: optionally x_new = x + gate[b] * h (gate absent: x + h), then
y = LN(x_new) (eps, optional affine weight/bias), then optionally y * (1 + scale[b]) + shift[b],
then optionally SiLU (the SC-VAE decoder blocks' SiLU(LN(x)) before each conv). All math in fp32,
one read of each input and one write of each output; a program covers ~2K elements (one row at
the DiT width 1536, 32 rows at the decoders' C = 64).

Layouts: x, h [R, C] (rows = tokens, last dim contiguous); gate/shift/scale [B, C] per batch
item, row r using item `batch_ids[r]` (sparse) or r // (R / B) (dense, equal lengths); weight,
bias [C]. Outputs in x's dtype.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._launch import check_runnable, next_pow2


@triton.jit
def _residual_norm_modulate_kernel(
    # pointers
    x_ptr,  # [R, C]
    h_ptr,  # [R, C] (HAS_RESIDUAL)
    gate_ptr,  # [B, C] (HAS_GATE)
    w_ptr,  # [C] (HAS_AFFINE)
    b_ptr,  # [C] (HAS_AFFINE)
    shift_ptr,  # [B, C] (HAS_MOD)
    scale_ptr,  # [B, C] (HAS_MOD)
    bid_ptr,  # int [R] (HAS_BID)
    xout_ptr,  # [R, C] x + gate * h (HAS_RESIDUAL)
    y_ptr,  # [R, C] the normalised, modulated output (HAS_NORM)
    # sizes
    R,
    C,
    ROWS_PER_BATCH,
    eps,
    # strides (elements)
    stride_x,
    stride_h,
    stride_gate,
    stride_shift,
    stride_scale,
    # meta-parameters
    HAS_RESIDUAL: tl.constexpr,
    HAS_GATE: tl.constexpr,
    HAS_NORM: tl.constexpr,
    HAS_AFFINE: tl.constexpr,
    HAS_MOD: tl.constexpr,
    HAS_BID: tl.constexpr,
    SILU: tl.constexpr,  # y = silu(y) last (the SC-VAE blocks' SiLU(LN(x)))
    BLOCK_R: tl.constexpr,  # rows per program: 1 for C = 1536, many for the C = 64 decoders
    BLOCK_C: tl.constexpr,
):
    rows = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    offs = tl.arange(0, BLOCK_C)
    r_mask = rows < R
    c_mask = offs < C
    mask = r_mask[:, None] & c_mask[None, :]
    if HAS_BID:
        b = tl.load(bid_ptr + rows, mask=r_mask, other=0).to(tl.int64)
    else:
        b = rows // ROWS_PER_BATCH
    cols = offs[None, :]

    x = tl.load(x_ptr + rows[:, None] * stride_x + cols, mask=mask, other=0.0).to(tl.float32)
    if HAS_RESIDUAL:
        h = tl.load(h_ptr + rows[:, None] * stride_h + cols, mask=mask, other=0.0)
        h = h.to(tl.float32)
        if HAS_GATE:
            g = tl.load(gate_ptr + b[:, None] * stride_gate + cols, mask=mask, other=0.0)
            h = h * g.to(tl.float32)
        # Round the residual to the trunk dtype first: the next block reads that value.
        x = (x + h).to(xout_ptr.dtype.element_ty)
        tl.store(xout_ptr + rows[:, None] * C + cols, x, mask=mask)
        x = x.to(tl.float32)

    if HAS_NORM:
        mean = tl.sum(x, axis=1) / C
        xc = tl.where(mask, x - mean[:, None], 0.0)
        var = tl.sum(xc * xc, axis=1) / C
        y = xc * (1.0 / tl.sqrt(var + eps))[:, None]
        if HAS_AFFINE:
            y = y * tl.load(w_ptr + cols, mask=c_mask[None, :], other=1.0).to(tl.float32)
            y = y + tl.load(b_ptr + cols, mask=c_mask[None, :], other=0.0).to(tl.float32)
        if HAS_MOD:
            sc = tl.load(scale_ptr + b[:, None] * stride_scale + cols, mask=mask, other=0.0)
            sh = tl.load(shift_ptr + b[:, None] * stride_shift + cols, mask=mask, other=0.0)
            y = y * (1.0 + sc.to(tl.float32)) + sh.to(tl.float32)
        if SILU:
            y = y * tl.sigmoid(y)
        tl.store(y_ptr + rows[:, None] * C + cols, y.to(y_ptr.dtype.element_ty), mask=mask)


def _row_stride(t: torch.Tensor, name: str) -> int:
    if t.dim() != 2 or t.stride(1) != 1:
        raise ValueError(f"{name} must be 2-D with a contiguous last dim; got {tuple(t.shape)}")
    return t.stride(0)


def residual_norm_modulate(
    x: torch.Tensor,
    h: torch.Tensor | None = None,
    gate: torch.Tensor | None = None,
    *,
    norm: bool = True,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    shift: torch.Tensor | None = None,
    scale: torch.Tensor | None = None,
    eps: float = 1e-6,
    batch_ids: torch.Tensor | None = None,
    silu: bool = False,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """General entry point; returns (x + gate * h or None, modulated LN output or None).

    x, h [R, C]; gate, shift, scale [B, C]; weight, bias [C]; batch_ids int [R] or None (rows
    split evenly over the B items). See the module docstring for the math.
    """
    rows, c = x.shape
    # 1. check
    check_runnable(x)
    sx = _row_stride(x, "x")
    sh_ = _row_stride(h, "h") if h is not None else 0
    if h is not None and h.shape != x.shape:
        raise ValueError(f"h {tuple(h.shape)} must match x {tuple(x.shape)}")
    per_b = [t for t in (gate, shift, scale) if t is not None]
    nb = per_b[0].shape[0] if per_b else 1
    for t in per_b:
        if t.shape != (nb, c):
            raise ValueError(f"gate/shift/scale must be [B, C={c}]; got {tuple(t.shape)}")
    if (shift is None) != (scale is None):
        raise ValueError("pass shift and scale together")
    if (weight is None) != (bias is None):
        raise ValueError("pass the LayerNorm weight and bias together")
    if batch_ids is None and rows % nb:
        raise ValueError(f"{rows} rows do not split evenly over B={nb}; pass batch_ids")
    # 2. allocate
    x_out = torch.empty((rows, c), dtype=x.dtype, device=x.device) if h is not None else None
    y = torch.empty((rows, c), dtype=x.dtype, device=x.device) if norm else None
    if rows == 0:
        return x_out, y
    # 3. grid and launch: ~2K elements per program (one row at C = 1536, 32 rows at C = 64).
    dummy = x
    block_c = max(16, next_pow2(c))
    block_r = max(1, 2048 // block_c)
    _residual_norm_modulate_kernel[(triton.cdiv(rows, block_r),)](
        x,
        h if h is not None else dummy,
        gate if gate is not None else dummy,
        weight if weight is not None else dummy,
        bias if bias is not None else dummy,
        shift if shift is not None else dummy,
        scale if scale is not None else dummy,
        batch_ids if batch_ids is not None else dummy,
        x_out if x_out is not None else dummy,
        y if y is not None else dummy,
        rows,
        c,
        max(1, rows // nb),
        eps,
        sx,
        sh_,
        gate.stride(0) if gate is not None else 0,
        shift.stride(0) if shift is not None else 0,
        scale.stride(0) if scale is not None else 0,
        HAS_RESIDUAL=h is not None,
        HAS_GATE=gate is not None,
        HAS_NORM=norm,
        HAS_AFFINE=weight is not None,
        HAS_MOD=shift is not None,
        HAS_BID=batch_ids is not None,
        SILU=silu,
        BLOCK_R=block_r,
        BLOCK_C=block_c,
        num_warps=min(16, max(4, block_c // 256)),
    )
    return x_out, y


def layer_norm_modulate(
    x: torch.Tensor,
    shift: torch.Tensor,
    scale: torch.Tensor,
    *,
    eps: float = 1e-6,
    batch_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """LN(x) (no affine) * (1 + scale[b]) + shift[b]: a block's norm1 / norm3 step."""
    _, y = residual_norm_modulate(x, shift=shift, scale=scale, eps=eps, batch_ids=batch_ids)
    assert y is not None
    return y


def gated_residual(
    x: torch.Tensor, h: torch.Tensor, gate: torch.Tensor, *, batch_ids: torch.Tensor | None = None
) -> torch.Tensor:
    """x + gate[b] * h, rounded to x's dtype."""
    out, _ = residual_norm_modulate(x, h, gate, norm=False, batch_ids=batch_ids)
    assert out is not None
    return out


def layer_norm_silu(
    x: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None, *,
    eps: float = 1e-6,
) -> torch.Tensor:  # fmt: skip
    """SiLU(LN(x)) with optional affine, fused: the SC-VAE blocks' pre-conv step (x [N, C])."""
    _, y = residual_norm_modulate(x, weight=weight, bias=bias, eps=eps, silu=True)
    assert y is not None
    return y


def residual_norm_modulate_ref(
    x: torch.Tensor,
    h: torch.Tensor | None = None,
    gate: torch.Tensor | None = None,
    *,
    norm: bool = True,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    shift: torch.Tensor | None = None,
    scale: torch.Tensor | None = None,
    eps: float = 1e-6,
    batch_ids: torch.Tensor | None = None,
    silu: bool = False,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Torch reference with the block's eager precision: LN in fp32 (LayerNorm32), then the
    modulation and the gated residual in the trunk dtype."""
    rows, c = x.shape
    per_b = [t for t in (gate, shift, scale) if t is not None]
    nb = per_b[0].shape[0] if per_b else 1

    def per_row(m: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        # Sparse: gather each row's item (x.batch_ids); dense: broadcast [B, 1, C] over [B, L, C].
        if batch_ids is not None:
            return m[batch_ids.long()].to(dtype)
        return m.to(dtype)[:, None, :].expand(nb, rows // nb, c).reshape(rows, c)

    x_out = None
    if h is not None:
        x = x + (h * per_row(gate, h.dtype) if gate is not None else h)
        x_out = x
    y = None
    if norm:
        w = weight.float() if weight is not None else None
        b = bias.float() if bias is not None else None
        y = torch.nn.functional.layer_norm(x.float(), (c,), w, b, eps).to(x.dtype)
        if shift is not None and scale is not None:
            y = y * (1 + per_row(scale, y.dtype)) + per_row(shift, y.dtype)
        if silu:
            y = torch.nn.functional.silu(y)
    return x_out, y
