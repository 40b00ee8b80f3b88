# SPDX-License-Identifier: MIT
"""Narrow-band dual-contouring remesh: closed, edge-manifold, outward shells near the input."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
import trimesh

import trellis2.postprocess.remesh as remesh_module
from tests.gltf_validation import problems, validate
from tests.utils import ovoxel_mesh
from trellis2.postprocess import PBR_ATTR_LAYOUT, to_glb
from trellis2.postprocess.closest_point import SubdividedSurface
from trellis2.postprocess.convert import AABB, asset_to_ovoxel
from trellis2.postprocess.decimate import surface_error
from trellis2.postprocess.remesh import drop_inner_shells, remesh_narrow_band_dc
from trellis2.postprocess.remesh_band import closest_point_on_triangles
from trellis2.postprocess.topology import directed_edges, unique_edges
from trellis2.representations.o_voxel.gltf_source import load_gltf

RES = 48
H = 1.0 / RES  # O-Voxel cell size in the unit aabb


@pytest.fixture(scope="module")
def fox(shared_dir):
    """khronos_fox through the O-Voxel conversion at RES: (ovoxel, vertices, faces)."""
    src = load_gltf(shared_dir / "assets" / "gltf" / "khronos_fox.glb")
    src.normalize()
    ov = asset_to_ovoxel(src, RES)
    v, f = ovoxel_mesh(ov, RES)
    return ov, v, f


def remesh(v, f, project_back=0.0):
    return remesh_narrow_band_dc(
        v, f, center=[0, 0, 0], scale=(RES + 3) / RES, resolution=RES, project_back=project_back
    )


@pytest.fixture(scope="module")
def fox_projected(fox):
    """The fox remeshed with the to_glb default projection (0.9)."""
    _, v, f = fox
    return remesh(v, f, project_back=0.9)


def assert_closed_oriented_manifold(v: torch.Tensor, f: torch.Tensor) -> None:
    vn, fn = v.numpy(), f.numpy()
    _, _, counts = unique_edges(fn, len(vn))
    assert (counts == 2).all(), np.bincount(counts)
    # Consistent winding: every directed edge occurs once (its twin runs the other way).
    d = directed_edges(fn)
    assert len(np.unique(d[:, 0] * len(vn) + d[:, 1])) == len(d)
    assert trimesh.Trimesh(vn, fn, process=False).volume > 0


def test_closest_points_on_triangles_match_trimesh():
    rng = np.random.default_rng(0)
    tri = rng.normal(size=(4000, 3, 3))
    p = rng.normal(size=(4000, 3)) * 1.5
    t = torch.from_numpy(tri.reshape(-1, 9).T.copy())
    got = closest_point_on_triangles(torch.from_numpy(p.T.copy()), t).T.numpy()
    want = trimesh.triangles.closest_point(tri, p)
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_remeshed_fox_is_a_closed_outward_shell_one_band_from_the_surface(fox):
    _, v, f = fox
    rv, rf = remesh(v, f)
    assert_closed_oriented_manifold(rv, rf)
    err = surface_error(v.numpy(), f.numpy(), rv.numpy(), rf.numpy(), n_samples=20_000)
    # Without projection every vertex sits on the UDF = band level set (band = 1 cell).
    assert abs(err["chamfer"] / H - 1.0) < 0.5, err
    # Normals point away from the input surface: a step along the normal increases the UDF.
    tri = rv[rf]
    n = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n = n / n.norm(dim=1, keepdim=True).clamp_min(1e-20)
    c = tri.mean(1)
    probe = torch.cat([c + 0.3 * H * n, c - 0.3 * H * n]).numpy()
    surface = SubdividedSurface(v.numpy(), f.numpy(), H)
    d = np.linalg.norm(surface.project(probe.astype(np.float32))[0] - probe, axis=1)
    out, inn = d[: len(c)], d[len(c) :]
    assert (out > inn).mean() > 0.97


def test_projected_remesh_stays_closed_and_within_half_a_voxel(fox, fox_projected):
    _, v, f = fox
    rv, rf = fox_projected
    assert_closed_oriented_manifold(rv, rf)
    err = surface_error(v.numpy(), f.numpy(), rv.numpy(), rf.numpy(), n_samples=20_000)
    assert err["chamfer"] / H < 0.5, err
    # The fox is closed: an outer shell and an inward-facing inner one, which is dropped.
    sv, sf = drop_inner_shells(rv, rf)
    assert 0 < len(sf) < len(rf)
    assert_closed_oriented_manifold(sv, sf)


def test_open_sheet_becomes_a_thin_closed_shell():
    square = torch.tensor([[-0.3, -0.3, 0.0], [0.3, -0.3, 0.0], [0.3, 0.3, 0.0], [-0.3, 0.3, 0.0]])
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    rv, rf = remesh_narrow_band_dc(square, faces, center=[0, 0, 0], scale=1.0, resolution=32)
    assert_closed_oriented_manifold(rv, rf)
    vol = trimesh.Trimesh(rv.numpy(), rf.numpy(), process=False).volume
    # A slab of thickness 2 eps over the square (plus the rounded rim).
    eps = 1.0 / 32
    assert 0.36 * 2 * eps < vol < 0.44 * 2 * eps


def test_close_tilted_sheets_give_a_manifold_shell_thanks_to_the_sign_fix_up(monkeypatch):
    """Two tilted sheets 2.5 cells apart: their bands touch along checkerboard grid faces, whose
    edges would each be shared by four faces; the sign fix-up opens them."""
    rot = torch.tensor(trimesh.transformations.rotation_matrix(0.9, [1, 2, 3])[:3, :3])
    quad = torch.tensor([[-0.3, -0.3, 0.0], [0.3, -0.3, 0.0], [0.3, 0.3, 0.0], [-0.3, 0.3, 0.0]])
    v = (torch.cat([quad, quad + torch.tensor([0.0, 0.0, 2.5 / 32])]).double() @ rot.T).float()
    f = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    kw = {"center": [0, 0, 0], "scale": 1.0, "resolution": 32}
    rv, rf = remesh_narrow_band_dc(v, f, **kw)
    assert_closed_oriented_manifold(rv, rf)
    monkeypatch.setattr(remesh_module, "_fix_ambiguous_faces", lambda *args: 0)
    bv, bf = remesh_narrow_band_dc(v, f, **kw)
    _, _, counts = unique_edges(bf.numpy(), len(bv))
    assert (counts == 4).any()


@pytest.mark.npm
def test_to_glb_with_remesh_writes_a_validator_clean_single_sided_file(fox, tmp_path):
    ov, v, f = fox
    glb = to_glb(
        v,
        f,
        torch.from_numpy(ov.attrs),
        torch.from_numpy(ov.coords),
        PBR_ATTR_LAYOUT,
        AABB,
        grid_size=RES,
        decimation_target=3000,
        texture_size=256,
        remesh=True,
    )
    path = tmp_path / "fox.glb"
    glb.export(str(path))
    assert problems(validate(path)) == []
    data = path.read_bytes()
    (jlen,) = struct.unpack("<I", data[12:16])
    doc = json.loads(data[20 : 20 + jlen])
    assert not doc["materials"][0].get("doubleSided", False)
    assert 0 < len(glb.faces) <= 3000


@pytest.mark.gpu
def test_remesh_on_cuda_matches_the_cpu(fox, fox_projected):
    _, v, f = fox
    cv, cf = fox_projected
    gv, gf = remesh(v.cuda(), f.cuda(), project_back=0.9)
    assert gv.is_cuda and gf.is_cuda
    assert_closed_oriented_manifold(gv.cpu(), gf.cpu())
    # Float rounding may flip the sign of a corner sitting on the level set: allow a few faces.
    assert abs(len(gf) - len(cf)) <= 0.01 * len(cf)
    if len(gf) == len(cf):
        np.testing.assert_allclose(gv.cpu().numpy(), cv.numpy(), atol=1e-4)


def test_convert_cli_remesh_flag_exports_the_remeshed_shell(shared_dir, tmp_path, capsys):
    from trellis2_server.cli import main as cli_main

    out = tmp_path / "fox.glb"
    source = shared_dir / "assets" / "gltf" / "khronos_fox.glb"
    args = ["convert", str(source), "-o", str(out), "--resolution", "32", "--texture-size", "128"]
    code = cli_main([*args, "--decimation-target", "2000", "--remesh", "--report"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert "remesh" in report["timings"]
    assert 0 < report["triangles"] <= 2000
    assert report["chamfer_voxels"] < 0.5
