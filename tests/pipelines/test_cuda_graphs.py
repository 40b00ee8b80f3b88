# SPDX-License-Identifier: MIT
"""Per-stage CUDA graphs (`perf.cuda_graphs`): eager on CPU, replay == eager on CUDA, and a
capture that cannot work falls back to eager without failing the generation."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
import torch

from trellis2 import perf
from trellis2.models import build_random
from trellis2.modules.sparse import SparseTensor
from trellis2.pipelines.cuda_graphs import MIN_REPLAYS, StageModel
from trellis2.pipelines.samplers import FlowEulerGuidanceIntervalSampler
from trellis2.pipelines.tiny import TINY_MODEL_CONFIGS

GUIDED = dict(guidance_strength=7.5, guidance_rescale=0.7, guidance_interval=[0.6, 1.0])


def _tiny(name: str, device: str) -> torch.nn.Module:
    spec = TINY_MODEL_CONFIGS[name]
    return build_random(spec["name"], spec["args"], device=device, seed=5)


def _shape_inputs(device: str, n: int = 50):
    gen = torch.Generator().manual_seed(0)
    flat = torch.randperm(32**3, generator=gen)[:n].sort().values
    xyz = torch.stack([flat // 1024, flat // 32 % 32, flat % 32], dim=1)
    coords = torch.cat([torch.zeros(n, 1, dtype=torch.long), xyz], dim=1).int().to(device)
    noise = SparseTensor(torch.randn(n, 32, generator=gen).to(device), coords)
    cond = torch.randn(1, 7, 32, generator=gen).to(device)
    return noise, cond


def _sample(model, noise, cond, graphs: bool):
    opts = replace(perf.current(), batch_cfg=True, cuda_graphs=graphs)
    with perf.use(opts):
        return FlowEulerGuidanceIntervalSampler(1e-5).sample(
            model, noise, cond, torch.zeros_like(cond), steps=6, rescale_t=3.0, **GUIDED
        )


def test_graphs_on_cpu_tensors_run_eagerly_and_give_the_eager_samples() -> None:
    model = _tiny("shape_slat_flow_model_512", "cpu")
    noise, cond = _shape_inputs("cpu")
    stage = StageModel(model, graphs=True)
    t = torch.full((1,), 500.0)
    out = stage("single", noise, t, cond)
    torch.testing.assert_close(out, model(noise, t, cond).feats, rtol=0, atol=0)
    assert stage.num_graphs == 0 and stage.captures == 0 and stage.replays == 0
    eager, with_switch = _sample(model, noise, cond, False), _sample(model, noise, cond, True)
    assert torch.equal(eager.samples.feats, with_switch.samples.feats)


@pytest.mark.gpu
def test_replayed_graphs_match_eager_calls_for_both_batch_variants() -> None:
    model = _tiny("shape_slat_flow_model_512", "cuda")
    noise, cond = _shape_inputs("cuda")
    stage = StageModel(model, graphs=True, probe=False)
    shifted = noise.coords.clone()
    shifted[:, 0] = 1
    pair = noise.replace(torch.cat([noise.feats, noise.feats]), torch.cat([noise.coords, shifted]))
    pair_cond = torch.cat([cond, torch.zeros_like(cond)])
    for step in range(4):
        t1 = torch.full((1,), 900.0 - 100 * step, device="cuda")
        x = noise.replace(noise.feats * (1 + 0.1 * step))
        got = stage("single", x, t1, cond)
        torch.testing.assert_close(got, model(x, t1, cond).feats, rtol=1e-5, atol=1e-5)
        xp = pair.replace(pair.feats * (1 - 0.1 * step))
        t2 = t1.expand(2)
        got = stage("pair", xp, t2, pair_cond)
        torch.testing.assert_close(got, model(xp, t2, pair_cond).feats, rtol=1e-5, atol=1e-5)
    assert stage.captures == 2 and stage.replays == 6
    stage.release()
    assert stage.num_graphs == 0


@pytest.mark.gpu
def test_sampling_with_graphs_matches_eager_sampling_on_cuda() -> None:
    model = _tiny("shape_slat_flow_model_512", "cuda")
    noise, cond = _shape_inputs("cuda")
    eager = _sample(model, noise, cond, graphs=False)
    graphed = _sample(model, noise, cond, graphs=True)
    torch.testing.assert_close(graphed.samples.feats, eager.samples.feats, rtol=1e-5, atol=1e-5)


class HostReadingFlow(torch.nn.Module):
    """Reads a device value back to the host in forward: such a call cannot be captured."""

    def forward(self, x, t, cond):
        scale = float(cond.abs().max().item())
        return x * (1 + scale) + t[:, None, None, None, None] / 1000


@pytest.mark.gpu
def test_a_capture_that_fails_logs_once_and_the_stage_runs_eagerly(caplog) -> None:
    model = HostReadingFlow()
    stage = StageModel(model, graphs=True, probe=False)
    x = torch.randn(1, 2, 2, 2, 2, device="cuda")
    cond = torch.randn(1, 3, 4, device="cuda")
    t = torch.full((1,), 700.0, device="cuda")
    with caplog.at_level(logging.WARNING, logger="trellis2.pipelines.cuda_graphs"):
        outs = [stage("single", x, t, cond) for _ in range(3)]
    for out in outs:
        torch.testing.assert_close(out, model(x, t, cond))
    assert stage.num_graphs == 0 and stage.replays == 0
    assert sum("CUDA graph capture failed" in r.message for r in caplog.records) <= 1
    # The failed capture must not leave the device's random generator in capture mode (the
    # next generation's noise is drawn on it).
    assert torch.randn(4, device="cuda").isfinite().all()


@pytest.mark.gpu
def test_a_variant_with_too_few_calls_planned_is_not_captured() -> None:
    model = _tiny("shape_slat_flow_model_512", "cuda")
    noise, cond = _shape_inputs("cuda")
    stage = StageModel(model, graphs=True, planned={"single": MIN_REPLAYS, "pair": 9}, probe=False)
    t = torch.full((1,), 800.0, device="cuda")
    for _ in range(MIN_REPLAYS):
        stage("single", noise, t, cond)
    assert stage.captures == 0 and stage.num_graphs == 0


class MatmulFlow(torch.nn.Module):
    """Milliseconds of GPU work per call for microseconds of host work (GPU-bound)."""

    def __init__(self, repeats: int) -> None:
        super().__init__()
        self.repeats = repeats
        self.w = torch.randn(4096, 4096, device="cuda") / 64

    def forward(self, x, t, cond):
        h = cond[0]
        for _ in range(self.repeats):
            h = torch.tanh(h @ self.w)
        return x + h.mean() + t[:, None, None, None, None] / 1000


@pytest.mark.gpu
def test_the_probe_captures_a_host_bound_variant_at_its_second_call_and_not_a_gpu_bound_one():
    x = torch.randn(1, 2, 2, 2, 2, device="cuda")
    t = torch.full((1,), 700.0, device="cuda")
    light = StageModel(MatmulFlow(repeats=1), graphs=True)
    heavy = StageModel(MatmulFlow(repeats=40), graphs=True)  # ~100 ms of fp32 GEMMs a call
    small, big = torch.randn(1, 64, 4096, device="cuda"), torch.randn(1, 4096, 4096, device="cuda")
    torch.cuda.synchronize()
    light("single", x, t, small)
    torch.cuda.synchronize()  # the GPU is idle when the host comes back: host-bound
    outs = [light("single", x, t, small) for _ in range(3)]
    assert light.captures == 1 and light.replays == 2
    torch.testing.assert_close(outs[-1], light.model(x, t, small), rtol=1e-4, atol=1e-4)
    heavy("single", x, t, big)
    heavy("single", x, t, big)  # asked right away: the first call is still running
    heavy("single", x, t, big)
    assert heavy.captures == 0 and heavy.num_graphs == 0
