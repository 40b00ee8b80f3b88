# SPDX-License-Identifier: MIT
"""TRELLIS.2 pipelines: samplers, preprocessing, image conditioning, image-to-3D."""

from trellis2.pipelines.pipeline_loading import from_pretrained
from trellis2.pipelines.trellis2_image_to_3d import Trellis2ImageTo3DPipeline

__all__ = ["Trellis2ImageTo3DPipeline", "from_pretrained"]
