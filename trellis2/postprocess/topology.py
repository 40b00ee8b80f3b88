# SPDX-License-Identifier: MIT
"""Mesh connectivity helpers (numpy/scipy, vectorised).

Meshes are vertices float [V, 3] and faces int64 [F, 3]. Directed edge k of face f runs from corner
k to corner (k + 1) % 3; edge arrays are face-major ([3F, 2], row 3f + k).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph


def directed_edges(faces: np.ndarray) -> np.ndarray:
    """[3F, 2] directed edges (a → b) in face-major order."""
    return np.stack([faces, np.roll(faces, -1, axis=1)], axis=-1).reshape(-1, 2)


def edge_keys(edges: np.ndarray, n_vertices: int) -> np.ndarray:
    """Undirected key per edge: min * V + max (int64)."""
    lo = np.minimum(edges[:, 0], edges[:, 1]).astype(np.int64)
    hi = np.maximum(edges[:, 0], edges[:, 1]).astype(np.int64)
    return lo * n_vertices + hi


def unique_edges(faces: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(directed edges [3F, 2], inverse [3F] → undirected edge id, face count per edge [E])."""
    e = directed_edges(faces)
    _, inv, counts = np.unique(edge_keys(e, n_vertices), return_inverse=True, return_counts=True)
    return e, inv, counts


def manifold_face_pairs(faces: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of faces sharing an edge used by exactly two faces.

    Returns (pairs [P, 2] face ids, same_direction [P] bool: both faces run the shared edge the
    same way, i.e. their orientations disagree)."""
    e, inv, counts = unique_edges(faces, n_vertices)
    rows = np.flatnonzero(counts[inv] == 2)
    order = rows[np.argsort(inv[rows], kind="stable")]
    first, second = order[0::2], order[1::2]
    pairs = np.stack([first // 3, second // 3], axis=1)
    same = e[first, 0] == e[second, 0]
    return pairs, same


def vertex_components(faces: np.ndarray, n_vertices: int) -> tuple[int, np.ndarray]:
    """Connected components through shared vertices: (count, label per face [F])."""
    if faces.shape[0] == 0:
        return 0, np.zeros(0, dtype=np.int64)
    e = directed_edges(faces)
    g = sparse.coo_matrix(
        (np.ones(len(e), dtype=np.int8), (e[:, 0], e[:, 1])), shape=(n_vertices, n_vertices)
    )
    n, labels = csgraph.connected_components(g, directed=False)
    return n, labels[faces[:, 0]]


def face_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    p = vertices[faces]
    return 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit face normals [F, 3] (zero for degenerate faces)."""
    p = vertices[faces].astype(np.float64)
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    return (n / np.maximum(ln, 1e-20)).astype(np.float32)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals [V, 3]; isolated/degenerate vertices get +Z."""
    p = vertices[faces].astype(np.float64)
    fn = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])  # length = 2 * area
    flat = faces.reshape(-1)
    vn = np.stack(
        [np.bincount(flat, np.repeat(fn[:, c], 3), minlength=len(vertices)) for c in range(3)],
        axis=1,
    )
    ln = np.linalg.norm(vn, axis=1, keepdims=True)
    out = np.where(ln > 1e-20, vn / np.maximum(ln, 1e-20), np.array([0.0, 0.0, 1.0]))
    return out.astype(np.float32)


def remove_unreferenced_vertices(
    vertices: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop vertices no face uses: (vertices, faces, kept old index per new vertex)."""
    used = np.zeros(len(vertices), dtype=bool)
    used[faces.reshape(-1)] = True
    kept = np.flatnonzero(used)
    remap = np.full(len(vertices), -1, dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    return vertices[kept], remap[faces], kept
