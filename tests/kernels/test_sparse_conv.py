# SPDX-License-Identifier: MIT
"""The Triton submanifold conv equals gather + matmul and FlexGEMM's output (fixture)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from trellis2_kernels.neighbor_map import build_neighbor_map, neighbor_order
from trellis2_kernels.sparse_conv import sparse_conv, sparse_conv_ref

from tests.kernels._common import DEVICE, TOLERANCES, random_voxels, sphere_shell
from tests.utils import assert_verbose_allclose


def _case(n, ci, co, dtype, seed, coords=None):
    g = torch.Generator().manual_seed(seed)
    coords = random_voxels(n, extent=6, seed=seed) if coords is None else coords
    nbr = build_neighbor_map(coords).to(DEVICE)
    feats = torch.randn(len(coords), ci, generator=g).to(DEVICE, dtype)
    weight = (torch.randn(co, 3, 3, 3, ci, generator=g) / (27 * ci) ** 0.5).to(DEVICE, dtype)
    bias = torch.randn(co, generator=g).to(DEVICE)
    return feats, nbr, weight, bias


def _check(feats, nbr, weight, bias, dtype, order=None):
    got = sparse_conv(feats, nbr, weight, bias, order=order)
    want = sparse_conv_ref(feats.float(), nbr, weight.float(), bias)
    atol, rtol = TOLERANCES[dtype]
    assert got.dtype == dtype
    assert_verbose_allclose(got.float(), want, atol=atol, rtol=rtol, name="sparse_conv")


def test_sparse_conv_equals_flexgemm_fixture_in_fp32(shared_dir):
    io = load_file(str(shared_dir / "fixtures/parity/flexgemm_ops_io.safetensors"))
    nbr = build_neighbor_map(io["conv.coords"]).to(DEVICE)
    feats, w, b = (io[k].to(DEVICE) for k in ("conv.feats", "conv.weight", "conv.bias"))
    got = sparse_conv(feats, nbr, w, b, order=neighbor_order(nbr))
    assert_verbose_allclose(got, io["conv.out"].to(DEVICE), atol=1e-5, rtol=1e-5, name="conv")


def test_sparse_conv_reference_equals_flexgemm_fixture(shared_dir):
    io = load_file(str(shared_dir / "fixtures/parity/flexgemm_ops_io.safetensors"))
    nbr = build_neighbor_map(io["conv.coords"])
    got = sparse_conv_ref(io["conv.feats"], nbr, io["conv.weight"], io["conv.bias"])
    assert_verbose_allclose(got, io["conv.out"], atol=1e-5, rtol=1e-5, name="conv_ref")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize(("n", "ci", "co"), [(1, 3, 16), (37, 16, 24), (37, 3, 3)])
def test_sparse_conv_matches_reference_on_odd_shapes(n, ci, co, dtype):
    feats, nbr, weight, bias = _case(n, ci, co, dtype, seed=n + ci + co)
    _check(feats, nbr, weight, bias, dtype)


def test_sparse_conv_with_gray_order_int64_map_and_no_bias_matches_reference():
    feats, nbr, weight, _ = _case(37, 16, 24, torch.float32, seed=3)
    order = neighbor_order(nbr)
    _check(feats, nbr.long(), weight, None, torch.float32, order=order)


def test_sparse_conv_rejects_a_weight_in_the_wrong_layout():
    feats, nbr, weight, bias = _case(37, 16, 24, torch.float32, seed=4)
    with pytest.raises(ValueError, match=r"\[Co, 3, 3, 3, Ci"):
        sparse_conv(feats, nbr, weight.permute(0, 4, 1, 2, 3).contiguous(), bias)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize(("n", "ci", "co"), [(4097, 24, 16), (4097, 64, 64)])
def test_sparse_conv_matches_reference_on_cuda_at_odd_sizes(n, ci, co, dtype):
    feats, nbr, weight, bias = _case(n, ci, co, dtype, seed=n + ci, coords=random_voxels(n, 24))
    _check(feats, nbr, weight, bias, dtype, order=neighbor_order(nbr))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(("res", "ci", "co"), [(64, 512, 512), (256, 128, 128), (512, 64, 64)])
def test_sparse_conv_matches_reference_on_cuda_on_sphere_shells(res, ci, co, dtype):
    feats, nbr, weight, bias = _case(0, ci, co, dtype, seed=res, coords=sphere_shell(res))
    _check(feats, nbr, weight, bias, dtype, order=neighbor_order(nbr))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_sparse_conv_compacted_tap_loop_matches_reference(dtype):
    """The COMPACT variant (one pipelined loop over the tile's present taps), forced here; on a
    GPU the autotuner picks between it and the per-tap loop."""
    from trellis2_kernels.sparse_conv import _launch

    feats, nbr, weight, bias = _case(37, 24, 16, dtype, seed=7)
    order = neighbor_order(nbr)
    for o in (order, None):
        got = _launch(feats, weight, bias, nbr, o, allow_tf32=False, config={"COMPACT": True})
        want = sparse_conv_ref(feats.float(), nbr, weight.float(), bias)
        atol, rtol = TOLERANCES[dtype]
        assert_verbose_allclose(got.float(), want, atol=atol, rtol=rtol, name="compact")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("compact", [False, True])
def test_sparse_conv_each_loop_variant_matches_reference_on_cuda(compact, dtype):
    from trellis2_kernels.sparse_conv import _launch

    feats, nbr, weight, bias = _case(0, 64, 64, dtype, seed=8, coords=sphere_shell(128))
    config = {"BLOCK_M": 64, "BLOCK_N": 64, "BLOCK_K": 32, "GROUP_M": 8, "COMPACT": compact}
    got = _launch(feats, weight, bias, nbr, neighbor_order(nbr), allow_tf32=False, config=config)
    want = sparse_conv_ref(feats.float(), nbr, weight.float(), bias)
    atol, rtol = TOLERANCES[dtype]
    assert_verbose_allclose(got.float(), want, atol=atol, rtol=rtol, name="variant")


def test_model_dispatch_hook_runs_int64_maps_as_int32_and_matches_reference():
    """The model hands over int64 maps; Triton 3.6 cannot compile that specialisation on sm_90,
    so the hook converts each map once (cached) and the kernel only sees int32."""
    from trellis2_kernels import integration

    feats, nbr, weight, bias = _case(37, 16, 24, torch.float32, seed=12)
    nbr64 = nbr.long()
    got = integration.triton_submanifold_conv3d(feats, nbr64, weight, bias)
    nbr32, order = integration._prepared(nbr64)
    assert nbr32.dtype == torch.int32 and integration._prepared(nbr64)[0] is nbr32
    assert torch.equal(order.sort().values.long(), torch.arange(37, device=order.device))
    want = sparse_conv_ref(feats, nbr, weight, bias)
    assert_verbose_allclose(got, want, atol=1e-5, rtol=1e-5, name="hook")


def test_model_dispatch_hook_falls_back_to_reference_when_kernel_raises_simulated(monkeypatch):
    from trellis2_kernels import integration

    def broken_kernel_double(*args, **kwargs):
        raise RuntimeError("PassManager::run failed (simulated)")

    monkeypatch.setattr(integration, "sparse_conv", broken_kernel_double)
    monkeypatch.setattr(integration, "_FAILED", set())
    feats, nbr, weight, bias = _case(37, 16, 24, torch.float32, seed=13)
    got = integration.triton_submanifold_conv3d(feats, nbr.long(), weight, bias)
    assert feats.device.type in integration._FAILED
    want = sparse_conv_ref(feats, nbr, weight, bias)
    assert_verbose_allclose(got, want, atol=1e-5, rtol=1e-5, name="fallback")
