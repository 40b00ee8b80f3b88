# SPDX-License-Identifier: MIT
"""Preview artifacts in numpy: PNG thumbnails (shaded orthographic splats), a coarse voxel GLB
(boxes) and a small untextured mesh GLB. Inputs are in TRELLIS.2's Z-up aabb frame."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from trellis2.postprocess.decimate import simplify
from trellis2.postprocess.gltf_writer import build_simple_glb
from trellis2.postprocess.textured_mesh import z_up_to_y_up
from trellis2.postprocess.topology import remove_unreferenced_vertices, vertex_normals

_BACKGROUND = np.array([0.16, 0.17, 0.19], dtype=np.float32)


def _view_rotation(yaw_deg: float = 30.0, pitch_deg: float = 20.0) -> np.ndarray:
    """Rows: screen right, screen up, depth (into the screen), for a camera in front (-y)."""
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    rx = np.array(
        [[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]]
    )
    base = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]])  # x right, z up, +y into screen
    return base @ rx @ rz


def thumbnail_png(
    points: np.ndarray, colors: np.ndarray, normals: np.ndarray | None = None, size: int = 128
) -> bytes:
    """Splat points [N, 3] with colours [N, 3] (sRGB, 0..1) into a size² PNG with a z-buffer and
    Lambert shading from `normals` [N, 3] when given."""
    rot = _view_rotation()
    p = points.astype(np.float64) @ rot.T
    lo, hi = p[:, :2].min(0), p[:, :2].max(0)
    scale = 0.9 * size / max(float((hi - lo).max()), 1e-9)
    centre = (lo + hi) / 2
    px = ((p[:, 0] - centre[0]) * scale + size / 2).astype(np.int64)
    py = (size / 2 - (p[:, 1] - centre[1]) * scale).astype(np.int64)
    c = colors.astype(np.float32)
    if normals is None:
        # No normals (voxel splats): darken with depth so the shape still reads.
        span = max(float(np.ptp(p[:, 2])), 1e-9)
        c = c * (1.0 - 0.5 * (p[:, 2] - p[:, 2].min()) / span)[:, None].astype(np.float32)
    else:
        n = normals.astype(np.float64) @ rot.T
        light = np.array([-0.4, 0.5, -0.77])
        light /= np.linalg.norm(light)
        shade = 0.35 + 0.65 * np.abs(n @ light)
        c = c * shade[:, None].astype(np.float32)
    img = np.tile(_BACKGROUND, (size, size, 1))
    # 2x2 splats close small gaps; one z-buffer pass over all of them (nearest depth wins).
    offs = ((0, 0), (1, 0), (0, 1), (1, 1))
    x = np.concatenate([px + dx for dx, _ in offs])
    y = np.concatenate([py + dy for _, dy in offs])
    depth = np.tile(p[:, 2], len(offs))
    col = np.tile(c, (len(offs), 1))
    ok = (x >= 0) & (x < size) & (y >= 0) & (y < size)
    pix, depth, col = (y * size + x)[ok], depth[ok], col[ok]
    order = np.lexsort((depth, pix))
    sel = order[np.unique(pix[order], return_index=True)[1]]
    img.reshape(-1, 3)[pix[sel]] = col[sel]
    buf = io.BytesIO()
    Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def voxel_preview_glb(
    coords: np.ndarray, colors: np.ndarray, grid_size: int, max_grid: int = 64
) -> bytes:
    """Coarse voxels as boxes: coords [N, 3] at `grid_size`, pooled to at most `max_grid` per
    axis, colours averaged; only faces not touching another box are emitted."""
    f = max(1, int(np.ceil(grid_size / max_grid)))
    g = int(np.ceil(grid_size / f))
    cc = coords.astype(np.int64) // f
    key = (cc[:, 0] * g + cc[:, 1]) * g + cc[:, 2]
    uniq, inv = np.unique(key, return_inverse=True)
    cnt = np.bincount(inv).astype(np.float32)
    col = np.stack([np.bincount(inv, colors[:, k]) for k in range(3)], 1) / cnt[:, None]
    cells = np.stack([uniq // (g * g), (uniq // g) % g, uniq % g], 1)
    verts, tris, vcols = [], [], []
    # Face quads (corner offsets) for the 6 directions, counter-clockwise seen from outside.
    quads = {
        (1, 0, 0): [(1, 0, 0), (1, 1, 0), (1, 1, 1), (1, 0, 1)],
        (-1, 0, 0): [(0, 0, 0), (0, 0, 1), (0, 1, 1), (0, 1, 0)],
        (0, 1, 0): [(0, 1, 0), (0, 1, 1), (1, 1, 1), (1, 1, 0)],
        (0, -1, 0): [(0, 0, 0), (1, 0, 0), (1, 0, 1), (0, 0, 1)],
        (0, 0, 1): [(0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)],
        (0, 0, -1): [(0, 0, 0), (0, 1, 0), (1, 1, 0), (1, 0, 0)],
    }
    n_v = 0
    for d, corners in quads.items():
        nb = cells + np.array(d)
        nkey = (nb[:, 0] * g + nb[:, 1]) * g + nb[:, 2]
        pos = np.clip(np.searchsorted(uniq, nkey), 0, len(uniq) - 1)
        exposed = ~((uniq[pos] == nkey) & (nb >= 0).all(1) & (nb < g).all(1))
        c = cells[exposed]
        if len(c) == 0:
            continue
        v = (c[:, None, :] + np.array(corners)[None]).reshape(-1, 3)
        verts.append(v)
        vcols.append(np.repeat(col[exposed], 4, axis=0))
        base = n_v + 4 * np.arange(len(c))[:, None]
        tris.append(np.concatenate([base + np.array([0, 1, 2]), base + np.array([0, 2, 3])], 0))
        n_v += len(v)
    pos = np.concatenate(verts).astype(np.float32) * (f / grid_size) - 0.5
    return build_simple_glb(
        z_up_to_y_up(pos), np.concatenate(tris), srgb_to_linear(np.concatenate(vcols))
    )


def mesh_preview_glb(
    vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None, max_faces: int = 20_000
) -> bytes:
    """Untextured mesh (decimated to max_faces), optional sRGB vertex colours [V, 3]."""
    if len(faces) > max_faces:
        v, f = simplify(vertices, faces, max_faces)
        colors = None if colors is None else _nearest_colors(vertices, colors, v)
    else:
        v, f, kept = remove_unreferenced_vertices(vertices, faces)
        colors = None if colors is None else colors[kept]
    cols = None if colors is None else srgb_to_linear(colors)
    return build_simple_glb(z_up_to_y_up(v), f, cols)


def _nearest_colors(src: np.ndarray, colors: np.ndarray, dst: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    _, idx = cKDTree(src).query(dst, k=1)
    return colors[idx]


def voxel_thumbnail(coords: np.ndarray, colors: np.ndarray, grid_size: int) -> bytes:
    """Thumbnail of voxel centres [N, 3] (grid indices) with their sRGB colours."""
    return thumbnail_png((coords.astype(np.float32) + 0.5) / grid_size - 0.5, colors)


def mesh_thumbnail(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray) -> bytes:
    return thumbnail_png(vertices, colors, vertex_normals(vertices, faces))
