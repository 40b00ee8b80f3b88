# SPDX-License-Identifier: MIT
"""O-Voxel: sparse voxels with flexible-dual-grid geometry and PBR attributes (reference §12)."""

from trellis2.representations.o_voxel.flexible_dual_grid import (
    VoxelHash,
    flexible_dual_grid_to_mesh,
)
from trellis2.representations.o_voxel.grid_sample import grid_sample_3d, sample_attrs

__all__ = ["VoxelHash", "flexible_dual_grid_to_mesh", "grid_sample_3d", "sample_attrs"]
