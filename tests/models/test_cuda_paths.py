# SPDX-License-Identifier: MIT
"""CUDA-only dispatch paths agree with the exact references (run on the device)."""

from __future__ import annotations

import pytest
import torch

from tests.utils import assert_verbose_allclose
from trellis2.models import build_random
from trellis2.modules import fused
from trellis2.modules.attention import dense_attention, math_attention, varlen_attention
from trellis2.modules.sparse import (
    SparseTensor,
    build_neighbor_map,
    submanifold_conv3d,
    submanifold_conv3d_reference,
)

pytestmark = pytest.mark.gpu

FLOW = {
    "resolution": 16,
    "in_channels": 32,
    "out_channels": 32,
    "model_channels": 256,
    "cond_channels": 64,
    "num_blocks": 2,
    "num_heads": 2,
    "pe_mode": "rope",
    "share_mod": True,
    "qk_rms_norm": True,
    "qk_rms_norm_cross": True,
    "dtype": "bfloat16",
}


def _shell(n_batch: int = 2) -> torch.Tensor:
    r = torch.arange(16, device="cuda", dtype=torch.float32) - 7.5
    d = (r[:, None, None] ** 2 + r[None, :, None] ** 2 + r[None, None, :] ** 2).sqrt()
    xyz = ((d - 6).abs() < 0.8).nonzero().to(torch.int32)
    rows = [torch.cat([torch.full_like(xyz[:, :1], b), xyz], 1) for b in range(n_batch)]
    return torch.cat(rows)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_dense_sdpa_dispatch_matches_math(dtype):
    gen = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (
        torch.randn(2, 300, 4, 128, generator=gen, device="cuda", dtype=dtype) for _ in "qkv"
    )
    tol = 1e-4 if dtype == torch.float32 else 2e-2
    got = dense_attention(q, k, v)
    assert_verbose_allclose(got.float(), math_attention(q, k, v).float(), atol=tol, rtol=tol)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_varlen_dispatch_keeps_samples_apart_on_cuda(dtype):
    gen = torch.Generator(device="cuda").manual_seed(1)
    lens = [700, 33, 1200]
    q, k, v = (
        torch.randn(sum(lens), 12, 128, generator=gen, device="cuda", dtype=dtype) for _ in "qkv"
    )
    cu = torch.tensor([0, 700, 733, 1933], device="cuda", dtype=torch.int32)
    out = varlen_attention(q, k, v, cu, cu, lens, lens)
    tol = 1e-4 if dtype == torch.float32 else 2e-2
    for a, b in zip(cu[:-1].tolist(), cu[1:].tolist(), strict=True):
        ref = math_attention(q[None, a:b], k[None, a:b], v[None, a:b])[0]
        assert_verbose_allclose(out[a:b].float(), ref.float(), atol=tol, rtol=tol)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32])
def test_cuda_conv_dispatch_matches_gather_matmul_reference(dtype):
    coords = _shell()
    gen = torch.Generator(device="cuda").manual_seed(2)
    feats = torch.randn(len(coords), 64, generator=gen, device="cuda", dtype=dtype)
    w = (torch.randn(96, 3, 3, 3, 64, generator=gen, device="cuda") / 40).to(dtype)
    b = torch.randn(96, generator=gen, device="cuda").to(dtype)
    nmap = build_neighbor_map(coords)
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        got = submanifold_conv3d(feats, nmap, w, b).float()
        ref = submanifold_conv3d_reference(feats.double(), nmap, w.double(), b.double())
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    tol = 1e-4 if dtype == torch.float32 else 2e-2
    assert_verbose_allclose(got, ref.float(), atol=tol, rtol=tol)


def test_bf16_sparse_flow_with_fused_kernels_matches_the_torch_ops(monkeypatch):
    model = build_random("SLatFlowModel", FLOW, device="cuda", seed=3)
    coords = _shell()
    gen = torch.Generator(device="cuda").manual_seed(4)
    x = SparseTensor(torch.randn(len(coords), 32, generator=gen, device="cuda"), coords)
    t = torch.tensor([300.0, 800.0], device="cuda")
    cond = torch.randn(2, 40, 64, generator=gen, device="cuda")
    with torch.no_grad():
        with_fused = model(x, t, cond).feats.float()
        monkeypatch.setenv("TRELLIS2_FUSED", "0")
        plain = model(x, t, cond).feats.float()
    used = fused._VERIFIED.get(("residual_norm_modulate", "cuda:0", torch.bfloat16))
    cos = torch.nn.functional.cosine_similarity(with_fused.flatten(), plain.flatten(), dim=0)
    assert cos > 0.9995, f"cosine {cos:.6f} (fused kernels verified: {used})"
