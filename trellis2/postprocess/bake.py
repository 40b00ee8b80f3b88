# SPDX-License-Identifier: MIT
"""Texture bake: attribute voxels → PBR texture maps on a UV-unwrapped mesh.

Per texel: rasterise in UV space → 3D position on the low-poly surface → (optionally) snapped to
the dense surface → sparse trilinear sample of the attribute voxels (reference semantics). The
per-texel work stays on `device` (CPU or CUDA); only the finished planes come back as numpy.
Empty texels are filled afterwards by `fill_gutters`: cv2 TELEA inpainting (the reference's
post-process) in a narrow band around the charts, then the nearest covered texel beyond it, so
bilinear filtering and mip-maps never bleed background into charts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from trellis2.postprocess.rasterize import rasterize_uv
from trellis2.representations.o_voxel.grid_sample import sample_attrs

# Width in texels of the inpainted gutter around the charts (beyond it: nearest-texel fill).
GUTTER_TEXELS = 3
# Inpainting runs on tiles of this size in parallel threads (cv2 releases the GIL).
_TILE = 256


@dataclass(frozen=True)
class BakedMaps:
    """Result of `bake_attributes`.

    Planes are float32 numpy [S, S, C] in [0, 1], zero at empty texels (fill with
    `fill_gutters`): base_color (3), metallic (1), roughness (1), alpha (1). mask [S, S] bool of
    covered texels. Per covered texel (row-major order of the mask, L of them) on the bake
    device: texel_index [L] flat texel index, texel_face [L] int64 face id, texel_bary [L, 3]
    float32, texel_pos [L, 3] world position (snapped when snapping was on)."""

    base_color: np.ndarray
    metallic: np.ndarray
    roughness: np.ndarray
    alpha: np.ndarray
    mask: np.ndarray
    texel_index: torch.Tensor
    texel_face: torch.Tensor
    texel_bary: torch.Tensor
    texel_pos: torch.Tensor

    @property
    def size(self) -> int:
        return int(self.mask.shape[0])

    @property
    def positions(self) -> np.ndarray:
        """[S, S, 3] float32 world positions (zero at empty texels)."""
        return scatter_plane(self.texel_pos, self.mask)

    @property
    def face_id(self) -> np.ndarray:
        """[S, S] int64 face id, -1 at empty texels."""
        out = np.full(self.mask.shape, -1, np.int64)
        out[self.mask] = self.texel_face.cpu().numpy()
        return out


def scatter_plane(values: torch.Tensor, mask: np.ndarray) -> np.ndarray:
    """Per-covered-texel values [L, C] (any device) → numpy [S, S, C] float32, zero elsewhere."""
    out = np.zeros((*mask.shape, values.shape[1]), dtype=np.float32)
    out[mask] = values.float().cpu().numpy()
    return out


@dataclass(frozen=True)
class TexelSurface:
    """The geometry half of a bake: which texels the charts cover and where they sit.

    mask [S, S] bool (numpy); per covered texel in row-major order (L of them, on the bake
    device): texel_index [L] flat index, texel_face [L] int64, texel_bary [L, 3] float32,
    texel_pos [L, 3] world position (snapped to the dense surface when a snap was given)."""

    mask: np.ndarray
    texel_index: torch.Tensor
    texel_face: torch.Tensor
    texel_bary: torch.Tensor
    texel_pos: torch.Tensor


def texel_surface(
    uv_vertices: object,
    uv_faces: object,
    uvs: object,
    texture_size: int,
    snap: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
) -> TexelSurface:
    """Rasterise the charts (uv_faces [F, 3] over uvs [V, 2] in [0, 1]) at texture_size² and
    place every covered texel on the low-poly surface (uv_vertices [V, 3], aabb frame), then
    onto the dense surface with `snap` ([L, 3] positions on `device` → closest points)."""
    s = texture_size
    faces_t = torch.as_tensor(uv_faces).to(device=device, dtype=torch.int64)
    uv_t = torch.as_tensor(uvs).to(device=device, dtype=torch.float32)
    fid, bary = rasterize_uv(uv_t, faces_t, s, s)
    flat = fid.reshape(-1)
    index = torch.nonzero(flat >= 0).squeeze(1)
    f = flat[index]
    b = bary.reshape(-1, 3)[index]
    verts = torch.as_tensor(uv_vertices).to(device=device, dtype=torch.float32)
    tri = verts[faces_t[f]]
    pos = (tri * b[:, :, None]).sum(1)  # [L, 3]
    if snap is not None:
        pos = snap(pos).to(device)
    mask = (fid >= 0).cpu().numpy()
    return TexelSurface(mask=mask, texel_index=index, texel_face=f, texel_bary=b, texel_pos=pos)


def sample_texels(
    texels: TexelSurface,
    attr_coords: torch.Tensor,
    attr_feats: torch.Tensor,
    attr_layout: Mapping[str, slice],
    origin: np.ndarray,
    voxel_size: float,
    device: torch.device | str = "cpu",
) -> BakedMaps:
    """The attribute half: sparse trilinear samples of the voxels (attr_coords [N, 3] int,
    attr_feats [N, C]) at the texels' positions → PBR planes (see `bake_attributes`)."""
    feats = sample_attrs(
        attr_feats.float().to(device), attr_coords.to(device), texels.texel_pos, origin, voxel_size
    )
    return maps_from_values(texels, feats, attr_layout)


