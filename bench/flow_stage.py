# SPDX-License-Identifier: MIT
"""One flow stage through the real sampler, under each speed-switch set (issue 5).

Full-size networks with RANDOM WEIGHTS (benchmark only), the official sampler settings of the
stage (12 steps; CFG inside the guidance interval), realistic token counts. For each switch set
it prints the stage's warm wall time (median of `--repeats` after one warm-up run), network
calls (eager calls and graph captures; replays are not counted), peak device memory of the
stage, and the agreement of the final sample with the previous set's (max abs difference
relative to its max |value|; random bf16 networks amplify rounding over 12 steps). `--per-call`
adds the time of one network call per variant: eager, and replayed from a CUDA graph, and the
capture (warm-up call + capture) cost.

Switch sets: base = perf.BASELINE (official glue, separate CFG passes, eager);
fused = fused kernels, separate passes, eager; batched = + batched CFG;
graphs = + CUDA graphs (= perf.DEFAULT).

    python bench/flow_stage.py                        # ss_flow and shape_flow_1024 on CUDA
    python bench/flow_stage.py --stages shape_flow_1024 --tokens 9368
    python bench/flow_stage.py --tiny --device cpu    # smoke test
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from functools import partial
from typing import Any

import torch
from networks_gpu import shell_coords  # bench/ is on sys.path when run as a script

from trellis2 import perf
from trellis2.models import build_random, preset
from trellis2.modules.sparse import SparseTensor
from trellis2.pipelines.samplers import FlowEulerGuidanceIntervalSampler, rescale_time_sequence
from trellis2.pipelines.samplers.stage import StageInputs

STAGES = {
    # name: (preset, sampler params of pipeline.json)
    "ss_flow": ("ss_flow_img_dit_1_3B_64_bf16", (7.5, 0.7, (0.6, 1.0), 5.0)),
    "shape_flow_512": ("slat_flow_img2shape_dit_1_3B_512_bf16", (7.5, 0.5, (0.6, 1.0), 3.0)),
    "shape_flow_1024": ("slat_flow_img2shape_dit_1_3B_1024_bf16", (7.5, 0.5, (0.6, 1.0), 3.0)),
}
SETS = {
    "base": perf.BASELINE,
    "fused": replace(perf.DEFAULT, batch_cfg=False, cuda_graphs=False),
    "batched": replace(perf.DEFAULT, cuda_graphs=False),
    "graphs": perf.DEFAULT,
}


class Counting(torch.nn.Module):
    """Counts network calls (eager calls and graph captures; replays bypass it)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.calls = 0

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.model(*args, **kwargs)


