# SPDX-License-Identifier: MIT
"""`to_glb` keeps the reference's signature and `.export(path, extension_webp=...)` contract."""

from __future__ import annotations

import inspect
import json
import math
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from tests.gltf_validation import problems, validate
from tests.utils import ovoxel_mesh
from trellis2.postprocess import PBR_ATTR_LAYOUT, to_glb
from trellis2.preview.body import build_ovoxel
from trellis2.preview.silhouette import crop_to_object, image_to_rgba
from trellis2.representations.o_voxel import grid_sample_3d

AABB = [[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]]


def test_signature_and_defaults_match_the_reference():
    params = inspect.signature(to_glb).parameters
    assert list(params)[:6] == [
        "vertices", "faces", "attr_volume", "coords", "attr_layout", "aabb",
    ]  # fmt: skip
    defaults = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    assert defaults == {
        "voxel_size": None,
        "grid_size": None,
        "decimation_target": 1000000,
        "texture_size": 2048,
        "remesh": False,
        "remesh_band": 1,
        "remesh_project": 0.9,
        "mesh_cluster_threshold_cone_half_angle_rad": math.radians(90),
        "mesh_cluster_refine_iterations": 0,
        "mesh_cluster_global_iterations": 1,
        "mesh_cluster_smooth_strength": 1,
        "verbose": False,
        "use_tqdm": False,
    }


@pytest.fixture(scope="module")
def small_ovoxel(shared_dir):
    rgba = crop_to_object(image_to_rgba(Image.open(shared_dir / "images" / "banana.png")))
    ov = build_ovoxel(rgba, 48)
    v, f = ovoxel_mesh(ov, 48)
    return ov, v, f


@pytest.mark.npm
@pytest.mark.parametrize("webp", [False, True])
def test_to_glb_export_writes_a_validator_clean_file(small_ovoxel, tmp_path, webp):
    ov, v, f = small_ovoxel
    glb = to_glb(
        v,
        f,
        torch.from_numpy(ov.attrs),
        torch.from_numpy(ov.coords),
        PBR_ATTR_LAYOUT,
        AABB,
        grid_size=48,
        decimation_target=3000,
        texture_size=256,
    )
    path = tmp_path / "sample.glb"
    glb.export(str(path), extension_webp=webp)
    assert problems(validate(path)) == []
    data = path.read_bytes()
    (jlen,) = struct.unpack("<I", data[12:16])
    doc = json.loads(data[20 : 20 + jlen])
    assert ("EXT_texture_webp" in doc.get("extensionsRequired", [])) == webp
    assert len(doc["meshes"][0]["primitives"]) == 1
    assert len(glb.faces) <= 3000


def test_baked_texels_equal_the_sparse_trilinear_sample_of_the_voxels(small_ovoxel):
    """Colour at covered texels is exactly grid_sample_3d at the texel's surface point."""
    ov, v, f = small_ovoxel
    from trellis2.postprocess.export import process_mesh

    mesh = process_mesh(
        v, f, ov.attrs, ov.coords, PBR_ATTR_LAYOUT, AABB, grid_size=48,
        decimation_target=10**6, texture_size=128, normal_map=False,
    )  # fmt: skip
    from trellis2.postprocess.rasterize import rasterize_uv

    fid, bary = rasterize_uv(torch.from_numpy(mesh.uvs), torch.from_numpy(mesh.faces), 128, 128)
    covered = fid >= 0
    tri = torch.from_numpy(mesh.vertices)[torch.from_numpy(mesh.faces)[fid[covered]]]
    pos = (tri * bary[covered][:, :, None]).sum(1)
    c4 = torch.cat([torch.zeros(len(ov.coords), 1, dtype=torch.int64),
                    torch.from_numpy(ov.coords).long()], 1)  # fmt: skip
    ref = grid_sample_3d(
        torch.from_numpy(ov.attrs), c4, (1, 6, 48, 48, 48), ((pos + 0.5) * 48)[None]
    )[0]
    got = mesh.base_color[covered.numpy()]
    np.testing.assert_allclose(got, ref[:, 0:3].clamp(0, 1).numpy(), atol=1e-5)


