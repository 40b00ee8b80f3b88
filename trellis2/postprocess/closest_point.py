# SPDX-License-Identifier: MIT
"""Closest point on a dense triangle mesh (replaces cuBVH's unsigned_distance for baking).

For each query, the nearest mesh vertex proposes its incident faces (its 1-ring); the exact
closest point on each candidate triangle is computed (plane projection when inside, else the best
of the three edge segments) and the nearest wins. This is exact whenever the true closest face
touches the nearest vertex, which holds for queries close to the surface (texels of a decimated
copy of the mesh); it is not a general-purpose distance query.

Nearest vertex: vertices are binned into a sparse grid of cubic cells (`cell_size`, the voxel
size for O-Voxel meshes, which have one dual vertex per voxel). A query looks at the vertices of
the 3x3x3 cells around its own cell (found by sort + searchsorted on cell keys, once per distinct
query cell), which is exact for every query whose nearest vertex is within one cell; the few
others search 5x5x5 cells, and what is still left a KD-tree (scipy, CPU). Everything else is
vectorised torch on the projector's device (CPU or CUDA).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree

MAX_VALENCE = 12
# Cells holding more vertices than this make the cell search too wide: use the KD-tree then.
MAX_PER_CELL = 8
CHUNK = 1 << 18
# Distinct query cells whose candidate lists are built at once (bounds the cell search's memory).
CELL_CHUNK = 1 << 16
# Queries projected at once: [15, n, valence] float32 face data plus ~20 [n, valence] temporaries.
PROJECT_CHUNK = 1 << 16


def _tensor(x: object, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def vertex_normals_torch(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted unit vertex normals [V, 3] float32 (isolated/degenerate vertices get +Z)."""
    p = vertices.double()[faces]
    fn = torch.linalg.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    vn = torch.zeros(len(vertices), 3, dtype=torch.float64, device=vertices.device)
    vn.index_add_(0, faces.reshape(-1), fn.repeat_interleave(3, 0))
    ln = vn.norm(dim=1, keepdim=True)
    z = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64, device=vertices.device)
    return torch.where(ln > 1e-20, vn / ln.clamp_min(1e-20), z).float()


def _face_constants(tri: torch.Tensor) -> torch.Tensor:
    """Triangles [n, 3, 3] float64 → [n, 15] float32: a, ab, ac, (d00, d01, d11) / det of the
    Gram matrix, squared lengths of ab, bc, ca."""
    a, ab, ac = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    d00, d01, d11 = (ab * ab).sum(1), (ab * ac).sum(1), (ac * ac).sum(1)
    det = d00 * d11 - d01 * d01
    inv = torch.where(det > 1e-30, 1.0 / det.clamp_min(1e-30), 0.0)
    bc2 = ((ac - ab) ** 2).sum(1)
    gram = torch.stack([d00 * inv, d01 * inv, d11 * inv], 1)
    edge2 = torch.stack([d00, bc2, d11], 1)  # squared lengths of ab, bc, ca
    return torch.cat([a, ab, ac, gram, edge2], 1).float()


