# SPDX-License-Identifier: MIT
"""UV-space triangle rasteriser in torch (replaces nvdiffrast for texture baking).

Charts of an atlas never overlap, so there is no depth test, clipping or perspective: for each
texel centre ((i + 0.5) / W, (j + 0.5) / H) find the triangle covering it and its barycentrics.
Candidates are every texel in each face's bounding box (generated in face chunks), tested with
edge functions. UV frame: u along image columns, v along image rows (row 0 = v ~ 0).
"""

from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger(__name__)
_KERNEL_FAILED = False  # set after the first Triton error: log once, then stay on torch

# Candidate texel/face pairs per chunk: bounds peak memory (~40 bytes per candidate).
CHUNK_CANDIDATES = 1 << 22


def rasterize_uv(
    uvs: torch.Tensor,
    faces: torch.Tensor,
    height: int,
    width: int,
    eps: float = 1e-5,
    backend: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rasterise a UV mesh.

    Args:
        uvs: [V, 2] float in [0, 1]. faces: [F, 3] int.
        height, width: texture size in texels.
        backend: "torch" (this module), "triton" (trellis2_kernels.uv_raster; CUDA, or CPU under
            TRITON_INTERPRET=1) or None: Triton for CUDA tensors when importable, unless the
            env TRELLIS2_RASTER=torch. Auto mode falls back to torch on any kernel error.

    Returns:
        face_id [H, W] int64 (-1 where no face), bary [H, W, 3] float32 (weights of the face's
        3 vertices; 0 where empty).
    """
    global _KERNEL_FAILED
    planes = face_planes(uvs, faces, height, width, eps)
    if backend is None:
        backend = os.environ.get("TRELLIS2_RASTER", "auto").lower()
        auto = True
    else:
        auto = False
    if backend == "triton" or (auto and backend != "torch" and uvs.is_cuda and not _KERNEL_FAILED):
        try:
            from trellis2_kernels.uv_raster import rasterize_planes_triton

            return rasterize_planes_triton(*planes, height, width, eps)
        except Exception:
            if not auto:
                raise
            _KERNEL_FAILED = True
            log.warning("Triton UV rasteriser failed; using the torch one", exc_info=True)
    return _rasterize_planes_torch(*planes, height, width, eps)


def face_planes(
    uvs: torch.Tensor, faces: torch.Tensor, height: int, width: int, eps: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-face edge planes shared by the torch and Triton rasterisers.

    Returns coef [F, 6] float32 (A1, B1, C1, A2, B2, C2: b_i = A_i dx + B_i dy + C_i with dx, dy
    texel offsets from the bbox corner), lo [F, 2] int64 (bbox corner x, y), bw [F] int64 (bbox
    width), count [F] int64 (bbox texels; 0 for empty or degenerate faces).
    """
    device = uvs.device
    faces = faces.to(torch.int64)
    scale = torch.tensor([width, height], dtype=torch.float64, device=device)
    tri = (uvs.to(torch.float64) * scale - 0.5)[faces]  # [F, 3, 2], texel centres at integers
    lo = torch.ceil(tri.amin(1) - eps).to(torch.int64)
    hi = torch.floor(tri.amax(1) + eps).to(torch.int64)
    lo[:, 0].clamp_(0, width - 1)
    lo[:, 1].clamp_(0, height - 1)
    hi[:, 0].clamp_(0, width - 1)
    hi[:, 1].clamp_(0, height - 1)
    bw = (hi[:, 0] - lo[:, 0] + 1).clamp_min(0)
    bh = (hi[:, 1] - lo[:, 1] + 1).clamp_min(0)
    # Edge functions as planes: b_i(x, y) = A_i x + B_i y + C_i, already divided by the area,
    # evaluated relative to the bbox corner so float32 keeps full precision.
    x0, y0 = tri[:, 0, 0], tri[:, 0, 1]
    x1, y1 = tri[:, 1, 0], tri[:, 1, 1]
    x2, y2 = tri[:, 2, 0], tri[:, 2, 1]
    area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    ok = area.abs() > 1e-12
    inv = torch.where(ok, 1.0 / torch.where(ok, area, torch.ones_like(area)), 0.0)
    ox, oy = lo[:, 0].to(torch.float64), lo[:, 1].to(torch.float64)
    a1, b1 = (y2 - y0) * inv, -(x2 - x0) * inv
    c1 = ((ox - x0) * (y2 - y0) - (x2 - x0) * (oy - y0)) * inv
    a2, b2 = -(y1 - y0) * inv, (x1 - x0) * inv
    c2 = ((x1 - x0) * (oy - y0) - (ox - x0) * (y1 - y0)) * inv
    coef = torch.stack([a1, b1, c1, a2, b2, c2], 1).to(torch.float32)  # [F, 6]
    count = torch.where(ok, bw * bh, 0)
    return coef, lo, bw, count


def _rasterize_planes_torch(
    coef: torch.Tensor,
    lo: torch.Tensor,
    bw: torch.Tensor,
    count: torch.Tensor,
    height: int,
    width: int,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    device = coef.device
    face_id = torch.full((height * width,), -1, dtype=torch.int64, device=device)
    bary = torch.zeros((height * width, 3), dtype=torch.float32, device=device)
    csum = torch.cumsum(count, 0)
    start = 0
    n = coef.shape[0]
    while start < n:
        base = int(csum[start - 1]) if start > 0 else 0
        stop = int(torch.searchsorted(csum, torch.tensor(base + CHUNK_CANDIDATES, device=device)))
        stop = min(max(stop, start + 1), n)
        _raster_chunk(coef, lo, bw, count, start, stop, width, eps, face_id, bary)
        start = stop
    return face_id.view(height, width), bary.view(height, width, 3)


def _raster_chunk(coef, lo, bw, count, start, stop, width, eps, face_id, bary) -> None:
    device = coef.device
    cnt = count[start:stop]
    total = int(cnt.sum())
    if total == 0:
        return
    f = torch.repeat_interleave(torch.arange(start, stop, device=device), cnt)
    first = torch.cumsum(cnt, 0) - cnt
    k = torch.arange(total, device=device) - torch.repeat_interleave(first, cnt)
    w = bw[f]
    dy = torch.div(k, w, rounding_mode="floor")
    dx = k - dy * w
    c = coef[f]  # [T, 6]
    fx, fy = dx.to(torch.float32), dy.to(torch.float32)
    b1 = torch.addcmul(torch.addcmul(c[:, 2], c[:, 0], fx), c[:, 1], fy)
    b2 = torch.addcmul(torch.addcmul(c[:, 5], c[:, 3], fx), c[:, 4], fy)
    b0 = 1.0 - b1 - b2
    inside = (b0 >= -eps) & (b1 >= -eps) & (b2 >= -eps)
    sel = inside.nonzero().squeeze(1)
    fs = f[sel]
    idx = (lo[fs, 1] + dy[sel]) * width + lo[fs, 0] + dx[sel]
    # Texels on a shared edge are claimed by several faces: the highest face id wins (what a
    # sequential last-write gives), so face id and barycentrics always come from the same face,
    # on CPU and on CUDA (where duplicate scatters are unordered).
    winner = face_id.clone()
    winner.scatter_reduce_(0, idx, fs, reduce="amax")
    keep = winner[idx] == fs
    idx, fs = idx[keep], fs[keep]
    face_id[idx] = fs
    bary[idx] = torch.stack([b0[sel][keep], b1[sel][keep], b2[sel][keep]], 1)
