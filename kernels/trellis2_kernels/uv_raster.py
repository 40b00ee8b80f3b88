# SPDX-License-Identifier: MIT
"""UV-space triangle rasteriser: the Triton twin of `trellis2.postprocess.rasterize`.

Input is the per-face edge planes that `trellis2.postprocess.rasterize.face_planes` builds (the
torch reference shares them, so both see bit-identical coefficients): texel centres sit at
integer + 0.5 in UV * size, each face's clamped bbox is walked in BLOCK-texel steps and a texel
is covered when all three barycentrics b_i = A_i dx + B_i dy + C_i (fp32, same operation order as
the reference) are >= -eps.

One program per face, two passes (charts never overlap, so ties happen only on shared edges):
1. `atomic_max` of the face id into an int32 [H * W] buffer (init -1): the highest covering
   face id wins, like the reference's `scatter_reduce(amax)`.
2. the same walk again; lanes whose face won write b0, b1, b2 (b0 = 1 - b1 - b2).

Layouts: coef [F, 6] float32, lo [F, 2] int64 (x, y), bw [F] int64, count [F] int64.
Outputs: face_id [H, W] int64 (-1 where empty), bary [H, W, 3] float32 (0 where empty).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._launch import check_runnable


@triton.jit
def _uv_raster_kernel(
    coef_ptr,  # fp32 [F, 6]
    lo_ptr,  # int32 [F, 2]
    bw_ptr,  # int32 [F]
    count_ptr,  # int32 [F]
    face_ptr,  # int32 [H * W], -1 = empty
    bary_ptr,  # fp32 [H * W, 3]
    W,
    eps,
    WRITE_BARY: tl.constexpr,
    BLOCK: tl.constexpr,
):
    f = tl.program_id(0)
    n = tl.load(count_ptr + f)
    bw = tl.maximum(tl.load(bw_ptr + f), 1)
    lox = tl.load(lo_ptr + f * 2 + 0).to(tl.int64)
    loy = tl.load(lo_ptr + f * 2 + 1).to(tl.int64)
    a1 = tl.load(coef_ptr + f * 6 + 0)
    b1 = tl.load(coef_ptr + f * 6 + 1)
    c1 = tl.load(coef_ptr + f * 6 + 2)
    a2 = tl.load(coef_ptr + f * 6 + 3)
    b2 = tl.load(coef_ptr + f * 6 + 4)
    c2 = tl.load(coef_ptr + f * 6 + 5)
    for start in range(0, n, BLOCK):
        k = start + tl.arange(0, BLOCK)
        m = k < n
        dy = k // bw
        dx = k - dy * bw
        fx = dx.to(tl.float32)
        fy = dy.to(tl.float32)
        # Same association as the reference's addcmul(addcmul(C, A, fx), B, fy).
        w1 = (c1 + a1 * fx) + b1 * fy
        w2 = (c2 + a2 * fx) + b2 * fy
        w0 = 1.0 - w1 - w2
        inside = m & (w0 >= -eps) & (w1 >= -eps) & (w2 >= -eps)
        idx = (loy + dy) * W + lox + dx
        if WRITE_BARY:
            won = inside & (tl.load(face_ptr + idx, mask=inside, other=-1) == f)
            tl.store(bary_ptr + idx * 3 + 0, w0, mask=won)
            tl.store(bary_ptr + idx * 3 + 1, w1, mask=won)
            tl.store(bary_ptr + idx * 3 + 2, w2, mask=won)
        else:
            tl.atomic_max(face_ptr + idx, tl.zeros_like(k) + f, mask=inside)


def rasterize_planes_triton(
    coef: torch.Tensor,
    lo: torch.Tensor,
    bw: torch.Tensor,
    count: torch.Tensor,
    height: int,
    width: int,
    eps: float = 1e-5,
    block: int = 128,
    fp_fusion: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rasterise prepared face planes (see module doc) -> face_id [H, W] int64, bary [H, W, 3].

    fp_fusion: let the compiler fuse a * fx + c into FMAs (Triton's default); the torch
    reference's addcmul on CUDA is fused too, so coverage decisions agree bit for bit.
    """
    # 1. check
    check_runnable(coef, lo, bw, count)
    n = coef.shape[0]
    if n >= 2**31 or height * width >= 2**31:
        raise ValueError("uv_raster supports < 2^31 faces and texels; use the torch backend")
    device = coef.device
    # 2. allocate
    face = torch.full((height * width,), -1, dtype=torch.int32, device=device)
    bary = torch.zeros((height * width, 3), dtype=torch.float32, device=device)
    if n == 0:
        return face.to(torch.int64).view(height, width), bary.view(height, width, 3)
    args = (
        coef.to(torch.float32).contiguous(),
        lo.to(torch.int32).contiguous(),
        bw.to(torch.int32).contiguous(),
        count.to(torch.int32).contiguous(),
        face,
        bary,
        width,
        float(eps),
    )
    opts = {} if fp_fusion else {"enable_fp_fusion": False}
    # 3. launch: pass 1 picks the winning face per texel, pass 2 writes its barycentrics
    _uv_raster_kernel[(n,)](*args, WRITE_BARY=False, BLOCK=block, **opts)
    _uv_raster_kernel[(n,)](*args, WRITE_BARY=True, BLOCK=block, **opts)
    return face.to(torch.int64).view(height, width), bary.view(height, width, 3)
