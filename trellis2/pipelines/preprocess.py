# SPDX-License-Identifier: MIT
"""Image preprocessing of the reference pipeline (reference §2).

`has_alpha` rule, 1024 px cap, background removal when there is no alpha, square crop around
the confident foreground (alpha > 0.8 * 255) and RGB premultiplied by alpha (black background).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

MAX_SIZE = 1024
ALPHA_THRESHOLD = 0.8 * 255  # 204.0; pixels strictly above it define the bbox


def has_alpha(image: Image.Image) -> bool:
    """True if the image is RGBA and at least one pixel is not fully opaque."""
    if image.mode != "RGBA":
        return False
    return bool((np.asarray(image)[:, :, 3] != 255).any())


def cap_size(image: Image.Image, max_size: int = MAX_SIZE) -> Image.Image:
    """Downscale (LANCZOS) so the longer side is at most `max_size`; sizes are truncated ints."""
    w, h = image.size
    if max(w, h) <= max_size:
        return image
    scale = max_size / max(w, h)
    return image.resize((int(w * scale), int(h * scale)), Image.Resampling.LANCZOS)


def crop_and_premultiply(rgba: Image.Image) -> Image.Image:
    """Square crop around the alpha > 204 bbox, then RGB * alpha as an RGB uint8 image.

    The crop box is centred on the bbox midpoint with side max(bbox w, bbox h); PIL rounds
    the float box and pads with zeros past the image border, like the reference.
    """
    arr = np.asarray(rgba)
    alpha = arr[:, :, 3]
    ys, xs = np.nonzero(alpha > ALPHA_THRESHOLD)
    if xs.size == 0:
        raise ValueError(
            "no foreground found: every alpha value is <= 204 after background removal; "
            "send an image with a clearly visible object or an alpha channel that marks it"
        )
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    size = int(max(x1 - x0, y1 - y0) * 1)
    box = (cx - size // 2, cy - size // 2, cx + size // 2, cy + size // 2)
    cropped = np.asarray(rgba.crop(box)).astype(np.float32) / 255  # type: ignore[arg-type]
    rgb = cropped[:, :, :3] * cropped[:, :, 3:4]
    return Image.fromarray((rgb * 255).astype(np.uint8))


def preprocess_image(
    image: Image.Image, remove_background: Callable[[Image.Image], Image.Image] | None
) -> Image.Image:
    """The reference `preprocess_image`: returns an RGB image with a black background.

    `remove_background(rgb) -> rgba` is only called when the image has no usable alpha.
    """
    alpha = has_alpha(image)
    image = cap_size(image)
    if alpha:
        rgba = image
    else:
        if remove_background is None:
            raise ValueError(
                "the image has no alpha channel and no background-removal model is loaded; "
                "send an RGBA image with the background cleared or load the pipeline with "
                "its rembg model"
            )
        rgba = remove_background(image.convert("RGB"))
    if rgba.mode != "RGBA":
        rgba = rgba.convert("RGBA")
    return crop_and_premultiply(rgba)
