# SPDX-License-Identifier: MIT
"""Mesh representations returned by the pipeline."""

from trellis2.representations.mesh.base import Mesh, MeshWithVoxel

__all__ = ["Mesh", "MeshWithVoxel"]
