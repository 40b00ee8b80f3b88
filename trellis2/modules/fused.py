# SPDX-License-Identifier: MIT
"""Optional fused kernels for the DiT blocks (one dispatch point; off unless registered).

Two ops, each with a torch reference path in the modules that call them:
- ``qk_rmsnorm_rope(x [.., L, H, D], gamma [H, D], phases fp32 [L, D/2, 2] | None) -> x-shaped``:
  per-head RMS norm (x gamma x sqrt(D)) then RoPE.
- ``residual_norm_modulate(x [R, C], h=None, gate=None, *, norm, weight, bias, shift, scale,
  eps, batch_ids) -> (x + gate * h | None, LN(x') * (1 + scale) + shift | None)``.

They are used only for fp16/bf16 trunks on a device type with a registered implementation, so
fp32 runs (parity) always take the exact reference path. On the first CUDA use the
``trellis2_kernels`` Triton kernels are registered when importable. ``TRELLIS2_FUSED=0``
disables all of it. Fused results differ from the reference by trunk-dtype rounding only.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from typing import Any

import torch

_LOGGER = logging.getLogger(__name__)
_IMPLS: dict[tuple[str, str], Callable[..., Any]] = {}
_TRIED_KERNELS = False
_HALF = (torch.float16, torch.bfloat16)
OPS = ("qk_rmsnorm_rope", "residual_norm_modulate")


def register_fused(op: str, device_type: str, impl: Callable[..., Any]) -> None:
    if op not in OPS:
        raise ValueError(f"unknown fused op {op!r}; known: {OPS}")
    _IMPLS[(op, device_type)] = impl


def unregister_fused(op: str, device_type: str) -> None:
    _IMPLS.pop((op, device_type), None)


def _try_kernels() -> None:
    global _TRIED_KERNELS
    _TRIED_KERNELS = True
    try:
        rope = importlib.import_module("trellis2_kernels.rmsnorm_rope")
        adaln = importlib.import_module("trellis2_kernels.adaln")
    except Exception as exc:  # no triton / no kernels: the torch paths stay
        _LOGGER.info("fused DiT kernels unavailable (%s); using torch ops", exc)
        return
    _IMPLS.setdefault(("qk_rmsnorm_rope", "cuda"), rope.qk_rmsnorm_rope)
    _IMPLS.setdefault(("residual_norm_modulate", "cuda"), adaln.residual_norm_modulate)


def get(op: str, x: torch.Tensor) -> Callable[..., Any] | None:
    """The fused implementation of ``op`` for x, or None (use the reference path)."""
    if x.dtype not in _HALF or os.environ.get("TRELLIS2_FUSED", "1") == "0":
        return None
    if x.device.type == "cuda" and not _TRIED_KERNELS:
        _try_kernels()
    return _IMPLS.get((op, x.device.type))
