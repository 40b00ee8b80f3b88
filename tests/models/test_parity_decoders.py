# SPDX-License-Identifier: MIT
"""The SC-VAE decoders and the sparse conv reproduce the reference outputs (fp32)."""

from __future__ import annotations

import pytest
import torch

from tests.utils import assert_verbose_allclose
from trellis2.models import FlexiDualGridVaeDecoder, SparseUnetVaeDecoder, from_pretrained
from trellis2.modules.sparse import SparseTensor, build_neighbor_map, submanifold_conv3d

TOL = {"atol": 1e-4, "rtol": 1e-4}
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]
# Reference intersection logits within rounding of 0 (fixture README): flags there are don't-care.
NEAR_ZERO_FLAGS = [(428, 0), (9681, 1), (10462, 2), (12083, 1)]


@pytest.mark.parametrize("device", DEVICES)
def test_sparse_conv_and_neighbor_map_match_flexgemm(parity_io, device):
    d = {k: v.to(device) for k, v in parity_io("flexgemm_ops").items()}
    nmap = build_neighbor_map(d["conv.coords"])
    assert_verbose_allclose(nmap, d["conv.neighbor_map"], name="neighbor map")
    out = submanifold_conv3d(d["conv.feats"], nmap, d["conv.weight"], d["conv.bias"])
    assert_verbose_allclose(out, d["conv.out"], name="conv out", **TOL)


@pytest.mark.parametrize("device", DEVICES)
def test_shape_decoder_matches_reference_voxels_subdivisions_and_head(
    parity_dir, parity_io, device
):
    d = {k: v.to(device) for k, v in parity_io("shape_dec").items()}
    model = from_pretrained(parity_dir / "shape_dec", device=device)
    assert isinstance(model, FlexiDualGridVaeDecoder)
    model.set_resolution(128)
    x = SparseTensor(d["input.feats"], d["input.coords"])
    vox, subs = model.decode_voxels(x, return_subs=True)
    assert len(subs) == 4
    for i, sub in enumerate(subs):
        assert_verbose_allclose(sub.feats, d[f"output.subs.{i}"], name=f"subs.{i}", **TOL)
    assert_verbose_allclose(vox.coords, d["output.coords"], name="coords")
    assert_verbose_allclose(vox.raw, d["output.raw_feats"], name="raw head", **TOL)
    assert_verbose_allclose(vox.vertices, d["output.vertices"], name="vertices", **TOL)
    assert_verbose_allclose(vox.quad_lerp, d["output.quad_lerp"], name="quad_lerp", **TOL)
    care = torch.ones_like(vox.intersected)
    for r, c in NEAR_ZERO_FLAGS:
        care[r, c] = False
    assert_verbose_allclose(
        vox.intersected[care], d["output.intersected"][care], name="intersected"
    )


@pytest.mark.parametrize("times", [1, 2, 3, 4])
def test_shape_decoder_upsample_returns_reference_coords(parity_dir, parity_io, times):
    d = parity_io("shape_dec")
    model = from_pretrained(parity_dir / "shape_dec")
    coords = model.upsample(SparseTensor(d["input.feats"], d["input.coords"]), upsample_times=times)
    # All four levels (the cascade's call) give the decoder's full-resolution voxels.
    key = "output.coords" if times == 4 else f"output.upsample_coords.{times}"
    assert_verbose_allclose(coords, d[key], name="upsample coords")


def test_shape_decoder_meshes_match_reference_mesh_extraction(parity_dir, parity_io):
    pytest.importorskip("trellis2.representations.o_voxel.flexible_dual_grid")
    d = parity_io("shape_dec")
    model = from_pretrained(parity_dir / "shape_dec")
    model.set_resolution(128)
    meshes = model(SparseTensor(d["input.feats"], d["input.coords"]))
    assert len(meshes) == 2
    for b, mesh in enumerate(meshes):
        ref_v, ref_f = d[f"output.mesh.{b}.vertices"], d[f"output.mesh.{b}.faces"]
        assert_verbose_allclose(mesh.vertices, ref_v, name=f"mesh {b} vertices", **TOL)
        assert_verbose_allclose(mesh.faces.to(ref_f.dtype), ref_f, name=f"mesh {b} faces")


@pytest.mark.parametrize("device", DEVICES)
def test_texture_decoder_follows_guide_subdivisions_and_matches_reference(
    parity_dir, parity_io, device
):
    d = {k: v.to(device) for k, v in parity_io("tex_dec").items()}
    model = from_pretrained(parity_dir / "tex_dec", device=device)
    assert isinstance(model, SparseUnetVaeDecoder) and not model.pred_subdiv
    guide = [
        SparseTensor(d[f"input.guide_subs.{i}"], d[f"input.guide_subs_coords.{i}"])
        for i in range(4)
    ]
    out = model(SparseTensor(d["input.feats"], d["input.coords"]), guide_subs=guide)
    assert_verbose_allclose(out.coords, d["output.coords"], name="tex coords")
    assert_verbose_allclose(out.feats, d["output.feats"], name="tex feats", **TOL)
