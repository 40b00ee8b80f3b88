# SPDX-License-Identifier: MIT
"""Triton kernels, each beside the torch reference it must equal.

Modules (one kernel each): neighbor_map (torch, no kernel), sparse_conv, grid_sample,
rmsnorm_rope, adaln. Importing the package on a CUDA machine registers the sparse conv with
`trellis2.modules.sparse.conv` (see integration.py); on CPU nothing Triton is imported.
"""

from __future__ import annotations

import torch

if torch.cuda.is_available():
    try:
        from .integration import register

        register()
    except ImportError:  # triton missing: the model keeps its torch reference
        pass
