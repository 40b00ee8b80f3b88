# SPDX-License-Identifier: MIT
"""Parallel quadric-error edge collapse in batched torch ops (any device; fast on CUDA).

Garland-Heckbert quadrics (area-weighted face planes, plus constraint planes through boundary
edges so open borders stay put) drive collapses of unique edges. Each pass

1. ranks every collapsible edge by its cost (quadric error at the best position, plus a small
   edge-length term so flat regions shrink evenly) and takes the cheapest fraction as candidates;
2. rejects candidates that break the link condition (the endpoints' common neighbours must be
   exactly the edge's opposite vertices, which keeps the surface a manifold), that flip or
   collapse a surviving face, or that make a face much skinnier;
3. keeps an independent set: a candidate survives when it has the smallest rank of all valid
   candidates touching any face around its two endpoints, so no two collapses share a face and
   all of them can be applied at once (vertex remap, drop faces that lost an edge, add quadrics);
   a few rounds per pass add winners away from the stars already taken;

until the face target is reached (the last pass stops at the target). Vertices on edges with
more than two faces stay pinned, and an interior edge joining two border vertices is never
collapsed (it would pinch the surface). No per-element Python loops: everything is sort /
unique / scatter_reduce; the sums that build quadrics run in a fixed order, so results repeat
on CUDA as on CPU. Written from the published algorithm
(Garland & Heckbert 1997; parallel independent-set collapse as in pamo / CuMesh).

Layouts: vertices float [V, 3] (any frame; worked on in float64, normalised to the unit box),
faces int64 [F, 3] with consistent winding (kept: collapses only substitute vertices).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

_BIG = torch.iinfo(torch.int64).max
# Work per-edge / per-candidate tables in slices of this many rows: the quadric sums are
# [E, 16] float64 and a candidate's star [~6 faces, 3, 3] float64 twice, several GiB at 3M
# faces if built at once. Every slice is independent, so results do not depend on it.
EDGE_CHUNK = 1 << 20
CAND_CHUNK = 1 << 18


@dataclass
class DecimateOptions:
    candidate_fraction: float = 0.25  # share of collapsible edges ranked as candidates per pass
    min_normal_dot: float = 0.2  # a surviving face's normal may turn by at most ~78°
    min_quality: float = 0.05  # reject faces below this shape quality when they get worse
    boundary_weight: float = 1e3  # weight of the boundary constraint planes (× edge length²)
    edge_length_weight: float = 1e-3  # cost += weight × length⁴ (same units as the quadric)
    max_passes: int = 200
    rounds: int = 6  # independent-set rounds per pass (each adds collapses away from the last)


# Near-empty passes (< 0.2% of the faces removed, every edge a candidate) before giving up.
STALLED_PASSES = 3


@dataclass
class DecimateStats:
    """Per-pass record: faces before, candidates, valid, applied collapses, seconds."""

    passes: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def _sync(device: torch.device) -> None:
    # This thread's stream only: the export may run beside a flow on another stream.
    if device.type == "cuda":
        torch.cuda.current_stream(device).synchronize()


def _csr(keys: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Group items by key in [0, n): (ptr [n + 1], item order sorted by key)."""
    order = torch.argsort(keys, stable=True)
    ptr = torch.zeros(n + 1, dtype=torch.int64, device=keys.device)
    ptr[1:] = torch.cumsum(torch.bincount(keys, minlength=n), 0)
    return ptr, order


def _expand(ptr: torch.Tensor, items: torch.Tensor, rows: torch.Tensor):
    """For each row r (a key), list its items: (owner index into rows [M], item [M])."""
    start = ptr[rows]
    deg = ptr[rows + 1] - start
    owner = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), deg)
    first = torch.cumsum(deg, 0) - deg
    offset = torch.arange(len(owner), device=rows.device) - first[owner]
    return owner, items[start[owner] + offset]


