# SPDX-License-Identifier: MIT
"""Representations: O-Voxel (flexible dual grid + attribute voxels) and meshes."""
