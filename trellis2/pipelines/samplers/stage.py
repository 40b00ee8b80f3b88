# SPDX-License-Identifier: MIT
"""What one sampler stage's network calls need, built once before the step loop.

`StageInputs` holds the time tensor of every step, the conditions, the model kwargs and, for
batched classifier-free guidance, the batch-2B versions of all of them: the conditional and
unconditional passes then run as ONE network call on [x; x] with cond = cat([cond, neg_cond]).

- dense x [B, C, ...]: the pair input is cat([x, x]) on the batch dim, output split [:B] / [B:];
- sparse x (feats [N, C], coords [N, 4] rows (b, x, y, z)): the pair input lives on a voxel
  set built once per stage, the coords of x followed by the same coords with b + B, so its
  spatial caches (batch layout, RoPE phases, offsets) are computed on the first step and
  reused by every later one; output rows split [:N] / [N:].
  Sparse kwargs on x's voxels (e.g. the texture flow's `concat_cond`) are doubled the same
  way, once; dense kwargs with a leading batch dim B are concatenated with themselves.

Nothing in `velocity` / `velocity_pair` reads device values back to the host.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from trellis2.pipelines.cuda_graphs import StageModel

SINGLE, PAIR = "single", "pair"


def is_sparse(x: Any) -> bool:
    return not isinstance(x, torch.Tensor) and hasattr(x, "feats") and hasattr(x, "replace")


def feats_of(x: Any) -> torch.Tensor:
    return x.feats if is_sparse(x) else x


def batch_size(x: Any) -> int:
    """Samples in `x` (sparse: from its cached batch layout, one host read per voxel set)."""
    if is_sparse(x):
        shape = getattr(x, "shape", None)
        if shape is not None and len(shape) > 0:
            return int(shape[0])
        return int(x.coords[:, 0].max().item()) + 1
    return int(x.shape[0])


class StageInputs:
    """Per-stage inputs and the (optionally graphed) network; see the module docstring.

    `t_seq`: the stage's float64 schedule (steps + 1 values); step i uses 1000 * t_seq[i] as a
    float32 [B] (or [2B] for the pair call). `paired` asks for batched CFG; it is honoured only
    when `neg_cond` is given. `planned`: network calls per variant ("single", "pair") the
    stage will make (lets the graphs skip variants too rare to pay for a capture).
    """

    def __init__(
        self,
        model: Callable[..., Any],
        noise: Any,
        cond: Any,
        neg_cond: Any,
        model_kwargs: dict[str, Any],
        t_seq: Sequence[float],
        paired: bool = False,
        graphs: bool = False,
        planned: dict[str, int] | None = None,
    ) -> None:
        self.batch = batch_size(noise)
        self.rows = feats_of(noise).shape[0]
        device = feats_of(noise).device
        self.t_1000 = torch.tensor(
            [1000.0 * t for t in t_seq[:-1]], dtype=torch.float32, device=device
        )
        self.cond, self.neg_cond, self.kwargs = cond, neg_cond, model_kwargs
        self.paired = bool(paired) and neg_cond is not None
        self.model = StageModel(model, graphs=graphs, planned=planned)
        self._template: Any = None
        if self.paired:
            self._build_pair(noise)

    # ------------------------------------------------------------------ pair inputs
    def _build_pair(self, noise: Any) -> None:
        if is_sparse(noise):
            repeat = getattr(noise, "repeat_batch", None)  # carries the cached batch layout
            if repeat is not None:
                self._template = repeat(2)
            else:
                shifted = noise.coords.clone()
                shifted[:, 0] += self.batch
                coords = torch.cat([noise.coords, shifted])
                self._template = noise.replace(torch.cat([noise.feats, noise.feats]), coords)
            batch_size(self._template)  # the pair's batch layout, once, before the loop
        self.pair_cond = torch.cat([self.cond, self.neg_cond])
        self.pair_kwargs = {k: self._double(v) for k, v in self.kwargs.items()}

    def _double(self, value: Any) -> Any:
        if is_sparse(value) and value.feats.shape[0] == self.rows and self._template is not None:
            return self._template.replace(torch.cat([value.feats, value.feats]))
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == self.batch:
            return torch.cat([value, value])
        return value

    def _pair_x(self, x: Any) -> Any:
        f = feats_of(x)
        pair = torch.cat([f, f])
        return self._template.replace(pair) if self._template is not None else pair

    # ------------------------------------------------------------------ calls
    def velocity(self, x: Any, i: int, negative: bool = False) -> torch.Tensor:
        """One network call at step i on `x` with cond (or neg_cond): output feats."""
        cond = self.neg_cond if negative else self.cond
        t = self.t_1000[i].expand(self.batch)
        return self.model(SINGLE, x, t, cond, **self.kwargs)

    def velocity_pair(self, x: Any, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Conditional and unconditional velocities from one batch-2B call."""
        t = self.t_1000[i].expand(2 * self.batch)
        out = self.model(PAIR, self._pair_x(x), t, self.pair_cond, **self.pair_kwargs)
        half = self.rows if is_sparse(x) else self.batch
        return out[:half], out[half:]

    def release(self) -> None:
        """Free the stage's graphs and pair buffers."""
        self.model.release()
        self._template = None
