# SPDX-License-Identifier: MIT
"""Narrow-band sparse grid around a triangle mesh with exact unsigned distances (torch).

Used by `trellis2.postprocess.remesh`. Everything here works in *grid units*: a lattice corner
(i, j, k) sits at (i, j, k), a cell (i, j, k) spans [i, i+1] x [j, j+1] x [k, k+1], and the
caller maps world points with (p - origin) / cell_size. Any device; no extension.

Instead of a BVH, each cell keeps the list of triangles that overlap a cube around its centre
(half-size `hs`, exact triangle/box separating-axis test). A cell's list is then complete for
every point within `hs - |point - centre|_inf` of it, so distances from that cell's list are
exact up to that radius. Lists are built coarse to fine: a child cube lies inside its parent's
cube, so children only test their parent's triangles.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Corner offsets of a unit cell, in the order used for `BandGrid.cell_corners`.
CORNERS = torch.tensor(
    [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]],
    dtype=torch.int64,
)
# Cell half-diagonal factor of the keep test (sqrt(3)/2 rounded up, as the reference).
KEEP = 0.87
CHUNK = 1 << 20


def _dot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x * y).sum(-1)


def closest_point_on_triangles(
    p: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor
) -> torch.Tensor:
    """Exact closest points [N, 3] of points p [N, 3] on triangles (a, b, c) [N, 3] each.

    Voronoi-region classification of the triangle (vertex, edge or face region); the region
    tests are evaluated for all rows and the first matching one wins. Triangles must have a
    non-zero area (the caller drops degenerate ones)."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    bp = p - b
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    cp = p - c
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2

    def safe(x: torch.Tensor) -> torch.Tensor:
        return torch.where(x.abs() > 1e-30, x, torch.full_like(x, 1e-30))

    denom = safe(va + vb + vc)
    out = a + ab * (vb / denom)[:, None] + ac * (vc / denom)[:, None]  # face region
    # Later assignments take precedence, so regions go from the last tested to the first.
    e43, e56 = d4 - d3, d5 - d6
    in_bc = (va <= 0) & (e43 >= 0) & (e56 >= 0)
    out = torch.where(in_bc[:, None], b + (c - b) * (e43 / safe(e43 + e56))[:, None], out)
    in_ac = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    out = torch.where(in_ac[:, None], a + ac * (d2 / safe(d2 - d6))[:, None], out)
    out = torch.where(((d6 >= 0) & (d5 <= d6))[:, None], c, out)
    in_ab = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    out = torch.where(in_ab[:, None], a + ab * (d1 / safe(d1 - d3))[:, None], out)
    out = torch.where(((d3 >= 0) & (d4 <= d3))[:, None], b, out)
    out = torch.where(((d1 <= 0) & (d2 <= 0))[:, None], a, out)
    return out


def triangle_box_overlap(tri: torch.Tensor, centre: torch.Tensor, hs: float) -> torch.Tensor:
    """Separating-axis test of triangles [P, 3, 3] against cubes (centre [P, 3], half-size hs).
    True where they may overlap (a small tolerance keeps touching pairs: conservative)."""
    v = tri - centre[:, None, :]
    tol = hs * 1e-5 + 1e-6
    sep = (v.amin(1) > hs + tol).any(1) | (v.amax(1) < -hs - tol).any(1)
    e = torch.stack([v[:, 1] - v[:, 0], v[:, 2] - v[:, 1], v[:, 0] - v[:, 2]], 1)  # [P, 3, 3]
    n = torch.linalg.cross(e[:, 0], e[:, 1])
    r = hs * n.abs().sum(1) + tol
    sep |= _dot(n, v[:, 0]).abs() > r
    for j in range(3):  # axis u_j x e_i for the 3 edges at once
        unit = torch.zeros(3, dtype=tri.dtype, device=tri.device)
        unit[j] = 1.0
        axis = torch.linalg.cross(unit.expand_as(e), e)  # [P, 3, 3]
        proj = torch.einsum("pad,pkd->pak", axis, v)  # [P, 3 axes, 3 vertices]
        rad = hs * axis.abs().sum(2) + tol
        sep |= ((proj.amin(2) > rad) | (proj.amax(2) < -rad)).any(1)
    return ~sep


