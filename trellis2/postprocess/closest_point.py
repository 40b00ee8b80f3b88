# SPDX-License-Identifier: MIT
"""Closest point on a dense triangle mesh (replaces cuBVH's unsigned_distance for baking).

For each query, the nearest mesh vertex (scipy cKDTree) proposes its incident faces (its 1-ring);
the exact closest point on each candidate triangle is computed (plane projection when inside,
else the best of the three edge segments, in torch) and the nearest wins. This is exact whenever
the true closest face touches the nearest vertex, which holds for queries close to the surface
(texels of a decimated copy of the mesh); it is not a general-purpose distance query.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree

from trellis2.postprocess.topology import vertex_normals

MAX_VALENCE = 12
CHUNK = 1 << 18


class SurfaceProjector:
    """Dense mesh (vertices [V, 3] float, faces [F, 3] int) prepared for closest-point queries."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray) -> None:
        self.vertices = vertices.astype(np.float32)
        self.faces = faces.astype(np.int64)
        self.tree = cKDTree(self.vertices)
        self.normals = vertex_normals(self.vertices, self.faces)
        # Vertex → up to MAX_VALENCE incident faces, -1 padded.
        flat_v = self.faces.reshape(-1)
        flat_f = np.repeat(np.arange(len(self.faces)), 3)
        order = np.argsort(flat_v, kind="stable")
        sv, sf = flat_v[order], flat_f[order]
        start = np.searchsorted(sv, np.arange(len(self.vertices)))
        rank = np.arange(len(sv)) - start[sv]
        keep = rank < MAX_VALENCE
        incident = np.full((len(self.vertices), MAX_VALENCE), -1, dtype=np.int64)
        incident[sv[keep], rank[keep]] = sf[keep]
        self.incident = torch.from_numpy(incident)
        # Per-face constants of the closest-point computation: a, ab, ac, Gram matrix inverse.
        tri = torch.from_numpy(self.vertices[self.faces]).to(torch.float64)
        a, ab, ac = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
        d00, d01, d11 = (ab * ab).sum(1), (ab * ac).sum(1), (ac * ac).sum(1)
        det = d00 * d11 - d01 * d01
        inv = torch.where(det > 1e-30, 1.0 / det.clamp_min(1e-30), 0.0)
        self._face = torch.cat(
            [a, ab, ac, torch.stack([d00 * inv, d01 * inv, d11 * inv], 1)], 1
        ).to(torch.float32)
        self._face_t = self._face.T.contiguous()  # [12, F]

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points [L, 3] → (closest points [L, 3] f32, face id [L] int64, barycentrics [L, 3])."""
        pts = points.astype(np.float32)
        _, nn = self.tree.query(pts, k=1, workers=-1)
        out_p = torch.empty((len(pts), 3))
        out_f = torch.empty(len(pts), dtype=torch.int64)
        out_b = torch.empty((len(pts), 3))
        q_all = torch.from_numpy(pts)
        nn_all = torch.from_numpy(np.asarray(nn, dtype=np.int64))
        for s in range(0, len(pts), CHUNK):
            p, f, b = self._project(q_all[s : s + CHUNK], nn_all[s : s + CHUNK])
            out_p[s : s + CHUNK], out_f[s : s + CHUNK], out_b[s : s + CHUNK] = p, f, b
        return out_p.numpy(), out_f.numpy(), out_b.numpy()

    def normals_at(self, face: np.ndarray, bary: np.ndarray) -> np.ndarray:
        """Interpolated unit vertex normals [L, 3] of the dense mesh."""
        n = (self.normals[self.faces[face]] * bary[:, :, None]).sum(1)
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)

    def _project(self, q: torch.Tensor, nn: torch.Tensor):
        # Component-wise math on contiguous [L, K] tensors: torch reductions over a trailing
        # dimension of 3 are slow on CPU.
        cand = self.incident[nn]  # [L, K]
        valid = cand >= 0
        fd = self._face_t[:, cand.clamp_min(0)]  # [12, L, K]
        a, ab, ac = fd[0:3], fd[3:6], fd[6:9]
        g00, g01, g11 = fd[9], fd[10], fd[11]
        p = q.T[:, :, None]  # [3, L, 1]
        ap = p - a

        def dot(x, y):
            return x[0] * y[0] + x[1] * y[1] + x[2] * y[2]

        d20, d21 = dot(ap, ab), dot(ap, ac)
        v = g11 * d20 - g01 * d21
        w = g00 * d21 - g01 * d20
        u = 1.0 - v - w
        inside = (u >= 0) & (v >= 0) & (w >= 0) & ((g00 != 0) | (g11 != 0))
        best_b = torch.stack([u, v, w])
        best_p = a + v * ab + w * ac
        diff = best_p - p
        best_d = torch.where(inside, dot(diff, diff), torch.inf)
        b = a + ab
        c = a + ac
        for s0, e, i0, i1 in ((a, ab, 0, 1), (b, c - b, 1, 2), (c, -ac, 2, 0)):
            t = (dot(p - s0, e) / dot(e, e).clamp_min(1e-30)).clamp(0.0, 1.0)
            qq = s0 + t * e
            diff = qq - p
            d = dot(diff, diff)
            better = d < best_d
            bb = torch.zeros_like(best_b)
            bb[i0] = 1.0 - t
            bb[i1] = t
            best_d = torch.where(better, d, best_d)
            best_p = torch.where(better, qq, best_p)
            best_b = torch.where(better, bb, best_b)
        best_d = torch.where(valid, best_d, torch.inf)
        k = best_d.argmin(1)
        rows = torch.arange(len(q))
        return best_p[:, rows, k].T, cand[rows, k], best_b[:, rows, k].T


class SubdividedSurface:
    """Closest points on an arbitrary mesh (long edges allowed): the mesh is split so edges are
    at most `max_edge`, welded, and queried with SurfaceProjector; results map back to the
    original faces. project(points) → (closest points [L, 3], face [L], barycentrics [L, 3])."""

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
        self.projector = SurfaceProjector(pts[vid], inv.reshape(-1, 3))

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p, sub, b = self.projector.project(points)
        bary = np.einsum("lk,lkj->lj", b, self.weights[sub])
        return p, self.parent[sub], bary
