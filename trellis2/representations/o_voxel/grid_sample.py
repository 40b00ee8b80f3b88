# SPDX-License-Identifier: MIT
"""Sparse 3D grid sampling of voxel attributes (FlexGEMM `grid_sample_3d` semantics, ref. §14.2).

Torch reference used for texture baking and `MeshWithVoxel.query_attrs`; a Triton kernel may replace
it on CUDA and must equal this function.

Query frame: voxel units, voxel i spans [i, i+1) so its centre is i + 0.5.
Trilinear: base = floor(q - 0.5); the 8 corners base + {0,1}^3 weigh prod(1 - |q - corner - 0.5|);
corners that are not active voxels are skipped and the remaining weights renormalised by their sum
(clamped >= 1e-12). A query with no active corner returns 0.
Nearest: the voxel trunc(q) (C integer cast, so -1 < q < 0 maps to voxel 0) if active, else 0.
"""

from __future__ import annotations

import torch

from trellis2.representations.o_voxel.flexible_dual_grid import VoxelHash

_CORNERS = torch.tensor(
    [[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], dtype=torch.int64
)  # [8, 3]


def grid_sample_3d(
    feats: torch.Tensor,
    coords: torch.Tensor,
    shape: object,
    grid: torch.Tensor,
    mode: str = "trilinear",
    chunk: int = 1 << 18,
) -> torch.Tensor:
    """Sample sparse voxel features at continuous points.

    Args:
        feats: [N, C] float features of the active voxels.
        coords: [N, 4] int (batch, x, y, z).
        shape: (B, C, W, H, D) of the dense volume these voxels live in.
        grid: [B, L, 3] float query points in voxel units (x, y, z).
        mode: "trilinear" or "nearest".

    Returns:
        [B, L, C] float (feats dtype).
    """
    if mode not in ("trilinear", "nearest"):
        raise ValueError(f"mode must be 'trilinear' or 'nearest', got {mode!r}")
    b_count, _, w, h, d = (int(s) for s in shape)
    coords = coords.to(torch.int64)
    # Batch folded into x so one sorted table serves every batch item: x' = b * (W + 2) + x.
    stride = w + 2
    folded = coords[:, 1:].clone()
    folded[:, 0] += coords[:, 0] * stride
    table = VoxelHash(folded, torch.tensor([b_count * stride, h, d]))
    out = torch.zeros(
        grid.shape[0], grid.shape[1], feats.shape[1], dtype=feats.dtype, device=feats.device
    )
    for b in range(grid.shape[0]):
        for s in range(0, grid.shape[1], chunk):
            q = grid[b, s : s + chunk].to(torch.float32)
            out[b, s : s + chunk] = _sample(feats, table, q, b * stride, (w, h, d), mode)
    return out


def _sample(feats, table, q, x_shift, dims, mode):
    dims_t = torch.tensor(dims, device=q.device)
    if mode == "nearest":
        cell = torch.trunc(q).to(torch.int64)
        inside = ((cell >= 0) & (cell < dims_t)).all(-1)
        cell = torch.minimum(cell.clamp_min(-1), dims_t)
        cell[:, 0] += x_shift
        idx = torch.where(inside, table.lookup(cell), -1)
        res = feats[idx.clamp_min(0)]
        return torch.where((idx >= 0)[:, None], res, torch.zeros_like(res))
    qs = q - 0.5
    base = torch.floor(qs)
    frac = qs - base  # [L, 3]; weight of the +1 corner per axis
    base = base.to(torch.int64)
    # Corners outside the volume are inactive; clamp to the hash margin so keys stay unique.
    lo_ok = (base >= 0) & (base < dims_t)  # corner offset 0 inside, per axis
    hi_ok = (base + 1 >= 0) & (base + 1 < dims_t)
    base = torch.minimum(base.clamp_min(-1), dims_t - 1)
    base[:, 0] += x_shift
    k0 = table.key(base)  # [L]
    d1, d2 = table._d1, table._d2
    idx = torch.empty(q.shape[0], 8, dtype=torch.int64, device=q.device)
    wgt = torch.empty(q.shape[0], 8, dtype=torch.float32, device=q.device)
    for c in range(8):
        i, j, k = c >> 2, (c >> 1) & 1, c & 1
        ok = (hi_ok if i else lo_ok)[:, 0] & (hi_ok if j else lo_ok)[:, 1]
        ok &= (hi_ok if k else lo_ok)[:, 2]
        found = table.lookup_keys(k0 + (i * d1 + j) * d2 + k)
        idx[:, c] = torch.where(ok, found, -1)
        wx = frac[:, 0] if i else 1.0 - frac[:, 0]
        wy = frac[:, 1] if j else 1.0 - frac[:, 1]
        wz = frac[:, 2] if k else 1.0 - frac[:, 2]
        wgt[:, c] = wx * wy * wz
    wgt = torch.where(idx >= 0, wgt, 0.0)
    wgt = wgt / wgt.sum(-1, keepdim=True).clamp_min(1e-12)
    res = torch.einsum("lkc,lk->lc", feats[idx.clamp_min(0)].to(torch.float32), wgt)
    return res.to(feats.dtype)


def sample_attrs(
    feats: torch.Tensor,
    coords: torch.Tensor,
    points: torch.Tensor,
    origin: object,
    voxel_size: float,
    mode: str = "trilinear",
) -> torch.Tensor:
    """Single-volume convenience: feats [N, C] at coords [N, 3] (x, y, z), world points [L, 3]
    (voxel grid starting at `origin`, cells of `voxel_size`) → [L, C]."""
    o = torch.as_tensor(origin, dtype=torch.float32, device=points.device)
    q = (points.to(torch.float32) - o) / voxel_size
    hi = coords.max(0).values.to(torch.int64) + 1 if coords.shape[0] else torch.ones(3)
    hi = torch.maximum(hi, torch.ceil(q.max(0).values).to(torch.int64) + 1) if q.numel() else hi
    c4 = torch.cat([torch.zeros_like(coords[:, :1]), coords], 1)
    shape = (1, feats.shape[1], *hi.tolist())
    return grid_sample_3d(feats, c4, shape, q[None], mode=mode)[0]
