# SPDX-License-Identifier: MIT
"""Non-manifold edge repair that keeps every face, by splitting vertices (numpy and torch twins).

Meshes are vertices float32 [V, 3] and faces int64 [F, 3]; corner c = 3f + k is vertex
faces[f, k], directed edge row r = 3f + k runs from corner r to corner 3f + (k + 1) % 3.

Pass 1 (fan split). Around an edge used by more than two faces the faces are sorted by the angle
of their third vertex about the edge axis and paired with their angular neighbour on the side
their back faces: for outward-oriented meshes each pair bounds the same solid wedge (two voxel
blobs touching along an edge pair up per blob). At every endpoint of such an edge the corners are
grouped into fans, linked across manifold edges and across the chosen pairs; each fan beyond the
first gets its own copy of the vertex. Touching closed parts come out as separate closed parts.
Pass 2 (fan cut). Where a fan still joins both sides of an over-used edge around its endpoint
(a pinch: the parts also meet elsewhere around the vertex), the fans are rebuilt with no links
across the remaining over-used edges, which splits the pinch; on voxel surfaces this closes
every case seen (see bench/non_manifold.py). Pass 3 (face cut), the guarantee for what is
left (inconsistent orientation, angle ties): the faces past the first two on an edge (in face
order) get their own copies of the edge's two vertices. No edge keeps more than two faces, and
no face is lost.

Work is limited to corners at vertices of non-manifold edges, so the cost on a clean mesh is
one edge sort (the same as before), and a few sorts of the affected corners otherwise.
Non-manifold vertices elsewhere (parts touching at a single point) are left as they are.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse
from scipy.sparse import csgraph

from trellis2.postprocess.topology import (
    components_torch,
    directed_edges,
    edge_keys,
    unique_edges,
    unique_edges_torch,
)

_COPLANAR = 1e-9  # |sin| below this (relative) counts as exactly 0 or 180 degrees


def split_non_manifold_edges(
    vertices: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Split vertices so no edge is used by more than two faces; face count and order, and all
    positions, are kept (new vertices are copies appended after the old ones)."""
    torch_path = isinstance(faces, torch.Tensor)
    fan_split = _fan_split_torch if torch_path else _fan_split_np
    v, f, hit = fan_split(vertices, faces)
    if hit is None:
        return v, f
    v, f, hit = fan_split(v, f, pair=False, touched=_with_new(hit, len(v)))
    if hit is None:
        return v, f
    cut = _cut_torch if torch_path else _cut_np
    return cut(v, f, _with_new(hit, len(v)))


def _with_new(hit, nv: int):
    """hit: bool [V0] extended to [nv] with True for the vertices appended since."""
    if isinstance(hit, torch.Tensor):
        return torch.cat([hit, torch.ones(nv - len(hit), dtype=torch.bool, device=hit.device)])
    return np.concatenate([hit, np.ones(nv - len(hit), dtype=bool)])


# -- numpy ----------------------------------------------------------------------------------


def _end_corner(r):
    return r - r % 3 + (r % 3 + 1) % 3


