# SPDX-License-Identifier: MIT
"""Mesh → O-Voxel geometry: `mesh_to_flexible_dual_grid` (reference §12.2), vectorised in torch.

Work happens in voxel units (p = (x - aabb_min) / voxel_size); voxel c spans [c, c + 1)^3.
1. Scan lines: every lattice line along each axis is intersected with every triangle (2D
   barycentric test in the other two axes, like a rasteriser). A hit on the edge (i, j, k) along
   axis a activates the 4 voxels sharing it, adds the triangle's plane quadric and the hit point
   to them, and sets flag a on the voxel whose max-corner edge it is (j - 1, k - 1 in the others).
2. Face term: each triangle's plane quadric is added once to every active voxel it overlaps
   (triangles are first split so edges are at most one voxel, then a bbox + plane/box test).
3. Boundary term: edges used by one face add boundary_weight x the line quadric (I - d d^T) to the
   active voxels the segment passes through (sampled every half voxel).
4. Regularisation: + w * count * |v - mean_hit|^2.
5. Solve the 3x3 system; if the minimiser leaves the voxel, the best of the box-constrained
   candidates (6 faces, 12 edges, 8 corners) is taken.
The reference's face_weight is only checked to be > 0 (it is not multiplied in); we do the same.
"""

from __future__ import annotations

import numpy as np
import torch

from trellis2.representations.o_voxel.flexible_dual_grid import VoxelHash, as_aabb

_CHUNK = 1 << 21


def _lattice_candidates(lo: torch.Tensor, hi: torch.Tensor, start: int, stop: int):
    """Integer points in per-row boxes [lo, hi] (inclusive, [R, D]) for rows start..stop:
    (row ids [T], points [T, D])."""
    ext = (hi[start:stop] - lo[start:stop] + 1).clamp_min(0)
    cnt = ext.prod(1)
    total = int(cnt.sum())
    rows = torch.repeat_interleave(torch.arange(start, stop), cnt)
    first = torch.cumsum(cnt, 0) - cnt
    k = torch.arange(total) - torch.repeat_interleave(first, cnt)
    e = ext[rows - start]
    pts = torch.empty((total, lo.shape[1]), dtype=torch.int64)
    for d in range(lo.shape[1] - 1, -1, -1):
        pts[:, d] = lo[rows, d] + k % e[:, d]
        k = torch.div(k, e[:, d], rounding_mode="floor")
    return rows, pts


def _chunks(counts: torch.Tensor):
    """Row ranges whose candidate totals stay near _CHUNK."""
    csum = torch.cumsum(counts, 0)
    start, n = 0, counts.shape[0]
    while start < n:
        base = int(csum[start - 1]) if start else 0
        stop = int(torch.searchsorted(csum, torch.tensor(base + _CHUNK)))
        stop = min(max(stop, start + 1), n)
        yield start, stop
        start = stop


def _scan_hits(tri: torch.Tensor, grid: int):
    """Every (triangle, axis, lattice edge) hit: (tri [H], axis [H], edge [H, 3], pos [H, 3])."""
    out_t, out_a, out_e, out_p = [], [], [], []
    for a in range(3):
        b, c = (a + 1) % 3, (a + 2) % 3
        t2 = tri[:, :, [b, c]]  # [F, 3, 2]
        lo = torch.ceil(t2.amin(1)).to(torch.int64).clamp(0, grid)
        hi = torch.floor(t2.amax(1)).to(torch.int64).clamp(0, grid)
        counts = (hi - lo + 1).clamp_min(0).prod(1)
        for s, e in _chunks(counts):
            rows, pts = _lattice_candidates(lo, hi, s, e)
            if rows.numel() == 0:
                continue
            t = t2[rows]
            px, py = pts[:, 0].to(tri.dtype), pts[:, 1].to(tri.dtype)
            x0, y0, x1, y1, x2, y2 = (
                t[:, 0, 0],
                t[:, 0, 1],
                t[:, 1, 0],
                t[:, 1, 1],
                t[:, 2, 0],
                t[:, 2, 1],
            )
            area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
            ok = area.abs() > 1e-12
            inv = torch.where(ok, 1.0 / torch.where(ok, area, torch.ones_like(area)), 0.0)
            w1 = ((px - x0) * (y2 - y0) - (x2 - x0) * (py - y0)) * inv
            w2 = ((x1 - x0) * (py - y0) - (px - x0) * (y1 - y0)) * inv
            w0 = 1.0 - w1 - w2
            inside = ok & (w0 >= -1e-12) & (w1 >= -1e-12) & (w2 >= -1e-12)
            rows, w0, w1, w2, pts = rows[inside], w0[inside], w1[inside], w2[inside], pts[inside]
            t3 = tri[rows]
            pos = t3[:, 0] * w0[:, None] + t3[:, 1] * w1[:, None] + t3[:, 2] * w2[:, None]
            i = torch.floor(pos[:, a]).to(torch.int64)
            keep = (i >= 0) & (i < grid)
            edge = torch.empty((int(keep.sum()), 3), dtype=torch.int64)
            edge[:, a] = i[keep]
            edge[:, b] = pts[keep, 0]
            edge[:, c] = pts[keep, 1]
            out_t.append(rows[keep])
            out_a.append(torch.full((edge.shape[0],), a, dtype=torch.int64))
            out_e.append(edge)
            out_p.append(pos[keep])
    return torch.cat(out_t), torch.cat(out_a), torch.cat(out_e), torch.cat(out_p)