@dataclass
class BandGrid:
    """Finest-level narrow band: cells [C, 3] int64, and for each (cell, triangle) pair whose
    triangle overlaps the cell's cube of half-size `hs` around its centre: pair_cell [P] and
    pair_tri [P] (int64, sorted by cell). tri [F, 3, 3] float32 triangles in grid units,
    centre_udf [C] the exact distance from each cell centre (inf when > hs)."""

    cells: torch.Tensor
    pair_cell: torch.Tensor
    pair_tri: torch.Tensor
    tri: torch.Tensor
    centre_udf: torch.Tensor
    hs: float


def pair_distance(
    points: torch.Tensor, tri: torch.Tensor, pair_point: torch.Tensor, pair_tri: torch.Tensor
) -> torch.Tensor:
    """Squared distances [P] for (point, triangle) pairs, chunked."""
    out = torch.empty(len(pair_point), dtype=points.dtype, device=points.device)
    for s in range(0, len(pair_point), CHUNK):
        pp, tt = pair_point[s : s + CHUNK], tri[pair_tri[s : s + CHUNK]]
        p = points[pp]
        q = closest_point_on_triangles(p, tt[:, 0], tt[:, 1], tt[:, 2])
        out[s : s + CHUNK] = ((q - p) ** 2).sum(1)
    return out


def segment_min(values: torch.Tensor, index: torch.Tensor, n: int) -> torch.Tensor:
    """Minimum of `values` per segment id (`index` in [0, n)); inf for empty segments."""
    out = torch.full((n,), torch.inf, dtype=values.dtype, device=values.device)
    return out.scatter_reduce_(0, index, values, reduce="amin", include_self=True)


