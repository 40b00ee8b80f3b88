# SPDX-License-Identifier: MIT
"""Preview assets of intermediate stages: voxel boxes and thumbnails."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from trellis2.pipelines.previews import mesh_preview, voxel_preview, voxel_surface


def test_voxel_surface_keeps_only_exposed_faces() -> None:
    v, f = voxel_surface(np.array([[3, 3, 3]]), 8)
    assert f.shape == (12, 3) and v.shape == (24, 3)
    _, f2 = voxel_surface(np.array([[3, 3, 3], [4, 3, 3]]), 8)
    assert f2.shape == (20, 3)  # the shared face is hidden on both sides
    assert np.allclose(v.min(0), 3 / 8 - 0.5) and np.allclose(v.max(0), 4 / 8 - 0.5)


def test_voxel_surface_triangles_face_outwards() -> None:
    v, f = voxel_surface(np.array([[0, 0, 0]]), 1)
    tri = v[f]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    outward = tri.mean(1) - v.mean(0)
    assert (np.einsum("ij,ij->i", normals, outward) > 0).all()


def test_voxel_preview_is_a_glb_with_a_png_thumbnail() -> None:
    glb, png = voxel_preview(np.array([[1, 2, 3], [1, 2, 4]]), 16)
    assert glb[:4] == b"glTF"
    thumb = Image.open(io.BytesIO(png))
    assert thumb.size == (128, 128)
    assert np.asarray(thumb).std() > 0  # something was drawn


def test_mesh_preview_skips_meshes_without_faces() -> None:
    assert mesh_preview(np.zeros((0, 3)), np.zeros((0, 3), np.int64)) is None
    verts = np.array([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0]], np.float32)
    out = mesh_preview(verts, np.array([[0, 1, 2]]))
    assert out is not None and out[0][:4] == b"glTF"
