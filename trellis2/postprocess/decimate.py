# SPDX-License-Identifier: MIT
"""Decimation to a face target: fast-simplification (MIT, serial quadric edge collapse, CPU)
or our parallel quadric edge collapse in torch (trellis2.postprocess.decimate_gpu, any device).

`simplify(..., method="auto")` picks the torch decimator for CUDA tensors or `device="cuda"`
and fast-simplification for CPU numpy input. The result has the input's type: numpy arrays in,
numpy arrays out; tensors in, tensors out (on the device the work ran on).
"""

from __future__ import annotations

from typing import Literal

import fast_simplification
import numpy as np
import torch

from trellis2.postprocess.decimate_gpu import DecimateOptions, DecimateStats, simplify_torch

Method = Literal["auto", "fast_simplification", "torch"]


def _pick(method: Method, is_tensor: bool, on_cuda: bool, device: object | None) -> str:
    if method == "auto":
        wants_cuda = on_cuda or (device is not None and torch.device(device).type == "cuda")
        return "torch" if wants_cuda else "fast_simplification"
    if method not in ("fast_simplification", "torch"):
        raise ValueError(
            f"unknown decimation method {method!r}; use auto, fast_simplification or torch"
        )
    return method


def simplify(
    vertices: np.ndarray | torch.Tensor,
    faces: np.ndarray | torch.Tensor,
    target_faces: int,
    aggressiveness: float = 7.0,
    method: Method = "auto",
    device: torch.device | str | None = None,
    options: DecimateOptions | None = None,
    stats: DecimateStats | None = None,
) -> tuple[np.ndarray, np.ndarray] | tuple[torch.Tensor, torch.Tensor]:
    """Quadric decimation to at most about `target_faces` faces; returns the input unchanged
    when it is already small enough. vertices float32 [V, 3], faces int64 [F, 3] (numpy or
    torch). `aggressiveness` applies to fast-simplification; `device`, `options` and `stats`
    (per-pass timings) to the torch decimator (device None = the input tensor's device, CPU
    for numpy)."""
    if target_faces <= 0:
        raise ValueError("decimation target must be a positive face count")
    is_tensor = isinstance(vertices, torch.Tensor)
    on_cuda = is_tensor and vertices.is_cuda  # type: ignore[union-attr]
    if len(faces) <= target_faces:
        return vertices, faces  # type: ignore[return-value]
    if _pick(method, is_tensor, on_cuda, device) == "torch":
        dev = (
            torch.device(device)
            if device is not None
            else (
                vertices.device if is_tensor else torch.device("cpu")  # type: ignore[union-attr]
            )
        )
        v = torch.as_tensor(vertices).to(dev, torch.float32)
        f = torch.as_tensor(faces).to(dev, torch.int64)
        ov, of = simplify_torch(v, f, int(target_faces), options, stats)
        if is_tensor:
            return ov, of
        return ov.cpu().numpy(), of.cpu().numpy()
    vn = vertices.detach().cpu().numpy() if is_tensor else vertices  # type: ignore[union-attr]
    fn = faces.detach().cpu().numpy() if isinstance(faces, torch.Tensor) else faces
    v, f = fast_simplification.simplify(
        np.asarray(vn, dtype=np.float32),
        np.asarray(fn, dtype=np.int64),
        target_count=int(target_faces),
        agg=aggressiveness,
    )
    v, f = v.astype(np.float32), f.astype(np.int64)
    if is_tensor:
        dev = vertices.device  # type: ignore[union-attr]
        return torch.from_numpy(v).to(dev), torch.from_numpy(f).to(dev)
    return v, f


def sample_surface(vertices: np.ndarray, faces: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n points [n, 3] uniformly distributed over the surface's area (fixed seed)."""
    rng = np.random.default_rng(seed)
    p = vertices[faces].astype(np.float64)
    area = 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)
    fid = rng.choice(len(faces), size=n, p=area / area.sum())
    r1, r2 = np.sqrt(rng.random(n)), rng.random(n)
    w = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], 1)
    return np.einsum("nk,nkj->nj", w, p[fid]).astype(np.float32)


def surface_error(
    ref_vertices: np.ndarray,
    ref_faces: np.ndarray,
    vertices: np.ndarray,
    faces: np.ndarray,
    n_samples: int = 100_000,
) -> dict[str, float]:
    """Symmetric point-to-surface distances between a mesh and its reference, in vertex units:
    {"chamfer": mean of both directions' mean distances, "hausdorff": max of both maxima}."""
    from trellis2.postprocess.closest_point import SubdividedSurface, SurfaceProjector

    ref_v = ref_vertices.astype(np.float32)
    edges = ref_v[ref_faces] - ref_v[np.roll(ref_faces, -1, 1)]
    h = float(np.median(np.linalg.norm(edges.reshape(-1, 3), axis=1)))
    a = sample_surface(vertices, faces, n_samples, seed=1)
    b = sample_surface(ref_v, ref_faces, n_samples, seed=2)
    d_ab = np.linalg.norm(SurfaceProjector(ref_v, ref_faces).project(a)[0] - a, axis=1)
    coarse = SubdividedSurface(vertices.astype(np.float32), faces, max_edge=h)
    d_ba = np.linalg.norm(coarse.project(b)[0] - b, axis=1)
    return {
        "chamfer": 0.5 * float(d_ab.mean() + d_ba.mean()),
        "hausdorff": float(max(d_ab.max(), d_ba.max())),
    }