def maps_from_values(
    texels: TexelSurface, values: torch.Tensor, attr_layout: Mapping[str, slice]
) -> BakedMaps:
    """Per-texel attribute values [L, C] (any source: the voxels, or a source asset's
    materials) → PBR planes clamped to [0, 1] (see `bake_attributes`)."""
    planes = scatter_plane(values.float().clamp(0.0, 1.0), texels.mask)
    return BakedMaps(
        base_color=planes[..., attr_layout["base_color"]],
        metallic=planes[..., attr_layout["metallic"]],
        roughness=planes[..., attr_layout["roughness"]],
        alpha=planes[..., attr_layout["alpha"]],
        mask=texels.mask,
        texel_index=texels.texel_index,
        texel_face=texels.texel_face,
        texel_bary=texels.texel_bary,
        texel_pos=texels.texel_pos,
    )


def bake_attributes(
    uv_vertices: object,
    uv_faces: object,
    uvs: object,
    texture_size: int,
    attr_coords: torch.Tensor,
    attr_feats: torch.Tensor,
    attr_layout: Mapping[str, slice],
    origin: np.ndarray,
    voxel_size: float,
    snap: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
) -> BakedMaps:
    """Bake the attribute volume onto the unwrapped mesh (`texel_surface` + `sample_texels`).

    uv_vertices [V, 3] world (aabb frame, Z-up), uv_faces [F, 3], uvs [V, 2] in [0, 1] (numpy or
    torch); attr_coords [N, 3] int voxel coords, attr_feats [N, C]; attr_layout maps base_color,
    metallic, roughness, alpha to channel slices; origin [3] = aabb min; snap maps [L, 3]
    positions (on `device`) onto the dense surface (closest point) or None. `device` runs the
    rasteriser, snapping and sampling there (CUDA when available).
    """
    texels = texel_surface(uv_vertices, uv_faces, uvs, texture_size, snap, device)
    return sample_texels(texels, attr_coords, attr_feats, attr_layout, origin, voxel_size, device)


