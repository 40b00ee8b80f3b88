# SPDX-License-Identifier: MIT
"""The MLP's fused first linear + GELU (cuBLASLt epilogue on CUDA) equals the torch modules,
and only a tanh-form GELU passes the dispatch's self-check."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from tests.utils import assert_verbose_allclose
from trellis2 import perf
from trellis2.modules import fused
from trellis2.modules.transformer import FeedForwardNet


def tanh_linear_gelu_stand_in(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """CPU stand-in for the CUDA epilogue (the cuBLASLt GELU cannot run here)."""
    return F.gelu(F.linear(x, w, b), approximate="tanh")


def erf_linear_gelu(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.gelu(F.linear(x, w, b))


@pytest.fixture
def cpu_linear_gelu():
    fused.register_fused("linear_gelu", "cpu", tanh_linear_gelu_stand_in)
    yield
    fused.unregister_fused("linear_gelu", "cpu")


def test_mlp_with_the_fused_linear_gelu_equals_the_torch_mlp_in_bf16(cpu_linear_gelu):
    gen = torch.Generator().manual_seed(0)
    mlp = FeedForwardNet(64).to(torch.bfloat16)
    x = torch.randn(2, 33, 64, generator=gen).bfloat16()
    assert fused.get("linear_gelu", x) is tanh_linear_gelu_stand_in
    got = mlp(x)
    fused.unregister_fused("linear_gelu", "cpu")
    want = mlp(x)
    assert got.shape == want.shape == (2, 33, 64)
    assert_verbose_allclose(got.float(), want.float(), atol=2e-2, rtol=2e-2, name="mlp")


def test_an_erf_gelu_is_refused_by_the_self_check():
    fused.register_fused("linear_gelu", "cpu", erf_linear_gelu)
    try:
        assert fused.get("linear_gelu", torch.zeros(4, 8, dtype=torch.bfloat16)) is None
    finally:
        fused.unregister_fused("linear_gelu", "cpu")


def test_the_fused_linear_gelu_is_off_for_fp32_and_under_the_official_glue(cpu_linear_gelu):
    half = torch.zeros(4, 8, dtype=torch.bfloat16)
    assert fused.get("linear_gelu", torch.zeros(4, 8)) is None
    with perf.use(replace(perf.DEFAULT, official_glue=True)):
        assert fused.get("linear_gelu", half) is None
    with perf.use(perf.BASELINE):
        assert fused.get("linear_gelu", half) is None


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_cuda_gelu_epilogue_passes_its_self_check_and_equals_the_torch_mlp(dtype):
    dev = torch.device("cuda")
    gen = torch.Generator(device=dev).manual_seed(0)
    mlp = FeedForwardNet(1536).to(dev, dtype)
    x = torch.randn(9368, 1536, generator=gen, device=dev).to(dtype)
    assert fused.get("linear_gelu", x) is fused.addmm_gelu, "cuBLASLt GELU epilogue refused"
    got = mlp(x)
    with perf.use(perf.BASELINE):
        want = mlp(x)
    assert_verbose_allclose(got.float(), want.float(), atol=3e-2, rtol=3e-2, name="mlp")