class SurfaceProjector:
    """Dense mesh (vertices [V, 3] float, faces [F, 3] int; numpy or torch) prepared for
    closest-point queries on `device` (default: the vertices' device, else CPU).

    cell_size: edge of the binning cells in world units (the voxel size for O-Voxel meshes;
    default: the mean edge length). Queries in `project_torch` stay on the device."""

    def __init__(
        self,
        vertices: object,
        faces: object,
        cell_size: float | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        if device is None:
            device = vertices.device if isinstance(vertices, torch.Tensor) else "cpu"
        self.device = torch.device(device)
        v = _tensor(vertices, torch.float32, self.device)
        f = _tensor(faces, torch.int64, self.device)
        self.v = v
        self.f = f
        self._vt = v.T.contiguous()  # [3, V]
        self._tree: cKDTree | None = None
        self._normals: torch.Tensor | None = None
        nv = len(v)
        # Vertex → up to MAX_VALENCE incident faces, -1 padded.
        flat_v = f.reshape(-1)
        flat_f = torch.arange(len(f), device=self.device).repeat_interleave(3)
        sv, order = torch.sort(flat_v, stable=True)
        sf = flat_f[order]
        start = torch.searchsorted(sv, torch.arange(nv, device=self.device))
        rank = torch.arange(len(sv), device=self.device) - start[sv]
        # As many slots as the largest valence needs (dual-grid meshes: about 6), at most 12.
        k = int(rank.max()) + 1 if len(rank) else 1
        k = min(k, MAX_VALENCE)
        keep = rank < k
        incident = torch.full((nv, k), -1, dtype=torch.int64, device=self.device)
        incident[sv[keep], rank[keep]] = sf[keep]
        self.incident = incident
        del flat_v, flat_f, sv, order, sf, start, rank, keep
        # Per-face constants of the closest-point computation (float64, stored float32): a, ab,
        # ac, Gram matrix inverse, squared edge lengths; in face slices (float64 temporaries
        # of all faces at once are ~1 GiB at 3M faces).
        self._face_t = torch.empty(15, len(f), dtype=torch.float32, device=self.device)
        for s in range(0, len(f), PROJECT_CHUNK * 16):
            self._face_t[:, s : s + PROJECT_CHUNK * 16] = _face_constants(
                v.double()[f[s : s + PROJECT_CHUNK * 16]]
            ).T
        if cell_size is None:
            e = v[f[:, 1]].double() - v[f[:, 0]].double()
            cell_size = float(e.norm(dim=1).mean()) if len(f) else 1.0
        self.cell_size = max(float(cell_size), 1e-12)
        self._build_cells()

    # -- nearest vertex -----------------------------------------------------------------------

    def _build_cells(self) -> None:
        used = torch.zeros(len(self.v), dtype=torch.bool, device=self.device)
        used[self.f.reshape(-1)] = True
        vid = torch.nonzero(used).squeeze(1)
        self.slots: torch.Tensor | None = None
        if len(vid) == 0:
            return
        cell = torch.floor(self.v[vid].double() / self.cell_size).to(torch.int64)
        self.lo = cell.amin(0) - 1
        self.dims = cell.amax(0) - self.lo + 2
        keys = self._key(cell - self.lo)
        sk, order = torch.sort(keys)
        uk, counts = torch.unique_consecutive(sk, return_counts=True)
        k = int(counts.max())
        if k > MAX_PER_CELL:
            return  # vertices far denser than the cells: the KD-tree is the better search
        first = torch.cumsum(counts, 0) - counts
        grp = torch.repeat_interleave(torch.arange(len(uk), device=self.device), counts)
        rank = torch.arange(len(sk), device=self.device) - first[grp]
        slots = torch.full((len(uk), k), -1, dtype=torch.int64, device=self.device)
        slots[grp, rank] = vid[order]
        self.cell_keys, self.slots = uk, slots

    def _key(self, c: torch.Tensor) -> torch.Tensor:
        d1, d2 = int(self.dims[1]), int(self.dims[2])
        return (c[..., 0] * d1 + c[..., 1]) * d2 + c[..., 2]

    def _tree_query(self, q: torch.Tensor) -> torch.Tensor:
        if self._tree is None:
            used = torch.zeros(len(self.v), dtype=torch.bool, device=self.device)
            used[self.f.reshape(-1)] = True
            self._tree_ids = torch.nonzero(used).squeeze(1)
            self._tree = cKDTree(self.v[self._tree_ids].cpu().numpy())
        _, nn = self._tree.query(q.cpu().numpy(), k=1, workers=-1)
        return self._tree_ids[torch.from_numpy(np.asarray(nn, dtype=np.int64)).to(self.device)]

    def nearest_vertex(self, q: torch.Tensor) -> torch.Tensor:
        """Index [L] of the nearest used vertex for points q [L, 3] on the device: cells within
        one cell first, two cells for the few queries that found nothing that close, then the
        KD-tree for what is left."""
        if self.slots is None:
            return self._tree_query(q)
        out, miss = self._cell_search(q, 1)
        if bool(miss.any()):
            far = torch.nonzero(miss).squeeze(1)
            idx, miss2 = self._cell_search(q[far], 2)
            if bool(miss2.any()):
                idx[miss2] = self._tree_query(q[far[miss2]])
            out[far] = idx
        return out

    def _cell_search(self, q: torch.Tensor, radius: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(nearest vertex [L], miss [L]) among the vertices of the cells within `radius` cells
        of each query's cell; exact where not `miss` (nearest vertex within radius cells).

        The candidate table ([cells, (2r+1)^3 * per-cell slots] int64, sorted) is built for
        CELL_CHUNK distinct query cells at a time (queries grouped by cell): built at once it
        is several GiB for a million texels."""
        cell = torch.floor(q.double() / self.cell_size).to(torch.int64) - self.lo
        inside = ((cell >= 0) & (cell < self.dims)).all(1)
        keys = torch.where(inside, self._key(cell.clamp_min(0)), -1)
        del cell, inside
        ukeys, inv = torch.unique(keys, return_inverse=True)
        del keys
        by_cell = torch.argsort(inv)
        bounds = torch.searchsorted(
            inv[by_cell],
            torch.arange(0, len(ukeys) + CELL_CHUNK, CELL_CHUNK, device=self.device),
        ).tolist()
        out = torch.zeros(len(q), dtype=torch.int64, device=self.device)
        miss = torch.ones(len(q), dtype=torch.bool, device=self.device)
        for i, c0 in enumerate(range(0, len(ukeys), CELL_CHUNK)):
            cand = self._cell_candidates(ukeys[c0 : c0 + CELL_CHUNK], radius)
            if cand.shape[1] == 0:
                continue
            self._nearest_among(
                q, cand, inv, c0, by_cell[bounds[i] : bounds[i + 1]], radius, out, miss
            )
        return out, miss

    def _cell_candidates(self, ukeys: torch.Tensor, radius: int) -> torch.Tensor:
        """Vertex ids [U, C] (-1 padded, valid first) in the cells around each key's cell."""
        d1, d2 = int(self.dims[1]), int(self.dims[2])
        uc = torch.stack([ukeys // (d1 * d2), (ukeys // d2) % d1, ukeys % d2], 1)
        r = torch.arange(-radius, radius + 1, device=self.device)
        offsets = torch.stack(torch.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
        nb = uc[:, None, :] + offsets[None]  # [U, (2r+1)^3, 3]
        ok = ((nb >= 0) & (nb < self.dims)).all(-1) & (ukeys >= 0)[:, None]
        nk = self._key(nb.clamp_min(0))
        n = len(self.cell_keys)
        pos = torch.searchsorted(self.cell_keys, nk).clamp_(max=n - 1)
        ok &= self.cell_keys[pos] == nk
        cand = torch.where(ok[..., None], self.slots[pos], -1).reshape(len(ukeys), -1)
        # Valid candidates first in each row, then drop the columns no row needs (a surface
        # passes through about a third of the cells around it).
        cand = torch.sort(cand, dim=1, descending=True).values
        return cand[:, : int((cand >= 0).sum(1).max()) if cand.numel() else 0]

    def _nearest_among(self, q, cand, inv, c0, queries, radius, out, miss) -> None:
        """For the queries (ids into q) whose cell rows are in cand (row = inv - c0): write the
        nearest candidate into out and whether it is farther than `radius` cells into miss."""
        vx, vy, vz = self._vt[0], self._vt[1], self._vt[2]
        limit = (radius * self.cell_size) ** 2
        step = max(1, CHUNK * 16 // cand.shape[1])
        for s in range(0, len(queries), step):
            qi = queries[s : s + step]
            c = cand[inv[qi] - c0]  # [l, C]
            cc = c.clamp_min(0)
            p = q[qi]
            # Component-wise: reductions over a trailing dimension of 3 are slow on CPU.
            d = (vx[cc] - p[:, 0:1]) ** 2 + (vy[cc] - p[:, 1:2]) ** 2 + (vz[cc] - p[:, 2:3]) ** 2
            d = torch.where(c >= 0, d, torch.inf)
            best, arg = d.min(1)
            out[qi] = c.gather(1, arg[:, None]).squeeze(1)
            # Exact only when the nearest vertex is within `radius` cells (else a further cell
            # could hold a nearer one).
            miss[qi] = ~(best <= limit)

    # -- queries ------------------------------------------------------------------------------

    def project_torch(
        self, points: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Points [L, 3] → (closest points [L, 3] f32, face id [L] int64, barycentrics [L, 3])
        as tensors on the projector's device."""
        q_all = points.to(device=self.device, dtype=torch.float32)
        if len(self.f) == 0:
            raise ValueError("the surface has no faces: nothing to project onto")
        nn_all = self.nearest_vertex(q_all)
        out_p = torch.empty((len(q_all), 3), device=self.device)
        out_f = torch.empty(len(q_all), dtype=torch.int64, device=self.device)
        out_b = torch.empty((len(q_all), 3), device=self.device)
        n = PROJECT_CHUNK
        for s in range(0, len(q_all), n):
            p, f, b = self._project(q_all[s : s + n], nn_all[s : s + n])
            out_p[s : s + n], out_f[s : s + n], out_b[s : s + n] = p, f, b
        return out_p, out_f, out_b

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """numpy wrapper of `project_torch`: points [L, 3] → (points f32, face int64, bary)."""
        p, f, b = self.project_torch(torch.from_numpy(np.asarray(points, dtype=np.float32)))
        return p.cpu().numpy(), f.cpu().numpy(), b.cpu().numpy()

    @property
    def normals(self) -> np.ndarray:
        """Unit area-weighted vertex normals [V, 3] of the dense mesh (numpy)."""
        if self._normals is None:
            self._normals = vertex_normals_torch(self.v, self.f)
        return self._normals.cpu().numpy()

    def normals_torch(self, face: torch.Tensor, bary: torch.Tensor) -> torch.Tensor:
        """Interpolated (not unit) vertex normals [L, 3] of the dense mesh at (face [L],
        barycentrics [L, 3]) from `project_torch`, on the projector's device."""
        if self._normals is None:
            self._normals = vertex_normals_torch(self.v, self.f)
        return (self._normals[self.f[face]] * bary[:, :, None]).sum(1)

    def normals_at(self, face: np.ndarray, bary: np.ndarray) -> np.ndarray:
        """Interpolated unit vertex normals [L, 3] of the dense mesh."""
        faces = self.f.cpu().numpy()
        n = (self.normals[faces[face]] * bary[:, :, None]).sum(1)
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)

    def _project(self, q: torch.Tensor, nn: torch.Tensor):
        # Component-wise math on contiguous [L, K] tensors (reductions over a trailing dimension
        # of 3 are slow on CPU); only the distance and two barycentrics are carried per
        # candidate, the point is rebuilt for the winner.
        cand = self.incident[nn]  # [L, K]
        fd = self._face_t[:, cand.clamp_min(0)]  # [15, L, K]
        a, ab, ac = fd[0:3], fd[3:6], fd[6:9]
        g00, g01, g11 = fd[9], fd[10], fd[11]
        p = q.T[:, :, None]  # [3, L, 1]
        ap = p - a

        def dot(x, y):
            return x[0] * y[0] + x[1] * y[1] + x[2] * y[2]

        d20, d21 = dot(ap, ab), dot(ap, ac)
        v = g11 * d20 - g01 * d21
        w = g00 * d21 - g01 * d20
        inside = (v >= 0) & (w >= 0) & (v + w <= 1) & ((g00 != 0) | (g11 != 0))
        diff = ap - v * ab - w * ac
        best_d = torch.where(inside & (cand >= 0), dot(diff, diff), torch.inf)
        best_v, best_w = v, w
        bc = ac - ab
        # Edges as (start offset from a, direction, squared length row, (v, w) of the point).
        for start, e, row, vw in (
            (None, ab, 12, lambda t: (t, 0.0)),
            (ab, bc, 13, lambda t: (1.0 - t, t)),
            (ac, -ac, 14, lambda t: (0.0, 1.0 - t)),
        ):
            sp = ap if start is None else ap - start
            t = (dot(sp, e) / fd[row].clamp_min(1e-30)).clamp(0.0, 1.0)
            diff = sp - t * e
            d = dot(diff, diff)
            better = (d < best_d) & (cand >= 0)
            ev, ew = vw(t)
            best_d = torch.where(better, d, best_d)
            best_v = torch.where(better, ev, best_v)
            best_w = torch.where(better, ew, best_w)
        k = best_d.argmin(1, keepdim=True)
        face = cand.gather(1, k).squeeze(1)
        bv = best_v.gather(1, k).squeeze(1)
        bw = best_w.gather(1, k).squeeze(1)
        fw = self._face_t[:, face]  # [15, L]
        point = fw[0:3] + bv * fw[3:6] + bw * fw[6:9]
        return point.T, face, torch.stack([1.0 - bv - bw, bv, bw], 1)


class SubdividedSurface:
    """Closest points on an arbitrary mesh (long edges allowed): the mesh is split so edges are
    at most `max_edge`, welded, and queried with SurfaceProjector (cells of `max_edge`); results
    map back to the original faces. project(points) → (closest points [L, 3], face [L],
    barycentrics [L, 3])."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, max_edge: float) -> None:
        from trellis2.representations.o_voxel.mesh_to_ovoxel import subdivide_triangles

        tri = torch.from_numpy(vertices[faces].astype(np.float64))
        pieces, parent, weights = subdivide_triangles(tri, max_edge)
        pts = pieces.reshape(-1, 3).numpy()
        # Weld on a 2^20 lattice over the bounding box: one int64 key per point (fast unique).
        lo = pts.min(0)
        q = np.round((pts - lo) / max(float(np.ptp(pts, axis=0).max()), 1e-12) * (1 << 20))
        q = q.astype(np.int64)
        key = (q[:, 0] << 42) | (q[:, 1] << 21) | q[:, 2]
        _, vid, inv = np.unique(key, return_index=True, return_inverse=True)
        self.parent = parent.numpy()
        self.weights = weights.numpy().astype(np.float32)
        self.projector = SurfaceProjector(pts[vid], inv.reshape(-1, 3), cell_size=max_edge)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p, sub, b = self.projector.project(points)
        bary = np.einsum("lk,lkj->lj", b, self.weights[sub])
        return p, self.parent[sub], bary
