# SPDX-License-Identifier: MIT
"""Peak GPU memory of the GLB export per step (issue 5: peak <= 16 GB with export on the GPU).

Case: bench/export.py's dense_cuda mesh (the preview body of apple.png) at --grid (730: ~3.0M
faces, as the decoded 1024^3 mesh of bench/pipeline.py) with its attribute voxels, all on CUDA,
exported with the default ExportSettings (decimation 100k, 1024^2 textures) as the backend does.

    source bench/device_env.sh
    python3 bench/export_memory.py --build /tmp/case.pt              # build the case once
    python3 bench/export_memory.py --case /tmp/case.pt --json a.json  # measure
    TRELLIS2_ROOT=/path/to/old/tree python3 bench/export_memory.py --case /tmp/case.pt ...

Per step (the export's own on_step boundaries: clean, decimate, uv_unwrap, bake (incl. the
gutter fill's start), normal_map (incl. occlusion), write) it prints the peak of
torch.cuda.max_memory_allocated above the memory held when the export starts (the inputs), the
median time of --runs warm runs, and, from one traced run, the live allocations at the export's
peak grouped by their innermost project frames. TRELLIS2_ROOT puts another tree's `trellis2`
first on sys.path (the "before" numbers of one device call). CUDA only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("TRELLIS2_ROOT", str(REPO)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

GIB = 2**30
AABB = ((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))
PROJECT = ("/trellis2/", "/bench/")


def build_case(grid: int, path: Path) -> None:
    from PIL import Image

    from trellis2.preview.body import build_ovoxel
    from trellis2.preview.silhouette import crop_to_object, image_to_rgba, resize_rgba
    from trellis2.representations.o_voxel import flexible_dual_grid_to_mesh

    shared = Path(os.environ.get("TRELLIS2_SHARED", REPO.parent / "shared"))
    rgba = crop_to_object(image_to_rgba(Image.open(shared / "images" / "apple.png")))
    t = time.perf_counter()
    ov = build_ovoxel(resize_rgba(rgba, 2 * grid), grid)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    coords = torch.from_numpy(ov.coords.astype(np.int64))
    v, f = flexible_dual_grid_to_mesh(
        coords.to(dev),
        torch.from_numpy(ov.dual_vertices).to(dev),
        torch.from_numpy(ov.intersected).to(dev),
        None,
        AABB,
        grid_size=grid,
    )
    case = {"grid": grid, "v": v.cpu(), "f": f.cpu(), "attrs": torch.from_numpy(ov.attrs)}
    case["coords"] = coords
    torch.save(case, path)
    print(
        f"case: grid {grid}, {len(f):,} faces, {len(coords):,} voxels, built in "
        f"{time.perf_counter() - t:.1f} s -> {path}"
    )


def _frames(frames: list[dict[str, Any]], depth: int) -> tuple[str, ...]:
    out = []
    for fr in frames:
        name = fr.get("filename", "")
        if any(p in name for p in PROJECT):
            out.append(f"{name.split('/')[-1]}:{fr.get('line')} {fr.get('name')}")
            if len(out) == depth:
                break
    return tuple(out) or ("(no project frame)",)


def live_at_peak(snapshot: dict[str, Any], depth: int) -> tuple[int, dict]:
    """Replay the trace: (peak bytes above the trace start, {stack: [bytes, count]} then)."""
    live: dict[int, tuple[int, tuple[str, ...]]] = {}
    total = peak = 0
    at_peak: dict[int, tuple[int, tuple[str, ...]]] = {}
    for trace in snapshot.get("device_traces", []):
        for ev in trace:
            act, addr, size = ev.get("action"), ev.get("addr"), ev.get("size", 0)
            if act == "alloc":
                live[addr] = (size, _frames(ev.get("frames", []), depth))
                total += size
                if total > peak:
                    peak, at_peak = total, dict(live)
            elif act == "free_requested":
                total -= size
                live.pop(addr, None)
    groups: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for size, stack in at_peak.values():
        groups[stack][0] += size
        groups[stack][1] += 1
    return peak, dict(groups)


def run_once(case: dict[str, Any]) -> tuple[dict[str, float], dict[str, float], int]:
    """One export: ({step: peak GiB above the start}, {step: seconds}, triangles)."""
    from trellis2.generation.types import ExportSettings
    from trellis2.postprocess import PBR_ATTR_LAYOUT, ExportReport, export_asset

    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    peaks: dict[str, float] = {}
    current = ["start"]

    def close() -> None:
        peaks[current[0]] = (torch.cuda.max_memory_allocated() - base) / GIB
        torch.cuda.reset_peak_memory_stats()

    def on_step(name: str, i: int, n: int) -> None:
        close()
        current[0] = name

    torch.cuda.reset_peak_memory_stats()
    rep = ExportReport()
    t = time.perf_counter()
    asset = export_asset(
        case["v"],
        case["f"],
        case["attrs"],
        case["coords"],
        AABB,
        ExportSettings(),
        grid_size=case["grid"],
        attr_layout=PBR_ATTR_LAYOUT,
        on_step=on_step,
        report=rep,
    )
    close()
    peaks.pop("start", None)
    times = {**rep.timings, "total": time.perf_counter() - t}
    return peaks, times, asset.triangle_count


def measure(case_path: Path, runs: int, top: int, depth: int) -> dict[str, Any]:
    raw = torch.load(case_path)
    dev = torch.device("cuda")
    case = {k: (v.to(dev) if isinstance(v, torch.Tensor) else v) for k, v in raw.items()}
    import trellis2.postprocess as pp

    print(f"trellis2.postprocess from {Path(pp.__file__).parent}")
    print(f"case: {len(case['f']):,} faces, {len(case['coords']):,} voxels, grid {case['grid']}")
    inputs = torch.cuda.memory_allocated() / GIB
    _, tm, tris = run_once(case)  # warm-up (CUDA context, allocator)
    print(f"warm-up: {tm['total']:.2f} s, {tris:,} triangles")
    samples = [run_once(case) for _ in range(runs)]
    steps = list(samples[0][0])
    peak = {k: max(s[0][k] for s in samples) for k in steps}
    times = {k: statistics.median(s[1][k] for s in samples) for k in samples[0][1]}
    print(
        f"\ninputs on the GPU: {inputs:.3f} GiB; export peak above them per step "
        f"(max of {runs}), median seconds:"
    )
    print("| step | peak GiB above inputs |\n|---|---|")
    for k in steps:
        print(f"| {k} | {peak[k]:.3f} |")
    print("| step | s |\n|---|---|")
    for k, v in times.items():
        print(f"| {k} | {v:.3f} |")
    # One traced run: what is live at the peak.
    torch.cuda.synchronize()
    torch.cuda.memory._record_memory_history(
        enabled="all", context="all", stacks="python", max_entries=2_000_000
    )
    run_once(case)
    snap = torch.cuda.memory._snapshot()
    torch.cuda.memory._record_memory_history(enabled=None)
    traced, groups = live_at_peak(snap, depth)
    print(f"\ntraced peak {traced / GIB:.3f} GiB above the run's start; live then:")
    for stack, (size, n) in sorted(groups.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"  {size / GIB:7.3f} GiB  x{n:<5d} {' <- '.join(stack)}")
    return {
        "faces": len(case["f"]),
        "voxels": len(case["coords"]),
        "triangles_out": tris,
        "inputs_gib": inputs,
        "peak_above_inputs_gib": peak,
        "overall_peak_gib": max(peak.values()),
        "seconds": times,
        "traced_peak_gib": traced / GIB,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=730)
    ap.add_argument("--build", type=Path, help="build the case and save it here")
    ap.add_argument("--case", type=Path, help="measure on this saved case")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.build:
        build_case(args.grid, args.build)
    if args.case:
        out = measure(args.case, args.runs, args.top, args.depth)
        if args.json:
            args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
