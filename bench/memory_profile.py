# SPDX-License-Identifier: MIT
"""What holds GPU memory at the peaks of a 1024 generation (issue 5: peak <= 16 GB).

RANDOM WEIGHTS, structure from a real asset, exactly as `bench/pipeline.py` runs a pass: one
warm-up pass (compilation, autotuning), then a profiled pass in which the stages named by
--stages run under `torch.cuda.memory._record_memory_history`. For each such stage the
allocation trace is replayed to find the moment of the peak; the allocations live then (made
inside the stage) are grouped by their innermost project frames and printed, largest first.
Forward hooks on every decoder block print the peak above the stage's start per block.
Also times the host<->device copy that moving DINOv3's weights (1.13 GiB fp32) off the GPU
between generations would cost.

    source bench/device_env.sh; python3 bench/memory_profile.py --types 1024_cascade
CPU: not supported (the allocator trace is CUDA's).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import DEFAULT_ASSET, _shared, run_pass
from pipeline_setup import Recorder, Surfaces, build
from surface_structure import load_triangles

GIB = 2**30
PROJECT = ("/trellis2/", "/trellis2_kernels/", "/bench/")


def _project_frames(frames: list[dict[str, Any]], depth: int) -> tuple[str, ...]:
    out = []
    for f in frames:
        name = f.get("filename", "")
        if any(p in name for p in PROJECT):
            out.append(f"{name.split('/')[-1]}:{f.get('line')} {f.get('name')}")
            if len(out) == depth:
                break
    return tuple(out) or ("(no project frame)",)


def peak_live(snapshot: dict[str, Any], base: int, depth: int) -> tuple[int, dict]:
    """Replay the allocation trace: (peak bytes incl. `base`, {stack: [bytes, count]} live then)."""
    live: dict[int, tuple[int, tuple[str, ...]]] = {}
    total = peak = base
    at_peak: dict[int, tuple[int, tuple[str, ...]]] = {}
    for trace in snapshot.get("device_traces", []):
        for ev in trace:
            act, addr, size = ev.get("action"), ev.get("addr"), ev.get("size", 0)
            if act == "alloc":
                live[addr] = (size, _project_frames(ev.get("frames", []), depth))
                total += size
                if total > peak:
                    peak, at_peak = total, dict(live)
            elif act == "free_requested":  # also frees of blocks made before the trace
                total -= size
                live.pop(addr, None)
    groups: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for size, stack in at_peak.values():
        groups[stack][0] += size
        groups[stack][1] += 1
    return peak, dict(groups)


class ProfilingRecorder(Recorder):
    """A Recorder that traces the allocations of the stages whose name contains a pattern."""

    def __init__(self, device: torch.device, weights: float, args: argparse.Namespace):
        super().__init__(device, weights_gib=weights)
        self.args, self.weights = args, weights

    def __call__(self, stage: str, fn: Any, count: Any = None) -> Any:
        if not any(p in stage for p in self.args.stages):
            return super().__call__(stage, fn, count)
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.memory._record_memory_history(
            enabled="all", context="all", stacks="python", max_entries=400_000
        )
        out = super().__call__(stage, fn, count)
        snap = torch.cuda.memory._snapshot()
        torch.cuda.memory._record_memory_history(enabled=None)
        peak, groups = peak_live(snap, base, self.args.depth)
        row = self.rows[-1]
        row["traced_above_gib"] = peak / GIB - self.weights  # the hooks reset the allocator's
        print(
            f"\n  [{stage}] start {base / GIB - self.weights:.2f} GiB above the weights, traced "
            f"peak {peak / GIB - self.weights:.2f} above (allocator peak "
            f"{row['above_weights_gib']:.2f}); live at the peak, made in the stage:"
        )
        for stack, (size, n) in sorted(groups.items(), key=lambda kv: -kv[1][0])[: self.args.top]:
            print(f"    {size / GIB:7.3f} GiB  x{n:<4d} {' <- '.join(stack)}")
        return out


def block_hooks(pipe: Any, names: list[str]) -> list[Any]:
    """Print per decoder block: allocated before, peak during, after (GiB)."""
    handles = []
    for name in names:
        model = pipe.models.get(name)
        if model is None:
            continue
        for i, level in enumerate(model.blocks):
            for j, block in enumerate(level):
                tag = f"{name}[{i}][{j}] {type(block).__name__}"

                def pre(mod: Any, inp: Any, tag: str = tag) -> None:
                    mod._mp_before = torch.cuda.memory_allocated()
                    torch.cuda.reset_peak_memory_stats()

                def post(mod: Any, inp: Any, out: Any, tag: str = tag) -> None:
                    peak = torch.cuda.max_memory_allocated()
                    after = torch.cuda.memory_allocated()
                    n = inp[0].feats.shape[0]
                    print(
                        f"    {tag:<58} N {n:>8d}  before {mod._mp_before / GIB:6.2f}  "
                        f"peak +{(peak - mod._mp_before) / GIB:5.2f}  after {after / GIB:6.2f}"
                    )

                handles += [block.register_forward_pre_hook(pre), block.register_forward_hook(post)]
    return handles


def dinov3_move_cost(dev: torch.device, gib: float = 1.13) -> dict[str, float]:
    """Seconds to copy `gib` of fp32 weights (300 tensors) pinned host -> device and back."""
    n = 300
    numel = int(gib * GIB / 4 / n)
    host = [torch.empty(numel, pin_memory=True) for _ in range(n)]
    gpu = [torch.empty(numel, device=dev) for _ in range(n)]
    out = {}
    for name, src, dst in (("h2d_s", host, gpu), ("d2h_s", gpu, host)):
        for _ in range(2):  # second run timed
            torch.cuda.synchronize()
            t = time.perf_counter()
            for d, s in zip(dst, src, strict=True):
                d.copy_(s, non_blocking=True)
            torch.cuda.synchronize()
            out[name] = time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--types", default="1024_cascade")
    ap.add_argument(
        "--stages",
        default="shape dec upsample,shape decoder,tex decoder,assemble",
        help="comma list of stage-name substrings to trace",
    )
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--depth", type=int, default=3, help="project frames per stack")
    ap.add_argument("--no-hooks", action="store_true")
    ap.add_argument("--asset", default=None)
    args = ap.parse_args()
    args.stages = args.stages.split(",")
    ptype = args.types
    ns = argparse.Namespace(
        tiny=False, types=[ptype], steps=None, seed=42, max_num_tokens=49152, image=None
    )
    dev = torch.device("cuda")
    print("!!! RANDOM WEIGHTS: memory only !!!", flush=True)
    pipe, dino = build(ns, dev)
    if dino:
        from PIL import Image

        ns.image = Image.new("RGB", (512, 512), (128, 100, 90))
    weights = torch.cuda.memory_allocated() / GIB
    print(f"weights {weights:.2f} GiB: {sorted(pipe.models)} (DINOv3: {dino})")
    asset = Path(args.asset or _shared() / "assets" / "gltf" / DEFAULT_ASSET)
    surf = Surfaces(load_triangles(asset, 0.99999).to(dev))
    surf.chain(1024, 32)
    print("== warm-up pass", flush=True)
    run_pass(pipe, surf, ptype, ns, Recorder(dev, weights_gib=weights), export=False)
    gc.collect()
    torch.cuda.empty_cache()
    held = torch.cuda.memory_allocated() / GIB - weights
    print(f"== profiled pass (held above the weights after the warm-up: {held:.3f} GiB)")
    handles = [] if args.no_hooks else block_hooks(pipe, ["shape_slat_decoder", "tex_slat_decoder"])
    rec = ProfilingRecorder(dev, weights, args)
    run_pass(pipe, surf, ptype, ns, rec, export=False)
    for h in handles:
        h.remove()
    print("\n| stage | start − weights | peak − weights (traced where traced) | peak GiB |")
    print("|---|---|---|---|")
    for r in rec.rows:
        print(
            f"| {r['stage']} | {r['start_gib'] - weights:.2f} | "
            f"{r.get('traced_above_gib', r['above_weights_gib']):.2f} | "
            f"{weights + r.get('traced_above_gib', r['above_weights_gib']):.2f} |"
        )
    cost = dinov3_move_cost(dev)
    print(f"\nDINOv3-size weights (1.13 GiB fp32, pinned): {cost}")


if __name__ == "__main__":
    main()
