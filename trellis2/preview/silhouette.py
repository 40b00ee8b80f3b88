# SPDX-License-Identifier: MIT
"""Image → alpha matte and a square crop around the object (preview backend, CPU, no weights).

Images with a meaningful alpha channel keep it. Others get a simple background removal: the
background colour is the median of the border pixels, pixels close to it that are connected to the
border (flood fill) are background, and holes inside the object are kept as object.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

# Colour distance (RGB in [0, 1], Euclidean) under which a border-connected pixel is background.
BACKGROUND_TOLERANCE = 0.12


def image_to_rgba(image: Image.Image) -> np.ndarray:
    """PIL image → float32 [H, W, 4] straight (not premultiplied) RGBA in [0, 1]."""
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    if not has_useful_alpha(rgba[..., 3]):
        rgba = rgba.copy()
        rgba[..., 3] = remove_background(rgba[..., :3])
    return rgba


def has_useful_alpha(alpha: np.ndarray) -> bool:
    """True if the alpha channel separates an object from a background (some of each)."""
    transparent = float((alpha < 0.5).mean())
    return 0.01 < transparent < 0.99


def remove_background(rgb: np.ndarray, tolerance: float = BACKGROUND_TOLERANCE) -> np.ndarray:
    """rgb float [H, W, 3] → alpha float32 [H, W] (1 = object) by flood fill from the border."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]], axis=0)
    bg_colour = np.median(border, axis=0)
    near_bg = np.linalg.norm(rgb - bg_colour, axis=-1) < tolerance
    labels, _ = ndimage.label(near_bg)
    edge_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    background = np.isin(labels, edge_labels[edge_labels > 0])
    obj = ndimage.binary_fill_holes(~background)
    obj = ndimage.binary_opening(obj, iterations=1)
    if not obj.any():
        raise ValueError(
            "no object found in the image: use an image with a transparent background or an "
            "object on a plain backdrop"
        )
    # Keep components at least 2% the size of the largest one (drops speckles of JPEG noise).
    labels, n = ndimage.label(obj)
    if n > 1:
        sizes = ndimage.sum_labels(obj, labels, index=np.arange(1, n + 1))
        keep = np.flatnonzero(sizes >= 0.02 * sizes.max()) + 1
        obj = np.isin(labels, keep)
    # Soften the one-pixel edge so the rim is anti-aliased like a real matte.
    return ndimage.uniform_filter(obj.astype(np.float32), size=3)


def crop_to_object(rgba: np.ndarray, margin: float = 0.05) -> np.ndarray:
    """Square crop around alpha > 0.5, padded by `margin` of its size on each side (transparent)."""
    ys, xs = np.nonzero(rgba[..., 3] > 0.5)
    if ys.size == 0:
        raise ValueError("the image's alpha channel is empty: nothing to reconstruct")
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = max(y1 - y0, x1 - x0)
    pad = int(np.ceil(side * margin))
    full = side + 2 * pad
    out = np.zeros((full, full, 4), dtype=np.float32)
    oy = pad + (side - (y1 - y0)) // 2
    ox = pad + (side - (x1 - x0)) // 2
    out[oy : oy + y1 - y0, ox : ox + x1 - x0] = rgba[y0:y1, x0:x1]
    return out


def resize_rgba(rgba: np.ndarray, size: int) -> np.ndarray:
    """Area-resample straight RGBA to [size, size, 4], colour weighted by alpha (no fringes)."""
    premul = np.concatenate([rgba[..., :3] * rgba[..., 3:], rgba[..., 3:]], axis=-1)
    chans = [
        np.asarray(
            Image.fromarray(premul[..., c].astype(np.float32), mode="F").resize(
                (size, size), Image.Resampling.BOX
            )
        )
        for c in range(4)
    ]
    out = np.stack(chans, axis=-1)
    a = out[..., 3:]
    out[..., :3] = np.where(a > 1e-6, out[..., :3] / np.maximum(a, 1e-6), 0.0)
    return np.clip(out, 0.0, 1.0)