def _fan_split_np(v: np.ndarray, f: np.ndarray, pair: bool = True, touched=None):
    """(vertices, faces, hit: bool [V] the vertices it worked on, None when all is manifold).
    pair=False: no links across over-used edges (the faces there are cut apart). touched: bool
    [V], only edges at these vertices can be over-used (all if None)."""
    nv = len(v)
    if touched is None:
        e, inv, counts = unique_edges(f, nv)
        if counts.max(initial=0) <= 2:
            return v, f, None
        c = counts[inv]
    else:  # only edges at touched vertices can be over-used: sort just those
        e = directed_edges(f)
        rows = np.flatnonzero(touched[e[:, 0]] | touched[e[:, 1]])
        _, sub, counts = np.unique(edge_keys(e[rows], nv), return_inverse=True, return_counts=True)
        if counts.max(initial=0) <= 2:
            return v, f, None
        inv = np.full(len(e), -1, dtype=np.int64)
        inv[rows] = sub
        c = np.zeros(len(e), dtype=np.int64)
        c[rows] = counts[sub]
    nm = np.flatnonzero(c > 2)
    hit = np.zeros(nv, dtype=bool)
    hit[e[nm].reshape(-1)] = True
    # Manifold edges at the affected vertices link their two faces' corners.
    m = np.flatnonzero((c == 2) & (hit[e[:, 0]] | hit[e[:, 1]]))
    m = m[np.argsort(inv[m], kind="stable")]
    p1, p2 = [m[0::2]], [m[1::2]]
    if pair:
        q1, q2 = _angular_pairs_np(v, f, e, inv, nm)
        p1.append(q1)
        p2.append(q2)
    r1, r2 = np.concatenate(p1), np.concatenate(p2)
    same = e[r1, 0] == e[r2, 0]
    s1, t1 = r1, _end_corner(r1)
    s2, t2 = r2, _end_corner(r2)
    la = np.concatenate([s1, t1])
    lb = np.concatenate([np.where(same, s2, t2), np.where(same, t2, s2)])
    flat = f.reshape(-1)
    keep = hit[flat[la]]
    la, lb = la[keep], lb[keep]
    nodes = np.flatnonzero(hit[flat])  # ascending corner ids
    a, b = np.searchsorted(nodes, la), np.searchsorted(nodes, lb)
    g = sparse.coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(len(nodes), len(nodes)))
    ncomp, lab = csgraph.connected_components(g, directed=False)
    low = np.full(ncomp, len(nodes), dtype=np.int64)
    np.minimum.at(low, lab, np.arange(len(nodes)))
    rep = low[lab]  # smallest node of each node's fan, as components_torch labels it
    return (*_assign_np(v, f, nodes, rep), hit)


def _angular_pairs_np(v, f, e, inv, nm):
    """Rows of each edge used by > 2 faces (nm, ascending) sorted by angle about the edge and
    paired back-to-back: (first rows, second rows)."""
    nm = nm[np.argsort(inv[nm], kind="stable")]
    grp = inv[nm]
    n = len(nm)
    idx = np.arange(n)
    start = np.r_[True, grp[1:] != grp[:-1]]
    first = np.maximum.accumulate(np.where(start, idx, 0))
    ang = _angles_np(v, f, e, nm, first)
    o = np.argsort(ang, kind="stable")
    o = o[np.argsort(grp[o], kind="stable")]  # by (edge, angle, row); groups keep their spans
    rows = nm[o]
    nxt = np.r_[idx[1:], 0]
    end = np.r_[grp[1:] != grp[:-1], True]
    nxt[end] = first[end]
    back = e[rows, 0] > e[rows, 1]  # runs the edge high -> low: its back faces the next angle
    pair = back & ~back[nxt]
    return rows[pair], rows[nxt[pair]]


def _angles_np(v, f, e, rows, first):
    """Angle in [0, 2pi) of each row's third vertex about its edge (low -> high vertex),
    measured from the first row of the edge's group. float64."""
    vd = v.astype(np.float64)
    lo = np.minimum(e[rows, 0], e[rows, 1])
    hi = np.maximum(e[rows, 0], e[rows, 1])
    third = f.reshape(-1)[rows - rows % 3 + (rows % 3 + 2) % 3]
    d = vd[hi] - vd[lo]
    d = d / np.sqrt((d * d).sum(1, keepdims=True))
    w = vd[third] - vd[lo]
    w0 = w[first]
    u1 = w0 - (w0 * d).sum(1, keepdims=True) * d
    u2 = np.stack(
        [
            d[:, 1] * u1[:, 2] - d[:, 2] * u1[:, 1],
            d[:, 2] * u1[:, 0] - d[:, 0] * u1[:, 2],
            d[:, 0] * u1[:, 1] - d[:, 1] * u1[:, 0],
        ],
        1,
    )
    x, y = (w * u1).sum(1), (w * u2).sum(1)
    y = np.where(np.abs(y) <= _COPLANAR * np.abs(x), 0.0, y)
    ang = np.arctan2(y, x)
    return np.where(ang < 0, ang + 2 * np.pi, ang)


def _assign_np(v, f, nodes, rep):
    flat = f.reshape(-1)
    roots = np.flatnonzero(rep == np.arange(len(nodes)))
    vert = flat[nodes[roots]]
    o = np.argsort(vert, kind="stable")
    extra = np.ones(len(roots), dtype=bool)
    extra[o[np.r_[True, vert[o][1:] != vert[o][:-1]]]] = False  # first fan keeps the id
    new_id = np.where(extra, len(v) + np.cumsum(extra) - 1, vert)
    out = flat.copy()
    out[nodes] = new_id[np.searchsorted(roots, rep)]
    return np.concatenate([v, v[vert[extra]]]), out.reshape(-1, 3)


