# SPDX-License-Identifier: MIT
"""Mesh clean-up operations, alpha-mode choice and the export of a textured asset with alpha."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from tests.gltf_validation import problems, validate
from trellis2.generation.types import ExportSettings
from trellis2.postprocess.bake import choose_alpha_mode
from trellis2.postprocess.cleanup import (
    fill_holes,
    remove_degenerate_faces,
    remove_duplicate_faces,
    remove_small_connected_components,
    repair_non_manifold_edges,
    unify_face_orientations,
)
from trellis2.postprocess.convert import convert_asset


def sphere() -> tuple[np.ndarray, np.ndarray]:
    m = trimesh.creation.icosphere(2, radius=0.4)
    return m.vertices.astype(np.float32), m.faces.astype(np.int64)


def test_duplicate_and_degenerate_faces_are_removed():
    v, f = sphere()
    dup = np.concatenate([f, f[:5, ::-1], [[0, 0, 1], [2, 3, 3]]])
    _, out = remove_duplicate_faces(*remove_degenerate_faces(v, dup))
    assert np.array_equal(out, f)


def test_small_components_are_dropped_and_large_ones_kept():
    v, f = sphere()
    tiny = np.array([[0, 0, 0], [1e-3, 0, 0], [0, 1e-3, 0]], np.float32) + 2.0
    v2 = np.concatenate([v, tiny])
    f2 = np.concatenate([f, [[len(v), len(v) + 1, len(v) + 2]]])
    _, out = remove_small_connected_components(v2, f2, 1e-5)
    assert np.array_equal(out, f)


def test_holes_up_to_the_perimeter_are_closed_and_larger_ones_left_open():
    v, f = sphere()
    holed = np.delete(f, [0, 50], axis=0)
    assert not trimesh.Trimesh(v, holed, process=False).is_watertight
    v_closed, f_closed = fill_holes(v, holed, max_hole_perimeter=1.0)
    assert trimesh.Trimesh(v_closed, f_closed, process=False).is_watertight
    _, f_open = fill_holes(v, holed, max_hole_perimeter=1e-3)
    assert len(f_open) == len(holed)


def test_non_manifold_edges_keep_at_most_two_faces():
    v, f = sphere()
    a, b = f[0, 0], f[0, 1]
    v2 = np.concatenate([v, [[1.0, 1.0, 1.0], [1.2, 1.0, 1.0]]]).astype(np.float32)
    fins = np.array([[a, b, len(v)], [b, a, len(v) + 1]])
    _, out = repair_non_manifold_edges(v2, np.concatenate([f, fins]))
    edges = np.sort(np.concatenate([out[:, [0, 1]], out[:, [1, 2]], out[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert counts.max() == 2


def test_random_face_flips_are_undone_and_normals_point_outward():
    v, f = sphere()
    rng = np.random.default_rng(0)
    flip = rng.random(len(f)) < 0.4
    scrambled = np.where(flip[:, None], f[:, ::-1], f)
    _, fixed = unify_face_orientations(v, scrambled)
    mesh = trimesh.Trimesh(v, fixed, process=False)
    assert mesh.is_winding_consistent
    assert mesh.volume > 0


@pytest.mark.parametrize(
    ("alpha", "mode"),
    [(1.0, "OPAQUE"), ("binary", "MASK"), ("ramp", "BLEND")],
)
def test_alpha_mode_follows_the_data(alpha, mode):
    mask = np.ones((32, 32), bool)
    if alpha == "binary":
        a = np.where(np.arange(32)[None, :] < 16, 0.0, 1.0) * np.ones((32, 1))
    elif alpha == "ramp":
        a = np.linspace(0, 1, 32)[None, :] * np.ones((32, 1))
    else:
        a = np.ones((32, 32))
    assert choose_alpha_mode(a[..., None].astype(np.float32), mask) == mode


@pytest.mark.npm
def test_asset_with_blended_alpha_exports_blend_and_double_sided_sheets(shared_dir, tmp_path):
    settings = ExportSettings(decimation_target=20_000, texture_size=256)
    asset, _ = convert_asset(
        shared_dir / "assets" / "gltf" / "khronos_alpha_blend_mode_test.glb",
        64,
        settings,
        with_report=False,
    )
    path = tmp_path / asset.files[0].name
    path.write_bytes(asset.files[0].data)
    assert problems(validate(path)) == []
    assert asset.alpha_mode in ("BLEND", "MASK")


def test_ambient_occlusion_darkens_an_inner_corner_and_leaves_open_faces_lit():
    import torch

    from trellis2.postprocess.occlusion import vertex_ambient_occlusion
    from trellis2.representations.o_voxel.mesh_to_ovoxel import mesh_to_flexible_dual_grid

    a = trimesh.creation.box((0.6, 0.2, 0.2))
    b = trimesh.creation.box((0.2, 0.2, 0.6))
    b.apply_translation((0.2, 0, 0.2))
    shape = trimesh.util.concatenate([a, b])  # an L: the top of the long bar meets a wall
    coords, _, _ = mesh_to_flexible_dual_grid(
        torch.tensor(shape.vertices), torch.tensor(shape.faces), 64, [[-0.5] * 3, [0.5] * 3]
    )
    points = np.array([[-0.3, 0, 0.1001], [0.08, 0, 0.1001]], np.float32)
    up = np.array([[0, 0, 1.0], [0, 0, 1.0]], np.float32)
    ao = vertex_ambient_occlusion(points, up, coords.numpy(), np.full(3, -0.5), 1 / 64, 64)
    assert ao[0] > 0.95  # open top far from the wall
    assert ao[1] < 0.7  # next to the wall
