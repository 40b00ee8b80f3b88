# SPDX-License-Identifier: MIT
"""Flow-network calls of one sampler stage, optionally replayed from CUDA graphs.

`StageModel(model, graphs=True)` is called as `call(variant, x, t, cond, **kwargs)` and returns
the output features (dense [B, C, ...] or sparse feats [N, C]) as a fresh tensor. `variant`
names a fixed input signature within the stage (the sampler uses "single" for batch B and
"pair" for the batch-2B CFG call). With graphs on and every tensor on CUDA:

1. the first call of a variant runs eagerly (warms every cache the network keeps on the voxel
   set, the fused kernels' self-checks, Triton autotuning and cuBLAS/cuDNN plans) and records
   a CUDA event after its work (`probe`);
2. at the second call, if that event has not completed yet (a non-blocking query), the GPU is
   the bottleneck: replays would save nothing, so the variant stays eager. Otherwise the host
   is the bottleneck: the call runs eagerly on a side stream (the documented warm-up before a
   capture), returns that result, and the network call is captured once into a CUDA graph
   with static input buffers (x features, t, cond and any tensor kwarg); all graphs of a stage
   share one memory pool. With `probe=False` this happens at the first call already;
3. later calls of the variant copy their inputs into the static buffers (skipped for a tensor
   that is the very one captured) and replay the graph.

Measured on an H100 (bench/flow_stage.py --per-call, full-size flows, bf16, fused glue): a
3 032-token shape flow call takes 39.6 ms eager (host-bound) and 23.5 ms replayed; a 9 368-token
call is GPU-bound (96 ms either way), as is the batch-2 CFG call at 3 032 tokens (44 ms).

A sparse `x` must keep the same coords tensor (same voxel set and spatial cache) as the call
that was captured; any other input shape or voxel set runs eagerly. A capture that fails
(an op that syncs with the host, an unsupported kernel) is logged once per reason and that
variant runs eagerly for the rest of the stage: a generation never fails because of graphs.
`release()` frees the graphs and their pool (the sampler calls it when the stage ends).
`planned` (variant -> calls the stage will make) skips the capture of a variant that would
get fewer than `MIN_REPLAYS` replays: a capture costs about one forward of host time.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

_LOGGER = logging.getLogger(__name__)
# A variant is captured only if at least this many replays would follow the capture.
MIN_REPLAYS = 3
_WARNED: set[str] = set()


def _is_sparse(x: Any) -> bool:
    return not isinstance(x, torch.Tensor) and hasattr(x, "feats") and hasattr(x, "replace")


def _feats(x: Any) -> torch.Tensor:
    return x.feats if _is_sparse(x) else x


def _reset_generator_capture_state() -> None:
    """A capture that raised never ran the CUDA generator's capture epilogue, so the default
    generator still counts itself as capturing and every later random op on the device raises
    ("Offset increment outside graph capture encountered unexpectedly"). A small capture that
    succeeds runs the prologue and epilogue again and leaves the generator usable."""
    graph = torch.cuda.CUDAGraph()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.cuda.graph(graph):
            torch.zeros(1, device="cuda").add_(1)
    del graph


def _warn_once(reason: str) -> None:
    if reason not in _WARNED:
        _WARNED.add(reason)
        _LOGGER.warning("CUDA graph capture failed, running this stage eagerly: %s", reason)


@dataclass
class _Slot:
    """One captured input: the tensor seen at capture time and its static buffer."""

    source: torch.Tensor
    static: torch.Tensor


@dataclass
class _Graph:
    graph: Any  # torch.cuda.CUDAGraph
    slots: list[_Slot]
    out: torch.Tensor
    coords: torch.Tensor | None  # the voxel set a sparse x was captured on


class StageModel:
    """The flow network of one sampler stage; see the module docstring."""

    def __init__(
        self,
        model: Callable[..., Any],
        graphs: bool = False,
        planned: Mapping[str, int] | None = None,
        probe: bool = True,
    ) -> None:
        self.model = model
        self.graphs_enabled = bool(graphs) and torch.cuda.is_available()
        self.probe = probe
        self._probes: dict[str, Any] = {}  # variant -> CUDA event after its first call
        # A capture costs about one forward of host time; skip variants with few calls left.
        self._planned = dict(planned or {})
        self._graphs: dict[str, _Graph] = {}
        self._eager_only: set[str] = set()
        self._pool: Any = None
        self.replays = 0  # bookkeeping for tests and benches
        self.captures = 0

    # ------------------------------------------------------------------ public
    def __call__(self, variant: str, x: Any, t: torch.Tensor, cond: Any, **kwargs: Any):
        graphable = self._graphable(variant, x, t, cond, kwargs)
        self._count(variant)
        if not graphable:
            return _feats(self.model(x, t, cond, **kwargs))
        with torch.cuda.device(_feats(x).device):  # streams, events and graphs of x's GPU
            return self._graph_call(variant, x, t, cond, kwargs)

    def _graph_call(
        self, variant: str, x: Any, t: torch.Tensor, cond: Any, kwargs: dict[str, Any]
    ) -> torch.Tensor:
        entry = self._graphs.get(variant)
        if entry is not None:
            if self._matches(entry, x, t, cond, kwargs):
                return self._replay(entry, x, t, cond, kwargs)
            return _feats(self.model(x, t, cond, **kwargs))
        if self.probe:
            event = self._probes.get(variant)
            if event is None:  # first call: plain eager, then mark where its work ends
                out = _feats(self.model(x, t, cond, **kwargs))
                self._probes[variant] = torch.cuda.Event()
                self._probes[variant].record()
                return out
            if not event.query():
                # The GPU is still busy with the first call while the host is already back:
                # the stage is GPU-bound, replays would save nothing and a capture costs a
                # forward of host time. (A non-blocking query: no host sync.)
                self._eager_only.add(variant)
                return _feats(self.model(x, t, cond, **kwargs))
        out = self._warm(x, t, cond, kwargs)
        self._capture(variant, x, t, cond, kwargs)
        return out

    def _count(self, variant: str) -> None:
        if variant in self._planned:
            self._planned[variant] -= 1

    def release(self) -> None:
        """Drop every graph, static buffer and the shared pool of this stage."""
        self._graphs.clear()
        self._eager_only.clear()
        self._probes.clear()
        self._pool = None

    @property
    def num_graphs(self) -> int:
        return len(self._graphs)

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def _leaves(x: Any, t: torch.Tensor, cond: Any, kwargs: dict[str, Any]) -> list[Any]:
        """Every input in a fixed order: x, t, cond, then kwargs by name (sparse → feats)."""
        items = [x, t, cond, *(kwargs[k] for k in sorted(kwargs))]
        return [_feats(v) if _is_sparse(v) else v for v in items]

    def _graphable(
        self, variant: str, x: Any, t: torch.Tensor, cond: Any, kwargs: dict[str, Any]
    ) -> bool:
        if not self.graphs_enabled or variant in self._eager_only:
            return False
        left = self._planned.get(variant)  # calls left, this one included
        if variant not in self._graphs and left is not None and left - 1 < MIN_REPLAYS:
            return False
        tensors = [v for v in self._leaves(x, t, cond, kwargs) if isinstance(v, torch.Tensor)]
        return bool(tensors) and all(v.is_cuda for v in tensors)

    def _matches(
        self, entry: _Graph, x: Any, t: torch.Tensor, cond: Any, kwargs: dict[str, Any]
    ) -> bool:
        if _is_sparse(x) and x.coords is not entry.coords:
            return False
        leaves = [v for v in self._leaves(x, t, cond, kwargs) if isinstance(v, torch.Tensor)]
        if len(leaves) != len(entry.slots):
            return False
        return all(
            v.shape == s.static.shape and v.dtype == s.static.dtype
            for v, s in zip(leaves, entry.slots, strict=True)
        )

    # ------------------------------------------------------------------ graph work
    def _warm(self, x: Any, t: torch.Tensor, cond: Any, kwargs: dict[str, Any]) -> torch.Tensor:
        """Eager call on a side stream (as CUDA graph warm-up must be), result on this stream."""
        main = torch.cuda.current_stream()
        side = torch.cuda.Stream()
        side.wait_stream(main)
        with torch.cuda.stream(side):
            out = _feats(self.model(x, t, cond, **kwargs))
        main.wait_stream(side)
        out.record_stream(main)
        return out

    def _capture(
        self, variant: str, x: Any, t: torch.Tensor, cond: Any, kwargs: dict[str, Any]
    ) -> None:
        slots = [
            _Slot(v, v.detach().clone()) if isinstance(v, torch.Tensor) else None
            for v in self._leaves(x, t, cond, kwargs)
        ]

        def static(i: int, value: Any) -> Any:
            slot = slots[i]
            if slot is None:
                return value
            return value.replace(slot.static) if _is_sparse(value) else slot.static

        names = sorted(kwargs)
        sx, st, sc = static(0, x), static(1, t), static(2, cond)
        skw = {k: static(3 + i, kwargs[k]) for i, k in enumerate(names)}
        try:
            if self._pool is None:
                self._pool = torch.cuda.graph_pool_handle()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
                out = _feats(self.model(sx, st, sc, **skw))
        except Exception as exc:  # any capture problem: this variant stays eager
            self._eager_only.add(variant)
            _warn_once(f"{type(self.model).__name__} ({variant}): {type(exc).__name__}: {exc}")
            with contextlib.suppress(Exception):  # a broken device shows in the next call
                torch.cuda.synchronize()
                _reset_generator_capture_state()
            return
        self.captures += 1
        self._graphs[variant] = _Graph(
            graph=graph,
            slots=[s for s in slots if s is not None],
            out=out,
            coords=x.coords if _is_sparse(x) else None,
        )

    def _replay(
        self, entry: _Graph, x: Any, t: torch.Tensor, cond: Any, kwargs: dict[str, Any]
    ) -> torch.Tensor:
        leaves = [v for v in self._leaves(x, t, cond, kwargs) if isinstance(v, torch.Tensor)]
        for v, slot in zip(leaves, entry.slots, strict=True):
            if v is not slot.source:
                slot.static.copy_(v)
        entry.graph.replay()
        self.replays += 1
        return entry.out.clone()  # the static output is overwritten by the next replay
