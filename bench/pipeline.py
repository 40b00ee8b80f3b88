# SPDX-License-Identifier: MIT
"""Whole image-to-3D pipeline, RANDOM WEIGHTS, structure from a real asset: per-stage time and
peak memory, optimised vs the official way (perf.BASELINE) in one process, with a parity check.

Device (H100; carry .whl .tcache .shared; the asset must be in .shared/assets/gltf/, copied from
../shared/assets/gltf; 512 + 1024_cascade with every pass took 103 s, all three types fit < 9 min):

    source bench/device_env.sh; python3 bench/pipeline.py --json $OUT/pipeline.json \\
        2>&1 | tee $OUT/pipeline.log; save_triton_cache
    # a part: --types 512,1024_cascade   fewer passes: --modes opt,base   no GLB: --export-types ''

CPU smoke test (what tests/bench/test_pipeline_bench.py runs): `python bench/pipeline.py --tiny`.

Per pipeline type (--types, default 512,1024_cascade,1536_cascade) with the models built once:
`cold` (first call: compilation, autotuning, graph capture), `opt` (warm, default perf switches,
then the GLB export as its own stage), `base` (warm, `with perf.use(perf.BASELINE)`), `seq` and
`ovl` (warm; everything after the shape flow timed as one stage the way the backend runs it,
without / with the export prefetch on a side stream: `run_tail`); then, after every type,
`lowvram` for --low-vram-types (the pipeline's low_vram offload, default switches).
Every pass re-seeds, so the passes share noise and structure; the parity lines compare `cold`,
`base` and `lowvram` with `opt` (tolerances and their reasons: bench/pipeline_report.py).

Structure (bench/surface_structure.py): the SS flow and SS decoder run as in a generation (timed),
then their coords are replaced by the surface voxels of --asset at the SS grid; every C2S level of
the cascade upsample and of the shape decoder keeps exactly the children the surface passes
through (guide_subs); the texture decoder reuses those subdivisions like a real run reuses the
shape decoder's. Every network evaluation, CFG pass, sampler step, decoder and the mesh
extraction run as in `Trellis2ImageTo3DPipeline.run`. DINOv3 runs with random weights, or
random tokens of its shape where `transformers` is missing (said in the output). Timers
synchronise the device; peak = torch.cuda.max_memory_allocated within the stage (weights incl.).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
import traceback
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_report import parity, print_report
from pipeline_setup import Recorder, Surfaces, build, low_vram
from surface_structure import guide_subs, load_triangles

from trellis2 import perf

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ASSET = "kenney_platformer_character.glb"  # 10.9K latent tokens at 64^3 (paper: ~9.6K)
TINY_ASSET = "khronos_fox.glb"


def _n(x: Any) -> int:
    return int(x.feats.shape[0]) if hasattr(x, "feats") else int(x.shape[0])


@torch.no_grad()
def run_pass(
    pipe: Any,
    surf: Surfaces,
    ptype: str,
    args: argparse.Namespace,
    rec: Recorder,
    export: bool,
    tail: str | None = None,
) -> dict[str, Any]:
    """One generation of `ptype` like `Trellis2ImageTo3DPipeline.run`, structure from `surf`.
    Returns the tensors and counts the parity check compares. `tail` ("seq" or "ovl"): time
    everything after the shape flow as one stage, the way the backend runs it (see run_tail)."""
    from trellis2.pipelines.trellis2_image_to_3d import SS_RESOLUTION

    dev, m = pipe.device, pipe.models
    params = {"steps": args.steps} if args.steps else None
    torch.manual_seed(args.seed)
    images: list[Any] = [args.image]
    cond_512 = rec("cond 512", lambda: pipe.get_cond(images, 512))
    cond_1024 = rec("cond 1024", lambda: pipe.get_cond(images, 1024)) if ptype != "512" else None
    ss_res = SS_RESOLUTION[ptype]
    z_s = rec("ss flow", lambda: pipe.sample_sparse_structure_latent(cond_512, 1, params))
    decoded = rec(
        "ss decoder",
        lambda: pipe.decode_sparse_structure(z_s, ss_res),
        lambda c: f"{len(c)} occupied (replaced)",
    )
    # Only what the parity check needs, on the CPU: nothing of a pass outlives it on the GPU.
    out: dict[str, Any] = {"z_s": z_s.cpu(), "counts": {"ss_decoded": len(decoded)}}
    z_s = decoded = None  # dropped (not `del`: the stage lambdas close over them)
    coords = surf.chain(ss_res, ss_res).coords(ss_res).to(dev)
    out["counts"][f"ss_surface_{ss_res}"] = len(coords)
    if "cascade" in ptype:
        assert cond_1024 is not None
        lr = rec(
            "shape flow LR (512)",
            lambda: pipe.sample_shape_slat(
                cond_512, m["shape_slat_flow_model_512"], coords, params, stage="shape_slat_lr"
            ),
            lambda s: f"{_n(s)} tokens",
        )
        up_guides, up_final = guide_subs(lr.coords, ss_res, 4, surf.chain(ss_res * 16, ss_res))
        dec = m["shape_slat_decoder"]

        def upsample() -> torch.Tensor:
            with pipe._on_device(dec):
                return dec.upsample(lr, upsample_times=4, guide_subs=up_guides)

        hr_coords = rec("shape dec upsample x4", upsample, lambda c: f"{len(c)} voxels at 512^3")
        target = 1024 if ptype == "1024_cascade" else 1536
        hr, res = rec(
            "requantize",
            lambda: pipe.requantize_coords(hr_coords, 512, target, args.max_num_tokens),
        )
        shape = rec(
            f"shape flow HR ({res})",
            lambda: pipe.sample_shape_slat(
                cond_1024, m["shape_slat_flow_model_1024"], hr, params, stage="shape_slat_hr"
            ),
            lambda s: f"{_n(s)} tokens at {res // 16}^3",
        )
        out.update(
            lr_slat=lr.feats.cpu(),
            counts={**out["counts"], "lr_tokens": _n(lr), "upsample_voxels_512": len(hr_coords)},
        )
        out["counts"]["upsample_follows_surface"] = bool(torch.equal(hr_coords, up_final))
        lr = hr_coords = hr = up_guides = up_final = None  # dead here in the pipeline too
        tex_cond, tex_flow = cond_1024, m["tex_slat_flow_model_1024"]
    else:
        res = 512 if ptype == "512" else 1024
        cond = cond_512 if ptype == "512" else cond_1024
        assert cond is not None
        shape = rec(
            f"shape flow ({res})",
            lambda: pipe.sample_shape_slat(cond, m[f"shape_slat_flow_model_{res}"], coords, params),
            lambda s: f"{_n(s)} tokens at {res // 16}^3",
        )
        tex_cond, tex_flow = cond, m[f"tex_slat_flow_model_{res}"]
    guides, final = guide_subs(shape.coords, res // 16, 4, surf.chain(res, res // 16))
    out["counts"].update(shape_tokens=_n(shape), surface_voxels_final=len(final))
    if tail is not None:
        tex_slat, counts = run_tail(pipe, shape, guides, res, tex_cond, tex_flow, params, rec, tail)
        out["counts"].update(counts)
        out.update(shape_slat=shape.feats.cpu(), tex_slat=tex_slat.cpu(), resolution=res)
        return out
    dec = m["shape_slat_decoder"]

    def decode_shape() -> list[Any]:
        dec.set_resolution(res)
        with pipe._on_device(dec):
            meshes, _ = dec(shape, return_subs=True, guide_subs=guides)
        return meshes

    meshes = rec(
        f"shape decoder + mesh ({res})",
        decode_shape,
        lambda ms: f"{len(ms[0].vertices)} voxels, {len(ms[0].faces)} faces",
    )
    tex = rec(
        "tex flow",
        lambda: pipe.sample_tex_slat(tex_cond, tex_flow, shape, params),
        lambda s: f"{_n(s)} tokens",
    )
    tex_vox = rec(
        "tex decoder", lambda: pipe.decode_tex_slat(tex, guides), lambda v: f"{_n(v)} voxels"
    )
    out["counts"].update(decoded_voxels=_n(tex_vox), faces=len(meshes[0].faces))
    out["counts"]["decoder_follows_surface"] = bool(torch.equal(tex_vox.coords, final))
    guides = final = None
    assets = rec(
        "assemble (fill holes)",
        lambda: pipe._assemble(meshes, tex_vox, res),
        lambda a: f"{len(a[0].faces)} faces",
    )
    out.update(shape_slat=shape.feats.cpu(), tex_slat=tex.feats.cpu(), resolution=res)
    meshes = tex_vox = shape = tex = None
    if export:
        try:
            out["counts"]["glb_triangles"] = export_glb(pipe, assets[0], res, rec)
        except Exception as exc:  # a missing export dependency must not lose the pass
            traceback.print_exc()
            rec.rows.append({"stage": "export GLB", "seconds": 0.0, "count": repr(exc)[:300]})
    return out


def run_tail(
    pipe: Any,
    shape: Any,
    guides: Any,
    res: int,
    tex_cond: Any,
    tex_flow: Any,
    params: Any,
    rec: Recorder,
    mode: str,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Shape decoder → mesh preview → texture flow → texture decoder → assembly → GLB export
    (default ExportSettings), timed as ONE stage with no device sync inside, as
    `Trellis2Backend.generate` runs them: "seq" one after another (perf.overlap_export off),
    "ovl" with the export's geometry half and the preview on a side stream (ExportPrefetch)
    while the texture stages run. Returns the texture SLat feats and counts."""
    from trellis2.generation.export_prefetch import ExportPrefetch
    from trellis2.generation.trellis2_backend import _mesh_preview
    from trellis2.generation.types import ExportSettings
    from trellis2.postprocess import ExportReport, export_asset

    settings = ExportSettings()
    dec = pipe.models["shape_slat_decoder"]
    info: dict[str, Any] = {}
    marks: dict[str, float] = {}  # caller-thread wall clock per part (no device sync inside)
    t0 = [0.0]

    def mark(name: str) -> None:
        now = time.perf_counter()
        marks[name] = now - t0[0]
        t0[0] = now

    def tail() -> Any:
        t0[0] = time.perf_counter()
        dec.set_resolution(res)
        with pipe._on_device(dec):
            meshes, _ = dec(shape, return_subs=True, guide_subs=guides)
        info["faces"] = len(meshes[0].faces)
        mark("shape decoder")
        prefetch = None
        if mode == "ovl":
            prefetch = ExportPrefetch(settings, res, meshes[0].vertices.device, _mesh_preview)
            prefetch.start(meshes[0])
        else:
            _mesh_preview(meshes[0].vertices, meshes[0].faces)
            mark("mesh preview")
        try:
            tex = pipe.sample_tex_slat(tex_cond, tex_flow, shape, params)
            tex_vox = pipe.decode_tex_slat(tex, guides)
            a = pipe._assemble(meshes, tex_vox, res)[0]
            mark("tex flow + decoder + assemble")
            geometry = prefetch.take(a) if prefetch is not None else None
            mark("wait for prefetch")
            info["prefetch_used"] = geometry is not None
            rep = ExportReport()
            glb = export_asset(
                a.vertices, a.faces, a.attrs, a.coords, [[-0.5] * 3, [0.5] * 3], settings,
                grid_size=res, attr_layout=pipe.pbr_attr_layout, name="bench", geometry=geometry,
                report=rep,
            )  # fmt: skip
            mark("export")
            info["export_steps"] = {k: round(v, 3) for k, v in rep.timings.items()}
            if prefetch is not None:
                done = prefetch.report.timings
                info["prefetch_steps"] = {k: round(v, 3) for k, v in done.items()}
        finally:
            if prefetch is not None:
                prefetch.close()
        return tex, glb

    tex, glb = rec(
        f"tail {mode} (dec+tex+export)",
        tail,
        lambda r: f"{r[1].triangle_count} triangles, prefetch used: {info.get('prefetch_used')}",
    )
    rec.rows[-1]["parts"] = {k: round(v, 3) for k, v in marks.items()}
    keys = ("export_steps", "prefetch_steps")
    rec.rows[-1]["steps"] = {k: info.pop(k) for k in keys if k in info}
    print(f"      parts {rec.rows[-1]['parts']}\n      steps {rec.rows[-1]['steps']}", flush=True)
    return tex.feats, {"glb_triangles": int(glb.triangle_count), **info}


