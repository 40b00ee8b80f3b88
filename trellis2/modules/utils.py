# SPDX-License-Identifier: MIT
"""Precision helpers: which modules a trunk conversion touches, and the reference manual cast."""

from __future__ import annotations

import torch
from torch import nn

from .sparse.conv import SparseConv3d

_DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "fp32": torch.float32,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}

# Only these modules change dtype; norms, modulation vectors and q/k gammas stay fp32.
_CONVERTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, SparseConv3d)


def str_to_dtype(name: str | torch.dtype) -> torch.dtype:
    if isinstance(name, torch.dtype):
        return name
    try:
        return _DTYPES[name]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r}; use one of {sorted(_DTYPES)}") from None


def convert_module_to(module: nn.Module, dtype: torch.dtype) -> None:
    """Cast the weight and bias of a linear/conv module (non-recursive; use with .apply)."""
    if isinstance(module, _CONVERTED):
        module.weight.data = module.weight.data.to(dtype)
        if module.bias is not None:
            module.bias.data = module.bias.data.to(dtype)


def manual_cast(x, dtype: torch.dtype):
    """Cast x (Tensor or SparseTensor) unless autocast is on (reference behaviour)."""
    if torch.is_autocast_enabled():
        return x
    return x.type(dtype)
