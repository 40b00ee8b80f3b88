# SPDX-License-Identifier: MIT
"""Least-squares voxel attributes: values whose trilinear field matches a dense surface sampling.

Point sampling gives each voxel the source attribute at one surface point (the one closest to its
centre), so detail finer than a voxel (text, thin stripes) aliases, and colour edges get a ramp
whose position depends on where the centres fall. Here the voxel values x [N, C] minimise

    sum_s |T(p_s) x - y_s|^2 + lam * |x - x0|^2

over surface samples p_s with source attributes y_s, where T(p) is the sparse trilinear
interpolation the bake uses (`grid_sample._trilinear`: 8 corner voxels, inactive corners dropped,
weights renormalised) and x0 the point-sampled start, which keeps voxels that few samples reach
where they were. Solved by conjugate gradients on the normal equations (all channels at once),
then clamped to [0, 1].
"""

from __future__ import annotations

import warnings

import torch

from trellis2.representations.o_voxel.grid_sample import CellTable


def trilinear_matrix(
    coords: torch.Tensor, points: torch.Tensor, origin: torch.Tensor, voxel_size: float, dims
) -> torch.Tensor:
    """Sparse CSR [L, N] float32: row s holds the trilinear weights of points[s] (world, [L, 3])
    on the active voxels coords [N, 3] int64 (grid starting at `origin`, cells of voxel_size,
    dims (W, H, D)). Rows of points with no active corner are empty."""
    table = CellTable(coords, tuple(int(d) for d in dims))
    qs = (points.float() - origin) / voxel_size - 0.5
    base = torch.floor(qs)
    frac = qs - base
    idx = table.lookup(base.to(torch.int64))  # [L, 8]
    wx = torch.stack([1.0 - frac[:, 0], frac[:, 0]], 1)
    wy = torch.stack([1.0 - frac[:, 1], frac[:, 1]], 1)
    wz = torch.stack([1.0 - frac[:, 2], frac[:, 2]], 1)
    w = (wx[:, :, None, None] * wy[:, None, :, None] * wz[:, None, None, :]).reshape(-1, 8)
    w = torch.where(idx >= 0, w, 0.0)
    w = w / w.sum(1, keepdim=True).clamp_min(1e-12)
    keep = idx >= 0
    rows = torch.arange(len(points)).repeat_interleave(8).reshape(-1, 8)[keep]
    with warnings.catch_warnings():  # torch: "sparse CSR support is in beta" (used as documented)
        warnings.simplefilter("ignore", UserWarning)
        a = torch.sparse_coo_tensor(
            torch.stack([rows, idx[keep]]), w[keep], (len(points), len(coords))
        ).coalesce()
        return a.to_sparse_csr()


def fit_attributes(
    coords: torch.Tensor,
    attrs0: torch.Tensor,
    points: torch.Tensor,
    targets: torch.Tensor,
    origin: torch.Tensor,
    voxel_size: float,
    dims,
    iters: int = 30,
    lam: float = 0.05,
) -> torch.Tensor:
    """Fitted attributes [N, C] float32 in [0, 1].

    coords [N, 3] int64 active voxels, attrs0 [N, C] point-sampled start, points [L, 3] world
    surface samples, targets [L, C] source attributes there; lam is relative to the mean diagonal
    of A^T A (so it does not depend on the sampling density)."""
    a = trilinear_matrix(coords, points, origin, voxel_size, dims)
    at = a.t().to_sparse_csr()
    x0 = attrs0.float()
    diag = torch.zeros(len(coords)).index_add_(0, a.col_indices(), a.values() ** 2)
    reg = lam * float(diag[diag > 0].mean()) if bool((diag > 0).any()) else lam

    def normal(x: torch.Tensor) -> torch.Tensor:
        return at @ (a @ x) + reg * x

    b = at @ targets.float() + reg * x0
    x = x0.clone()
    r = b - normal(x)
    p = r.clone()
    rs = (r * r).sum(0)  # per channel: C independent systems sharing the matrix
    for _ in range(iters):
        ap = normal(p)
        alpha = rs / (p * ap).sum(0).clamp_min(1e-30)
        x += alpha * p
        r -= alpha * ap
        rs_new = (r * r).sum(0)
        p = r + (rs_new / rs.clamp_min(1e-30)) * p
        rs = rs_new
    return x.clamp_(0.0, 1.0)
