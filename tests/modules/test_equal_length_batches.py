# SPDX-License-Identifier: MIT
"""Equal-length sparse batches (the batched CFG case) take one dense attention call and give
the per-sample results; ``repeat_batch`` builds such a batch with its layout already known."""

from __future__ import annotations

import pytest
import torch

from tests.modules._helpers import count_host_reads, packed, sample_coords, tiny_model
from tests.utils import assert_verbose_allclose
from trellis2 import perf
from trellis2.modules import fused
from trellis2.modules.sparse import SparseTensor
from trellis2.modules.sparse import attention as sparse_attention
from trellis2.modules.sparse.attention import SparseMultiHeadAttention


@pytest.fixture
def attention_calls(monkeypatch):
    """Records the q shape of every dense call and every varlen call of the sparse module."""
    calls: list[tuple[str, tuple[int, ...]]] = []
    dense, varlen = sparse_attention.dense_attention, sparse_attention.varlen_attention

    def spy_dense(q, k, v):
        calls.append(("dense", tuple(q.shape)))
        return dense(q, k, v)

    def spy_varlen(q, *rest):
        calls.append(("varlen", tuple(q.shape)))
        return varlen(q, *rest)

    monkeypatch.setattr(sparse_attention, "dense_attention", spy_dense)
    monkeypatch.setattr(sparse_attention, "varlen_attention", spy_varlen)
    return calls


def _module(kind: str) -> SparseMultiHeadAttention:
    torch.manual_seed(11)
    if kind == "self":
        return SparseMultiHeadAttention(32, 2, use_rope=True, qk_rms_norm=True).eval()
    return SparseMultiHeadAttention(32, 2, ctx_channels=12, type="cross", qk_rms_norm=True).eval()


@pytest.mark.parametrize("kind", ["self", "cross"])
def test_equal_length_batch_is_one_dense_call_equal_to_per_sample_attention(kind, attention_calls):
    attn = _module(kind)
    x = packed([27, 27], channels=32)
    ctx = torch.randn(2, 6, 12, generator=torch.Generator().manual_seed(2))
    run = (lambda s, c: attn(s)) if kind == "self" else attn
    batched = run(x, ctx).feats
    assert attention_calls == [("dense", (2, 27, 2, 16))]
    singles = torch.cat([run(x[i], ctx[i : i + 1]).feats for i in range(2)])
    assert_verbose_allclose(batched, singles, atol=1e-5, rtol=1e-5, name=f"{kind} attention")


def test_a_shared_context_serves_every_sample_of_an_equal_length_batch():
    attn = _module("cross")
    x = packed([20, 20], channels=32)
    ctx = torch.randn(1, 6, 12, generator=torch.Generator().manual_seed(2))
    shared = attn(x, ctx).feats
    repeated = attn(x.replace(x.feats.clone()), ctx.expand(2, -1, -1)).feats
    assert_verbose_allclose(shared, repeated, atol=1e-6, rtol=1e-6, name="shared context")


def test_unequal_lengths_still_go_through_varlen(attention_calls):
    x = packed([27, 19], channels=32)
    assert x.equal_length == 0
    _module("self")(x)
    assert attention_calls == [("varlen", (46, 2, 16))]


def test_slat_flow_on_two_identical_coord_samples_equals_two_single_calls(attention_calls):
    model = tiny_model("SLatFlowModel")
    gen = torch.Generator().manual_seed(4)
    one = SparseTensor(torch.zeros(37, 8), sample_coords(37, seed=9))
    fa, fb = torch.randn(37, 8, generator=gen), torch.randn(37, 8, generator=gen)
    t = torch.tensor([640.0, 640.0])
    cond = torch.randn(2, 5, 16, generator=gen)  # conditional and unconditional
    pair = one.repeat_batch(2).replace(torch.cat([fa, fb]))
    with perf.use(perf.DEFAULT):
        both = model(pair, t, cond).feats
        assert {c for c in attention_calls} == {("dense", (2, 37, 4, 16))}
        a = model(one.replace(fa), t[:1], cond[:1]).feats
        b = model(one.replace(fb), t[1:], cond[1:]).feats
    assert_verbose_allclose(both, torch.cat([a, b]), atol=1e-5, rtol=1e-5, name="batch of 2")


def test_repeat_batch_stacks_copies_and_carries_the_layout_without_a_host_read(monkeypatch):
    x = packed([5, 3])
    assert x.batch_counts == [5, 3]  # cached on x
    with count_host_reads(monkeypatch) as reads:
        y = x.repeat_batch(2)
        assert y.batch_counts == [5, 3, 5, 3]
    assert reads.ops == []
    assert torch.equal(y.coords[:, 0], torch.tensor([0] * 5 + [1] * 3 + [2] * 5 + [3] * 3))
    assert torch.equal(y.coords[8:, 1:], x.coords[:, 1:])
    assert torch.equal(y.feats, torch.cat([x.feats, x.feats]))
    assert y.equal_length == 0 and x[0].repeat_batch(3).equal_length == 5


def test_fused_block_path_on_an_equal_length_batch_equals_the_torch_path_in_bf16():
    """The fused path passes no batch ids for equal-length batches (rows split evenly); the
    kernels' torch references stand in for the Triton kernels here (no GPU)."""
    rope = pytest.importorskip("trellis2_kernels.rmsnorm_rope")
    adaln = pytest.importorskip("trellis2_kernels.adaln")
    model = tiny_model("SLatFlowModel", dtype="bfloat16")
    gen = torch.Generator().manual_seed(6)
    one = SparseTensor(torch.zeros(29, 8), sample_coords(29, seed=3))
    pair = one.repeat_batch(2).replace(torch.randn(58, 8, generator=gen))
    t, cond = torch.tensor([200.0, 700.0]), torch.randn(2, 5, 16, generator=gen)
    plain = model(pair, t, cond).feats
    fused.register_fused("qk_rmsnorm_rope", "cpu", rope.qk_rmsnorm_rope_ref)
    fused.register_fused("residual_norm_modulate", "cpu", adaln.residual_norm_modulate_ref)
    try:
        with perf.use(perf.DEFAULT):
            assert fused.get("residual_norm_modulate", pair.feats.bfloat16()) is not None
            got = model(pair, t, cond).feats
    finally:
        for op in fused.OPS:
            fused.unregister_fused(op, "cpu")
    assert_verbose_allclose(got, plain, atol=2e-2, rtol=2e-2, name="fused pair")
