# SPDX-License-Identifier: MIT
"""`SparseLinear`: nn.Linear on a SparseTensor's features (same parameter names)."""

from __future__ import annotations

import torch
from torch import nn

from .tensor import SparseTensor


class SparseLinear(nn.Linear):
    """Linear layer applied row-wise to feats [N, C_in] -> [N, C_out]; plain tensors pass too."""

    def forward(self, x: SparseTensor | torch.Tensor):  # type: ignore[override]
        if isinstance(x, SparseTensor):
            return x.replace(super().forward(x.feats))
        return super().forward(x)
