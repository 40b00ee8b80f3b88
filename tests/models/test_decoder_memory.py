# SPDX-License-Identifier: MIT
"""The SC-VAE decoders' memory cuts (row chunks, in-place glue, fresh caches) change no output
and free what they promise (issue 5: peak memory at 1024^3)."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

from trellis2.models.loading import build_random
from trellis2.models.sc_vaes import blocks, sparse_unet_vae
from trellis2.modules.sparse import SparseTensor
from trellis2.modules.sparse.conv import NEIGHBOR_CACHE_KEY, build_neighbor_map
from trellis2.pipelines.tiny import TINY_MODEL_CONFIGS


def _latent(n: int = 40) -> SparseTensor:
    g = torch.Generator().manual_seed(0)
    xyz = torch.randperm(8**3, generator=g)[:n]
    coords = torch.stack([torch.zeros_like(xyz), xyz // 64, (xyz // 8) % 8, xyz % 8], dim=1)
    return SparseTensor(torch.randn(n, 32, generator=g), coords.int())


def _tiny(key: str) -> torch.nn.Module:
    cfg = TINY_MODEL_CONFIGS[key]
    return build_random(cfg["name"], cfg["args"], dtype=torch.float32, seed=1)


def _decode(monkeypatch: pytest.MonkeyPatch, chunk: int):
    monkeypatch.setattr(blocks, "ROW_CHUNK", chunk)
    monkeypatch.setattr(sparse_unet_vae, "ROW_CHUNK", chunk)
    dec = _tiny("shape_slat_decoder")
    with torch.no_grad():
        return dec.decode_voxels(_latent(), return_subs=True)


def test_row_chunked_decoder_glue_gives_the_unchunked_outputs(monkeypatch):
    whole, whole_subs = _decode(monkeypatch, 1 << 30)
    chunked, chunked_subs = _decode(monkeypatch, 7)
    assert torch.equal(whole.coords, chunked.coords)
    # Row-wise ops are exact per chunk; a matmul over fewer rows may round differently (fp32).
    torch.testing.assert_close(chunked.raw, whole.raw, atol=1e-4, rtol=1e-4)
    for a, b in zip(whole_subs, chunked_subs, strict=True):
        torch.testing.assert_close(b.feats, a.feats, atol=1e-4, rtol=1e-4)


def test_subdivision_logits_and_decoder_output_keep_no_level_cache(monkeypatch):
    monkeypatch.setattr(blocks, "ROW_CHUNK", 7)
    dec, shape = _tiny("tex_slat_decoder"), _tiny("shape_slat_decoder")
    with torch.no_grad():
        _, subs = shape.decode_voxels(_latent(), return_subs=True)
        out = dec(_latent(), guide_subs=subs)
    assert all(s.get_spatial_cache(NEIGHBOR_CACHE_KEY) is None for s in subs)
    assert out.get_spatial_cache(NEIGHBOR_CACHE_KEY) is None
    assert out.batch_counts == [out.feats.shape[0]]


def test_triton_conv_row_order_cache_does_not_keep_the_neighbour_map_alive():
    integration = pytest.importorskip("trellis2_kernels.integration")
    coords = _latent().coords
    nmap = build_neighbor_map(coords)
    nbr32, order = integration._prepared(nmap)
    assert nbr32 is nmap and order.shape == (coords.shape[0],)
    alive = weakref.ref(nmap)
    key = id(nmap)
    del nmap, nbr32
    gc.collect()
    assert alive() is None
    assert key not in integration._PREP
