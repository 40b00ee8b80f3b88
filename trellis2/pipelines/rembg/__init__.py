# SPDX-License-Identifier: MIT
"""Background removal models."""

from trellis2.pipelines.rembg.birefnet import DEFAULT_BIREFNET, RMBG_2_0, BiRefNet

__all__ = ["DEFAULT_BIREFNET", "RMBG_2_0", "BiRefNet"]
