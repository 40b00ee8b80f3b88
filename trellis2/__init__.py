# SPDX-License-Identifier: MIT
"""TRELLIS.2 image-to-3D, reimplemented: the pipeline, O-Voxel and GLB export."""

__version__ = "0.1.0"
