# SPDX-License-Identifier: MIT
"""Dense attention: the backend dispatch, 3D RoPE and the multi-head module."""

from .dispatch import dense_attention, math_attention, varlen_attention
from .modules import MultiHeadAttention
from .rope import RotaryPositionEmbedder, apply_rope, rope_phases

__all__ = [
    "MultiHeadAttention",
    "RotaryPositionEmbedder",
    "apply_rope",
    "dense_attention",
    "math_attention",
    "rope_phases",
    "varlen_attention",
]
