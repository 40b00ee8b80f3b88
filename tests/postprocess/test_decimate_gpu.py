# SPDX-License-Identifier: MIT
"""The torch parallel quadric decimator: face target, manifold output, kept orientation and
borders, error comparable to fast-simplification, determinism, dispatch, CUDA vs CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from trellis2.postprocess.cleanup import unify_face_orientations
from trellis2.postprocess.closest_point import SurfaceProjector
from trellis2.postprocess.decimate import simplify, surface_error
from trellis2.postprocess.topology import face_normals, unique_edges

AABB = [[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]]


def uv_sphere() -> tuple[np.ndarray, np.ndarray]:
    m = trimesh.creation.uv_sphere(radius=0.4, count=[64, 64])
    return m.vertices.astype(np.float32), m.faces.astype(np.int64)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small meshes: per-op overhead dominates and two threads spin-wait on shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def raw_voxel_mesh(shared_dir) -> tuple[np.ndarray, np.ndarray]:
    """The barrel asset through O-Voxel at 64³ and back: a real dual-grid mesh (~33k faces,
    a few non-manifold edges where thin walls touch)."""
    from trellis2.representations.o_voxel import flexible_dual_grid_to_mesh
    from trellis2.representations.o_voxel.gltf_source import load_gltf
    from trellis2.representations.o_voxel.mesh_to_ovoxel import mesh_to_flexible_dual_grid

    src = load_gltf(shared_dir / "assets" / "gltf" / "webgltf_barrel.glb")
    src.normalize()
    coords, dual, inter = mesh_to_flexible_dual_grid(
        torch.from_numpy(src.vertices), torch.from_numpy(src.faces), 64, AABB
    )
    v, f = flexible_dual_grid_to_mesh(coords, dual, inter, None, AABB, grid_size=64)
    return v.numpy().astype(np.float32), f.numpy().astype(np.int64)


@pytest.fixture(scope="module")
def voxel_mesh(shared_dir) -> tuple[np.ndarray, np.ndarray]:
    """The preview body of apple.png at grid 64 (the dense case of bench/export.py, small):
    a closed, manifold dual-grid mesh of ~23k faces, oriented as the export path does."""
    from PIL import Image

    from trellis2.preview.body import build_ovoxel
    from trellis2.preview.silhouette import crop_to_object, image_to_rgba, resize_rgba
    from trellis2.representations.o_voxel import flexible_dual_grid_to_mesh

    rgba = crop_to_object(image_to_rgba(Image.open(shared_dir / "images" / "apple.png")))
    ov = build_ovoxel(resize_rgba(rgba, 128), 64)
    v, f = flexible_dual_grid_to_mesh(
        torch.from_numpy(ov.coords.astype(np.int64)),
        torch.from_numpy(ov.dual_vertices),
        torch.from_numpy(ov.intersected),
        None,
        AABB,
        grid_size=64,
    )
    return unify_face_orientations(v.numpy().astype(np.float32), f.numpy().astype(np.int64))


def open_sheet() -> tuple[np.ndarray, np.ndarray]:
    """A bumpy 60×60 height field: an open surface with a square border."""
    n = 60
    x, y = np.meshgrid(np.linspace(-0.4, 0.4, n), np.linspace(-0.4, 0.4, n), indexing="ij")
    z = 0.05 * np.sin(8 * x) * np.cos(6 * y)
    v = np.stack([x, y, z], -1).reshape(-1, 3).astype(np.float32)
    i = np.arange(n - 1)[:, None] * n + np.arange(n - 1)[None, :]
    i = i.reshape(-1)
    f = np.concatenate([np.stack([i, i + n, i + 1], 1), np.stack([i + 1, i + n, i + n + 1], 1)])
    return v, f.astype(np.int64)


def edge_face_counts(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    return unique_edges(f, len(v))[2]


def flipped_share(v0: np.ndarray, f0: np.ndarray, v: np.ndarray, f: np.ndarray) -> float:
    """Share of output faces whose normal opposes the original face nearest their centroid."""
    centroid = v[f].mean(1)
    _, face, _ = SurfaceProjector(v0, f0).project(centroid)
    dots = (face_normals(v, f) * face_normals(v0, f0)[face]).sum(1)
    return float((dots < 0).mean())


def torch_decimate(v: np.ndarray, f: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    return simplify(v, f, target, method="torch")


@pytest.mark.parametrize("mesh", ["sphere", "voxel"])
def test_mesh_decimated_tenfold_hits_target_and_stays_manifold_closed_and_oriented(
    mesh, voxel_mesh
):
    v0, f0 = uv_sphere() if mesh == "sphere" else voxel_mesh
    counts0 = edge_face_counts(v0, f0)
    assert counts0.max() == 2
    assert counts0.min() == 2  # closed
    target = len(f0) // 10
    v, f = torch_decimate(v0, f0, target)
    assert target - 1 <= len(f) <= target
    counts = edge_face_counts(v, f)
    assert counts.max() == 2  # edge-manifold
    assert counts.min() == 2  # still closed
    out = trimesh.Trimesh(v, f, process=False)
    assert out.is_winding_consistent and out.volume > 0
    assert flipped_share(v0, f0, v, f) == 0.0
    assert len(v) == len(np.unique(f))  # unused vertices compacted


def test_non_manifold_input_gets_no_new_non_manifold_edges(raw_voxel_mesh):
    v0, f0 = raw_voxel_mesh
    before = int((edge_face_counts(v0, f0) > 2).sum())
    assert before > 0
    v, f = torch_decimate(v0, f0, len(f0) // 10)
    assert len(f) <= 1.1 * (len(f0) // 10)  # vertices on non-manifold edges stay pinned
    assert int((edge_face_counts(v, f) > 2).sum()) <= before


def test_error_is_within_one_and_a_half_times_fast_simplification(voxel_mesh):
    v0, f0 = voxel_mesh
    target = len(f0) // 10
    ours = surface_error(v0, f0, *torch_decimate(v0, f0, target), n_samples=30_000)
    ref = surface_error(v0, f0, *simplify(v0, f0, target), n_samples=30_000)
    assert ours["chamfer"] <= 1.5 * ref["chamfer"], (ours, ref)
    assert ours["hausdorff"] <= 1.5 * ref["hausdorff"], (ours, ref)


def test_open_border_is_kept_in_place():
    v0, f0 = open_sheet()
    v, f = torch_decimate(v0, f0, len(f0) // 10)
    counts = edge_face_counts(v, f)
    assert counts.max() == 2
    # The border stays the same square: its vertices sit on it and its length is unchanged.
    e, inv, cnt = unique_edges(f, len(v))
    border = e[cnt[inv] == 1]
    pts = v[border.reshape(-1)]
    assert np.all(np.isclose(np.abs(pts[:, :2]).max(1), 0.4, atol=1e-4))
    length = np.linalg.norm(v[border[:, 0]] - v[border[:, 1]], axis=1).sum()
    assert length == pytest.approx(4 * 0.8 * np.sqrt(1 + 0.0), rel=0.02)
    assert flipped_share(v0, f0, v, f) == 0.0


def test_same_input_gives_identical_output():
    v0, f0 = uv_sphere()
    a = torch_decimate(v0, f0, 1000)
    b = torch_decimate(v0, f0, 1000)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_edge_and_candidate_slices_do_not_change_the_result(monkeypatch):
    """The per-edge and per-candidate tables are built in slices to bound GPU memory; tiny
    slices (many per pass) must give bit-identical output to one slice per pass."""
    from trellis2.postprocess import decimate_gpu

    v0, f0 = uv_sphere()
    whole = torch_decimate(v0, f0, 1000)
    monkeypatch.setattr(decimate_gpu, "EDGE_CHUNK", 1000)
    monkeypatch.setattr(decimate_gpu, "CAND_CHUNK", 333)
    sliced = torch_decimate(v0, f0, 1000)
    assert np.array_equal(whole[0], sliced[0]) and np.array_equal(whole[1], sliced[1])


def test_dispatch_keeps_the_input_type_and_selects_the_method():
    v0, f0 = uv_sphere()
    v_np, f_np = simplify(v0, f0, 2000)  # numpy on CPU: fast-simplification
    assert isinstance(v_np, np.ndarray) and len(f_np) <= 2000
    v_t, f_t = simplify(torch.from_numpy(v0), torch.from_numpy(f0), 2000, method="torch")
    assert isinstance(v_t, torch.Tensor) and f_t.dtype == torch.int64 and len(f_t) >= 2000
    small_v, small_f = simplify(v0, f0, len(f0) + 1, method="torch")
    assert small_v is v0 and small_f is f0
    with pytest.raises(ValueError, match="unknown decimation method"):
        simplify(v0, f0, 10, method="qslim")  # type: ignore[arg-type]


@pytest.mark.gpu
def test_cuda_and_cpu_both_give_valid_decimations(voxel_mesh):
    v0, f0 = voxel_mesh
    target = len(f0) // 10
    results = {}
    for dev in ("cpu", "cuda"):
        vt, ft = torch.from_numpy(v0).to(dev), torch.from_numpy(f0).to(dev)
        # auto picks ours for CUDA tensors; CPU tensors need it named
        v, f = simplify(vt, ft, target, method="auto" if dev == "cuda" else "torch")
        assert v.device.type == dev
        v, f = v.cpu().numpy(), f.cpu().numpy()
        assert target - 1 <= len(f) <= target
        counts = edge_face_counts(v, f)
        assert counts.max() == 2 and counts.min() == 2
        assert flipped_share(v0, f0, v, f) == 0.0
        results[dev] = surface_error(v0, f0, v, f, n_samples=30_000)
    assert results["cuda"]["chamfer"] <= 1.2 * results["cpu"]["chamfer"], results


@pytest.mark.gpu
def test_cuda_runs_are_repeatable(voxel_mesh):
    """Float atomics are avoided (slot-ordered quadric sums), so CUDA results repeat exactly."""
    vt = torch.from_numpy(voxel_mesh[0]).cuda()
    ft = torch.from_numpy(voxel_mesh[1]).cuda()
    a = simplify(vt, ft, len(ft) // 10)
    b = simplify(vt, ft, len(ft) // 10)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
