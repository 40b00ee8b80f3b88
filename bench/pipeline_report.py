# SPDX-License-Identifier: MIT
"""Parity check and markdown report of `bench/pipeline.py`.

Parity tolerance (optimised vs baseline, same seed, same structure). GPU: the flow trunks run in
bf16 and the decoders in fp16. The floor is what two passes with the SAME switches differ by
(`cold` vs `opt`: eager vs graph-replayed calls, nondeterministic reductions): on the H100 at
1024_cascade, cosine 0.999995 and max |a - b| 0.45% of max |ref| per SLat (bench/RESULTS.md).
The baseline rounds differently on purpose (fp32 vs fused norms, separate vs batched CFG), and
CFG (v = 7.5 v_cond - 6.5 v_uncond) can amplify rounding differences up to ~10x over the 12
Euler steps. Pass: cosine >= 0.999 and max error <= 5% of the range per latent (10x the floor);
voxel counts equal (the structure is guided, so any difference is a bug); face counts within
1% (a face appears where a decoded edge logit is > 0: logits within rounding of 0 may flip;
measured 0.01%). A real bug (a wrong mask, a missing CFG term, stale weights) moves the
cosine far below 0.999.
CPU --tiny runs in fp32: cosine >= 0.99999, max error <= 1e-3 of the range, faces within 0.1%.
"""

from __future__ import annotations

from typing import Any

import torch

TENSORS = ("z_s", "lr_slat", "shape_slat", "tex_slat")
GPU_TOL = {"cosine": 0.999, "max_rel": 0.05, "faces_rel": 0.01}
EXPORT = "export GLB"
TINY_TOL = {"cosine": 0.99999, "max_rel": 1e-3, "faces_rel": 1e-3}


def compare(a: torch.Tensor, ref: torch.Tensor) -> dict[str, float]:
    a, ref = a.double().flatten(), ref.double().flatten()
    cos = float(torch.nn.functional.cosine_similarity(a, ref, dim=0))
    scale = float(ref.abs().max().clamp_min(1e-30))
    return {"cosine": cos, "max_rel": float((a - ref).abs().max()) / scale}


def parity(ref: dict[str, Any], other: dict[str, Any], tiny: bool) -> dict[str, Any]:
    """Compare one pass's outputs with the reference pass's; `pass` says whether within tol."""
    tol = TINY_TOL if tiny else GPU_TOL
    out: dict[str, Any] = {"tolerance": tol, "tensors": {}, "count_mismatch": {}}
    ok = True
    for key in TENSORS:
        if key in ref and key in other:
            c = compare(other[key], ref[key])
            out["tensors"][key] = c
            ok &= c["cosine"] >= tol["cosine"] and c["max_rel"] <= tol["max_rel"]
    for key, v in ref["counts"].items():
        w = other["counts"].get(key)
        if key in ("faces", "glb_triangles", "ss_decoded"):
            continue  # faces: below; the SS decode is replaced by the surface anyway
        if w is not None and w != v:
            out["count_mismatch"][key] = [v, w]
            ok = False
    fr, fo = ref["counts"]["faces"], other["counts"]["faces"]
    out["faces"] = [fr, fo]
    out["faces_rel"] = abs(fo - fr) / max(fr, 1)
    ok &= out["faces_rel"] <= tol["faces_rel"]
    out["pass"] = bool(ok)
    return out


def _stage_names(passes: dict[str, list[dict[str, Any]]]) -> list[str]:
    names: list[str] = []
    for rows in passes.values():
        for r in rows:
            if r["stage"] not in names and not r["stage"].startswith("tail"):
                names.append(r["stage"])
    return names


def _fmt(v: float | None, spec: str = "8.3f") -> str:
    return "-" if v is None else format(v, spec)


