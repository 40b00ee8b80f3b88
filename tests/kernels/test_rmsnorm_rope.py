# SPDX-License-Identifier: MIT
"""Fused q/k RMS norm + RoPE equals the reference's two-step fp32 torch code."""

from __future__ import annotations

import pytest
import torch
from trellis2_kernels.rmsnorm_rope import qk_rmsnorm_rope, qk_rmsnorm_rope_ref

from tests.kernels._common import DEVICE, TOLERANCES
from tests.utils import assert_verbose_allclose


def _phases(length, dim, g):
    angles = torch.randint(0, 64, (length, dim // 2), generator=g).float() * 0.37
    return torch.view_as_real(torch.polar(torch.ones_like(angles), angles)).to(DEVICE)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize(("b", "length", "heads", "dim"), [(1, 1, 3, 16), (2, 37, 12, 128)])
def test_rmsnorm_rope_matches_reference_on_a_packed_qkv_view(b, length, heads, dim, dtype):
    g = torch.Generator().manual_seed(length + heads)
    qkv = torch.randn(b, length, 3, heads, dim, generator=g).to(DEVICE, dtype)
    q = qkv[:, :, 0]  # strided view, as the attention module produces
    gamma = (1 + 0.1 * torch.randn(heads, dim, generator=g)).to(DEVICE)
    ph = _phases(length, dim, g)
    got = qk_rmsnorm_rope(q, gamma, ph)
    want = qk_rmsnorm_rope_ref(q, gamma, ph)
    atol, rtol = TOLERANCES[dtype]
    assert got.is_contiguous() and got.dtype == dtype
    assert_verbose_allclose(got.float(), want.float(), atol=atol, rtol=rtol, name="q")


def test_rmsnorm_alone_on_sparse_tokens_matches_reference():
    g = torch.Generator().manual_seed(1)
    k = torch.randn(37, 3, 24, generator=g).to(DEVICE)
    gamma = torch.randn(3, 24, generator=g).to(DEVICE)
    got = qk_rmsnorm_rope(k, gamma, None)
    assert_verbose_allclose(got, qk_rmsnorm_rope_ref(k, gamma, None), atol=1e-5, rtol=1e-5)


def test_rope_with_a_head_dim_that_is_not_a_power_of_two_matches_reference():
    """D = 24: the row tile is 32 channels wide, the last 4 pairs masked (phases included)."""
    g = torch.Generator().manual_seed(4)
    qkv = torch.randn(45, 3, 5, 24, generator=g).to(DEVICE)  # sparse layout [N, 3, H, D]
    gamma = (1 + 0.1 * torch.randn(5, 24, generator=g)).to(DEVICE)
    ph = _phases(45, 24, g)
    got = qk_rmsnorm_rope(qkv[:, 1], gamma, ph)
    assert got.shape == (45, 5, 24) and got.is_contiguous()
    want = qk_rmsnorm_rope_ref(qkv[:, 1], gamma, ph)
    assert_verbose_allclose(got, want, atol=1e-5, rtol=1e-5, name="k")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_rmsnorm_rope_matches_reference_on_cuda_at_9600_tokens(dtype):
    g = torch.Generator().manual_seed(2)
    qkv = torch.randn(1, 9600, 3, 12, 128, generator=g).to(DEVICE, dtype)
    gamma = (1 + 0.1 * torch.randn(12, 128, generator=g)).to(DEVICE)
    ph = _phases(9600, 128, g)
    got = qk_rmsnorm_rope(qkv[:, :, 1], gamma, ph)
    want = qk_rmsnorm_rope_ref(qkv[:, :, 1], gamma, ph)
    atol, rtol = TOLERANCES[dtype]
    assert_verbose_allclose(got.float(), want.float(), atol=atol, rtol=rtol, name="k")
