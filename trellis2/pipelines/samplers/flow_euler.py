# SPDX-License-Identifier: MIT
"""Rectified-flow Euler samplers (TRELLIS.2 reference §4).

Convention: t = 1 is noise, t = 0 is data; x_t = (1 - t) x_0 + (sigma_min + (1 - sigma_min) t) eps
and the network predicts v = (1 - sigma_min) eps - x_0. It is called as
`model(x_t, t_1000, cond, **kwargs)` where `t_1000` is float32 [B] holding 1000 * t.

`x` is either a dense tensor [B, C, ...] or a sparse tensor (anything with `.feats` [N, C],
`.coords` [N, 4] int32 rows (b, x, y, z) and `.replace(feats)`, e.g.
`trellis2.modules.sparse.SparseTensor`). Sparse arithmetic is done on the feature matrix; the
result keeps the input's coords and spatial caches through `replace`.

Scalars (t, t_prev, step sizes) are Python floats (float64) as in the reference, so the
float32 tensors see the same rounding. The sampling loop does not read anything back from
the device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from trellis2 import perf
from trellis2.pipelines.samplers.stage import PAIR, SINGLE, StageInputs, batch_size

# progress(step, total): called after each Euler step (1-based step).
StepCallback = Callable[[int, int], None]


def _is_sparse(x: Any) -> bool:
    return not isinstance(x, torch.Tensor) and hasattr(x, "feats") and hasattr(x, "replace")


def _feats(x: Any) -> torch.Tensor:
    return x.feats if _is_sparse(x) else x


def _like(x: Any, values: torch.Tensor) -> Any:
    """A tensor shaped like `x` holding `values` (dense) or `x` with new feats (sparse)."""
    return x.replace(values) if _is_sparse(x) else values


def _batch_size(x: Any) -> int:
    return batch_size(x)


def _device(x: Any) -> torch.device:
    return _feats(x).device


def rescale_time_sequence(steps: int, rescale_t: float) -> list[float]:
    """t_seq = linspace(1, 0, steps + 1) mapped through t' = s t / (1 + (s - 1) t), float64."""
    # Same float64 operations as numpy.linspace(1, 0, steps + 1): 1 + i * (-1 / steps), last = 0.
    step = -1.0 / steps
    t_seq = [1.0 + i * step for i in range(steps)] + [0.0]
    return [rescale_t * t / (1 + (rescale_t - 1) * t) for t in t_seq]


def per_sample_std(x: Any, n_batch: int | None = None) -> torch.Tensor:
    """Std of each sample over all of its non-batch entries, broadcastable against `_feats(x)`.

    Dense [B, ...]: `torch.std` (unbiased), shape [B, 1, ...].
    Sparse: population std over all tokens and channels of that sample, shape [N, 1]
    (one row per token, holding its sample's value). Computed with scatter ops; no host sync
    when `n_batch` (the sample count) is given or x's batch layout is already cached.
    """
    if not _is_sparse(x):
        return x.std(dim=list(range(1, x.ndim)), keepdim=True)
    feats = x.feats.float()
    batch_idx = x.coords[:, 0].long()
    if n_batch is None:
        n_batch = _batch_size(x)
    channels = feats.shape[1]
    count = torch.zeros(n_batch, device=feats.device, dtype=feats.dtype)
    count.index_add_(0, batch_idx, torch.ones_like(batch_idx, dtype=feats.dtype))
    count = count * channels
    total = torch.zeros(n_batch, device=feats.device, dtype=feats.dtype)
    total.index_add_(0, batch_idx, feats.sum(dim=1))
    mean = total / count
    centred = feats - mean[batch_idx, None]
    sq = torch.zeros(n_batch, device=feats.device, dtype=feats.dtype)
    sq.index_add_(0, batch_idx, (centred * centred).sum(dim=1))
    std = (sq / count).sqrt()
    return std[batch_idx, None].to(x.feats.dtype)