def test_torch_mesh_path_gives_the_numpy_path_result(small_ovoxel):
    """The CUDA export's torch clean-up, run on the CPU, reproduces the numpy export."""
    from trellis2.postprocess.export import process_mesh

    ov, v, f = small_ovoxel
    kw = {"grid_size": 48, "decimation_target": 3000, "texture_size": 128}
    ref = process_mesh(v, f, ov.attrs, ov.coords, PBR_ATTR_LAYOUT, AABB, **kw)
    got = process_mesh(v, f, ov.attrs, ov.coords, PBR_ATTR_LAYOUT, AABB, torch_mesh=True, **kw)
    np.testing.assert_array_equal(ref.faces, got.faces)
    np.testing.assert_allclose(ref.base_color, got.base_color, atol=1e-5)
    assert ref.normal_map is not None and got.normal_map is not None
    np.testing.assert_allclose(ref.normal_map, got.normal_map, atol=1e-4)


@pytest.mark.gpu
def test_bake_on_cuda_equals_the_cpu_bake(small_ovoxel):
    """Without decimation (same mesh on both sides) the CUDA path bakes the CPU's textures."""
    from trellis2.postprocess.export import process_mesh

    ov, v, f = small_ovoxel
    kw = {"grid_size": 48, "decimation_target": 10**6, "texture_size": 256}
    cpu = process_mesh(v, f, ov.attrs, ov.coords, PBR_ATTR_LAYOUT, AABB, device="cpu", **kw)
    gpu = process_mesh(v, f, ov.attrs, ov.coords, PBR_ATTR_LAYOUT, AABB, device="cuda", **kw)
    np.testing.assert_array_equal(cpu.faces, gpu.faces)
    np.testing.assert_array_equal(cpu.uvs, gpu.uvs)
    from trellis2.postprocess.rasterize import rasterize_uv

    covered = (rasterize_uv(torch.from_numpy(cpu.uvs), torch.from_numpy(cpu.faces), 256, 256)[0]
               >= 0).numpy()  # fmt: skip
    np.testing.assert_allclose(cpu.base_color[covered], gpu.base_color[covered], atol=1e-4)
    # Gutters are 8-bit inpainted: a last-bit difference may round one step the other way.
    assert np.abs(cpu.base_color - gpu.base_color).max() < 0.05
    # Occlusion rays step through voxels in float32: a step on a cell boundary may go either way
    # (one of 12 rays at a few vertices).
    assert np.abs(cpu.occlusion - gpu.occlusion).mean() < 2e-3


@pytest.mark.gpu
def test_decimating_export_on_cuda_meets_the_target_with_a_normal_map(small_ovoxel):
    from trellis2.postprocess.export import process_mesh

    ov, v, f = small_ovoxel
    kw = {"grid_size": 48, "decimation_target": 3000, "texture_size": 256}
    cpu = process_mesh(v, f, ov.attrs, ov.coords, PBR_ATTR_LAYOUT, AABB, device="cpu", **kw)
    gpu = process_mesh(
        v.cuda(), f.cuda(), torch.from_numpy(ov.attrs).cuda(), torch.from_numpy(ov.coords).cuda(),
        PBR_ATTR_LAYOUT, AABB, **kw,
    )  # fmt: skip
    assert 0.5 * 3000 < len(gpu.faces) <= 3000
    assert gpu.normal_map is not None

    # Different decimators, so compare what the textures say about the object, not texels.
    def texture_mean(m):
        return m.base_color.reshape(-1, 3).mean(0)

    np.testing.assert_allclose(texture_mean(cpu), texture_mean(gpu), atol=0.03)
