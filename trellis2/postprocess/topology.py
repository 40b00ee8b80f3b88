# SPDX-License-Identifier: MIT
"""Mesh connectivity helpers (numpy/scipy, vectorised).

Meshes are vertices float [V, 3] and faces int64 [F, 3]. Directed edge k of face f runs from corner
k to corner (k + 1) % 3; edge arrays are face-major ([3F, 2], row 3f + k).
"""

from __future__ import annotations

import numpy as np
import torch
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


# -- torch twins (any device; used when the export runs on CUDA) --------------------------------


def unique_edges_torch(
    faces: torch.Tensor, n_vertices: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """torch `unique_edges`: (directed edges [3F, 2], inverse [3F], face count per edge [E])."""
    e = torch.stack([faces, torch.roll(faces, -1, dims=1)], -1).reshape(-1, 2)
    key = torch.minimum(e[:, 0], e[:, 1]) * n_vertices + torch.maximum(e[:, 0], e[:, 1])
    _, inv, counts = torch.unique(key, return_inverse=True, return_counts=True)
    return e, inv, counts


def components_torch(n: int, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Connected components of the undirected graph with edges (a, b) on n nodes: label [n] =
    the smallest node id of the node's component (so labels order components the way scipy's
    BFS numbering does). Min-label hooking with pointer jumping, O(log n) rounds in practice."""
    label = torch.arange(n, device=a.device)
    if len(a) == 0:
        return label
    while True:
        la, lb = label[a], label[b]
        m = torch.minimum(la, lb)
        new = label.clone()
        new.scatter_reduce_(0, la, m, reduce="amin")
        new.scatter_reduce_(0, lb, m, reduce="amin")
        while True:  # pointer jumping to the roots
            nxt = new[new]
            if torch.equal(nxt, new):
                break
            new = nxt
        if torch.equal(new, label):
            return label
        label = new


def vertex_components_torch(faces: torch.Tensor, n_vertices: int) -> tuple[int, torch.Tensor]:
    """torch `vertex_components`: (count, label per face [F] in 0..count-1)."""
    if len(faces) == 0:
        return 0, torch.zeros(0, dtype=torch.int64, device=faces.device)
    e = torch.stack([faces, torch.roll(faces, -1, dims=1)], -1).reshape(-1, 2)
    lab = components_torch(n_vertices, e[:, 0], e[:, 1])[faces[:, 0]]
    uniq, inv = torch.unique(lab, return_inverse=True)
    return len(uniq), inv


def manifold_face_pairs_torch(
    faces: torch.Tensor, n_vertices: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """torch `manifold_face_pairs`: (pairs [P, 2], same_direction [P] bool)."""
    e, inv, counts = unique_edges_torch(faces, n_vertices)
    rows = torch.nonzero(counts[inv] == 2).squeeze(1)
    del counts
    order = rows[torch.sort(inv[rows], stable=True).indices]
    del inv, rows
    first, second = order[0::2], order[1::2]
    pairs = torch.stack([first // 3, second // 3], 1)
    return pairs, e[first, 0] == e[second, 0]


def face_areas_torch(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    p = vertices.double()[faces]
    return 0.5 * torch.linalg.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]).norm(dim=1)


def remove_unreferenced_vertices_torch(
    vertices: torch.Tensor, faces: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """torch `remove_unreferenced_vertices`: (vertices, faces, kept old index per new vertex)."""
    used = torch.zeros(len(vertices), dtype=torch.bool, device=vertices.device)
    used[faces.reshape(-1)] = True
    kept = torch.nonzero(used).squeeze(1)
    remap = torch.full((len(vertices),), -1, dtype=torch.int64, device=vertices.device)
    remap[kept] = torch.arange(len(kept), device=vertices.device)
    return vertices[kept], remap[faces], kept
