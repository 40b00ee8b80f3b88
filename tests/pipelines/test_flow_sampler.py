# SPDX-License-Identifier: MIT
"""FlowEulerGuidanceIntervalSampler: schedule, CFG call order, rescale std, progress."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from trellis2 import perf
from trellis2.modules.sparse import SparseTensor
from trellis2.pipelines.samplers import (
    FlowEulerGuidanceIntervalSampler,
    build_sampler,
    per_sample_std,
    rescale_time_sequence,
)


class RecordingLinearFlow(torch.nn.Module):
    """A real (tiny, analytic) velocity field that records how it was called."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[float, bool]] = []

    def forward(self, x, t, cond, **kwargs):
        is_neg = bool((cond == 0).all())
        self.calls.append((round(float(t[0]) / 1000, 6), is_neg))
        feats = x.feats if isinstance(x, SparseTensor) else x
        scale = 0.5 + cond.mean()
        out = feats * scale + t.float().mean() / 1000
        if "concat_cond" in kwargs:
            out = out + kwargs["concat_cond"].feats
        return x.replace(out) if isinstance(x, SparseTensor) else out


def test_rescaled_time_grids_match_the_reference_defaults() -> None:
    ss = rescale_time_sequence(12, 5.0)
    shape = rescale_time_sequence(12, 3.0)
    assert ss[:4] == pytest.approx([1, 0.9821, 0.9615, 0.9375], abs=1e-4)
    assert shape[8:] == pytest.approx([0.6, 0.5, 0.375, 0.2143, 0], abs=1e-4)
    assert rescale_time_sequence(4, 3.0) == pytest.approx([1.0, 0.9, 0.75, 0.5, 0.0])


# The call-order tests look at the two CFG passes one by one (the reference's way); the batched
# variant is covered in test_cfg_batch.py.
SEPARATE_CFG = replace(perf.current(), batch_cfg=False)


def test_guidance_runs_two_passes_only_inside_the_closed_interval() -> None:
    model = RecordingLinearFlow()
    sampler = FlowEulerGuidanceIntervalSampler(sigma_min=1e-5)
    noise = torch.randn(2, 8, 4, 4, 4)
    cond = torch.randn(2, 5, 16)
    with perf.use(SEPARATE_CFG):
        sampler.sample(
            model,
            noise,
            cond,
            torch.zeros_like(cond),
            steps=4,
            guidance_strength=3.0,
            guidance_rescale=0.5,
            guidance_interval=[0.3, 0.9],
            rescale_t=3.0,
        )
    # The order the reference produced for these settings (fixtures/parity/README.md).
    assert model.calls == [
        (1.0, False),
        (0.9, False),
        (0.9, True),
        (0.75, False),
        (0.75, True),
        (0.5, False),
        (0.5, True),
    ]


def test_default_shape_settings_use_cfg_on_nine_of_twelve_steps() -> None:
    model = RecordingLinearFlow()
    sampler = FlowEulerGuidanceIntervalSampler(sigma_min=1e-5)
    cond = torch.randn(1, 3, 4)
    with perf.use(SEPARATE_CFG):
        sampler.sample(
            model,
            torch.randn(1, 4, 2, 2, 2),
            cond,
            torch.zeros_like(cond),
            steps=12,
            guidance_strength=7.5,
            guidance_rescale=0.5,
            guidance_interval=[0.6, 1.0],
            rescale_t=3.0,
        )
    assert len(model.calls) == 21


def test_progress_callback_reports_every_step_and_outputs_are_kept_per_step() -> None:
    seen: list[tuple[int, int]] = []
    sampler = build_sampler(
        {"name": "FlowEulerGuidanceIntervalSampler", "args": {"sigma_min": 1e-5}}
    )
    cond = torch.randn(1, 3, 4)
    out = sampler.sample(
        RecordingLinearFlow(),
        torch.randn(1, 4, 2, 2, 2),
        cond,
        torch.zeros_like(cond),
        steps=5,
        guidance_strength=1.0,
        progress=lambda i, n: seen.append((i, n)),
    )
    assert seen == [(i, 5) for i in range(1, 6)]
    assert len(out.pred_x_t) == 5 and len(out.pred_x_0) == 5
    assert torch.equal(out.samples, out.pred_x_t[-1])


def test_sparse_std_is_the_population_std_of_each_sample() -> None:
    coords = torch.tensor([[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]])
    feats = torch.randn(5, 3)
    std = per_sample_std(SparseTensor(feats, coords))
    assert std.shape == (5, 1)
    expect0 = feats[:3].flatten().std(unbiased=False)
    expect1 = feats[3:].flatten().std(unbiased=False)
    torch.testing.assert_close(std[:, 0], torch.stack([expect0] * 3 + [expect1] * 2))


def test_dense_std_is_unbiased() -> None:
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(per_sample_std(x)[:, 0, 0], x.flatten(1).std(dim=1))


def test_sparse_sampling_keeps_coords_and_passes_concat_cond_to_every_call() -> None:
    coords = torch.tensor([[0, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 1]], dtype=torch.int32)
    noise = SparseTensor(torch.randn(3, 4), coords)
    concat = SparseTensor(torch.ones(3, 4), coords)
    cond = torch.randn(2, 3, 4)
    out = FlowEulerGuidanceIntervalSampler(1e-5).sample(
        RecordingLinearFlow(),
        noise,
        cond,
        torch.zeros_like(cond),
        steps=3,
        guidance_strength=2.0,
        guidance_rescale=0.7,
        guidance_interval=[0.0, 1.0],
        rescale_t=1.0,
        concat_cond=concat,
    )
    assert torch.equal(out.samples.coords, coords)
    assert torch.isfinite(out.samples.feats).all()
