# SPDX-License-Identifier: MIT
"""Optional fused kernels for the DiT blocks (one dispatch point; off unless registered).

Three ops, each with a torch reference path in the modules that call them:
- ``qk_rmsnorm_rope(x [.., L, H, D], gamma [H, D], phases fp32 [L, D/2, 2] | None) -> x-shaped``:
  per-head RMS norm (x gamma x sqrt(D)) then RoPE.
- ``residual_norm_modulate(x [R, C], h=None, gate=None, *, norm, weight, bias, shift, scale,
  eps, batch_ids) -> (x + gate * h | None, LN(x') * (1 + scale) + shift | None)``.
- ``linear_gelu(x [R, Cin], weight [Cout, Cin], bias [Cout]) -> gelu_tanh(x W^T + b) [R, Cout]``:
  the MLP's first linear with its GELU; on CUDA cuBLASLt applies the (tanh) GELU in the GEMM
  epilogue (``torch._addmm_activation``), saving the separate read+write pass of the hidden
  activations (4C wide); the activation is applied before the bf16 rounding of the GEMM.

They are used only for fp16/bf16 trunks on a device type with a registered implementation, so
fp32 runs (parity) always take the exact reference path. On the first CUDA use the
``trellis2_kernels`` Triton kernels are registered when importable. ``perf.current()`` with
``fused_kernels`` off or ``official_glue`` on (the official unfused ops), or ``TRELLIS2_FUSED=0``,
disables all of it. Each implementation is checked once per device and dtype against the
formulas on a small input; a mismatch or error disables it there. Fused results differ from the
reference by trunk-dtype rounding only.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from typing import Any

import torch

from .. import perf

_LOGGER = logging.getLogger(__name__)
_IMPLS: dict[tuple[str, str], Callable[..., Any]] = {}
_TRIED_KERNELS = False
_HALF = (torch.float16, torch.bfloat16)
OPS = ("qk_rmsnorm_rope", "residual_norm_modulate", "linear_gelu")


def addmm_gelu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """gelu_tanh(x [R, Cin] @ weight[Cout, Cin]^T + bias) in one cuBLASLt call (GELU epilogue).

    torch falls back to addmm + in-place tanh GELU where the epilogue does not apply."""
    return torch._addmm_activation(bias, x, weight.t(), use_gelu=True)


def register_fused(op: str, device_type: str, impl: Callable[..., Any]) -> None:
    if op not in OPS:
        raise ValueError(f"unknown fused op {op!r}; known: {OPS}")
    _IMPLS[(op, device_type)] = impl
    for key in [k for k in _VERIFIED if k[0] == op and k[1].startswith(device_type)]:
        del _VERIFIED[key]


def unregister_fused(op: str, device_type: str) -> None:
    _IMPLS.pop((op, device_type), None)


def _try_kernels() -> None:
    global _TRIED_KERNELS
    _TRIED_KERNELS = True
    _IMPLS.setdefault(("linear_gelu", "cuda"), addmm_gelu)  # torch/cuBLASLt only, no Triton
    try:
        rope = importlib.import_module("trellis2_kernels.rmsnorm_rope")
        adaln = importlib.import_module("trellis2_kernels.adaln")
    except Exception as exc:  # no triton / no kernels: the torch paths stay
        _LOGGER.info("fused DiT kernels unavailable (%s); using torch ops", exc)
        return
    _IMPLS.setdefault(("qk_rmsnorm_rope", "cuda"), rope.qk_rmsnorm_rope)
    _IMPLS.setdefault(("residual_norm_modulate", "cuda"), adaln.residual_norm_modulate)


def _check_qk(fn: Callable[..., Any], device: torch.device, dtype: torch.dtype) -> bool:
    from .attention.rope import apply_rope, rope_phases

    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(2, 7, 3, 16, generator=gen, device=device).to(dtype)
    gamma = 1 + 0.1 * torch.randn(3, 16, generator=gen, device=device)
    coords = torch.randint(0, 40, (7, 3), generator=gen, device=device)
    ph = rope_phases(coords, 16)
    ref = (torch.nn.functional.normalize(x.float(), dim=-1) * gamma * 4.0).to(dtype)
    ref = apply_rope(ref, ph)
    got = fn(x, gamma, torch.view_as_real(ph))
    return bool((got.float() - ref.float()).abs().max() < 5e-2)


def _check_rnm(fn: Callable[..., Any], device: torch.device, dtype: torch.dtype) -> bool:
    gen = torch.Generator(device=device).manual_seed(0)

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, device=device)

    x, h = r(6, 32).to(dtype), r(6, 32).to(dtype)
    gate, shift, scale = (r(2, 32).to(dtype) for _ in range(3))
    w, b = 1 + 0.1 * r(32), 0.1 * r(32)
    bid = torch.tensor([0, 0, 0, 1, 1, 1], device=device)
    x1 = x.float() + gate.float()[bid] * h.float()
    y = torch.nn.functional.layer_norm(x1, (32,), w, b, 1e-6)
    y = y * (1 + scale.float()[bid]) + shift.float()[bid]
    got_x, got_y = fn(x, h, gate, weight=w, bias=b, shift=shift, scale=scale, eps=1e-6)
    return bool((got_x.float() - x1).abs().max() < 5e-2 and (got_y.float() - y).abs().max() < 1e-1)


def _check_gelu(fn: Callable[..., Any], device: torch.device, dtype: torch.dtype) -> bool:
    """The GELU must be the tanh form: an identity GEMM on exactly representable inputs in
    [-4, 4] makes the output gelu(x) itself, so an fp32 call tells tanh from erf (they differ
    by up to 4.7e-4 there; torch's CPU `_addmm_activation` is the erf form and is refused)."""
    grid = torch.arange(-32, 32, device=device, dtype=torch.float32) / 8  # exact in bf16
    x = grid.reshape(2, 32).repeat(4, 1)
    eye = torch.eye(32, device=device)
    zero = torch.zeros(32, device=device)
    want = torch.nn.functional.gelu(x, approximate="tanh")
    if (fn(x, eye, zero) - want).abs().max() > 1e-4:
        return False
    got = fn(x.to(dtype), eye.to(dtype), zero.to(dtype)).float()
    return bool(got.shape == want.shape and (got - want).abs().max() < 5e-2)


_CHECKS = {
    "qk_rmsnorm_rope": _check_qk,
    "residual_norm_modulate": _check_rnm,
    "linear_gelu": _check_gelu,
}
_VERIFIED: dict[tuple[str, str, torch.dtype], bool] = {}


def _verified(op: str, fn: Callable[..., Any], x: torch.Tensor) -> bool:
    """Run a registered kernel once per (op, device, dtype) on a small input against the
    formulas; a failure or exception disables it there (the reference path stays)."""
    key = (op, str(x.device), x.dtype)
    if key not in _VERIFIED:
        try:
            ok = _CHECKS[op](fn, x.device, x.dtype)
        except Exception as exc:
            _LOGGER.warning("fused %s failed its self-check on %s: %s", op, x.device, exc)
            ok = False
        if not ok:
            _LOGGER.warning("fused %s disabled on %s %s", op, x.device, x.dtype)
        _VERIFIED[key] = ok
    return _VERIFIED[key]


def enabled() -> bool:
    """Whether the current perf switches (and ``TRELLIS2_FUSED``) allow fused kernels."""
    opts = perf.current()
    if not opts.fused_kernels or opts.official_glue:
        return False
    return os.environ.get("TRELLIS2_FUSED", "1") != "0"


def get(op: str, x: torch.Tensor) -> Callable[..., Any] | None:
    """The fused implementation of ``op`` for x, or None (use the reference path)."""
    if x.dtype not in _HALF or not enabled():
        return None
    if x.device.type == "cuda" and not _TRIED_KERNELS:
        _try_kernels()
    fn = _IMPLS.get((op, x.device.type))
    if fn is None or not _verified(op, fn, x):
        return None
    return fn