def _cut_np(
    v: np.ndarray, f: np.ndarray, touched: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pass 2. touched: bool [V], only edges at these vertices can be over-used (all if None)."""
    e = directed_edges(f)
    rows = np.arange(len(e))
    if touched is not None:
        rows = np.flatnonzero(touched[e[:, 0]] | touched[e[:, 1]])
    _, inv, counts = np.unique(edge_keys(e[rows], len(v)), return_inverse=True, return_counts=True)
    if counts.max(initial=0) <= 2:
        return v, f
    sel = counts[inv] > 2
    rows, inv = rows[sel], inv[sel]
    o = np.argsort(inv, kind="stable")
    rows, grp = rows[o], inv[o]
    idx = np.arange(len(rows))
    start = np.r_[True, grp[1:] != grp[:-1]]
    rank = idx - np.maximum.accumulate(np.where(start, idx, 0))
    extra = rows[rank >= 2]
    corners = np.unique(np.concatenate([extra, _end_corner(extra)]))
    flat = f.reshape(-1).copy()
    new_v = v[flat[corners]]
    flat[corners] = len(v) + np.arange(len(corners))
    return np.concatenate([v, new_v]), flat.reshape(-1, 3)


# -- torch (any device; the CUDA export runs this) -------------------------------------------


def _first_of_group_torch(grp: torch.Tensor) -> torch.Tensor:
    n = len(grp)
    idx = torch.arange(n, device=grp.device)
    start = torch.ones(n, dtype=torch.bool, device=grp.device)
    start[1:] = grp[1:] != grp[:-1]
    return torch.cummax(torch.where(start, idx, 0), 0).values


def _fan_split_torch(v: torch.Tensor, f: torch.Tensor, pair: bool = True, touched=None):
    nv, dev = len(v), f.device
    if touched is None:
        e, inv, counts = unique_edges_torch(f, nv)
        if len(counts) == 0 or int(counts.max()) <= 2:
            return v, f, None
        c = counts[inv]
    else:
        e = torch.stack([f, torch.roll(f, -1, dims=1)], -1).reshape(-1, 2)
        rows = torch.nonzero(touched[e[:, 0]] | touched[e[:, 1]]).squeeze(1)
        er = e[rows]
        key = torch.minimum(er[:, 0], er[:, 1]) * nv + torch.maximum(er[:, 0], er[:, 1])
        _, sub, counts = torch.unique(key, return_inverse=True, return_counts=True)
        if len(counts) == 0 or int(counts.max()) <= 2:
            return v, f, None
        inv = torch.full((len(e),), -1, dtype=torch.int64, device=dev)
        inv[rows] = sub
        c = torch.zeros(len(e), dtype=torch.int64, device=dev)
        c[rows] = counts[sub]
    nm = torch.nonzero(c > 2).squeeze(1)
    hit = torch.zeros(nv, dtype=torch.bool, device=dev)
    hit[e[nm].reshape(-1)] = True
    m = torch.nonzero((c == 2) & (hit[e[:, 0]] | hit[e[:, 1]])).squeeze(1)
    del c
    m = m[torch.sort(inv[m], stable=True).indices]
    p1, p2 = [m[0::2]], [m[1::2]]
    if pair:
        q1, q2 = _angular_pairs_torch(v, f, e, inv, nm)
        p1.append(q1)
        p2.append(q2)
    del inv, counts
    r1, r2 = torch.cat(p1), torch.cat(p2)
    same = e[r1, 0] == e[r2, 0]
    s1, t1 = r1, _end_corner(r1)
    s2, t2 = r2, _end_corner(r2)
    la = torch.cat([s1, t1])
    lb = torch.cat([torch.where(same, s2, t2), torch.where(same, t2, s2)])
    flat = f.reshape(-1)
    keep = hit[flat[la]]
    la, lb = la[keep], lb[keep]
    nodes = torch.nonzero(hit[flat]).squeeze(1)
    a, b = torch.searchsorted(nodes, la), torch.searchsorted(nodes, lb)
    rep = components_torch(len(nodes), a, b)
    return (*_assign_torch(v, f, nodes, rep), hit)


def _angular_pairs_torch(v, f, e, inv, nm):
    nm = nm[torch.sort(inv[nm], stable=True).indices]
    grp = inv[nm]
    dev = f.device
    n = len(nm)
    idx = torch.arange(n, device=dev)
    first = _first_of_group_torch(grp)
    ang = _angles_torch(v, f, e, nm, first)
    o = torch.sort(ang, stable=True).indices
    o = o[torch.sort(grp[o], stable=True).indices]
    rows = nm[o]
    nxt = torch.roll(idx, -1)
    end = torch.ones(n, dtype=torch.bool, device=dev)
    end[:-1] = grp[1:] != grp[:-1]
    nxt[end] = first[end]
    back = e[rows, 0] > e[rows, 1]
    pair = back & ~back[nxt]
    return rows[pair], rows[nxt[pair]]


def _angles_torch(v, f, e, rows, first):
    vd = v.double()
    lo = torch.minimum(e[rows, 0], e[rows, 1])
    hi = torch.maximum(e[rows, 0], e[rows, 1])
    third = f.reshape(-1)[rows - rows % 3 + (rows % 3 + 2) % 3]
    d = vd[hi] - vd[lo]
    d = d / torch.sqrt((d * d).sum(1, keepdim=True))
    w = vd[third] - vd[lo]
    w0 = w[first]
    u1 = w0 - (w0 * d).sum(1, keepdim=True) * d
    u2 = torch.stack(
        [
            d[:, 1] * u1[:, 2] - d[:, 2] * u1[:, 1],
            d[:, 2] * u1[:, 0] - d[:, 0] * u1[:, 2],
            d[:, 0] * u1[:, 1] - d[:, 1] * u1[:, 0],
        ],
        1,
    )
    x, y = (w * u1).sum(1), (w * u2).sum(1)
    y = torch.where(y.abs() <= _COPLANAR * x.abs(), 0.0, y)
    ang = torch.atan2(y, x)
    return torch.where(ang < 0, ang + 2 * np.pi, ang)


def _assign_torch(v, f, nodes, rep):
    dev = f.device
    flat = f.reshape(-1)
    roots = torch.nonzero(rep == torch.arange(len(nodes), device=dev)).squeeze(1)
    vert = flat[nodes[roots]]
    o = torch.sort(vert, stable=True).indices
    vs = vert[o]
    head = torch.ones(len(o), dtype=torch.bool, device=dev)
    head[1:] = vs[1:] != vs[:-1]
    extra = torch.ones(len(roots), dtype=torch.bool, device=dev)
    extra[o[head]] = False
    new_id = torch.where(extra, len(v) + torch.cumsum(extra.long(), 0) - 1, vert)
    out = flat.clone()
    out[nodes] = new_id[torch.searchsorted(roots, rep)]
    return torch.cat([v, v[vert[extra]]]), out.reshape(-1, 3)


def _cut_torch(
    v: torch.Tensor, f: torch.Tensor, touched: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    e = torch.stack([f, torch.roll(f, -1, dims=1)], -1).reshape(-1, 2)
    if touched is None:
        rows = torch.arange(len(e), device=f.device)
    else:
        rows = torch.nonzero(touched[e[:, 0]] | touched[e[:, 1]]).squeeze(1)
    e = e[rows]
    key = torch.minimum(e[:, 0], e[:, 1]) * len(v) + torch.maximum(e[:, 0], e[:, 1])
    _, inv, counts = torch.unique(key, return_inverse=True, return_counts=True)
    if len(counts) == 0 or int(counts.max()) <= 2:
        return v, f
    sel = counts[inv] > 2
    rows, inv = rows[sel], inv[sel]
    o = torch.sort(inv, stable=True).indices
    rows, grp = rows[o], inv[o]
    rank = torch.arange(len(rows), device=f.device) - _first_of_group_torch(grp)
    extra = rows[rank >= 2]
    corners = torch.unique(torch.cat([extra, _end_corner(extra)]))
    flat = f.reshape(-1).clone()
    new_v = v[flat[corners]]
    flat[corners] = len(v) + torch.arange(len(corners), device=f.device)
    return torch.cat([v, new_v]), flat.reshape(-1, 3)


__all__ = ["split_non_manifold_edges"]
