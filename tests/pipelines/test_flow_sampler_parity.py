# SPDX-License-Identifier: MIT
"""The sampler on the parity fixtures' flows reproduces the reference's per-step outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from trellis2 import models
from trellis2.modules.sparse import SparseTensor
from trellis2.pipelines.samplers import FlowEulerGuidanceIntervalSampler

TOL = 1e-4  # max |ours - ref| / max(1, max |ref|), fp32 on CPU


def _rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return float((ours - ref).abs().max()) / max(1.0, float(ref.abs().max()))


def _check(io: dict[str, torch.Tensor], out, feats) -> list[float]:
    errs = [_rel_err(feats(out.samples), io["output.samples"])]
    for i in range(len(out.pred_x_t)):
        errs.append(_rel_err(feats(out.pred_x_t[i]), io[f"output.step{i}.x_prev"]))
        errs.append(_rel_err(feats(out.pred_x_0[i]), io[f"output.step{i}.pred_x0"]))
    return errs


CASES = {
    "sampler_ss": (
        "ss_flow",
        dict(guidance_strength=3.0, guidance_rescale=0.5, guidance_interval=[0.3, 0.9]),
    ),
    "sampler_slat_shape": (
        "slat_flow_shape",
        dict(guidance_strength=3.0, guidance_rescale=0.5, guidance_interval=[0.3, 0.9]),
    ),
    "sampler_slat_tex": (
        "slat_flow_tex",
        dict(guidance_strength=1.0, guidance_rescale=0.0, guidance_interval=[0.6, 0.9]),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sampler_matches_reference_fixture(case: str, shared_dir: Path) -> None:
    fx = shared_dir / "fixtures" / "parity"
    model_name, params = CASES[case]
    model = models.from_pretrained(str(fx / model_name)).float().eval()
    io = load_file(str(fx / f"{case}_io.safetensors"))
    kwargs = {}
    if "input.coords" in io:
        noise = SparseTensor(io["input.noise_feats"], io["input.coords"])
        if "input.concat_cond_feats" in io:
            kwargs["concat_cond"] = noise.replace(io["input.concat_cond_feats"])

        def feats(x):
            return x.feats
    else:
        noise = io["input.noise"]

        def feats(x):
            return x

    sampler = FlowEulerGuidanceIntervalSampler(sigma_min=1e-5)
    with torch.no_grad():
        out = sampler.sample(
            model,
            noise,
            io["input.cond"],
            io["input.neg_cond"],
            steps=4,
            rescale_t=3.0,
            **params,
            **kwargs,
        )
    errs = _check(io, out, feats)
    assert max(errs) <= TOL, f"{case}: worst relative error {max(errs):.3g} ({errs})"