def _planes(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Triangles [F, 3, 3] → (unit plane (n, d) [F, 4], area [F])."""
    n = torch.linalg.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    ln = torch.linalg.vector_norm(n, dim=1)
    n = n / ln.clamp_min(1e-30)[:, None]
    d = -(n * p[:, 0]).sum(1)
    return torch.cat([n, d[:, None]], 1), 0.5 * ln


def _add_quadrics(
    q: torch.Tensor, verts: torch.Tensor, planes: torch.Tensor, w: torch.Tensor
) -> None:
    """q [V, 16] += w · plane planeᵀ for each vertex in each row of verts [N, k].

    Deterministic on every device: each vertex's occurrences are ranked and the additions run
    slot by slot (rank 0 of every vertex, then rank 1, ...), so no two float atomics ever hit
    the same row at once and the summation order is fixed. One launch per slot (max valence)."""
    k = verts.shape[1]
    flat = verts.reshape(-1)
    order = torch.argsort(flat, stable=True)
    sv = flat[order]
    rank = torch.arange(len(sv), device=sv.device) - torch.searchsorted(sv, sv)
    occ = order[torch.argsort(rank, stable=True)]
    start = 0
    for count in torch.bincount(rank).tolist():
        sl = occ[start : start + count]
        # The slot's outer products only (an [N, 16] table of all of them is 0.4 GiB at 3M).
        r = sl // k
        pl = planes[r]
        outer = (w[r][:, None, None] * pl[:, :, None] * pl[:, None, :]).reshape(-1, 16)
        q.index_add_(0, flat[sl], outer)
        start += count


def initial_quadrics(
    pos: torch.Tensor, faces: torch.Tensor, boundary_weight: float
) -> torch.Tensor:
    """Per-vertex quadrics [V, 16] (row-major 4×4): area-weighted face planes plus, for each
    boundary edge, a plane through it perpendicular to its face (weight × length²)."""
    nv = len(pos)
    q = torch.zeros(nv, 16, dtype=pos.dtype, device=pos.device)
    planes, area = _planes(pos[faces])
    _add_quadrics(q, faces, planes, area)
    e = torch.stack([faces, faces.roll(-1, 1)], -1).reshape(-1, 2)
    key = torch.minimum(e[:, 0], e[:, 1]) * nv + torch.maximum(e[:, 0], e[:, 1])
    _, inv, cnt = torch.unique(key, return_inverse=True, return_counts=True)
    rows = torch.nonzero(cnt[inv] == 1).squeeze(1)
    if len(rows):
        u, w = pos[e[rows, 0]], pos[e[rows, 1]]
        m = torch.linalg.cross(w - u, planes[rows // 3, :3])
        ln = torch.linalg.vector_norm(m, dim=1)
        m = m / ln.clamp_min(1e-30)[:, None]
        bp = torch.cat([m, -(m * u).sum(1, keepdim=True)], 1)
        weight = boundary_weight * ((w - u) ** 2).sum(1) * (ln > 0)
        _add_quadrics(q, e[rows], bp, weight)
    return q


def _quad_form(q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """xᵀ Q x for homogeneous x = (x, 1); q [E, 4, 4], x [E, 3]."""
    xh = torch.cat([x, torch.ones_like(x[:, :1])], 1)
    return _bilinear(xh, q, xh)


def _bilinear(x: torch.Tensor, m: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """xᵀ M y per row for x, y [E, n], m [E, n, n], unrolled over the n columns: einsum lowers
    this to batched float64 gemv (40% of the CUDA time on the H100) and a sum over a
    size-n inner dimension is slow on CPU."""
    n = x.shape[1]
    my = m[:, :, 0] * y[:, :1]
    for j in range(1, n):
        my = my + m[:, :, j] * y[:, j : j + 1]
    out = x[:, 0] * my[:, 0]
    for i in range(1, n):
        out = out + x[:, i] * my[:, i]
    return out


def collapse_targets(
    q: torch.Tensor, pa: torch.Tensor, pb: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best position and quadric error for collapsing edges (a, b) with summed quadrics
    q [E, 4, 4]: the 3×3 solve when well conditioned and near the edge, else the minimum on
    the segment a-b. Returns (position [E, 3], cost [E])."""
    a_ = q[:, :3, :3]
    g = q[:, :3, 3]
    s00, s01, s02 = a_[:, 0, 0], a_[:, 0, 1], a_[:, 0, 2]
    s11, s12, s22 = a_[:, 1, 1], a_[:, 1, 2], a_[:, 2, 2]
    c00 = s11 * s22 - s12 * s12
    c01 = s02 * s12 - s01 * s22
    c02 = s01 * s12 - s02 * s11
    c11 = s00 * s22 - s02 * s02
    c12 = s01 * s02 - s00 * s12
    c22 = s00 * s11 - s01 * s01
    det = s00 * c00 + s01 * c01 + s02 * c02
    tr = (s00 + s11 + s22) / 3
    ok = det.abs() > 1e-6 * tr.abs() ** 3
    inv_det = 1.0 / torch.where(ok, det, torch.ones_like(det))
    x = (
        -torch.stack(
            [
                c00 * g[:, 0] + c01 * g[:, 1] + c02 * g[:, 2],
                c01 * g[:, 0] + c11 * g[:, 1] + c12 * g[:, 2],
                c02 * g[:, 0] + c12 * g[:, 1] + c22 * g[:, 2],
            ],
            1,
        )
        * inv_det[:, None]
    )
    mid = 0.5 * (pa + pb)
    d = pb - pa
    length2 = (d * d).sum(1)
    ok &= ((x - mid) ** 2).sum(1) <= length2
    # Segment minimum: c(t) = c(a) + 2t dᵀ(A a + g) + t² dᵀ A d.
    grad = _bilinear(d, a_, pa) + (d * g).sum(1)
    curv = _bilinear(d, a_, d)
    t = torch.where(curv > 1e-30, -grad / curv.clamp_min(1e-30), torch.full_like(curv, 0.5))
    xs = pa + t.clamp(0, 1)[:, None] * d
    cost_s = _quad_form(q, xs)
    cost_x = torch.where(ok, _quad_form(q, torch.where(ok[:, None], x, mid)), cost_s)
    use_x = ok & (cost_x <= cost_s)
    return torch.where(use_x[:, None], x, xs), torch.where(use_x, cost_x, cost_s).clamp_min(0)


def _link_ok(adj_ptr, adj, ca, cb, nfaces, nv) -> torch.Tensor:
    """Link condition: the endpoints share exactly `nfaces` neighbours (the opposite vertices)."""
    rows = torch.cat([ca, cb])
    owner, nbr = _expand(adj_ptr, adj, rows)
    owner = owner % len(ca)
    key, _ = torch.sort(owner * nv + nbr)
    dup = key[1:] == key[:-1]
    common = torch.zeros(len(ca), dtype=torch.int64, device=ca.device)
    common.index_add_(0, key[1:][dup] // nv, torch.ones_like(key[1:][dup]))
    return common == nfaces


def _quality(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Triangles [N, 3, 3] → (normal [N, 3] of length 2·area, quality 4√3·area / Σ len²: 1 for
    equilateral, 0 for degenerate)."""
    n = torch.linalg.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    l2 = ((p - p.roll(-1, 1)) ** 2).sum((1, 2))
    return n, 3.4641016151377544 * torch.linalg.vector_norm(n, dim=1) / l2.clamp_min(1e-30)


def _geometry_ok(vf_ptr, vf_face, faces, pos, ca, cb, target, opt) -> torch.Tensor:
    """No surviving face around a or b flips (normal dot < min_normal_dot), degenerates, or
    gets worse than min_quality once a and b move to `target`."""
    owner, fid = _expand(vf_ptr, vf_face, torch.cat([ca, cb]))
    owner = owner % len(ca)
    fv = faces[fid]
    ia = (fv == ca[owner, None]).any(1)
    ib = (fv == cb[owner, None]).any(1)
    keep = ~(ia & ib)  # faces holding the edge disappear; each other one is listed once
    owner, fv = owner[keep], fv[keep]
    old = pos[fv]
    moved = (fv == ca[owner, None]) | (fv == cb[owner, None])
    new = torch.where(moved[:, :, None], target[owner, None, :], old)
    n0, q0 = _quality(old)
    n1, q1 = _quality(new)
    len0 = torch.linalg.vector_norm(n0, dim=1)
    len1 = torch.linalg.vector_norm(n1, dim=1)
    cos = (n0 * n1).sum(1) / (len0 * len1).clamp_min(1e-30)
    bad = (cos < opt.min_normal_dot) | (len1 <= 1e-12 * len0)
    bad |= (q1 < opt.min_quality) & (q1 < q0)
    nbad = torch.zeros(len(ca), dtype=torch.int64, device=ca.device)
    nbad.index_add_(0, owner, bad.long())
    return nbad == 0


def _independent_set(faces, nv, cand, ca, cb, rank, alive, opt):
    """Collapses with pairwise disjoint stars (faces around a or b), greedy in rank order.

    Round: a live candidate wins when its rank is the smallest of all live candidates touching
    any face around its endpoints; the winners' stars are then taken, and candidates touching
    a taken face die. Returns (edge id, a, b, rank) of the winners."""
    dev = faces.device
    chosen = torch.zeros(len(cand), dtype=torch.bool, device=dev)
    alive = alive.clone()
    flat = faces.reshape(-1)
    # Masks instead of compaction: no host synchronisation inside the rounds.
    for _ in range(opt.rounds):
        live_rank = torch.where(alive, rank, _BIG)
        vmin = torch.full((nv,), _BIG, dtype=torch.int64, device=dev)
        vmin.scatter_reduce_(0, ca, live_rank, "amin")
        vmin.scatter_reduce_(0, cb, live_rank, "amin")
        g = vmin[faces]
        fmin = torch.minimum(torch.minimum(g[:, 0], g[:, 1]), g[:, 2])  # amin(1) is slow on CPU
        wmin = torch.full((nv,), _BIG, dtype=torch.int64, device=dev)
        wmin.scatter_reduce_(0, flat, fmin[:, None].expand(-1, 3).reshape(-1), "amin")
        win = alive & (torch.minimum(wmin[ca], wmin[cb]) == rank)
        chosen |= win
        mark = torch.zeros(nv, dtype=torch.int32, device=dev)
        mark.index_add_(0, ca, win.int())
        mark.index_add_(0, cb, win.int())
        m = mark[faces]
        taken = (m[:, 0] + m[:, 1] + m[:, 2]) > 0
        blocked = torch.zeros(nv, dtype=torch.int32, device=dev)
        blocked.index_add_(0, flat, taken[:, None].expand(-1, 3).reshape(-1).int())
        alive &= (blocked[ca] == 0) & (blocked[cb] == 0)
    return cand[chosen], ca[chosen], cb[chosen], rank[chosen]


def simplify_torch(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    target_faces: int,
    options: DecimateOptions | None = None,
    stats: DecimateStats | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decimate to `target_faces` faces on the tensors' device: the result has target - 1 or
    target faces (more when no valid collapse is left). vertices float [V, 3], faces int64
    [F, 3] → (float32 [V', 3], int64 [F', 3]) with unused vertices dropped; the input comes back
    (as float32 / int64) when it is already small enough."""
    opt = options or DecimateOptions()
    dev = vertices.device
    t_start = time.perf_counter()
    faces = faces.to(dev, torch.int64)
    faces = faces[
        (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    ]
    if len(faces) <= target_faces:
        return vertices.float(), faces
    lo = vertices.min(0).values.double()
    hi = vertices.max(0).values.double()
    center, scale = (lo + hi) / 2, (hi - lo).max().clamp_min(1e-30)
    pos = (vertices.double() - center) / scale
    nv = len(pos)
    q = initial_quadrics(pos, faces, opt.boundary_weight)
    frac = opt.candidate_fraction
    stalled = 0
    for _ in range(opt.max_passes):
        nf = len(faces)
        if nf <= target_faces:
            break
        t0 = time.perf_counter()
        e = torch.stack([faces, faces.roll(-1, 1)], -1).reshape(-1, 2)
        key = torch.minimum(e[:, 0], e[:, 1]) * nv + torch.maximum(e[:, 0], e[:, 1])
        ukey, cnt = torch.unique(key, return_counts=True)
        a, b = ukey // nv, ukey % nv
        # Non-manifold edges pin their vertices; an interior edge between two boundary
        # vertices would pinch the surface into a non-manifold vertex.
        pinned = torch.zeros(nv, dtype=torch.bool, device=dev)
        pinned[a[cnt > 2]] = True
        pinned[b[cnt > 2]] = True
        on_border = torch.zeros(nv, dtype=torch.bool, device=dev)
        on_border[a[cnt == 1]] = True
        on_border[b[cnt == 1]] = True
        movable = ~pinned[a] & ~pinned[b] & ~(on_border[a] & on_border[b] & (cnt == 2))
        del e, key
        target = torch.empty(len(a), 3, dtype=pos.dtype, device=dev)
        cost = torch.empty(len(a), dtype=pos.dtype, device=dev)
        for s in range(0, len(a), EDGE_CHUNK):
            sa_, sb_ = a[s : s + EDGE_CHUNK], b[s : s + EDGE_CHUNK]
            pa, pb = pos[sa_], pos[sb_]
            t_, c_ = collapse_targets((q[sa_] + q[sb_]).view(-1, 4, 4), pa, pb)
            target[s : s + EDGE_CHUNK] = t_
            cost[s : s + EDGE_CHUNK] = c_ + opt.edge_length_weight * ((pb - pa) ** 2).sum(1) ** 2
        cost = torch.where(movable, cost, torch.full_like(cost, float("inf")))
        order = torch.argsort(cost, stable=True)
        n_movable = int(movable.sum())
        k = min(n_movable, max(int(frac * n_movable), 64))
        if k == 0:
            break
        cand = order[:k]
        rank = torch.empty_like(order)
        rank[order] = torch.arange(len(order), device=dev)
        ca, cb, ct = a[cand], b[cand], target[cand]
        adj_ptr, adj_order = _csr(torch.cat([a, b]), nv)
        adj = torch.cat([b, a])[adj_order]
        vf_ptr, vf_order = _csr(faces.reshape(-1), nv)
        vf_face = vf_order // 3
        del adj_order, vf_order
        valid = torch.empty(k, dtype=torch.bool, device=dev)
        for s in range(0, k, CAND_CHUNK):
            sl = slice(s, s + CAND_CHUNK)
            valid[sl] = _link_ok(adj_ptr, adj, ca[sl], cb[sl], cnt[cand[sl]], nv) & _geometry_ok(
                vf_ptr, vf_face, faces, pos, ca[sl], cb[sl], ct[sl], opt
            )
        del adj_ptr, adj, vf_ptr, vf_face
        sel, sa, sb, sr = _independent_set(faces, nv, cand, ca, cb, rank[cand], valid, opt)
        # Apply in rank order, stopping at the target (each collapse removes its edge's faces).
        by_rank = torch.argsort(sr)
        sel, sa, sb = sel[by_rank], sa[by_rank], sb[by_rank]
        # (the last may overshoot by one face: the result ends in [target - 1, target])
        removed = torch.cumsum(cnt[sel], 0) - cnt[sel]
        take = int((removed < nf - target_faces).sum())
        sel, sa, sb = sel[:take], sa[:take], sb[:take]
        if take:
            pos[sa] = target[sel]
            q[sa] += q[sb]
            remap = torch.arange(nv, device=dev)
            remap[sb] = sa
            faces = remap[faces]
            faces = faces[
                (faces[:, 0] != faces[:, 1])
                & (faces[:, 1] != faces[:, 2])
                & (faces[:, 0] != faces[:, 2])
            ]
        if stats is not None:
            _sync(dev)
            stats.passes.append(
                {
                    "faces": nf,
                    "candidates": k,
                    "valid": int(valid.sum()),
                    "collapsed": take,
                    "seconds": time.perf_counter() - t0,
                }
            )
        # Stalling (few local minima among the candidates): widen the candidate set; with every
        # edge already a candidate, give up after a few near-empty passes (a mesh full of
        # holes pins most vertices) and leave the rest to the caller.
        if nf - len(faces) < 0.002 * nf:
            if frac >= 1.0:
                stalled += 1
                if take == 0 or stalled >= STALLED_PASSES:
                    break
            frac = min(1.0, frac * 2)
        else:
            stalled = 0
    used = torch.zeros(nv, dtype=torch.bool, device=dev)
    used[faces.reshape(-1)] = True
    new_id = torch.cumsum(used.long(), 0) - 1
    out_v = (pos[used] * scale + center).float()
    if stats is not None:
        _sync(dev)
        stats.seconds = time.perf_counter() - t_start
    return out_v, new_id[faces]
