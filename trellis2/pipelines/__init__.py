# SPDX-License-Identifier: MIT
"""TRELLIS.2 pipelines: samplers, preprocessing, image conditioning, image-to-3D."""
