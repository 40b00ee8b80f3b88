# SPDX-License-Identifier: MIT
"""Texture encoding per output profile and the extra packed maps engines ask for."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from trellis2.postprocess.gltf_writer import EncodedImage

_MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def to_u8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def encode(img_u8: np.ndarray, fmt: str, name: str, lossless: bool = False) -> EncodedImage:
    """uint8 [H, W, C] (C = 3 or 4) → EncodedImage in png / jpeg / webp."""
    pil = Image.fromarray(img_u8)
    buf = io.BytesIO()
    if fmt == "png":
        # Level 1: several times faster than the default and only ~10% larger for these maps.
        pil.save(buf, format="PNG", compress_level=1)
    elif fmt == "jpeg":
        pil.convert("RGB").save(buf, format="JPEG", quality=92, subsampling=0)
    elif fmt == "webp":
        if lossless:
            pil.save(buf, format="WEBP", lossless=True, quality=50, method=1)
        else:
            pil.save(buf, format="WEBP", quality=92, method=2)
    else:
        raise ValueError(f"texture format must be png, jpeg or webp, got {fmt!r}")
    return EncodedImage(name=name, data=buf.getvalue(), mime=_MIME[fmt])


def formats_for_profile(profile: str, texture_format: str, alpha_used: bool) -> dict[str, str]:
    """Image format per map. unity: never WebP (glTFast cannot read it) → PNG. godot/generic:
    the requested format. Base colour with alpha in use is never JPEG (no alpha channel there);
    normal maps stay lossless (PNG, or lossless WebP)."""
    if profile not in ("generic", "unity", "godot"):
        raise ValueError(f"profile must be generic, unity or godot, got {profile!r}")
    fmt = texture_format
    if profile == "unity" and fmt == "webp":
        fmt = "png"
    base = "png" if (fmt == "jpeg" and alpha_used) else fmt
    normal = "webp" if fmt == "webp" else "png"
    return {"base_color": base, "metallic_roughness": fmt, "normal": normal}


def extra_texture(
    kind: str, metallic: np.ndarray, roughness: np.ndarray, occlusion: np.ndarray | None = None
) -> np.ndarray:
    """Packed uint8 map for engines (all linear):
    metallic_smoothness: R metallic, A smoothness (1 - roughness) (Unity built-in/URP).
    mask_map: R metallic, G occlusion, B 1 (detail mask), A smoothness (Unity HDRP).
    orm: R occlusion, G roughness, B metallic (Unreal / glTF ORM)."""
    m = metallic[..., 0] if metallic.ndim == 3 else metallic
    r = roughness[..., 0] if roughness.ndim == 3 else roughness
    occ = np.ones_like(m) if occlusion is None else occlusion
    one = np.ones_like(m)
    zero = np.zeros_like(m)
    if kind == "metallic_smoothness":
        planes = [m, zero, zero, 1.0 - r]
    elif kind == "mask_map":
        planes = [m, occ, one, 1.0 - r]
    elif kind == "orm":
        planes = [occ, r, m]
    else:
        raise ValueError(
            f"extra texture must be metallic_smoothness, mask_map or orm, got {kind!r}"
        )
    return to_u8(np.stack(planes, axis=-1))
