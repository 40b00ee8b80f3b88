# SPDX-License-Identifier: MIT
"""Checkpoint key renames, one place per model class.

The modules here keep the published parameter names and layouts, so nothing is renamed today;
a fused or re-laid-out module adds its conversion here and nowhere else.
"""

from __future__ import annotations

import torch


def remap_state_dict(class_name: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a published state dict onto this implementation's names (identity for now)."""
    return state