def _inputs(stage: str, model: torch.nn.Module, args: argparse.Namespace, dev: torch.device):
    gen = torch.Generator().manual_seed(0)
    cond_len = (1029 if stage != "shape_flow_1024" else 4101) if not args.tiny else 7
    cond = torch.randn(1, cond_len, model.cond_channels, generator=gen).to(dev)
    if stage == "ss_flow":
        r = model.resolution
        return torch.randn(1, model.in_channels, r, r, r, generator=gen).to(dev), cond
    res = 64 if stage == "shape_flow_1024" else 32
    tokens = args.tokens if stage == "shape_flow_1024" else args.lr_tokens
    coords = shell_coords(tokens, res, dev)
    feats = torch.randn(coords.shape[0], model.in_channels, generator=gen).to(dev)
    return SparseTensor(feats, coords), cond


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def run_stage(stage: str, args: argparse.Namespace, dev: torch.device) -> list[dict[str, Any]]:
    name, (w, phi, interval, rescale_t) = STAGES[stage]
    cfg = preset(name)
    if args.tiny:
        cfg = {
            "name": cfg["name"],
            "args": {
                **cfg["args"],
                "model_channels": 64,
                "cond_channels": 32,
                "num_blocks": 2,
                "num_heads": 2,
            },
        }
    net = build_random(cfg["name"], cfg["args"], device=dev, seed=1)
    model = Counting(net)
    noise, cond = _inputs(stage, net, args, dev)
    tokens = noise.feats.shape[0] if isinstance(noise, SparseTensor) else noise[0, 0].numel()
    sampler = FlowEulerGuidanceIntervalSampler(1e-5)
    neg = torch.zeros_like(cond)
    rows, ref = [], None

    def once() -> Any:
        return sampler.sample(
            model,
            noise,
            cond,
            neg,
            steps=args.steps,
            guidance_strength=w,
            guidance_rescale=phi,
            guidance_interval=interval,
            rescale_t=rescale_t,
        ).samples

    for set_name in args.sets.split(","):
        with perf.use(SETS[set_name]):
            once()  # warm-up: autotuning, caches, first capture
            times = []
            for _ in range(args.repeats):
                model.calls = 0
                _sync(dev)
                if dev.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(dev)
                t0 = time.perf_counter()
                out = once()
                _sync(dev)
                times.append(time.perf_counter() - t0)
            peak = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else 0.0
        f = (out.feats if isinstance(out, SparseTensor) else out).float()
        if ref is None:
            ref = f
        rel = float((f - ref).abs().max() / ref.abs().max().clamp_min(1e-30))
        ref = f
        rows.append(
            {
                "stage": stage,
                "set": set_name,
                "tokens": tokens,
                "seconds": statistics.median(times),
                "calls": model.calls,
                "peak_gib": peak,
                "rel_diff": rel,
            }
        )
        print(rows[-1], flush=True)
    if args.per_call and dev.type == "cuda":
        rows[0]["per_call"] = per_call(net, noise, cond, args.steps, rescale_t, dev)
        print(stage, rows[0]["per_call"], flush=True)
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def per_call(
    net: torch.nn.Module, noise: Any, cond: torch.Tensor, steps: int, rescale_t: float, dev
) -> dict[str, float]:
    """ms of one network call: eager and graph-replayed, batch B ("single") and 2B ("pair")."""
    t_seq = rescale_time_sequence(steps, rescale_t)
    out: dict[str, float] = {}
    with perf.use(perf.DEFAULT):
        for graphs in (False, True):
            stage = StageInputs(net, noise, cond, torch.zeros_like(cond), {}, t_seq, True, graphs)
            for variant in ("single", "pair"):
                call = partial(stage.velocity_pair if variant == "pair" else stage.velocity, noise)
                _sync(dev)
                t0 = time.perf_counter()
                call(0)  # eager warm-up (and capture, with graphs)
                _sync(dev)
                first = time.perf_counter() - t0
                times = []
                for i in range(1, 8):
                    t0 = time.perf_counter()
                    call(i % steps)
                    _sync(dev)
                    times.append(time.perf_counter() - t0)
                key = f"{'graph' if graphs else 'eager'}_{variant}"
                out[key + "_ms"] = 1000 * statistics.median(times)
                out[key + "_first_ms"] = 1000 * first
            stage.release()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--tiny", action="store_true", help="small configs (CPU smoke test)")
    p.add_argument("--stages", default="ss_flow,shape_flow_1024")
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--tokens", type=int, default=9600, help="64^3 shell target (9 368 voxels)")
    p.add_argument("--lr-tokens", type=int, default=3000, help="32^3 shell target")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--per-call", action="store_true", help="also time single network calls")
    args = p.parse_args()
    dev = torch.device(args.device)
    rows = [r for s in args.stages.split(",") for r in run_stage(s, args, dev)]
    if dev.type == "cuda":
        print(f"\n{torch.cuda.get_device_name(dev)}, torch {torch.__version__}")
    print("| stage | switches | tokens | s / stage | calls | peak GiB | rel. diff vs previous |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['stage']} | {r['set']} | {r['tokens']} | {r['seconds']:.3f} | {r['calls']} "
            f"| {r['peak_gib']:.2f} | {r['rel_diff']:.2e} |"
        )


if __name__ == "__main__":
    main()
