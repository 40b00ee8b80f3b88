# SPDX-License-Identifier: MIT
"""Texel snapping (closest point on the dense mesh), gutter inpainting and the torch clean-up
twins used by the CUDA export path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from trellis2.postprocess.bake import fill_gutters, gutter_band
from trellis2.postprocess.cleanup import (
    clean_mesh,
    fill_holes,
    remove_duplicate_faces,
    repair_non_manifold_edges,
    unify_face_orientations,
)
from trellis2.postprocess.closest_point import SurfaceProjector
from trellis2.representations.o_voxel import flexible_dual_grid_to_mesh
from trellis2.representations.o_voxel.mesh_to_ovoxel import mesh_to_flexible_dual_grid

AABB = [[-0.5] * 3, [0.5] * 3]
RES = 48


@pytest.fixture(scope="module")
def dense_mesh() -> tuple[np.ndarray, np.ndarray]:
    m = trimesh.creation.icosphere(4, radius=0.33)
    theta = np.arctan2(m.vertices[:, 1], m.vertices[:, 0])
    v = m.vertices * (1 + 0.08 * np.sin(5 * theta))[:, None]
    coords, dual, flags = mesh_to_flexible_dual_grid(
        torch.tensor(v), torch.tensor(m.faces), RES, AABB
    )
    v, f = flexible_dual_grid_to_mesh(coords, dual, flags, None, AABB, grid_size=RES)
    return v.numpy(), f.numpy()


def near_surface_points(v: np.ndarray, f: np.ndarray, n: int, spread: float) -> np.ndarray:
    mesh = trimesh.Trimesh(v, f, process=False)
    pts, _ = trimesh.sample.sample_surface(mesh, n, seed=0)
    rng = np.random.default_rng(1)
    return (pts + rng.normal(size=pts.shape) * spread).astype(np.float32)


def test_closest_points_match_brute_force_on_near_surface_queries(dense_mesh):
    v, f = dense_mesh
    pts = near_surface_points(v, f, 700, 0.4 / RES)
    # A few far queries exercise the KD-tree fallback (nearest vertex beyond one cell).
    pts[:20] *= 1.3
    proj = SurfaceProjector(v, f, cell_size=1.0 / RES)
    p, face, bary = proj.project(pts)
    _, truth, _ = trimesh.proximity.closest_point_naive(trimesh.Trimesh(v, f, process=False), pts)
    got = np.linalg.norm(p - pts, axis=1)
    # The face/barycentrics describe the returned point.
    np.testing.assert_allclose((v[f[face]] * bary[:, :, None]).sum(1), p, atol=1e-5)
    # Never nearer than the true closest point; exact for nearly all queries (the 1-ring of the
    # nearest vertex misses the closest face only rarely) and then off by well under a voxel.
    assert (got >= truth - 1e-6).all()
    exact = np.abs(got - truth) < 1e-6
    assert exact.mean() > 0.98, exact.mean()
    err = (got - truth)[20:]
    assert np.quantile(err, 0.995) < 0.02 / RES
    assert err.max() < 0.5 / RES


def test_cell_and_query_slices_do_not_change_the_projection(dense_mesh, monkeypatch):
    """The cell search and the projection run in slices to bound GPU memory; tiny slices
    (including the far queries' wider search and KD-tree) give bit-identical results."""
    from trellis2.postprocess import closest_point

    v, f = dense_mesh
    pts = near_surface_points(v, f, 3000, 0.4 / RES)
    pts[:50] *= 1.3
    whole = SurfaceProjector(v, f, cell_size=1.0 / RES).project(pts)
    monkeypatch.setattr(closest_point, "CELL_CHUNK", 37)
    monkeypatch.setattr(closest_point, "PROJECT_CHUNK", 101)
    sliced = SurfaceProjector(v, f, cell_size=1.0 / RES).project(pts)
    for a, b in zip(whole, sliced, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.gpu
def test_closest_points_on_cuda_equal_the_cpu_ones(dense_mesh):
    v, f = dense_mesh
    pts = near_surface_points(v, f, 5000, 0.4 / RES)
    cpu = SurfaceProjector(v, f, cell_size=1.0 / RES).project(pts)
    gpu = SurfaceProjector(v, f, cell_size=1.0 / RES, device="cuda").project(pts)
    d_cpu = np.linalg.norm(cpu[0] - pts, axis=1)
    d_gpu = np.linalg.norm(gpu[0] - pts, axis=1)
    np.testing.assert_allclose(d_cpu, d_gpu, atol=1e-6)
    # Equidistant faces (a query on a fold's bisector) may resolve either way.
    assert (np.abs(cpu[0] - gpu[0]).max(1) < 1e-5).mean() > 0.995


def two_chart_gradient(size: int = 64, gap: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A horizontal colour ramp covered everywhere except a vertical gutter of `gap` columns
    and an empty border (two charts with a seam between them)."""
    x = np.linspace(0.0, 1.0, size, dtype=np.float32)
    img = np.stack(np.broadcast_arrays(x[None, :], 0.5 * x[None, :], 1.0 - x[None, :]), -1)
    img = np.ascontiguousarray(np.broadcast_to(img, (size, size, 3)))
    mask = np.zeros((size, size), bool)
    mid = size // 2
    mask[8:-8, 8 : mid - gap // 2] = True
    mask[8:-8, mid + gap - gap // 2 : -8] = True
    return np.where(mask[..., None], img, 0.0).astype(np.float32), mask


def test_gutter_fill_leaves_no_empty_texel_and_continues_colours_across_a_seam():
    img, mask = two_chart_gradient()
    out = fill_gutters({"base_color": (img, 3)}, mask)["base_color"]
    # Covered texels keep their exact values.
    np.testing.assert_array_equal(out[mask], img[mask])
    # No black texel anywhere (mip-maps never pull in background), none next to a chart.
    assert (out.sum(-1) > 0.2).all()
    band = gutter_band(mask, 1)
    assert band.any() and (out[band].sum(-1) > 0.2).all()
    # Across the seam the ramp continues: gutter values lie between the two sides and step
    # by no more than a few ramp steps from column to column.
    rows = slice(12, -12)
    r = out[rows, :, 0].mean(0)
    left, right = 32 - 2 - 1, 32 + 2
    seam = r[left : right + 1]
    assert (seam >= r[left] - 1e-2).all() and (seam <= r[right] + 1e-2).all()
    assert np.abs(np.diff(seam)).max() < 4 * (1.0 / 63) + 1e-2


def test_gutter_fill_of_several_maps_runs_each_on_its_own_channels():
    img, mask = two_chart_gradient(48, 2)
    grey = img[..., :1].copy()
    out = fill_gutters({"a": (img, 1), "b": (grey, 1)}, mask, threads=2)
    assert out["a"].shape == img.shape and out["b"].shape == grey.shape
    np.testing.assert_allclose(out["a"][..., :1], out["b"], atol=2.5 / 255)
    with pytest.raises(ValueError, match="must be"):
        fill_gutters({"bad": (img[..., :2], 1)}, mask)


def damaged_sphere() -> tuple[np.ndarray, np.ndarray]:
    m = trimesh.creation.icosphere(3, radius=0.4)
    v, f = m.vertices.astype(np.float32), m.faces.astype(np.int64)
    rng = np.random.default_rng(0)
    f = f[rng.random(len(f)) > 0.01]  # small holes
    f = np.where((rng.random(len(f)) < 0.3)[:, None], f[:, ::-1], f)  # flipped faces
    extra = [f[:10], f[:4, [0, 2, 1]], [[f[100, 0], f[100, 1], 0]]]  # duplicates, non-manifold
    return v, np.concatenate([f, *extra])


@pytest.mark.parametrize(
    "op",
    [
        lambda v, f: fill_holes(v, f, 0.05),
        unify_face_orientations,
        remove_duplicate_faces,
        repair_non_manifold_edges,
        clean_mesh,
    ],
    ids=["fill_holes", "unify_orientations", "duplicates", "non_manifold", "clean_mesh"],
)
def test_torch_clean_up_gives_the_numpy_result(op):
    v, f = damaged_sphere()
    ref_v, ref_f = op(v, f)
    got_v, got_f = op(torch.from_numpy(v), torch.from_numpy(f))
    np.testing.assert_array_equal(got_f.numpy(), ref_f)
    np.testing.assert_allclose(got_v.numpy(), ref_v, atol=1e-6)
