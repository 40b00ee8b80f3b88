# SPDX-License-Identifier: MIT
"""Preview backend: a textured GLB from an image's silhouette, no learned weights, CPU."""

from trellis2.preview.backend import PreviewBackend

__all__ = ["PreviewBackend"]