def _plane_quadrics(tri: torch.Tensor) -> torch.Tensor:
    """[F, 4, 4] plane quadrics p p^T, p = (n, -n . v0) with unit n (zero for degenerate)."""
    n = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    ln = n.norm(dim=1, keepdim=True)
    n = torch.where(ln > 1e-12, n / ln.clamp_min(1e-12), torch.zeros_like(n))
    p = torch.cat([n, -(n * tri[:, 0]).sum(1, keepdim=True)], 1)
    return p[:, :, None] * p[:, None, :]


def subdivide_triangles(
    tri: torch.Tensor, max_edge: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split triangles [F, 3, 3] uniformly (n^2 pieces, n = ceil(longest edge / max_edge)).
    Returns (pieces [P, 3, 3], parent id [P], parent barycentrics of each piece's corners
    [P, 3, 3])."""
    e = torch.stack([tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 1], tri[:, 0] - tri[:, 2]], 1)
    n_all = torch.ceil(e.norm(dim=2).amax(1) / max_edge).clamp_min(1).to(torch.int64)
    pieces, parents, weights = [], [], []
    for n in torch.unique(n_all).tolist():
        ids = torch.nonzero(n_all == n).squeeze(1)
        # Barycentric grid of the n^2 sub-triangles (upright and inverted).
        bary = []
        for i in range(n):
            for j in range(n - i):
                bary.append([(i, j), (i + 1, j), (i, j + 1)])
                if j < n - i - 1:
                    bary.append([(i + 1, j), (i + 1, j + 1), (i, j + 1)])
        ij = torch.tensor(bary, dtype=tri.dtype) / n  # [S, 3, 2]
        w = torch.stack([1 - ij[..., 0] - ij[..., 1], ij[..., 0], ij[..., 1]], -1)  # [S, 3, 3]
        sub = torch.einsum("svk,fkd->fsvd", w, tri[ids])  # [f, S, 3, 3]
        pieces.append(sub.reshape(-1, 3, 3))
        parents.append(ids.repeat_interleave(w.shape[0]))
        weights.append(w[None].expand(len(ids), -1, -1, -1).reshape(-1, 3, 3))
    return torch.cat(pieces), torch.cat(parents), torch.cat(weights)


def mesh_to_flexible_dual_grid(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    grid_size: int,
    aabb: object,
    face_weight: float = 1.0,
    boundary_weight: float = 1.0,
    regularization_weight: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Voxelise a triangle mesh into flexible-dual-grid geometry.

    Args:
        vertices [V, 3] float (aabb frame), faces [F, 3] int; grid_size R; aabb [2, 3].
        face_weight must be > 0 (unused otherwise, as in the reference); boundary_weight scales
        the open-edge term; regularization_weight pulls towards the mean hit point.
        (The TRELLIS.2 texturing pipeline passes 1.0 / 0.2 / 1e-2.)

    Returns:
        coords [N, 3] int32 (x, y, z, sorted x-major), dual_vertices [N, 3] float32 voxel-local
        in [0, 1], intersected [N, 3] bool.
    """
    if face_weight <= 0:
        raise ValueError("face_weight must be > 0")
    box = as_aabb(aabb)
    r = int(grid_size)
    vs = (box[1] - box[0]) / r
    v = (vertices.to(torch.float64).cpu() - box[0].double()) / vs.double()
    f = faces.to(torch.int64).cpu()
    tri = v[f]  # [F, 3, 3] voxel units
    quad = _plane_quadrics(tri)

    # 1. Scan-line hits → active voxels, flags, hit quadrics and hit points.
    h_tri, h_axis, h_edge, h_pos = _scan_hits(tri, r)
    if h_tri.numel() == 0:
        empty = torch.zeros((0, 3))
        return empty.to(torch.int32), empty.float(), empty.bool()
    others = torch.tensor([[1, 2], [2, 0], [0, 1]])[h_axis]  # [H, 2]
    vox, src = [], []
    for db in (0, 1):
        for dc in (0, 1):
            c = h_edge.clone()
            c.scatter_add_(1, others, -torch.tensor([db, dc]).expand(len(c), 2).contiguous())
            vox.append(c)
            src.append(torch.arange(len(c)))
    vox = torch.cat(vox)
    src = torch.cat(src)
    inside = ((vox >= 0) & (vox < r)).all(1)
    vox, src = vox[inside], src[inside]
    key = (vox[:, 0] * r + vox[:, 1]) * r + vox[:, 2]
    ukey, inv = torch.unique(key, return_inverse=True)
    n = ukey.numel()
    coords = torch.stack([ukey // (r * r), (ukey // r) % r, ukey % r], 1)

    flag_vox = h_edge.clone()
    flag_vox.scatter_add_(1, others, -torch.ones_like(others))
    ok = ((flag_vox >= 0) & (flag_vox < r)).all(1)
    table = VoxelHash(coords, r)
    intersected = torch.zeros((n, 3), dtype=torch.bool)
    fidx = table.lookup(flag_vox[ok])
    intersected[fidx, h_axis[ok]] = True

    qsum = torch.zeros((n, 16), dtype=torch.float64)
    qsum.index_add_(0, inv, quad[h_tri[src]].reshape(-1, 16))
    count = torch.bincount(inv, minlength=n).to(torch.float64)
    mean = torch.zeros((n, 3), dtype=torch.float64).index_add_(0, inv, h_pos[src]) / count[:, None]

    # 2. Face term: each triangle once per active voxel it overlaps.
    sub, parent, _ = subdivide_triangles(tri, 1.0)
    lo = torch.floor(sub.amin(1)).to(torch.int64).clamp(0, r - 1)
    hi = torch.floor(sub.amax(1)).to(torch.int64).clamp(0, r - 1)
    pn = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    pn = pn / pn.norm(dim=1, keepdim=True).clamp_min(1e-12)
    pairs = []
    counts = (hi - lo + 1).prod(1)
    for s, e in _chunks(counts):
        rows, cells = _lattice_candidates(lo, hi, s, e)
        idx = table.lookup(cells)
        nrm = pn[parent[rows]]
        centre = cells.to(torch.float64) + 0.5
        dist = ((centre - sub[rows, 0]) * nrm).sum(1).abs()
        reach = 0.5 * nrm.abs().sum(1)
        keep = (idx >= 0) & (dist <= reach + 1e-9)
        pairs.append(parent[rows[keep]] * n + idx[keep])
    pairs = torch.unique(torch.cat(pairs))
    p_tri, p_vox = pairs // n, pairs % n
    qsum.index_add_(0, p_vox, quad[p_tri].reshape(-1, 16))

    # 3. Boundary term on open edges (after merging coincident vertices).
    _add_boundary_term(qsum, table, v, f, r, boundary_weight)

    # 4-5. Regularise and solve inside the voxel box.
    q = qsum.reshape(n, 4, 4)
    a_mat = q[:, :3, :3].clone()
    b_vec = q[:, :3, 3].clone()
    c_val = q[:, 3, 3].clone()
    w = regularization_weight * count
    a_mat += w[:, None, None] * torch.eye(3, dtype=torch.float64)
    b_vec -= w[:, None] * mean
    c_val += w * (mean * mean).sum(1)
    dual = _box_constrained_min(a_mat, b_vec, c_val, coords.to(torch.float64))
    local = (dual - coords.to(torch.float64)).clamp(0.0, 1.0).to(torch.float32)
    return coords.to(torch.int32), local, intersected


def _add_boundary_term(qsum, table, v, f, r, weight) -> None:
    if weight <= 0:
        return
    vn = v.numpy()
    _, vid = np.unique(np.round(vn, 9), axis=0, return_inverse=True)
    ff = torch.from_numpy(vid.reshape(-1)[f.numpy()].reshape(-1, 3))
    e = torch.stack([ff, ff.roll(-1, 1)], -1).reshape(-1, 2)
    key = torch.minimum(e[:, 0], e[:, 1]) * (len(vn) + 1) + torch.maximum(e[:, 0], e[:, 1])
    _, einv, ecount = torch.unique(key, return_inverse=True, return_counts=True)
    open_rows = torch.nonzero(ecount[einv] == 1).squeeze(1)
    if open_rows.numel() == 0:
        return
    rows_face, rows_k = open_rows // 3, open_rows % 3
    p0 = v[f[rows_face, rows_k]]
    p1 = v[f[rows_face, (rows_k + 1) % 3]]
    d = p1 - p0
    length = d.norm(dim=1)
    d = d / length[:, None].clamp_min(1e-12)
    steps = torch.ceil(length / 0.5).to(torch.int64) + 1
    seg = torch.repeat_interleave(torch.arange(len(p0)), steps)
    first = torch.cumsum(steps, 0) - steps
    k = torch.arange(int(steps.sum())) - torch.repeat_interleave(first, steps)
    t = k.to(torch.float64) / (steps[seg] - 1).clamp_min(1).to(torch.float64)
    pts = p0[seg] + (p1 - p0)[seg] * t[:, None]
    cells = torch.floor(pts).to(torch.int64)
    ok = ((cells >= 0) & (cells < r)).all(1)
    idx = torch.where(ok, table.lookup(cells.clamp(0, r - 1)), -1)
    n = qsum.shape[0]
    pairs = torch.unique(seg[idx >= 0] * n + idx[idx >= 0])
    s_id, vox = pairs // n, pairs % n
    dd = d[s_id]
    a_l = torch.eye(3, dtype=torch.float64) - dd[:, :, None] * dd[:, None, :]
    p = p0[s_id]
    b_l = -(a_l @ p[:, :, None]).squeeze(2)
    c_l = (p * (a_l @ p[:, :, None]).squeeze(2)).sum(1)
    ql = torch.zeros((len(s_id), 4, 4), dtype=torch.float64)
    ql[:, :3, :3] = a_l
    ql[:, :3, 3] = b_l
    ql[:, 3, :3] = b_l
    ql[:, 3, 3] = c_l
    qsum.index_add_(0, vox, weight * ql.reshape(-1, 16))


def _energy(a, b, c, x):
    return (x * (a @ x[..., None]).squeeze(-1)).sum(-1) + 2 * (b * x).sum(-1) + c


def _box_constrained_min(a, b, c, lo):
    """argmin of x^T A x + 2 b^T x + c over the boxes [lo, lo + 1]^3 (A SPD, per row)."""
    n = a.shape[0]
    cands = [torch.linalg.solve(a, -b[..., None]).squeeze(-1)]
    for i in range(3):  # faces: x_i fixed, solve the other two
        j, k = [x for x in range(3) if x != i]
        sub = a[:, [j, k]][:, :, [j, k]]
        for s in (0.0, 1.0):
            xi = lo[:, i] + s
            rhs = -(b[:, [j, k]] + a[:, [j, k], i] * xi[:, None])
            yz = torch.linalg.solve(sub, rhs[..., None]).squeeze(-1)
            x = torch.empty((n, 3), dtype=a.dtype)
            x[:, i], x[:, j], x[:, k] = xi, yz[:, 0], yz[:, 1]
            cands.append(x)
    for k in range(3):  # edges: two axes fixed, solve the third
        i, j = [x for x in range(3) if x != k]
        for si in (0.0, 1.0):
            for sj in (0.0, 1.0):
                xi, xj = lo[:, i] + si, lo[:, j] + sj
                xk = -(b[:, k] + a[:, k, i] * xi + a[:, k, j] * xj) / a[:, k, k].clamp_min(1e-30)
                x = torch.empty((n, 3), dtype=a.dtype)
                x[:, i], x[:, j], x[:, k] = xi, xj, xk
                cands.append(x)
    for cx in (0.0, 1.0):
        for cy in (0.0, 1.0):
            for cz in (0.0, 1.0):
                cands.append(lo + torch.tensor([cx, cy, cz], dtype=a.dtype))
    x = torch.stack(cands, 1)  # [N, 27, 3]
    eps = 1e-9
    feasible = ((x >= lo[:, None] - eps) & (x <= lo[:, None] + 1 + eps)).all(-1)
    feasible &= torch.isfinite(x).all(-1)
    e = _energy(a[:, None], b[:, None], c[:, None], torch.nan_to_num(x))
    e = torch.where(feasible, e, torch.inf)
    best = e.argmin(1)
    return x[torch.arange(n), best]
