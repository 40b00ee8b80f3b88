# SPDX-License-Identifier: MIT
"""glTF → O-Voxel → GLB on a real asset (CC-BY barrel), with fidelity thresholds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from tests.gltf_validation import problems, validate
from trellis2.generation.types import ExportSettings
from trellis2.postprocess.convert import convert_asset
from trellis2.representations.o_voxel import flexible_dual_grid_to_mesh
from trellis2.representations.o_voxel.mesh_to_ovoxel import mesh_to_flexible_dual_grid

AABB = [[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]]


@pytest.mark.parametrize(
    ("shape", "euler"),
    [
        (lambda: trimesh.creation.icosphere(3, radius=0.4), 2),
        (lambda: trimesh.creation.box((0.5, 0.6, 0.7)), 2),
        (lambda: trimesh.creation.annulus(0.2, 0.35, 0.3), 0),
    ],
    ids=["sphere", "box", "torus_like_annulus"],
)
def test_mesh_to_ovoxel_and_back_keeps_topology_and_surface(shape, euler):
    mesh = shape()
    mesh.apply_transform(trimesh.transformations.rotation_matrix(0.3, [1, 2, 3]))
    coords, dual, flags = mesh_to_flexible_dual_grid(
        torch.tensor(mesh.vertices), torch.tensor(mesh.faces), 48, AABB
    )
    assert ((dual >= 0) & (dual <= 1)).all()
    v, f = flexible_dual_grid_to_mesh(coords, dual, flags, None, AABB, grid_size=48)
    out = trimesh.Trimesh(v.numpy(), f.numpy())
    assert out.euler_number == euler
    # Every extracted vertex that is used lies within a fraction of a voxel of the source.
    used = np.unique(f.numpy())
    used = np.random.default_rng(0).choice(used, size=min(len(used), 1500), replace=False)
    _, dist, _ = trimesh.proximity.closest_point_naive(mesh, v.numpy()[used])
    assert float(np.mean(dist)) * 48 < 0.1
    assert float(np.max(dist)) * 48 < 0.75


@pytest.mark.npm
def test_barrel_round_trip_is_faithful_and_validator_clean(shared_dir, tmp_path):
    settings = ExportSettings(decimation_target=20_000, texture_size=512)
    asset, report = convert_asset(
        shared_dir / "assets" / "gltf" / "webgltf_barrel.glb", 128, settings, name="barrel"
    )
    path = tmp_path / asset.files[0].name
    path.write_bytes(asset.files[0].data)
    assert problems(validate(path)) == []
    assert asset.triangle_count <= 20_000
    # Goals (issue 4, at resolution 512): Chamfer <= 0.5 voxel, PSNR >= 30 dB. At 128 the
    # geometry is far inside the goal; colour detail of the 2048^2 source is lost at 128 voxels
    # (measured ~27 dB), so the colour threshold here guards against regressions only.
    assert report.chamfer_voxels <= 0.1
    assert report.base_color_psnr_db >= 26.0