def export_glb(pipe: Any, a: Any, res: int, rec: Recorder) -> int:
    """The backend's export of one MeshWithVoxel (default ExportSettings), as one stage; the
    export's own step timings land in the row's `substeps`."""
    from trellis2.generation.types import ExportSettings
    from trellis2.postprocess import ExportReport, export_asset

    rep = ExportReport()
    glb = rec(
        "export GLB",
        lambda: export_asset(
            a.vertices,
            a.faces,
            a.attrs,
            a.coords,
            [[-0.5] * 3, [0.5] * 3],
            ExportSettings(),
            grid_size=res,
            attr_layout=pipe.pbr_attr_layout,
            name="bench",
            report=rep,
        ),
        lambda g: f"{g.triangle_count} triangles",
    )
    rec.rows[-1]["substeps"] = {k: round(v, 4) for k, v in rep.timings.items()}
    return int(glb.triangle_count)


def _cpu(o: dict[str, Any]) -> dict[str, Any]:
    return {k: v.detach().float().cpu() if torch.is_tensor(v) else v for k, v in o.items()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    t = time.perf_counter()
    pipe, dino = build(args, device)
    weights = torch.cuda.memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    print(f"  build (random init) {time.perf_counter() - t:.1f} s, {weights:.2f} GiB", flush=True)
    if dino:
        from PIL import Image

        args.image = Image.new("RGB", (512, 512), (128, 100, 90))
    asset = Path(args.asset)
    surf = Surfaces(load_triangles(asset, args.extent).to(device))
    surf.chain(1024, 32)  # set up before any pass (a 1408..1152 fallback is built on demand)
    if "1536_cascade" in args.types:
        surf.chain(1536, 96)
    result: dict[str, Any] = {
        "asset": asset.name,
        "extent": args.extent,
        "types": {},
        "weights_gib": weights,
        "models": sorted(pipe.models),
        "cond": "DINOv3 (random)" if dino else "random tokens (no transformers)",
    }
    outs: dict[str, dict[str, Any]] = {ptype: {} for ptype in args.types}
    for ptype in args.types:
        result["types"][ptype] = {"passes": {}}

    def one_pass(ptype: str, mode: str) -> None:
        print(f"== {ptype} {mode}", flush=True)
        rec = Recorder(device, weights_gib=weights)
        if device.type == "cuda":  # what an earlier pass left on the device (should be ~0)
            gc.collect()
            torch.cuda.empty_cache()
            held = torch.cuda.memory_allocated(device) / 2**30 - weights
            result["types"][ptype].setdefault("held_at_start_gib", {})[mode] = held
            print(f"    held at pass start above the weights: {held:.3f} GiB", flush=True)
        opts = perf.BASELINE if mode == "base" else perf.current()
        export = mode == "opt" and ptype in args.export_types
        tail = mode if mode in ("seq", "ovl") else None
        try:
            with perf.use(opts), low_vram(pipe) if mode == "lowvram" else nullcontext():
                outs[ptype][mode] = _cpu(run_pass(pipe, surf, ptype, args, rec, export, tail))
        except Exception as exc:  # keep the other passes' numbers; the error is reported
            traceback.print_exc()
            rec.rows.append({"stage": "ERROR", "seconds": 0.0, "count": repr(exc)[:300]})
        result["types"][ptype]["passes"][mode] = rec.rows
        if args.json:  # partial results survive a time limit
            Path(args.json).write_text(json.dumps(result, indent=1, default=str))

    for ptype in args.types:
        for mode in args.modes:
            if mode != "lowvram":
                one_pass(ptype, mode)
    # Low-VRAM last: moving the weights off and back would stale anything keyed on them.
    if "lowvram" in args.modes and device.type == "cuda":
        for ptype in args.low_vram_types:
            if ptype in args.types:
                one_pass(ptype, "lowvram")
    for ptype, o in outs.items():
        ref = o.get("opt") or o.get("cold")
        result["types"][ptype]["counts"] = ref["counts"] if ref else {}
        result["types"][ptype]["parity"] = {
            mode: parity(ref, other, args.tiny)
            for mode, other in o.items()
            if ref is not None and other is not ref
        }
    result["surface_counts"] = surf.counts()
    result["surface_setup_s"] = surf.setup_seconds
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny networks on the CPU (smoke test)")
    ap.add_argument("--device", default=None)
    ap.add_argument(
        "--types", default=None, help="comma list of 512,1024,1024_cascade,1536_cascade"
    )
    ap.add_argument("--modes", default="cold,opt,base,lowvram", help="comma list (see docstring)")
    ap.add_argument("--low-vram-types", default="1024_cascade")
    ap.add_argument("--asset", default=None, help=f"glTF/GLB (default {DEFAULT_ASSET} in shared)")
    ap.add_argument(
        "--extent",
        type=float,
        default=None,
        help="largest extent of the asset in the unit box (0.99999; --tiny 0.25)",
    )
    ap.add_argument("--steps", type=int, default=None, help="override every sampler's steps")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--max-num-tokens", type=int, default=49152)
    ap.add_argument(
        "--export-types",
        default=None,
        help="types whose opt pass exports a GLB (default: all; '' for none)",
    )
    ap.add_argument(
        "--park-image-encoder",
        action="store_true",
        help="DINOv3 in pinned host memory between conditionings (the server's tight-memory mode)",
    )
    ap.add_argument("--json", default=None, help="write the result here")
    args = ap.parse_args(argv)
    tiny_types = "512,1024_cascade"
    args.types = args.types or (tiny_types if args.tiny else "512,1024_cascade,1536_cascade")
    args.types = args.types.split(",")
    args.modes = args.modes.split(",")
    args.export_types = args.types if args.export_types is None else args.export_types.split(",")
    args.low_vram_types = args.low_vram_types.split(",")
    if args.extent is None:
        args.extent = 0.25 if args.tiny else 0.99999
    if args.asset is None:
        args.asset = str(
            _shared() / "assets" / "gltf" / (TINY_ASSET if args.tiny else DEFAULT_ASSET)
        )
    args.image = None
    print("!!! RANDOM WEIGHTS: timing only, the outputs are noise !!!", flush=True)
    result = run(args)
    dev = torch.cuda.get_device_name() if torch.cuda.is_available() and not args.tiny else "cpu"
    result["env"] = {
        "device": dev,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "tiny": args.tiny,
        "steps": args.steps or "pipeline defaults",
        "perf_default": str(perf.current()),
    }
    print_report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    return result


def _shared() -> Path:
    import os

    env = os.environ.get("TRELLIS2_SHARED")
    for p in ([Path(env)] if env else []) + [REPO.parent / "shared", REPO / ".shared"]:
        if (p / "assets" / "gltf").is_dir():
            return p
    raise SystemExit("shared assets not found: set TRELLIS2_SHARED or pass --asset PATH.glb")


if __name__ == "__main__":
    main()
