# SPDX-License-Identifier: MIT
"""Each full-size TRELLIS.2 network with random weights: checkpoint precision vs fp32.

For every network this builds the published architecture once with random weights
(`trellis2.models.build_random`, RANDOM WEIGHTS: benchmark only), makes an fp32 copy holding the
very same values, runs both on the same random inputs at realistic token counts, and prints one
table: agreement of the checkpoint-precision output with the fp32 one (max abs error, max abs
error relative to max |fp32|, cosine similarity) and the median time of each.

The SC-VAE decoders predict their own subdivisions; the fp32 run is teacher-forced with the
checkpoint-precision run's subdivision logits so both decode the same voxel set (the table also
counts subdivision decisions whose sign differs). TF32 is off for the fp32 reference.

    python bench/networks_gpu.py                     # all networks on CUDA
    python bench/networks_gpu.py --only ss_flow,shape_dec --latent-tokens 9600
    python bench/networks_gpu.py --no-fused --torch-conv   # torch ops only (no Triton)
    python bench/networks_gpu.py --tiny --device cpu # smoke test with small configs
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch

from trellis2.models import build_meta, build_random, fp32_args, load_state_dict_checked, preset
from trellis2.modules.sparse import SparseTensor

# name in the table -> checkpoint preset
NETWORKS = {
    "ss_flow": "ss_flow_img_dit_1_3B_64_bf16",
    "shape_flow_512": "slat_flow_img2shape_dit_1_3B_512_bf16",
    "shape_flow_1024": "slat_flow_img2shape_dit_1_3B_1024_bf16",
    "tex_flow_1024": "slat_flow_imgshape2tex_dit_1_3B_1024_bf16",
    "ss_dec": "ss_dec_conv3d_16l8_fp16",
    "shape_dec": "shape_dec_next_dc_f16c32_fp16",
    "tex_dec": "tex_dec_next_dc_f16c32_fp16",
    "shape_enc": "shape_enc_next_dc_f16c32_fp16",
}

_TINY_FLOW = {"model_channels": 64, "cond_channels": 32, "num_blocks": 2, "num_heads": 2}
_TINY_VAE = {"model_channels": [32, 16, 16, 8, 8], "num_blocks": [1, 1, 1, 1, 0]}
_TINY_ENC = {"model_channels": [8, 8, 16, 16, 32], "num_blocks": [0, 1, 1, 1, 1]}


@dataclass
class Sizes:
    cond_512: int = 1029  # DINOv3 tokens at 512 px: CLS + 4 registers + 32^2 patches
    cond_1024: int = 4101  # at 1024 px
    latent_tokens: int = 9600  # ~9.6K latent voxels at 1024^3 (paper)
    lr_tokens: int = 3000  # 32^3 latent of the 512 model (not published; a typical shell)
    cond_channels: int = 1024


def shell_coords(n_target: int, res: int, device: torch.device) -> torch.Tensor:
    """int32 [N, 4] voxels of a spherical shell on a res^3 grid with about n_target voxels."""
    r = torch.arange(res, device=device, dtype=torch.float32) + 0.5 - res / 2
    d = torch.sqrt(r[:, None, None] ** 2 + r[None, :, None] ** 2 + r[None, None, :] ** 2)
    radius = 0.4 * res
    thick = max(0.5, n_target / (4 * math.pi * radius**2) / 2)
    xyz = ((d - radius).abs() < thick).nonzero().to(torch.int32)
    return torch.cat([torch.zeros(len(xyz), 1, dtype=torch.int32, device=device), xyz], dim=1)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn: Callable[[], Any], device: torch.device, repeats: int) -> tuple[Any, float, float]:
    """(output, first-call seconds, median seconds of the next `repeats` calls)."""
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return out, first, statistics.median(times) if times else first


def _agreement(a: torch.Tensor, ref: torch.Tensor) -> dict[str, float]:
    a, ref = a.double().flatten(), ref.double().flatten()
    err = (a - ref).abs()
    scale = ref.abs().max().clamp_min(1e-30)
    cos = torch.nn.functional.cosine_similarity(a, ref, dim=0)
    return {
        "max_abs": float(err.max()),
        "rel_to_max": float(err.max() / scale),
        "cosine": float(cos),
        "finite": bool(torch.isfinite(a).all()),
    }


def _fp32_twin(name: str, args: dict[str, Any], model: torch.nn.Module) -> torch.nn.Module:
    """The same weights (exact values) in an fp32-trunk network."""
    twin = build_meta(name, fp32_args({"args": args}))
    state = {k: v.float() for k, v in model.state_dict().items() if not v.is_complex()}
    return load_state_dict_checked(twin, state, "fp32 copy").eval()


def _config(key: str, tiny: bool) -> dict[str, Any]:
    cfg = preset(NETWORKS[key])
    if tiny:
        args = cfg["args"]
        if cfg["name"] in ("SparseStructureFlowModel", "SLatFlowModel"):
            args.update(_TINY_FLOW)
        elif cfg["name"] == "SparseStructureDecoder":
            args["channels"] = [32, 16, 8]
        elif "Encoder" in cfg["name"]:
            args.update(_TINY_ENC)
        else:
            args.update(_TINY_VAE)
    return cfg


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.device = torch.device(args.device)
        self.repeats = args.repeats
        self.tiny = args.tiny
        if args.tiny:
            self.sizes = Sizes(cond_512=17, cond_1024=33, latent_tokens=300, lr_tokens=150)
            self.sizes.cond_channels = _TINY_FLOW["cond_channels"]
        else:
            self.sizes = Sizes()
        if args.latent_tokens is not None:
            self.sizes.latent_tokens = args.latent_tokens
        if args.lr_tokens is not None:
            self.sizes.lr_tokens = args.lr_tokens
        self.gen = torch.Generator(device=self.device).manual_seed(args.seed)
        self.rows: list[dict[str, Any]] = []
        self.shape_subs: list[SparseTensor] | None = None
        self.shape_voxels: SparseTensor | None = None

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gen, device=self.device)

    def run_pair(self, key: str, make_inputs: Callable[[], tuple], call: Callable) -> None:
        cfg = _config(key, self.tiny)
        model = build_random(cfg["name"], cfg["args"], device=self.device, seed=1)
        inputs = make_inputs()
        with torch.inference_mode():
            out_lp, first_lp, t_lp = _time(partial(call, model, *inputs), self.device, self.repeats)
            ref_model = _fp32_twin(cfg["name"], cfg["args"], model)
            model = None  # free the checkpoint-precision weights before the fp32 run
            gc.collect()
            fp32_call = partial(call, ref_model, *inputs, teacher=out_lp)
            out_fp, _, t_fp = _time(fp32_call, self.device, self.repeats)
        ref_model = fp32_call = None
        agree = _agreement(out_lp["out"], out_fp["out"])
        extra = out_lp.get("note", "")
        if "subs" in out_lp and "subs" in out_fp:
            flips = sum(
                int(((a.feats > 0) != (b.feats > 0)).sum())
                for a, b in zip(out_lp["subs"], out_fp["subs"], strict=True)
            )
            extra += f" subdiv sign flips {flips}"
        prec = cfg["args"].get("dtype") or ("float16" if cfg["args"].get("use_fp16") else "fp32")
        self.rows.append(
            {
                "net": key,
                "precision": prec,
                **agree,
                "t_lp": t_lp,
                "t_fp": t_fp,
                "first_lp": first_lp,
                "tokens": out_lp["tokens"],
                "note": extra.strip(),
            }
        )
        print("    " + _row(self.rows[-1]), flush=True)  # partial results survive a timeout
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # ------------------------------------------------------------------ networks
    def ss_flow(self) -> None:
        s = self.sizes
        res = 16

        def inputs():
            return (
                self.randn(1, 8, res, res, res),
                torch.full((1,), 700.0, device=self.device),
                self.randn(1, s.cond_512, s.cond_channels),
            )

        def call(m, x, t, c, teacher=None):
            return {"out": m(x, t, c), "tokens": res**3}

        self.run_pair("ss_flow", inputs, call)

    def _slat_flow(self, key: str, tokens: int, grid: int, cond_len: int, concat: bool) -> None:
        s = self.sizes

        def inputs():
            coords = shell_coords(tokens, grid, self.device)
            x = SparseTensor(self.randn(len(coords), 32), coords)
            cc = x.replace(self.randn(len(coords), 32)) if concat else None
            return (
                x,
                torch.full((1,), 700.0, device=self.device),
                self.randn(1, cond_len, s.cond_channels),
                cc,
            )

        def call(m, x, t, c, cc, teacher=None):
            kw = {"concat_cond": cc} if cc is not None else {}
            return {"out": m(x, t, c, **kw).feats, "tokens": len(x)}

        self.run_pair(key, inputs, call)

    def ss_dec(self) -> None:
        res = 16 if not self.tiny else 8  # CPU fp16 conv3d is very slow

        def inputs():
            return (self.randn(1, 8, res, res, res),)

        def call(m, z, teacher=None):
            return {"out": m(z), "tokens": res**3}

        self.run_pair("ss_dec", inputs, call)

    def shape_dec(self) -> None:
        grid = 64 if not self.tiny else 8

        def inputs():
            coords = shell_coords(self.sizes.latent_tokens, grid, self.device)
            return (SparseTensor(self.randn(len(coords), 32), coords),)

        def call(m, x, teacher=None):
            m.set_resolution(grid * 16)
            guide = None if teacher is None else teacher["subs"]
            vox, subs = m.decode_voxels(x, return_subs=True, guide_subs=guide)
            if teacher is None:
                self.shape_subs = subs
                self.shape_voxels = SparseTensor(vox.raw[:, :6], vox.coords)
            return {
                "out": vox.raw,
                "subs": subs,
                "tokens": len(x),
                "note": f"-> {len(vox.coords)} voxels",
            }

        self.run_pair("shape_dec", inputs, call)

    def tex_dec(self) -> None:
        if self.shape_subs is None:
            self.shape_dec()
        grid = 64 if not self.tiny else 8

        def inputs():
            coords = shell_coords(self.sizes.latent_tokens, grid, self.device)
            return (SparseTensor(self.randn(len(coords), 32), coords),)

        def call(m, x, teacher=None):
            out = m(x, guide_subs=self.shape_subs)
            return {"out": out.feats, "tokens": len(x), "note": f"-> {len(out.coords)} voxels"}

        self.run_pair("tex_dec", inputs, call)

    def shape_enc(self) -> None:
        if self.shape_voxels is None:
            self.shape_dec()
        vox = self.shape_voxels
        assert vox is not None

        def inputs():
            v = SparseTensor(torch.rand_like(vox.feats[:, :3]), vox.coords)
            i = v.replace((vox.feats[:, 3:6] > 0).float())
            return v, i

        def call(m, v, i, teacher=None):
            z = m(v, i)
            return {"out": z.feats, "tokens": len(v.coords), "note": f"-> {len(z.coords)} latents"}

        self.run_pair("shape_enc", inputs, call)

    def run(self, only: list[str]) -> None:
        s = self.sizes
        lr_grid, hr_grid = (32, 64) if not self.tiny else (8, 16)
        table = {
            "ss_flow": self.ss_flow,
            "shape_flow_512": lambda: self._slat_flow(
                "shape_flow_512", s.lr_tokens, lr_grid, s.cond_512, False
            ),
            "shape_flow_1024": lambda: self._slat_flow(
                "shape_flow_1024", s.latent_tokens, hr_grid, s.cond_1024, False
            ),
            "tex_flow_1024": lambda: self._slat_flow(
                "tex_flow_1024", s.latent_tokens, hr_grid, s.cond_1024, True
            ),
            "ss_dec": self.ss_dec,
            "shape_dec": self.shape_dec,
            "tex_dec": self.tex_dec,
            "shape_enc": self.shape_enc,
        }
        for key in only:
            print(f"... {key}", flush=True)
            table[key]()

    def print_table(self) -> None:
        dev = self.device
        name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor()
        print(
            f"\n# networks_gpu: RANDOM WEIGHTS (benchmark only) on {dev} ({name}), "
            f"torch {torch.__version__}{' TINY configs' if self.tiny else ''}; "
            f"TRELLIS2_FUSED={os.environ.get('TRELLIS2_FUSED', '1')} "
            f"TRELLIS2_SPARSE_CONV={os.environ.get('TRELLIS2_SPARSE_CONV', 'auto')}"
        )
        hdr = (
            "| network | ckpt precision | tokens | max abs err | err / max abs fp32 | cosine | "
            "ckpt ms | fp32 ms | first call ms | note |"
        )
        print(hdr)
        print("|---" * (hdr.count("|") - 1) + "|")
        for r in self.rows:
            print(_row(r))


def _row(r: dict[str, Any]) -> str:
    return (
        f"| {r['net']} | {r['precision']} | {r['tokens']} | {r['max_abs']:.3g} | "
        f"{r['rel_to_max']:.3g} | {r['cosine']:.6f} | {1e3 * r['t_lp']:.1f} | "
        f"{1e3 * r['t_fp']:.1f} | {1e3 * r['first_lp']:.1f} | "
        f"{'' if r['finite'] else 'NON-FINITE '}{r['note']} |"
    )


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--tiny", action="store_true", help="small configs (CPU smoke test)")
    p.add_argument("--only", default=",".join(NETWORKS), help="comma list of " + ",".join(NETWORKS))
    p.add_argument("--latent-tokens", type=int, default=None, help="HR latent voxels (9600)")
    p.add_argument("--lr-tokens", type=int, default=None, help="32^3 latent voxels (3000)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-fused", action="store_true", help="TRELLIS2_FUSED=0 (torch DiT ops)")
    p.add_argument("--torch-conv", action="store_true", help="gather+matmul conv, no Triton")
    args = p.parse_args(argv)
    if args.no_fused:
        os.environ["TRELLIS2_FUSED"] = "0"
    if args.torch_conv:
        os.environ["TRELLIS2_SPARSE_CONV"] = "torch"
    torch.backends.cuda.matmul.allow_tf32 = False  # the fp32 reference is IEEE fp32
    torch.backends.cudnn.allow_tf32 = False
    bench = Bench(args)
    only = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = set(only) - set(NETWORKS)
    if unknown:
        p.error(f"unknown networks {sorted(unknown)}; choose from {list(NETWORKS)}")
    try:
        bench.run(only)
    finally:
        bench.print_table()
    return bench.rows


if __name__ == "__main__":
    main()
