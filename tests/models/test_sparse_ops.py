# SPDX-License-Identifier: MIT
"""SparseTensor caches and broadcasting, sparse conv vs dense conv, attention paths, C2S/S2C."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.utils import assert_verbose_allclose
from trellis2.models import SparseUnetVaeDecoder, SparseUnetVaeEncoder
from trellis2.modules.attention import dense_attention, math_attention, varlen_attention
from trellis2.modules.sparse import SparseConv3d, SparseTensor, conv


def _random_voxels(gen: torch.Generator, batch: int = 2, res: int = 6, p: float = 0.4):
    rows = []
    for b in range(batch):
        occ = torch.rand(res, res, res, generator=gen) < p
        xyz = occ.nonzero().to(torch.int32)
        rows.append(torch.cat([torch.full((len(xyz), 1), b, dtype=torch.int32), xyz], dim=1))
    return torch.cat(rows)


def test_sparse_conv_equals_dense_conv3d_at_active_sites():
    gen = torch.Generator().manual_seed(0)
    coords = _random_voxels(gen)
    ci, co, res = 5, 7, 6
    feats = torch.randn(len(coords), ci, generator=gen, dtype=torch.float64)
    layer = SparseConv3d(ci, co).double()
    out = layer(SparseTensor(feats, coords)).feats
    dense = torch.zeros(2, ci, res, res, res, dtype=torch.float64)
    b, x, y, z = coords.long().unbind(1)
    dense[b, :, x, y, z] = feats
    ref = F.conv3d(dense, layer.weight.permute(0, 4, 1, 2, 3), layer.bias, padding=1)
    assert_verbose_allclose(out, ref[b, :, x, y, z], atol=1e-10, rtol=1e-10, name="conv")


def test_neighbor_map_is_built_once_per_voxel_set_and_shared_by_replace(monkeypatch):
    calls = []
    real = conv.build_neighbor_map
    monkeypatch.setattr(conv, "build_neighbor_map", lambda c: calls.append(1) or real(c))
    coords = _random_voxels(torch.Generator().manual_seed(1))
    x = SparseTensor(torch.randn(len(coords), 4), coords)
    layer = SparseConv3d(4, 4)
    y = layer(layer(x))  # second call runs on a replace()d tensor
    layer(x.replace(torch.randn(len(coords), 4)))
    assert len(calls) == 1
    other = SparseTensor(y.feats, coords.clone())  # same values, new voxel-set object
    layer(other)
    assert len(calls) == 2


def test_dense_per_sample_tensor_broadcasts_to_each_samples_rows():
    coords = torch.tensor([[0, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.int32)
    x = SparseTensor(torch.ones(3, 2), coords)
    y = x * torch.tensor([[2.0, 3.0], [5.0, 7.0]]) + torch.tensor([1.0, 0.0])[:, None]
    assert torch.equal(y.feats, torch.tensor([[3.0, 4.0], [3.0, 4.0], [5.0, 7.0]]))
    assert x.batch_size == 2 and x.layout == [slice(0, 2), slice(2, 3)]
    assert torch.equal(x.cu_seqlens, torch.tensor([0, 2, 3], dtype=torch.int32))


def test_mismatched_rows_are_refused_with_the_counts():
    with pytest.raises(ValueError, match="3 rows but coords has 2"):
        SparseTensor(torch.zeros(3, 1), torch.zeros(2, 4, dtype=torch.int32))


def test_math_attention_matches_sdpa_in_float64():
    gen = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, 9, 3, 16, generator=gen, dtype=torch.float64) for _ in range(3))
    ref = F.scaled_dot_product_attention(*(t.transpose(1, 2) for t in (q, k, v))).transpose(1, 2)
    assert_verbose_allclose(math_attention(q, k, v), ref, atol=1e-12, rtol=1e-12)


def test_varlen_attention_keeps_samples_apart():
    gen = torch.Generator().manual_seed(3)
    lens = [5, 2, 7]
    q, k, v = (torch.randn(sum(lens), 2, 8, generator=gen) for _ in range(3))
    cu = torch.tensor([0, 5, 7, 14], dtype=torch.int32)
    out = varlen_attention(q, k, v, cu, cu, lens, lens)
    s = 0
    for n in lens:
        sl = slice(s, s + n)
        ref = math_attention(q[None, sl], k[None, sl], v[None, sl])[0]
        assert_verbose_allclose(out[sl], ref, atol=1e-6, rtol=1e-6)
        s += n


def test_texture_style_decode_returns_exactly_the_encoders_voxels():
    """Encoder S2C maps cached on the latent let a guide-free decoder invert the downsampling."""
    torch.manual_seed(4)
    levels = dict(num_blocks=[0, 1, 0], block_type="SparseConvNeXtBlock3d")
    enc = SparseUnetVaeEncoder(
        6, [8, 16, 32], 4, down_block_type="SparseResBlockS2C3d", **levels
    ).eval()
    dec = SparseUnetVaeDecoder(
        3, [32, 16, 8], 4, up_block_type="SparseResBlockC2S3d", pred_subdiv=False, **levels
    ).eval()
    coords = _random_voxels(torch.Generator().manual_seed(5), res=12, p=0.2)
    with torch.no_grad():
        z = enc(SparseTensor(torch.randn(len(coords), 6), coords))
        assert z.feats.shape == (len(z.coords), 4) and z.coords[:, 1:].max() < 3
        noise = z.replace(torch.randn_like(z.feats))  # the sampler keeps the voxel set
        out = dec(noise)
    assert torch.equal(out.coords, coords)
    assert out.feats.shape == (len(coords), 3)


def test_cpu_dispatch_equals_the_explicit_softmax_reference():
    gen = torch.Generator().manual_seed(6)
    q, k, v = (torch.randn(1, 257, 2, 64, generator=gen) for _ in range(3))
    assert_verbose_allclose(dense_attention(q, k, v), math_attention(q, k, v), atol=1e-6, rtol=1e-5)