def _initial_pairs(
    tri: torch.Tensor, size: float, n_cells: int, hs: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top level: (cell coords [P, 3], triangle id [P]) for cells (side `size`) whose cube of
    half-size hs around the centre meets the triangle's bounding box."""
    lo = torch.floor((tri.amin(1) - hs) / size).to(torch.int64).clamp(0, n_cells - 1)
    hi = torch.floor((tri.amax(1) + hs) / size).to(torch.int64).clamp(0, n_cells - 1)
    ext = hi - lo + 1  # [F, 3]
    count = ext.prod(1)
    tid = torch.repeat_interleave(torch.arange(len(tri), device=tri.device), count)
    start = torch.cumsum(count, 0) - count
    r = torch.arange(len(tid), device=tri.device) - start[tid]
    e = ext[tid]
    off = torch.stack([r // (e[:, 1] * e[:, 2]), (r // e[:, 2]) % e[:, 1], r % e[:, 2]], 1)
    return lo[tid] + off, tid


def _unique_cells(coords: torch.Tensor, dims: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Unique cell coords (sorted by flat key) and the inverse index of each row."""
    key = (coords[:, 0] * dims + coords[:, 1]) * dims + coords[:, 2]
    uk, inv = torch.unique(key, return_inverse=True)
    cells = torch.stack([uk // (dims * dims), (uk // dims) % dims, uk % dims], 1)
    return cells, inv


def build_band(
    tri: torch.Tensor, resolution: int, eps: float, finest_hs: float, top: int = 32
) -> BandGrid:
    """Coarse-to-fine band of cells around triangles `tri` [F, 3, 3] (grid units, float32).

    Levels have cell size 2^k (k from the coarsest, where ceil(R / 2^k) <= top, down to 0).
    A cell is kept when the exact distance d from its centre satisfies d < eps + 0.87 * size:
    it may contain points at distance eps (the distance is 1-Lipschitz and the half-diagonal is
    0.866 * size). Unlike the reference's |d - eps| < 0.87 * size, cells deep inside the band
    are kept too: the sign fix-up in the contouring step may need them. Cube half-sizes are
    chosen so that each child's cube lies in its parent's (hs_k >= hs_{k-1} + size_k / 4) and
    the finest one is `finest_hs`."""
    levels = 0
    while -(-resolution // (1 << levels)) > top:
        levels += 1
    hs = [0.0] * (levels + 1)
    hs[0] = max(finest_hs, eps + KEEP)
    for k in range(1, levels + 1):
        size = float(1 << k)
        hs[k] = max(eps + KEEP * size, hs[k - 1] + size / 4)
    size = float(1 << levels)
    n_top = -(-resolution // (1 << levels))
    coords, pair_tri = _initial_pairs(tri, size, n_top, hs[levels])
    for k in range(levels, -1, -1):
        size = float(1 << k)
        n_cells = -(-resolution // (1 << k))
        if k < levels:  # children of the parent pairs
            child = (coords[:, None, :] * 2 + CORNERS.to(coords.device)[None]).reshape(-1, 3)
            pair_tri = pair_tri.repeat_interleave(8)
            inside = (child < n_cells).all(1)
            coords, pair_tri = child[inside], pair_tri[inside]
        centre = (coords.to(tri.dtype) + 0.5) * size
        keep = torch.zeros(len(coords), dtype=torch.bool, device=tri.device)
        for s in range(0, len(coords), CHUNK):
            keep[s : s + CHUNK] = triangle_box_overlap(
                tri[pair_tri[s : s + CHUNK]], centre[s : s + CHUNK], hs[k]
            )
        coords, pair_tri, centre = coords[keep], pair_tri[keep], centre[keep]
        cells, pair_cell = _unique_cells(coords, n_cells + 1)
        d2 = pair_distance(centre, tri, torch.arange(len(centre), device=tri.device), pair_tri)
        udf = segment_min(d2, pair_cell, len(cells)).sqrt()
        kept = udf < eps + KEEP * size
        sel = kept[pair_cell]
        coords, pair_tri, pair_cell = coords[sel], pair_tri[sel], pair_cell[sel]
    remap = torch.cumsum(kept.to(torch.int64), 0) - 1
    order = torch.argsort(remap[pair_cell], stable=True)
    return BandGrid(
        cells=cells[kept],
        pair_cell=remap[pair_cell][order],
        pair_tri=pair_tri[order],
        tri=tri,
        centre_udf=udf[kept],
        hs=hs[0],
    )


def closest_on_cell_lists(
    points: torch.Tensor, point_cell: torch.Tensor, band: BandGrid
) -> tuple[torch.Tensor, torch.Tensor]:
    """Closest surface points [L, 3] and distances [L] for points [L, 3] that each belong to a
    band cell point_cell [L] (exact while the point is within hs - |p - centre|_inf of the
    cell's centre). Points whose cell list is empty get distance inf and themselves."""
    counts = torch.bincount(band.pair_cell, minlength=len(band.cells))
    start = torch.cumsum(counts, 0) - counts
    n = counts[point_cell]
    pid = torch.repeat_interleave(torch.arange(len(points), device=points.device), n)
    r = torch.arange(len(pid), device=points.device) - (torch.cumsum(n, 0) - n)[pid]
    tid = band.pair_tri[start[point_cell][pid] + r]
    best_d = torch.full((len(points),), torch.inf, dtype=points.dtype, device=points.device)
    best_q = points.clone()
    for s in range(0, len(pid), CHUNK):
        pp, tt = pid[s : s + CHUNK], band.tri[tid[s : s + CHUNK]]
        q = closest_point_on_triangles(points[pp], tt[:, 0], tt[:, 1], tt[:, 2])
        d = ((q - points[pp]) ** 2).sum(1)
        m = segment_min(d, pp, len(points))
        m = torch.minimum(m, best_d)
        win = d <= m[pp]
        best_q[pp[win]] = q[win]
        best_d = m
    return best_q, best_d.sqrt()
