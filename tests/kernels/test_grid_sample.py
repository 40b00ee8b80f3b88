# SPDX-License-Identifier: MIT
"""Sparse trilinear sampling equals FlexGEMM's grid_sample_3d (fixture) and its torch reference."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from trellis2_kernels.grid_sample import (
    SortedVoxels,
    grid_sample_trilinear,
    grid_sample_trilinear_ref,
)

from tests.kernels._common import DEVICE, TOLERANCES, random_voxels, sphere_shell
from tests.utils import assert_verbose_allclose


def test_grid_sample_equals_flexgemm_fixture(shared_dir):
    io = load_file(str(shared_dir / "fixtures/parity/flexgemm_ops_io.safetensors"))
    feats, coords, query = (io[k].to(DEVICE) for k in ("gs.feats", "gs.coords", "gs.query"))
    want = io["gs.out_trilinear"]
    got = grid_sample_trilinear(feats, coords, query)
    assert_verbose_allclose(got.cpu(), want, atol=1e-5, rtol=1e-5, name="grid_sample")
    ref = grid_sample_trilinear_ref(feats, coords, query)
    assert_verbose_allclose(ref.cpu(), want, atol=1e-5, rtol=1e-5, name="grid_sample_ref")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize(("n", "c", "length"), [(1, 3, 5), (37, 24, 37), (300, 6, 64)])
def test_grid_sample_matches_reference_on_odd_shapes(n, c, length, dtype):
    g = torch.Generator().manual_seed(n + c)
    coords = random_voxels(n, extent=6, batches=2, seed=n)
    feats = torch.randn(n, c, generator=g).to(DEVICE, dtype)
    query = (torch.rand(2, length, 3, generator=g) * 8 - 1).to(DEVICE)  # some fall outside
    volume = SortedVoxels(coords.to(DEVICE))
    got = grid_sample_trilinear(feats, volume, query)
    want = grid_sample_trilinear_ref(feats.float(), volume, query)
    atol, rtol = TOLERANCES[dtype]
    assert_verbose_allclose(got.float(), want, atol=atol, rtol=rtol, name="grid_sample")


def test_grid_sample_returns_zero_where_all_eight_corners_are_empty():
    coords = torch.tensor([[0, 0, 0, 0]], dtype=torch.int32, device=DEVICE)
    feats = torch.ones(1, 4, device=DEVICE)
    query = torch.tensor([[[0.5, 0.5, 0.5], [5.0, 5.0, 5.0], [1.0, 1.0, 1.0]]], device=DEVICE)
    got = grid_sample_trilinear(feats, coords, query).cpu()
    # On the centre: the voxel itself; far away: nothing; at a corner: renormalised to 1.
    assert got[0, :, 0].tolist() == [1.0, 0.0, 1.0]


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_grid_sample_matches_reference_on_cuda_on_a_shell(dtype):
    coords = sphere_shell(256).to(DEVICE)
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(len(coords), 6, generator=g).to(DEVICE, dtype)
    query = coords[:, 1:].float() + torch.rand(len(coords), 3, generator=g).to(DEVICE)
    query = query[None, :100_000]
    got = grid_sample_trilinear(feats, coords, query)
    want = grid_sample_trilinear_ref(feats.float(), coords, query)
    atol, rtol = TOLERANCES[dtype]
    assert_verbose_allclose(got.float(), want, atol=atol, rtol=rtol, name="grid_sample")
