# SPDX-License-Identifier: MIT
"""Where one flow-network call spends its GPU time: GEMM, attention, glue, idle (issue 5).

Full-size flow networks with RANDOM WEIGHTS (benchmark only), built as bench/networks_gpu.py
builds them, at realistic token counts, called through the sampler's `StageInputs` (the same
"single" batch-1 call and batched-CFG "pair" call the sampler makes, eager, no CUDA graphs) under
`perf.DEFAULT` (or `--perf baseline`). After warm-up, torch.profiler records `--calls` calls
per variant; the script prints per call: wall ms, GPU busy ms, GPU idle ms (gaps between kernels
inside the call's span), the kernel time split into GEMM / attention / glue, and the top
kernels by total time with their group.

    python bench/profile_flow.py                          # ss_flow and shape_flow_1024
    python bench/profile_flow.py --stages shape_flow_512 --top 30
    python bench/profile_flow.py --tiny --device cpu      # smoke test (no CUDA kernel table)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections import defaultdict
from functools import partial
from typing import Any

import torch
from networks_gpu import shell_coords  # bench/ is on sys.path when run as a script

from trellis2 import perf
from trellis2.models import build_random, preset
from trellis2.modules.sparse import SparseTensor
from trellis2.pipelines.samplers import rescale_time_sequence
from trellis2.pipelines.samplers.stage import StageInputs

STAGES = {
    # name: (preset, latent grid, condition tokens)
    "ss_flow": ("ss_flow_img_dit_1_3B_64_bf16", 16, 1029),
    "shape_flow_512": ("slat_flow_img2shape_dit_1_3B_512_bf16", 32, 1029),
    "shape_flow_1024": ("slat_flow_img2shape_dit_1_3B_1024_bf16", 64, 4101),
}
_TINY = {"model_channels": 64, "cond_channels": 32, "num_blocks": 2, "num_heads": 2}
# Kernel-name fragments (lower case) per group; first match wins, the rest is glue.
_ATTN = ("fmha", "flash", "sdpa", "attention", "attn")
_GEMM = ("gemm", "nvjet", "xmma", "cutlass", "cublas", "matmul", "splitk")


def kernel_group(name: str) -> str:
    low = name.lower()
    if any(s in low for s in _ATTN):
        return "attention"
    if any(s in low for s in _GEMM):
        return "gemm"
    return "glue"


def build(stage: str, args: argparse.Namespace, dev: torch.device) -> tuple[Any, Any, Any]:
    name, grid, cond_len = STAGES[stage]
    cfg = preset(name)
    if args.tiny:
        cfg["args"].update(_TINY)
        grid, cond_len = min(grid, 8), 7
    net = build_random(cfg["name"], cfg["args"], device=dev, seed=1)
    gen = torch.Generator(device=dev).manual_seed(0)
    cond = torch.randn(1, cond_len, net.cond_channels, generator=gen, device=dev)
    if stage == "ss_flow":
        r = net.resolution
        noise = torch.randn(1, net.in_channels, r, r, r, generator=gen, device=dev)
    else:
        tokens = {"shape_flow_512": 3000, "shape_flow_1024": 9600}[stage]
        coords = shell_coords(tokens if not args.tiny else 60, grid, dev)
        feats = torch.randn(coords.shape[0], net.in_channels, generator=gen, device=dev)
        noise = SparseTensor(feats, coords)
    return net, noise, cond


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def kernel_table(trace_path: str) -> tuple[list[dict[str, Any]], float, float]:
    """(kernels [{name, ts, dur}], span us, busy us) from a chrome trace."""
    with open(trace_path) as f:
        events = json.load(f)["traceEvents"]
    ks = [
        {"name": e["name"], "ts": float(e["ts"]), "dur": float(e["dur"])}
        for e in events
        if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")
    ]
    if not ks:
        return [], 0.0, 0.0
    ks.sort(key=lambda k: k["ts"])
    busy, end = 0.0, -1.0
    for k in ks:  # union of kernel intervals
        s, e = k["ts"], k["ts"] + k["dur"]
        if s >= end:
            busy += e - s
            end = e
        elif e > end:
            busy += e - end
            end = e
    span = max(k["ts"] + k["dur"] for k in ks) - ks[0]["ts"]
    return ks, span, busy


def profile_variant(stage: str, variant: str, call: Any, args: argparse.Namespace, dev) -> None:
    for _ in range(args.warmup):
        call()
    _sync(dev)
    walls = []
    for _ in range(args.calls):
        t0 = time.perf_counter()
        call()
        _sync(dev)
        walls.append(1000 * (time.perf_counter() - t0))
    wall = statistics.median(walls)
    print(f"\n## {stage} {variant}: wall {wall:.1f} ms / call (median of {args.calls})")
    if dev.type != "cuda":
        return
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(args.calls):
            call()
        _sync(dev)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.json")
        prof.export_chrome_trace(path)
        ks, span, busy = kernel_table(path)
    n = args.calls
    groups: dict[str, float] = defaultdict(float)
    per_name: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for k in ks:
        groups[kernel_group(k["name"])] += k["dur"]
        per_name[k["name"]][0] += k["dur"]
        per_name[k["name"]][1] += 1
    total = sum(groups.values())
    print(
        f"per call: GPU span {span / n / 1000:.2f} ms, busy {busy / n / 1000:.2f} ms, "
        f"idle {(span - busy) / n / 1000:.2f} ms, kernels {len(ks) / n:.0f}"
    )
    for g in ("gemm", "attention", "glue"):
        share = 100 * groups[g] / max(total, 1e-9)
        print(f"  {g:9s} {groups[g] / n / 1000:8.2f} ms  ({share:4.1f} %)")
    print(f"top {args.top} kernels (ms per call, launches per call, group):")
    top = sorted(per_name.items(), key=lambda kv: -kv[1][0])[: args.top]
    for name, (dur, cnt) in top:
        print(f"  {dur / n / 1000:7.3f} ms {cnt / n:6.0f}x  {kernel_group(name):9s} {name[:110]}")


def run_stage(stage: str, args: argparse.Namespace, dev: torch.device) -> None:
    net, noise, cond = build(stage, args, dev)
    t_seq = rescale_time_sequence(12, 3.0)
    with torch.inference_mode():
        inputs = StageInputs(net, noise, cond, torch.zeros_like(cond), {}, t_seq, True, False)
        tokens = noise.feats.shape[0] if isinstance(noise, SparseTensor) else noise[0, 0].numel()
        print(f"\n# {stage}: {tokens} tokens, {cond.shape[1]} cond tokens")
        for variant in args.variants.split(","):
            fn = inputs.velocity_pair if variant == "pair" else inputs.velocity
            call = partial(fn, noise, 3)
            profile_variant(stage, variant, call, args, dev)
        inputs.release()
    if dev.type == "cuda":
        torch.cuda.empty_cache()


def probe_gelu_epilogue(dev: torch.device) -> None:
    """cuBLASLt's GELU epilogue (torch._addmm_activation) vs linear + F.gelu(tanh), bf16."""
    gen = torch.Generator(device=dev).manual_seed(0)
    x = torch.randn(9368, 1536, generator=gen, device=dev).bfloat16()
    w = (torch.randn(6144, 1536, generator=gen, device=dev) / 40).bfloat16()
    b = torch.randn(6144, generator=gen, device=dev).bfloat16()
    ref = torch.nn.functional.gelu(torch.nn.functional.linear(x, w, b), approximate="tanh")
    got = torch._addmm_activation(b, x, w.t(), use_gelu=True)
    exact = torch.nn.functional.gelu(torch.nn.functional.linear(x, w, b).float())
    err = (got.float() - ref.float()).abs().max().item()
    err_exact = (got.float() - exact).abs().max().item()
    from triton.testing import do_bench

    t_ref = do_bench(
        lambda: torch.nn.functional.gelu(torch.nn.functional.linear(x, w, b), approximate="tanh")
    )
    t_got = do_bench(lambda: torch._addmm_activation(b, x, w.t(), use_gelu=True))
    print(
        f"gelu epilogue: max |epilogue - gelu_tanh| {err:.3g}, vs erf gelu {err_exact:.3g}; "
        f"linear+gelu {t_ref:.3f} ms, _addmm_activation {t_got:.3f} ms"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--tiny", action="store_true", help="small configs (CPU smoke test)")
    p.add_argument("--stages", default="ss_flow,shape_flow_1024")
    p.add_argument("--variants", default="single,pair")
    p.add_argument("--perf", choices=("default", "baseline"), default="default")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--calls", type=int, default=3, help="profiled calls per variant")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--probe-gelu", action="store_true", help="time the cuBLASLt GELU epilogue")
    args = p.parse_args()
    dev = torch.device(args.device)
    opts = perf.BASELINE if args.perf == "baseline" else perf.DEFAULT
    if dev.type == "cuda":
        print(f"{torch.cuda.get_device_name(dev)}, torch {torch.__version__}, perf {args.perf}")
    if args.probe_gelu and dev.type == "cuda":
        probe_gelu_epilogue(dev)
    with perf.use(opts):
        for stage in args.stages.split(","):
            run_stage(stage, args, dev)


if __name__ == "__main__":
    main()
