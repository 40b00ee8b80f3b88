# SPDX-License-Identifier: MIT
"""Kernel benchmark (CUDA only): sparse conv, attention, the fused glue kernels.

Sections, each printed as one table (medians of `triton.testing.do_bench`, ms):
- ceilings: device-to-device copy GB/s and an 8192^3 bf16 matmul TFLOP/s, measured here;
- sparse conv on sphere shells (res 64..1024, C 1024..64): our Triton conv vs spconv-triton
  (PyPI, if importable; fp16 with fp32 accumulation, its own cached indice pairs) vs the torch
  reference (gather + matmul), plus neighbour-map build time. TFLOP/s counts the taps that exist
  (2 * nnz * Ci * Co), the work any submanifold conv must do;
- attention: SDPA per backend (cuDNN, flash, efficient) at 4K-49K tokens, 12 heads x 128, bf16;
- glue: fused q/k RMSNorm+RoPE and residual+LN+adaLN vs the eager torch references, GB/s;
- grid sample: Triton vs torch reference;
- uv raster: Triton UV rasteriser vs the torch reference at 2048^2 (~200k faces, jittered grid).

Usage: python bench/kernels.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
import triton
from triton.testing import do_bench

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from trellis2_kernels.adaln import residual_norm_modulate, residual_norm_modulate_ref
from trellis2_kernels.grid_sample import (
    SortedVoxels,
    grid_sample_trilinear,
    grid_sample_trilinear_ref,
)
from trellis2_kernels.neighbor_map import build_neighbor_map, neighbor_order
from trellis2_kernels.rmsnorm_rope import qk_rmsnorm_rope, qk_rmsnorm_rope_ref
from trellis2_kernels.sparse_conv import sparse_conv, sparse_conv_ref

RESULTS: dict[str, list[dict]] = {}


def bench(fn: Callable[[], object], rep: int = 200) -> float:
    """Median ms over repeats after warm-up (do_bench flushes L2 between runs)."""
    return float(do_bench(fn, warmup=25, rep=rep, return_mode="median"))


def table(name: str, rows: list[dict]) -> None:
    RESULTS[name] = rows
    if not rows:
        return
    cols = list(rows[0])
    widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in cols]
    print(f"\n## {name}")
    print(" | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(cols, widths, strict=True)))
    sys.stdout.flush()


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return "-" if v is None else str(v)


def sphere_shell(res: int) -> torch.Tensor:
    """(0, x, y, z) int32 voxels within half a voxel of a sphere of radius 0.4 res, built on the
    GPU slab by slab (a dense 1024^3 grid of floats would not fit comfortably)."""
    ax = torch.arange(res, device="cuda", dtype=torch.float32) + 0.5 - res / 2
    y, z = torch.meshgrid(ax, ax, indexing="ij")
    parts = []
    for i in range(res):
        r = (ax[i] ** 2 + y * y + z * z).sqrt()
        yz = ((r - 0.4 * res).abs() <= 0.5).nonzero().to(torch.int32)
        xs = torch.full((len(yz), 1), i, dtype=torch.int32, device="cuda")
        parts.append(torch.cat([torch.zeros_like(xs), xs, yz], dim=1))
    return torch.cat(parts)


def ceilings() -> None:
    n = 1 << 28  # 512 MiB of bf16
    a = torch.empty(n, dtype=torch.bfloat16, device="cuda").normal_()
    b = torch.empty_like(a)
    ms = bench(lambda a=a, b=b: b.copy_(a))
    m = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    ms_mm = bench(lambda m=m: m @ m)
    table(
        "ceilings",
        [
            {"what": "d2d copy", "ms": ms, "rate": f"{4 * n / ms / 1e6:.0f} GB/s"},
            {
                "what": "bf16 matmul 8192^3",
                "ms": ms_mm,
                "rate": f"{2 * 8192**3 / ms_mm / 1e9:.0f} TFLOP/s",
            },
        ],
    )


def _spconv_runner(coords, feats, weight, bias, res):
    """spconv-triton SubMConv3d with its indice pairs cached, or None when not installed."""
    try:
        import spconv_triton.pytorch as spconv
    except ImportError:
        return None, "not installed"
    ci, co = feats.shape[1], weight.shape[0]
    conv = spconv.SubMConv3d(ci, co, 3, bias=True, indice_key="subm0", fp32_accum=True)
    conv = conv.to(device="cuda", dtype=feats.dtype)
    with torch.no_grad():
        conv.weight.copy_(weight)  # KRSC = [Co, 3, 3, 3, Ci], our layout
        conv.bias.copy_(bias)
    x = spconv.SparseConvTensor(feats, coords, [res, res, res], 1)
    t0 = time.perf_counter()
    with torch.no_grad():
        first = conv(x)
    torch.cuda.synchronize()
    first_ms = (time.perf_counter() - t0) * 1e3
    cached = spconv.SparseConvTensor(
        feats, coords, [res, res, res], 1, indice_dict=first.indice_dict
    )

    def run():
        with torch.no_grad():
            return conv(cached).features

    return run, first_ms


def conv_section(quick: bool, no_order: bool) -> None:
    shapes = [(64, 1024), (128, 512), (256, 256), (512, 128), (1024, 64)]
    if quick:
        shapes = [(64, 1024), (256, 256), (1024, 64)]
    rows = []
    for res, c in shapes:
        coords = sphere_shell(res)
        n = len(coords)
        torch.cuda.synchronize()
        t_map = bench(lambda coords=coords: build_neighbor_map(coords), rep=50)
        nbr = build_neighbor_map(coords)
        t_order = bench(lambda nbr=nbr: neighbor_order(nbr), rep=50)
        order = neighbor_order(nbr)
        nnz = int((nbr >= 0).sum())
        useful = 2 * nnz * c * c
        for dtype in (torch.float16, torch.bfloat16):
            g = torch.Generator(device="cuda").manual_seed(res)
            feats = torch.randn(n, c, device="cuda", dtype=dtype, generator=g)
            weight = (torch.randn(c, 3, 3, 3, c, device="cuda", generator=g) / (27 * c) ** 0.5).to(
                dtype
            )
            bias = torch.randn(c, device="cuda", dtype=dtype, generator=g)
            ours = sparse_conv(feats, nbr, weight, bias, order=order)  # autotunes here
            ref = sparse_conv_ref(feats, nbr, weight, bias)
            err = float((ours.float() - ref.float()).norm() / ref.float().norm())
            args = (feats, nbr, weight, bias)
            t_ours = bench(lambda args=args, order=order: sparse_conv(*args, order=order))
            t_ref = bench(lambda args=args: sparse_conv_ref(*args), rep=100)
            t_noorder = None
            if dtype == torch.float16 and no_order:
                sparse_conv(*args)
                t_noorder = bench(lambda args=args: sparse_conv(*args))
            t_sp, sp_note, sp_err = None, "fp16 only", None
            if dtype == torch.float16:
                run, sp_note = _spconv_runner(coords, feats, weight, bias, res)
                if run is not None:
                    sp_out = run()
                    sp_err = float((sp_out.float() - ref.float()).norm() / ref.float().norm())
                    t_sp = bench(run)
                    sp_note = f"first call {sp_note:.0f} ms"
            rows.append(
                {
                    "res": res,
                    "C": c,
                    "voxels": n,
                    "taps/voxel": round(nnz / n, 2),
                    "dtype": str(dtype).removeprefix("torch."),
                    "ours ms": t_ours,
                    "ours TFLOP/s": useful / t_ours / 1e9,
                    "no-order ms": t_noorder,
                    "spconv-triton ms": t_sp,
                    "torch ref ms": t_ref,
                    "vs spconv": (t_sp / t_ours) if t_sp else None,
                    "vs ref": t_ref / t_ours,
                    "rel err ours": err,
                    "rel err spconv": sp_err,
                    "map+order ms": t_map + t_order,
                    "spconv note": sp_note,
                }
            )
        torch.cuda.empty_cache()
    table("sparse conv (sphere shells, Ci = Co = C)", rows)


def attention_section(quick: bool) -> None:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backends = {
        "cudnn": SDPBackend.CUDNN_ATTENTION,
        "flash": SDPBackend.FLASH_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
    }
    rows = []
    for t in [4096, 9600, 20000, 49152] if not quick else [4096, 49152]:
        q, k, v = (
            torch.randn(1, 12, t, 128, device="cuda", dtype=torch.bfloat16) for _ in range(3)
        )
        flops = 4 * 12 * t * t * 128
        row: dict = {"tokens": t}
        for name, be in backends.items():
            try:
                with sdpa_kernel([be]):
                    fn = partial(torch.nn.functional.scaled_dot_product_attention, q, k, v)
                    fn()
                    ms = bench(fn, rep=100 if t < 30000 else 50)
                row[f"{name} ms"] = ms
                row[f"{name} TFLOP/s"] = flops / ms / 1e9
            except RuntimeError as e:  # backend unavailable for this shape/build
                row[f"{name} ms"] = f"n/a ({str(e)[:30]})"
                row[f"{name} TFLOP/s"] = None
        try:
            from torch.nn.attention.varlen import varlen_attn

            qv, kv, vv = (x[0].transpose(0, 1).contiguous() for x in (q, k, v))  # [T, H, D]
            cu = torch.tensor([0, t], device="cuda", dtype=torch.int32)
            fn = partial(varlen_attn, qv, kv, vv, cu, cu, t, t)
            fn()
            ms = bench(fn, rep=50)
            row["varlen TFLOP/s"] = flops / ms / 1e9
        except Exception as e:
            row["varlen TFLOP/s"] = f"n/a ({type(e).__name__})"
        rows.append(row)
    table("attention (SDPA, B=1, 12 heads x 128, bf16, non-causal)", rows)


def glue_section() -> None:
    rows = []
    t, h, d = 9600, 12, 128
    qkv = torch.randn(1, t, 3, h, d, device="cuda", dtype=torch.bfloat16)
    gamma = 1 + 0.1 * torch.randn(h, d, device="cuda")
    ang = torch.randn(t, d // 2, device="cuda") * 10
    ph = torch.view_as_real(torch.polar(torch.ones_like(ang), ang))
    q = qkv[:, :, 0]
    nbytes = 2 * t * h * d * 2
    a = bench(lambda: qk_rmsnorm_rope(q, gamma, ph))
    r = bench(lambda: qk_rmsnorm_rope_ref(q, gamma, ph))
    rows.append(_glue_row("q RMSNorm+RoPE [9600,12,128]", a, r, nbytes))
    c = 1536
    x = torch.randn(t, c, device="cuda", dtype=torch.bfloat16)
    hh = torch.randn(t, c, device="cuda", dtype=torch.bfloat16)
    p = {k: torch.randn(1, c, device="cuda") for k in ("gate", "shift", "scale")}
    w, b = torch.randn(c, device="cuda"), torch.randn(c, device="cuda")
    cases = {
        "LN+modulate (norm1)": ({"shift": p["shift"], "scale": p["scale"]}, 2),
        "gate*h + x, LN affine (norm2)": ({"h": hh, "gate": p["gate"], "weight": w, "bias": b}, 4),
        "h + x, LN+modulate (norm3)": ({"h": hh, "shift": p["shift"], "scale": p["scale"]}, 4),
        "gate*h + x": ({"h": hh, "gate": p["gate"], "norm": False}, 3),
    }
    for name, (kw, passes) in cases.items():
        a = bench(lambda kw=kw: residual_norm_modulate(x, **kw))
        r = bench(lambda kw=kw: residual_norm_modulate_ref(x, **kw))
        rows.append(_glue_row(f"{name} [9600,1536]", a, r, passes * t * c * 2))
    # The SC-VAE decoders' SiLU(LN_affine(h)) at the 1024^3 level: ~2.1M voxels x 64 channels.
    n, c = 2_100_000, 64
    xv = torch.randn(n, c, device="cuda", dtype=torch.float16)
    wv, bv = torch.randn(c, device="cuda"), torch.randn(c, device="cuda")
    kw = {"weight": wv, "bias": bv, "silu": True}
    a = bench(lambda: residual_norm_modulate(xv, **kw))
    r = bench(lambda: residual_norm_modulate_ref(xv, **kw))
    rows.append(_glue_row(f"SiLU(LN affine) fp16 [{n},{c}]", a, r, 2 * n * c * 2))
    table("glue kernels (bf16; GB/s = bytes that must move / fused time)", rows)


def _glue_row(name: str, fused: float, ref: float, nbytes: int) -> dict:
    return {
        "op": name,
        "fused ms": fused,
        "eager torch ms": ref,
        "speed-up": ref / fused,
        "fused GB/s": nbytes / fused / 1e6,
    }


def grid_sample_section() -> None:
    coords = sphere_shell(512)
    feats = torch.randn(len(coords), 6, device="cuda", dtype=torch.bfloat16)
    vol = SortedVoxels(coords)
    query = (coords[:, 1:].float() + torch.rand(len(coords), 3, device="cuda"))[None, :1_000_000]
    a = bench(lambda: grid_sample_trilinear(feats, vol, query))
    r = bench(lambda: grid_sample_trilinear_ref(feats, vol, query), rep=50)
    table(
        "grid sample (trilinear, 512^3 shell, 6 channels bf16)",
        [
            {
                "voxels": len(coords),
                "queries": query.shape[1],
                "triton ms": a,
                "torch ms": r,
                "speed-up": r / a,
            }
        ],
    )


def _jittered_grid(cells: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """UV grid mesh over [0, 1]^2: (cells + 1)^2 jittered vertices, 2 cells^2 faces, shuffled."""
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 1, cells + 1, dtype=torch.float64)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    xy = torch.stack([xx, yy], -1).reshape(-1, 2)
    inner = ((xy > 0) & (xy < 1)).all(1, keepdim=True)
    xy = xy + inner * (torch.rand(xy.shape, generator=g, dtype=torch.float64) - 0.5) * 0.6 / cells
    i = torch.arange(cells)
    a = (i[:, None] * (cells + 1) + i[None, :]).reshape(-1)
    faces = torch.cat(
        [
            torch.stack([a, a + 1, a + cells + 2], 1),
            torch.stack([a, a + cells + 2, a + cells + 1], 1),
        ]
    )
    faces = faces[torch.randperm(len(faces), generator=g)]
    return xy.float().cuda(), faces.cuda()


def uv_raster_section() -> None:
    rows = [_uv_raster_row(cells, size) for cells, size in ((316, 2048), (316, 4096), (1000, 4096))]
    table("uv raster (jittered grid atlas, face_id + bary)", rows)


def _uv_raster_row(cells: int, size: int) -> dict:
    from trellis2_kernels.uv_raster import rasterize_planes_triton

    from trellis2.postprocess.rasterize import face_planes, rasterize_uv

    uvs, faces = _jittered_grid(cells)
    want = rasterize_uv(uvs, faces, size, size, backend="torch")
    r = bench(lambda: rasterize_uv(uvs, faces, size, size, backend="torch"), rep=20)
    a = bench(lambda: rasterize_uv(uvs, faces, size, size, backend="triton"), rep=50)
    planes = face_planes(uvs, faces, size, size, 1e-5)
    row = {"faces": len(faces), "size": size, "torch ms": r, "triton ms": a, "speed-up": r / a}
    for block in (32, 64, 128):
        row[f"kernel B{block} ms"] = bench(
            partial(rasterize_planes_triton, *planes, size, size, block=block), rep=50
        )
    for fusion in (True, False):
        got = rasterize_planes_triton(*planes, size, size, fp_fusion=fusion)
        row[f"id diff fma={int(fusion)}"] = int((got[0] != want[0]).sum())
        row[f"bary err fma={int(fusion)}"] = float((got[1] - want[1]).abs().max())
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer sizes (a smoke run)")
    ap.add_argument("--json", type=Path, help="also write every table as JSON here")
    ap.add_argument("--no-order", action="store_true", help="also time the conv without row order")
    ap.add_argument("--only", default="ceilings,conv,attention,glue,grid,uvraster", help="sections")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit(
            "bench/kernels.py needs a CUDA GPU; run it on the device (bench/device_all.sh)"
        )
    props = torch.cuda.get_device_properties(0)
    try:
        import spconv_triton

        spv = getattr(spconv_triton, "__version__", "installed")
    except ImportError:
        spv = "not installed"
    now = datetime.datetime.now(datetime.UTC)
    print(
        f"# kernels bench {now:%Y-%m-%d %H:%M} UTC | {props.name} "
        f"({props.multi_processor_count} SMs) | CUDA {torch.version.cuda} "
        f"| torch {torch.__version__} | triton {triton.__version__} "
        f"| cuDNN {torch.backends.cudnn.version()} | spconv-triton {spv}"
    )
    sections = {
        "ceilings": ceilings,
        "conv": lambda: conv_section(args.quick, args.no_order),
        "attention": lambda: attention_section(args.quick),
        "glue": glue_section,
        "grid": grid_sample_section,
        "uvraster": uv_raster_section,
    }
    for name in args.only.split(","):
        t0 = time.perf_counter()
        try:
            sections[name]()
        except Exception as e:
            print(f"\n## {name}: FAILED {type(e).__name__}: {e}")
            RESULTS[name] = [{"error": repr(e)}]
        print(f"({name}: {time.perf_counter() - t0:.1f} s)")
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=1, default=str))
    _ = math


if __name__ == "__main__":
    main()
