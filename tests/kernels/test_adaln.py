# SPDX-License-Identifier: MIT
"""Fused residual + LayerNorm + adaLN modulation equals the block's eager torch steps."""

from __future__ import annotations

import pytest
import torch
from trellis2_kernels.adaln import (
    gated_residual,
    layer_norm_modulate,
    residual_norm_modulate,
    residual_norm_modulate_ref,
)

from tests.kernels._common import DEVICE, TOLERANCES
from tests.utils import assert_verbose_allclose

# The three fused steps of a DiT block, plus the gated residual alone.
STEPS = {
    "norm1_modulate": lambda x, h, p: {"shift": p["shift"], "scale": p["scale"]},
    "gated_residual_norm2_affine": lambda x, h, p: {
        "h": h,
        "gate": p["gate"],
        "weight": p["weight"],
        "bias": p["bias"],
    },
    "residual_norm3_modulate": lambda x, h, p: {"h": h, "shift": p["shift"], "scale": p["scale"]},
    "gated_residual_only": lambda x, h, p: {"h": h, "gate": p["gate"], "norm": False},
    "vae_layer_norm_silu": lambda x, h, p: {"weight": p["weight"], "bias": p["bias"], "silu": True},
}


def _inputs(rows, c, nb, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, c, generator=g).to(DEVICE, dtype)
    h = torch.randn(rows, c, generator=g).to(DEVICE, dtype)
    p = {
        k: (s * torch.randn(*shape, generator=g)).to(DEVICE)
        for k, shape, s in [
            ("gate", (nb, c), 1.0),
            ("shift", (nb, c), 1.0),
            ("scale", (nb, c), 0.3),
            ("weight", (c,), 1.0),
            ("bias", (c,), 1.0),
        ]
    }
    return x, h, p


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("step", sorted(STEPS))
@pytest.mark.parametrize(("rows", "c", "nb"), [(1, 3, 1), (74, 24, 2)])
def test_fused_block_step_matches_eager_reference(rows, c, nb, step, dtype):
    x, h, p = _inputs(rows, c, nb, dtype, seed=rows + c)
    kw = STEPS[step](x, h, p)
    got = residual_norm_modulate(x, **kw)
    want = residual_norm_modulate_ref(x, **kw)
    atol, rtol = TOLERANCES[dtype]
    # A bf16/fp16 residual rounds once here and twice in eager torch: allow one more ulp.
    atol = atol if dtype == torch.float32 else 4 * atol
    for name, a, e in zip(("x_out", "y"), got, want, strict=True):
        assert (a is None) == (e is None)
        if a is not None:
            assert_verbose_allclose(a.float(), e.float(), atol=atol, rtol=rtol, name=name)


def test_sparse_rows_use_their_batch_ids():
    x, h, p = _inputs(37, 16, 3, torch.float32, seed=5)
    bid = torch.randint(0, 3, (37,), generator=torch.Generator().manual_seed(0)).to(DEVICE)
    got = layer_norm_modulate(x, p["shift"], p["scale"], batch_ids=bid)
    _, want = residual_norm_modulate_ref(x, shift=p["shift"], scale=p["scale"], batch_ids=bid)
    assert_verbose_allclose(got, want, atol=1e-5, rtol=1e-5)
    got = gated_residual(x, h, p["gate"], batch_ids=bid)
    want, _ = residual_norm_modulate_ref(x, h, p["gate"], norm=False, batch_ids=bid)
    assert_verbose_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("step", sorted(STEPS))
def test_fused_block_step_matches_eager_reference_on_cuda_at_model_width(step):
    x, h, p = _inputs(9600, 1536, 1, torch.bfloat16, seed=9)
    kw = STEPS[step](x, h, p)
    for a, e in zip(
        residual_norm_modulate(x, **kw), residual_norm_modulate_ref(x, **kw), strict=True
    ):
        if a is not None:
            assert_verbose_allclose(a.float(), e.float(), atol=8e-2, rtol=2e-2)


@pytest.mark.gpu
def test_layer_norm_silu_matches_eager_reference_on_cuda_at_decoder_size():
    from trellis2_kernels.adaln import layer_norm_silu

    x, _, p = _inputs(300_001, 64, 1, torch.float16, seed=11)
    got = layer_norm_silu(x, p["weight"], p["bias"])
    _, want = residual_norm_modulate_ref(x, weight=p["weight"], bias=p["bias"], silu=True)
    assert_verbose_allclose(got.float(), want.float(), atol=4e-2, rtol=2e-2)