@dataclass
class SamplerOutput:
    """`samples`: x at t = 0. `pred_x_t[i]`: x after Euler step i (t_prev of step i).
    `pred_x_0[i]`: the x_0 prediction of step i, from the (guided) velocity."""

    samples: Any
    pred_x_t: list[Any] = field(default_factory=list)
    pred_x_0: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Guidance:
    """CFG settings: `strength` w (v = w v_cond + (1 - w) v_uncond), `rescale` phi, and the
    closed `interval` of t in [0, 1] where CFG applies (None: every step)."""

    strength: float = 1.0
    rescale: float = 0.0
    interval: tuple[float, float] | None = None

    def weight(self, t: float) -> float:
        """The guidance strength used at schedule value t (1.0 means the conditional pass only)."""
        if self.interval is not None and not self.interval[0] <= t <= self.interval[1]:
            return 1.0
        return float(self.strength)


class FlowEulerSampler:
    """Plain Euler sampler for rectified flow: x <- x - (t - t_prev) * v."""

    def __init__(self, sigma_min: float) -> None:
        self.sigma_min = float(sigma_min)

    # --- conversions between v, x_0 and the model output ---------------------------------
    def _v_to_xstart(self, x_t: torch.Tensor, t: float, v: torch.Tensor) -> torch.Tensor:
        s = self.sigma_min
        return (1 - s) * x_t - (s + (1 - s) * t) * v

    def _xstart_to_v(self, x_t: torch.Tensor, t: float, x_0: torch.Tensor) -> torch.Tensor:
        s = self.sigma_min
        return ((1 - s) * x_t - x_0) / (s + (1 - s) * t)

    # --- network evaluation ---------------------------------------------------------------
    def _velocity(
        self, stage: StageInputs, x_t: Any, i: int, t: float, guidance: Guidance
    ) -> torch.Tensor:
        """The (guided) velocity feats at step i. CFG runs as two calls, or as one batch-2B
        call when the stage was built paired (`perf.current().batch_cfg`)."""
        w = guidance.weight(t)
        if w == 1:
            return stage.velocity(x_t, i)
        if w == 0:
            return stage.velocity(x_t, i, negative=True)
        if stage.paired:
            v_pos, v_neg = stage.velocity_pair(x_t, i)
        else:
            v_pos = stage.velocity(x_t, i)
            v_neg = stage.velocity(x_t, i, negative=True)
        pred = w * v_pos + (1 - w) * v_neg
        phi = float(guidance.rescale)
        if phi > 0:
            xt = _feats(x_t)
            x0_pos = self._v_to_xstart(xt, t, v_pos)
            x0_cfg = self._v_to_xstart(xt, t, pred)
            std_pos = per_sample_std(_like(x_t, x0_pos), stage.batch)
            std_cfg = per_sample_std(_like(x_t, x0_cfg), stage.batch)
            x0_rescaled = x0_cfg * (std_pos / std_cfg)
            x0 = phi * x0_rescaled + (1 - phi) * x0_cfg
            pred = self._xstart_to_v(xt, t, x0)
        return pred

    # --- loop ----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        model: Callable[..., Any],
        noise: Any,
        cond: Any = None,
        steps: int = 50,
        rescale_t: float = 1.0,
        progress: StepCallback | None = None,
        **kwargs: Any,
    ) -> SamplerOutput:
        """Integrate from t = 1 (`noise`) to t = 0 in `steps` Euler steps.

        `kwargs` are model kwargs such as `concat_cond`, which reach every network call.
        """
        kwargs.pop("verbose", None)
        return self._run(model, noise, cond, None, steps, rescale_t, progress, Guidance(), kwargs)

    def _run(
        self,
        model: Callable[..., Any],
        noise: Any,
        cond: Any,
        neg_cond: Any,
        steps: int,
        rescale_t: float,
        progress: StepCallback | None,
        guidance: Guidance,
        model_kwargs: dict[str, Any],
    ) -> SamplerOutput:
        opts = perf.current()
        steps = int(steps)
        t_seq = rescale_time_sequence(steps, float(rescale_t))
        # Everything per stage (times, pair inputs, batch layout) is built here, so the loop
        # below only launches device work and never reads device values back.
        n_guided = sum(guidance.weight(t) not in (0.0, 1.0) for t in t_seq[:-1])
        paired = opts.batch_cfg and n_guided > 0 and neg_cond is not None
        if paired:
            planned = {PAIR: n_guided, SINGLE: steps - n_guided}
        else:
            planned = {SINGLE: steps + n_guided}
        stage = StageInputs(
            model,
            noise,
            cond,
            neg_cond,
            model_kwargs,
            t_seq,
            paired=paired,
            graphs=opts.cuda_graphs and _device(noise).type == "cuda",
            planned=planned,
        )
        sample = noise
        out = SamplerOutput(samples=None)
        try:
            for i in range(steps):
                t, t_prev = t_seq[i], t_seq[i + 1]
                x_t = _feats(sample)
                v = self._velocity(stage, sample, i, t, guidance)
                pred_x0 = self._v_to_xstart(x_t, t, v)
                x_prev = x_t - (t - t_prev) * v
                sample = _like(sample, x_prev)
                out.pred_x_t.append(sample)
                out.pred_x_0.append(_like(sample, pred_x0))
                if progress is not None:
                    progress(i + 1, steps)
        finally:
            stage.release()
        out.samples = sample
        return out


