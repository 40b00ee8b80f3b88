# SPDX-License-Identifier: MIT
"""Decimation to a face target with fast-simplification (MIT, quadric edge collapse)."""

from __future__ import annotations

import fast_simplification
import numpy as np


def simplify(
    vertices: np.ndarray, faces: np.ndarray, target_faces: int, aggressiveness: float = 7.0
) -> tuple[np.ndarray, np.ndarray]:
    """Quadric decimation to at most about `target_faces` faces; returns the input unchanged when
    it is already small enough. vertices float32 [V, 3], faces int64 [F, 3]."""
    if target_faces <= 0:
        raise ValueError("decimation target must be a positive face count")
    if len(faces) <= target_faces:
        return vertices, faces
    v, f = fast_simplification.simplify(
        vertices.astype(np.float32),
        faces.astype(np.int64),
        target_count=int(target_faces),
        agg=aggressiveness,
    )
    return v.astype(np.float32), f.astype(np.int64)