def print_report(result: dict[str, Any]) -> None:
    env = result["env"]
    print(
        f"\n### pipeline benchmark: RANDOM WEIGHTS, asset {result['asset']} (extent "
        f"{result['extent']}), cond {result['cond']}, steps {env['steps']}, "
        f"{'tiny' if env['tiny'] else 'full-size'}, device {env['device']}, torch {env['torch']}"
    )
    print(f"surface voxels per resolution: {result['surface_counts']}")
    print(f"resident weights {result['weights_gib']:.2f} GiB: {', '.join(result['models'])}")
    for ptype, entry in result["types"].items():
        passes = entry["passes"]
        modes = [m for m in ("cold", "opt", "base", "lowvram") if m in passes]
        by = {m: {r["stage"]: r for r in passes[m]} for m in modes}
        print(f"\n#### {ptype}\n")
        head = "| stage | count | " + " | ".join(f"{m} s" for m in modes)
        head += " | base/opt | " + " | ".join(f"{m} peak GiB" for m in modes)
        head += " | opt peak − weights |"
        print(head)
        print("|" + "---|" * (4 + 2 * len(modes)))
        totals = {m: 0.0 for m in modes}
        for name in _stage_names(passes):
            cells = []
            for m in modes:
                r = by[m].get(name)
                cells.append(_fmt(r["seconds"] if r else None))
                if r and name != EXPORT:
                    totals[m] += r["seconds"]
            ref = next((by[m][name] for m in modes if name in by[m]), {})
            o, b = by.get("opt", {}).get(name), by.get("base", {}).get(name)
            ratio = _fmt(b["seconds"] / max(o["seconds"], 1e-9), ".2f") if o and b else "-"
            peaks = [
                _fmt(by[m][name].get("peak_gib"), ".2f") if name in by[m] else "-" for m in modes
            ]
            above = by.get("opt", {}).get(name, {}).get("above_weights_gib")
            print(
                f"| {name} | {ref.get('count', '')} | "
                + " | ".join(cells)
                + f" | {ratio} | "
                + " | ".join(peaks)
                + f" | {_fmt(above, '.2f')} |"
            )
        tot = [_fmt(totals[m]) for m in modes]
        rt = (
            _fmt(totals["base"] / max(totals["opt"], 1e-9), ".2f")
            if "opt" in totals and "base" in totals
            else "-"
        )
        peak = [
            _fmt(
                max(
                    (r["peak_gib"] for r in passes[m] if "peak_gib" in r and r["stage"] != EXPORT),
                    default=None,
                ),
                ".2f",
            )
            for m in modes
        ]
        print(
            "| **total without export** | | "
            + " | ".join(f"**{t}**" for t in tot)
            + f" | **{rt}** | "
            + " | ".join(f"**{p}**" for p in peak)
            + " | |"
        )
        for m, p in zip(modes, peak, strict=True):
            entry.setdefault("total_s", {})[m] = totals[m]
            entry.setdefault("peak_gib", {})[m] = None if p == "-" else float(p)
        reserved = {
            m: round(max((r.get("reserved_gib", 0.0) for r in passes[m]), default=0.0), 2)
            for m in modes
        }
        entry["reserved_gib"] = reserved
        print(f"\nmax reserved GiB (allocator, what nvidia-smi sees): {reserved}")
        held = {m: round(v, 3) for m, v in entry.get("held_at_start_gib", {}).items()}
        print(f"allocated above the weights at each pass's start (GiB): {held}")
        print(f"counts: {entry.get('counts', {})}")
        _print_tail(entry)
        for mode, p in entry.get("parity", {}).items():
            t = ", ".join(
                f"{k} cos {v['cosine']:.6f} maxrel {v['max_rel']:.2e}"
                for k, v in p["tensors"].items()
            )
            print(
                f"parity {mode} vs opt: {'PASS' if p['pass'] else 'FAIL'}: {t}; faces "
                f"{p['faces'][0]} vs {p['faces'][1]} ({p['faces_rel']:.2%}); count mismatches "
                f"{p['count_mismatch'] or 'none'}"
            )


def _print_tail(entry: dict[str, Any]) -> None:
    """The `seq` / `ovl` passes: the whole job and its part after the shape flow, as the
    backend runs them (preview and GLB export included), without / with the export prefetch."""
    passes = entry["passes"]
    if not ("seq" in passes and "ovl" in passes):
        return
    got = {}
    for m in ("seq", "ovl"):
        tail = [r for r in passes[m] if r["stage"].startswith("tail")]
        if not tail:
            return
        got[m] = {
            "tail_s": tail[0]["seconds"],
            "job_s": sum(r["seconds"] for r in passes[m]),
            "peak_gib": max((r.get("peak_gib", 0.0) for r in passes[m]), default=0.0),
            "count": tail[0].get("count", ""),
        }
    entry["overlap"] = got
    s, o = got["seq"], got["ovl"]
    print(
        f"\njob with preview + GLB export, sequential vs export prefetch: whole job "
        f"{s['job_s']:.3f} → {o['job_s']:.3f} s ({s['job_s'] - o['job_s']:+.3f} s saved); after "
        f"the shape flow {s['tail_s']:.3f} → {o['tail_s']:.3f} s; peak {s['peak_gib']:.2f} → "
        f"{o['peak_gib']:.2f} GiB; ovl: {o['count']}"
    )
