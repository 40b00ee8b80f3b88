# SPDX-License-Identifier: MIT
"""Texture bake: attribute voxels → PBR texture maps on a UV-unwrapped mesh.

Per texel: rasterise in UV space → 3D position on the low-poly surface → (optionally) snapped to
the dense surface → sparse trilinear sample of the attribute voxels (reference semantics) → maps.
Empty texels are filled from the nearest covered texel (seam dilation), so bilinear filtering
and mip-maps never bleed background into charts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from trellis2.postprocess.rasterize import rasterize_uv
from trellis2.representations.o_voxel.grid_sample import sample_attrs


@dataclass(frozen=True)
class BakedMaps:
    """float32 maps in [0, 1], [S, S, C]: base_color (3), metallic (1), roughness (1), alpha (1);
    mask [S, S] bool of texels covered by the mesh; positions [S, S, 3] world (covered only);
    face_id [S, S] int64 (-1 empty) and bary [S, S, 3] from the rasteriser."""

    base_color: np.ndarray
    metallic: np.ndarray
    roughness: np.ndarray
    alpha: np.ndarray
    mask: np.ndarray
    positions: np.ndarray
    face_id: np.ndarray
    bary: np.ndarray
    fill: tuple[np.ndarray, np.ndarray] | None = None


def nearest_covered(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(row, col) index maps of the nearest covered texel, or None when nothing needs filling."""
    if mask.all() or not mask.any():
        return None
    _, (iy, ix) = ndimage.distance_transform_edt(~mask, return_indices=True)
    return iy, ix


def dilate_fill(img: np.ndarray, mask: np.ndarray, nearest=None) -> np.ndarray:
    """Copy each empty texel from its nearest covered texel ([S, S] or [S, S, C])."""
    nearest = nearest if nearest is not None else nearest_covered(mask)
    if nearest is None:
        return img
    return img[nearest[0], nearest[1]]


def bake_attributes(
    uv_vertices: np.ndarray,
    uv_faces: np.ndarray,
    uvs: np.ndarray,
    texture_size: int,
    attr_coords: torch.Tensor,
    attr_feats: torch.Tensor,
    attr_layout: dict[str, slice],
    origin: np.ndarray,
    voxel_size: float,
    snap: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
) -> BakedMaps:
    """Bake the attribute volume onto the unwrapped mesh.

    uv_vertices [V, 3] world (aabb frame, Z-up), uv_faces [F, 3], uvs [V, 2] in [0, 1];
    attr_coords [N, 3] int voxel coords, attr_feats [N, C]; attr_layout maps base_color, metallic,
    roughness, alpha to channel slices; origin [3] = aabb min; snap maps [L, 3] positions onto the
    dense surface (closest point) or None. `device` runs the rasteriser and the sampling there
    (CUDA when available); results come back as numpy.
    """
    s = texture_size
    faces_t = torch.from_numpy(uv_faces).to(device)
    fid, bary = rasterize_uv(torch.from_numpy(uvs).to(device), faces_t, s, s)
    mask = fid >= 0
    f = fid[mask]
    b = bary[mask]
    tri = torch.from_numpy(uv_vertices.astype(np.float32)).to(device)[faces_t[f]]
    pos = (tri * b[:, :, None]).sum(1)  # [L, 3]
    if snap is not None:
        pos = snap(pos.cpu()).to(device)
    feats = sample_attrs(
        attr_feats.float().to(device), attr_coords.to(device), pos, origin, voxel_size
    )
    feats = feats.clamp_(0.0, 1.0).cpu().numpy()
    pos = pos.cpu()
    fid, bary = fid.cpu(), bary.cpu()
    m = mask.cpu().numpy()
    fill = nearest_covered(m)

    def plane(sl: slice) -> np.ndarray:
        out = np.zeros((s, s, sl.stop - sl.start), dtype=np.float32)
        out[m] = feats[:, sl]
        return dilate_fill(out, m, fill)

    positions = np.zeros((s, s, 3), dtype=np.float32)
    positions[m] = pos.numpy()
    return BakedMaps(
        base_color=plane(attr_layout["base_color"]),
        metallic=plane(attr_layout["metallic"]),
        roughness=plane(attr_layout["roughness"]),
        alpha=plane(attr_layout["alpha"]),
        mask=m,
        positions=positions,
        face_id=fid.numpy(),
        bary=bary.numpy(),
        fill=fill,
    )


def choose_alpha_mode(alpha: np.ndarray, mask: np.ndarray) -> str:
    """OPAQUE unless some covered texel is visibly transparent; MASK when alpha is (almost)
    binary, BLEND when real partial transparency covers more than 1% of the surface."""
    a = alpha[..., 0][mask] if alpha.ndim == 3 else alpha[mask]
    if a.size == 0 or float(a.min()) >= 0.98:
        return "OPAQUE"
    partial = float(((a > 0.05) & (a < 0.95)).mean())
    return "BLEND" if partial > 0.01 else "MASK"
