# SPDX-License-Identifier: MIT
"""``perf.official_glue`` (the in-run baseline's way) gives the default path's outputs, does
the reference's per-call host work, and keeps the fused kernels off."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from tests.modules._helpers import count_host_reads, packed, tiny_model
from tests.utils import assert_verbose_allclose
from trellis2 import perf
from trellis2.modules import fused
from trellis2.modules.sparse import attention as sparse_attention

OFFICIAL = replace(perf.DEFAULT, official_glue=True)


def _slat_inputs(lengths: list[int]):
    gen = torch.Generator().manual_seed(3)
    x = packed(lengths)
    t = torch.tensor([300.0, 800.0, 550.0][: len(lengths)])
    cond = torch.randn(len(lengths), 5, 16, generator=gen)
    return x, t, cond


@pytest.mark.parametrize("lengths", [[40, 25], [30, 30], [33]])
def test_official_glue_sparse_flow_equals_the_default_path(lengths):
    model = tiny_model("SLatFlowModel")
    x, t, cond = _slat_inputs(lengths)
    with perf.use(perf.DEFAULT):
        ours = model(x, t, cond).feats
    with perf.use(OFFICIAL):
        theirs = model(x.replace(x.feats.clone()), t, cond).feats
    assert_verbose_allclose(theirs, ours, atol=1e-5, rtol=1e-5, name=f"slat {lengths}")


def test_official_glue_dense_flow_equals_the_default_path():
    model = tiny_model("SparseStructureFlowModel")
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 8, 8, 8, 8, generator=gen)
    t = torch.tensor([300.0, 800.0])
    cond = torch.randn(2, 5, 16, generator=gen)
    with perf.use(perf.DEFAULT):
        ours = model(x, t, cond)
    with perf.use(OFFICIAL):
        theirs = model(x, t, cond)
    assert_verbose_allclose(theirs, ours, atol=1e-5, rtol=1e-5, name="ss flow")


def test_official_glue_reads_the_batch_size_back_per_block_and_attention_call(monkeypatch):
    model = tiny_model("SLatFlowModel")
    x, t, cond = _slat_inputs([40, 25])
    model(x, t, cond)  # warm the voxel-set caches
    with count_host_reads(monkeypatch) as reads, perf.use(OFFICIAL):
        model(x.replace(x.feats + 1), t, cond)
    # Per block: one read before the modulation broadcast, one per attention call.
    assert reads.ops.count("_local_scalar_dense") == 3 * model.num_blocks


def test_official_glue_attends_equal_length_batches_through_varlen(monkeypatch):
    calls: list[str] = []
    varlen = sparse_attention.varlen_attention
    monkeypatch.setattr(
        sparse_attention,
        "varlen_attention",
        lambda *a: calls.append("varlen") or varlen(*a),
    )
    model = tiny_model("SLatFlowModel")
    x, t, cond = _slat_inputs([30, 30])
    with perf.use(OFFICIAL):
        model(x, t, cond)
    assert calls == ["varlen"] * (2 * model.num_blocks)


def test_fused_kernels_are_off_under_the_official_glue_and_the_fused_switch():
    rope = pytest.importorskip("trellis2_kernels.rmsnorm_rope")
    fused.register_fused("qk_rmsnorm_rope", "cpu", rope.qk_rmsnorm_rope_ref)
    try:
        x = torch.zeros(1, dtype=torch.bfloat16)
        with perf.use(perf.DEFAULT):
            assert fused.get("qk_rmsnorm_rope", x) is rope.qk_rmsnorm_rope_ref
        with perf.use(OFFICIAL):
            assert fused.get("qk_rmsnorm_rope", x) is None
        with perf.use(replace(perf.DEFAULT, fused_kernels=False)):
            assert fused.get("qk_rmsnorm_rope", x) is None
    finally:
        fused.unregister_fused("qk_rmsnorm_rope", "cpu")


def test_rope_and_qk_norm_are_the_reference_fp32_formulas_in_bf16():
    """The torch ops both glue paths share, against the reference doc's formulas (§11.1)."""
    from trellis2.modules.attention.rope import RotaryPositionEmbedder
    from trellis2.modules.norm import MultiHeadRMSNorm

    gen = torch.Generator().manual_seed(8)
    head_dim, heads = 16, 3
    coords = torch.randint(0, 64, (11, 3), generator=gen)
    x = torch.randn(11, heads, head_dim, generator=gen).bfloat16()
    # Reference: per-axis outer(coord, freqs), polar, padded with zero phase up to D/2 pairs.
    freq_dim = head_dim // 2 // 3
    freqs = 1.0 / 10000.0 ** (torch.arange(freq_dim, dtype=torch.float32) / freq_dim)
    angles = torch.outer(coords.reshape(-1).float(), freqs).reshape(11, -1)
    phases = torch.polar(torch.ones_like(angles), angles)
    pad = head_dim // 2 - phases.shape[-1]
    phases = torch.cat([phases, torch.polar(torch.ones(11, pad), torch.zeros(11, pad))], dim=-1)
    rotated = torch.view_as_complex(x.float().reshape(11, heads, -1, 2)) * phases.unsqueeze(-2)
    want_rope = torch.view_as_real(rotated).reshape(x.shape).to(x.dtype)
    rope = RotaryPositionEmbedder(head_dim)
    got_rope, _ = rope(x, x, rope.phases(coords))
    assert torch.equal(got_rope, want_rope)

    norm = MultiHeadRMSNorm(head_dim, heads)
    norm.gamma.data = 1 + 0.1 * torch.randn(heads, head_dim, generator=gen)
    x32 = x.float()
    want_norm = (x32 / x32.norm(dim=-1, keepdim=True).clamp_min(1e-12)) * norm.gamma
    want_norm = (want_norm * head_dim**0.5).to(x.dtype)
    assert_verbose_allclose(norm(x), want_norm, atol=1e-2, rtol=1e-2, name="qk rms norm")
