# SPDX-License-Identifier: MIT
"""The single dispatch point for softmax attention (scale 1/sqrt(D), no mask, no dropout).

Layouts: dense q [B, Lq, H, D], k/v [B, Lk, H, D] -> [B, Lq, H, D]. Varlen (packed sparse batches)
q [Nq, H, D], k/v [Nk, H, D] with int32 cumulative offsets cu_q / cu_k [B+1] and host-side
per-sample lengths -> [Nq, H, D].

Backends, in order (``TRELLIS2_ATTN_BACKEND`` = auto | flash_attn | sdpa | math forces one):
- CPU: exact attention through torch's fused CPU SDPA kernel (fp32 accumulation; ~3x faster
  than materialising scores); float64 inputs or ``TRELLIS2_ATTN_BACKEND=math`` use
  ``math_attention`` (explicit softmax, query chunks to bound memory).
- CUDA dense: torch SDPA with the cuDNN backend first, then flash, memory-efficient, math (cuDNN
  is 1.3-2x the flash-attn kernels on an H100, bench/RESULTS.md). The flash-attn package is used
  when forced, or under ``perf.current().official_glue`` (the reference's kernel) when importable
  and the dtype is fp16/bf16.
- CUDA varlen (packed batches of unequal lengths): flash-attn's varlen kernel when importable,
  else torch's ``varlen_attn`` (fp16/bf16, where the build has it), else one SDPA call per sample.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Callable
from functools import cache
from typing import Any

import torch
import torch.nn.functional as F

from ... import perf

_MATH_BUDGET = 256 * 2**20  # bytes of fp32 scores materialised at once by the math path


def _backend() -> str:
    return os.environ.get("TRELLIS2_ATTN_BACKEND", "auto")


@cache
def _flash_attn() -> Any:
    try:
        return importlib.import_module("flash_attn")
    except Exception:
        return None


_VARLEN_STATE: dict[tuple[str, torch.dtype, int], bool] = {}


@cache
def _torch_varlen() -> Callable[..., torch.Tensor] | None:
    try:
        return importlib.import_module("torch.nn.attention.varlen").varlen_attn
    except Exception:
        return None


def _torch_varlen_ok(q: torch.Tensor) -> bool:
    """Whether torch's varlen_attn runs and agrees with per-sample SDPA for this device, dtype
    and head dim (checked once on a small packed batch; any failure means: don't use it)."""
    key = (str(q.device), q.dtype, q.shape[-1])
    if key not in _VARLEN_STATE:
        fn = _torch_varlen()
        ok = False
        if fn is not None:
            try:
                gen = torch.Generator(device=q.device).manual_seed(0)
                lens = [37, 5, 64]
                shape = (sum(lens), q.shape[1], q.shape[2])
                t = [
                    torch.randn(*shape, generator=gen, device=q.device, dtype=q.dtype)
                    for _ in "qkv"
                ]
                cu = torch.tensor([0, 37, 42, 106], device=q.device, dtype=torch.int32)
                got = fn(t[0], t[1], t[2], cu, cu, 64, 64).float()
                ref = torch.cat(
                    [
                        _sdpa(t[0][None, a:b], t[1][None, a:b], t[2][None, a:b])[0].float()
                        for a, b in zip(cu[:-1].tolist(), cu[1:].tolist(), strict=True)
                    ]
                )
                ok = bool((got - ref).abs().max() < 2e-2)
            except Exception:
                ok = False
        _VARLEN_STATE[key] = ok
    return _VARLEN_STATE[key]


@cache
def _sdpa_context() -> Callable[[], Any]:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    order = [
        SDPBackend.CUDNN_ATTENTION,
        SDPBackend.FLASH_ATTENTION,
        SDPBackend.EFFICIENT_ATTENTION,
        SDPBackend.MATH,
    ]
    try:
        sdpa_kernel(order, set_priority=True)
    except TypeError:  # torch < 2.6 has no priority order; the backends are still all allowed
        return lambda: sdpa_kernel(order)
    return lambda: sdpa_kernel(order, set_priority=True)


def math_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Exact reference: q [B, Lq, H, D], k/v [B, Lk, H, D] -> [B, Lq, H, D], >= fp32 inside."""
    b, lq, h, d = q.shape
    lk = k.shape[1]
    scale = 1.0 / math.sqrt(d)
    ct = torch.float64 if q.dtype == torch.float64 else torch.float32
    qf = q.to(ct).permute(0, 2, 1, 3)  # [B, H, Lq, D]
    kf = k.to(ct).permute(0, 2, 3, 1)  # [B, H, D, Lk]
    vf = v.to(ct).permute(0, 2, 1, 3)  # [B, H, Lk, D]
    out = torch.empty(b, h, lq, v.shape[-1], dtype=ct, device=q.device)
    step = max(1, _MATH_BUDGET // max(1, 4 * b * h * lk))
    for s in range(0, lq, step):
        scores = torch.matmul(qf[:, :, s : s + step] * scale, kf)
        out[:, :, s : s + step] = torch.matmul(torch.softmax(scores, dim=-1), vf)
    return out.permute(0, 2, 1, 3).to(q.dtype)


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    qt, kt, vt = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, L, D]
    with _sdpa_context()():
        out = F.scaled_dot_product_attention(qt, kt, vt)
    return out.transpose(1, 2)


def dense_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Softmax attention on dense batches; see the module docstring for layouts."""
    backend = _backend()
    if backend == "math" or q.dtype == torch.float64:
        return math_attention(q, k, v)
    if q.device.type == "cpu":  # torch's fused CPU kernel: exact softmax, fp32 accumulation
        qt, kt, vt = (t.transpose(1, 2) for t in (q, k, v))
        return F.scaled_dot_product_attention(qt, kt, vt).transpose(1, 2)
    half = q.dtype in (torch.float16, torch.bfloat16)
    flash = backend == "flash_attn" or (backend == "auto" and perf.current().official_glue)
    if flash and half and _flash_attn() is not None:
        return _flash_attn().flash_attn_func(q, k, v)
    return _sdpa(q, k, v)


def varlen_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_q: torch.Tensor,
    cu_k: torch.Tensor,
    lens_q: list[int],
    lens_k: list[int],
) -> torch.Tensor:
    """Softmax attention of each sample's queries over that sample's keys (packed rows)."""
    backend = _backend()
    max_q, max_k = max(lens_q), max(lens_k)
    if len(lens_q) == 1:
        return dense_attention(q[None], k[None], v[None])[0]
    on_cuda = q.device.type == "cuda" and backend != "math"
    half = q.dtype in (torch.float16, torch.bfloat16)
    if on_cuda and half and backend in ("auto", "flash_attn") and _flash_attn() is not None:
        fa = _flash_attn()
        return fa.flash_attn_varlen_func(q, k, v, cu_q, cu_k, max_q, max_k)
    if on_cuda and half and backend == "auto" and _torch_varlen_ok(q):
        return _torch_varlen()(q, k, v, cu_q, cu_k, max_q, max_k)
    out = torch.empty(q.shape[0], q.shape[1], v.shape[2], dtype=q.dtype, device=q.device)
    sq = sk = 0
    for nq, nk in zip(lens_q, lens_k, strict=True):
        if nq == 0 or nk == 0:  # a sample without voxels (or context): nothing to attend
            out[sq : sq + nq] = 0
            sq, sk = sq + nq, sk + nk
            continue
        out[sq : sq + nq] = dense_attention(
            q[None, sq : sq + nq], k[None, sk : sk + nk], v[None, sk : sk + nk]
        )[0]
        sq, sk = sq + nq, sk + nk
    return out