def nearest_covered(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(row, col) index maps [S, S] of the nearest covered texel (5x5-mask L2 distance
    transform, near-exact), or None when nothing needs filling."""
    if mask.all() or not mask.any():
        return None
    src = np.ascontiguousarray(~mask, dtype=np.uint8)  # zero at covered texels
    _, lab = cv2.distanceTransformWithLabels(src, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    # DIST_LABEL_PIXEL numbers the zero pixels 1.. in row-major order.
    zy, zx = np.nonzero(mask)
    lab = lab.astype(np.int64) - 1
    return zy[lab], zx[lab]


def dilate_fill(img: np.ndarray, mask: np.ndarray, nearest=None) -> np.ndarray:
    """Copy each empty texel from its nearest covered texel ([S, S] or [S, S, C])."""
    nearest = nearest if nearest is not None else nearest_covered(mask)
    if nearest is None:
        return img
    return img[nearest[0], nearest[1]]


def gutter_band(mask: np.ndarray, width: int = GUTTER_TEXELS) -> np.ndarray:
    """Empty texels within `width` texels (Chebyshev) of a covered one: [S, S] bool."""
    k = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), k).astype(bool) & ~mask


def _inpaint_tiles(
    src: np.ndarray, dst: np.ndarray, band: np.ndarray, radius: int, width: int
) -> list:
    """Tile jobs for TELEA inpainting: read uint8 `src` [S, S, 1 or 3] with a margin around
    each tile, write the tile's interior into `dst` (so concurrent tiles never read each
    other's output and the result does not depend on the order)."""
    s0, s1 = band.shape
    margin = width + radius + 2
    jobs = []
    for y in range(0, s0, _TILE):
        for x in range(0, s1, _TILE):
            if not band[y : y + _TILE, x : x + _TILE].any():
                continue
            y0, x0 = max(y - margin, 0), max(x - margin, 0)
            y1, x1 = min(y + _TILE + margin, s0), min(x + _TILE + margin, s1)

            def job(y=y, x=x, y0=y0, x0=x0, y1=y1, x1=x1) -> None:
                crop = np.ascontiguousarray(src[y0:y1, x0:x1])
                m = band[y0:y1, x0:x1].astype(np.uint8)
                res = cv2.inpaint(crop, m, radius, cv2.INPAINT_TELEA).reshape(crop.shape)
                ty, tx = y - y0, x - x0
                dst[y : y + _TILE, x : x + _TILE] = res[ty : ty + _TILE, tx : tx + _TILE]

            jobs.append(job)
    return jobs


def fill_gutters(
    planes: Mapping[str, tuple[np.ndarray, int]],
    mask: np.ndarray,
    width: int = GUTTER_TEXELS,
    threads: int | None = None,
    nearest: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Fill the empty texels of several maps that share one coverage mask.

    planes: name → (float32 [S, S, C] in [0, 1] with C = 1 or 3, inpainting radius in texels;
    the reference uses 3 for base colour and 1 for the others). Empty texels within `width`
    texels of a chart are inpainted with cv2 INPAINT_TELEA (8-bit, as the reference does); the
    others copy their nearest covered texel. Covered texels keep their exact float values.
    Tiles of all maps are inpainted in parallel threads. `nearest`: `nearest_covered(mask)`
    when the caller already has it. Returns name → filled float32."""
    for name, (img, _) in planes.items():
        if img.ndim != 3 or img.shape[2] not in (1, 3):
            raise ValueError(f"fill_gutters: {name} must be [S, S, 1] or [S, S, 3]")
    nearest = nearest if nearest is not None else nearest_covered(mask)
    if nearest is None:
        return {k: v for k, (v, _) in planes.items()}
    band = gutter_band(mask, width)
    n = threads or max(1, min(4 * len(planes), os.cpu_count() or 1))
    flat = (nearest[0] * mask.shape[1] + nearest[1]).reshape(-1)

    def prepare(item: tuple[str, tuple[np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
        img = item[1][0]
        filled = np.take(img.reshape(-1, img.shape[2]), flat, axis=0).reshape(img.shape)
        src = (np.clip(filled, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        return src, src.copy()

    def finish(item: tuple[str, tuple[np.ndarray, int]]) -> np.ndarray:
        name, (img, _) = item
        return np.where(mask[..., None], img, work[name][1].astype(np.float32) / 255.0)

    # numpy's big copies and cv2 release the GIL, so threads overlap all of it.
    with ThreadPoolExecutor(n) as pool:
        work = dict(zip(planes, pool.map(prepare, planes.items()), strict=True))
        jobs = []
        for name, (_, radius) in planes.items():
            jobs += _inpaint_tiles(*work[name], band, radius, width)
        list(pool.map(lambda j: j(), jobs))
        return dict(zip(planes, pool.map(finish, planes.items()), strict=True))


def choose_alpha_mode(alpha: np.ndarray, mask: np.ndarray) -> str:
    """OPAQUE unless some covered texel is visibly transparent; MASK when alpha is (almost)
    binary, BLEND when real partial transparency covers more than 1% of the surface."""
    a = alpha[..., 0][mask] if alpha.ndim == 3 else alpha[mask]
    if a.size == 0 or float(a.min()) >= 0.98:
        return "OPAQUE"
    partial = float(((a > 0.05) & (a < 0.95)).mean())
    return "BLEND" if partial > 0.01 else "MASK"