class FlowEulerCfgSampler(FlowEulerSampler):
    """Euler sampler with classifier-free guidance and guidance rescale on every step."""

    def _guidance(self, strength: float, rescale: float, interval: Any) -> Guidance:
        return Guidance(float(strength), float(rescale), None)

    @torch.no_grad()
    def sample(  # type: ignore[override]
        self,
        model: Callable[..., Any],
        noise: Any,
        cond: Any = None,
        neg_cond: Any = None,
        steps: int = 50,
        guidance_strength: float = 3.0,
        guidance_rescale: float = 0.0,
        guidance_interval: Sequence[float] = (0.0, 1.0),
        rescale_t: float = 1.0,
        progress: StepCallback | None = None,
        **kwargs: Any,
    ) -> SamplerOutput:
        """Sample with CFG. Returns `SamplerOutput`.

        `noise`: dense [B, C, ...] or sparse feats [N, C]; `cond` / `neg_cond`: [B, L, C_cond]
        (the pipeline uses zeros for `neg_cond`). Extra kwargs (e.g. `concat_cond`) reach every
        network call. With `perf.current().batch_cfg` both passes run as one batch of 2B.
        """
        kwargs.pop("verbose", None)
        guidance = self._guidance(guidance_strength, guidance_rescale, guidance_interval)
        return self._run(model, noise, cond, neg_cond, steps, rescale_t, progress, guidance, kwargs)


class FlowEulerGuidanceIntervalSampler(FlowEulerCfgSampler):
    """CFG only while `guidance_interval[0] <= t <= guidance_interval[1]` (t in [0, 1], the
    rescaled schedule value, before the x1000); outside it only the conditional pass runs."""

    def _guidance(self, strength: float, rescale: float, interval: Any) -> Guidance:
        lo, hi = float(interval[0]), float(interval[1])
        return Guidance(float(strength), float(rescale), (lo, hi))


SAMPLERS: dict[str, type[FlowEulerSampler]] = {
    "FlowEulerSampler": FlowEulerSampler,
    "FlowEulerCfgSampler": FlowEulerCfgSampler,
    "FlowEulerGuidanceIntervalSampler": FlowEulerGuidanceIntervalSampler,
}


def build_sampler(spec: dict[str, Any]) -> FlowEulerSampler:
    """Build a sampler from a pipeline.json entry `{"name": ..., "args": {...}}`."""
    name = spec.get("name")
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r} in pipeline.json; known: {sorted(SAMPLERS)}")
    return SAMPLERS[name](**spec.get("args", {}))
