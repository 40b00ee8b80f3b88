# SPDX-License-Identifier: MIT
"""Whole image-to-3D pipeline with RANDOM WEIGHTS: per-stage time and peak memory.

    python bench/pipeline_random.py                     # full size on CUDA, 1024_cascade
    python bench/pipeline_random.py --tiny              # CPU smoke test (tiny networks)
    python bench/pipeline_random.py --pipeline-type 1536_cascade --low-vram

Random weights make the sparse-structure decoder's occupancy noise (about half of 64^3), so
by default the SS stage runs in full (flow + decoder, timed) and its coords are then replaced by
a fixed synthetic shell on the 32^3 grid (--shell-voxels, ~3k like a typical 1024 asset's LR
structure; 0 keeps the decoded structure). The random shape decoder's subdivisions set the
later token counts, which are printed. DINOv3 ViT-L runs with random weights too; without
`transformers` random condition tokens of the right shape are used instead (said in the table).
Timers synchronise the device; memory is `torch.cuda.max_memory_allocated` per stage.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from collections.abc import Callable
from typing import Any

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def shell_coords(n_target: int, res: int, device: torch.device) -> torch.Tensor:
    """One-voxel-thick sphere shell centred in a res^3 grid with about `n_target` voxels."""
    radius = min(res / 2 - 1.5, math.sqrt(max(n_target, 1) / (4 * math.pi)))
    g = torch.arange(res, device=device, dtype=torch.float32) + 0.5 - res / 2
    x, y, z = torch.meshgrid(g, g, g, indexing="ij")
    d = (x * x + y * y + z * z).sqrt()
    xyz = torch.argwhere((d - radius).abs() < 0.5)
    return torch.cat([torch.zeros_like(xyz[:, :1]), xyz], 1).int()


class Recorder:
    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.rows: list[dict[str, Any]] = []

    def __call__(self, stage: str, fn: Callable[[], Any], tokens: Callable[[Any], int] | None):
        _sync(self.device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        t = time.perf_counter()
        out = fn()
        _sync(self.device)
        row = {"stage": stage, "seconds": time.perf_counter() - t}
        if self.device.type == "cuda":
            row["peak_gib"] = torch.cuda.max_memory_allocated(self.device) / 2**30
        if tokens is not None:
            row["tokens"] = tokens(out)
        self.rows.append(row)
        print(f"  {stage:<22} {row['seconds']:8.3f} s", flush=True)
        return out


class RandomCondTokens:
    """Stand-in for DINOv3 where `transformers` is missing: random tokens of DINOv3's shape
    [B, 1 + 4 + (S/16)^2, hidden]. Timing of the image encoder is then not measured."""

    def __init__(self, hidden: int) -> None:
        self.hidden, self.image_size, self.device = hidden, 512, torch.device("cpu")

    def to(self, device: Any) -> RandomCondTokens:
        self.device = torch.device(device)
        return self

    def __call__(self, images: list[Any]) -> torch.Tensor:
        n = 1 + 4 + (self.image_size // 16) ** 2
        return torch.randn(len(images), n, self.hidden, device=self.device)


def build(args: argparse.Namespace, device: torch.device):
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
        None, random_weights=True, device=device, low_vram=args.low_vram, **kw
    )
    return pipe, dino


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    rec = Recorder(device)
    pipe, dino = rec("build (random init)", lambda: build(args, device), None)
    params = {"steps": args.steps}
    ptype = args.pipeline_type
    torch.manual_seed(args.seed)
    images: list[Any] = [None]
    if dino:
        from PIL import Image

        images = [Image.new("RGB", (512, 512), (128, 100, 90))]
    what = "DINOv3" if dino else "random tokens, no transformers"
    cond_512 = rec(f"cond 512 ({what})", lambda: pipe.get_cond(images, 512), None)
    cond_1024 = None
    if ptype != "512":
        cond_1024 = rec(f"cond 1024 ({what})", lambda: pipe.get_cond(images, 1024), None)
    ss_res = {"512": 32, "1024": 64}.get(ptype, 32)
    z = rec("ss flow", lambda: pipe.sample_sparse_structure_latent(cond_512, 1, params), None)
    coords = rec(
        "ss decoder", lambda: pipe.decode_sparse_structure(z, ss_res), lambda c: c.shape[0]
    )
    if args.shell_voxels > 0:
        coords = shell_coords(args.shell_voxels * (8 if ss_res == 64 else 1), ss_res, device)
        rec.rows.append({"stage": "synthetic SS shell", "seconds": 0.0, "tokens": len(coords)})
    m = pipe.models
    if "cascade" in ptype:
        assert cond_1024 is not None
        lr = rec(
            "shape flow 512 (LR)",
            lambda: pipe.sample_shape_slat(
                cond_512, m["shape_slat_flow_model_512"], coords, params
            ),
            lambda s: s.feats.shape[0],
        )
        dec = m["shape_slat_decoder"]

        def upsample() -> torch.Tensor:
            with pipe._on_device(dec):
                return dec.upsample(lr, upsample_times=4)

        hr_coords = rec("shape dec upsample x4", upsample, lambda c: c.shape[0])
        target = 1024 if ptype == "1024_cascade" else 1536
        hr, res = pipe.requantize_coords(hr_coords, 512, target, args.max_num_tokens)
        shape_slat = rec(
            f"shape flow 1024 (HR {res})",
            lambda: pipe.sample_shape_slat(cond_1024, m["shape_slat_flow_model_1024"], hr, params),
            lambda s: s.feats.shape[0],
        )
        tex_cond, tex_flow = cond_1024, m["tex_slat_flow_model_1024"]
    else:
        res = int(ptype)
        cond = cond_512 if ptype == "512" else cond_1024
        assert cond is not None
        shape_slat = rec(
            f"shape flow {res}",
            lambda: pipe.sample_shape_slat(cond, m[f"shape_slat_flow_model_{res}"], coords, params),
            lambda s: s.feats.shape[0],
        )
        tex_cond, tex_flow = cond, m[f"tex_slat_flow_model_{res}"]
    meshes, subs = rec(
        "shape decoder + mesh",
        lambda: pipe.decode_shape_slat(shape_slat, res),
        lambda o: int(o[0][0].faces.shape[0]),
    )
    tex_slat = rec(
        "tex flow",
        lambda: pipe.sample_tex_slat(tex_cond, tex_flow, shape_slat, params),
        lambda s: s.feats.shape[0],
    )
    tex_vox = rec("tex decoder", lambda: pipe.decode_tex_slat(tex_slat, subs), lambda v: len(v))
    if args.export:
        from trellis2.generation.types import ExportSettings
        from trellis2.postprocess import export_asset

        mesh, vox = meshes[0], tex_vox
        rec(
            "export (GLB)",
            lambda: export_asset(
                mesh.vertices,
                mesh.faces,
                vox.feats,
                vox.coords[:, 1:],
                [[-0.5] * 3, [0.5] * 3],
                ExportSettings(),
                grid_size=res,
            ),
            lambda a: a.triangle_count,
        )
    return rec.rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny networks (CPU smoke test)")
    ap.add_argument("--device", default=None)
    ap.add_argument(
        "--pipeline-type",
        default="1024_cascade",
        choices=["512", "1024", "1024_cascade", "1536_cascade"],
    )
    ap.add_argument("--steps", type=int, default=None, help="sampler steps (12; 4 with --tiny)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--shell-voxels", type=int, default=None, help="LR shell size; 0 = decoded")
    ap.add_argument("--max-num-tokens", type=int, default=49152)
    ap.add_argument("--low-vram", action="store_true", help="offload each model between stages")
    ap.add_argument("--export", action="store_true", help="also time the GLB export")
    ap.add_argument("--json", default=None, help="write the rows here")
    args = ap.parse_args()
    if args.steps is None:
        args.steps = 4 if args.tiny else 12
    if args.shell_voxels is None:
        args.shell_voxels = 60 if args.tiny else 3000
    print("!!! RANDOM WEIGHTS: timing only, the outputs are noise !!!")
    rows = run(args)
    dev = torch.cuda.get_device_name() if torch.cuda.is_available() and not args.tiny else "cpu"
    print(
        f"\npipeline {args.pipeline_type}, random weights, steps {args.steps}, "
        f"{'tiny' if args.tiny else 'full-size'}, low_vram={args.low_vram}, device {dev}, "
        f"torch {torch.__version__}, python {platform.python_version()}"
    )
    print(f"| {'stage':<26} | {'time s':>8} | {'peak GiB':>8} | {'tokens/voxels/faces':>19} |")
    print(f"|{'-' * 28}|{'-' * 10}|{'-' * 10}|{'-' * 21}|")
    total = 0.0
    for r in rows:
        if not r["stage"].startswith("build"):
            total += r["seconds"]
        peak = f"{r['peak_gib']:.2f}" if "peak_gib" in r else "-"
        print(f"| {r['stage']:<26} | {r['seconds']:8.3f} | {peak:>8} | {r.get('tokens', ''):>19} |")
    print(f"| {'total (without build)':<26} | {total:8.3f} | {'':>8} | {'':>19} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "device": dev, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
