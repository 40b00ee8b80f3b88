# SPDX-License-Identifier: MIT
"""Batched CFG (`perf.batch_cfg`): one batch-2B network call per guided step gives the same
samples as the two separate passes, on the tiny real networks (CPU, fp32)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from trellis2 import perf
from trellis2.models import build_random
from trellis2.modules.sparse import SparseTensor
from trellis2.pipelines.samplers import FlowEulerGuidanceIntervalSampler
from trellis2.pipelines.tiny import TINY_MODEL_CONFIGS

TOL = 1e-5  # max |batched - separate| / max(1, max |separate|)
GUIDED = dict(guidance_strength=7.5, guidance_rescale=0.7, guidance_interval=[0.6, 1.0])


def _tiny(name: str, **override) -> torch.nn.Module:
    spec = TINY_MODEL_CONFIGS[name]
    return build_random(spec["name"], {**spec["args"], **override}, device="cpu", seed=3)


def _feats(x):
    return x.feats if isinstance(x, SparseTensor) else x


def _sample_both(model, noise, cond, **kwargs):
    """The same sampling with separate CFG passes and with batched ones."""
    sampler = FlowEulerGuidanceIntervalSampler(sigma_min=1e-5)
    outs = []
    for batch_cfg in (False, True):
        with perf.use(replace(perf.current(), batch_cfg=batch_cfg, cuda_graphs=False)):
            outs.append(
                sampler.sample(
                    model, noise, cond, torch.zeros_like(cond), steps=4, rescale_t=3.0, **kwargs
                )
            )
    return outs


def _assert_same(separate, batched) -> None:
    pairs = [(separate.samples, batched.samples)]
    pairs += list(zip(separate.pred_x_0, batched.pred_x_0, strict=True))
    for ref, got in pairs:
        ref, got = _feats(ref), _feats(got)
        err = float((got - ref).abs().max()) / max(1.0, float(ref.abs().max()))
        assert err <= TOL, f"batched CFG differs from separate passes by {err:.3g}"


def _voxels(n_per_sample: list[int], grid: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for b, n in enumerate(n_per_sample):
        flat = torch.randperm(grid**3, generator=gen)[:n].sort().values
        xyz = torch.stack([flat // grid**2, flat // grid % grid, flat % grid], dim=1)
        rows.append(torch.cat([torch.full((n, 1), b), xyz], dim=1))
    return torch.cat(rows).int()


def test_batched_cfg_matches_separate_passes_for_the_dense_structure_flow() -> None:
    model = _tiny("sparse_structure_flow_model", resolution=8)  # 8^3 tokens keeps it quick
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(2, 8, 8, 8, 8, generator=gen)  # two samples: per-sample rescale std
    cond = torch.randn(2, 5, 32, generator=gen)
    separate, batched = _sample_both(model, noise, cond, **GUIDED)
    _assert_same(separate, batched)


@pytest.mark.parametrize("counts", [[40], [40, 23]])
def test_batched_cfg_matches_separate_passes_for_the_sparse_shape_flow(counts) -> None:
    model = _tiny("shape_slat_flow_model_512")
    gen = torch.Generator().manual_seed(1)
    coords = _voxels(counts, 32, seed=1)
    noise = SparseTensor(torch.randn(coords.shape[0], 32, generator=gen), coords)
    cond = torch.randn(len(counts), 7, 32, generator=gen)
    separate, batched = _sample_both(model, noise, cond, **GUIDED)
    assert torch.equal(batched.samples.coords, coords)
    _assert_same(separate, batched)


def test_batched_cfg_doubles_the_texture_flows_concat_cond_with_its_voxels() -> None:
    model = _tiny("tex_slat_flow_model_512")
    gen = torch.Generator().manual_seed(2)
    coords = _voxels([30], 32, seed=2)
    noise = SparseTensor(torch.randn(coords.shape[0], 32, generator=gen), coords)
    concat = noise.replace(torch.randn(coords.shape[0], 32, generator=gen))
    cond = torch.randn(1, 7, 32, generator=gen)
    separate, batched = _sample_both(model, noise, cond, concat_cond=concat, **GUIDED)
    _assert_same(separate, batched)


class BatchRecordingFlow(torch.nn.Module):
    """A per-sample analytic velocity field that records each call's batch size."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def forward(self, x, t, cond, **kwargs):
        self.batches.append(int(cond.shape[0]))
        scale = 0.5 + cond.mean(dim=(1, 2))  # [B]: each sample only sees its own cond
        return x * scale[:, None, None, None, None] + t[:, None, None, None, None] / 1000


def test_guided_steps_make_one_call_of_twice_the_batch_and_unguided_steps_one_plain_call() -> None:
    model = BatchRecordingFlow()
    cond = torch.randn(2, 3, 4)
    noise = torch.randn(2, 4, 2, 2, 2)
    separate, batched = None, None
    for batch_cfg in (False, True):
        model.batches.clear()
        with perf.use(replace(perf.current(), batch_cfg=batch_cfg)):
            out = FlowEulerGuidanceIntervalSampler(1e-5).sample(
                model, noise, cond, torch.zeros_like(cond), steps=12, rescale_t=3.0, **GUIDED
            )
        if batch_cfg:
            batched = out
            # 12 steps, 9 inside [0.6, 1.0]: 9 calls of batch 4, then 3 of batch 2.
            assert model.batches == [4] * 9 + [2] * 3
        else:
            separate = out
            assert model.batches == [2] * 21
    _assert_same(separate, batched)


def test_the_baseline_switches_keep_two_separate_passes() -> None:
    model = BatchRecordingFlow()
    cond = torch.randn(1, 3, 4)
    with perf.use(perf.BASELINE):
        FlowEulerGuidanceIntervalSampler(1e-5).sample(
            model, torch.randn(1, 4, 2, 2, 2), cond, torch.zeros_like(cond), steps=4, **GUIDED
        )
    # t = 1, 0.75 inside [0.6, 1.0] (two passes each), 0.5 and 0.25 outside (one pass each).
    assert model.batches == [1] * 6
