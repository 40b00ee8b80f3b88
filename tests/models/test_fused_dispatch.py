# SPDX-License-Identifier: MIT
"""The fused-kernel dispatch of the DiT blocks is plumbed right (CPU, torch stand-ins).

The Triton kernels only run on CUDA; here their torch references (`*_ref`, which follow the
model's eager precision) are registered for "cpu" as stand-ins, so the test checks argument
order and semantics of the fused block path against the unfused one in bf16.
"""

from __future__ import annotations

import pytest
import torch

from tests.utils import assert_verbose_allclose
from trellis2.models import build_random
from trellis2.modules import fused
from trellis2.modules.sparse import SparseTensor

ARGS = {
    "resolution": 8,
    "in_channels": 8,
    "out_channels": 8,
    "model_channels": 64,
    "cond_channels": 16,
    "num_blocks": 2,
    "num_heads": 2,
    "pe_mode": "rope",
    "share_mod": True,
    "qk_rms_norm": True,
    "qk_rms_norm_cross": True,
    "dtype": "bfloat16",
}


@pytest.fixture
def cpu_stand_ins():
    rope = pytest.importorskip("trellis2_kernels.rmsnorm_rope")
    adaln = pytest.importorskip("trellis2_kernels.adaln")
    fused.register_fused("qk_rmsnorm_rope", "cpu", rope.qk_rmsnorm_rope_ref)
    fused.register_fused("residual_norm_modulate", "cpu", adaln.residual_norm_modulate_ref)
    yield
    for op in fused.OPS:
        fused.unregister_fused(op, "cpu")


def _outputs(name: str, gen: torch.Generator):
    model = build_random(name, ARGS, seed=7)
    t = torch.tensor([300.0, 800.0])
    cond = torch.randn(2, 5, 16, generator=gen)
    if name == "SparseStructureFlowModel":
        return lambda: model(torch.randn(2, 8, 8, 8, 8, generator=gen.manual_seed(1)), t, cond)
    coords = torch.cat(
        [
            torch.tensor([[b, i % 8, (i // 8) % 8, i // 64] for i in range(n)], dtype=torch.int32)
            for b, n in ((0, 40), (1, 25))
        ]
    )
    x = SparseTensor(torch.randn(len(coords), 8, generator=gen), coords)
    return lambda: model(x, t, cond).feats


@pytest.mark.parametrize("name", ["SparseStructureFlowModel", "SLatFlowModel"])
def test_fused_block_path_equals_the_unfused_path_in_bf16(name, cpu_stand_ins):
    run = _outputs(name, torch.Generator().manual_seed(0))
    with torch.no_grad():
        fused_out = run()
        for op in fused.OPS:
            fused.unregister_fused(op, "cpu")
        plain = run()
    assert_verbose_allclose(fused_out, plain, atol=2e-2, rtol=2e-2, name=name)


def test_fp32_trunks_never_take_the_fused_path(cpu_stand_ins):
    assert fused.get("qk_rmsnorm_rope", torch.zeros(1, dtype=torch.float32)) is None
    assert fused.get("qk_rmsnorm_rope", torch.zeros(1, dtype=torch.bfloat16)) is not None


def test_a_wrong_fused_kernel_is_refused_by_the_self_check():
    fused.register_fused("qk_rmsnorm_rope", "cpu", lambda x, gamma, phases: x * 0)
    try:
        assert fused.get("qk_rmsnorm_rope", torch.zeros(1, dtype=torch.bfloat16)) is None
    finally:
        fused.unregister_fused("qk_rmsnorm_rope", "cpu")
