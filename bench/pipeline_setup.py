# SPDX-License-Identifier: MIT
"""Setup pieces of `bench/pipeline.py`: stage timer, pipeline build, the asset's surface chains
and the low-VRAM switch."""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from surface_structure import SurfaceLevels


class Recorder:
    """Times stages of one pass: rows of {stage, seconds, count} and on CUDA peak_gib (stage
    peak, weights included), start_gib (allocated when the stage began) and above_weights_gib
    (peak minus `weights_gib`, the resident networks measured after the build)."""

    def __init__(self, device: torch.device, verbose: bool = True, weights_gib: float = 0.0):
        self.device, self.verbose, self.weights_gib = device, verbose, weights_gib
        self.rows: list[dict[str, Any]] = []

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __call__(
        self, stage: str, fn: Callable[[], Any], count: Callable[[Any], str] | None = None
    ):
        self._sync()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            start = torch.cuda.memory_allocated(self.device) / 2**30
        t = time.perf_counter()
        out = fn()
        self._sync()
        row: dict[str, Any] = {"stage": stage, "seconds": time.perf_counter() - t}
        if self.device.type == "cuda":
            row["peak_gib"] = torch.cuda.max_memory_allocated(self.device) / 2**30
            row["reserved_gib"] = torch.cuda.max_memory_reserved(self.device) / 2**30
            row["start_gib"] = start
            row["above_weights_gib"] = row["peak_gib"] - self.weights_gib
        if count is not None:
            row["count"] = count(out)
        self.rows.append(row)
        if self.verbose:
            print(f"    {stage:<28} {row['seconds']:8.3f} s  {row.get('count', '')}", flush=True)
        return out


class RandomCondTokens:
    """Stand-in for DINOv3 where `transformers` is missing: random tokens of DINOv3's shape
    [B, 1 + 4 + (S/16)^2, hidden]. The image encoder's time is then not measured."""

    def __init__(self, hidden: int) -> None:
        self.hidden, self.image_size, self.device = hidden, 512, torch.device("cpu")

    def to(self, device: Any) -> RandomCondTokens:
        self.device = torch.device(device)
        return self

    def __call__(self, images: list[Any]) -> torch.Tensor:
        n = 1 + 4 + (self.image_size // 16) ** 2
        return torch.randn(len(images), n, self.hidden, device=self.device)


def build(args: argparse.Namespace, device: torch.device) -> tuple[Any, bool]:
    from trellis2.pipelines import Trellis2ImageTo3DPipeline

    kw: dict[str, Any] = {}
    if args.tiny:
        from trellis2.pipelines.tiny import TINY_DINOV3_CONFIG, TINY_MODEL_CONFIGS

        kw = {"random_configs": TINY_MODEL_CONFIGS, "dinov3_config": TINY_DINOV3_CONFIG}
    try:
        import transformers  # noqa: F401

        dino = True
    except ImportError:
        dino = False
        kw["image_cond_model"] = RandomCondTokens(32 if args.tiny else 1024).to(device)
    pipe = Trellis2ImageTo3DPipeline.from_pretrained(
        None,
        random_weights=True,
        device=device,
        low_vram=False,
        pipeline_types=args.types,  # only the networks these types run, like a server
        **kw,
    )
    if args.park_image_encoder:  # as the server does when memory is tight
        pipe.park_image_cond_model()
    return pipe, dino


class Surfaces:
    """Surface voxel chains of the asset, built on demand (untimed benchmark setup)."""

    def __init__(self, tri: torch.Tensor, verbose: bool = True) -> None:
        self.tri, self.verbose = tri, verbose
        self.chains: list[SurfaceLevels] = []
        self.setup_seconds: dict[int, float] = {}

    def chain(self, fine: int, coarse: int) -> SurfaceLevels:
        for c in self.chains:
            if fine in c.sets and coarse in c.sets:
                return c
        top = fine
        while top * 2 <= 1024:  # one 32..1024 chain serves 512, 1024 and the cascade's LR part
            top *= 2
        t = time.perf_counter()
        c = SurfaceLevels.from_triangles(self.tri, top, coarse)
        if self.tri.is_cuda:
            torch.cuda.synchronize()
        self.setup_seconds[top] = time.perf_counter() - t
        if self.verbose:
            counts = ", ".join(f"{r}^3: {c.count(r)}" for r in sorted(c.sets))
            print(f"  surface voxels ({self.setup_seconds[top]:.2f} s): {counts}", flush=True)
        self.chains.append(c)
        return c

    def counts(self) -> dict[str, int]:
        return {str(r): c.count(r) for c in self.chains for r in sorted(c.sets)}


@contextlib.contextmanager
def low_vram(pipe: Any) -> Iterator[None]:
    """The pipeline's low_vram mode (models on the CPU, moved in per stage), then back."""
    pipe.low_vram = True
    pipe.to(pipe.device)
    if pipe.device.type == "cuda":
        torch.cuda.empty_cache()
    try:
        yield
    finally:
        pipe.low_vram = False
        pipe.to(pipe.device)
