# SPDX-License-Identifier: MIT
"""O-Voxel ops against the reference's outputs (fixtures made by running TRELLIS.2 / FlexGEMM)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from tests.utils import assert_verbose_allclose
from trellis2.representations.o_voxel import VoxelHash, flexible_dual_grid_to_mesh, grid_sample_3d

AABB = [[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]]


@pytest.fixture(scope="module")
def shape_dec_io(shared_dir):
    return load_file(str(shared_dir / "fixtures" / "parity" / "shape_dec_io.safetensors"))


@pytest.fixture(scope="module")
def flexgemm_io(shared_dir):
    return load_file(str(shared_dir / "fixtures" / "parity" / "flexgemm_ops_io.safetensors"))


@pytest.mark.parametrize("batch", [0, 1])
def test_mesh_extraction_reproduces_reference_faces_in_order(shape_dec_io, batch):
    d = shape_dec_io
    sel = d["output.coords"][:, 0] == batch
    vertices, faces = flexible_dual_grid_to_mesh(
        d["output.coords"][sel, 1:],
        d["output.vertices"][sel],
        d["output.intersected"][sel],
        d["output.quad_lerp"][sel],
        AABB,
        grid_size=128,
    )
    assert_verbose_allclose(
        vertices, d[f"output.mesh.{batch}.vertices"], atol=1e-6, rtol=0, name="vertices"
    )
    assert_verbose_allclose(faces, d[f"output.mesh.{batch}.faces"].long(), name="faces")


def test_mesh_extraction_with_voxel_size_equals_grid_size(shape_dec_io):
    d = shape_dec_io
    sel = d["output.coords"][:, 0] == 0
    args = (d["output.coords"][sel, 1:], d["output.vertices"][sel], d["output.intersected"][sel])
    v1, f1 = flexible_dual_grid_to_mesh(*args, d["output.quad_lerp"][sel], AABB, grid_size=128)
    v2, f2 = flexible_dual_grid_to_mesh(*args, d["output.quad_lerp"][sel], AABB, voxel_size=1 / 128)
    assert torch.equal(f1, f2)
    assert_verbose_allclose(v1, v2, atol=1e-7, rtol=0)


def test_mesh_extraction_without_weights_picks_the_flatter_split():
    # One x-edge quad bent along the 1-3 diagonal: splitting on 1-3 keeps both triangles coplanar.
    coords = torch.tensor([[0, 0, 0], [0, 0, 1], [0, 1, 1], [0, 1, 0]])
    dual = torch.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0.9, 0.5, 0.5], [0.5, 0.5, 0.5]])
    flags = torch.tensor([[True, False, False]] + [[False, False, False]] * 3)
    _, faces = flexible_dual_grid_to_mesh(coords, dual, flags, None, AABB, grid_size=4)
    assert faces.tolist() == [[0, 1, 3], [3, 1, 2]]


@pytest.mark.parametrize("dense_cells", [1 << 25, 0], ids=["dense_table", "sorted_keys"])
@pytest.mark.parametrize("mode", ["trilinear", "nearest"])
def test_sparse_grid_sample_matches_flexgemm(flexgemm_io, monkeypatch, mode, dense_cells):
    monkeypatch.setattr(VoxelHash, "DENSE_MAX_CELLS", dense_cells)
    g = flexgemm_io
    out = grid_sample_3d(g["gs.feats"], g["gs.coords"], g["gs.shape"].tolist(), g["gs.query"], mode)
    assert_verbose_allclose(out, g[f"gs.out_{mode}"], atol=1e-6, rtol=1e-6, name=mode)


def test_mesh_with_voxel_query_attrs_is_the_sparse_trilinear_sample(flexgemm_io):
    from trellis2.representations.mesh import MeshWithVoxel

    g = flexgemm_io
    first = g["gs.coords"][:, 0] == 0
    coords, feats = g["gs.coords"][first, 1:], g["gs.feats"][first]
    res = int(g["gs.shape"][2])
    xyz = g["gs.query"][0] / res - 0.5  # voxel units → world, origin -0.5, voxel 1/res
    mesh = MeshWithVoxel(
        xyz[:3],
        torch.tensor([[0, 1, 2]]),
        [-0.5] * 3,
        1 / res,
        coords,
        feats,
        [1, 6, res, res, res],
        {"base_color": slice(0, 3)},
    )
    expected = g["gs.out_trilinear"][0]
    # Queries outside the volume are clipped by FlexGEMM's shape; compare those inside.
    inside = ((g["gs.query"][0] >= 0) & (g["gs.query"][0] < res)).all(1)
    assert_verbose_allclose(mesh.query_attrs(xyz)[inside], expected[inside], atol=1e-5, rtol=1e-5)


@pytest.mark.gpu
def test_mesh_extraction_and_sampling_on_cuda_equal_the_cpu_results(shape_dec_io, flexgemm_io):
    d = shape_dec_io
    sel = d["output.coords"][:, 0] == 0
    args = [d["output.coords"][sel, 1:], d["output.vertices"][sel], d["output.intersected"][sel]]
    w = d["output.quad_lerp"][sel]
    v_cpu, f_cpu = flexible_dual_grid_to_mesh(*args, w, AABB, grid_size=128)
    v_gpu, f_gpu = flexible_dual_grid_to_mesh(
        *[a.cuda() for a in args], w.cuda(), AABB, grid_size=128
    )
    assert torch.equal(f_gpu.cpu(), f_cpu)
    assert_verbose_allclose(v_gpu.cpu(), v_cpu, atol=1e-6, rtol=0)
    g = flexgemm_io
    for mode in ("trilinear", "nearest"):
        out = grid_sample_3d(
            g["gs.feats"].cuda(), g["gs.coords"].cuda(), g["gs.shape"].tolist(),
            g["gs.query"].cuda(), mode,
        )  # fmt: skip
        assert_verbose_allclose(out.cpu(), g[f"gs.out_{mode}"], atol=1e-5, rtol=1e-5, name=mode)
