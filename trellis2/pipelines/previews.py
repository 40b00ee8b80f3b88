# SPDX-License-Identifier: MIT
"""Small preview assets of intermediate stages: voxel boxes / untextured mesh as GLB + PNG.

Frames: voxel coords (x, y, z) index a res^3 grid over the aabb [-0.5, 0.5]^3 in TRELLIS.2's
Z-up frame (voxel centre = (c + 0.5) / res - 0.5); GLBs are written in glTF's Y-up frame
(x, z, -y). Thumbnails are a depth-shaded orthographic point splat seen from the front-right,
slightly above (no GPU needed).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from trellis2.postprocess.decimate import simplify
from trellis2.postprocess.gltf_writer import build_simple_glb
from trellis2.postprocess.textured_mesh import z_up_to_y_up

PREVIEW_MAX_FACES = 60_000
THUMBNAIL_SIZE = 128

# The 6 face directions and the 4 corners (unit-cube offsets) of the face on that side,
# counter-clockwise seen from outside.
_FACES = [
    ((1, 0, 0), [(1, 0, 0), (1, 1, 0), (1, 1, 1), (1, 0, 1)]),
    ((-1, 0, 0), [(0, 0, 0), (0, 0, 1), (0, 1, 1), (0, 1, 0)]),
    ((0, 1, 0), [(0, 1, 0), (0, 1, 1), (1, 1, 1), (1, 1, 0)]),
    ((0, -1, 0), [(0, 0, 0), (1, 0, 0), (1, 0, 1), (0, 0, 1)]),
    ((0, 0, 1), [(0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)]),
    ((0, 0, -1), [(0, 0, 0), (0, 1, 0), (1, 1, 0), (1, 0, 0)]),
]


def voxel_surface(coords: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes of the voxels `coords` [N, 3] (x, y, z) → only their exposed faces.

    Returns vertices float32 [V, 3] (Z-up, aabb [-0.5, 0.5]^3) and triangles int64 [F, 3].
    """
    coords = np.asarray(coords, dtype=np.int64).reshape(-1, 3)
    grid = np.zeros((resolution + 2,) * 3, dtype=bool)
    grid[coords[:, 0] + 1, coords[:, 1] + 1, coords[:, 2] + 1] = True
    verts, tris = [], []
    base = 0
    for normal, corners in _FACES:
        n = np.asarray(normal)
        nb = coords + n + 1
        exposed = coords[~grid[nb[:, 0], nb[:, 1], nb[:, 2]]]
        if len(exposed) == 0:
            continue
        quad = exposed[:, None, :] + np.asarray(corners)[None]  # [M, 4, 3] grid corners
        verts.append(quad.reshape(-1, 3))
        idx = base + 4 * np.arange(len(exposed))[:, None]
        tris.append(np.concatenate([idx + np.array([0, 1, 2]), idx + np.array([0, 2, 3])]))
        base += 4 * len(exposed)
    if not verts:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)
    v = np.concatenate(verts).astype(np.float32) / resolution - 0.5
    return v, np.concatenate(tris).astype(np.int64)


def thumbnail_png(vertices: np.ndarray, size: int = THUMBNAIL_SIZE) -> bytes:
    """Depth-shaded orthographic splat of points [V, 3] (Z-up, [-0.5, 0.5]^3) as PNG bytes."""
    img = np.full((size, size, 3), 40, dtype=np.uint8)
    if len(vertices):
        yaw, pitch = np.radians(-35.0), np.radians(20.0)
        v = np.asarray(vertices, dtype=np.float64)
        # Rotate about z (yaw), then tilt about x (pitch); view along +y, z up.
        c, s = np.cos(yaw), np.sin(yaw)
        x, y, z = c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1], v[:, 2]
        cp, sp = np.cos(pitch), np.sin(pitch)
        y, z = cp * y + sp * z, -sp * y + cp * z
        px = np.clip(((x + 0.75) / 1.5 * size).astype(int), 0, size - 1)
        py = np.clip(((0.75 - z) / 1.5 * size).astype(int), 0, size - 1)
        depth = np.full((size, size), np.inf)
        order = np.argsort(-y)  # far to near: nearer points overwrite
        depth[py[order], px[order]] = y[order]
        hit = np.isfinite(depth)
        shade = np.clip(0.9 - (depth[hit] + 0.75) / 1.5 * 0.7, 0.15, 1.0)
        img[hit] = (np.stack([shade * 230, shade * 200, shade * 160], axis=1)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def voxel_preview(coords: np.ndarray, resolution: int) -> tuple[bytes, bytes]:
    """(GLB of voxel boxes, PNG thumbnail) for one sample's coords [N, 3] on a res^3 grid."""
    v, f = voxel_surface(coords, resolution)
    colors = np.tile(np.array([[0.75, 0.7, 0.6]], np.float32), (len(v), 1))
    glb = build_simple_glb(z_up_to_y_up(v), f, colors)
    centres = (np.asarray(coords, np.float32).reshape(-1, 3) + 0.5) / resolution - 0.5
    return glb, thumbnail_png(centres)


def mesh_preview(
    vertices: np.ndarray, faces: np.ndarray, max_faces: int = PREVIEW_MAX_FACES
) -> tuple[bytes, bytes] | None:
    """(GLB, PNG) of an untextured mesh (Z-up, [-0.5, 0.5]^3), decimated to `max_faces`;
    None for a mesh without faces."""
    v = np.asarray(vertices, np.float32)
    f = np.asarray(faces, np.int64)
    if len(f) > max_faces:
        v, f = simplify(v, f, max_faces)
    if len(f) == 0:
        return None
    return build_simple_glb(z_up_to_y_up(v), f), thumbnail_png(v)
